"""qa: retrieval-augmented question answering with exact-sentence citations."""

__version__ = "0.1.0"

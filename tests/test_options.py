"""The settings declaration (qa.options): the README's table, the environment and the flags all follow it."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from qa.config import Backend, ConfigError, ReadLimits, RetrievalMode, Settings
from qa.options import ENV_NAMES, OPTIONS, add_flag, flag_values
from tests.conftest import ROOT

# In the table but read by someone else: the Makefile (whether to install a local model) and Gradio.
READ_ELSEWHERE = {"QA_LLM", "GRADIO_SERVER_PORT"}
_NAME = re.compile(r"`([A-Z][A-Z0-9_]+)`")


def readme_rows() -> list[tuple[list[str], str]]:
    """(the variables a row names, its flag cell) for each row of the README's configuration table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuring", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 4:
            rows.append((_NAME.findall(f"{cells[0]} {cells[3]}"), cells[1]))
    return rows


def test_every_declared_variable_is_in_the_readme_table_and_nothing_else_is() -> None:
    documented = {name for names, _ in readme_rows() for name in names}
    assert set(ENV_NAMES) - documented == set(), "declared in qa.options but not in the README's table"
    assert documented - set(ENV_NAMES) - READ_ELSEWHERE == set(), "in the README's table but not declared"


def test_the_readme_table_names_each_variables_flag() -> None:
    flags = {name: option.flag for option in OPTIONS for name in option.env}
    for names, flag_cell in readme_rows():
        declared = {f"`{flags[n]}`" for n in names if flags.get(n)}
        assert set(re.findall(r"`--[a-z-]+`", flag_cell)) == declared, names


def test_environment_values_reach_their_fields() -> None:
    env = {
        "QA_CORPUS": "/docs",
        "QA_TOP_K": "7",
        "QA_BACKEND": " Extractive ",
        "QA_RETRIEVAL": "bm25",
        "QA_LLM_WAIT": "2.5",
        "QA_UPLOAD_QUOTA_MB": "3",
        "QA_ALLOWED_HOSTS": "qa.example.org, ,lan",
        "GRADIO_SERVER_NAME": "box.local",
        "QA_OCR": "off",
        "QA_MAX_READ_SECONDS": "9",
        "OPENAI_API_KEY": "from-openai",
    }
    s = Settings.from_env(env)
    assert (s.corpus_dir, s.top_k, s.backend, s.retrieval_mode) == (
        Path("/docs"),
        7,
        Backend.EXTRACTIVE,
        RetrievalMode.BM25,
    )
    assert (s.llm_wait_s, s.upload_quota_bytes) == (2.5, 3 * 1024 * 1024)
    assert s.allowed_hosts == (*Settings().allowed_hosts, "qa.example.org", "lan", "box.local")
    assert s.reading == ReadLimits(ocr=False, seconds=9.0)
    assert s.openai_api_key == "from-openai"
    assert Settings.from_env({**env, "QA_OPENAI_API_KEY": "ours"}).openai_api_key == "ours"
    assert Settings.from_env({"QA_OPENAI_API_KEY": "", "OPENAI_API_KEY": "x"}).openai_api_key == "x"
    assert Settings.from_env({"GRADIO_SERVER_NAME": "0.0.0.0"}).allowed_hosts == Settings().allowed_hosts
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QA_TOP_K": "five"}, "QA_TOP_K must be a whole number, got 'five'."),
        ({"QA_LLM_TIMEOUT": "soon"}, "QA_LLM_TIMEOUT must be seconds, got 'soon'."),
        ({"QA_OCR": "maybe"}, "QA_OCR must be on or off, got 'maybe'."),
        ({"QA_MAX_PAGE_CHARS": "0"}, "QA_MAX_PAGE_CHARS must be more than 0, got '0'."),
        ({"QA_READER_DOUBT": "high"}, "QA_READER_DOUBT must be a probability between 0 and 1, got 'high'."),
        ({"QA_READER_DOUBT": "1.5"}, "QA_READER_DOUBT must be a probability between 0 and 1, got '1.5'."),
        ({"QA_READER_DOUBT": "nan"}, "QA_READER_DOUBT must be a probability between 0 and 1, got 'nan'."),
        ({"QA_MAX_READ_SECONDS": "x"}, "QA_MAX_READ_SECONDS must be seconds, got 'x'."),
        ({"QA_STORE": "sqlite"}, "Unknown store (QA_STORE) 'sqlite': choose one of faiss, milvus."),
        ({"QA_TOP_K": "0"}, "top_k must be between 1 and 50, got 0: set QA_TOP_K or --top-k."),
    ],
)
def test_bad_environment_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert str(caught.value) == message


def test_flags_come_from_the_same_declaration_and_win_over_the_environment() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--corpus", "--top-k", "--backend", "--retrieval", "--embed-backend"):
        add_flag(parser, flag, help="ours" if flag == "--backend" else None)
    assert "ours" in parser.format_help() and "passages to retrieve (default 5)" in parser.format_help()
    args = parser.parse_args(["--corpus", "c", "--top-k", "3", "--backend", "extractive"])
    assert flag_values(args) == {"corpus_dir": Path("c"), "top_k": 3, "backend": Backend.EXTRACTIVE}
    s = Settings.from_env({"QA_TOP_K": "9", "QA_RETRIEVAL": "dense"}, **flag_values(args))
    assert (s.top_k, s.retrieval_mode) == (3, RetrievalMode.DENSE)
    with pytest.raises(ConfigError, match=r"\(QA_BACKEND, --backend\)"):
        flag_values(parser.parse_args(["--backend", "telepathy"]))

"""The library logs; the CLI shows its log on stderr as the plain lines the library used to print."""

from __future__ import annotations

import logging

import pytest

from qa.logs import log_to_stderr


def test_library_messages_reach_stderr_as_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    log_to_stderr()
    log_to_stderr()  # twice (main runs per command in one process): still one line per message
    logging.getLogger("qa.indexing").warning(
        "qa index: skipped %s: %s", "junk.pdf", "corrupt or unreadable PDF"
    )
    logging.getLogger("qa.webapp").info("qa serve: index: %s", "5 unchanged")
    logging.getLogger("qa.readers.pdf").debug("OCR page 1: 2.0 s, confidence 0.90")  # detail: not shown
    assert capsys.readouterr().err == (
        "qa index: skipped junk.pdf: corrupt or unreadable PDF\nqa serve: index: 5 unchanged\n"
    )

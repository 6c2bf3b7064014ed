"""How the library's log reaches a person: the `qa` loggers, INFO and up, as plain lines on stderr.

Library modules log (`logging.getLogger(__name__)`); each entry point (the CLI, `python -m qa.embedding`)
calls `log_to_stderr` once, so what a user sees is the same text the modules used to print.
"""

from __future__ import annotations

import logging
import sys


class _Stderr(logging.Handler):
    """Writes to whatever sys.stderr is when a record comes (a test may have swapped it since)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr, flush=True)
        except Exception:  # a closed stream: logging's own policy (print once, carry on)
            self.handleError(record)


def log_to_stderr() -> None:
    """Show the library's log (the `qa` loggers, INFO and up) on stderr as plain lines; each message names
    its command ("qa index: skipped ...") as the printed lines it replaced did."""
    logger = logging.getLogger("qa")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        logger.addHandler(_Stderr())
    logger.setLevel(logging.INFO)

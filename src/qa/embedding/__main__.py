"""`python -m qa.embedding`: make (or check) the ONNX export the settings' embed backend uses.

`make install` runs it, so the first question never waits for the export.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from qa.config import EmbedBackend, Settings
from qa.embedding import EmbeddingError, make_embedder
from qa.logs import log_to_stderr


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m qa.embedding`: make (or check) the ONNX export the settings' embed backend uses."""
    parser = argparse.ArgumentParser(prog="python -m qa.embedding", description=main.__doc__)
    parser.parse_args(argv)
    log_to_stderr()  # the export's progress (tens of seconds on first install)
    settings = Settings.from_env()
    if settings.embed_backend is EmbedBackend.TORCH:
        print("qa.embedding: QA_EMBED_BACKEND=torch, nothing to export")
        return 0
    try:
        embedder = make_embedder(settings)  # exports when the cache is missing or damaged, then checks it
    except EmbeddingError as exc:
        print(f"qa.embedding: {exc}", file=sys.stderr)
        return 1
    print(f"qa.embedding: {embedder.name} ready (size, sha256 and probe vector checked)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

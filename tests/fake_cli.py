"""`qa` exactly as installed (qa.cli.main), with the FakeEmbedder in place of the model, for subprocess tests.

    python -m tests.fake_cli index --corpus DIR --index DIR      (run from the repository root)

Only the embedder class is swapped, so argument parsing, locking, skip messages, exit codes and the atomic
save are the real ones, and a process costs about a second instead of loading torch. Environment:

    FAKE_EMBED_MS_PER_TEXT   milliseconds the fake spends per embedded text (makes a rebuild last, cheaply)
    FAKE_CLI_RSS_FILE        where to write this process's peak resident memory in KiB when it ends
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

import qa.embedding
import qa.embedding.onnx
import qa.embedding.pytorch
from qa.cli import main

# tests/conftest.py sets defaults for the test process (Gradio analytics off, Hugging Face offline): undo
# them here, so this process runs with exactly the environment its parent gave it, as `qa` would.
_GIVEN = dict(os.environ)
from tests.conftest import FakeEmbedder  # noqa: E402

for _name in set(os.environ) - set(_GIVEN):
    del os.environ[_name]

BATCH = 32


class SlowFakeEmbedder(FakeEmbedder):
    """Takes the constructor arguments of either real embedder; sleeps per batch like a model would."""

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        super().__init__()
        self.ms_per_text = float(os.environ.get("FAKE_EMBED_MS_PER_TEXT", "0"))

    def embed_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        for start in range(0, len(texts), BATCH):
            time.sleep(self.ms_per_text * len(texts[start : start + BATCH]) / 1000)
        return super().embed_with_spans(texts, spans, progress)


def install() -> None:
    """Swap the fake in for the model (also for other entry points: `python -c "...; install(); ..."`)."""
    qa.embedding.pytorch.SentenceTransformerEmbedder = SlowFakeEmbedder  # type: ignore[misc,assignment]
    qa.embedding.onnx.OnnxEmbedder = SlowFakeEmbedder  # type: ignore[misc,assignment]  # the default backend
    # `qa index` would otherwise name its embedder from the real model folder and load the fake lazily.
    qa.embedding.model_identity = lambda settings: None


def run(argv: Sequence[str]) -> int:
    install()
    try:
        return main(argv)
    finally:
        rss_file = os.environ.get("FAKE_CLI_RSS_FILE")
        if rss_file:
            Path(rss_file).write_text(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))

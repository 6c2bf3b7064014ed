"""Time and peak memory of `qa index` on each decompression bomb of bench/make_bomb.py, one process each.

    nice .venv/bin/python bench/bomb.py                       # this checkout
    nice .venv/bin/python bench/bomb.py --src /tmp/old/src    # another checkout's code (before a fix)

Each bomb is indexed alone in a fresh corpus by `python -m tests.fake_cli index` (the real CLI with the
FakeEmbedder, so the numbers are reading and chunking, not the model: the real model adds ~0.08 s per
chunk on 2 cores). Prints one row per bomb: wall seconds, peak RSS, chunks indexed, and what stderr said.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from make_bomb import make_bombs

ROOT = Path(__file__).resolve().parents[1]


def index_one(path: Path, src: Path | None, timeout: float) -> dict[str, object]:
    """Index `path` alone; wall time, peak RSS (MiB) and the summary line or the failure."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        (corpus / path.name).write_bytes(path.read_bytes())
        rss = Path(tmp) / "rss"
        env = {**os.environ, "FAKE_CLI_RSS_FILE": str(rss), "HF_HUB_OFFLINE": "1"}
        if src is not None:
            env["PYTHONPATH"] = str(src)
        argv = [sys.executable, "-m", "tests.fake_cli", "index", "--json"]
        argv += ["--corpus", str(corpus), "--index", str(Path(tmp) / "index")]
        started = time.perf_counter()
        try:
            done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"file": path.name, "seconds": f">{timeout:.0f} (stopped)", "peak_mib": None}
        seconds = time.perf_counter() - started
        summary = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
        return {
            "file": path.name,
            "bytes": path.stat().st_size,
            "seconds": round(seconds, 1),
            "peak_mib": round(int(rss.read_text()) / 1024) if rss.exists() else None,
            "chunks": summary.get("chunks"),
            "said": " | ".join(line for line in done.stderr.splitlines() if line.startswith("qa index"))[
                :300
            ],
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--src", type=Path, help="PYTHONPATH for the indexing process (default: installed qa)"
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a run is stopped")
    parser.add_argument("--only", nargs="*", default=["pdf", "html", "text"], help="which bombs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        bombs = make_bombs(Path(tmp))
        for kind in args.only:
            print(json.dumps(index_one(bombs[kind], args.src, args.timeout)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

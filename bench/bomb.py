"""Time and peak memory of `qa index` on each decompression bomb of bench/make_bomb.py, one process each.

    nice .venv/bin/python bench/bomb.py                       # this checkout
    nice .venv/bin/python bench/bomb.py --src /tmp/old/src    # another checkout's code (before a fix)

Each bomb is indexed alone in a fresh corpus by `python -m tests.fake_cli index` (the real CLI with the
FakeEmbedder, so the numbers are reading and chunking, not the model, which adds its own time per chunk).
The control row, a one-line note, is what starting the process costs. Prints one JSON row per file: wall
seconds, peak RSS, chunks indexed, and what stderr said.
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
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            peak = _peak_kib(proc.pid)  # what it had reached when stopped
            proc.kill()
            proc.communicate()
            return {
                "file": path.name,
                "bytes": path.stat().st_size,
                "seconds": f">{timeout:.0f} (stopped)",
                "peak_mib": round(peak / 1024) if peak else None,
            }
        done = subprocess.CompletedProcess(argv, proc.returncode, out, err)
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


def _peak_kib(pid: int) -> int:
    """A running process's peak resident memory (VmHWM), in KiB; 0 where /proc does not say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--src", type=Path, help="PYTHONPATH for the indexing process (default: installed qa)"
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a run is stopped")
    parser.add_argument(
        "--only",
        nargs="*",
        default=["control", "pdf", "html", "text"],
        help="which bombs (control: a plain note)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        bombs = make_bombs(Path(tmp))
        bombs["control"] = Path(tmp) / "note.txt"  # what starting `qa index` costs by itself
        bombs["control"].write_text("The harbour office opens at nine on weekdays.\n")
        for kind in args.only:
            print(json.dumps(index_one(bombs[kind], args.src, args.timeout)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

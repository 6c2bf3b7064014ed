"""What the benchmarks that start `qa serve` share: a free port, waiting for the page, a client, percentiles,
and writing their own section of results.md. No qa imports, so it loads in any process.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_page(
    url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None, poll_s: float = 0.05
) -> None:
    """Return once `url` answers 200; SystemExit when `proc` (our `qa serve`) exits first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"qa serve exited with code {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(poll_s)
    raise SystemExit(f"no page at {url} after {timeout_s:.0f} s")


def connect(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); NaN for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def write_section(path: Path, heading: str, section: str) -> None:
    """Replace the `heading` section of results.md (from it to the next `## `), or append it; the sections
    other benchmarks wrote stay as they are."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(f"\n{heading}\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[: start + 1] + section + ("\n" + text[end + 1 :] if end >= 0 else "")
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")

"""OCR: a page image -> its text and the recogniser's confidence, with Tesseract.

Tesseract (Apache-2.0; Debian's `tesseract-ocr` package, models included) runs as a separate process, so the
per-page bound is a real one (a page that takes more processor time is stopped and reported) and nothing
of the recogniser runs inside ours. It is called directly rather than through pytesseract to give it
OMP_THREAD_LIMIT=1: on 2 busy cores its OpenMP threads fight each other, and one thread read a page about
four times faster (README, "File formats"). Words come back as TSV with their block, paragraph and line,
which gives the paragraphs back to the chunker.
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa.config import ReadLimits
from qa.readers.base import DocumentError, hyphenated_words, unwrap

if TYPE_CHECKING:
    from PIL.Image import Image

# The bound is on processor time (RLIMIT_CPU), which a busy machine does not eat into; the wall-clock
# bound, this many times longer, only catches a recogniser that hangs.
WALL_FACTOR = 10
INSTALL_HINT = "install Tesseract (`apt-get install tesseract-ocr`, or `make install-ocr`)"


@dataclass(frozen=True)
class OcrText:
    """Recognised text (paragraphs separated by blank lines) and the mean word confidence, 0 to 1."""

    text: str
    confidence: float


def unavailable(limits: ReadLimits) -> str:
    """Why OCR cannot run ("" when it can): turned off, or Tesseract missing."""
    if not limits.ocr:
        return "OCR is turned off (QA_OCR=off)"
    if shutil.which("tesseract") is None:
        return f"OCR needs Tesseract, which is not installed: {INSTALL_HINT}"
    return ""


def recognise(image: Image, limits: ReadLimits) -> OcrText:
    """The text of one page image; DocumentError when Tesseract fails or runs past its time."""
    binary = shutil.which("tesseract")
    if binary is None:
        raise DocumentError(f"OCR needs Tesseract: {INSTALL_HINT}")
    png = io.BytesIO()
    image.save(png, "PNG", compress_level=1)
    command = [binary, "stdin", "stdout", "-l", limits.ocr_language, "--psm", "3", "tsv"]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        with subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        ) as proc:
            _limit_cpu(proc.pid, limits.ocr_seconds_per_page)
            try:
                stdout, stderr = proc.communicate(
                    png.getvalue(), timeout=WALL_FACTOR * limits.ocr_seconds_per_page
                )
            except subprocess.TimeoutExpired as exc:
                proc.kill()
                proc.communicate()
                raise DocumentError(
                    f"OCR took longer than {WALL_FACTOR * limits.ocr_seconds_per_page:g} s (the machine is busy?)"
                ) from exc
    except OSError as exc:
        raise DocumentError(f"OCR could not start Tesseract ({exc.strerror})") from exc
    done = subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise DocumentError(f"OCR took more than {limits.ocr_seconds_per_page:g} s of processor time")
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise DocumentError(f"OCR failed ({(message or ['no message'])[-1][:200]})")
    rows = csv.DictReader(
        io.StringIO(done.stdout.decode("utf-8", errors="replace")), delimiter="\t", quoting=csv.QUOTE_NONE
    )
    return _assemble(list(rows))


def _limit_cpu(pid: int, seconds: float) -> None:
    """Give the recogniser `seconds` of processor time; past it the kernel stops it (SIGXCPU)."""
    try:
        import resource

        cap = max(1, math.ceil(seconds))
        resource.prlimit(pid, resource.RLIMIT_CPU, (cap, cap + 1))
    except (ImportError, AttributeError, OSError, ValueError):  # not Linux, or the process already ended
        pass


def _assemble(rows: list[dict[str, str]]) -> OcrText:
    """Words -> lines -> paragraphs, in Tesseract's reading order; confidence averaged over the words."""
    paragraphs: dict[tuple[int, int], dict[int, list[str]]] = {}
    confidences: list[float] = []
    for row in rows:
        text = (row.get("text") or "").strip()
        try:
            conf = float(row.get("conf") or -1)
            key = (int(row["block_num"]), int(row["par_num"]))
            line = int(row["line_num"])
        except (KeyError, ValueError):
            continue
        if not text or conf < 0:
            continue
        paragraphs.setdefault(key, {}).setdefault(line, []).append(text)
        confidences.append(conf / 100)
    # Tesseract's paragraphs are wrapped lines: joined back (no geometry here, so only list markers and
    # hyphens decide), and the hyphenated words the page writes within a line keep their hyphen.
    known = hyphenated_words(" ".join(" ".join(w) for lines in paragraphs.values() for w in lines.values()))
    text = "\n\n".join(
        unwrap(texts := [" ".join(words) for _, words in sorted(lines.items())], [False] * len(texts), known)
        for _, lines in sorted(paragraphs.items())
    )
    confidence = sum(confidences) / len(confidences) if confidences else 0.0
    return OcrText(text, round(confidence, 3))

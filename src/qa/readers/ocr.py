"""OCR: a page image -> its text and the recogniser's confidence, with Tesseract.

Tesseract (Apache-2.0; Debian's `tesseract-ocr` package, models included) runs as a separate process through
pytesseract, so the per-page time bound is a real one: a page that takes longer is killed and reported, and
nothing of the recogniser runs inside ours. Words come back with their block, paragraph and line, which
gives the paragraphs back to the chunker.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa.config import ReadLimits
from qa.readers.base import DocumentError, join_hyphenated

if TYPE_CHECKING:
    from PIL.Image import Image

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
    import pytesseract

    try:
        data = pytesseract.image_to_data(
            image,
            lang=limits.ocr_language,
            config="--psm 3",
            timeout=limits.ocr_seconds_per_page,
            output_type=pytesseract.Output.DICT,
        )
    except RuntimeError as exc:  # pytesseract's timeout
        raise DocumentError(f"OCR took longer than {limits.ocr_seconds_per_page:g} s") from exc
    except pytesseract.TesseractNotFoundError as exc:
        raise DocumentError(f"OCR needs Tesseract: {INSTALL_HINT}") from exc
    except pytesseract.TesseractError as exc:
        raise DocumentError(f"OCR failed ({exc.message.strip()[:200]})") from exc
    return _assemble(data)


def _assemble(data: dict[str, list[object]]) -> OcrText:
    """Words -> lines -> paragraphs, in Tesseract's reading order; confidence averaged over the words."""
    paragraphs: dict[tuple[int, int], dict[int, list[str]]] = {}
    confidences: list[float] = []
    for i, word in enumerate(data["text"]):
        text = str(word).strip()
        conf = float(str(data["conf"][i]))
        if not text or conf < 0:
            continue
        key = (int(str(data["block_num"][i])), int(str(data["par_num"][i])))
        paragraphs.setdefault(key, {}).setdefault(int(str(data["line_num"][i])), []).append(text)
        confidences.append(conf / 100)
    text = "\n\n".join(
        "\n".join(" ".join(words) for _, words in sorted(lines.items()))
        for _, lines in sorted(paragraphs.items())
    )
    confidence = sum(confidences) / len(confidences) if confidences else 0.0
    return OcrText(join_hyphenated(text), round(confidence, 3))

""".png/.jpg/.jpeg of a page -> its text by OCR (Pillow decodes; `qa.readers.ocr` recognises)."""

from __future__ import annotations

import io

import qa.readers.ocr as ocr
from qa.config import ReadLimits
from qa.limits import Extraction
from qa.locators import LocusKind
from qa.readers.base import DocumentError, Extract, Part, compose


def read_image(raw: bytes, name: str, limits: ReadLimits) -> Extract:
    """OCR a picture of a page; refused when OCR is off or missing, or the picture is too large."""
    reason = ocr.unavailable(limits)
    if reason:
        raise DocumentError(f"a picture is read by OCR, and {reason[:1].lower()}{reason[1:]}")
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        opened = Image.open(io.BytesIO(raw))
        # The header gives the size before a pixel is decoded, so a decompression bomb is refused unread.
        if opened.width * opened.height > limits.max_image_pixels:
            raise DocumentError(
                f"picture too large ({opened.width}×{opened.height} pixels; limit "
                f"{limits.max_image_pixels / 1e6:.0f} megapixels)"
            )
        image = ImageOps.exif_transpose(opened).convert("L")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DocumentError(f"not a readable picture ({type(exc).__name__}: {exc})") from exc
    budget = Extraction(limits)
    result = ocr.recognise(image, limits)
    if not result.text.strip():
        raise DocumentError("OCR found no text in the picture")
    # One picture is one page: its text is held to the page bound like a PDF page's.
    text = budget.take(result.text, page=1)
    return compose([Part(text, LocusKind.IMAGE, ocr=result.confidence)], notes=budget.notes)

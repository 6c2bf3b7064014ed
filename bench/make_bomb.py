"""Write small files that expand into enormous amounts of text or work: decompression bombs for `qa index`.

    .venv/bin/python bench/make_bomb.py /tmp/bombs                  # bomb.pdf, nested.html, one-line.txt
    .venv/bin/python bench/make_bomb.py /tmp/bombs --pdf-mib 8 --pages 1

- `bomb.pdf`: a hand-written PDF whose Flate-compressed content streams inflate to `pdf_mib` MiB of text
  per page (the file itself is ~3 KB per MiB of text: one sentence repeated compresses ~300:1).
- `nested.html`: `depth` nested <div>s, each holding one sentence; ~40 bytes of markup per element.
- `one-line.txt`: `line_mib` MiB of words with no full stop and no line break.

Used by tests/test_hostile.py ("Decompression bombs") and bench/bomb.py (time and peak memory of `qa index`).
"""

from __future__ import annotations

import argparse
import zlib
from pathlib import Path

MIB = 1 << 20
SENTENCE = "The quarterly tariff schedule for bonded warehouses was revised again on the first Monday. "


def pdf_bomb(pdf_mib: float = 8.0, pages: int = 1) -> bytes:
    """A valid PDF of `pages` pages, each drawing `pdf_mib` MiB of text lines with the standard Helvetica."""
    line = f"({SENTENCE.strip()}) Tj T*\n".encode()
    repeats = max(1, int(pdf_mib * MIB / len(SENTENCE)))
    stream = zlib.compress(b"BT /F1 9 Tf 11 TL 36 806 Td\n" + line * repeats + b"ET\n", 9)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(pages)), pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream)
        )
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def nested_html(depth: int = 100_000) -> bytes:
    """`depth` <div>s nested inside each other, each with a sentence: deep trees cost parsers memory."""
    return (
        b"<html><body>"
        + b"<div>A nested sentence about harbour dues. " * depth
        + b"</div>" * depth
        + b"</body></html>"
    )


def one_line(line_mib: float = 16.0) -> bytes:
    """Words with no sentence end and no newline: nothing for a sentence splitter to cut on."""
    words = b"caravan harbour ledger tariff quince lantern orchard ferry "
    return words * max(1, int(line_mib * MIB / len(words)))


def make_bombs(
    dest: Path, pdf_mib: float = 8.0, pages: int = 1, depth: int = 100_000, line_mib: float = 16.0
) -> dict[str, Path]:
    """Write the three bombs into `dest` (created if missing); return their paths by kind."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = {"pdf": dest / "bomb.pdf", "html": dest / "nested.html", "text": dest / "one-line.txt"}
    paths["pdf"].write_bytes(pdf_bomb(pdf_mib, pages))
    paths["html"].write_bytes(nested_html(depth))
    paths["text"].write_bytes(one_line(line_mib))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--pdf-mib", type=float, default=8.0, help="MiB of text each PDF page inflates to")
    parser.add_argument("--pages", type=int, default=1)
    parser.add_argument("--depth", type=int, default=100_000, help="nesting depth of the HTML bomb")
    parser.add_argument("--line-mib", type=float, default=16.0, help="size of the one-line text file")
    args = parser.parse_args(argv)
    for kind, path in make_bombs(args.dest, args.pdf_mib, args.pages, args.depth, args.line_mib).items():
        print(f"{kind}: {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

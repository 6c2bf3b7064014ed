"""Write a corpus folder full of files that real folders contain and a reader must survive.

    .venv/bin/python bench/make_bad_corpus.py /tmp/bad               # then: qa index --corpus /tmp/bad ...
    .venv/bin/python bench/make_bad_corpus.py /tmp/bad --big-mb 50 --depth 40

Random bytes named .pdf and .txt, a real PDF cut in half, an empty file, Latin-1 text, HTML with scripts, a
file over the 20 MB limit, a file 40 folders deep, a folder symlink loop, a file symlink loop, a dangling
symlink and a broken sources.toml, beside a few good documents. `make_bad_corpus` returns what `qa index` should do with each path
(`EXPECTED`), so tests and people read one table. Prints that table as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

# What a good document says, so a test can ask for it and find it quoted.
GOOD_FACTS = {
    "good/harbour.txt": "The Port of Lindqvist handled 4.2 million containers in 2023.",
    "latin1.txt": "Le café de São Tomé coûte 3 escudos à la fenêtre du marché.",
    "page.html": "The orchard cooperative exported 870 tonnes of quince in 2022.",
}
DEEP_FACT = "The lighthouse keeper logged 311 foggy nights at the bottom of the folder tree."
ONE_LINE_WORD = "caravan"


@dataclass(frozen=True)
class Expected:
    """What `qa index` should do with one path: index it, skip it (reason contains `why`), or not see it."""

    outcome: str  # "indexed", "skipped" or "ignored"
    why: str = ""


def _pdf_bytes(pages: int = 3) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    for i in range(pages):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 10, f"Page {i + 1} says the ferry tariff was {i + 3} percent in 2019. " * 12)
    return bytes(pdf.output())


def _blank_pdf_bytes() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_page()
    return bytes(pdf.output())


def _write_big(path: Path, size: int, rng: random.Random) -> None:
    """Plain text of `size` bytes, written in 1 MB pieces so the generator itself stays small."""
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(500)
    ]
    block = (" ".join(rng.choice(words) for _ in range(200_000)) + ".\n").encode()[: 1 << 20]
    with path.open("wb") as fh:
        left = size
        while left > 0:
            fh.write(block[:left])
            left -= len(block[:left])


def make_bad_corpus(
    dest: Path, big_mb: int = 50, depth: int = 40, one_line_kb: int = 200, seed: int = 0
) -> dict[str, Expected]:
    """Fill `dest` (created if missing) and return the expected outcome per relative path."""
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    expected: dict[str, Expected] = {}

    def put(rel: str, data: bytes, outcome: Expected) -> None:
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expected[rel] = outcome

    ok = Expected("indexed")
    put(
        "good/harbour.txt",
        f"# Harbour report\n\n{GOOD_FACTS['good/harbour.txt']} Ships waited two days.\n".encode(),
        ok,
    )
    put("good/notes.md", b"# Notes\n\nThe committee met on 4 March 2024 and approved the budget.\n", ok)
    put("latin1.txt", (GOOD_FACTS["latin1.txt"] + " Ça va très bien.\n").encode("latin-1"), ok)
    put(
        "page.html",
        (
            "<html><head><title>Orchard</title><script>document.write('HEAD-SCRIPT')</script>"
            "<style>body{color:red}</style></head><body><h1>Orchard news</h1>"
            f"<p>{GOOD_FACTS['page.html']}</p><script>alert('BODY-SCRIPT')</script>"
            "<img src=x onerror=\"alert('ONERROR')\"><noscript>NOSCRIPT-TEXT</noscript></body></html>"
        ).encode(),
        ok,
    )
    put("good/report.pdf", _pdf_bytes(), ok)
    # Text with a NUL byte far from the start: read as text, the control character blanked out.
    put("late-nul.txt", b"The late NUL file is still text. " * 400 + b"\x00 and it goes on.\n", ok)
    # One 200 KB line with no full stop or newline: the chunker must still cut it into pieces.
    put("one-line.txt", (f"{ONE_LINE_WORD} " * (one_line_kb * 1024 // 8)).encode(), ok)
    put("one-token.txt", b"a" * 100_000, ok)

    put("random.pdf", rng.randbytes(4096), Expected("skipped", "PDF"))
    put("random.txt", rng.randbytes(4096), Expected("skipped", "binary"))
    put("text-named.pdf", b"This is plain text with a .pdf name.\n", Expected("skipped", "PDF"))
    whole = _pdf_bytes()
    put("truncated.pdf", whole[: len(whole) // 2], Expected("skipped", "PDF"))
    put("blank-pages.pdf", _blank_pdf_bytes(), Expected("skipped", "no text"))
    put("empty.txt", b"", Expected("skipped", "no text"))
    put("whitespace.md", b"  \n\n\t \r\n", Expected("skipped", "no text"))
    put("utf16.txt", "UTF-16 text with a byte order mark.".encode("utf-16"), Expected("skipped", "binary"))
    put("bad-utf8.md", b"caf\xc3 \x81\x8d\x8f\x90\x9d" * 50, Expected("skipped", "UTF-8"))

    if big_mb:
        big = dest / "big.txt"
        _write_big(big, big_mb * 1024 * 1024, rng)
        expected["big.txt"] = Expected("skipped", "too large")

    deep = "/".join(f"d{i:02d}" for i in range(1, depth + 1))
    put(f"{deep}/deep.txt", f"{DEEP_FACT}\n".encode(), ok)

    # A metadata file with a TOML syntax error: reported, and the documents indexed without its titles.
    put("sources.toml", b'["good/harbour.txt"\ntitle = "unterminated\n', Expected("skipped", "cannot parse"))
    put(".hidden.txt", b"A hidden file is never indexed.\n", Expected("ignored"))
    # Pictures are read (OCR) since the file-formats work: a broken one is skipped with its reason.
    put(
        "picture.png", b"\x89PNG\r\n\x1a\n" + rng.randbytes(64), Expected("skipped", "not a readable picture")
    )
    links = {
        "loop": (dest, True),  # a folder symlink back to the corpus root
        "d01/up": (dest / "d01", True),  # and one to its own parent
        "dangling.txt": (dest / "missing.txt", False),
        "loop-a.txt": (dest / "loop-b.txt", False),  # two file links pointing at each other
        "loop-b.txt": (dest / "loop-a.txt", False),
    }
    for rel, (target, is_dir) in links.items():
        link = dest / rel
        if link.is_symlink():
            link.unlink()
        os.symlink(target, link, target_is_directory=is_dir)
        if not is_dir:
            expected[rel] = Expected("ignored")
    return expected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="folder to fill (created if missing)")
    parser.add_argument("--big-mb", type=int, default=50, help="size of the over-limit file (0: none)")
    parser.add_argument("--depth", type=int, default=40, help="folder depth of the deep file")
    parser.add_argument("--one-line-kb", type=int, default=200, help="size of the file with no line breaks")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    expected = make_bad_corpus(args.dest, args.big_mb, args.depth, args.one_line_kb, args.seed)
    json.dump({k: vars(v) for k, v in sorted(expected.items())}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

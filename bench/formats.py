"""Same answers whatever the format: the corpus converted to .docx, .pptx and three kinds of PDF, each folder
indexed alone and evaluated with eval/questions.jsonl (extractive answers, hybrid retrieval).

    PYTHONPATH=src .venv/bin/python bench/formats.py            # writes bench/formats.json and a
                                                               # "File formats" section in results.md
    PYTHONPATH=src .venv/bin/python bench/formats.py --only docx pdf-2col

Per format: key-fact accuracy beside the plain-text corpus's, citation and retrieval scores, the time to
read the files (per MB of file) and to index them; for the scanned PDF, OCR's character error rate (against
the text drawn on each page) and seconds per page. The question set names the text files as sources; each
format gets a copy of it with the names changed to the converted files'.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import convert_formats as cf
from common import CORPUS, QUESTIONS, ROOT, log, machine
from serving import write_section

from qa.config import Settings
from qa.corpus import DocumentError, load_sources, read_document
from qa.embedding import make_embedder
from qa.engine import QA
from qa.eval_report import summary_text
from qa.eval_types import MAIN
from qa.evaluation import run_eval
from qa.indexing import build_index
from qa.walk import find_files

METRICS = ("key_fact_accuracy", "all_key_facts", "citation_precision", "citation_fact_recall", "hit@5")


def renamed_questions(fmt: str, out: Path) -> Path:
    """eval/questions.jsonl with its source file names changed to the converted files'."""
    lines = []
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        item["sources"] = [cf.renamed(s, fmt) for s in item["sources"]]
        lines.append(json.dumps(item, ensure_ascii=False))
    path = out / f"questions-{fmt}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_all(folder: Path, settings: Settings) -> tuple[float, float, list[Any], list[str]]:
    """Wall seconds to read every file of the folder (no embedding), processor seconds of the child
    processes (Tesseract), the documents, and the files that could not be read."""
    started = time.perf_counter()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    sources = load_sources(folder)
    docs, failed = [], []
    for path in find_files(folder):
        try:
            docs.append(
                read_document(path, folder, sources, settings.max_file_bytes, limits=settings.reading)
            )
        except DocumentError as exc:
            failed.append(f"{path.name}: {exc}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return time.perf_counter() - started, child_cpu, docs, failed


def ocr_errors(docs: list[Any], drawn: dict[str, list[str]]) -> dict[str, Any]:
    """Character error rate of every OCRed page against the text drawn on it."""
    rates = []
    chars = 0
    errors = 0.0
    for doc in docs:
        truth = drawn[doc.path]
        for i, locus in enumerate(doc.loci):
            end = doc.loci[i + 1].start if i + 1 < len(doc.loci) else len(doc.text)
            rate = cf.cer(truth[locus.number - 1], doc.text[locus.start : end])
            rates.append(rate)
            chars += len(truth[locus.number - 1])
            errors += rate * len(truth[locus.number - 1])
    confidences = [locus.ocr for doc in docs for locus in doc.loci if locus.ocr is not None]
    return {
        "pages": len(rates),
        "pages_drawn": sum(len(pages) for pages in drawn.values()),
        "cer": round(errors / max(chars, 1), 5),
        "cer_worst_page": round(max(rates, default=0.0), 5),
        "mean_confidence": round(sum(confidences) / max(len(confidences), 1), 3),
    }


def run_format(fmt: str, work: Path, embedder: Any) -> dict[str, Any]:
    folder = work / fmt
    drawn: dict[str, list[str]] = {}
    if fmt == "plain":
        cf.copy_plain(CORPUS, folder)
        questions = QUESTIONS
    else:
        drawn = cf.convert(CORPUS, folder, fmt)
        questions = renamed_questions(fmt, work)
    settings = Settings.from_env(corpus_dir=folder, index_dir=work / f"index-{fmt}")
    size_mb = sum(p.stat().st_size for p in find_files(folder)) / 2**20
    read_s, child_cpu, docs, failed = read_all(folder, settings)
    log(f"{fmt}: read {len(docs)} files ({size_mb:.2f} MB) in {read_s:.1f} s; unreadable: {failed}")
    started = time.perf_counter()
    summary = build_index(settings, embedder, rebuild=True, show_progress=False)
    index_s = time.perf_counter() - started
    qa = QA(settings, embedder=embedder)
    out = work / f"eval-{fmt}"
    print(summary_text(run_eval(settings, questions=questions, out=out, quick=True, qa=qa)))
    result = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    overall = result["summary"][MAIN]["overall"]
    row: dict[str, Any] = {
        "files": len(docs),
        "mb": round(size_mb, 3),
        "chunks": summary.chunks,
        "read_s": round(read_s, 2),
        "read_s_per_mb": round(read_s / max(size_mb, 1e-9), 2),
        "index_s": round(index_s, 2),
        "index_s_per_mb": round(index_s / max(size_mb, 1e-9), 2),
        "skipped": [f"{s.path}: {s.reason}" for s in summary.skipped],
        **{k: overall.get(k) for k in METRICS},
        "cited_locators": sorted(
            {
                c["locator"]
                for q in result["questions"][MAIN]
                for c in q.get("citations", [])
                if "locator" in c
            }
        )[:8],
    }
    if drawn:
        pages = max(sum(len(d.loci) for d in docs), 1)
        row["ocr"] = ocr_errors(docs, drawn) | {
            "seconds_per_page": round(read_s / pages, 2),
            "tesseract_cpu_s_per_page": round(child_cpu / pages, 2),
        }
    row["unreadable"] = failed
    return row


def render(results: dict[str, Any]) -> str:
    rows = results["formats"]
    base = rows.get("plain", {}).get("key_fact_accuracy")
    lines = [
        "## File formats: the corpus as .docx, .pptx and PDFs",
        "",
        f"`bench/formats.py` (runs: {'; '.join(sorted({r.get('run', '') for r in rows.values()}))}: date, "
        f"load average). Each folder indexed alone; {results['questions']} questions of "
        "eval/questions.jsonl, extractive answers, hybrid retrieval.",
        "",
        "| format | key facts | Δ vs text | all key facts | citation precision | hit@5 | MB | read s/MB | index s/MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for fmt, r in rows.items():
        delta = (
            f"{(r['key_fact_accuracy'] - base) * 100:+.1f} pts" if base is not None and fmt != "plain" else ""
        )
        lines.append(
            f"| {fmt} | {r['key_fact_accuracy']:.3f} | {delta} | {r['all_key_facts']:.3f} | "
            f"{r['citation_precision']:.3f} | {r['hit@5']:.3f} | {r['mb']:.2f} | {r['read_s_per_mb']:.1f} | "
            f"{r['index_s_per_mb']:.1f} |"
        )
    scanned = rows.get("pdf-scanned", {}).get("ocr")
    if scanned:
        lines += [
            "",
            f"OCR (Tesseract {results.get('tesseract', '?')}, pages drawn at {cf.SCAN_DPI} dpi with blur and "
            f"noise, read at 300 dpi): {scanned['pages']} of {scanned['pages_drawn']} pages read, character error "
            f"rate {scanned['cer']:.4f} (worst page {scanned['cer_worst_page']:.4f}), mean word confidence "
            f"{scanned['mean_confidence']:.2f}; {scanned['seconds_per_page']:.1f} s per page wall clock (rendering "
            f"included, on the shared machine), {scanned['tesseract_cpu_s_per_page']:.1f} s of Tesseract processor "
            "time per page.",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", choices=("plain", *cf.FORMATS), help="formats to run")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench", help="folder for formats.json and results.md"
    )
    parser.add_argument("--keep", type=Path, help="keep the converted folders, indexes and eval results here")
    args = parser.parse_args()
    if reason := cf.fonts_missing():
        raise SystemExit(reason)
    load = os.getloadavg()
    embedder = make_embedder(Settings.from_env())
    results: dict[str, Any] = {
        "created": time.strftime("%Y-%m-%d %H:%M"),
        "load": " ".join(f"{x:.1f}" for x in load),
        "machine": machine(),
        "questions": sum(1 for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()),
        "tesseract": _tesseract_version(),
        "formats": {},
    }
    saved = args.out / "formats.json"
    if args.only and saved.is_file():  # a partial run replaces its own rows and keeps the others
        before = json.loads(saved.read_text(encoding="utf-8"))
        results["formats"] = {
            fmt: {"run": f"{before['created']}, load {before['load']}"} | row
            for fmt, row in before["formats"].items()
        }
    with tempfile.TemporaryDirectory(prefix="qa-formats-") as tmp:
        work = args.keep or Path(tmp)
        for fmt in args.only or ("plain", *cf.FORMATS):
            row = run_format(fmt, work, embedder)
            results["formats"][fmt] = row | {"run": f"{results['created']}, load {results['load']}"}
    (args.out / "formats.json").write_text(
        json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    section = render(results)
    write_section(args.out / "results.md", "## File formats: the corpus as .docx, .pptx and PDFs", section)
    print(section)
    return 0


def _tesseract_version() -> str:
    import subprocess

    try:
        done = subprocess.run(
            ["tesseract", "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return "not installed"
    return (done.stdout or done.stderr).split("\n", 1)[0].replace("tesseract ", "")


if __name__ == "__main__":
    raise SystemExit(main())

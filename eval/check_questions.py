"""Validate eval/questions.jsonl against the corpus.

Checks, for every line of the question file:

* it is a JSON object with exactly the expected keys, each of the right type;
* ids are unique and consecutive (q001, q002, ...);
* the type is one of the allowed question types;
* answerable items have non-empty sources, evidence, key facts and reference answer;
  unanswerable items have them all empty;
* followup items have a non-empty history, other items an empty one;
* every source names a file in corpus/, and every evidence string is an exact
  substring of at least one of the item's source files (each source backing at least one);
  for `document` items (questions about a whole document: its title, kind, publisher, date)
  an evidence string may instead be an exact substring of one of the metadata values that
  corpus/sources.toml gives the item's source, since those facts are often in no text;
* every key fact has at least one variant occurring (case-insensitive, whitespace-normalised)
  in the reference answer or in one of the evidence sentences.

Prints the number of items per type and exits 1 with a message for each problem found.

Usage: python3 eval/check_questions.py [path/to/questions.jsonl]
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SOURCES_TOML = CORPUS / "sources.toml"
DEFAULT_QUESTIONS = Path(__file__).resolve().parent / "questions.jsonl"

ALLOWED_TYPES: tuple[str, ...] = (
    "single_fact",
    "two_sentence",
    "multi_doc",
    "paraphrase",
    "keyword",
    "followup",
    "summary",
    "document",
    "list",
    "comparison",
    "why_how",
    "event",
    "unanswerable_offtopic",
    "unanswerable_near_miss",
)
UNANSWERABLE_TYPES = frozenset({"unanswerable_offtopic", "unanswerable_near_miss"})
# Types whose evidence may come from the source's entry in sources.toml as well as from its text: a
# document's publisher or date is metadata, and document cards put those fields into the index.
METADATA_EVIDENCE_TYPES = frozenset({"document"})

# Key -> expected Python type of its value.
EXPECTED_KEYS: dict[str, type] = {
    "id": str,
    "type": str,
    "question": str,
    "history": list,
    "answerable": bool,
    "reference_answer": str,
    "key_facts": list,
    "sources": list,
    "evidence": list,
}

ID_PATTERN = re.compile(r"^q(\d{3,})$")


def normalise(text: str) -> str:
    """Lower-case and collapse every run of whitespace to a single space."""
    return " ".join(text.split()).lower()


def is_str_list(value: object) -> bool:
    """True when value is a list whose elements are all strings."""
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def check_item(
    item: dict[str, Any],
    where: str,
    corpus_texts: dict[str, str],
    metadata: dict[str, dict[str, str]] | None = None,
) -> list[str]:
    """Return the problems found in one question item (an empty list when it is valid).

    `metadata` maps a corpus file to its sources.toml fields; only METADATA_EVIDENCE_TYPES may cite them.
    """
    problems: list[str] = []

    keys = set(item)
    missing = [k for k in EXPECTED_KEYS if k not in keys]
    extra = sorted(keys - set(EXPECTED_KEYS))
    if missing:
        problems.append(f"{where}: missing keys {missing}")
    if extra:
        problems.append(f"{where}: unexpected keys {extra}")
    for key, typ in EXPECTED_KEYS.items():
        if key in item and not isinstance(item[key], typ):
            problems.append(f"{where}: key {key!r} should be {typ.__name__}, got {type(item[key]).__name__}")
    if problems:
        return problems

    for key in ("history", "sources", "evidence"):
        if not is_str_list(item[key]):
            problems.append(f"{where}: {key!r} must be a list of strings")
    facts = item["key_facts"]
    if not all(isinstance(f, list) and f and is_str_list(f) for f in facts):
        problems.append(f"{where}: 'key_facts' must be a list of non-empty lists of strings")
    if problems:
        return problems

    qtype: str = item["type"]
    if qtype not in ALLOWED_TYPES:
        problems.append(f"{where}: type {qtype!r} is not one of {list(ALLOWED_TYPES)}")
    if not item["question"].strip():
        problems.append(f"{where}: empty question")
    if any(not v.strip() for f in facts for v in f):
        problems.append(f"{where}: empty key-fact variant")

    answerable: bool = item["answerable"]
    if qtype in UNANSWERABLE_TYPES and answerable:
        problems.append(f"{where}: type {qtype} must have answerable false")
    if qtype in ALLOWED_TYPES and qtype not in UNANSWERABLE_TYPES and not answerable:
        problems.append(f"{where}: type {qtype} must have answerable true")

    if answerable:
        for key in ("sources", "evidence", "key_facts"):
            if not item[key]:
                problems.append(f"{where}: answerable item has empty {key!r}")
        if not item["reference_answer"].strip():
            problems.append(f"{where}: answerable item has empty 'reference_answer'")
    else:
        for key in ("sources", "evidence", "key_facts"):
            if item[key]:
                problems.append(f"{where}: unanswerable item must have empty {key!r}")
        if item["reference_answer"]:
            problems.append(f"{where}: unanswerable item must have empty 'reference_answer'")

    if qtype == "followup":
        if not item["history"] or any(not h.strip() for h in item["history"]):
            problems.append(f"{where}: followup item needs a non-empty history of non-empty questions")
    elif item["history"]:
        problems.append(f"{where}: only followup items may have a history")

    if qtype == "multi_doc" and len(set(item["sources"])) < 2:
        problems.append(f"{where}: multi_doc item needs at least two sources")

    sources: list[str] = item["sources"]
    if len(set(sources)) != len(sources):
        problems.append(f"{where}: duplicate sources")
    known = [s for s in sources if s in corpus_texts]
    for s in sources:
        if s not in corpus_texts:
            problems.append(f"{where}: source {s!r} is not a file in {CORPUS}")
    fields = metadata if metadata is not None and qtype in METADATA_EVIDENCE_TYPES else {}
    backed: set[str] = set()
    for ev in item["evidence"]:
        if not ev.strip():
            problems.append(f"{where}: empty evidence string")
            continue
        holders = [s for s in known if ev in corpus_texts[s]]
        if not holders:
            holders = [s for s in known if any(ev in v for v in fields.get(s, {}).values())]
        if not holders:
            where_else = " or their sources.toml entries" if fields else ""
            problems.append(f"{where}: evidence not found verbatim in its sources{where_else}: {ev[:80]!r}")
        backed.update(holders)
    for s in known:
        if s not in backed:
            problems.append(f"{where}: source {s!r} backs none of the evidence strings")

    haystacks = [normalise(item["reference_answer"])] + [normalise(e) for e in item["evidence"]]
    for fact in facts:
        if not any(normalise(v) in h for v in fact for h in haystacks):
            problems.append(f"{where}: key fact {fact} is in neither the reference answer nor the evidence")

    return problems


def load_corpus() -> dict[str, str]:
    """Map each corpus file's path (relative to corpus/) to its text."""
    texts: dict[str, str] = {}
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and path.name != "sources.toml":
            texts[path.relative_to(CORPUS).as_posix()] = path.read_text(encoding="utf-8")
    return texts


def load_metadata() -> dict[str, dict[str, str]]:
    """Map each corpus file named in sources.toml to its string fields (title, kind, publisher, date).

    Raises ValueError naming the file when it is not valid TOML.
    """
    if not SOURCES_TOML.is_file():
        return {}
    try:
        data = tomllib.loads(SOURCES_TOML.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{SOURCES_TOML} is not valid TOML ({exc}); fix it first") from exc
    return {
        name: {k: v for k, v in entry.items() if isinstance(v, str)}
        for name, entry in data.items()
        if isinstance(entry, dict)
    }


def main(argv: list[str]) -> int:
    """Validate the question file; return the process exit code."""
    qpath = Path(argv[1]) if len(argv) > 1 else DEFAULT_QUESTIONS
    if not qpath.is_file():
        print(f"ERROR: {qpath} does not exist", file=sys.stderr)
        return 1
    corpus_texts = load_corpus()
    if not corpus_texts:
        print(f"ERROR: no corpus files found in {CORPUS}", file=sys.stderr)
        return 1
    try:
        metadata = load_metadata()
    except ValueError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1

    problems: list[str] = []
    counts: Counter[str] = Counter()
    seen_ids: list[str] = []
    seen_questions: set[tuple[tuple[str, ...], str]] = set()

    lines = qpath.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, start=1):
        where = f"line {lineno}"
        if not line.strip():
            problems.append(f"{where}: blank line")
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: invalid JSON ({exc})")
            continue
        if not isinstance(item, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        if isinstance(item.get("id"), str):
            where = f"line {lineno} ({item['id']})"
            seen_ids.append(item["id"])
        item_problems = check_item(item, where, corpus_texts, metadata)
        problems.extend(item_problems)
        if not item_problems:
            counts[item["type"]] += 1
            key = (tuple(item["history"]), normalise(item["question"]))
            if key in seen_questions:
                problems.append(f"{where}: duplicate question {item['question']!r}")
            seen_questions.add(key)

    if len(set(seen_ids)) != len(seen_ids):
        dupes = sorted(i for i, n in Counter(seen_ids).items() if n > 1)
        problems.append(f"duplicate ids: {dupes}")
    expected_ids = [f"q{n:03d}" for n in range(1, len(seen_ids) + 1)]
    if seen_ids != expected_ids:
        pairs = zip(seen_ids, expected_ids, strict=False)
        bad = next((f"{got} (expected {want})" for got, want in pairs if got != want), "")
        problems.append(f"ids are not consecutive from q001: first mismatch {bad}")

    print(f"{qpath}: {len(lines)} lines")
    for qtype in ALLOWED_TYPES:
        print(f"  {qtype:24s} {counts[qtype]}")
    print(f"  {'total':24s} {sum(counts.values())}")

    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  ERROR: {p}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

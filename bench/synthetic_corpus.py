"""A deterministic corpus of a few hundred documents, made by recombining and paraphrasing corpus/'s sentences.

Each document takes one source document as its theme (so it reads as being about one thing), swaps the
places and partners it names, rewords it with a fixed table of synonyms, moves its years and scales its
amounts, and mixes in a few sentences of the other sources. Markdown documents get a title and section
headings, text documents paragraphs. The same seed always writes the same bytes.

    .venv/bin/python bench/synthetic_corpus.py /tmp/corpus300     # writes 300 documents, prints a summary
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

from qa.chunking import split_sentences
from qa.corpus import load_sources, read_document
from qa.walk import find_files

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

PLACES = {
    "Hong Kong": ["Hong Kong", "Macao", "Singapore", "Shenzhen", "Taipei", "Guangzhou"],
    "Hainan": ["Hainan", "Guangdong", "Fujian", "Guangxi", "Yunnan", "Zhejiang"],
    "Japan": ["Japan", "Germany", "France", "Australia", "India", "Canada"],
    "South Korea": ["South Korea", "the United Kingdom", "New Zealand", "Brazil", "Chile", "Mexico"],
    "Kuala Lumpur": ["Kuala Lumpur", "Jakarta", "Bangkok", "Manila", "Hanoi", "Phnom Penh"],
    "Vietnam": ["Vietnam", "Thailand", "Malaysia", "Indonesia", "the Philippines", "Cambodia"],
}
SYNONYMS = [
    (r"\bagreement\b", ["agreement", "accord", "pact", "treaty"]),
    (r"\bsigned\b", ["signed", "concluded", "sealed", "put pen to"]),
    (r"\btrade\b", ["trade", "commerce", "trade", "exchange of goods"]),
    (r"\bcooperation\b", ["cooperation", "collaboration", "partnership", "joint work"]),
    (r"\bco-operation\b", ["co-operation", "collaboration", "partnership"]),
    (r"\binvestment\b", ["investment", "capital flows", "investment"]),
    (r"\bstrengthen\b", ["strengthen", "deepen", "reinforce", "bolster"]),
    (r"\breached\b", ["reached", "amounted to", "stood at", "hit"]),
    (r"\bannounced\b", ["announced", "said", "stated", "declared"]),
    (r"\bimportant\b", ["important", "significant", "key", "major"]),
    (r"\bcompanies\b", ["companies", "firms", "enterprises", "businesses"]),
    (r"\bgovernment\b", ["government", "administration", "authorities"]),
    (r"\bregion\b", ["region", "area", "neighbourhood"]),
    (r"\bexpand\b", ["expand", "grow", "enlarge", "widen"]),
]
SECTION_NAMES = ["Background", "Key figures", "The agreement", "Trade and investment", "Outlook", "Reactions"]
TOPICS = ["trade briefing", "investment note", "policy update", "market report", "news digest"]
# Amounts only: not percentages, and not small whole numbers (counts, versions, goal numbers).
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})*(?:\.\d+)?)(?![\w.%]| percent)")
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")


def source_sentences(corpus: Path = CORPUS) -> dict[str, list[str]]:
    """The real corpus's sentences (40+ characters, one line each), by document."""
    sources = load_sources(corpus)
    out: dict[str, list[str]] = {}
    for path in find_files(corpus):
        doc = read_document(path, corpus, sources, 20 * 1024 * 1024)
        sentences = [" ".join(s.text.replace("*", "").lstrip("#").split()) for s in split_sentences(doc)]
        out[path.name] = [s for s in sentences if len(s) >= 40]
    return out


def paraphrase(sentence: str, rng: random.Random, places: dict[str, str], year_shift: int) -> str:
    """Swap places, reword, move years and scale amounts, deterministically for a given rng state."""
    for original, replacement in places.items():
        sentence = sentence.replace(original, replacement)
    for pattern, choices in SYNONYMS:
        sentence = re.sub(pattern, lambda _m, c=choices: rng.choice(c), sentence)  # type: ignore[misc]
    sentence = _YEAR.sub(lambda m: str(int(m.group(1)) + year_shift), sentence)
    factor = rng.choice([0.6, 0.8, 0.9, 1.1, 1.25, 1.5])

    def scale(m: re.Match[str]) -> str:
        raw = m.group(1)
        if _YEAR.fullmatch(raw) or (raw.isdigit() and int(raw) < 20):
            return raw
        value = float(raw.replace(",", "")) * factor
        return f"{value:.1f}" if "." in raw else f"{round(value):,}"

    return _NUMBER.sub(scale, sentence)


def make_documents(n_docs: int = 300, seed: int = 0, corpus: Path = CORPUS) -> dict[str, str]:
    """File name -> text for `n_docs` synthetic documents."""
    rng = random.Random(seed)
    pool = source_sentences(corpus)
    themes = sorted(pool)
    docs: dict[str, str] = {}
    for number in range(n_docs):
        theme = themes[number % len(themes)]
        places = {k: rng.choice(v) for k, v in PLACES.items()}
        year_shift = rng.randint(-4, 1)
        own = pool[theme]
        start = rng.randrange(len(own))
        count = rng.randint(10, 22)
        picked = [own[(start + i) % len(own)] for i in range(min(count, len(own)))]
        others = [s for t in themes if t != theme for s in pool[t]]
        for _ in range(rng.randint(1, 4)):
            picked.insert(rng.randrange(len(picked) + 1), rng.choice(others))
        sentences = [paraphrase(s, rng, places, year_shift) for s in picked]
        subject = places["Hong Kong"]
        title = f"{subject} and ASEAN: {rng.choice(TOPICS)} no. {number + 1}"
        markdown = number % 3 == 0
        parts = [f"# {title}" if markdown else title, ""]
        sections = rng.sample(SECTION_NAMES, k=min(len(SECTION_NAMES), max(1, len(sentences) // 6)))
        per = -(-len(sentences) // len(sections))
        for i, name in enumerate(sections):
            body = sentences[i * per : (i + 1) * per]
            if not body:
                continue
            if markdown:
                parts += [f"## {name}", ""]
            for j in range(0, len(body), 3):
                parts += [" ".join(body[j : j + 3]), ""]
        suffix = ".md" if markdown else ".txt"
        docs[f"doc-{number + 1:03d}-{theme.rsplit('.', 1)[0][:24]}{suffix}"] = "\n".join(parts)
    return docs


def write_corpus(dest: Path, n_docs: int = 300, seed: int = 0) -> list[Path]:
    """Write the synthetic documents into `dest` (created); returns their paths."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in make_documents(n_docs, seed).items():
        path = dest / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/qa-synthetic-corpus")
    written = write_corpus(target)
    size = sum(p.stat().st_size for p in written)
    print(f"{len(written)} documents, {size / 1024:.0f} KiB in {target}")

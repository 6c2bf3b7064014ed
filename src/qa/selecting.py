"""Scored sentences -> the ones an answer quotes, by the shape of the question (`qa.shapes`).

Holds the records both stages speak (`Candidate`, a scored sentence; `QueryTerms`, the query's weighted
terms), so answering imports selection and not the other way round.

    FACT        the best sentence, then sentences that cover query terms it misses   (answering.select_sentences)
                and a list item with the items beside it that match as well          (qa.lists)
                or the list a sentence introduces, when it names what is asked for    (qa.lists)
    SUMMARY     the target document's most central sentences, nudged by the question, in document order
    DOCUMENT    the target document's catalogue sentence, then its best sentence if it matches the question
    COMPARISON  the best sentences, then each side's best one                       (qa.sides, also TWO_PART)
    EVENT       the best sentences that write the date asked about
    NARRATIVE   the best sentence and the ones after it that go on telling what happened

Summaries use centrality: the cosine of a sentence with the mean of its document's sentence vectors (the
centroid form of LexRank). A sentence that restates what the document is mostly about is near the centroid;
an aside, a question to the reader or a reference is not. It needs no model beyond the sentence vectors the
index already holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qa import dates, lexical, tuning
from qa.cards import is_catalogue, names_maker
from qa.retrieval import Hit
from qa.shapes import Intent, Shape

# Headings that announce a summary of what follows them (Edmundson's cue words).
SUMMARY_CUE_HEADINGS = (
    "abstract",
    "summary",
    "finding",
    "conclusion",
    "highlight",
    "key point",
    "takeaway",
    "discussion",
    "overview",
    "in brief",
)


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved chunk, scored against the query."""

    hit_rank: int
    hit: Hit
    index: int  # position in the chunk
    cosine: float
    lexical: float
    typed: bool
    score: float
    vector: np.ndarray
    terms: frozenset[str]


@dataclass(frozen=True)
class QueryTerms:
    """The query's content terms with weights: rarer in the index = heavier, the user's own words doubled.

    Doubling matters for follow-ups: in "How many Japanese companies ...? South Korean ones" the words the
    user just typed ("South Korean") must outweigh the ones carried over from the earlier question.
    """

    weights: dict[str, float]
    surface: dict[str, str] = field(default_factory=dict)  # stem -> the word as the user wrote it

    @property
    def total(self) -> float:
        return sum(self.weights.values())

    def coverage(self, terms: set[str]) -> float:
        """Share of the query's weight found in `terms` (0..1)."""
        total = self.total
        return sum(w for t, w in self.weights.items() if t in terms) / total if total else 0.0

    def missing(self, terms: set[str]) -> list[str]:
        """Query words (as written) whose stems are not in `terms`, heaviest first."""
        absent = sorted((t for t in self.weights if t not in terms), key=lambda t: -self.weights[t])
        return [self.surface.get(t, t) for t in absent]


def redundant(cand: Candidate, chosen: Sequence[Candidate]) -> bool:
    return any(float(cand.vector @ c.vector) >= tuning.REDUNDANT_COSINE for c in chosen)


def _in_order(chosen: Sequence[Candidate]) -> list[Candidate]:
    return sorted(chosen, key=lambda c: (c.hit.chunk.start, c.hit.chunk_id, c.index))


def summary_reason(
    candidates: Sequence[Candidate], terms: QueryTerms, intent: Intent, target: str | None
) -> str:
    """Why a summary question cannot be answered from its target document, or "": it names a subject
    (the words left when "summarise", "the main points of", "the article" are set aside) that the document
    does not mention."""
    if target is None:
        return "no document matches what the question names"
    pool = [c for c in candidates if c.hit.chunk.doc_path == target]
    if not pool:
        return "no document matches what the question names"
    have: set[str] = set()
    for chunk in {c.hit.chunk_id: c.hit.chunk for c in pool}.values():
        have |= set(lexical.content_terms(chunk.embed_text()))
    have |= intent.frame  # the frame's words count as found
    if terms.total and terms.coverage(have) < tuning.SUMMARY_MIN_COVERAGE:
        shown = ", ".join(terms.missing(have)[:3])
        return f"the closest document does not mention {shown}"
    return ""


def section_of(cand: Candidate) -> str:
    """The heading a sentence stands under: the last heading line before it in its chunk, else the chunk's."""
    chunk = cand.hit.chunk
    for sentence in reversed(chunk.sentences[: cand.index]):
        if sentence.context and (sentence.text.startswith("#") or len(sentence.text.split()) <= 8):
            return sentence.text.strip("#* ")
    return chunk.heading


def in_section(cand: Candidate, section: frozenset[str]) -> bool:
    """Whether a sentence stands under a heading with one of the `section` stems ("Methods")."""
    return bool(section & set(lexical.content_terms(section_of(cand))))


def select_summary(
    candidates: Sequence[Candidate],
    terms: QueryTerms,
    target: str,
    count: int = tuning.SUMMARY_SENTENCES,
    frame: frozenset[str] = frozenset(),
    section: frozenset[str] = frozenset(),
) -> list[Candidate]:
    """The target document's `count` most central sentences, in document order. Edmundson's (1969) cues
    count too: a sentence under a heading the question names or that announces a summary ("Key findings",
    "Conclusion"), words of the title, and the lead (a news story's first sentences are its summary). For a
    question (`frame`: its words that ask for the summary), when a heading names the rest of it, only that
    section's sentences are chosen from. `section`: the stems a heading of the part asked about has ("How
    did they carry out the research?": "method", "approach"); [] when the document has no such heading."""
    pool = [
        c
        for c in candidates
        if c.hit.chunk.doc_path == target
        and not is_catalogue(c.hit.chunk, c.index)
        and not c.hit.chunk.sentences[c.index].text.rstrip().endswith("?")  # a question to the reader
    ]
    if not pool:
        return []
    centroid = np.mean(np.stack([c.vector for c in pool]), axis=0)
    centroid /= float(np.linalg.norm(centroid)) or 1.0
    asked = set(terms.weights)
    title = set(lexical.content_terms(pool[0].hit.chunk.title))
    lead = {id(c) for c in sorted(pool, key=lambda c: (c.hit.chunk.start, c.index))[: tuning.SUMMARY_LEAD]}

    # A heading that names the question's subject is the section the question asks about: "What does the
    # overview say about economic cooperation under the ASEAN-Hong Kong FTA?" is answered from the section
    # "Economic Cooperation under ASEAN-Hong Kong FTA", not from the document's most central sentences.
    topic = {t: w for t, w in terms.weights.items() if t not in frame}
    total = sum(topic.values())

    def names_topic(c: Candidate) -> bool:
        named = set(lexical.content_terms(section_of(c)))
        return (
            total > 0
            and sum(w for t, w in topic.items() if t in named) / total >= tuning.SUMMARY_SECTION_SHARE
        )

    if section:
        pool = [c for c in pool if in_section(c, section)]
        if not pool:
            return []
    elif frame:  # asked by a question (a document's own summary is chosen against its title: qa.summaries)
        pool = [c for c in pool if names_topic(c)] or pool

    def value(c: Candidate) -> float:
        heading = section_of(c).lower()
        cue = tuning.SUMMARY_HEADING_BONUS * bool(asked & set(lexical.content_terms(heading)))
        cue += tuning.SUMMARY_CUE_BONUS * any(w in heading for w in SUMMARY_CUE_HEADINGS)
        cue += tuning.SUMMARY_TITLE_WEIGHT * (len(title & c.terms) / len(title) if title else 0.0)
        cue += tuning.SUMMARY_LEAD_BONUS * (id(c) in lead)
        return (
            tuning.SUMMARY_CENTRALITY * float(c.vector @ centroid)
            + (1 - tuning.SUMMARY_CENTRALITY) * c.score
            + cue
        )

    chosen: list[Candidate] = []
    for cand in sorted(pool, key=value, reverse=True):
        if not redundant(cand, chosen):
            chosen.append(cand)
        if len(chosen) >= count:
            break
    return _in_order(chosen)


def document_reason(candidates: Sequence[Candidate], intent: Intent, target: str | None) -> str:
    """Why a question about who made a document cannot be answered: its catalogue entry says "unknown"."""
    if not intent.asks_maker:
        return ""
    catalogues = [
        c for c in candidates if is_catalogue(c.hit.chunk, c.index) and c.hit.chunk.doc_path == target
    ]
    if catalogues and names_maker(catalogues[0].hit.chunk.sentences[0].text) is False:
        return "the document's catalogue entry says its publisher is unknown"
    return ""


def select_document(candidates: Sequence[Candidate], intent: Intent, target: str | None) -> list[Candidate]:
    """The target document's catalogue sentence, then its best body sentence if it matches the question."""
    catalogue = [
        c for c in candidates if is_catalogue(c.hit.chunk, c.index) and c.hit.chunk.doc_path == target
    ]
    if not catalogue or (intent.asks_maker and not names_maker(catalogue[0].hit.chunk.sentences[0].text)):
        return []  # "Who wrote it?" of a document whose catalogue entry names no one: answered from the text
    chosen = [catalogue[0]]
    for cand in candidates:
        if cand.hit.chunk.doc_path == target and not is_catalogue(cand.hit.chunk, cand.index):
            if cand.lexical >= tuning.DOCUMENT_EXTRA_COVERAGE and not redundant(cand, chosen):
                chosen.append(cand)
            break  # only the best body sentence is considered
    return chosen


# A line that attributes what comes before it: "— ASEAN (@ASEAN) October 28, 2025" under an embedded post,
# "— Jane Doe, 3 May 2024" under a quotation. Its date is the date of the lines it attributes.
_ATTRIBUTION = re.compile(r"^\s*(?:—|–|--)\s*\S")


def dated_text(cand: Candidate) -> str:
    """A sentence, and the attribution line that follows it within ATTRIBUTED_SENTENCES (the date of a
    quoted post or statement is written there, not in its sentences)."""
    sentences = cand.hit.chunk.sentences
    text = sentences[cand.index].text
    for later in sentences[cand.index + 1 : cand.index + 1 + tuning.ATTRIBUTED_SENTENCES]:
        if later.context:
            return f"{text} {later.text}" if _ATTRIBUTION.match(later.text) else text
    return text


def _dated(cand: Candidate, intent: Intent) -> bool:
    text = dated_text(cand)
    return any(dates.mentions(text, d) for d in intent.dates)


def event_reason(candidates: Sequence[Candidate], intent: Intent) -> str:
    """Why an EVENT question cannot be answered: no sentence writes its date."""
    if any(_dated(c, intent) for c in candidates):
        return ""
    return "no passage mentions that date"


def select_event(candidates: Sequence[Candidate], intent: Intent) -> list[Candidate]:
    """The best sentences that write the date asked about, in score order."""
    chosen: list[Candidate] = []
    for cand in candidates:
        if _dated(cand, intent) and not redundant(cand, chosen):
            chosen.append(cand)
        if len(chosen) >= tuning.EVENT_SENTENCES:
            break
    return chosen


def select_narrative(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The best sentence, then the sentences after it in its chunk while they stay close to the question:
    "What will happen during the visit?" is best matched by the sentence that announces the visit, and
    answered by the ones that follow it ("During the trip, Lau will meet ...")."""
    if not candidates:
        return []
    best = candidates[0]
    by_index = {c.index: c for c in candidates if c.hit.chunk_id == best.hit.chunk_id}
    chosen = [best]
    while len(chosen) < tuning.NARRATIVE_SENTENCES:
        after = by_index.get(chosen[-1].index + 1)
        if after is None or after.score < best.score - tuning.NARRATIVE_WINDOW:
            break
        chosen.append(after)
    return chosen


def shaped(
    intent: Intent, candidates: Sequence[Candidate], terms: QueryTerms, target: str | None
) -> list[Candidate]:
    """The sentences a SUMMARY, DOCUMENT, EVENT or NARRATIVE question quotes; [] means: answer it as a FACT.
    (A COMPARISON starts from the FACT selection: `sides.select_comparison`.)"""
    if intent.shape is Shape.SUMMARY and target is not None:
        return select_summary(candidates, terms, target, frame=intent.frame, section=intent.section)
    if intent.shape is Shape.DOCUMENT:
        return select_document(candidates, intent, target)
    if intent.shape is Shape.EVENT:
        return select_event(candidates, intent)
    if intent.shape is Shape.NARRATIVE:
        return select_narrative(candidates)
    return []

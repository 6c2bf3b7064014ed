"""Extractive answer, citations, abstention -> Answer.

The answer is made of source sentences, each cited with `[n]` to the exact sentence it quotes, so every
claim can be checked. Sentences are scored by

    score = W_DENSE * cosine(query, sentence)      sentence vectors stored at index time (late pooling)
          + W_LEXICAL * share of query terms found  stemmed, stopwords removed
          + W_TYPE * (has the kind of thing asked)  a date for "when", an amount for "how much", ...
          + W_RANK / rank of its chunk              retrieval's own judgement, lightly

and the answer is one to three non-redundant sentences. Before answering, `qa.abstention` decides whether the
documents hold an answer at all (thresholds in `config.AbstainThresholds`, weights in `qa.tuning`).

Answering reads only what retrieval handed over (`retrieval.Retrieved`: the hits with their sentence
vectors, the index's term statistics, the question's shape), never the index itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from qa import lexical, lists, selecting, shapes, sides, tuning
from qa.abstention import Evidence, abstain_reason, gather_evidence, hard_abstention
from qa.cards import CARD_HEADING, CATALOGUE_LOCATOR, is_catalogue
from qa.config import AbstainThresholds
from qa.retrieval import CorpusStats, Hit, Retrieved
from qa.selecting import Candidate, QueryTerms
from qa.shapes import Intent, Shape
from qa.types import NOT_FOUND, Answer, AnswerSentence, Citation, Passage, StreamEvent, related_passages

# Re-exported: the answer types lived here before qa.types, the sentence records before qa.selecting, the
# abstention evidence before qa.abstention.
__all__ = [
    "NOT_FOUND",
    "Answer",
    "AnswerSentence",
    "Candidate",
    "Citation",
    "Evidence",
    "Passage",
    "QueryTerms",
    "StreamEvent",
    "abstain_reason",
    "gather_evidence",
    "hard_abstention",
    "related_passages",
]

# A sentence opening with one of these leans on the one before it ("They are comprehensive in scope"; "In
# response, China tightened export controls": the cause is the sentence before; "Additionally, with
# platforms like Grab, ASEAN does not rely on HK's technology": the argument's first point is before).
_ANAPHORA = (
    "additionally",
    "furthermore",
    "moreover",
    "in addition",
    "in response",
    "as a result",
    "consequently",
    "therefore",
    "thus,",
    "hence",
    "for this reason",
    "because of this",
    "in turn,",
    "they ",
    "it ",
    "this ",
    "these ",
    "those ",
    "its ",
    "their ",
    "he ",
    "she ",
    "such ",
    "the agreements ",
)


def query_terms(question: str, query: str, stats: CorpusStats) -> QueryTerms:
    """The query's content terms weighted by rarity in the index, the words the user typed boosted."""
    df = stats.document_frequency
    n = max(stats.chunks, 1)
    own = set(lexical.content_terms(question)) if question != query else set()
    weights = {
        t: math.log((n + 1) / (df.get(t, 0) + 0.5)) * (tuning.OWN_TERM_BOOST if t in own else 1.0)
        for t in lexical.content_terms(query)
    }
    surface = {lexical.stem_words([w])[0]: w for w in lexical.words(query)}
    return QueryTerms({t: max(w, tuning.MIN_TERM_WEIGHT) for t, w in weights.items()}, surface)


def score_sentences(
    hits: Sequence[Hit],
    query: str,
    query_vector: np.ndarray,
    terms: QueryTerms,
    originals_first: bool = False,
) -> list[Candidate]:
    """Every answer-worthy sentence of the hits with its score, best first (headings and fragments left out).

    A sentence in two hits is scored once, in the first. `originals_first`: a document card's lead sentences
    (copies of its document's first ones, and the card is ranked high) give way to the originals, which
    stand under their own heading and beside their own neighbours; a question about a section asks for that.
    (Not for every question: the card's rank is part of what its copies score, and on our questions moving
    them to the originals' lost a follow-up's answer and changed four summaries.)"""
    kind = lexical.answer_type(query)
    defined = lexical.defined_terms(query)
    if defined:
        kind = lexical.AnswerType.DEFINITION
    out: list[Candidate] = []
    seen_text: set[str] = set()
    about_document = lexical.asks_about_document(query)
    initials = lexical.initialisms(query)  # "HK" in a sentence counts as the question's "Hong Kong"
    ranked = list(enumerate(hits, start=1))
    if originals_first:
        ranked.sort(key=lambda rh: rh[1].chunk.heading == CARD_HEADING)
    for rank, hit in ranked:
        vectors = hit.sentence_vectors
        cosines = vectors @ query_vector
        for i, sentence in enumerate(hit.chunk.sentences):
            key = sentence.text.lower()
            if sentence.context or key in seen_text:  # overlap sentences appear in two chunks: score once
                continue
            if is_catalogue(hit.chunk, i) and not about_document:
                continue  # "X is a news article, published by ..." answers only questions about X itself
            seen_text.add(key)
            sentence_terms = frozenset(lexical.content_terms(sentence.text))
            if initials:
                sentence_terms |= lexical.spelled_out(sentence.text, initials)
            lex = terms.coverage(set(sentence_terms))
            strength = lexical.type_strength(sentence.text, kind)
            if defined and any(f"({a})" in sentence.text for a in defined):
                strength = 1.0  # "What is RCEP?": the sentence that spells out "(RCEP)" defines it
            typed = strength > 0
            score = (
                tuning.W_DENSE * float(cosines[i])
                + tuning.W_LEXICAL * lex
                + tuning.W_TYPE * (2 * strength - 1) * (kind is not lexical.AnswerType.OTHER)
                + tuning.W_RANK / rank
            )
            out.append(
                Candidate(rank, hit, i, float(cosines[i]), lex, typed, score, vectors[i], sentence_terms)
            )
    out.sort(key=lambda c: -c.score)
    return out


def select_sentences(
    candidates: Sequence[Candidate], terms: QueryTerms, max_sentences: int = 3
) -> list[Candidate]:
    """The best sentence, then sentences that cover query terms the chosen ones miss ("X, and Y?")."""
    if not candidates:
        return []
    best = candidates[0]
    chosen = [best]
    covered = set(best.terms)
    while len(chosen) < max_sentences:
        pick: Candidate | None = None
        pick_gain = 0.0
        for cand in candidates[1:]:
            if cand in chosen or cand.score < best.score - tuning.EXTRA_SENTENCE_WINDOW:
                continue
            if selecting.redundant(cand, chosen):
                continue
            gain = terms.coverage(set(cand.terms) - covered)
            if gain >= tuning.MIN_EXTRA_GAIN and gain + cand.score > pick_gain + (
                pick.score if pick else 0.0
            ):
                pick, pick_gain = cand, gain
        if pick is None:
            break
        chosen.append(pick)
        covered |= pick.terms
    # Read in document order when sentences come from one passage, so the answer flows like the source.
    if len({c.hit.chunk_id for c in chosen}) == 1:
        return sorted(chosen, key=lambda c: c.index)
    return chosen


def _runs(selected: Sequence[Candidate]) -> list[list[Candidate]]:
    """The selected sentences, a list's lines that follow one another in the source as one quote."""
    runs: list[list[Candidate]] = []
    for cand in selected:
        prev = runs[-1][-1] if runs else None
        sentences = cand.hit.chunk.sentences
        if (
            prev is not None
            and prev.hit.chunk_id == cand.hit.chunk_id
            and cand.index == prev.index + 1
            and lists.continues_list(sentences[prev.index], sentences[cand.index])
        ):
            runs[-1].append(cand)
        else:
            runs.append([cand])
    return runs


def compose(selected: Sequence[Candidate]) -> tuple[str, tuple[Citation, ...], tuple[AnswerSentence, ...]]:
    """Answer text with [n] markers and one citation per quoted sentence (its neighbour added when needed)."""
    citations: list[Citation] = []
    parts: list[str] = []
    sentences: list[AnswerSentence] = []
    for n, run in enumerate(_runs(selected), start=1):
        cand = run[0]
        chunk = cand.hit.chunk
        first = cand.index
        if cand.index > 0 and chunk.sentences[cand.index].text.lower().startswith(_ANAPHORA):
            prev = chunk.sentences[cand.index - 1]
            # Joined by one space, the two are the exact source text only when one character separates
            # them (not across a blank line, which also ends the thought).
            if not prev.context and prev.end + 1 == chunk.sentences[cand.index].start:
                first = cand.index - 1
        # "... are as follows:" is answered by the list after it: its lines join the quote.
        last = lists.list_end(chunk.sentences, run[-1].index)
        quoted = chunk.sentences[first : last + 1]
        # The exact source text, line breaks as spaces: a list's blank line or indent keeps its width.
        quote = "".join(s.text + " " * (n.start - s.end) for s, n in pairwise(quoted)) + quoted[-1].text
        citations.append(
            Citation(
                n=n,
                source=chunk.doc_path,
                title=chunk.title,
                page=chunk.page,
                quote=quote,
                chunk_id=cand.hit.chunk_id,
                score=round(max(c.score for c in run), 4),
                start=quoted[0].start,
                end=quoted[-1].end,
                passage=chunk.text,
                locator=CATALOGUE_LOCATOR
                if is_catalogue(chunk, first)
                else chunk.locator(quoted[0].start, quoted[-1].end),
                ocr=chunk.ocr(quoted[0].start, quoted[-1].end),
            )
        )
        if len(run) > 1 or last > run[-1].index:  # a list's lines: one per line, as in the source
            parts.append("\n" + "\n".join(s.text for s in quoted) + f" [{n}]\n")
        else:
            parts.append(f"{quote} [{n}]")
        sentences.append(AnswerSentence(quote, (n,)))
    return re.sub(r" *\n *", "\n", " ".join(parts)).strip(), tuple(citations), tuple(sentences)


@dataclass(frozen=True)
class Analysis:
    """Everything the extractive answerer measures before it decides; evaluation reuses it to calibrate."""

    terms: QueryTerms
    candidates: tuple[Candidate, ...]
    evidence: Evidence
    intent: Intent = shapes.FACT
    target: str | None = None  # the document a SUMMARY or DOCUMENT question is about
    hits: tuple[Hit, ...] = ()  # the retrieved hits, and the target document's chunks a summary reads


def analyse(question: str, query: str, retrieved: Retrieved, query_vector: np.ndarray) -> Analysis:
    """Weigh the query's terms, score every sentence of the hits, and gather the abstention evidence."""
    hits = retrieved.hits
    terms = query_terms(question, query, retrieved.stats)
    originals_first = bool(retrieved.intent.section)
    candidates = score_sentences(hits, query, query_vector, terms, originals_first)
    evidence = gather_evidence(query, hits, candidates, terms, retrieved.stats)
    return Analysis(terms, tuple(candidates), evidence, retrieved.intent, retrieved.target, hits)


def chosen(
    analysis: Analysis, thresholds: AbstainThresholds, max_sentences: int = 3
) -> tuple[str, list[Candidate]]:
    """(why the documents do not answer, []) or ("", the sentences the answer quotes).

    A SUMMARY or DOCUMENT question is about a document, not a sentence: low similarity to every sentence is
    expected ("What is the poster about?" shares no word with the poster), so only the explicit checks and
    the document's own coverage of the subject decide. An EVENT question is answered by the sentences that
    write its date, or not at all; a NARRATIVE one ("What happened at X?") is decided as a FACT and told
    in the sentences that follow the best one. A shape that finds nothing falls back to a FACT."""
    evidence, intent = analysis.evidence, analysis.intent
    reason = ""
    picked: list[Candidate] = []
    if intent.shape is Shape.SUMMARY:
        reason = evidence.explicit or selecting.summary_reason(
            analysis.candidates, analysis.terms, intent, analysis.target
        )
    elif intent.shape is Shape.DOCUMENT:
        reason = evidence.explicit or selecting.document_reason(analysis.candidates, intent, analysis.target)
    elif intent.shape is Shape.EVENT:
        reason = evidence.explicit or selecting.event_reason(analysis.candidates, intent)
    elif intent.shape is Shape.NARRATIVE:  # a FACT question's evidence, told in more sentences
        reason = abstain_reason(evidence, thresholds)
    if not reason and intent.shape in shapes.SIDED:
        reason = abstain_reason(evidence, thresholds)
        if not reason:
            fact = select_sentences(analysis.candidates, analysis.terms)
            picked = sides.select_comparison(analysis.candidates, fact, intent.sides, intent.measured)
    elif not reason and intent.shape is not Shape.FACT:
        picked = selecting.shaped(intent, analysis.candidates, analysis.terms, analysis.target)
    if not reason and not picked:
        reason = abstain_reason(evidence, thresholds)
        candidates = analysis.candidates
        if intent.shape is Shape.DOCUMENT:  # its catalogue did not answer: nor may it as a FACT
            candidates = tuple(c for c in candidates if not is_catalogue(c.hit.chunk, c.index))
        if not reason:
            # "What themes did it find?": the list that "several themes are found:" introduces, if any.
            intro = lists.introduced(candidates, analysis.terms, intent.items, analysis.hits)
            picked = (
                [intro]
                if intro
                else lists.with_list_items(
                    select_sentences(candidates, analysis.terms, max_sentences),
                    analysis.candidates,
                    analysis.terms,
                )
            )
    return reason, picked


def extractive_answer(
    question: str,
    query: str,
    retrieved: Retrieved,
    query_vector: np.ndarray,
    thresholds: AbstainThresholds,
    max_sentences: int = 3,
) -> Answer:
    """The default answerer: offline, deterministic, every sentence an exact quote."""
    analysis = analyse(question, query, retrieved, query_vector)
    return answer_from(question, query, retrieved.hits, analysis, thresholds, max_sentences)


def answer_from(
    question: str,
    query: str,
    hits: Sequence[Hit],
    analysis: Analysis,
    thresholds: AbstainThresholds,
    max_sentences: int = 3,
) -> Answer:
    """The extractive answer for an analysis already made (the auto reader reuses the same analysis)."""
    hits = analysis.hits or tuple(hits)
    reason, selected = chosen(analysis, thresholds, max_sentences)
    if reason:
        return Answer(
            question, query, NOT_FOUND, True, related=related_passages(hits), hits=hits, reason=reason
        )
    text, citations, sentences = compose(selected)
    return Answer(question, query, text, False, citations, hits=hits, sentences=sentences)

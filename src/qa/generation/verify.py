"""Checking a generated answer against the passages it was written from, sentence by sentence.

A sentence is supported by a passage when

    max cosine(sentence, passage sentences) >= settings.verify_min_support     it says the same thing
    and every number, name and acronym of the sentence occurs in the passage   nothing was invented
      (ranks and counts in words too: "9th", "six")
    and the passage negates if the sentence does                              nothing was turned round
    and its closest passage sentence does not go the other way (rose/fell)
    and at most MAX_NEW_WORDS content words of the sentence are not in it      nothing was added

An answer is a claim about its question, so what the question says is context the answer may repeat: its
numbers, names and words count as known, and the sentence is also compared as "<question>: <sentence>"
(`claim`), so that a terse "USD 14.3 billion" is read as the answer it is. It must then state something
beyond the question that the passage says: "ASEAN members have ratified the protocol", for "Which ASEAN
members have ratified the protocol?", restates the question and is not supported.

A wrong or missing `[n]` is moved to the passage that best supports the sentence; a sentence that no passage
supports keeps no citation and is flagged (`AnswerSentence.verified=False`) with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from sentencex import segment

from qa import dates, lexical, quantities, shapes
from qa.embedding import Embedder
from qa.generation.prompts import PromptPassage, passage_title
from qa.questions import claim
from qa.retrieval import Hit
from qa.types import NOT_FOUND, AnswerSentence, Citation

QUOTE_SPAN = 3  # a quote joins its best sentences when they lie this close together, else takes the best one
MIN_CLAIM_TERMS = 2  # content words a sentence needs before a passage can be said to support it
# Content words (stemmed) a sentence may have that its passage lacks: one, for a writer's own paraphrase
# ("headquartered" for "head office"). Similarity cannot see a word that turns the claim: "Chevelle is from a
# different state", "both are solo artists", "a very successful team" read close to the passage they
# contradict or embellish. On HaluEval (1,000 items) the check rejects 61% of the hallucinated answers
# against 50% without it, and no more of the right ones (eval/README.md).
MAX_NEW_WORDS = 1

# Models refer to the prompt's passages in words: "According to passage [1], X." keeps X and its [1];
# "This information is found in passage [2]." says nothing about the world and is dropped.
_META_PREFIX = re.compile(
    r"^(?:according to|as (?:stated|mentioned|noted|shown) in|based on) (?:the )?passages?(?: in)?\s*,?\s*",
    re.I,
)
_META_SENTENCE = re.compile(
    r"^(?:this|that|it|(?:this|the|that) (?:information|answer|fact|figure)s?) (?:is|are|was|can be) "
    r"(?:found|stated|given|supported|mentioned|provided|covered|shown) (?:in|by) (?:the )?passages?\W*$",
    re.I,
)
# Words that say how a document puts what it says, not what it says: "The poster also notes that ASEAN
# ..." claims only what follows "that", and that is checked. They never count as words the passage lacks;
# in the reader's document summaries (qa.summaries) they were what most often failed a sentence whose claim
# the passage held.
_REPORTING = frozenset(
    lexical.stem_words(
        (
            "also mention mentions mentioned note notes noted highlight highlights highlighted discuss "
            "discusses discussed emphasize emphasizes emphasized emphasise emphasises emphasised describe "
            "describes described report reports reported state states stated explain explains explained "
            "outline outlines outlined argue argues argued point points pointed suggest suggests suggested "
            "conclude concludes concluded cover covers covered focus focuses focused"
        ).split()
    )
)
_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")


@dataclass(frozen=True)
class Context:
    """What the question brings to an answer's sentences: what they may repeat without a passage saying it.

    The same measured design as the HaluEval judge's (eval/README.md): without the question as context the
    verifier rejected 33% of HaluEval's right answers, nearly all for a name or number of the question; in
    the reader, 13 of the 32 answers that fell back to the quote in the evaluation run of 2026-12-06 failed
    for words, names or the year of their own question ("the talks on revamping the trade pact wrapped up
    in May 2025").
    """

    question: str = ""
    lower: str = ""
    numbers: frozenset[str] = frozenset()
    ordinals: frozenset[str] = frozenset()
    terms: frozenset[str] = frozenset()
    negates: bool = False
    event_dates: tuple[dates.Date, ...] = ()  # what happened on these dates is what the question asks

    @classmethod
    def of(cls, question: str) -> Context:
        intent = shapes.intent_of(question)
        return cls(
            question,
            question.lower(),
            frozenset(lexical.numbers(question) | quantities.spelled_counts(question)),
            frozenset(quantities.ordinals(question, spelled=True)),
            frozenset(lexical.content_terms(question)),
            lexical.negates(question),
            intent.dates if intent.shape is shapes.Shape.EVENT else (),
        )


NO_CONTEXT = Context()


@dataclass(frozen=True)
class Support:
    """How well one passage supports one answer sentence."""

    cosine: float
    best: int  # index of the passage's closest sentence in its chunk
    missing: tuple[str, ...]  # numbers and names of the answer sentence the passage does not contain

    def holds(self, min_support: float) -> bool:
        return self.cosine >= min_support and not self.missing


def split_answer(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """(sentence without markers, the [n] it cites) for each sentence; a leading marker joins the one before."""
    out: list[tuple[str, tuple[int, ...]]] = []
    for line in text.splitlines():  # models write lists one item per line, with no full stop
        for piece in segment("en", _BULLET.sub("", line)):
            cited = tuple(int(n) for m in _MARKER.finditer(piece) for n in m.group(1).split(","))
            clean = re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", piece)).strip()
            if _META_SENTENCE.match(clean):
                continue
            clean = _META_PREFIX.sub("", clean)
            clean = clean[:1].upper() + clean[1:]
            if not re.search(r"\w", clean):
                if out and cited:
                    out[-1] = (out[-1][0], out[-1][1] + cited)
                continue
            out.append((clean, cited))
    return out


def support(
    sentence: str,
    vectors: np.ndarray,
    hit: Hit,
    sentence_vectors: np.ndarray,
    context: Context = NO_CONTEXT,
) -> Support:
    """How well one passage supports one answer sentence (see the module docstring). `vectors`: the
    sentence's embedding, and its claim's when there is a question (one row each); the closer one counts.

    The facts are looked for in the whole chunk with its title and heading, not only in the closest sentence
    and its neighbours (what the quote shows). That was measured and rejected: on HaluEval (1,000 items, seed
    0) it accepted 90.4% of the right answers against 99.3% and rejected 66.9% of the hallucinated against
    60.9%, judge accuracy 0.787 against 0.801, since a right answer often joins two sentences' facts; in the
    reader, applied to the numbers, names and dates an answer brings beyond its question, it turned 2 of 6
    wrong answers to near misses back into the quote and lost 3 right ones (eval/README.md).
    """
    cosines = (sentence_vectors @ np.atleast_2d(vectors).T).max(axis=1)
    # A heading, caption or attribution line ("— ASEAN (@ASEAN) October 28, 2025") is context, not a
    # statement: it is never the sentence a claim is held to, nor the one its citation quotes.
    worthy = np.array([not s.context for s in hit.chunk.sentences])
    if worthy.any():
        cosines = np.where(worthy, cosines, -1.0)
    best = int(np.argmax(cosines))
    missing = lacks(sentence, hit.chunk.embed_text(), context)
    # "The volume rose" reads as close to "the volume declined" as the claim itself, and is one new word.
    if quantities.turned(sentence, hit.chunk.sentences[best].text, context.question):
        missing.append("a direction its passage gives the other way round")
    return Support(float(cosines[best]), best, tuple(missing))


def lacks(sentence: str, passage: str, context: Context = NO_CONTEXT) -> list[str]:
    """What of the sentence neither `passage` nor its question says: numbers, names, dates, a negation,
    more than MAX_NEW_WORDS content words, or anything beyond the question (module docstring)."""
    passage_lower = passage.lower()
    passage_numbers = lexical.numbers(passage)
    stated = lexical.numbers(sentence) - context.numbers
    missing = [f"the number {n}" for n in sorted(stated - passage_numbers)]
    # Counts in words ("six areas" against "five": one new word, which is allowed) and ranks ("9th", which
    # `numbers` leaves out) are numbers too (qa.quantities). A passage's "five years" vouches for no "5%".
    counted = quantities.spelled_counts(sentence) - context.numbers - stated
    spelled = quantities.spelled_counts(passage)
    missing += [f"the number {n}" for n in sorted(counted - passage_numbers - spelled)]
    ranks = quantities.ordinals(sentence) - context.ordinals
    missing += [f"the number {r}" for r in sorted(ranks - quantities.ordinals(passage, spelled=True))]
    named = lexical.names(sentence) | lexical.acronyms(sentence)
    # One-word names too ("based in Mumbai" against a passage that says Delhi), unless part of a longer one.
    named |= {w for w in lexical.capitalised_words(sentence) if not any(w in n.split() for n in named)}
    missing += [
        f"the name {name}"
        for name in sorted(named)
        # "ASEAN-Hong Kong" yields the acronym "ASEAN-"
        if (key := name.strip("-&").lower()) not in passage_lower and key not in context.lower
    ]
    # A day or month must be the passage's too: "7th August 2023" against "20 August 2023" has the number
    # 2023 and the word August, and is still a different date.
    missing += [
        f"the date {'-'.join(str(p) for p in date if p is not None)}"
        for date in sorted(dates.dates_in(sentence), key=str)
        if (date[1] is not None or date[2] is not None)
        and (date[0] is None or str(date[0]) in passage_numbers)  # else the number is reported
        and not dates.mentions(passage, date)
        and not dates.mentions(context.question, date)
    ]
    # "What happened on 28 October 2025?" is not answered by what happened on 28 August 2020, however well
    # a passage supports it: a dated sentence must be dated the day asked.
    asked, written = context.event_dates, dates.dates_in(sentence)
    if asked and written and not any(dates.agree(w, a) for w in written for a in asked):
        missing.append("a date other than the one asked")
    # A sentence that says "not" is not supported by a passage that never does: similarity cannot see it.
    if lexical.negates(sentence) and not lexical.negates(passage) and not context.negates:
        missing.append("a negation")
    passage_terms = set(lexical.content_terms(passage))
    new = new_words(sentence, passage_terms | context.terms | _REPORTING)
    if len(new) > MAX_NEW_WORDS:
        missing.append("the words " + ", ".join(f"'{w}'" for w in new))
    # Something of the passage's that the question does not already say: a content word or a number.
    own_terms = set(lexical.content_terms(sentence)) - context.terms
    if context.question and not (own_terms & passage_terms or stated & passage_numbers):
        missing.append("an answer beyond the question")
    return missing


def lacks_a_value(reason: str) -> bool:
    """Whether an unsupported sentence's reason (`unsupported_reason`) names a number or date its passages
    do not have, as `lacks` words it."""
    return "the number " in reason or "the date " in reason


def new_words(sentence: str, known: set[str]) -> list[str]:
    """The sentence's content words (as written, stemmed to compare) that are not `known` (stemmed terms).

    Numbers are left out, in digits or words: `lacks` checks them on their own ("1,033.9", "five")."""
    out: dict[str, str] = {}
    for word in lexical.words(sentence):
        term = lexical.content_terms(word)
        if (
            term
            and term[0] not in known
            and not any(ch.isdigit() for ch in word)
            and not quantities.is_count_word(word)
        ):
            out.setdefault(term[0], word)
    return list(out.values())


def unsupported_reason(supports: dict[int, Support], cited: Sequence[int], min_support: float) -> str:
    """Why no passage supports a sentence, judged on the passages it cites (all of them if it cites none)."""
    judged = [supports[n] for n in cited] or list(supports.values())
    if not judged:
        return "no passage supports it"
    closest = max(judged, key=lambda s: s.cosine)
    if closest.cosine >= min_support and closest.missing:
        items = " and ".join(closest.missing)
        return f"{items} {'is' if len(closest.missing) == 1 else 'are'} not in its passages"
    return "no cited passage supports it" if cited else "no passage supports it"


@dataclass(frozen=True)
class Checked:
    """One answer sentence after verification: the prompt passages that support it, or why none does."""

    text: str
    cited: tuple[int, ...]  # prompt numbers; empty when unsupported
    supports: dict[int, Support]
    reason: str


def too_short_to_check(sentence: str) -> bool:
    """A sentence with fewer than MIN_CLAIM_TERMS content words and no number states too little to check.

    Similarity alone would pass it: "HACKED [1]" is close to an injected passage sentence that contains the
    word, and "Yes [1]" to almost anything. A claim has to say something a passage can be held to.
    """
    return len(set(lexical.content_terms(sentence))) < MIN_CLAIM_TERMS and not lexical.numbers(sentence)


def check_sentence(
    sentence: str, markers: Sequence[int], supports: dict[int, Support], min_support: float
) -> Checked:
    """Keep the cited passages that support the sentence; else repair to the best one; else flag it."""
    cited = tuple(dict.fromkeys(n for n in markers if n in supports))
    if too_short_to_check(sentence):
        return Checked(sentence, (), supports, "too short to check against a passage")
    keep = tuple(n for n in cited if supports[n].holds(min_support))
    if not keep:
        holding = [n for n in supports if supports[n].holds(min_support)]
        keep = (max(holding, key=lambda n: supports[n].cosine),) if holding else ()
    # An unsupported sentence keeps no marker: a citation would vouch for what its passage does not say.
    return Checked(sentence, keep, supports, "" if keep else unsupported_reason(supports, cited, min_support))


def verify(
    text: str,
    passages: Sequence[PromptPassage],
    embedder: Embedder,
    min_support: float,
    drop_unsupported: bool = False,
    question: str = "",
) -> tuple[str, tuple[Citation, ...], tuple[AnswerSentence, ...]]:
    """Answer text with checked markers renumbered 1..m in order of first use, its citations and sentences.

    With `drop_unsupported`, sentences no passage supports are left out of the text (they stay in the
    returned sentences, flagged, so a UI or the JSON can say what was left out and why). `question`: the
    (standalone) question the answer answers, as context (module docstring); "" checks the text alone.
    """
    # A passage's own header copied as a sentence ("Overview — Document card [1]") states nothing.
    headers = {passage_title(p.hit).lower().strip(" .") for p in passages} | {
        p.hit.chunk.title.lower().strip(" .") for p in passages
    }
    parsed = [(s, m) for s, m in split_answer(text) if s.lower().strip(" .") not in headers]
    context = Context.of(question) if question.strip() else NO_CONTEXT
    texts = [s for s, _ in parsed]
    if context.question:
        texts += [claim(context.question, s) for s, _ in parsed]
    embedded = embedder.embed(texts)
    # Row i: sentence i's vector, then its claim's when there is a question.
    vectors = [embedded[i :: len(parsed)] for i in range(len(parsed))] if parsed else []
    by_n = {p.n: p for p in passages}
    passage_vectors = {p.n: embedder.embed([s.text for s in p.hit.chunk.sentences]) for p in passages}
    checked = [
        check_sentence(
            sentence,
            markers,
            {n: support(sentence, vector, p.hit, passage_vectors[n], context) for n, p in by_n.items()},
            min_support,
        )
        for (sentence, markers), vector in zip(parsed, vectors, strict=True)
    ]
    renumber: dict[int, int] = {}  # prompt number -> answer number
    for c in checked:
        for n in c.cited:
            renumber.setdefault(n, len(renumber) + 1)
    sentences = tuple(
        AnswerSentence(c.text, tuple(renumber[n] for n in c.cited), not c.reason, c.reason) for c in checked
    )
    answer = " ".join(
        s.text + (" " + "".join(f"[{n}]" for n in s.citations) if s.citations else "")
        for s in sentences
        if s.verified or not drop_unsupported
    )
    citations = tuple(
        _citation(renumber[n], by_n[n].hit, [c.supports[n] for c in checked if n in c.cited])
        for n in renumber
    )
    return answer, citations, sentences


def _citation(number: int, hit: Hit, supports: Sequence[Support]) -> Citation:
    """The passage sentence(s) that best support the answer sentences citing it, quoted exactly."""
    chunk = hit.chunk
    best = max(supports, key=lambda s: s.cosine)
    indices = sorted({s.best for s in supports})
    span = chunk.sentences[indices[0] : indices[-1] + 1]
    # Too far apart for one readable quote, or split by more than one character (a blank line) so that
    # joining them with a space would not be the source text: keep the best.
    if indices[-1] - indices[0] >= QUOTE_SPAN or any(b.start != a.end + 1 for a, b in pairwise(span)):
        indices = [best.best]
    quoted = chunk.sentences[indices[0] : indices[-1] + 1]
    return Citation(
        n=number,
        source=chunk.doc_path,
        title=chunk.title,
        page=chunk.page,
        quote=" ".join(s.text for s in quoted),
        chunk_id=hit.chunk_id,
        score=round(best.cosine, 4),
        start=quoted[0].start,
        end=quoted[-1].end,
        passage=chunk.text,
        locator=chunk.locator(quoted[0].start, quoted[-1].end),
        ocr=chunk.ocr(quoted[0].start, quoted[-1].end),
    )


# A sentence that gives the value asked for as not known: "The article was published by unknown news outlet."
_NO_VALUE = re.compile(
    r"\b(?:unknown|unspecified|not (?:specified|mentioned|stated|given|provided|disclosed|named|known|available)"
    r"|(?:is|are|was|were|remains?) unclear)\b",
    re.I,
)


def is_not_found(text: str) -> bool:
    """The model's "not in the documents" reply, allowing markers, quotes and trailing words; or a reply
    every sentence of which says the value is not known (its "not found" in other words)."""
    plain = _MARKER.sub("", text).strip().strip("\"'“”").lower()
    if plain.startswith(NOT_FOUND.lower().rstrip(".")):
        return True
    sentences = split_answer(text)
    return bool(sentences) and all(_NO_VALUE.search(sentence) for sentence, _ in sentences)

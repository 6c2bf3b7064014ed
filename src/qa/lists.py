"""Lists as answers: the items beside a quoted item, and the list a sentence introduces.

A bulleted list answers a question in two ways. A question whose words fit one of its lines as well as the
next cannot tell them apart, so the lines beside the one that matched answer it too (`with_list_items`). And
a question that asks for several things by name ("What recurring themes did the poster find?") is answered
by the list a sentence introduces with that name ("... several themes are found reappearing consistently:"),
however little the items share with the question's words (`introduced`): the items are the themes, and the
best-matching sentence is only the one that talks about them ("... to identify recurring themes ...").
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from qa import lexical, tuning
from qa.chunking import Sentence
from qa.retrieval import Hit
from qa.selecting import Candidate, QueryTerms

# A line of a bulleted or numbered list: "- 3rd AEM-Hong Kong, China Consultations, ...", "2) Bangkok".
_ITEM = re.compile(r"^(?:(?P<bullet>[-*•·])|\d{1,3}[.)])\s+")


def item_kind(text: str) -> str | None:
    """ "-", "*", ... for a bulleted line, "1." for a numbered one, None for prose."""
    m = _ITEM.match(text)
    return None if m is None else m.group("bullet") or "1."


def continues_list(line: Sentence, after: Sentence) -> bool:
    """Whether `after` is the next line of `line`'s list: both list lines with the same marker, one line
    break apart (no blank line, no deeper indent)."""
    kind = item_kind(line.text)
    return kind is not None and item_kind(after.text) == kind and after.start == line.end + 1


def with_list_items(
    picked: Sequence[Candidate], candidates: Sequence[Candidate], terms: QueryTerms
) -> list[Candidate]:
    """`picked`, each list item in it followed by the items of its list beside it (same marker, line after
    line) that match at least LIST_SIBLING_SHARE of the query weight it matches, up to MAX_LIST_ITEMS.

    A question whose words fit one line of a list as well as they fit the next cannot tell them apart, so
    the list answers it: "Where have the consultations been held?" against a line per meeting. A question
    that names what one line alone has ("the 3rd consultations") asks for that line, and gets it alone.
    """
    by_position = {(c.hit.chunk_id, c.index): c for c in candidates}
    out: list[Candidate] = []
    taken: set[tuple[int, int]] = set()
    for cand in picked:
        if (cand.hit.chunk_id, cand.index) in taken:
            continue
        matched = set(terms.weights) & cand.terms
        before, after = _list_lines(cand)
        sentences = cand.hit.chunk.sentences
        others = {t for i in (*before, *after) for t in lexical.content_terms(sentences[i].text)}
        run = [cand]
        if matched and (before or after) and matched <= others:
            floor = tuning.LIST_SIBLING_SHARE * terms.coverage(matched)
            for indices in (before, after):
                for i in indices:
                    near = by_position.get((cand.hit.chunk_id, i))
                    if (
                        near is None
                        or len(run) >= tuning.MAX_LIST_ITEMS
                        or terms.coverage(matched & near.terms) < floor
                    ):
                        break
                    run.append(near)
        run.sort(key=lambda c: c.index)
        out += [c for c in run if (c.hit.chunk_id, c.index) not in taken]
        taken |= {(c.hit.chunk_id, c.index) for c in run}
    return out


def _list_lines(item: Candidate) -> tuple[list[int], list[int]]:
    """The positions of the lines of `item`'s list before it and after it, nearest first: same marker, one
    line break apart (no blank line, no deeper indent). Empty when `item` is not a list line."""
    sentences = item.hit.chunk.sentences
    out: tuple[list[int], list[int]] = ([], [])
    for step, lines in ((-1, out[0]), (1, out[1])):
        i = item.index
        while 0 <= i + step < len(sentences):
            j = i + step
            if not continues_list(sentences[min(i, j)], sentences[max(i, j)]):
                break
            lines.append(j)
            i = j
    return out


def list_end(sentences: Sequence[Sentence], intro: int) -> int:
    """The index of the last line of the list the sentence at `intro` introduces ("... as follows:"), or
    `intro` when none follows: its items, their sub-items, and the short labels (context lines) right under
    them, up to MAX_LIST_ITEMS lines."""
    last = intro
    if not sentences[intro].text.rstrip().endswith(":"):
        return last
    while last + 1 < len(sentences) and last - intro < tuning.MAX_LIST_ITEMS:
        line, nxt = sentences[last], sentences[last + 1]
        gap = nxt.start - line.end
        if not (
            (item_kind(nxt.text) and gap <= tuning.LIST_GAP_CHARS)
            or (nxt.context and not item_kind(nxt.text) and gap == 1)
        ):
            break
        last += 1
    return last


def introduced(
    candidates: Sequence[Candidate], terms: QueryTerms, items: str, hits: Sequence[Hit]
) -> Candidate | None:
    """The best-scoring sentence that introduces a list and names the `items` asked for (a stem): it must
    end with a colon, be followed by two list lines at least, and share another of the question's terms
    (so "the following areas:" in a passage about something else does not answer "What areas ...?").

    A sentence is scored once, in the first hit that has it, and that may be a document card, whose copies
    of the lead leave the list's short lines out: the list is looked for after the same sentence in every
    hit. None when there is none, or no `items` ("" when the question asks for no plural noun)."""
    for cand in candidates if items else ():
        if items not in cand.terms or terms.coverage(set(cand.terms) - {items}) == 0:
            continue
        text = cand.hit.chunk.sentences[cand.index].text
        places = [(cand.hit, cand.index)] + [
            (hit, i)
            for hit in hits
            if hit.chunk_id != cand.hit.chunk_id
            for i, sentence in enumerate(hit.chunk.sentences)
            if sentence.text == text
        ]
        for hit, index in places:
            if list_end(hit.chunk.sentences, index) - index >= 2:
                return dataclasses.replace(cand, hit=hit, index=index)
    return None

"""Rendering (pure) an Answer as terminal text: what `qa ask` and `qa chat` print.

(searched for: <the standalone query, when it differs from the question>)
<the answer, with [n] markers>
Note: <a notice, if any>
  ! unsupported: <a generated sentence no passage supports> (<why>)

Sources:
  [1] <title> (<file>, page <p>)
      "<the quoted sentence>"
"""

from __future__ import annotations

from qa.types import Answer


def searched_line(question: str, query: str) -> str | None:
    """The line that shows the query actually searched, when the question was rewritten (a follow-up)."""
    return f"(searched for: {query})" if query != question else None


def answer_footer(answer: Answer) -> list[str]:
    """Everything printed after the answer's text: notices, unsupported sentences, sources or related."""
    lines = []
    if answer.notice:
        lines.append(f"Note: {answer.notice}")
    for s in answer.sentences:
        if not s.verified:
            lines.append(f"  ! unsupported: {s.text} ({s.reason})")
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
        for c in answer.citations:
            where = c.source + (f", {c.locator}" if c.locator else "")
            lines.append(f"  [{c.n}] {c.title} ({where})")
            ocr = f" [OCR text, confidence {c.ocr:.0%}]" if c.ocr is not None else ""
            lines.append(f'      "{c.quote}"{ocr}')
    elif answer.related:
        lines.append("")
        lines.append("Possibly related:")
        for i, p in enumerate(answer.related, 1):
            lines.append(f"  [{i}] {p.title} ({p.source}): {p.text[:160]}...")
    return lines


def format_answer(answer: Answer) -> str:
    """The human-readable form: the answer, then numbered sources (or related passages)."""
    searched = searched_line(answer.question, answer.query)
    return "\n".join([*([searched] if searched else []), answer.answer, *answer_footer(answer)])


def passage_text(answer: Answer, n: int) -> str | None:
    """Source [n] of an answer in full, its quote marked with »...«; passage n of the related list when it
    abstained. None when there is no such number."""
    for c in answer.citations:
        if c.n == n:
            where = c.source + (f", page {c.page}" if c.page else "")
            text = c.passage
            at = text.find(c.quote)
            if at >= 0:
                text = f"{text[:at]}»{c.quote}«{text[at + len(c.quote) :]}"
            return f"[{n}] {c.title} ({where})\n\n{text}"
    if not answer.citations and 1 <= n <= len(answer.related):
        p = answer.related[n - 1]
        return f"[{n}] {p.title} ({p.source})\n\n{p.text}"
    return None

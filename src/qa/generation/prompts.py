"""What a generator is shown: the prompts (as data) and the passages, numbered, within a token budget.

Two ways to choose the passages' text:

- `evidence_passages` (the `auto` reader): the sentences the extractive answerer scored best, each with its
  neighbours while the budget lasts, grouped by passage in document order. On 2 CPU cores the model reads
  ~70 prompt tokens a second, so every sentence that cannot answer the question costs half a second.
- `fit_passages` (the `llamacpp`/`openai`/`transformers` generated modes): whole retrieved chunks, trimmed
  by whole sentences from the lowest-ranked one until they fit the model's context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qa.chunking import Sentence, TokenCounter
from qa.lists import item_kind
from qa.retrieval import Hit
from qa.types import NOT_FOUND

# ---- prompts (data) ---------------------------------------------------------------------------------------

# The generated modes' instructions. {max_sentences} comes from settings.max_answer_sentences.
SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages you are given. "
    "Write a short answer of at most {max_sentences} sentences. "
    # Without this line Qwen2.5 1.5B answered 17 of 63 evaluation questions with a bare "[1]".
    "Answer in complete sentences that state the facts asked for; never reply with only a passage number. "
    "End every sentence with the number of the passage that supports it in square brackets, like [1]. "
    "Do not add anything that the passages do not say. "
    f'If the passages do not contain the answer, reply exactly "{NOT_FOUND}"'
)

# The reader's instructions (auto mode). Fixed text: llama.cpp evaluates it once per process and every
# question starts from that saved state, so its length costs nothing per question.
READER_SYSTEM_PROMPT = (
    "You answer a question from numbered passages of the user's documents. Rules:\n"
    "1. Use only what the passages say. Never add facts, numbers, names or dates that are not in them.\n"
    "2. Answer in one to {max_sentences} complete sentences. End each sentence with the number of the "
    "passage that supports it in square brackets, like [2].\n"
    "3. If the question asks for a list, give every item the passages list. If it compares two things or "
    "asks two questions, answer each part in its own sentence with its own passage number.\n"
    "4. If the question asks what a document is about, say its subject and main points.\n"
    "5. If the passages are about the topic but do not state the specific fact asked for (a date, a "
    f'number, an amount, a name, a reason), reply exactly: "{NOT_FOUND}"\n'
    "6. Do not mention the passages or their numbers in words."
)
USER_PROMPT = "Passages:\n\n{passages}\n\nQuestion: {question}"
PASSAGE_TEMPLATE = "[{n}] {title}\n{text}"
PLAIN_PROMPT = "{system}\n\n{user}\n\nAnswer:"  # for a model whose tokenizer has no chat template

# The llamacpp backend counts passages in its own tokens; these cover what the count of their texts misses.
MESSAGE_TOKENS = 8  # chat-template markers around each message
PASSAGE_TOKENS = 8  # "[n] ", the newline after the title and the blank line between passages
SAFETY_TOKENS = 32


@dataclass(frozen=True)
class PromptPassage:
    """A hit as numbered in the prompt: the sentences of its chunk that the model is shown, in order."""

    n: int
    hit: Hit
    sentences: tuple[Sentence, ...]


def passage_title(hit: Hit) -> str:
    """The document title, with the chunk's heading when it has one: the model's only sense of context."""
    chunk = hit.chunk
    if chunk.heading and chunk.heading.lower() not in chunk.title.lower():
        return f"{chunk.title} — {chunk.heading}"
    return chunk.title


def build_messages(
    question: str,
    passages: Sequence[PromptPassage],
    max_sentences: int,
    system: str = SYSTEM_PROMPT,
) -> list[dict[str, str]]:
    """System and user messages asking for a short answer from the numbered passages only."""
    blocks = "\n\n".join(
        PASSAGE_TEMPLATE.format(n=p.n, title=passage_title(p.hit), text=" ".join(s.text for s in p.sentences))
        for p in passages
    )
    return [
        {"role": "system", "content": system.format(max_sentences=max_sentences)},
        {"role": "user", "content": USER_PROMPT.format(passages=blocks, question=question)},
    ]


def fit_passages(hits: Sequence[Hit], count_tokens: TokenCounter, budget: int) -> list[PromptPassage]:
    """Hits numbered 1..n with whole sentences only, dropped from the end of the lowest-ranked first.

    The top passage keeps at least its first sentence even over budget: a prompt without it is useless.
    """
    sizes = [count_tokens([h.chunk.title, *(s.text for s in h.chunk.sentences)]) for h in hits]
    kept = [len(h.chunk.sentences) for h in hits]
    total = sum(sum(s) for s in sizes)
    rank = len(hits) - 1
    while total > budget and rank >= 0:
        if kept[rank] <= (1 if rank == 0 else 0):
            rank -= 1
            continue
        total -= sizes[rank][kept[rank]]  # sizes[rank][0] is the title, so this is the last kept sentence
        kept[rank] -= 1
        if kept[rank] == 0:
            total -= sizes[rank][0]
    fitted = [(h, h.chunk.sentences[:k]) for h, k in zip(hits, kept, strict=True) if k]
    return [PromptPassage(n, h, s) for n, (h, s) in enumerate(fitted, start=1)]


@dataclass(frozen=True)
class Focus:
    """A sentence the extractive answerer ranked high: the hit it is in and its position in the chunk."""

    hit: Hit
    index: int


def evidence_passages(
    focus: Sequence[Focus],
    count_tokens: TokenCounter,
    budget: int,
    max_focus: int,
    neighbours: int,
) -> list[PromptPassage]:
    """The best sentences, then the lists any of them introduces (ending ":"), then their neighbours, while
    `budget` tokens last; one passage per chunk.

    Worked example (budget for five sentences, max_focus 3, neighbours 1): focus chunk A #4, chunk B #0,
    chunk A #9 -> pass 1 takes A4, B0, A9; pass 2 adds A3, A5 (A4's neighbours), then B1, then stops:
    passages [1] A: 3 4 5 9   [2] B: 0 1. The first focus sentence is always kept, even over budget.
    """
    chosen: dict[int, set[int]] = {}
    hits: dict[int, Hit] = {}
    used = 0

    def add(hit: Hit, index: int, force: bool = False) -> bool:
        nonlocal used
        picked = chosen.setdefault(hit.chunk_id, set())
        if index in picked:
            return True
        texts = [hit.chunk.sentences[index].text]
        if not picked:
            texts.append(passage_title(hit))
        cost = sum(count_tokens(texts)) + (PASSAGE_TOKENS if not picked else 0)
        if used + cost > budget and not force:
            if not picked:
                del chosen[hit.chunk_id]
            return False
        picked.add(index)
        hits[hit.chunk_id] = hit
        used += cost
        return True

    top = list(focus[:max_focus])
    for i, f in enumerate(top):
        add(f.hit, f.index, force=i == 0)
    # A sentence that introduces a list ("... several themes are found:") is answered by the list, so its
    # lines (headings, items and sub-items) follow it while the budget lasts, before any neighbour.
    for f in top:
        sentences = f.hit.chunk.sentences
        if f.hit.chunk_id not in chosen or not sentences[f.index].text.rstrip().endswith(":"):
            continue
        index = f.index + 1
        while (
            index < len(sentences)
            and (sentences[index].context or item_kind(sentences[index].text))
            and add(f.hit, index)
        ):
            index += 1
    for distance in range(1, neighbours + 1):
        for f in top:
            if f.hit.chunk_id not in chosen:
                continue
            for index in (f.index - distance, f.index + distance):
                if 0 <= index < len(f.hit.chunk.sentences):
                    add(f.hit, index)
    return [
        PromptPassage(n, hits[cid], tuple(hits[cid].chunk.sentences[i] for i in sorted(indices)))
        for n, (cid, indices) in enumerate(chosen.items(), start=1)
    ]

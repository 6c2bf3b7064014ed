"""End to end in headless Chromium: ask, read sources, follow up, upload and rebuild, and no script runs.

The app runs in this process over a temporary copy of the corpus and index (so uploads never touch the real
ones), with the session's real model. Each test opens a fresh browser context (its own cookies and storage).
"""

from __future__ import annotations

import shutil
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from qa.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.browser,
    # Gradio's queue calls a pandas API that pandas 3 deprecates; not ours to fix.
    pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword is deprecated)"),
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing: install it with `make test` (as root), or `sudo apt-get install -y chromium`",
    ),
]


@dataclass
class Session:
    """One browser page on the app, recording every JavaScript dialog (an alert means injected script ran)."""

    page: Page
    dialogs: list[str] = field(default_factory=list)

    def ask(self, question: str) -> str:
        """Type a question, press Enter, and return the text of the new answer once its sources are shown."""
        answers = self.page.locator('#qa-chat [data-testid="bot"]')
        before = answers.count()
        self.page.fill("#qa-question textarea", question)
        self.page.keyboard.press("Enter")
        answers.nth(before).wait_for(timeout=TIMEOUT_MS)
        self.page.wait_for_function(
            "() => !document.querySelector('#qa-sources').innerText.includes('Searching')", timeout=TIMEOUT_MS
        )
        return answers.nth(before).inner_text()

    def tab(self, name: str) -> None:
        self.page.get_by_role("tab", name=name).click()

    def upload_and_rebuild(self, *files: Path) -> str:
        self.tab("Documents")
        self.page.set_input_files("#qa-upload input[type=file]", [str(f) for f in files])
        status = self.page.locator("#qa-status")
        status.get_by_text("Rebuild index").wait_for(timeout=TIMEOUT_MS)  # "... click Rebuild index ..."
        self.page.click("#qa-rebuild")
        status.get_by_text("Index updated").wait_for(timeout=TIMEOUT_MS)
        text = status.inner_text()
        self.tab("Chat")
        return text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def app_url(
    tmp_path_factory: pytest.TempPathFactory, real_settings: Settings, real_embedder: Any
) -> Iterator[str]:
    from qa.engine import QA
    from qa.webapp import build_app, launch_options

    base = tmp_path_factory.mktemp("browser")
    # copytree keeps modification times, so the copied index is already up to date with the copied corpus.
    shutil.copytree(real_settings.corpus_dir, base / "corpus")
    shutil.copytree(real_settings.index_dir, base / "index")
    settings = replace(real_settings, corpus_dir=base / "corpus", index_dir=base / "index")
    app = build_app(QA(settings, embedder=real_embedder))
    app.launch(
        **launch_options(settings),
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
    )
    try:
        yield str(app.local_url)
    finally:
        app.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def session(browser: Browser, app_url: str) -> Iterator[Session]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    result = Session(page)

    def on_dialog(dialog: Any) -> None:
        result.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(app_url)
    page.wait_for_selector("#qa-question textarea")
    yield result
    context.close()


def test_answer_cites_a_source_that_opens_in_the_sources_panel(session: Session) -> None:
    answer = session.ask("When did the AHKFTA enter into force?")
    assert "[1]" in answer and "June 2019" in answer
    source = session.page.locator('#qa-sources details.qa-source[data-n="1"]')
    assert "asean-hong-kong-china-relations-overview.txt" in source.inner_text()
    passage = source.locator(".qa-passage mark")
    assert not passage.is_visible()
    source.locator("summary").click()
    passage.wait_for(state="visible")
    assert "entered into force on 11 and 17 June 2019" in passage.inner_text()
    # The retrieval inspector lists the hits, with the cited one marked.
    session.page.get_by_text("Retrieval inspector").click()
    inspector = session.page.locator("#qa-inspector table")
    inspector.wait_for(state="visible")
    assert "yes [1]" in inspector.inner_text()


def test_follow_up_shows_the_query_it_searched(session: Session) -> None:
    session.ask("When did the AHKFTA enter into force?")
    answer = session.ask("And the investment agreement?")
    searched = "When did the AHKFTA enter into force? the investment agreement"
    assert f"Searched for: “{searched}”" in answer
    assert searched in session.page.locator("#qa-sources .qa-searched").inner_text()


def test_sessions_do_not_share_conversations(session: Session, browser: Browser, app_url: str) -> None:
    session.ask("What did Hainan and the HKSAR sign?")
    other = browser.new_page()
    try:
        other.goto(app_url)
        other.wait_for_selector("#qa-question textarea")
        assert other.locator('#qa-chat [data-testid="user"]').count() == 0
        assert "Sources for an answer appear here" in other.locator("#qa-sources").inner_text()
    finally:
        other.close()


def test_uploaded_document_is_answered_after_rebuild(session: Session, tmp_path: Path) -> None:
    place = f"Port {uuid.uuid4().hex[:6].upper()}"
    doc = tmp_path / "quillfeather-treaty.txt"
    doc.write_text(
        "# The Quillfeather Treaty\n\n"
        f"The Quillfeather Treaty between Zembla and Ruritania was signed in {place} in the spring. "
        "It lowers tariffs on parchment and ink between the two kingdoms.\n"
    )
    status = session.upload_and_rebuild(doc)
    assert "1 added" in status
    documents = session.page.locator("#qa-documents")
    session.tab("Documents")
    assert "quillfeather-treaty.txt" in documents.inner_text()
    session.tab("Chat")
    answer = session.ask("Where was the Quillfeather Treaty signed?")
    assert place in answer and "[1]" in answer
    assert "quillfeather-treaty.txt" in session.page.locator("#qa-sources").inner_text()


def test_markup_in_documents_is_shown_as_text_and_never_runs(session: Session, tmp_path: Path) -> None:
    script, img = "<script>alert(1)</script>", "<img src=x onerror=alert(1)>"
    doc = tmp_path / "frobnitz.txt"
    doc.write_text(
        f"# Frobnitz field guide {img}\n\n"
        f"The Frobnitz greeting tag is {script} and it is printed on every Frobnitz badge. "
        f"Frobnitz badges also carry the marker {img} beside the owner's name.\n"
    )
    session.upload_and_rebuild(doc)
    answer = session.ask("What is the Frobnitz greeting tag?")
    session.page.wait_for_timeout(500)  # give a broken image's onerror time to fire, if one existed
    assert session.dialogs == []
    assert session.page.evaluate("document.querySelectorAll('img[onerror]').length") == 0
    assert script in answer
    sources = session.page.locator("#qa-sources").inner_text()
    assert f"Frobnitz field guide {img}" in sources
    session.tab("Documents")
    assert f"Frobnitz field guide {img}" in session.page.locator("#qa-documents").inner_text()
    session.tab("Chat")
    session.ask(f"What does {img} mean?")  # a question with markup is shown as text, too
    assert session.page.locator("#qa-chat").get_by_text(f"What does {img} mean?").count() >= 1
    session.page.wait_for_timeout(500)  # give a broken image's onerror time to fire, if one existed
    assert session.dialogs == []
    assert session.page.evaluate("document.querySelectorAll('img[onerror]').length") == 0
    assert not session.page.evaluate("[...document.scripts].some(s => s.textContent.includes('alert(1)'))")

"""Take docs/screenshot.png: the chat with an answer and its opened source, in headless Chromium.

    .venv/bin/python scripts/screenshot.py [--out docs/screenshot.png] [--question "..."]

Serves the app in this process over the configured corpus and index (QA_CORPUS / QA_INDEX; the index must
exist: run `qa index` first) on a free port, asks a question and a follow-up, opens source [1] and saves the
page. With the default backend (`auto`) each answer is first the quote, then the local model's verified
answer replaces it: the picture is taken once every answer is final, as a user reads it.
"""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--question", default="What was the value of ASEAN-Hong Kong, China trade in 2024?")
    parser.add_argument("--follow-up", default="And FDI inflows?")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from qa.config import Settings
    from qa.engine import QA
    from qa.render import DRAFT_NOTE, SEARCHING_NOTE
    from qa.webapp import build_app, launch_options

    # An answer that shows either note (as rendered: no markdown underscores) is a draft, not yet final.
    draft_marks = [note.strip("_") for note in (DRAFT_NOTE, SEARCHING_NOTE)]

    settings = Settings.from_env()
    app = build_app(QA(settings))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.launch(
        **launch_options(settings), server_name="127.0.0.1", server_port=port, prevent_thread_lock=True
    )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 960}, device_scale_factor=1)
            page.goto(str(app.local_url))
            page.wait_for_selector("#qa-question textarea")
            for n, question in enumerate(q for q in (args.question, args.follow_up) if q):
                page.fill("#qa-question textarea", question)
                page.keyboard.press("Enter")
                answer = page.locator('#qa-chat [data-testid="bot"]').nth(n)
                answer.wait_for(timeout=60_000)
                # The draft (the quote, or "Searching ...") is marked until the model's answer replaces it.
                page.wait_for_function(
                    """([n, marks]) => {
                        const bot = document.querySelectorAll('#qa-chat [data-testid="bot"]')[n];
                        const sources = document.querySelector('#qa-sources').innerText;
                        return bot && !marks.some(m => bot.innerText.includes(m)) && !sources.includes('Searching');
                    }""",
                    arg=[n, draft_marks],
                    timeout=180_000,
                )
            page.locator('#qa-sources details[data-n="1"] summary').click()
            page.wait_for_timeout(400)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out))
            browser.close()
    finally:
        app.close()
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

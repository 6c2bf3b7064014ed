"""`python app.py`: the web chat, the same as `qa serve` (honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)."""

from qa.webapp import main

if __name__ == "__main__":
    raise SystemExit(main())

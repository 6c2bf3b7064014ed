"""`python app.py`: the web chat, the same as `qa serve` (honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT).

Through `qa.cli.main`, which sets the offline defaults before Gradio or Hugging Face libraries are imported
(they read them at import time).
"""

import sys

from qa.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["serve", *sys.argv[1:]]))

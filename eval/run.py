"""Run the evaluation: `python eval/run.py [--quick] [--check] [--backend NAME]`, the same as `qa eval`."""

from __future__ import annotations

import sys

from qa.cli import main

if __name__ == "__main__":
    sys.exit(main(["eval", *sys.argv[1:]]))

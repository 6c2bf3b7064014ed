#!/usr/bin/env bash
# `make test`'s set-up: headless Chromium (the Debian package) for tests/test_browser.py, which drives it
# through Playwright (no driver binary needed).
#
# Installed with apt-get when this runs as root on a machine with apt; otherwise it says which tests will be
# skipped and the one command that installs what they need. Never fails `make test` by itself.
set -uo pipefail

# Also Tesseract and the DejaVu fonts, for the OCR tests (tests/test_readers.py, tests/test_formats.py).
if [[ -x /usr/bin/chromium ]] && command -v tesseract >/dev/null \
    && [[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]]; then
    exit 0
fi
hint="sudo apt-get install -y chromium tesseract-ocr tesseract-ocr-eng fonts-dejavu-core"
if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "make test: installing Chromium for the browser tests (apt-get, once)"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -q && apt-get install -y -q chromium tesseract-ocr tesseract-ocr-eng fonts-dejavu-core; then
        exit 0
    fi
    hint="apt-get install -y chromium tesseract-ocr tesseract-ocr-eng fonts-dejavu-core"
    echo "make test: apt-get could not install Chromium (see above)." >&2
fi
echo "make test: Chromium or Tesseract is missing, so the browser and OCR tests will be skipped." >&2
echo "make test: to run them, install it with: $hint" >&2
exit 0

#!/usr/bin/env bash
# `make test`'s set-up: headless Chromium (the Debian package) for tests/test_browser.py, which drives it
# through Playwright (no driver binary needed).
#
# Installed with apt-get when this runs as root on a machine with apt; otherwise it says which tests will be
# skipped and the one command that installs what they need. Never fails `make test` by itself.
set -uo pipefail

if [[ -x /usr/bin/chromium ]]; then
    exit 0
fi
hint="sudo apt-get install -y chromium"
if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "make test: installing Chromium for the browser tests (apt-get, once)"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -q && apt-get install -y -q chromium; then
        exit 0
    fi
    hint="apt-get install -y chromium"
    echo "make test: apt-get could not install Chromium (see above)." >&2
fi
echo "make test: Chromium is not installed, so the browser tests (tests/test_browser.py) will be skipped." >&2
echo "make test: to run them, install it with: $hint" >&2
exit 0

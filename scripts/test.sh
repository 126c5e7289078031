#!/usr/bin/env bash
# Set up everything and run the whole test suite: lint, types, content checks, pytest.
source "$(dirname "$0")/setup.sh"

say "Lint (ruff)"
.venv/bin/ruff check bot actions scripts tests bench handoff
say "Types (mypy)"
.venv/bin/mypy bot actions scripts bench handoff
say "Content check"
.venv/bin/python scripts/validate_content.py
say "Browser for the console tests (Debian's chromium; never a browser download)"
bash scripts/install_browser.sh
say "Tests (pytest)"
mkdir -p tests/artifacts
.venv/bin/pytest -q "$@"

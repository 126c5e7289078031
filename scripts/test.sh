#!/usr/bin/env bash
# Set up everything and run the whole test suite: lint, types, content checks, pytest.
source "$(dirname "$0")/setup.sh"

say "Lint (ruff)"
.venv/bin/ruff check bot actions scripts tests bench
say "Types (mypy)"
.venv/bin/mypy bot actions scripts bench
say "Content check"
.venv/bin/python scripts/validate_content.py
say "Tests (pytest)"
mkdir -p tests/artifacts
.venv/bin/pytest -q "$@"

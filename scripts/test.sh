#!/usr/bin/env bash
# Set up, then lint and run the whole test suite.
# LibreOffice tests run when `soffice` is on PATH (CI installs it) and are skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Set up, then build a resegmented demo workbook: out/demo.xlsm
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
# --force: out/demo.xlsm is this script's own output (the previous one is kept in
# out/.xlcrm-backups).
.venv/bin/xlcrm demo out/demo.xlsm --force "$@"

#!/usr/bin/env bash
# Create .venv (once) and install xlcrm into it; `--test` adds the test tools.
# What pip and the build tools print goes to .venv/setup.log, shown only when a step fails,
# so that a first run shows what matters.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LOG=.venv/setup.log

step() {  # step "what" command...: run quietly, or show the log and stop
    local what=$1
    shift
    if ! "$@" >>"$LOG" 2>&1; then
        echo "xlcrm setup: $what failed; its output (from $LOG):" >&2
        tail -n 40 "$LOG" >&2
        exit 1
    fi
}

if [ ! -x .venv/bin/python ]; then
    echo "Setting up .venv (once, a minute or two; details in $LOG)..."
    if ! "$PY" -m venv .venv >/dev/null 2>&1; then
        echo "xlcrm setup: '$PY -m venv .venv' failed: xlcrm needs Python 3.11 or later with" \
             "the venv module (Debian/Ubuntu: sudo apt install python3-venv)." >&2
        rm -rf .venv
        exit 1
    fi
fi
: >"$LOG"
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_WARN_SCRIPT_LOCATION=1
step "upgrading pip" .venv/bin/python -m pip install --upgrade pip
step "installing xlcrm" .venv/bin/python -m pip install -e ".${extras}"

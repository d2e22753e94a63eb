#!/usr/bin/env bash
# Install LocalStack (pinned, Python 3.13 venv) and the host-subprocess Lambda executor.
#
# Idempotent and fast when nothing changed: a stamp in the venv holds a hash of the
# requirement files, the plugin's pyproject.toml and this script.
# Env overrides: LOCALSTACK_VENV (default <repo>/.venv-localstack), SMSGW_RUN_DIR (<repo>/.run),
# LOCALSTACK_PYTHON (a Python 3.13), SMSGW_LAMBDA_PYTHON (the functions' python3.12).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${LOCALSTACK_VENV:-$REPO/.venv-localstack}"
RUN_DIR="${SMSGW_RUN_DIR:-$REPO/.run}"
STAMP="$VENV/.smsgw-setup-stamp"
LOG="$RUN_DIR/localstack-setup.log"
PYENV_DIR="${PYENV_ROOT:-$HOME/.pyenv}"

# Print the first interpreter that really runs as Python $1 (pyenv shims on PATH fail
# for versions that are not selected, so each candidate is tried).
find_python() {
  local version="$1" override="$2" candidate
  local candidates=()
  [ -n "$override" ] && candidates+=("$override")
  candidates+=("$(command -v "python$version" || true)")
  for candidate in $(ls -d "$PYENV_DIR"/versions/"$version"*/bin/python"$version" \
      /root/.pyenv/versions/"$version"*/bin/python"$version" 2>/dev/null | sort -Vr); do
    candidates+=("$candidate")
  done
  for candidate in "${candidates[@]}"; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c "import sys; assert '%d.%d' % sys.version_info[:2] == '$version'" \
        >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

hash_inputs() {
  cat "$HERE/requirements.txt" "$HERE/constraints.txt" "$HERE/runtime-requirements.txt" \
    "$HERE/executor/pyproject.toml" "$HERE/setup.sh" | sha256sum | cut -d' ' -f1
}

mkdir -p "$RUN_DIR"
# Two callers at once (make up and a test session) must not install into one venv together.
exec 9>"$RUN_DIR/localstack-setup.lock"
flock 9

WANT="$(hash_inputs)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "localstack: already installed in $VENV"
  exit 0
fi

PY313="$(find_python 3.13 "${LOCALSTACK_PYTHON:-}")" || {
  echo "localstack: no working python3.13 found (PATH or $PYENV_DIR/versions); set LOCALSTACK_PYTHON" >&2
  exit 1
}
echo "localstack: installing localstack-core + executor plugin into $VENV (first time ~1 min; log: $LOG)"
: >"$LOG"
fail() {
  echo "localstack: setup failed: $1 (last lines of $LOG below)" >&2
  tail -n 20 "$LOG" >&2
  exit 1
}
rm -f "$STAMP"
[ -x "$VENV/bin/python" ] || "$PY313" -m venv "$VENV" >>"$LOG" 2>&1 || fail "venv"
# pip resolves "-e ./executor" against the working directory: run it from here.
(cd "$HERE" && "$VENV/bin/python" -m pip install -q -r requirements.txt) >>"$LOG" 2>&1 \
  || fail "pip install -r requirements.txt"

# boto3 for the functions, as the AWS runtime ships it; installed with the runtime's own
# Python so that compiled parts (none today) would match.
if PY312="$(find_python 3.12 "${SMSGW_LAMBDA_PYTHON:-}")"; then
  TARGET="$VENV/lambda-runtime/python3.12"
  rm -rf "$TARGET.new"
  "$PY312" -m pip install -q --no-compile --target "$TARGET.new" -r "$HERE/runtime-requirements.txt" \
    >>"$LOG" 2>&1 || fail "lambda runtime libraries"
  rm -rf "$TARGET"
  mv "$TARGET.new" "$TARGET"
else
  echo "localstack: warning: no python3.12 found; python3.12 functions cannot run (set SMSGW_LAMBDA_PYTHON)" >&2
fi

echo "$WANT" >"$STAMP"

#!/usr/bin/env bash
# The whole test suite, set up from nothing: venv, install, lint, type check, pytest.
# This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

# Python 3.11 or newer: $PYTHON when set; else the newest python3.N (N >= 11) that runs (a
# version manager's shim may exist for a version it cannot run); else python3, if it is new
# enough.
new_enough() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }
find_python() {
  local n found
  if [ -n "${PYTHON:-}" ]; then
    new_enough "$PYTHON" && { echo "$PYTHON"; return 0; }
    echo "tests/run.sh: PYTHON=$PYTHON is not Python 3.11 or newer (or does not run)" >&2
    return 1
  fi
  for ((n = 30; n >= 11; n--)); do
    if command -v "python3.$n" >/dev/null 2>&1 && new_enough "python3.$n"; then
      echo "python3.$n"
      return 0
    fi
  done
  if command -v python3 >/dev/null 2>&1 && new_enough python3; then
    echo python3
    return 0
  fi
  found="no python3"
  command -v python3 >/dev/null 2>&1 && found="python3 is $(python3 --version 2>&1)"
  cat >&2 <<EOM
tests/run.sh: policybot needs Python 3.11 or newer; found none ($found).
Install one, e.g. Debian/Ubuntu: sudo apt install python3.11 python3.11-venv; macOS: brew
install python@3.12; or pyenv install 3.12. Or point PYTHON at it:
  PYTHON=/path/to/python3.12 bash tests/run.sh
EOM
  return 1
}
if [ ! -x .venv/bin/python ]; then
  PY="$(find_python)" || exit 1
  echo "== creating .venv with $PY ($("$PY" --version 2>&1))"
  "$PY" -m venv .venv
elif ! new_enough .venv/bin/python; then
  echo "tests/run.sh: .venv has $(.venv/bin/python --version 2>&1); policybot needs 3.11 or newer: remove .venv and run again" >&2
  exit 1
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
echo "== classifier: $(.venv/bin/python -c 'import bot.classify as c; print(c.native.build().describe())')"
echo "== ruff"; .venv/bin/ruff check setup.py bot tests bench migrations
.venv/bin/ruff format --check --quiet setup.py bot tests bench migrations || { echo "run: .venv/bin/ruff format setup.py bot tests bench migrations"; exit 1; }
echo "== mypy"; .venv/bin/mypy && .venv/bin/mypy setup.py
echo "== pytest"; .venv/bin/pytest -q -p no:cacheprovider "$@"

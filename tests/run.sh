#!/usr/bin/env bash
# The whole test suite, set up from nothing: venv, install, lint, type check, pytest.
# This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
echo "== classifier: $(.venv/bin/python -c 'import bot.classify as c; print(c.native.build().describe())')"
echo "== ruff"; .venv/bin/ruff check setup.py bot tests bench migrations
.venv/bin/ruff format --check --quiet setup.py bot tests bench migrations || { echo "run: .venv/bin/ruff format setup.py bot tests bench migrations"; exit 1; }
echo "== mypy"; .venv/bin/mypy && .venv/bin/mypy setup.py
echo "== pytest"; .venv/bin/pytest -q -p no:cacheprovider "$@"

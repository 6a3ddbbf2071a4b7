#!/usr/bin/env bash
# Lint, format and type checks (seconds). Run by scripts/test.sh before the tests, and so by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check broadcaster tests bench scripts
.venv/bin/ruff format --check broadcaster tests bench scripts
.venv/bin/mypy
# the import layering and no import circles (pyproject.toml [tool.importlinter]); its report only when broken
out=$(.venv/bin/lint-imports --no-cache 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -E "^Contracts:"

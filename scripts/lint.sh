#!/usr/bin/env bash
# Lint, format and type checks (seconds). Run by scripts/test.sh before the tests, and so by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check broadcaster tests bench scripts
.venv/bin/ruff format --check broadcaster tests bench scripts
.venv/bin/mypy

#!/usr/bin/env bash
# Set up (if needed) and run every test. Extra arguments go to pytest, e.g. -k normalize.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest "$@"

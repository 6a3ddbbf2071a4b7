#!/usr/bin/env bash
# Set up (if needed), check lint/format/types, and run every test. Extra arguments go to pytest:
#   bash scripts/test.sh -k normalize
# The fast loop for pure logic (no sound server, no daemon; under a minute):
#   .venv/bin/python -m pytest -m "not audio and not slow"
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
bash scripts/lint.sh
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Set up (if needed), check the shipped schedule, pre-render its speech, and start the daemon.
# Extra arguments go to 'broadcaster run', e.g.: bash scripts/run.sh --output wav:audio/out
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/broadcaster check --schedule schedule.yaml
exec .venv/bin/broadcaster run --schedule schedule.yaml "$@"

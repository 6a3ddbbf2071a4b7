"""The short fault-injected soak (``python -m bench.soak --short``) as a CI test: ~2.5 minutes.

It runs as a subprocess so its daemons, sound server and recorders are all gone when it ends;
its reconciliation table is printed on failure.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import pulse

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.audio, pytest.mark.slow]


def test_short_soak_accounts_for_every_broadcast_through_faults():
    why = pulse.pulseaudio_available()
    if why:
        pytest.skip(f"no PulseAudio here: {why}")
    r = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--short"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, f"soak failed (exit {r.returncode}):\n{r.stdout[-8000:]}\n{r.stderr[-4000:]}"
    assert "No discrepancy" in r.stdout, r.stdout[-8000:]

"""Shared fixtures: the repo on sys.path for helper modules, a private PulseAudio sound card."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

import pulse  # noqa: E402  (tests/pulse.py)


@pytest.fixture(scope="session")
def pulse_server():
    """One private PulseAudio server with a null sink for the whole session."""
    why = pulse.pulseaudio_available()
    if why:
        pytest.skip(f"no PulseAudio here: {why}")
    server = pulse.PulseServer().start()
    try:
        yield server
    finally:
        server.close()

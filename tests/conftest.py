"""Shared fixtures: a private PulseAudio sound card (helpers live in ``tests.support``)."""

from __future__ import annotations

import pytest

from tests.support import pulse


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

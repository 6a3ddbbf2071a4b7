"""Shared fixtures: a private PulseAudio sound card and a headless Chromium (helpers live in ``tests.support``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

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


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A Playwright Browser on the system's chromium (Playwright's own download is not used)."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("chromium is not installed (apt install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()

"""The pre-render's path: ``SpeechRenderer.prepare`` verifies a cached entry without decoding it."""

from __future__ import annotations

from broadcaster.speech.cache import RenderCache
from broadcaster.speech.render import SpeechRenderer
from tests.speech.test_cache import TEXT, espeak_renderer


def test_prepare_verifies_a_cached_entry_without_decoding_it(tmp_path, monkeypatch):
    renderer, engine = espeak_renderer(tmp_path)
    renderer.render(TEXT)
    fresh = SpeechRenderer(tmp_path / "cache", engines=renderer.engines)  # a new process: nothing verified yet

    def no_decode(self, key):
        raise AssertionError("prepare() decoded a cached entry")

    monkeypatch.setattr(RenderCache, "get", no_decode)
    assert fresh.prepare(TEXT) is False
    assert fresh.prepare(TEXT) is False  # the second time from the verified stamp
    assert engine.calls == 1, "nothing was synthesized again"
    assert fresh.stats.from_cache == 2


def test_prepare_renders_what_is_missing_and_replaces_a_corrupt_entry(tmp_path):
    renderer, engine = espeak_renderer(tmp_path)
    assert renderer.prepare(TEXT) is False and engine.calls == 1
    (wav,) = (tmp_path / "cache").rglob("*.wav")
    wav.write_bytes(wav.read_bytes()[:-100])  # truncated: fails its checksum
    fresh = SpeechRenderer(tmp_path / "cache", engines=renderer.engines)
    assert fresh.prepare(TEXT) is False
    assert engine.calls == 2, "the corrupt entry was rendered again"
    assert fresh.render(TEXT).from_cache

"""Render cache and engine chain: real espeak-ng, gTTS answered offline by ``responses``."""

from __future__ import annotations

import base64
import io
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
import responses
import soundfile as sf

from broadcaster.speech.audio import TARGET_LUFS, measure_lufs, true_peak_dbfs
from broadcaster.speech.cache import cache_key
from broadcaster.speech.engines import EspeakEngine, GttsEngine
from broadcaster.speech.render import RenderError, SpeechRenderer

GTTS_URL = re.compile(r"https://translate\.google\.[a-z.]+/_/TranslateWebserverUi/data/batchexecute")
TEXT = "Kính thưa toàn thể nhân dân, hôm nay là ngày sáng tạo thế giới."


def make_mp3(seconds: float = 0.8, freq: float = 440.0) -> bytes:
    """A real short MP3 (libsndfile encodes MPEG layer III)."""
    t = np.arange(int(24000 * seconds)) / 24000
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 24000, format="MP3")
    return buf.getvalue()


def gtts_body(mp3: bytes) -> str:
    """The batchexecute reply gTTS parses (base64 MP3 inside escaped JSON)."""
    b64 = base64.b64encode(mp3).decode("ascii")
    return ')]}\'\n\n[["wrb.fr","jQ1olc","[\\"' + b64 + '\\"]",null,null,null,"generic"]]\n'


class Counting:
    """Wraps a real engine and counts synthesize() calls."""

    def __init__(self, engine):
        self.engine = engine
        self.name = engine.name
        self.online = engine.online
        self.suffix = engine.suffix
        self.calls = 0
        self._lock = threading.Lock()

    def options(self):
        return self.engine.options()

    def synthesize(self, text, out_path, timeout=None):
        with self._lock:
            self.calls += 1
        return self.engine.synthesize(text, out_path, timeout=timeout)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def espeak_renderer(tmp_path, **kw):
    engine = Counting(EspeakEngine())
    return SpeechRenderer(tmp_path / "cache", engines=[engine], **kw), engine


def test_second_render_comes_from_cache(tmp_path):
    renderer, engine = espeak_renderer(tmp_path)
    first = renderer.render(TEXT)
    second = renderer.render(TEXT)
    assert engine.calls == 1
    assert not first.from_cache and second.from_cache
    assert first.engine == second.engine == "espeak" and not first.fallback
    assert first.key == second.key
    np.testing.assert_allclose(first.samples, second.samples, atol=1 / 32767)
    # a fresh renderer (another process) also finds it
    other, other_engine = espeak_renderer(tmp_path)
    assert other.render(TEXT).from_cache and other_engine.calls == 0


def test_rendered_audio_is_levelled(tmp_path):
    renderer, _ = espeak_renderer(tmp_path)
    samples = renderer.render(TEXT).samples
    assert measure_lufs(samples) == pytest.approx(TARGET_LUFS, abs=0.5)
    assert true_peak_dbfs(samples) < -1.0


@pytest.mark.parametrize("damage", ["truncate", "flip", "no-sidecar", "empty"])
def test_damaged_cache_entry_is_rendered_again(tmp_path, damage):
    renderer, engine = espeak_renderer(tmp_path)
    key = renderer.render(TEXT).key
    audio, meta = renderer.cache.audio_path(key), renderer.cache.meta_path(key)
    data = audio.read_bytes()
    if damage == "truncate":
        audio.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        audio.write_bytes(data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:])
    elif damage == "no-sidecar":
        meta.unlink()
    else:
        audio.write_bytes(b"")
    again = renderer.render(TEXT)
    assert engine.calls == 2 and not again.from_cache
    assert audio.read_bytes() == data  # repaired with the same content
    assert renderer.render(TEXT).from_cache


def test_key_changes_with_text_engine_and_voice():
    north, south = EspeakEngine("vi"), EspeakEngine("vi-vn-x-south")
    base = cache_key("xin chào", "espeak", north.options())
    assert cache_key("xin chào", "espeak", north.options()) == base
    assert cache_key("xin chào bà con", "espeak", north.options()) != base
    assert cache_key("xin chào", "gtts", north.options()) != base
    assert cache_key("xin chào", "espeak", south.options()) != base
    assert cache_key("xin chào", "espeak", north.options(), target_lufs=-23.0) != base


def test_other_voice_is_synthesized_separately(tmp_path):
    north = Counting(EspeakEngine("vi"))
    south = Counting(EspeakEngine("vi-vn-x-south"))
    a = SpeechRenderer(tmp_path / "cache", engines=[north]).render(TEXT)
    b = SpeechRenderer(tmp_path / "cache", engines=[south]).render(TEXT)
    assert north.calls == south.calls == 1 and a.key != b.key and not b.from_cache


@responses.activate
def test_fallback_when_offline_then_preferred_engine_replaces_it(tmp_path):
    clock = FakeClock()
    gtts = Counting(GttsEngine(timeout=5, retries=1, backoff=0.01))
    espeak = Counting(EspeakEngine())
    renderer = SpeechRenderer(tmp_path / "cache", engines=[gtts, espeak], clock=clock)
    responses.add(responses.POST, GTTS_URL, body=requests.exceptions.ConnectionError("no internet"))

    down = renderer.render(TEXT)
    assert down.engine == "espeak" and down.fallback and not down.from_cache
    assert "gtts" in down.fallback_reason
    assert renderer.health()["gtts"]["reachable"] is False
    calls = len(responses.calls)

    # within the breaker window: gTTS is not tried again (no waiting on timeouts)
    clock.now += 30
    again = renderer.render(TEXT + " Xin cảm ơn.")
    assert again.engine == "espeak" and again.fallback
    assert gtts.calls == 1 and len(responses.calls) == calls

    # internet is back and the breaker has expired: the preferred voice renders and wins
    clock.now += 60
    responses.replace(responses.POST, GTTS_URL, body=gtts_body(make_mp3(1.0)), status=200)
    back = renderer.render(TEXT)
    assert back.engine == "gtts" and not back.fallback and not back.from_cache
    assert measure_lufs(back.samples) == pytest.approx(TARGET_LUFS, abs=0.5)
    assert renderer.health()["gtts"]["reachable"] is True
    assert renderer.render(TEXT).engine == "gtts"  # now from the cache
    assert renderer.render(TEXT).from_cache


@responses.activate
def test_offline_mode_never_calls_network_but_uses_cached_online_audio(tmp_path):
    gtts = Counting(GttsEngine(timeout=5))
    espeak = Counting(EspeakEngine())
    renderer = SpeechRenderer(tmp_path / "cache", engines=[gtts, espeak])
    offline = renderer.render(TEXT, offline=True)
    assert offline.engine == "espeak" and offline.fallback and gtts.calls == 0

    responses.add(responses.POST, GTTS_URL, body=gtts_body(make_mp3()), status=200)
    renderer.render(TEXT)  # online render fills the gTTS cache entry
    cached = renderer.render(TEXT, offline=True)
    assert cached.engine == "gtts" and cached.from_cache and not cached.fallback


def test_only_online_engine_offline_raises_vietnamese(tmp_path):
    renderer = SpeechRenderer(tmp_path / "cache", engines=[GttsEngine()])
    with pytest.raises(RenderError, match="không giọng đọc nào"):
        renderer.render(TEXT, offline=True)


def test_unknown_voice_spec_is_skipped_if_another_remains(tmp_path):
    renderer = SpeechRenderer(tmp_path / "cache", voice=("polly", "espeak"))
    assert [e.name for e in renderer.engines] == ["espeak"]
    with pytest.raises(ValueError, match="không biết giọng đọc"):
        SpeechRenderer(tmp_path / "cache", voice=("polly",))


def test_concurrent_renders_synthesize_once(tmp_path):
    renderer, engine = espeak_renderer(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: renderer.render(TEXT), range(4)))
    assert engine.calls == 1
    assert sum(not r.from_cache for r in results) == 1


@responses.activate
def test_a_miss_under_an_adhoc_deadline_does_not_switch_the_online_voice_off(tmp_path):
    clock = FakeClock()
    gtts = Counting(GttsEngine(timeout=5, retries=0))
    espeak = Counting(EspeakEngine())
    renderer = SpeechRenderer(tmp_path / "cache", engines=[gtts, espeak], clock=clock, online_timeout=5)
    responses.add(responses.POST, GTTS_URL, body=requests.exceptions.ConnectTimeout("slow"))

    quick = renderer.render(TEXT, deadline=1.0)
    assert quick.engine == "espeak" and quick.fallback
    assert renderer.health()["gtts"]["retry_in"] == 0.0, "a slow answer is not an outage"

    # the next render (scheduled, full timeout) tries the online voice again
    responses.replace(responses.POST, GTTS_URL, body=gtts_body(make_mp3(1.0)), status=200)
    assert renderer.render(TEXT + " Xin cảm ơn.").engine == "gtts"
    assert gtts.calls == 2


def test_a_verified_entry_rewritten_later_is_checked_again(tmp_path):
    renderer, engine = espeak_renderer(tmp_path)
    key = renderer.render(TEXT).key
    assert renderer.render(TEXT).from_cache  # verified once: later hits skip the checksum
    audio = renderer.cache.audio_path(key)
    data = audio.read_bytes()
    time.sleep(0.02)  # a later write: new mtime, as any real corruption-by-rewrite has
    audio.write_bytes(data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:])
    again = renderer.render(TEXT)
    assert not again.from_cache and engine.calls == 2, "the altered file must be re-rendered, never played"

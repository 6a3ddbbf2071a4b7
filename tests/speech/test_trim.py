"""Each render keeps only a small fixed pad of silence before and after its sound.

The trimmer (``broadcaster.speech.trim``) on synthetic signals first, then the renderer with
the real espeak-ng, gTTS answered offline by ``responses``, and a stand-in engine.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import responses
import soundfile as sf

from broadcaster.speech.audio import RATE, TARGET_LUFS, decode_file, measure_lufs, normalize_loudness, true_peak_dbfs
from broadcaster.speech.cache import cache_key
from broadcaster.speech.engines import EspeakEngine, GttsEngine
from broadcaster.speech.render import SpeechRenderer
from broadcaster.speech.trim import LEAD_PAD_SECONDS, TAIL_PAD_SECONDS, sound_bounds, trim_silence

LEAD = int(round(LEAD_PAD_SECONDS * RATE))
TAIL = int(round(TAIL_PAD_SECONDS * RATE))
MS = RATE // 1000  # the trimmer's resolution
TEXT = "Kính thưa toàn thể nhân dân, hôm nay là ngày sáng tạo thế giới."
GTTS_URL = re.compile(r"https://translate\.google\.[a-z.]+/_/TranslateWebserverUi/data/batchexecute")


def burst(seconds: float = 0.5, amplitude: float = 0.4, rate: int = RATE) -> np.ndarray:
    """A voiced-like stand-in for speech: 180 Hz with a slow syllable-rate swell."""
    t = np.arange(int(seconds * rate)) / rate
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    return (amplitude * swell * np.sin(2 * np.pi * 180 * t + 0.3)).astype(np.float32)


def noise(seconds: float, dbfs: float, seed: int = 1) -> np.ndarray:
    """White noise with an RMS of ``dbfs``."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * RATE)) * 10 ** (dbfs / 20)).astype(np.float32)


def zeros(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * RATE)), dtype=np.float32)


def first_above(samples: np.ndarray, level: float = 0.0) -> int:
    return int(np.flatnonzero(np.abs(samples) > level)[0])


def after_last_above(samples: np.ndarray, level: float = 0.0) -> int:
    """Samples after the last one above ``level``."""
    return int(samples.size - 1 - np.flatnonzero(np.abs(samples) > level)[-1])


# -- the trimmer ---------------------------------------------------------------------------


@pytest.mark.parametrize("lead_s", [0.0, 0.004, 0.013, 0.072, 0.5])
@pytest.mark.parametrize("tail_s", [0.0, 0.03, 0.389, 1.0])
def test_digital_silence_is_trimmed_or_padded_to_the_fixed_pads(lead_s, tail_s):
    speech = burst()
    out = trim_silence(np.concatenate([zeros(lead_s), speech, zeros(tail_s)]))
    start = first_above(out)
    assert LEAD <= start < LEAD + MS
    assert TAIL - MS < after_last_above(out) <= TAIL
    # the sound itself is untouched (no fade: every cut fell in digital silence)
    np.testing.assert_array_equal(out[start : start + speech.size], speech)
    assert out.size == start + speech.size + after_last_above(out)


@pytest.mark.parametrize("noise_dbfs", [-85.0, -65.0, -48.0])
def test_a_noise_floor_does_not_keep_the_engine_silence(noise_dbfs):
    speech = burst()  # RMS ≈ −12 dBFS
    x = np.concatenate([zeros(0.3), speech, zeros(0.6)])
    x += noise(x.size / RATE, noise_dbfs)
    out = trim_silence(x)
    assert out.size == pytest.approx(LEAD + speech.size + TAIL, abs=2 * MS)
    # the sound starts at the lead pad: its first loud sample sits where the burst's does
    assert first_above(out, 0.1) == pytest.approx(LEAD + first_above(speech, 0.1), abs=MS)
    if noise_dbfs > -80:  # the cuts fell inside the noise: faded, no click
        ceiling = 10 ** (noise_dbfs / 20)
        assert abs(out[0]) < 0.01 * ceiling and abs(out[-1]) < 0.01 * ceiling
        assert np.max(np.abs(out[: 3 * MS])) < 5 * ceiling


def test_a_quiet_onset_before_the_voice_is_kept():
    speech = burst()
    breath = noise(0.06, -52.0)  # ~40 dB under the vowels: a breath, an "h"
    x = np.concatenate([zeros(0.2), breath, speech, zeros(0.4)])
    out = trim_silence(x)
    start = first_above(out)
    assert LEAD <= start < LEAD + MS
    np.testing.assert_array_equal(
        out[start : start + breath.size + speech.size], x[np.flatnonzero(x)[0] :][: breath.size + speech.size]
    )


def test_a_lone_click_does_not_hold_the_silence_open():
    x = np.concatenate([zeros(0.3), burst(), zeros(0.4)])
    x[RATE // 20] = 0.01  # one sample, 250 ms before the voice
    out = trim_silence(x)
    assert out.size == pytest.approx(LEAD + burst().size + TAIL, abs=MS)


@pytest.mark.parametrize(
    "x",
    [zeros(1.0), zeros(0.0), noise(1.0, -100.0), np.zeros(5, dtype=np.float32)],
    ids=["digital-silence", "empty", "below-floor", "five-zeros"],
)
def test_input_without_sound_is_left_as_it_is(x):
    out = trim_silence(x)
    np.testing.assert_array_equal(out, x)
    assert sound_bounds(x) is None


@pytest.mark.parametrize("n", [1, 30, MS * 5])
def test_very_short_sound_gets_both_pads(n):
    x = burst(1.0)[:n].copy()
    x[0] = 0.3  # never a zero first sample
    out = trim_silence(x)
    assert out.size == LEAD + n + TAIL
    np.testing.assert_array_equal(out[LEAD : LEAD + n], x)
    assert not np.any(out[:LEAD]) and not np.any(out[LEAD + n :])


def test_the_cut_inside_sound_never_reaches_the_sound():
    speech = burst()
    x = np.concatenate([noise(0.2, -70.0), speech, noise(0.3, -70.0)])
    out = trim_silence(x)
    start = sound_bounds(x).start
    # everything from a millisecond before the sound on is exactly the input
    kept = out[LEAD - MS : LEAD - MS + speech.size]
    np.testing.assert_array_equal(kept, x[start - MS : start - MS + speech.size])


# -- the renderer -----------------------------------------------------------------------------


class WavEngine:
    """An offline engine that writes a fixed sound with as much silence as asked."""

    online = False
    suffix = ".wav"

    def __init__(self, name: str, sound: np.ndarray, lead_s: float, tail_s: float):
        self.name, self.sound, self.lead_s, self.tail_s = name, sound, lead_s, tail_s
        self.calls = 0

    def options(self) -> dict[str, object]:
        return {"lead": self.lead_s, "tail": self.tail_s}

    def synthesize(self, text: str, out_path: Path, timeout: float | None = None) -> None:
        self.calls += 1
        sf.write(out_path, np.concatenate([zeros(self.lead_s), self.sound, zeros(self.tail_s)]), RATE, "FLOAT")


def test_gain_does_not_depend_on_how_much_silence_the_engine_adds(tmp_path):
    sound = burst(1.2)
    a = SpeechRenderer(tmp_path / "a", engines=[WavEngine("a", sound, 0.05, 0.2)]).render(TEXT).samples
    b = SpeechRenderer(tmp_path / "b", engines=[WavEngine("b", sound, 1.5, 3.0)]).render(TEXT).samples
    assert a.size == b.size == LEAD + sound.size + TAIL
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert measure_lufs(a) == pytest.approx(TARGET_LUFS, abs=0.2)


def test_a_render_shorter_than_the_meter_is_still_levelled(tmp_path):
    sound = burst(0.15, amplitude=0.02)  # one quiet syllable: with its pads under 0.4 s
    out = SpeechRenderer(tmp_path, engines=[WavEngine("short", sound, 0.07, 0.4)]).render(TEXT).samples
    assert out.size == LEAD + sound.size + TAIL < int(0.4 * RATE)
    # levelled as if silence followed it up to the meter's 400 ms (the engine's own tail used to do that)
    padded = np.concatenate([out, zeros(0.41)])[: int(0.41 * RATE)]
    assert measure_lufs(padded) == pytest.approx(TARGET_LUFS, abs=0.3)
    assert true_peak_dbfs(out) < -1.0


def espeak_raw(tmp_path: Path, text: str) -> np.ndarray:
    raw = tmp_path / "raw.wav"
    EspeakEngine().synthesize(text, raw)
    return decode_file(raw, RATE)


def test_espeak_render_starts_within_the_lead_pad(tmp_path):
    audible = 10 ** (-60 / 20)
    raw = espeak_raw(tmp_path, TEXT)
    rendered = SpeechRenderer(tmp_path / "cache", engines=[EspeakEngine()]).render(TEXT).samples
    raw_onset, onset = first_above(raw, audible * 0.1), first_above(rendered, audible)
    # espeak-ng leads with ~72 ms before the "K" of "Kính" (and ends with ~390 ms)
    assert raw_onset / RATE > 0.05 and after_last_above(raw) / RATE > 0.3
    assert 0.005 <= onset / RATE <= 0.015
    assert after_last_above(rendered, audible) / RATE <= 0.1
    # shorter by exactly the silence taken away: nothing inside the speech was cut
    removed = (first_above(raw) - first_above(rendered)) + (after_last_above(raw) - after_last_above(rendered))
    assert raw.size - rendered.size == pytest.approx(removed, abs=MS)
    assert (raw.size - rendered.size) / RATE > 0.3
    assert measure_lufs(rendered) == pytest.approx(TARGET_LUFS, abs=0.5)
    assert true_peak_dbfs(rendered) < -1.0


def test_espeak_one_syllable_is_still_levelled(tmp_path):
    """Trimmed, "một" is shorter than the meter's 400 ms (its long tail used to make up the rest)."""
    raw = espeak_raw(tmp_path, "một")
    out = SpeechRenderer(tmp_path / "cache", engines=[EspeakEngine()]).render("một").samples
    assert out.size < int(0.4 * RATE) < raw.size
    padded = np.concatenate([out, zeros(0.41)])[: int(0.41 * RATE)]
    assert measure_lufs(padded) == pytest.approx(TARGET_LUFS, abs=0.3)
    assert true_peak_dbfs(out) < -1.0


def mp3_with_silence(lead_s: float, tail_s: float, seconds: float = 0.8) -> bytes:
    t = np.arange(int(24000 * seconds)) / 24000
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    signal = np.concatenate([np.zeros(int(24000 * lead_s)), tone, np.zeros(int(24000 * tail_s))])
    buf = io.BytesIO()
    sf.write(buf, signal.astype(np.float32), 24000, format="MP3")
    return buf.getvalue()


@responses.activate
def test_gtts_render_is_trimmed_too(tmp_path):
    mp3 = mp3_with_silence(0.25, 0.6)
    b64 = base64.b64encode(mp3).decode("ascii")
    body = ')]}\'\n\n[["wrb.fr","jQ1olc","[\\"' + b64 + '\\"]",null,null,null,"generic"]]\n'
    responses.add(responses.POST, GTTS_URL, body=body, status=200)
    rendered = SpeechRenderer(tmp_path / "cache", engines=[GttsEngine(timeout=5)]).render(TEXT)
    assert rendered.engine == "gtts"
    samples = rendered.samples
    assert first_above(samples, 0.01) / RATE <= 0.015
    assert after_last_above(samples, 0.01) / RATE <= 0.1
    assert samples.size / RATE == pytest.approx(0.8 + LEAD_PAD_SECONDS + TAIL_PAD_SECONDS, abs=0.01)


def test_an_entry_cached_before_trimming_is_not_served(tmp_path):
    """Entries made before the change carry the engine's silence: their key is not asked for any more."""
    engine = EspeakEngine()
    renderer = SpeechRenderer(tmp_path / "cache", engines=[engine])
    spoken = renderer.spoken_text(TEXT).strip()
    # the key as the untrimmed renderer (FORMAT_VERSION 1) computed it
    payload = {"v": 1, "text": spoken, "engine": "espeak", "options": engine.options(), "rate": RATE, "lufs": -16.0}
    old_key = hashlib.sha256(
        json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()
    untrimmed = normalize_loudness(espeak_raw(tmp_path, spoken))
    renderer.cache.put(old_key, untrimmed, {"engine": "espeak", "text": spoken})
    assert renderer.cache.get(old_key) is not None
    assert cache_key(spoken, "espeak", engine.options()) != old_key
    fresh = renderer.render(TEXT)
    assert not fresh.from_cache and fresh.samples.size < untrimmed.size

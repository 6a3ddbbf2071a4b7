"""The numpy-only DSP in ``broadcaster.speech.audio`` against the references it replaces.

The product must not load scipy (≈100 MB resident), so loudness, resampling, true peak and
the limiter are reimplemented with numpy. Here each one is compared with pyloudnorm / scipy
(test dependencies only) on real espeak-ng speech, the shipped chime, tones, noise and edges.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

from broadcaster.speech import audio
from broadcaster.speech.audio import (
    PEAK_CEILING_DBFS,
    RATE,
    TARGET_LUFS,
    limit,
    measure_lufs,
    normalize_loudness,
    resample,
    true_peak_dbfs,
)

ROOT = Path(__file__).resolve().parents[2]
CHIME = ROOT / "audio" / "chime.wav"
ESPEAK_RATE = 22050
TEXT = (
    "Kính thưa toàn thể nhân dân trong xã. Ủy ban nhân dân xã thông báo lịch tiêm chủng "
    "cho trẻ em dưới năm tuổi vào sáng thứ bảy tuần này, tại trạm y tế xã, từ bảy giờ "
    "ba mươi phút. Đề nghị các gia đình đưa con em đến đúng giờ và mang theo sổ tiêm chủng."
)


# -- references (what audio.py used before: pyloudnorm and scipy) ----------------------------


def ref_lufs(samples: np.ndarray, rate: int) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(pyloudnorm.Meter(rate).integrated_loudness(samples.astype(np.float64)))


def ref_measure_lufs(samples: np.ndarray, rate: int = RATE) -> float:
    """The old ``measure_lufs``: pyloudnorm behind the same guards."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.size < int(0.4 * rate) + 1 or not np.any(samples):
        return -math.inf
    return ref_lufs(samples, rate)


def ref_true_peak(samples: np.ndarray) -> float:
    over = resample_poly(samples, 4, 1)
    return max(audio.to_db(float(np.max(np.abs(over)))), audio.peak_dbfs(samples))


def ref_limit(samples, ceiling_dbfs=PEAK_CEILING_DBFS, rate=RATE, lookahead=0.010, hold=0.040):
    samples = np.asarray(samples, dtype=np.float32)
    ceiling = 10.0 ** (ceiling_dbfs / 20.0)
    magnitude = np.abs(samples)
    if samples.size == 0 or float(magnitude.max()) <= ceiling:
        return samples
    needed = np.minimum(np.float32(1.0), np.float32(ceiling) / np.maximum(magnitude, np.float32(1e-12)))
    ahead = max(1, int(lookahead * rate))
    behind = max(ahead, int(hold * rate))
    size = ahead + behind + 1
    gain = minimum_filter1d(needed, size=size, mode="nearest", origin=behind - size // 2)
    gain = uniform_filter1d(gain, size=2 * ahead + 1, mode="nearest")
    gain = np.minimum(gain, needed)
    return (samples * gain).astype(np.float32)


# -- signals -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def speech_22k(tmp_path_factory) -> np.ndarray:
    """Real espeak-ng Vietnamese speech at its native 22 050 Hz (~13 s, pauses included)."""
    out = tmp_path_factory.mktemp("espeak") / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(out), TEXT], check=True, timeout=60)
    data, rate = sf.read(str(out), dtype="float32")
    assert rate == ESPEAK_RATE and data.ndim == 1 and len(data) > 8 * rate
    return data


def at_rate(x: np.ndarray, from_rate: int, rate: int) -> np.ndarray:
    """Reference conversion (scipy), so the loudness tests do not depend on our resampler."""
    if rate == from_rate:
        return x
    g = math.gcd(from_rate, rate)
    return resample_poly(x, rate // g, from_rate // g).astype(np.float32)


def tone(freq: float, seconds: float, rate: int, amp: float = 0.5, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def noise(seconds: float, rate: int, amp: float = 0.1, seed: int = 7) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * rate))).astype(np.float32)


def chime() -> tuple[np.ndarray, int]:
    data, rate = sf.read(str(CHIME), dtype="float32", always_2d=True)
    return data.mean(axis=1, dtype=np.float32), rate


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    reference = reference.astype(np.float64)
    err = np.sum((reference - test) ** 2)
    return math.inf if err == 0 else 10 * math.log10(np.sum(reference**2) / err)


# -- loudness --------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [48000, 44100, 24000, 22050])
def test_loudness_matches_pyloudnorm_on_speech(speech_22k, rate):
    x = at_rate(speech_22k, ESPEAK_RATE, rate)
    for gain in (1.0, 3.0, 0.01):  # as rendered, hot, and quiet enough for the gates to bite
        expected = ref_lufs(x * np.float32(gain), rate)
        assert measure_lufs(x * np.float32(gain), rate) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("rate", [48000, 44100, 24000])
@pytest.mark.parametrize(
    "make",
    [
        lambda r: tone(1000, 3.0, r),
        lambda r: tone(40, 2.0, r),  # on the RLB high-pass slope
        lambda r: tone(9000, 1.7, r, amp=0.9),  # on the high shelf
        lambda r: noise(5.0, r),
        lambda r: noise(2.0, r) + np.float32(0.3),  # DC offset: removed by the high-pass
        # one loud burst in quiet noise: the relative gate drops the quiet blocks
        lambda r: np.concatenate([noise(3.0, r, 1e-3), tone(500, 0.6, r, 0.8), noise(3.0, r, 1e-3)]),
        lambda r: tone(1000, 0.4, r)[:-1].tolist() + [0.1, 0.2],  # just over one block, odd length
    ],
    ids=["1k", "40Hz", "9k", "noise", "dc", "burst", "one-block"],
)
def test_loudness_matches_pyloudnorm_on_test_signals(make, rate):
    x = np.asarray(make(rate), dtype=np.float32)
    assert measure_lufs(x, rate) == pytest.approx(ref_lufs(x, rate), abs=1e-3)


def test_loudness_of_the_chime_matches_pyloudnorm():
    x, rate = chime()
    assert measure_lufs(x, rate) == pytest.approx(ref_lufs(x, rate), abs=1e-3)
    x48 = resample(x, rate)
    assert measure_lufs(x48) == pytest.approx(ref_lufs(x48, RATE), abs=1e-3)


@pytest.mark.parametrize(
    "n",
    [audio._K_CHUNK - 1, audio._K_CHUNK, audio._K_CHUNK + 1, 2 * audio._K_CHUNK + 4801],
)
def test_loudness_across_filter_chunk_boundaries(n):
    x = noise(n / RATE + 0.01, RATE, 0.2, seed=n)[:n] * np.linspace(0.1, 1.0, n, dtype=np.float32)
    assert measure_lufs(x) == pytest.approx(ref_lufs(x, RATE), abs=1e-3)


def test_loudness_edge_cases():
    assert measure_lufs(np.zeros(RATE, np.float32)) == -math.inf
    assert measure_lufs(np.array([], np.float32)) == -math.inf
    assert measure_lufs(tone(1000, 0.39, RATE)) == -math.inf  # shorter than one gating block
    too_quiet = noise(2.0, RATE, 1e-5)  # every block below the −70 LUFS absolute gate
    assert measure_lufs(too_quiet) == -math.inf == ref_lufs(too_quiet, RATE)
    n = int(0.4 * RATE) + 1  # the shortest measurable input
    x = noise(1.0, RATE)[:n]
    assert measure_lufs(x) == pytest.approx(ref_lufs(x, RATE), abs=1e-3)
    stereo = np.stack([tone(1000, 1.0, RATE), noise(1.0, RATE)], axis=1)
    assert measure_lufs(stereo) == pytest.approx(ref_lufs(stereo.mean(axis=1), RATE), abs=1e-3)
    # a full-scale 997 Hz sine reads −3.01 LUFS in BS.1770; pyloudnorm's cookbook filters (and
    # so ours) sit 0.04 dB off the spec's tabled coefficients
    assert measure_lufs(tone(997, 5.0, RATE, 1.0)) == pytest.approx(-3.01, abs=0.05)


def test_loudness_is_fast():
    x = noise(120.0, RATE)  # two minutes
    measure_lufs(x)
    best = min(_timed(measure_lufs, x) for _ in range(3))
    assert best < 0.25  # ~40 ms here; pyloudnorm took ~150 ms plus a second to import scipy


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


# -- resampling ------------------------------------------------------------------------------

RATIOS = [(22050, 48000), (24000, 48000), (44100, 48000), (16000, 48000), (48000, 44100), (48000, 24000)]


@pytest.mark.parametrize(("src", "dst"), RATIOS)
def test_resample_matches_resample_poly_on_speech(speech_22k, src, dst):
    x = at_rate(speech_22k, ESPEAK_RATE, src)
    g = math.gcd(src, dst)
    expected = resample_poly(x, dst // g, src // g)
    got = resample(x, src, dst)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert snr_db(expected, got) > 100  # scipy itself computes in float32
    assert np.max(np.abs(got - expected)) < 1e-5


@pytest.mark.parametrize(("src", "dst"), RATIOS)
def test_resample_a_tone_is_clean_in_the_passband(src, dst):
    f = 1234.5
    got = resample(tone(f, 1.0, src), src, dst)
    ideal = tone(f, len(got) / dst, dst)[: len(got)].astype(np.float64)
    edge = dst // 50  # the filter's ramp at the very ends is expected
    ideal, middle = ideal[edge:-edge], got[edge:-edge]
    # the Kaiser (β = 5) design has ~0.01 dB of passband ripple; beyond that gain, clean
    gain = float(middle @ ideal / (ideal @ ideal))
    assert abs(20 * math.log10(gain)) < 0.02
    assert snr_db(gain * ideal, middle) > 60
    g = math.gcd(src, dst)
    expected = resample_poly(tone(f, 1.0, src), dst // g, src // g)
    assert np.max(np.abs(got - expected)) < 1e-5


@pytest.mark.parametrize("n", [1, 2, 3, 5, 147, 1000, 65537])
@pytest.mark.parametrize(("src", "dst"), [(22050, 48000), (24000, 48000), (11025, 48000), (48000, 32000)])
def test_resample_lengths_and_ends_match_scipy(n, src, dst):
    x = noise(n / src + 0.01, src, 0.3, seed=n)[:n]
    g = math.gcd(src, dst)
    expected = resample_poly(x, dst // g, src // g)
    got = resample(x, src, dst)
    assert got.shape == expected.shape == (math.ceil(n * dst / src),)
    assert np.allclose(got, expected, atol=1e-5)


def test_resample_has_no_clicks_at_the_ends(speech_22k):
    # speech that starts and ends mid-word: the ends stay as loud as the signal, no spikes
    cut = speech_22k[ESPEAK_RATE // 2 : -ESPEAK_RATE // 2]
    out = resample(cut, ESPEAK_RATE)
    ms = RATE // 100
    assert np.max(np.abs(out[:ms])) <= 1.1 * np.max(np.abs(cut[: ESPEAK_RATE // 100])) + 1e-3
    assert np.max(np.abs(out[-ms:])) <= 1.1 * np.max(np.abs(cut[-ESPEAK_RATE // 100 :])) + 1e-3
    quiet = np.zeros(ESPEAK_RATE, np.float32)
    assert not np.any(resample(quiet, ESPEAK_RATE))


def test_resample_same_rate_and_empty_are_untouched():
    x = noise(0.1, RATE)
    assert resample(x, RATE) is x
    assert resample(np.array([], np.float32), 24000).size == 0


def test_decode_file_resamples_the_chime_like_scipy():
    x, rate = chime()
    decoded = audio.decode_file(CHIME)
    if rate == RATE:
        assert np.array_equal(decoded, x)
    else:
        g = math.gcd(rate, RATE)
        assert np.allclose(decoded, resample_poly(x, RATE // g, rate // g), atol=1e-5)


# -- true peak -------------------------------------------------------------------------------


def test_true_peak_matches_four_times_resample_poly(speech_22k):
    speech = at_rate(speech_22k, ESPEAK_RATE, RATE)
    x, rate = chime()
    signals = [
        speech,
        speech * np.float32(4.0),  # clipped-level peaks
        resample(x, rate),
        tone(12000, 0.5, RATE, 0.9, phase=np.pi / 4),  # samples miss the crest by 3 dB
        tone(11025, 0.3, RATE, 0.5, phase=0.3),
        noise(0.01, RATE, 0.5),
        np.array([0.5], np.float32),
        np.array([0.0, 0.9, -0.9, 0.0], np.float32),
    ]
    for sig in signals:
        assert true_peak_dbfs(sig) == pytest.approx(ref_true_peak(sig), abs=1e-3)
    crest = tone(12000, 0.5, RATE, 0.9, phase=np.pi / 4)
    assert true_peak_dbfs(crest) > audio.peak_dbfs(crest) + 2.5
    assert true_peak_dbfs(np.zeros(10, np.float32)) == -math.inf
    assert true_peak_dbfs(np.array([], np.float32)) == -math.inf


# -- limiter ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gain", "ceiling", "rate"),
    [(4.0, -1.3, RATE), (10.0, -1.3, RATE), (4.0, -3.0, 22050), (1.0, -20.0, 44100)],
)
def test_limiter_equals_the_scipy_version_on_speech(speech_22k, gain, ceiling, rate):
    x = at_rate(speech_22k, ESPEAK_RATE, rate) * np.float32(gain)
    got = limit(x, ceiling, rate)
    expected = ref_limit(x, ceiling, rate)
    assert got.dtype == np.float32 and got.shape == x.shape
    assert np.allclose(got, expected, rtol=1e-6, atol=1e-7)
    assert np.max(np.abs(got)) <= 10 ** (ceiling / 20) * (1 + 1e-6)


@pytest.mark.parametrize(
    "x",
    [
        noise(1.0, RATE, 1.0),
        np.concatenate([np.zeros(5000), [3.0], np.zeros(7000)]).astype(np.float32),  # one spike
        np.array([2.0, 0.1], np.float32),  # shorter than the look-ahead
        noise(0.01, RATE, 2.0),  # shorter than the hold
        np.full(3000, 1.5, np.float32),
        noise((audio._LIMIT_CHUNK + 1) / RATE, RATE, 0.8)[: audio._LIMIT_CHUNK + 1],
        noise(3 * audio._LIMIT_CHUNK / RATE, RATE, 0.8)[: 3 * audio._LIMIT_CHUNK - 7],
    ],
    ids=["noise", "spike", "two", "short", "constant", "chunk+1", "chunks"],
)
def test_limiter_equals_the_scipy_version_on_edge_cases(x):
    got = limit(x)
    assert np.allclose(got, ref_limit(x), rtol=1e-6, atol=1e-7)
    assert audio.peak_dbfs(got) <= PEAK_CEILING_DBFS + 1e-5


def test_limiter_custom_timing_and_untouched_input():
    x = noise(2.0, 16000, 0.7)
    for lookahead, hold in ((0.002, 0.002), (0.005, 0.1), (0.0, 0.0)):
        got = limit(x, -6.0, 16000, lookahead, hold)
        assert np.allclose(got, ref_limit(x, -6.0, 16000, lookahead, hold), rtol=1e-6, atol=1e-7)
    quiet = noise(0.5, RATE, 0.01)
    assert limit(quiet) is quiet  # nothing to do: same array back, as before
    assert limit(np.array([], np.float32)).size == 0


def test_sliding_minimum_is_exact():
    x = np.random.default_rng(3).random(10_000).astype(np.float32)
    for width in (1, 2, 3, 7, 64, 65, 2401, 9999, 10_000):
        expected = np.lib.stride_tricks.sliding_window_view(x, width).min(axis=1)
        assert np.array_equal(audio._sliding_min(x, width), expected)


# -- the whole levelling chain ---------------------------------------------------------------


def test_normalize_loudness_equals_the_reference_chain(speech_22k, monkeypatch):
    speech = resample(speech_22k, ESPEAK_RATE)
    x, rate = chime()
    for sig, target in (
        (speech, TARGET_LUFS),
        (speech * np.float32(0.05), TARGET_LUFS),
        (resample(x, rate), audio.CHIME_LUFS),
    ):
        got = normalize_loudness(sig, target)
        with monkeypatch.context() as m:
            m.setattr(audio, "measure_lufs", ref_measure_lufs)
            m.setattr(audio, "limit", ref_limit)
            m.setattr(audio, "true_peak_dbfs", lambda s, r=RATE: ref_true_peak(s))
            expected = normalize_loudness(sig, target)
        assert np.allclose(got, expected, rtol=1e-5, atol=1e-6)
        assert measure_lufs(got) == pytest.approx(target, abs=0.2)
        assert true_peak_dbfs(got) <= PEAK_CEILING_DBFS + 1e-3


# -- no scipy at run time --------------------------------------------------------------------

_PROBE = """
import json, sys
from pathlib import Path
{imports}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("scipy", "pyloudnorm"))
rss = int([l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1])
print(json.dumps({{"heavy": heavy, "rss_kb": rss}}))
"""


def _probe(imports: str) -> dict:
    code = _PROBE.format(imports=imports)
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_audio_module_never_imports_scipy_or_pyloudnorm():
    result = _probe(
        "import numpy as np\n"
        "from broadcaster.speech import audio as a\n"
        f"x = a.decode_file({str(CHIME)!r})\n"
        "x = a.resample(np.concatenate([x, x]), 44100, 48000)\n"
        "y = a.normalize_loudness(x * 8)\n"
        "a.measure_lufs(y, 44100); a.true_peak_dbfs(y); a.limit(y * 4); a.peak_dbfs(y)\n"
    )
    assert result["heavy"] == []


def test_daemon_app_imports_and_levels_the_chime_without_scipy():
    result = _probe(
        "from broadcaster.daemon import app\n"
        "from broadcaster.programme import load_levelled\n"
        "from broadcaster.speech.audio import CHIME_LUFS\n"
        f"load_levelled(Path({str(CHIME)!r}), CHIME_LUFS)\n"
    )
    assert result["heavy"] == []
    assert result["rss_kb"] < 120 * 1024

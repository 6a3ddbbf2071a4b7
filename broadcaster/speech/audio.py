"""Audio utilities: decode, resample, measure and level loudness, write WAV atomically.

Everything inside Loa xã is mono float32 at :data:`RATE`; files are converted on the way in
(:func:`decode_file`) so nothing downstream has to care about formats or sample rates.
Loudness is measured with a BS.1770 meter (pyloudnorm) and every part of a programme is
levelled to the same target, so the chime is never louder than the speech and one engine is
never louder than another.
"""

from __future__ import annotations

import math
import os
import warnings
from math import gcd
from pathlib import Path

import numpy as np

from broadcaster.fsutil import atomic_file

#: the one sample rate used everywhere (output devices all accept it)
RATE = 48000
#: integrated loudness of speech and audio items (common for speech on small speakers)
TARGET_LUFS = -16.0
#: the chime sits below the speech so it draws attention without startling
CHIME_LUFS = TARGET_LUFS - 3.0
#: ceiling for (true) peaks after levelling
PEAK_CEILING_DBFS = -1.0

# BS.1770 needs at least one 400 ms block to measure anything
_MIN_MEASURE_SECONDS = 0.4
# below this the input is treated as silence and never amplified (would only raise noise)
_SILENCE_LUFS = -70.0


class AudioError(Exception):
    """An audio file that cannot be read; the message is for the operator (Vietnamese)."""


def _as_mono_float32(samples: np.ndarray) -> np.ndarray:
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 2:
        data = data.mean(axis=1, dtype=np.float32)
    return np.ascontiguousarray(data, dtype=np.float32)


def resample(samples: np.ndarray, from_rate: int, to_rate: int = RATE) -> np.ndarray:
    """Resample mono audio with a polyphase filter (exact rational ratio)."""
    samples = _as_mono_float32(samples)
    if from_rate == to_rate or samples.size == 0:
        return samples
    from scipy.signal import resample_poly

    g = gcd(int(from_rate), int(to_rate))
    out = resample_poly(samples, int(to_rate) // g, int(from_rate) // g)
    return np.ascontiguousarray(out, dtype=np.float32)


def decode_file(path: str | os.PathLike, rate: int = RATE) -> np.ndarray:
    """Read WAV/MP3/FLAC/OGG into mono float32 at ``rate`` (raises :class:`AudioError`)."""
    import soundfile as sf

    path = Path(path)
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except FileNotFoundError:
        raise AudioError(f"không tìm thấy tệp âm thanh {path}") from None
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as exc:
        raise AudioError(
            f"không đọc được tệp âm thanh {path} ({exc}); chỉ hỗ trợ WAV, MP3, FLAC, OGG"
        ) from None
    return resample(_as_mono_float32(data), file_rate, rate)


def to_db(amplitude: float) -> float:
    return 20.0 * math.log10(amplitude) if amplitude > 0 else -math.inf


def peak_dbfs(samples: np.ndarray) -> float:
    """Sample peak in dBFS (``-inf`` for silence)."""
    samples = np.asarray(samples)
    return to_db(float(np.max(np.abs(samples)))) if samples.size else -math.inf


def true_peak_dbfs(samples: np.ndarray, rate: int = RATE) -> float:
    """Inter-sample (true) peak in dBFS, estimated by 4× oversampling as in BS.1770."""
    samples = _as_mono_float32(samples)
    if samples.size == 0:
        return -math.inf
    from scipy.signal import resample_poly

    over = resample_poly(samples, 4, 1)
    return max(to_db(float(np.max(np.abs(over)))), peak_dbfs(samples))


def measure_lufs(samples: np.ndarray, rate: int = RATE) -> float:
    """Integrated loudness (BS.1770, LUFS); ``-inf`` for silence or audio under 0.4 s."""
    samples = _as_mono_float32(samples)
    if samples.size < int(_MIN_MEASURE_SECONDS * rate) + 1 or not np.any(samples):
        return -math.inf
    import pyloudnorm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyloudnorm warns about clipping; we handle peaks ourselves
        return float(pyloudnorm.Meter(rate).integrated_loudness(samples.astype(np.float64)))


def limit(samples: np.ndarray, ceiling_dbfs: float = PEAK_CEILING_DBFS, rate: int = RATE,
          lookahead: float = 0.010, hold: float = 0.040) -> np.ndarray:
    """Look-ahead peak limiter: smooth gain reduction so no sample exceeds the ceiling.

    The gain at each sample is the minimum of the gain every sample needs from ``lookahead``
    ahead to ``hold`` behind, then smoothed by a moving average no wider than twice the
    look-ahead. Every averaged value comes from a window that contains the sample itself, so
    the ceiling holds exactly, while gain changes ramp over ~20 ms instead of clicking.
    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    samples = _as_mono_float32(samples)
    ceiling = 10.0 ** (ceiling_dbfs / 20.0)
    magnitude = np.abs(samples)
    if samples.size == 0 or float(magnitude.max()) <= ceiling:
        return samples
    needed = np.minimum(np.float32(1.0), np.float32(ceiling) / np.maximum(magnitude, np.float32(1e-12)))
    ahead = max(1, int(lookahead * rate))
    behind = max(ahead, int(hold * rate))
    size = ahead + behind + 1
    # origin shifts the window so it spans [n - behind, n + ahead]
    gain = minimum_filter1d(needed, size=size, mode="nearest", origin=behind - size // 2)
    gain = uniform_filter1d(gain, size=2 * ahead + 1, mode="nearest")
    gain = np.minimum(gain, needed)  # guard against float rounding in the average
    return (samples * gain).astype(np.float32)


def normalize_loudness(samples: np.ndarray, target_lufs: float = TARGET_LUFS,
                       peak_dbfs: float = PEAK_CEILING_DBFS, rate: int = RATE) -> np.ndarray:
    """Gain to ``target_lufs``, then limit so true peaks stay below ``peak_dbfs``.

    Silent or too-short input (nothing a BS.1770 meter can measure) is returned unchanged.
    """
    samples = _as_mono_float32(samples)
    loudness = measure_lufs(samples, rate)
    if not math.isfinite(loudness) or loudness < _SILENCE_LUFS:
        return samples.copy()
    # a little headroom below the ceiling for inter-sample peaks and 16-bit rounding
    sample_ceiling = peak_dbfs - 0.3
    # limiting takes a little loudness away; find the gain that lands on target (secant steps)
    prev_gain, prev_loudness = 0.0, loudness
    gain = target_lufs - loudness
    out = samples
    for _ in range(4):
        out = limit(samples * np.float32(10.0 ** (gain / 20.0)), sample_ceiling, rate)
        loudness = measure_lufs(out, rate)
        if not math.isfinite(loudness) or abs(target_lufs - loudness) < 0.15:
            break
        slope = (loudness - prev_loudness) / (gain - prev_gain) if gain != prev_gain else 1.0
        prev_gain, prev_loudness = gain, loudness
        gain += (target_lufs - loudness) / min(1.0, max(0.3, slope))
    excess = true_peak_dbfs(out, rate) - peak_dbfs
    if excess > -0.05:
        out = (out * np.float32(10.0 ** (-(excess + 0.1) / 20.0))).astype(np.float32)
    return out


def silence(seconds: float, rate: int = RATE) -> np.ndarray:
    """``seconds`` of digital silence."""
    return np.zeros(max(0, int(round(seconds * rate))), dtype=np.float32)


def write_wav(path: str | os.PathLike, samples: np.ndarray, rate: int = RATE,
              subtype: str = "PCM_16") -> Path:
    """Write mono WAV atomically (temporary file in the same folder, then rename)."""
    import soundfile as sf

    path = Path(path)
    data = np.clip(_as_mono_float32(samples), -1.0, 1.0)
    with atomic_file(path) as fh:
        sf.write(fh, data, rate, subtype=subtype, format="WAV")
    return path

"""Audio utilities: decode, resample, measure and level loudness, write WAV atomically.

Everything inside Loa xã is mono float32 at :data:`RATE`; files are converted on the way in
(:func:`decode_file`) so nothing downstream has to care about formats or sample rates.
Loudness is measured with a BS.1770 meter and every part of a programme is levelled to the
same target, so the chime is never louder than the speech and one engine is never louder
than another.

Only numpy is used at run time: scipy (pulled in by pyloudnorm and ``resample_poly``) costs
~100 MB of resident memory and a second of import on a modest PC, more than the whole daemon
may use. The meter, the resampler (:mod:`broadcaster.speech.resample`, re-exported here) and
the limiter reproduce pyloudnorm / scipy exactly (the tests compare them); the filters run
block-wise as matrix products, so a long announcement never needs more than a few MB of
scratch memory.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from broadcaster.fsutil import atomic_file

# The resampler lives in its own module; its public names stay importable from here.
from .resample import RATE as RATE
from .resample import Float32Array, Float64Array
from .resample import StreamResampler as StreamResampler
from .resample import as_mono_float32 as _as_mono_float32
from .resample import polyphase as _polyphase
from .resample import resample as resample

#: integrated loudness of speech and audio items (common for speech on small speakers)
TARGET_LUFS = -16.0
#: the chime sits below the speech so it draws attention without startling
CHIME_LUFS = TARGET_LUFS - 3.0
#: ceiling for (true) peaks after levelling
PEAK_CEILING_DBFS = -1.0

#: BS.1770 needs at least one 400 ms block to measure anything (:func:`measure_lufs` wants more
#: than this many seconds of samples)
MIN_MEASURE_SECONDS = 0.4
# below this the input is treated as silence and never amplified (would only raise noise)
_SILENCE_LUFS = -70.0


class AudioError(Exception):
    """An audio file that cannot be read; the message is for the operator (Vietnamese)."""


def decode_file(path: str | os.PathLike[str], rate: int = RATE) -> Float32Array:
    """Read WAV/MP3/FLAC/OGG into mono float32 at ``rate`` (raises :class:`AudioError`)."""
    import soundfile as sf

    path = Path(path)
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except FileNotFoundError:
        raise AudioError(f"không tìm thấy tệp âm thanh {path}") from None
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as exc:
        raise AudioError(f"không đọc được tệp âm thanh {path} ({exc}); chỉ hỗ trợ WAV, MP3, FLAC, OGG") from None
    return resample(_as_mono_float32(data), file_rate, rate)


def to_db(amplitude: float) -> float:
    """Amplitude to dB (``-inf`` for zero)."""
    return 20.0 * math.log10(amplitude) if amplitude > 0 else -math.inf


def _peak(samples: npt.NDArray[np.floating[Any]]) -> float:
    # max and min instead of abs(): no temporary the size of the signal
    return max(float(samples.max()), -float(samples.min())) if samples.size else 0.0


def peak_dbfs(samples: npt.ArrayLike) -> float:
    """Sample peak in dBFS (``-inf`` for silence)."""
    data = np.asarray(samples)
    return to_db(_peak(data)) if data.size else -math.inf


def true_peak_dbfs(samples: npt.ArrayLike, rate: int = RATE) -> float:
    """Inter-sample (true) peak in dBFS, estimated by 4× oversampling as in BS.1770."""
    x = _as_mono_float32(samples)
    if x.size == 0:
        return -math.inf
    over = max(_peak(chunk) for _, chunk in _polyphase(4, 1).chunks(x))
    return max(to_db(over), peak_dbfs(x))


# -- BS.1770 loudness (same numbers as pyloudnorm's K-weighted integrated loudness) ---------

# samples per block: the in-block part of the filter is one (block × block) matrix product
_K_BLOCK = 64
# blocks whose filter state is propagated together by one matrix product
_K_GROUP = 64
# samples filtered per chunk (a multiple of block × group); bounds scratch memory
_K_CHUNK = _K_BLOCK * _K_GROUP * 64
_GATE_SECONDS = 0.400
_GATE_STEP = 1.0 - 0.75  # 75 % overlap
_ABSOLUTE_GATE = -70.0


def _biquad(kind: str, gain_db: float, q: float, fc: float, rate: float) -> tuple[Float64Array, Float64Array]:
    """RBJ-cookbook biquad ``(b, a)`` normalised to ``a[0] = 1``, as pyloudnorm designs it."""
    A = 10 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * (fc / rate)
    alpha = math.sin(w0) / (2.0 * q)
    cos = math.cos(w0)
    if kind == "high_shelf":
        b = [
            A * ((A + 1) + (A - 1) * cos + 2 * math.sqrt(A) * alpha),
            -2 * A * ((A - 1) + (A + 1) * cos),
            A * ((A + 1) + (A - 1) * cos - 2 * math.sqrt(A) * alpha),
        ]
        a = [
            (A + 1) - (A - 1) * cos + 2 * math.sqrt(A) * alpha,
            2 * ((A - 1) - (A + 1) * cos),
            (A + 1) - (A - 1) * cos - 2 * math.sqrt(A) * alpha,
        ]
    else:  # high_pass
        b = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]
        a = [1 + alpha, -2 * cos, 1 - alpha]
    return np.array(b) / a[0], np.array(a) / a[0]


class _KWeighting:
    """The BS.1770 K-weighting filter (high shelf, then RLB high-pass), applied exactly.

    The cascade is a 4-state linear system (transposed direct form II, as ``lfilter``).
    Instead of a per-sample loop it runs on blocks of ``_K_BLOCK`` samples: each block's
    output is its own input through the first taps of the impulse response (a Toeplitz
    matrix product) plus the free response of the state it starts with; the states at the
    block starts follow from the same idea one level up, over groups of ``_K_GROUP`` blocks.
    No truncation is involved: the result equals the recursive filter up to rounding.
    """

    def __init__(self, rate: float):
        stages = [
            _biquad("high_shelf", 4.0, 1 / math.sqrt(2), 1500.0, rate),
            _biquad("high_pass", 0.0, 0.5, 38.0, rate),
        ]
        A = np.zeros((4, 4))
        B = np.zeros(4)
        C = np.zeros(4)
        D = 1.0
        for k, (b, a) in enumerate(stages):
            # one stage, state z = [z1, z2]:
            #   y = z1 + b0 x;  z' = [-a1 z1 + z2, -a2 z1] + (b - a b0) x
            Ak = np.array([[-a[1], 1.0], [-a[2], 0.0]])
            Bk = np.array([b[1] - a[1] * b[0], b[2] - a[2] * b[0]])
            sl = slice(2 * k, 2 * k + 2)
            # this stage's input is the previous stages' output C s + D x
            A[sl, :] += np.outer(Bk, C)
            A[sl, sl] = Ak
            B[sl] = Bk * D
            C = C * b[0]
            C[2 * k] = 1.0
            D = D * b[0]
        L, K = _K_BLOCK, _K_GROUP
        powers = [np.eye(4)]
        for _ in range(L):
            powers.append(powers[-1] @ A)
        h = np.array([D] + [C @ powers[k - 1] @ B for k in range(1, L)])
        toeplitz = np.zeros((L, L))
        for i in range(L):
            toeplitz[i, i:] = h[: L - i]
        # state after a block started from rest: sum of A^(L-1-i) B x[i]
        to_state = np.array([powers[L - 1 - i] @ B for i in range(L)])
        self.in_block = np.hstack([toeplitz, to_state])  # (L, L + 4)
        # free response of a start state s over the block: C A^k s
        self.free = np.array([C @ powers[k] for k in range(L)]).T  # (4, L)
        step = powers[L]  # state transition over one block
        group_powers = [np.eye(4)]
        for _ in range(K):
            group_powers.append(group_powers[-1] @ step)
        # row-vector form: start state of block k in a group, from the blocks' own inputs ...
        self.within = np.zeros((4 * K, 4 * K))
        for k in range(K):
            for i in range(k):
                self.within[4 * i : 4 * i + 4, 4 * k : 4 * k + 4] = group_powers[k - 1 - i].T
        # ... plus the group's start state carried forward
        self.carry = np.hstack([group_powers[k].T for k in range(K)])  # (4, 4K)
        self.group_end = np.vstack([group_powers[K - 1 - i].T for i in range(K)])  # (4K, 4)
        self.group_step = group_powers[K].T

    def chunks(self, x: Float32Array) -> Iterator[tuple[int, Float64Array]]:
        """Yield ``(first index, filtered chunk as float64)`` for the whole of ``x``."""
        L, K = _K_BLOCK, _K_GROUP
        state = np.zeros(4)
        for first in range(0, x.size, _K_CHUNK):
            part = x[first : first + _K_CHUNK]
            n = part.size
            padded = -(-n // (L * K)) * (L * K)  # zeros after the end do not change the output
            flat = np.zeros(padded)
            flat[:n] = part
            blocks = flat.reshape(-1, L)
            zs = blocks @ self.in_block
            ends = np.ascontiguousarray(zs[:, L:]).reshape(-1, 4 * K)
            starts = ends @ self.within
            group_ends = ends @ self.group_end
            carried = np.empty((group_ends.shape[0], 4))
            for g in range(group_ends.shape[0]):
                carried[g] = state
                state = state @ self.group_step + group_ends[g]
            starts += carried @ self.carry
            y = zs[:, :L] + starts.reshape(-1, 4) @ self.free
            yield first, y.reshape(-1)[:n]


@functools.lru_cache(maxsize=4)
def _k_weighting(rate: float) -> _KWeighting:
    return _KWeighting(rate)


def measure_lufs(samples: npt.ArrayLike, rate: int = RATE) -> float:
    """Integrated loudness (BS.1770, LUFS); ``-inf`` for silence or audio under 0.4 s."""
    x = _as_mono_float32(samples)
    if x.size < int(MIN_MEASURE_SECONDS * rate) + 1 or not np.any(x):
        return -math.inf
    n = x.size
    # gating blocks: the same float arithmetic as pyloudnorm, so the same sample bounds
    n_blocks = int(np.round((n / rate - _GATE_SECONDS) / (_GATE_SECONDS * _GATE_STEP))) + 1
    j = np.arange(n_blocks)
    lower = np.minimum((_GATE_SECONDS * (j * _GATE_STEP) * rate).astype(np.int64), n)
    upper = np.minimum((_GATE_SECONDS * (j * _GATE_STEP + 1) * rate).astype(np.int64), n)
    # energy up to each block bound, summed chunk by chunk from the filtered signal
    bounds = np.unique(np.concatenate([lower, upper]))
    energy_at = np.zeros(bounds.size)
    total = 0.0
    for first, y in _k_weighting(float(rate)).chunks(x):
        last = first + y.size
        inside = np.flatnonzero((bounds > first) & (bounds < last))
        pieces = np.cumsum(np.add.reduceat(y * y, np.concatenate([[0], bounds[inside] - first])))
        energy_at[inside] = total + pieces[:-1]
        total += pieces[-1]
        energy_at[bounds == last] = total
    index = np.searchsorted(bounds, [lower, upper])
    z = (1.0 / (_GATE_SECONDS * rate)) * (energy_at[index[1]] - energy_at[index[0]])
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(z)
        gated = z[block_lufs >= _ABSOLUTE_GATE]
        if gated.size == 0:
            return -math.inf
        relative_gate = -0.691 + 10.0 * np.log10(gated.mean()) - 10.0
        gated = z[(block_lufs > relative_gate) & (block_lufs > _ABSOLUTE_GATE)]
        if gated.size == 0:
            return -math.inf
        return float(-0.691 + 10.0 * np.log10(gated.mean()))


# -- look-ahead limiter ------------------------------------------------------------------

# output samples per chunk (each chunk also reads look-ahead and hold around it)
_LIMIT_CHUNK = 1 << 17


def _sliding_min(x: Float32Array, width: int) -> Float32Array:
    """``out[n] = min(x[n : n + width])``, exact, in log2(width) vectorised passes.

    After each pass ``m[i]`` is the minimum of ``x[i : i + span]`` with ``span`` doubled; the
    window is then the union of two overlapping spans. (Faster here than van Herk /
    Gil-Werman, whose running minimum does not vectorise.)
    """
    m, span = x, 1
    while span * 2 <= width:
        m = np.minimum(m[:-span], m[span:])
        span *= 2
    n_out = x.size - width + 1
    return np.minimum(m[:n_out], m[width - span : width - span + n_out])


def _edge_padded(x: Float32Array, before: int, after: int) -> Float32Array:
    return np.pad(x, (before, after), mode="edge") if before or after else x


def limit(
    samples: npt.ArrayLike,
    ceiling_dbfs: float = PEAK_CEILING_DBFS,
    rate: int = RATE,
    lookahead: float = 0.010,
    hold: float = 0.040,
) -> Float32Array:
    """Look-ahead peak limiter: smooth gain reduction so no sample exceeds the ceiling.

    The gain at each sample is the minimum of the gain every sample needs from ``lookahead``
    ahead to ``hold`` behind, then smoothed by a moving average no wider than twice the
    look-ahead. Every averaged value comes from a window that contains the sample itself, so
    the ceiling holds exactly, while gain changes ramp over ~20 ms instead of clicking.
    Signal edges repeat the first/last value (as ``scipy.ndimage`` mode "nearest").
    """
    x = _as_mono_float32(samples)
    ceiling = 10.0 ** (ceiling_dbfs / 20.0)
    if x.size == 0 or _peak(x) <= ceiling:
        return x
    n = x.size
    ahead = max(1, int(lookahead * rate))
    behind = max(ahead, int(hold * rate))
    width = ahead + behind + 1

    def needed(a: int, b: int) -> Float32Array:
        magnitude = np.abs(x[a:b])
        return np.minimum(np.float32(1.0), np.float32(ceiling) / np.maximum(magnitude, np.float32(1e-12)))

    out = np.empty(n, dtype=np.float32)
    for a in range(0, n, _LIMIT_CHUNK):
        b = min(n, a + _LIMIT_CHUNK)
        # minimum gain over [k - behind, k + ahead] for every k the average below reads
        g_lo, g_hi = max(0, a - ahead), min(n, b + ahead)
        n_lo, n_hi = max(0, g_lo - behind), min(n, g_hi + ahead)
        need = needed(n_lo, n_hi)
        window = _edge_padded(need, n_lo - (g_lo - behind), (g_hi + ahead) - n_hi)
        gain = _sliding_min(window, width)
        # moving average over [k - ahead, k + ahead]; float64 sums like scipy's running sum
        gain = _edge_padded(gain, g_lo - (a - ahead), (b + ahead) - g_hi)
        sums = np.concatenate([[0.0], np.cumsum(gain, dtype=np.float64)])
        span = 2 * ahead + 1
        smooth = ((sums[span:] - sums[:-span]) / span).astype(np.float32)
        # guard against float rounding in the average
        smooth = np.minimum(smooth, need[a - n_lo : b - n_lo])
        out[a:b] = x[a:b] * smooth
    return out


def normalize_loudness(
    samples: npt.ArrayLike, target_lufs: float = TARGET_LUFS, peak_dbfs: float = PEAK_CEILING_DBFS, rate: int = RATE
) -> Float32Array:
    """Gain to ``target_lufs``, then limit so true peaks stay below ``peak_dbfs``.

    Silent or too-short input (nothing a BS.1770 meter can measure) is returned unchanged.
    """
    x = _as_mono_float32(samples)
    loudness = measure_lufs(x, rate)
    if not math.isfinite(loudness) or loudness < _SILENCE_LUFS:
        return x.copy()
    # a little headroom below the ceiling for inter-sample peaks and 16-bit rounding
    sample_ceiling = peak_dbfs - 0.3
    # limiting takes a little loudness away; find the gain that lands on target (secant steps)
    prev_gain, prev_loudness = 0.0, loudness
    gain = target_lufs - loudness
    out = x
    for _ in range(4):
        del out  # let the previous attempt go before making the next (peak memory on long texts)
        out = limit(x * np.float32(10.0 ** (gain / 20.0)), sample_ceiling, rate)
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


def silence(seconds: float, rate: int = RATE) -> Float32Array:
    """``seconds`` of digital silence."""
    return np.zeros(max(0, int(round(seconds * rate))), dtype=np.float32)


def write_wav(path: str | os.PathLike[str], samples: npt.ArrayLike, rate: int = RATE, subtype: str = "PCM_16") -> Path:
    """Write mono WAV atomically (temporary file in the same folder, then rename)."""
    import soundfile as sf

    path = Path(path)
    data = np.clip(_as_mono_float32(samples), -1.0, 1.0)
    with atomic_file(path) as fh:
        sf.write(fh, data, rate, subtype=subtype, format="WAV")
    return path

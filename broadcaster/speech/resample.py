"""Polyphase resampling to the house rate, whole (:func:`resample`) or block by block (:class:`StreamResampler`).

The filter and the output alignment are those of ``scipy.signal.resample_poly``, so results
agree with scipy to float rounding (the tests compare them), without scipy's ~100 MB of
resident memory. The filter runs block-wise as matrix products, so a long announcement never
needs more than a few MB of scratch memory.

This module sits below :mod:`broadcaster.speech.audio` (which re-exports its public names),
so it owns the house sample rate and the mono float32 conversion every input goes through.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from math import gcd
from typing import Any

import numpy as np
import numpy.typing as npt

#: the one sample rate used everywhere (output devices all accept it)
RATE = 48000

Float32Array = npt.NDArray[np.float32]
Float64Array = npt.NDArray[np.float64]

# outputs computed per matrix product: wide enough for BLAS, narrow enough that the input
# window of a group stays close to the number of taps per phase
_POLY_GROUP = 64
# output samples per chunk (bounds scratch memory to a few MB whatever the input length)
_POLY_CHUNK = 1 << 16


def as_mono_float32(samples: npt.ArrayLike) -> Float32Array:
    """``samples`` as contiguous mono float32 (a 2-D frames × channels array is averaged)."""
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 2:
        data = data.mean(axis=1, dtype=np.float32)
    return np.ascontiguousarray(data, dtype=np.float32)


class Polyphase:
    """Rational-ratio resampler: up by ``up``, low-pass, down by ``down``.

    The filter is the one ``resample_poly`` designs (Kaiser-windowed sinc, β = 5, 10 zero
    crossings either side at the lower of the two Nyquist frequencies) and the output is
    aligned and trimmed the same way, so results agree with scipy to float rounding.

    A frame of ``P = F·up`` consecutive outputs always reads the same pattern of inputs,
    shifted by ``D = F·down``; so frames are rows, and each group of output columns is one
    matrix product of the input windows by a fixed matrix of filter taps.
    """

    def __init__(self, up: int, down: int):
        self.up, self.down = up, down
        max_rate = max(up, down)
        half_len = 10 * max_rate
        numtaps = 2 * half_len + 1
        cutoff = 1.0 / max_rate
        m = np.arange(numtaps) - half_len
        h = cutoff * np.sinc(cutoff * m) * np.kaiser(numtaps, 5.0)
        h = h / h.sum() * up  # unity gain at DC, times ``up`` for the inserted zeros
        n_pre_pad = down - half_len % down
        n_pre_remove = (half_len + n_pre_pad) // down
        # output j is sum over i of x[i] * h[j*down + offset - i*up] (x is zero outside)
        offset = n_pre_remove * down - n_pre_pad
        frames = max(1, _POLY_GROUP // up)
        self.P, self.D = frames * up, frames * down
        s = np.arange(self.P) * down + offset
        i_hi = s // up
        i_lo = -((numtaps - 1 - s) // up)  # ceil((s - numtaps + 1) / up)
        self.lo, self.hi = int(i_lo.min()), int(i_hi.max())
        # (first column, last column + 1, first input, tap matrix)
        self.groups: list[tuple[int, int, int, Float64Array]] = []
        for a in range(0, self.P, _POLY_GROUP):
            b = min(self.P, a + _POLY_GROUP)
            lo, hi = int(i_lo[a:b].min()), int(i_hi[a:b].max())
            taps = np.zeros((hi - lo + 1, b - a))
            for col in range(a, b):
                rows = np.arange(i_lo[col], i_hi[col] + 1)
                taps[rows - lo, col - a] = h[s[col] - rows * up]
            self.groups.append((a, b, lo, taps))

    def output_length(self, n_in: int) -> int:
        """Number of outputs for ``n_in`` inputs (as ``resample_poly``)."""
        n = n_in * self.up
        return n // self.down + bool(n % self.down)

    def chunks(self, x: Float32Array) -> Iterator[tuple[int, Float64Array]]:
        """Yield ``(first output index, output chunk as float64)`` covering the whole output."""
        n_out = self.output_length(x.size)
        n_frames = -(-n_out // self.P)
        per_chunk = max(1, _POLY_CHUNK // self.P)
        for fa in range(0, n_frames, per_chunk):
            fb = min(n_frames, fa + per_chunk)
            nf = fb - fa
            first = fa * self.D + self.lo
            out = self.frames(zero_padded(x, first, (fb - 1) * self.D + self.hi + 1), nf)
            first_out = fa * self.P
            yield first_out, out[: n_out - first_out]

    def frames(self, window: Float64Array, nf: int) -> Float64Array:
        """The ``nf·P`` outputs of ``nf`` consecutive frames (float64).

        ``window`` holds the inputs from the first frame's ``lo`` on, at least
        ``(nf - 1)·D + hi - lo + 1`` of them.
        """
        out = np.empty((nf, self.P))
        for a, b, lo, taps in self.groups:
            start = lo - self.lo
            rows = np.lib.stride_tricks.sliding_window_view(window[start:], taps.shape[0])
            out[:, a:b] = np.ascontiguousarray(rows[:: self.D][:nf]) @ taps
        return out.reshape(-1)


def zero_padded(x: npt.NDArray[np.floating[Any]], start: int, stop: int) -> Float64Array:
    """``x[start:stop]`` as float64, with zeros where the range leaves ``x``."""
    out = np.zeros(stop - start)
    a, b = max(start, 0), min(stop, x.size)
    if b > a:
        out[a - start : b - start] = x[a:b]
    return out


@functools.lru_cache(maxsize=8)
def polyphase(up: int, down: int) -> Polyphase:
    """The (cached) :class:`Polyphase` filter for one ratio: designing it costs more than using it."""
    return Polyphase(up, down)


def resample(samples: npt.ArrayLike, from_rate: int, to_rate: int = RATE) -> Float32Array:
    """Resample mono audio with a polyphase filter (exact rational ratio)."""
    x = as_mono_float32(samples)
    if from_rate == to_rate or x.size == 0:
        return x
    g = gcd(int(from_rate), int(to_rate))
    poly = polyphase(int(to_rate) // g, int(from_rate) // g)
    out = np.empty(poly.output_length(x.size), dtype=np.float32)
    for first, chunk in poly.chunks(x):
        out[first : first + chunk.size] = chunk
    return out


class StreamResampler:
    """:func:`resample` for audio that arrives in blocks (a sound card that refuses the rate).

    ``push()`` returns every output sample whose inputs have all arrived, ``flush()`` the rest;
    together they equal :func:`resample` of the concatenated blocks (to float rounding), so a
    programme resampled while it plays has no seams between its blocks.
    """

    def __init__(self, from_rate: int, to_rate: int = RATE):
        g = gcd(int(from_rate), int(to_rate))
        self._poly = None if from_rate == to_rate else polyphase(int(to_rate) // g, int(from_rate) // g)
        self._buf: Float64Array = np.zeros(0)  # inputs from global index ``_buf0`` on
        self._buf0 = 0
        self._n_in = 0
        self._frame = 0  # next frame (of P outputs) to compute
        self._n_out = 0

    def _window(self, start: int, stop: int) -> Float64Array:
        """Inputs ``[start, stop)`` by global index; zeros before 0 and after the last input."""
        return zero_padded(self._buf, start - self._buf0, stop - self._buf0)

    def _emit(self, last_frame: int, n_out: int | None = None) -> Float32Array:
        poly = self._poly
        assert poly is not None
        nf = last_frame - self._frame
        if nf <= 0:
            return np.zeros(0, dtype=np.float32)
        first = self._frame * poly.D + poly.lo
        out = poly.frames(self._window(first, (last_frame - 1) * poly.D + poly.hi + 1), nf)
        if n_out is not None:
            out = out[: max(0, n_out - self._n_out)]
        self._frame = last_frame
        self._n_out += out.size
        keep = self._frame * poly.D + poly.lo  # the next frame's first input
        if keep > self._buf0:
            self._buf = self._buf[keep - self._buf0 :]
            self._buf0 = keep
        return out.astype(np.float32)

    def push(self, block: npt.ArrayLike) -> Float32Array:
        """Take one block; return the outputs it completes (float32 mono)."""
        x = as_mono_float32(block)
        if self._poly is None:
            return x
        self._buf = np.concatenate([self._buf, x.astype(np.float64)])
        self._n_in += x.size
        ready = (self._n_in - 1 - self._poly.hi) // self._poly.D + 1  # frames whose inputs all arrived
        return self._emit(max(self._frame, ready))

    def flush(self) -> Float32Array:
        """The outputs still owed once no more input comes (the filter's tail)."""
        if self._poly is None:
            return np.zeros(0, dtype=np.float32)
        n_out = self._poly.output_length(self._n_in)
        return self._emit(-(-n_out // self._poly.P), n_out)

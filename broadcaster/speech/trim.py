"""Trim a speech render's own leading and trailing silence to small fixed pads.

Engines pad their output: espeak-ng starts a render with 13–72 ms of digital silence (more
before a stop consonant such as the "K" of "Kính thưa") and ends it with ~390 ms; gTTS's MP3
carries encoder delay and silence too. A broadcast without a chime would be heard that long
after its planned second, and the gap after the chime would depend on the first word. Every
render is therefore cut to :data:`LEAD_PAD_SECONDS` before its first sound and
:data:`TAIL_PAD_SECONDS` after its last, so the start of speech is predictable.

"Sound" is decided on a short-window RMS envelope, not on single samples: windows of
:data:`_WINDOW_FRAMES` × 1 ms slide in 1 ms steps, and a window is sound when its RMS
reaches the threshold. The threshold is the highest of

* :data:`THRESHOLD_BELOW_PEAK_DB` under the loudest window (relative to the render, so an
  engine's overall level does not matter; low enough that a breath or an "h" at −40 dB under
  the vowels is kept),
* :data:`FLOOR_DBFS` (absolute: below it nothing is audible, whatever the render's level),
* the noise floor (a low percentile of the windows) plus :data:`NOISE_MARGIN_DB`, but never
  more than :data:`NOISE_CAP_BELOW_PEAK_DB` under the loudest window — so steady hiss does
  not keep the whole render "sounding", while real speech is never taken for noise.

Inside the first (last) sounding window the cut is placed at the first (last) 1 ms frame
that itself reaches the threshold, so the pad is measured from the sound, not from the start
of a 10 ms window. An isolated spike too short to lift a window over the threshold is not
sound. A render with no sounding window at all (digital silence, or nothing above the floor)
is returned as it is: there is no speech to anchor the pads to, and the renderer rejects an
all-zero render anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .resample import RATE, Float32Array, Float64Array
from .resample import as_mono_float32 as _as_mono_float32

#: silence kept before the first sound. Small and constant: the start of speech is then
#: predictable (planned second + this); 10 ms also keeps whatever sub-threshold onset sits
#: just before the threshold crossing (a stop's burst, the start of a breath).
LEAD_PAD_SECONDS = 0.010
#: silence kept after the last sound: final vowels, nasals and fricatives decay below the
#: threshold over some tens of ms and a final stop's release comes late, so the tail pad is
#: longer than the lead. 80 ms keeps that decay without the engine's ~390 ms; pacing between
#: items and after the programme is the programme's own (its item pause and tail), not this.
TAIL_PAD_SECONDS = 0.080
#: a window this far under the loudest window is not sound
THRESHOLD_BELOW_PEAK_DB = 45.0
#: nothing quieter than this is sound, whatever the render's level (16-bit noise is ~−100)
FLOOR_DBFS = -80.0
#: a window must be this far above the noise floor to be sound ...
NOISE_MARGIN_DB = 10.0
#: ... but the noise-floor rule never asks for more than this under the loudest window
NOISE_CAP_BELOW_PEAK_DB = 30.0
#: the noise floor is this percentile of the windows' energy (speech pauses, the engine's pads)
NOISE_PERCENTILE = 10.0
#: fade applied where a cut falls inside non-zero samples (a step there would click)
FADE_SECONDS = 0.003

_FRAME_SECONDS = 0.001
_WINDOW_FRAMES = 10


@dataclass(frozen=True)
class SoundBounds:
    """Where the sound of a render is: ``samples[start:end]`` (1 ms resolution)."""

    start: int
    end: int
    threshold_dbfs: float


def _frame_energy(x: Float32Array, frame: int) -> Float64Array:
    """Mean square of each ``frame``-sample frame (the last one zero-padded)."""
    full = x.size // frame
    bulk = x[: full * frame].reshape(full, frame)
    # einsum squares and sums without a temporary the size of the signal
    sums = np.einsum("ij,ij->i", bulk, bulk, dtype=np.float64)
    rest = x[full * frame :]
    if rest.size:
        sums = np.append(sums, float(np.dot(rest.astype(np.float64), rest)))
    out: Float64Array = sums / frame
    return out


def _threshold(windows: Float64Array) -> float:
    """Energy a window must reach to be sound (see the module docstring)."""
    peak_db = 10.0 * np.log10(float(windows.max()))
    noise = float(np.percentile(windows, NOISE_PERCENTILE, method="lower"))
    threshold_db = max(peak_db - THRESHOLD_BELOW_PEAK_DB, FLOOR_DBFS)
    if noise > 0:
        noise_db = 10.0 * np.log10(noise) + NOISE_MARGIN_DB
        threshold_db = max(threshold_db, min(noise_db, peak_db - NOISE_CAP_BELOW_PEAK_DB))
    return float(threshold_db)


def sound_bounds(samples: npt.ArrayLike, rate: int = RATE) -> SoundBounds | None:
    """First and last sound of ``samples``; None when nothing reaches the threshold."""
    x = _as_mono_float32(samples)
    if x.size == 0 or not np.any(x):
        return None
    frame = max(1, int(round(_FRAME_SECONDS * rate)))
    energy = _frame_energy(x, frame)
    width = min(_WINDOW_FRAMES, energy.size)
    sums = np.concatenate([[0.0], np.cumsum(energy)])
    windows = (sums[width:] - sums[:-width]) / width
    threshold_db = _threshold(windows)
    level = 10.0 ** (threshold_db / 10.0)
    sounding = np.flatnonzero(windows >= level)
    if sounding.size == 0:
        return None
    first, last = int(sounding[0]), int(sounding[-1])
    # A window reaches the threshold only if one of its frames does (up to rounding: then
    # its loudest frame stands in).
    head = energy[first : first + width]
    start_frame = first + int(np.argmax(head >= min(level, float(head.max()))))
    tail = energy[last : last + width][::-1]
    end_frame = last + width - 1 - int(np.argmax(tail >= min(level, float(tail.max()))))
    return SoundBounds(start_frame * frame, min(x.size, (end_frame + 1) * frame), threshold_db)


def _ramp(n: int) -> Float32Array:
    """Raised-cosine rise over ``n`` samples, from ~0 to ~1."""
    ramp: Float32Array = (np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n) ** 2).astype(np.float32)
    return ramp


def _cuts_sound(x: Float32Array, at: int) -> bool:
    """Whether a cut between ``x[at - 1]`` and ``x[at]`` separates non-zero samples."""
    return bool(np.any(x[max(0, at - 1) : at + 1]))


def trim_silence(
    samples: npt.ArrayLike,
    rate: int = RATE,
    lead: float = LEAD_PAD_SECONDS,
    tail: float = TAIL_PAD_SECONDS,
) -> Float32Array:
    """``samples`` with exactly ``lead`` s before the first sound and ``tail`` s after the last.

    Silence beyond the pads is cut; a pad the input does not have is made of zeros, so every
    render starts its sound at the same offset. Where a cut falls inside non-zero samples
    (noise), the kept pad fades in (out) over :data:`FADE_SECONDS`, which lies in the pad and
    never touches the sound. Input without sound is returned unchanged (see the module).
    """
    x = _as_mono_float32(samples)
    bounds = sound_bounds(x, rate)
    if bounds is None:
        return x
    lead_n, tail_n = int(round(lead * rate)), int(round(tail * rate))
    cut_start = max(0, bounds.start - lead_n)
    cut_end = min(x.size, bounds.end + tail_n)
    body = x[cut_start:cut_end].copy()
    fade = min(int(round(FADE_SECONDS * rate)), lead_n, tail_n, body.size)
    if fade > 0 and cut_start > 0 and _cuts_sound(x, cut_start):
        body[:fade] *= _ramp(fade)
    if fade > 0 and cut_end < x.size and _cuts_sound(x, cut_end):
        body[-fade:] *= _ramp(fade)[::-1]
    before = lead_n - (bounds.start - cut_start)
    after = tail_n - (cut_end - bounds.end)
    if before > 0 or after > 0:
        zeros = np.zeros
        body = np.concatenate([zeros(before, np.float32), body, zeros(after, np.float32)])
    return body

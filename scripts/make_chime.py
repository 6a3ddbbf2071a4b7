#!/usr/bin/env python3
"""Generate ``audio/chime.wav``: a soft two-tone "ding-dong" attention chime.

Deterministic and dependency-free (standard library only), so running it again anywhere
rewrites the file byte for byte. The tone is plain synthesis — no samples from anyone
else — and is dedicated to the public domain (CC0).

Usage: python scripts/make_chime.py [OUTPUT]   (default: audio/chime.wav beside this repo)
"""

from __future__ import annotations

import math
import struct
import sys
import wave
from pathlib import Path

RATE = 48000
DURATION = 1.8  # seconds
PEAK = 0.5  # -6 dBFS; the programme levels the chime to its own loudness target anyway

# (start s, fundamental Hz): E5 then C5 — the familiar descending major third
NOTES = ((0.0, 659.25), (0.55, 523.25))
# bell-like partials: (frequency multiple, relative amplitude, decay time constant s)
PARTIALS = ((1.0, 1.0, 0.55), (2.0, 0.28, 0.30), (3.0, 0.10, 0.18), (4.2, 0.04, 0.10))
ATTACK = 0.006  # s, soft onset without a click
FADE_OUT = 0.08  # s, so the file ends at exactly zero


def sample(t: float) -> float:
    value = 0.0
    for start, freq in NOTES:
        dt = t - start
        if dt < 0:
            continue
        attack = min(1.0, dt / ATTACK)
        for multiple, amp, tau in PARTIALS:
            value += amp * math.exp(-dt / tau) * math.sin(2 * math.pi * freq * multiple * dt) * attack
    remaining = DURATION - t
    if remaining < FADE_OUT:
        value *= max(0.0, remaining / FADE_OUT)
    return value


def render() -> list[int]:
    n = int(DURATION * RATE)
    raw = [sample(i / RATE) for i in range(n)]
    scale = PEAK / max(abs(v) for v in raw)
    return [max(-32767, min(32767, round(v * scale * 32767))) for v in raw]


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "audio" / "chime.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    frames = struct.pack(f"<{int(DURATION * RATE)}h", *render())
    tmp = out.with_name(out.name + ".part")
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(frames)
    tmp.replace(out)
    print(f"Đã tạo {out} ({DURATION:.1f} giây, {RATE} Hz, mono 16-bit)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

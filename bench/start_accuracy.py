"""Figure 1 — start accuracy: planned instant → first audible sample at the sink.

Dozens of scheduled broadcasts a few seconds apart, each a 0.6 s tone (an audio item that is
loud from its first sample, so the measured onset is the programme's first sample, not the
leading silence of a voice), no chime. The sink's monitor is recorded for the whole run; each
broadcast's onset is located in it and compared with its planned time.
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.common import (
    MONITOR_BIAS_MS,
    TimedDaemon,
    first_loud,
    harness,
    log,
    pulse,
    row,
    summary,
    write_tone,
)

TARGET_P99_MS = 25.0
SPACING_S = 4  # jobs fire 3 s early; 4 s keeps broadcasts from queueing behind each other


def run(pa: pulse.PulseServer, quick: bool = False) -> dict:
    n = 10 if quick else 32
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        root = Path(tmp)
        project = harness.Project(root, chime=False, voice="espeak")
        tone = write_tone(root / "audio" / "tone.wav")
        first = harness.local_now().replace(microsecond=0) + timedelta(seconds=15)
        planned = [first + timedelta(seconds=SPACING_S * i) for i in range(n)]
        for i, at in enumerate(planned):
            project.slot(f"s{i:02d}", at, play=[{"audio": "audio/tone.wav"}])
        project.save()

        from broadcaster.programme import load_levelled
        from broadcaster.speech.audio import TARGET_LUFS

        lead_in = first_loud(load_levelled(tone, TARGET_LUFS), 48000) or 0.0  # ≈ 0: loud at sample 0

        rec = pa.record()
        daemon = TimedDaemon(project, pa.env).start()
        try:
            log(f"  start accuracy: {n} broadcasts, {SPACING_S} s apart, until {harness.hhmmss(planned[-1])}")
            daemon.wait_for(f"KẾT THÚC s{n - 1:02d}", timeout=SPACING_S * n + 60)
            time.sleep(0.3)
        finally:
            recording = rec.stop()
            daemon.terminate()
        rows = {r["slot"]: r for r in project.asrun_rows()}
        sink_estimates = [
            float(line.split("lệch giờ phát:")[1].split("ms")[0]) for line in daemon.lines if "lệch giờ phát:" in line
        ]

    onsets = [recording.wall_time(s) for s in pulse.find_onsets(recording.samples, recording.rate, min_gap_s=1.5)]
    raw_ms, missing = [], []
    for i, at in enumerate(planned):
        target = at.timestamp() + lead_in
        near = min(onsets, key=lambda t: abs(t - target), default=None)
        if near is None or abs(near - target) > 1.0 or rows.get(f"s{i:02d}", {}).get("status") != "played":
            missing.append(f"s{i:02d}")
            continue
        raw_ms.append((near - target) * 1000)
    corrected = [x - MONITOR_BIAS_MS for x in raw_ms]
    abs_raw = [abs(x) for x in raw_ms]
    abs_corr = [abs(x) for x in corrected]
    s_abs_raw, s_abs_corr = summary(abs_raw), summary(abs_corr)
    met = bool(raw_ms) and not missing and max(s_abs_raw["p99"], s_abs_corr["p99"]) <= TARGET_P99_MS
    notes = [
        f"{n} broadcasts {SPACING_S} s apart, 0.6 s tone each, no chime, real daemon → PortAudio → "
        "PulseAudio null sink; onset = first sample above −40 dBFS in the monitor recording.",
        f"The recording places samples 0…5 ms early (measured {MONITOR_BIAS_MS:+.1f} ms steady, "
        "tests/support/pulse.py `Recording`); 'corrected' adds 4.8 ms back. The target is judged on both.",
    ]
    if missing:
        notes.append(f"No onset / not played for: {', '.join(missing)} (counted as a miss).")
    return {
        "id": "start_accuracy",
        "title": "1. Start accuracy (planned time → first audible sample)",
        "rows": [
            row("absolute error, as recorded", "ms", s_abs_raw, target=f"p99 ≤ {TARGET_P99_MS:g} ms", met=met),
            row(
                "absolute error, bias-corrected (+4.8 ms)",
                "ms",
                s_abs_corr,
                target=f"p99 ≤ {TARGET_P99_MS:g} ms",
                met=met,
            ),
            row("signed error, as recorded (− = early)", "ms", summary(raw_ms)),
            row("sink's own DAC-time estimate (log)", "ms", summary(sink_estimates)),
        ],
        "missing": missing,
        "notes": notes,
        "raw": {"signed_ms": [round(x, 2) for x in raw_ms]},
    }

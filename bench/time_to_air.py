"""Figure 2 — ad-hoc time to air: ``broadcaster say`` (a whole CLI process) → chime onset and
→ speech onset at the sink, with the offline voice.

Each announcement has new words (so its speech is synthesized while the chime plays, as a
real one would be) and finishes before the next command is given.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import (
    MONITOR_BIAS_MS,
    REPO,
    TimedDaemon,
    first_loud,
    harness,
    log,
    pulse,
    row,
    summary,
)

TARGET_CHIME_MS = 100.0  # issue 28's goal (issue 9 asked ≤ 300 ms)
TARGET_FIRST_MS = 300.0  # the first one after a start, while the daemon still pre-renders
_NUMBERS = ["một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín", "mười"]


def _text(i: int) -> str:
    a, b = _NUMBERS[i % 10], _NUMBERS[(i // 10) % 10]
    return f"Kính thưa bà con, đây là thông báo thử nghiệm {b} {a} của đài truyền thanh xã. Xin cảm ơn."


def first_after_start(pa: pulse.PulseServer, chime_lead: float, runs: int) -> tuple[list[float], int]:
    """``say`` right after each fresh start ('sẵn sàng'), while the daemon still pre-renders.

    The project is the shipped campaign's scripts (a real pre-render to do, cache warm after the
    first start) with the default voices (the online one fails here: no Internet), as an
    operator's first announcement of the day meets it.
    """
    from bench.footprint import make_project

    chime_ms: list[float] = []
    failures = 0
    with tempfile.TemporaryDirectory(prefix="bench-first-say-") as tmp:
        project = make_project(Path(tmp))
        project.voice = "gtts, espeak"
        project.save()
        warm = TimedDaemon(project, pa.env).start(timeout=60)
        warm.wait_for("Đã chuẩn bị sẵn giọng đọc", timeout=120)
        warm.terminate()
        for i in range(runs):
            daemon = TimedDaemon(project, pa.env).start(timeout=60)
            try:
                rec = pa.record()
                time.sleep(0.2)  # the recorder running; the daemon is pre-rendering
                mark = len(daemon.lines)
                t_cmd = time.time()
                r = daemon.cli("say", _text(100 + i))
                if r.returncode != 0:
                    failures += 1
                    continue
                daemon.wait_for("KẾT THÚC adhoc:", timeout=60, start=mark)
                recording = rec.stop()
            finally:
                daemon.terminate()
            onset = first_loud(recording.samples, recording.rate, start_s=t_cmd - recording.t0_wall)
            if onset is None:
                failures += 1
                continue
            chime_ms.append((recording.t0_wall + onset - t_cmd) * 1000)
    return chime_ms, failures


def run(pa: pulse.PulseServer, quick: bool = False) -> dict:
    n = 6 if quick else 24
    from broadcaster.programme import load_levelled
    from broadcaster.speech.audio import CHIME_LUFS, RATE

    chime = load_levelled(REPO / "audio" / "chime.wav", CHIME_LUFS)
    chime_lead = first_loud(chime, RATE) or 0.0
    chime_len = len(chime) / RATE

    with tempfile.TemporaryDirectory(prefix="bench-say-") as tmp:
        project = harness.Project(Path(tmp), chime=True, voice="espeak")
        project.save()
        daemon = TimedDaemon(project, pa.env).start()
        commands: list[tuple[float, float, int, int]] = []
        daemon_ms: list[float] = []
        failures = 0
        try:
            daemon.wait_for("Đã chuẩn bị sẵn giọng đọc", timeout=60)  # warmed up, as after any start
            rec = pa.record()
            log(f"  time to air: {n} × 'broadcaster say'")
            for i in range(n):
                time.sleep(1.0)
                mark = len(daemon.lines)
                t_cmd = time.time()
                r = daemon.cli("say", _text(i))
                t_ret = time.time()
                if r.returncode != 0:
                    failures += 1
                    log(f"  say failed: {r.stderr.strip()}")
                    continue
                daemon.wait_for("KẾT THÚC adhoc:", timeout=60, start=mark)
                commands.append((t_cmd, t_ret, mark, i))
                found = daemon.find("từ lúc nhận lệnh đến khi phát:", mark)
                if found:
                    daemon_ms.append(float(found[1].split(":")[-1].split("ms")[0]))
            time.sleep(0.3)
            recording = rec.stop()
        finally:
            daemon.terminate()
        rows = [r for r in project.asrun_rows() if r["source"] == "adhoc"]
        # The voice's own leading silence, from the very renders the daemon aired (now cached):
        # what is left of the chime→speech pause after it is what the player inserted.
        from broadcaster.speech.audio import RATE
        from broadcaster.speech.render import SpeechRenderer

        renderer = SpeechRenderer(Path(tmp) / "audio" / "cache", voice=("espeak",))
        voice_lead = [first_loud(renderer.render(_text(i)).samples, RATE) or 0.0 for i in range(n)]

    chime_ms, speech_ms, cli_ms, gap_ms, inserted_ms = [], [], [], [], []
    t0 = recording.t0_wall
    for t_cmd, t_ret, _, i in commands:
        onset = first_loud(recording.samples, recording.rate, start_s=t_cmd - t0)
        if onset is None:
            failures += 1
            continue
        chime_start = onset - chime_lead
        speech = first_loud(recording.samples, recording.rate, start_s=chime_start + chime_len)
        chime_ms.append((t0 + onset - t_cmd) * 1000)
        cli_ms.append((t_ret - t_cmd) * 1000)
        if speech is not None:
            speech_ms.append((t0 + speech - t_cmd) * 1000)
            gap_ms.append((speech - chime_start - chime_len) * 1000)
            inserted_ms.append(gap_ms[-1] - voice_lead[i] * 1000)
    log(f"  time to air: the first 'say' after a start, {2 if quick else 6} starts")
    first_ms, first_failures = first_after_start(pa, chime_lead, 2 if quick else 6)
    failures += first_failures
    played = sum(r["status"] == "played" for r in rows)
    engines = sorted({e for r in rows for e in __import__("json").loads(r["engines"] or "{}").values()})
    s_chime = summary(chime_ms)
    met = bool(chime_ms) and failures == 0 and s_chime["p99"] - MONITOR_BIAS_MS <= TARGET_CHIME_MS
    lead_lo, lead_hi = round(min(voice_lead) * 1000), round(max(voice_lead) * 1000)
    lead_txt = f"{lead_lo} ms" if lead_lo == lead_hi else f"{lead_lo}–{lead_hi} ms"
    notes = [
        f"{n} announcements, each new text (≈4 s of speech) rendered by espeak-ng while the "
        f"{chime_len:.1f} s chime plays; timed from just before the `broadcaster say` process is spawned "
        "to the first sample above −40 dBFS at the sink (recording bias −4.8 ms: true values are up to 5 ms later).",
        "Speech onset = first audible sample after the chime's last sample. The pause between chime end and "
        f"speech is mostly the voice's own leading silence (espeak-ng's render starts with {lead_txt} of it, "
        "measured on the very renders that aired); what remains is the silence the player inserted waiting "
        "for speech (≈0 when it was ready before the chime ended; slightly negative here by the recording's "
        f"{MONITOR_BIAS_MS:+.1f} ms bias). As-run: {played}/{len(rows)} played, engines {engines}.",
    ]
    if failures:
        notes.append(f"{failures} announcement(s) failed or never reached the sink.")
    return {
        "id": "time_to_air",
        "title": "2. Ad-hoc time to air (`broadcaster say` → sink)",
        "rows": [
            row("say → chime onset", "ms", s_chime, target=f"≤ {TARGET_CHIME_MS:g} ms", met=met),
            row(
                "first say after a start (pre-render still running) → chime onset",
                "ms",
                summary(first_ms),
                target=f"≤ {TARGET_FIRST_MS:g} ms",
                met=bool(first_ms) and summary(first_ms)["p99"] - MONITOR_BIAS_MS <= TARGET_FIRST_MS,
            ),
            row("say → speech onset", "ms", summary(speech_ms)),
            row("pause between chime end and speech onset", "ms", summary(gap_ms)),
            row("of which inserted by the player (pause − voice's leading silence)", "ms", summary(inserted_ms)),
            row("`say` CLI process wall time", "ms", summary(cli_ms)),
            row("daemon's own request → first sample (log)", "ms", summary(daemon_ms)),
        ],
        "notes": notes,
    }

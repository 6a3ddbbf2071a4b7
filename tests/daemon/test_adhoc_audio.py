"""Ad-hoc announcements through a real daemon to a real (null) sound card, recorded at the sink."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pytest

from tests.support import pulse
from tests.support.harness import SHORT_TEXT, Daemon, Project, local_now

pytestmark = [pytest.mark.audio, pytest.mark.slow]


def _chime():
    from broadcaster.speech.audio import decode_file
    from tests.support.harness import REPO

    return decode_file(REPO / "audio" / "chime.wav")


def _best_correlation(samples: np.ndarray, start: int, reference: np.ndarray, rate: int) -> float:
    """Normalised correlation of ``reference``'s first 0.5 s with the recording near ``start`` (±30 ms)."""
    n, slack = int(0.5 * rate), int(0.03 * rate)
    ref = reference[:n]
    best = 0.0
    for lag in range(max(0, start - slack), start + slack):
        seg = samples[lag : lag + n]
        if seg.size < n:
            break
        best = max(best, float(np.dot(seg, ref) / (np.linalg.norm(seg) * np.linalg.norm(ref) + 1e-12)))
    return best


def test_say_while_idle_chime_reaches_the_sink_quickly_then_speech(tmp_path, pulse_server):
    project = Project(tmp_path)
    project.save()
    daemon = Daemon(project, pulse_server.env).start()
    try:
        daemon.wait_for("Đã chuẩn bị sẵn giọng đọc", timeout=20)  # warmed up, as after any start
        rec = pulse_server.record()
        time.sleep(0.3)
        t_cmd = time.time()
        r = daemon.cli("say", SHORT_TEXT)
        assert r.returncode == 0, r.stderr
        daemon.wait_for("KẾT THÚC adhoc:", timeout=30)
        recording = rec.stop()
    finally:
        daemon.terminate()
    onsets = [recording.wall_time(s) for s in pulse.find_onsets(recording.samples, recording.rate, min_gap_s=0.3)]
    assert onsets, "nothing reached the sink"
    first = onsets[0]
    assert 0 <= first - t_cmd <= 0.5, f"chime reached the sink {1000 * (first - t_cmd):.0f} ms after the command"
    # The chime is what arrives first, then speech follows: sound continues well past the chime.
    start = int((first - recording.t0_wall) * recording.rate)
    assert _best_correlation(recording.samples, start, _chime(), recording.rate) > 0.8, (
        "the first sound is not the chime"
    )
    loud = np.abs(recording.samples[start:]) > 10 ** (-40 / 20)
    assert loud.nonzero()[0].max() / recording.rate > 3.0, "speech should follow the chime"
    row = [r for r in project.asrun_rows() if r["source"] == "adhoc"][-1]
    assert row["status"] == "played" and row["priority"] == "normal"


def test_emergency_cuts_a_long_broadcast_airs_and_the_broadcast_replays(tmp_path, pulse_server):
    project = Project(tmp_path)
    project.write_script("dai", " ".join(["Kính thưa toàn thể nhân dân trong xã, đây là bản tin dài."] * 5))
    at = local_now().replace(microsecond=0) + timedelta(seconds=7)
    project.slot("dai", at, play=[{"script": "dai"}])
    project.save()
    daemon = Daemon(project, pulse_server.env).start()
    try:
        daemon.wait_for("BẮT ĐẦU dai", timeout=20)
        time.sleep(max(0.0, at.timestamp() + 3 - time.time()))
        mark = len(daemon.lines)
        r = daemon.cli("say", "--priority", "emergency", "Khẩn cấp: nước sông đang lên nhanh.")
        assert r.returncode == 0 and "KHẨN CẤP" in r.stdout, r.stdout + r.stderr
        daemon.wait_for("KẾT THÚC adhoc:", timeout=30, start=mark)
        daemon.wait_for("BẮT ĐẦU dai", timeout=10, start=mark)  # the replay
        daemon.wait_for("đã phát", timeout=90, start=len(daemon.lines) - 1)
    finally:
        daemon.terminate()
    rows = project.asrun_rows()
    sequence = [(r["source"], r["priority"], r["status"]) for r in rows]
    assert sequence == [
        ("schedule", "normal", "interrupted"),
        ("adhoc", "emergency", "played"),
        ("schedule", "normal", "played"),
    ], sequence
    assert "khẩn cấp" in (rows[0]["error"] or "")
    assert 1.0 < rows[0]["duration_s"] < 6.0, "cut about 3 s in, not at the end"
    assert rows[2]["duration_s"] > rows[0]["duration_s"] + 5, "the replay airs from the start to the end"
    assert rows[0]["key"] == rows[2]["key"]

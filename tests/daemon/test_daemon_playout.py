"""The daemon end to end: real subprocess, real PulseAudio null sink, real SQLite, real files.

Each test records the sink's monitor and checks that the sound really arrived, when it should.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import soundfile as sf

from tests.support import pulse
from tests.support.harness import Daemon, Project, local_now

pytestmark = [pytest.mark.audio, pytest.mark.slow]

ON_TIME_S = 0.100  # the bound; the benchmark measures the real figure


def _onsets(recording) -> list[float]:
    return [recording.wall_time(s) for s in pulse.find_onsets(recording.samples, recording.rate, min_gap_s=1.5)]


def _near(onsets: list[float], target: float, within: float) -> float | None:
    best = min(onsets, key=lambda t: abs(t - target), default=None)
    return best if best is not None and abs(best - target) <= within else None


def test_scheduled_slots_play_on_time_and_are_logged(tmp_path, pulse_server):
    project = Project(tmp_path)
    t0 = local_now().replace(microsecond=0)
    a, b = t0 + timedelta(seconds=8), t0 + timedelta(seconds=16)
    project.slot("sang", a)
    project.slot("chieu", b)
    project.save()
    rec = pulse_server.record()
    daemon = Daemon(project, pulse_server.env).start()
    try:
        daemon.wait_for("KẾT THÚC sang", timeout=30)
        daemon.wait_for("KẾT THÚC chieu", timeout=30)
    finally:
        recording = rec.stop()
        assert daemon.terminate() == 0
    onsets = _onsets(recording)
    for planned in (a, b):
        hit = _near(onsets, planned.timestamp(), 1.0)
        assert hit is not None, f"nothing audible near {planned}: onsets {onsets}"
        assert abs(hit - planned.timestamp()) <= ON_TIME_S, f"started {1000 * (hit - planned.timestamp()):+.0f} ms off"
    rows = project.asrun_rows()
    assert [(r["slot"], r["status"]) for r in rows] == [("sang", "played"), ("chieu", "played")]
    assert all(r["duration_s"] > 3 for r in rows)
    assert all("espeak" in r["engines"] for r in rows)


def test_edit_while_running_adds_a_slot_and_a_broken_edit_keeps_the_old_one(tmp_path, pulse_server):
    project = Project(tmp_path)
    t0 = local_now().replace(microsecond=0)
    project.slot("cu", t0 + timedelta(seconds=18))
    project.save()
    daemon = Daemon(project, pulse_server.env).start()
    try:
        # A valid edit: a new slot a few seconds ahead is picked up and plays.
        new_at = t0 + timedelta(seconds=9)
        project.slot("moi", new_at)
        mark = len(daemon.lines)
        project.save()
        daemon.wait_for("Đã nạp lại lịch", timeout=5, start=mark)
        # A broken edit (a tab in the indentation) is refused; the old slots stay.
        mark = len(daemon.lines)
        project.save(project.yaml_text().replace("  - name: cu", "\t- name: cu"))
        refused = daemon.wait_for("TỪ CHỐI", timeout=5, start=mark)
        status = daemon.cli("status", "--json")
        assert status.returncode == 0, status.stderr
        reload = json.loads(status.stdout)["last_reload"]
        assert reload["ok"] is False and any("schedule.yaml:" in e for e in reload["errors"]), reload
        daemon.wait_for("KẾT THÚC moi", timeout=30)
        daemon.wait_for("KẾT THÚC cu", timeout=30)
    finally:
        daemon.terminate()
    assert refused
    played = {r["slot"] for r in project.asrun_rows() if r["status"] == "played"}
    assert played == {"moi", "cu"}
    assert "\t- name: cu" in project.schedule_path.read_text(), "the daemon must never rewrite the operator's file"


def test_output_change_applies_from_the_next_broadcast_without_a_restart(tmp_path, pulse_server):
    """The operator moves the output while a broadcast is on air: that one ends on the sound card,
    the next one goes to the new output; a new grace period applies too. No restart."""
    project = Project(tmp_path)
    t0 = local_now().replace(microsecond=0)
    a, b = t0 + timedelta(seconds=8), t0 + timedelta(seconds=18)
    project.slot("truoc", a)
    project.slot("sau", b)
    project.save()
    out = tmp_path / "ban-ghi"
    rec = pulse_server.record()
    daemon = Daemon(project, pulse_server.env).start()
    try:
        daemon.wait_for("BẮT ĐẦU truoc", timeout=20)
        time.sleep(max(0.0, a.timestamp() + 2.0 - time.time()))  # on air: chime done, speech playing
        edited_at = time.time()
        mark = len(daemon.lines)
        project.save(
            project.yaml_text().replace(
                "output: {grace_minutes: 1}", f"output: {{device: 'wav:{out}', grace_minutes: 2}}"
            )
        )
        daemon.wait_for("Đã nạp lại lịch", timeout=5, start=mark)
        changed = daemon.wait_for("Đổi đầu ra âm thanh", timeout=5, start=mark)
        daemon.wait_for("Đổi thời gian cho phép phát muộn: 2 phút", timeout=5, start=mark)
        status = json.loads(daemon.cli("status", "--json").stdout)
        daemon.wait_for("KẾT THÚC truoc", timeout=30)
        daemon.wait_for("KẾT THÚC sau", timeout=30)
    finally:
        recording = rec.stop()
        assert daemon.terminate() == 0
    assert f"wav:{out}" in changed
    assert status["output"]["kind"] == "wav", status["output"]
    assert "khởi động lại" not in daemon.log()
    rows = {r["slot"]: r for r in project.asrun_rows()}
    assert rows["truoc"]["status"] == "played" and rows["sau"]["status"] == "played"
    # the one on air when the output changed finished on the sound card, to its end
    onsets = _onsets(recording)
    assert _near(onsets, a.timestamp(), ON_TIME_S) is not None, f"'truoc' not heard at the sink: {onsets}"
    last = pulse.find_silence_after(recording.samples, recording.rate, start_s=a.timestamp() - recording.t0_wall)
    assert last is not None
    last_wall = recording.wall_time(last)
    assert last_wall > edited_at + 1.0
    assert last_wall > a.timestamp() + rows["truoc"]["duration_s"] - 2.0, "'truoc' was cut short at the sink"
    # the next one went to the new output, not to the sound card
    assert _near(onsets, b.timestamp(), 2.0) is None, f"'sau' still reached the sound card: {onsets}"
    files = sorted(out.glob("*.wav"))
    assert len(files) == 1, files
    info = sf.info(str(files[0]))
    assert abs(info.duration - rows["sau"]["duration_s"]) < 0.1


def test_sound_server_dies_mid_broadcast_then_next_slot_plays(tmp_path, pulse_server):
    project = Project(tmp_path)
    project.write_script("dai", " ".join(["Kính thưa toàn thể nhân dân trong xã."] * 12))
    t0 = local_now().replace(microsecond=0)
    on_air = t0 + timedelta(seconds=7)
    project.slot("dai", on_air, play=[{"script": "dai"}])
    later = t0 + timedelta(seconds=22)
    project.slot("sau", later)
    project.save()
    daemon = Daemon(project, pulse_server.env).start()
    try:
        daemon.wait_for("BẮT ĐẦU dai", timeout=20)
        time.sleep(max(0.0, on_air.timestamp() + 2.5 - time.time()))  # well into the broadcast
        pulse_server.kill()
        daemon.wait_for("KẾT THÚC dai", timeout=15)
        during = daemon.cli("status")  # what the operator sees: the failure, first
        pulse_server.start()
        rec = pulse_server.record()
        daemon.wait_for("KẾT THÚC sau", timeout=30)
        recording = rec.stop()
        after = daemon.cli("status")
    finally:
        daemon.terminate()
    assert during.returncode == 0, during.stderr
    alert = during.stdout.splitlines()[1]
    assert alert.startswith("CẢNH BÁO: Lượt phát gần nhất (dai) KHÔNG phát được: "), during.stdout
    assert "Hôm nay: 1 lỗi" in during.stdout
    assert "CẢNH BÁO" not in after.stdout, after.stdout
    if later.date() == on_air.date():  # both on the same local day (not across midnight)
        today = next(line for line in after.stdout.splitlines() if line.startswith("Hôm nay:"))
        assert "1 đã phát" in today and "1 lỗi" in today, today
    rows = {r["slot"]: r for r in project.asrun_rows()}
    assert rows["dai"]["status"] == "failed" and rows["dai"]["error"], rows["dai"]
    assert rows["sau"]["status"] == "played", rows["sau"]
    assert _near(_onsets(recording), later.timestamp(), 0.5) is not None


def test_sigkill_then_restart_gives_interrupted_and_missed(tmp_path, pulse_server):
    project = Project(tmp_path)
    project.write_script("dai", " ".join(["Kính thưa toàn thể nhân dân trong xã."] * 12))
    t0 = local_now().replace(microsecond=0)
    project.slot("dang-phat", t0 + timedelta(seconds=6), play=[{"script": "dai"}])
    project.slot("qua-gio", t0 + timedelta(seconds=10))
    project.save()
    daemon = Daemon(project, pulse_server.env, extra=["--grace-minutes", "0.05"]).start()
    daemon.wait_for("BẮT ĐẦU dang-phat", timeout=20)
    daemon.kill()
    # Down for longer than the grace period (3 s) past 'qua-gio'.
    time.sleep(max(0.0, (t0 + timedelta(seconds=14)).timestamp() - time.time()))
    daemon2 = Daemon(project, pulse_server.env, extra=["--grace-minutes", "0.05"]).start()
    daemon2.terminate()
    rows = project.asrun_rows()
    by_slot = {}
    for r in rows:
        by_slot.setdefault(r["slot"], []).append(r["status"])
    assert by_slot["dang-phat"] == ["interrupted"], rows
    assert by_slot["qua-gio"] == ["missed"], rows

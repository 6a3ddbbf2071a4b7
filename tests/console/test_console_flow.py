"""A phone-sized browser drives the real daemon; what it sends is heard at the PulseAudio null sink."""

from __future__ import annotations

import subprocess
import time
from datetime import timedelta

import numpy as np
import pytest

from tests.console.console_helpers import add_user, audit_lines, base_url, login
from tests.support import pulse
from tests.support.harness import Daemon, Project, local_now

pytestmark = [pytest.mark.audio, pytest.mark.slow, pytest.mark.browser]

PHONE = {"width": 360, "height": 740}
LOUD = 10 ** (-40 / 20)


def _loud_between(recording, start: float, end: float) -> bool:
    """True when the recording holds sound between two wall-clock times."""
    t0 = recording.wall_time(0.0)
    a, b = int(max(0.0, start - t0) * recording.rate), int(max(0.0, end - t0) * recording.rate)
    return bool(np.any(np.abs(recording.samples[a:b]) > LOUD))


@pytest.fixture
def project(tmp_path):
    p = Project(tmp_path)
    p.write_script("dai", " ".join(["Kính thưa toàn thể nhân dân trong xã, đây là bản tin dài."] * 5))
    add_user(p, "lan", "operator")
    return p


def test_operator_on_a_phone_sends_an_emergency_that_cuts_the_scheduled_broadcast(project, pulse_server, chromium):
    at = local_now().replace(microsecond=0) + timedelta(seconds=8)
    project.slot("dai", at, play=[{"script": "dai"}])
    project.save()
    rec = pulse_server.record()
    daemon = Daemon(project, pulse_server.env).start()
    page = chromium.new_page(viewport=PHONE)
    try:
        base = base_url(project.root)
        login(page, base, "lan")
        page.goto(f"{base}/console/phat-ngay")
        page.fill("#text", "Khẩn cấp: nước sông đang lên nhanh, bà con di chuyển lên chỗ cao.")
        page.wait_for_function("document.getElementById('reading').textContent.includes('nước sông')")
        page.check("input[name=priority][value=emergency]")
        daemon.wait_for("BẮT ĐẦU dai", timeout=20)
        time.sleep(max(0.0, at.timestamp() + 3 - time.time()))  # the broadcast is on air
        mark = len(daemon.lines)
        page.click("#send")
        page.wait_for_selector("dialog.confirm[open]")
        assert "CẮT NGAY" in page.inner_text("dialog.confirm")
        confirmed = time.time()
        page.click("#confirm-ok")
        page.wait_for_selector("#result .notice.ok", timeout=10_000)
        assert "KHẨN CẤP" in page.inner_text("#result")
        daemon.wait_for("KẾT THÚC adhoc:", timeout=30, start=mark)
        # the overview says what is on air now (the replay of the cut broadcast)
        page.goto(f"{base}/console/tong-quan")
        page.wait_for_selector("#onair-body strong", timeout=10_000)
    finally:
        page.close()
        recording = rec.stop()
        assert daemon.terminate() == 0
    rows = project.asrun_rows()
    sequence = [(r["source"], r["priority"], r["status"]) for r in rows[:2]]
    assert sequence == [("schedule", "normal", "interrupted"), ("adhoc", "emergency", "played")], sequence
    assert "khẩn cấp" in (rows[0]["error"] or "")
    assert rows[1]["by_user"] == "lan"
    assert _loud_between(recording, at.timestamp(), confirmed), "the scheduled broadcast was heard before the cut"
    assert _loud_between(recording, confirmed, confirmed + 3.0), "the emergency is heard right after the confirm"
    onsets = [recording.wall_time(s) for s in pulse.find_onsets(recording.samples, recording.rate, min_gap_s=0.3)]
    assert any(abs(t - at.timestamp()) < 1.0 for t in onsets), onsets
    said = [e for e in audit_lines(project.root) if e["action"] == "say"]
    assert said and said[-1]["who"] == "lan" and said[-1]["where"] == "console 127.0.0.1"


def test_a_phone_recording_uploaded_from_the_page_airs(project, pulse_server, chromium, tmp_path):
    project.save()
    m4a = tmp_path / "ghi-am-dien-thoai.m4a"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=660:duration=3",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            str(m4a),
        ],
        check=True,
        timeout=30,
    )
    rec = pulse_server.record()
    daemon = Daemon(project, pulse_server.env).start()
    page = chromium.new_page(viewport=PHONE)
    try:
        base = base_url(project.root)
        login(page, base, "lan")
        page.goto(f"{base}/console/phat-ngay")
        page.check("input[name=kind][value=file]")
        page.set_input_files("#file", str(m4a))
        page.wait_for_selector("#upload-state.ok", timeout=20_000)
        assert "Đã nhận tệp ghi âm (3 giây)" in page.inner_text("#upload-state")
        page.uncheck("#chime")
        sent = time.time()
        page.click("#send")
        page.wait_for_selector("#result .notice.ok", timeout=10_000)
        daemon.wait_for("KẾT THÚC adhoc:", timeout=30)
    finally:
        page.close()
        recording = rec.stop()
        assert daemon.terminate() == 0
    row = [r for r in project.asrun_rows() if r["source"] == "adhoc"][-1]
    assert row["status"] == "played" and row["by_user"] == "lan" and 2.5 < row["duration_s"] < 4.0
    assert _loud_between(recording, sent, sent + 3.0)
    uploads = list((project.root / "audio" / "uploads").glob("*.m4a"))
    assert len(uploads) == 1 and uploads[0].name.endswith(".m4a") and "lan" in uploads[0].name


def test_a_text_file_named_m4a_is_refused_on_the_page(project, chromium, tmp_path):
    project.save()
    fake = tmp_path / "khong-phai-am-thanh.m4a"
    fake.write_text("đây là chữ, không phải âm thanh", encoding="utf-8")
    daemon = Daemon(project, {}, output=f"wav:{tmp_path / 'out'}").start()
    page = chromium.new_page(viewport=PHONE)
    try:
        login(page, base_url(project.root), "lan")
        page.goto(f"{base_url(project.root)}/console/phat-ngay")
        page.check("input[name=kind][value=file]")
        page.set_input_files("#file", str(fake))
        page.wait_for_selector("#upload-state.error", timeout=20_000)
        assert "không phải âm thanh" in page.inner_text("#upload-state")
    finally:
        page.close()
        assert daemon.terminate() == 0
    assert not list((project.root / "audio" / "uploads").glob("*.m4a"))

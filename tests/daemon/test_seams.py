"""Review and trial defects at the daemon's seams, each on a real daemon over real sockets.

* ``/`` leads to the console (its login page when not logged in), not "Not Found";
* a broadcast airing only in a zone other than the first shows in status, and ``stop --zone``
  cuts exactly that zone;
* adding ``zones:`` and restarting does not air again what already aired;
* a second ``broadcaster run`` on the same station is refused with a clear message.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.harness import BROADCASTER, Daemon, Project, local_now

pytestmark = pytest.mark.slow

LONG_TEXT = " ".join(["Kính thưa bà con, đây là bản tin thử nghiệm rất dài của đài truyền thanh xã."] * 12)


def zoned(project: Project, root: Path) -> None:
    """The project's schedule with two card zones written as WAV practice outputs (real time)."""
    project.save(
        project.yaml_text()
        + "zones:\n"
        + f"  trung-tam: {{device: 'wav:{root / 'wav-a'}'}}\n"
        + f"  thon-dong: {{device: 'wav:{root / 'wav-b'}'}}\n"
    )


def test_the_root_url_leads_to_the_console_login(tmp_path):
    project = Project(tmp_path)
    project.save()
    daemon = Daemon(project, {}, output="null").start()
    try:
        port = json.loads((project.root / "state" / "daemon.json").read_text())["port"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200
            assert r.url.rstrip("/").endswith("/console/dang-nhap") or "/console/dang-nhap" in r.url
            assert "Đăng nhập" in r.read().decode()
    finally:
        daemon.terminate()


def test_a_zone_other_than_the_first_shows_on_air_and_stop_cuts_only_that_zone(tmp_path):
    project = Project(tmp_path, chime=False)
    zoned(project, tmp_path)
    daemon = Daemon(project, {}).start()
    try:
        code, body = daemon.api("POST", "/api/announcements", {"text": LONG_TEXT, "zones": ["thon-dong"]})
        assert code == 202, body
        deadline = time.monotonic() + 20
        status: dict = {}
        while time.monotonic() < deadline:
            _, status = daemon.api("GET", "/api/status")
            if status.get("now_playing"):
                break
            time.sleep(0.1)
        assert status["now_playing"] and status["now_playing"]["zone"] == "thon-dong", status
        assert [a["zone"] for a in status["on_air"]] == ["thon-dong"]
        assert "ĐANG PHÁT" in daemon.cli("status").stdout

        quiet = daemon.cli("stop", "--zone", "trung-tam")
        assert quiet.returncode == 0 and "không phát" in quiet.stdout, quiet.stdout + quiet.stderr
        assert daemon.api("GET", "/api/status")[1]["now_playing"], "stopping another zone left it on air"
        unknown = daemon.cli("stop", "--zone", "khong-co")
        assert unknown.returncode != 0 and "khong-co" in unknown.stderr
        done = daemon.cli("stop", "--zone", "thon-dong")
        assert done.returncode == 0 and "thon-dong" in done.stdout, done.stdout + done.stderr
        daemon.wait_for("KẾT THÚC", timeout=10)
    finally:
        daemon.terminate()
    rows = project.asrun_rows()
    assert [(r["zone"], r["status"]) for r in rows] == [("thon-dong", "interrupted")]


def test_adding_zones_and_restarting_does_not_air_again_what_already_aired(tmp_path):
    project = Project(tmp_path, chime=False)
    project.slot("sang", local_now().replace(microsecond=0) + timedelta(seconds=6))
    project.save()
    daemon = Daemon(project, {}, output="null").start()
    try:
        daemon.wait_for("KẾT THÚC sang", timeout=40)
    finally:
        daemon.terminate()
    assert [(r["zone"], r["status"]) for r in project.asrun_rows()] == [(None, "played")]

    zoned(project, tmp_path)  # the same slot, now airing in two zones; still within grace
    again = Daemon(project, {}).start()
    try:
        time.sleep(2)  # a catch-up would have queued (and started) it by now
        assert "Phát muộn" not in again.log() and "BỎ LỠ" not in again.log(), again.log()
    finally:
        again.terminate()
    assert [(r["zone"], r["status"]) for r in project.asrun_rows()] == [(None, "played")]


def test_a_second_run_on_the_same_station_is_refused(tmp_path):
    project = Project(tmp_path)
    project.save()
    first = Daemon(project, {}, output="null").start()
    try:
        second = subprocess.run(
            [*BROADCASTER, "run", "--schedule", str(project.schedule_path), "--port", "0", "--output", "null"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        assert "ĐANG CHẠY" in second.stderr and "Traceback" not in second.stderr, second.stderr
        code, _ = first.api("GET", "/api/status")
        assert code == 200, "the first station keeps running"
    finally:
        first.terminate()


@pytest.mark.audio
def test_a_second_station_on_the_same_sound_card_is_refused(tmp_path, pulse_server):
    first_project, second_project = Project(tmp_path / "a"), Project(tmp_path / "b")
    first_project.save()
    second_project.save()
    first = Daemon(first_project, pulse_server.env).start()
    try:
        second = subprocess.run(
            [*BROADCASTER, "run", "--schedule", str(second_project.schedule_path), "--port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **pulse_server.env},
        )
        assert second.returncode != 0
        assert "Card âm thanh" in second.stderr and "đang được một Loa xã khác dùng" in second.stderr, second.stderr
        assert str(first_project.root / "state") in second.stderr, "it names the station that holds the card"
    finally:
        first.terminate()

"""The control API of a real daemon over loopback: auth, refusals, fuzzing. Output goes to WAV files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.harness import Daemon, Project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    project = Project(root)
    (root / "audio" / "secret.txt").write_text("not audio")
    project.save()
    d = Daemon(project, {}, output=f"wav:{root / 'out'}").start()
    yield d
    assert d.terminate() == 0


def _aired(d: Daemon) -> int:
    return len(d.project.asrun_rows())


def test_token_file_is_private(daemon):
    mode = stat.S_IMODE(os.stat(daemon.project.root / "state" / "api-token").st_mode)
    assert mode == 0o600


@pytest.mark.parametrize("token", [None, "", "sai-ma", "x" * 5000])
def test_requests_without_the_right_token_are_refused_and_nothing_airs(daemon, token):
    before = _aired(daemon)
    code, body = daemon.api("POST", "/api/announcements", {"text": "không được phát"}, token=token)
    assert code == 401 and "mã truy cập" in body["error"]
    code, _ = daemon.api("GET", "/api/status", token=token)
    assert code == 401
    time.sleep(0.3)
    assert _aired(daemon) == before


@pytest.mark.parametrize(
    "body, code, words",
    [
        ({"audio": "../../../etc/passwd"}, 400, "audio/"),
        ({"audio": "/etc/passwd"}, 400, "audio/"),
        ({"audio": "audio/../schedule.yaml"}, 400, "audio/"),
        ({"audio": "audio/secret.txt"}, 400, "WAV"),
        ({"audio": "audio/khong-co.wav"}, 400, "Không tìm thấy"),
        ({"script": "../schedule"}, 400, "Không có bài đọc"),
        ({"script": "khong-co"}, 400, "Không có bài đọc"),
        ({"text": "   "}, 400, "trống"),
        ({"text": "a" * 5001}, 400, "Thông báo quá dài (5001 ký tự, tối đa 5000). Hãy chia nhỏ."),
        ({"text": "x", "priority": "urgent"}, 400, "emergency (khẩn cấp)"),
        ({"text": "x", "repeat": 100}, 400, "từ 1 đến 5"),
        ({"text": "x", "repeat": "hai"}, 422, "số lần đọc (repeat): sai kiểu dữ liệu"),
        ({"text": "x", "script": "thu"}, 400, "đúng một"),
        ({}, 400, "đúng một"),
        ({"text": "x", "bogus": 1}, 422, "không được hỗ trợ"),
    ],
)
def test_bad_announcements_get_a_vietnamese_4xx_and_nothing_airs(daemon, body, code, words):
    before = _aired(daemon)
    got, answer = daemon.api("POST", "/api/announcements", body)
    assert got == code, answer
    assert words in answer["error"]
    time.sleep(0.2)
    assert _aired(daemon) == before


def test_absurd_sizes_are_refused_before_parsing(daemon):
    code, answer = daemon.api("POST", "/api/announcements", raw=b'{"text": "' + b"a" * 300_000 + b'"}')
    assert code == 413 and "quá lớn" in answer["error"]
    code, answer = daemon.api("POST", "/api/announcements", raw=b"{not json")
    assert code == 422 and "JSON" in answer["error"]


def test_cancel_unknown_is_404(daemon):
    code, answer = daemon.api("DELETE", "/api/queue/999999")
    assert code == 404 and "hàng chờ" in answer["error"]


def test_a_valid_announcement_airs_and_is_logged(daemon):
    code, answer = daemon.api(
        "POST", "/api/announcements", {"text": "Kính thưa bà con, thông báo thử.", "by": "kiểm thử"}
    )
    assert code == 202, answer
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = [r for r in daemon.project.asrun_rows() if r["source"] == "adhoc" and r["status"] == "played"]
        if rows:
            break
        time.sleep(0.1)
    assert rows and json.loads(rows[-1]["items"]) == ["text:Kính thưa bà con, thông báo thử."]
    wavs = list((daemon.project.root / "out").glob("*.wav"))
    assert wavs, "the announcement should have been written to the WAV output"


def test_fuzzing_the_openapi_description_finds_no_server_error(daemon):
    info = json.loads((daemon.project.root / "state" / "daemon.json").read_text())
    token = (daemon.project.root / "state" / "api-token").read_text().strip()
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"http://127.0.0.1:{info['port']}/openapi.json",
            "-H",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "30",
            "--generation-deterministic",
            "--request-timeout",
            "20",
            "--rate-limit",
            "9/s",
        ],  # below the API's per-client limit for writes, so every case reaches the logic
        capture_output=True,
        text=True,
        timeout=300,
        cwd=daemon.project.root,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    import re

    counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counts and counts[1] == counts[2] and int(counts[1]) >= 50, result.stdout[-4000:]


def test_binding_beyond_loopback_needs_an_explicit_option(tmp_path):
    project = Project(tmp_path)
    project.save()
    from tests.support.harness import BROADCASTER

    r = subprocess.run(
        [
            *BROADCASTER,
            "run",
            "--schedule",
            str(project.schedule_path),
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--output",
            f"wav:{tmp_path / 'out'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert "--allow-remote" in r.stderr and "Traceback" not in r.stderr


def test_a_missing_sound_card_is_said_at_once_to_say_and_in_status(tmp_path):
    project = Project(tmp_path)
    project.save()
    d = Daemon(project, {}, output="khong-co-loa-nay").start()
    try:
        said = d.cli("say", "Kính thưa bà con, thông báo thử.")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(r["status"] == "failed" for r in project.asrun_rows()):
            time.sleep(0.1)
        status = d.cli("status")
    finally:
        assert d.terminate() == 0
    assert said.returncode == 0, said.stderr
    assert "CẢNH BÁO: chưa tìm thấy thiết bị âm thanh 'khong-co-loa-nay'" in said.stdout, said.stdout
    rows = project.asrun_rows()
    assert [r["status"] for r in rows] == ["failed"] and rows[0]["error"], rows
    alerts = [line for line in status.stdout.splitlines() if line.startswith("CẢNH BÁO: ")]
    assert alerts[0].startswith("CẢNH BÁO: Chưa tìm thấy thiết bị âm thanh 'khong-co-loa-nay': kiểm tra"), status.stdout
    assert "KHÔNG phát được" in alerts[1], status.stdout


def test_a_refusal_reads_the_same_through_the_daemon_and_directly(daemon, tmp_path):
    """One judge of announcements: the words of a refusal do not depend on the path (trial item 7)."""
    from broadcaster.adhoc import AdhocRefused, make_request
    from broadcaster.schedule.load import load_schedule

    schedule = load_schedule(daemon.project.root / "schedule.yaml").schedule
    for body in (
        {"text": "ạ" * 20_000},
        {"text": "x", "repeat": 9},
        {"text": "x", "priority": "gấp"},
        {"audio": "audio/secret.txt"},
    ):
        with pytest.raises(AdhocRefused) as direct:
            make_request(schedule, **body)
        code, answer = daemon.api("POST", "/api/announcements", body)
        assert code == 400 and answer["error"] == str(direct.value)


def test_a_runaway_client_gets_429_in_vietnamese_while_say_still_works(tmp_path):
    """Hammering status or posting without the token never uses up what say/stop need."""
    project = Project(tmp_path)
    project.save()
    d = Daemon(project, {}, output=f"wav:{tmp_path / 'out'}").start()
    try:
        reads = [d.api("GET", "/api/status", wait_if_limited=False) for _ in range(250)]
        codes = [code for code, _ in reads]
        assert 429 in codes and set(codes) <= {200, 429}
        refusal = next(answer for code, answer in reads if code == 429)["error"]
        assert "Quá nhiều yêu cầu" in refusal and "thử lại" in refusal
        anon = [d.api("POST", "/api/stop", {}, token="sai", wait_if_limited=False)[0] for _ in range(40)]
        assert anon.count(429) >= 10 and set(anon) <= {401, 429}
        code, answer = d.api("POST", "/api/stop", {}, wait_if_limited=False)
        assert code == 200, answer
    finally:
        assert d.terminate() == 0


def test_every_operator_action_lands_in_the_audit_trail_and_it_verifies(tmp_path):
    """say, stop and a hand edit of the schedule (with its diff) are audited, with who and from where."""
    from broadcaster import audit

    project = Project(tmp_path)
    project.save()
    d = Daemon(project, {}, output=f"wav:{tmp_path / 'out'}").start()
    try:
        code, _ = d.api("POST", "/api/announcements", {"text": "Thông báo thử", "by": "cán bộ văn hóa"})
        assert code == 202
        d.api("POST", "/api/stop", {})
        project.save(project.yaml_text().replace("gap_seconds: 1", "gap_seconds: 2"))
        d.wait_for("Đã nạp lại lịch", timeout=10)
    finally:
        assert d.terminate() == 0
    path = tmp_path / "state" / "audit.jsonl"
    entries = list(audit.entries(path))
    actions = [e.action for e in entries]
    assert actions[:2] == ["say", "stop"] and "schedule_edit" in actions
    say = entries[0]
    assert say.who == "cán bộ văn hóa" and say.where == "api 127.0.0.1" and say.detail["text"] == "Thông báo thử"
    edit = next(e for e in entries if e.action == "schedule_edit")
    assert "+  gap_seconds: 2" in edit.detail["diff"] and "-  gap_seconds: 1" in edit.detail["diff"]
    assert audit.verify(path) == []
    assert project.asrun_rows()[0]["by_user"] == "cán bộ văn hóa"  # the as-run log says who asked

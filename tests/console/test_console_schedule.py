"""Lịch phát and Bài đọc over real HTTP on a real daemon: roles, validated saves, versions, scripts, preview."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from broadcaster.schedule.versions import text_sha256
from tests.console.console_helpers import add_user, audit_lines, base_url, http_login, login
from tests.support.harness import Daemon, Project, hhmmss, local_now

pytestmark = pytest.mark.slow

COMMENT = "# Ghi chú của cán bộ văn hóa: không sửa giờ buổi sáng khi chưa hỏi trưởng thôn"


def commented(text: str) -> str:
    """The harness schedule with an operator's comments (which every edit must keep)."""
    text = COMMENT + "\n" + text
    text = text.replace("  - name: sang\n", "  # buổi sáng: tin thử\n  - name: sang\n")
    return text.replace("  voice: [espeak]", "  voice: [espeak]   # giọng ngoại tuyến")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("lich")
    project = Project(root)
    now = local_now()
    project.slot("sang", now + timedelta(hours=2))
    project.slot("toi", now + timedelta(hours=3))
    project.save(commented(project.yaml_text()))
    for name, role in (("quan", "admin"), ("lan", "operator"), ("xem", "viewer")):
        add_user(project, name, role)
    d = Daemon(project, {}, output=f"wav:{root / 'out'}").start()
    yield d
    assert d.terminate() == 0


@pytest.fixture(scope="module")
def clients(daemon: Daemon):  # noqa: ANN201
    base = base_url(daemon.project.root)
    made = {name: http_login(base, name) for name in ("quan", "lan", "xem")}
    yield made
    for client, _ in made.values():
        client.close()


def post(clients: dict, who: str, url: str, body: dict, csrf: bool = True) -> httpx.Response:
    client, token = clients[who]
    return client.post(url, json=body, headers={"X-CSRF-Token": token} if csrf else {})


def schedule_text(daemon: Daemon) -> str:
    return daemon.project.schedule_path.read_text(encoding="utf-8")


def test_anyone_logged_in_sees_the_timeline_from_the_plan(daemon: Daemon, clients: dict) -> None:
    client, _ = clients["xem"]
    r = client.get("/console/api/schedule/timeline", params={"days": 2})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["base"] == text_sha256(schedule_text(daemon))
    assert data["can_edit"] is False and data["can_restore"] is False
    today = data["days"][0]
    assert today["today"] is True and today["label"].startswith(("Thứ", "Chủ Nhật"))
    assert [b["slot"] for b in today["broadcasts"]] == ["sang", "toi"]
    assert today["broadcasts"][0]["items"] == ["script:thu"] and today["broadcasts"][0]["enabled"] is True
    assert httpx.get(base_url(daemon.project.root) + "/console/api/schedule/timeline").status_code == 401
    assert client.get("/console/api/schedule/timeline", params={"start": "hôm qua"}).status_code == 400


def test_viewer_and_missing_csrf_cannot_edit(daemon: Daemon, clients: dict) -> None:
    before = schedule_text(daemon)
    body = {"base": text_sha256(before), "enabled": False}
    r = post(clients, "xem", "/console/api/schedule/slots/sang", body)
    assert r.status_code == 403 and "không được làm việc này" in r.json()["error"]
    r = post(clients, "lan", "/console/api/schedule/slots/sang", body, csrf=False)
    assert r.status_code == 403
    assert schedule_text(daemon) == before


def test_operator_edit_is_saved_keeps_comments_versions_audits_and_reloads(daemon: Daemon, clients: dict) -> None:
    client, _ = clients["lan"]
    form = client.get("/console/api/schedule/slots/toi").json()
    assert form["form"]["name"] == "toi" and form["can_edit"] is True
    start = len(daemon.lines)
    body = {"base": form["base"], "enabled": False, "times": ["20:30"]}
    r = post(clients, "lan", "/console/api/schedule/slots/toi", body)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "saved" and r.json()["version"]["who"] == "lan"
    text = schedule_text(daemon)
    assert COMMENT in text and "# buổi sáng: tin thử" in text and "# giọng ngoại tuyến" in text
    assert 'at: "20:30"' in text and "enabled: false" in text
    daemon.wait_for("Đã nạp lại lịch", timeout=15, start=start)
    timeline = client.get("/console/api/schedule/timeline", params={"days": 1}).json()
    toi = [b for b in timeline["days"][0]["broadcasts"] if b["slot"] == "toi"]
    assert toi and toi[0]["enabled"] is False and toi[0]["time"] == "20:30"
    versions = client.get("/console/api/schedule/versions").json()["versions"]
    assert versions[0]["who"] == "lan" and "tắt" in versions[0]["reason"] and "20:30" in versions[0]["reason"]
    edits = [e for e in audit_lines(daemon.project.root) if e["action"] == "schedule_edit" and e["who"] == "lan"]
    assert edits and edits[-1]["where"].startswith("console 127.0.0.1")


def test_a_bad_edit_is_refused_with_its_line_and_the_file_untouched(daemon: Daemon, clients: dict) -> None:
    client, _ = clients["lan"]
    before = schedule_text(daemon)
    form = client.get("/console/api/schedule/slots/sang").json()
    r = post(clients, "lan", "/console/api/schedule/slots/sang", {"base": form["base"], "times": ["25:61"]})
    assert r.status_code == 400, r.text
    answer = r.json()
    assert answer["status"] == "invalid" and "25:61" in answer["error"]
    line = answer["errors"][0]["line"]
    assert before.splitlines()[line - 1].strip().startswith("at:")
    assert schedule_text(daemon) == before


def test_stale_base_and_unknown_slot(daemon: Daemon, clients: dict) -> None:
    client, _ = clients["lan"]
    r = post(clients, "lan", "/console/api/schedule/slots/sang", {"base": "0" * 64, "enabled": False})
    assert r.status_code == 409 and r.json()["error"] == "Lịch vừa được sửa ở nơi khác — tải lại trang rồi sửa lại"
    r = client.get("/console/api/schedule/slots/khong-co")
    assert r.status_code == 404 and "Không có buổi phát 'khong-co'" in r.json()["error"]


def test_only_admins_restore(daemon: Daemon, clients: dict) -> None:
    client, _ = clients["quan"]
    versions = client.get("/console/api/schedule/versions").json()
    assert versions["can_restore"] is True
    oldest = versions["versions"][-1]
    r = post(clients, "lan", f"/console/api/schedule/versions/{oldest['id']}/restore", {})
    assert r.status_code == 403
    r = post(clients, "quan", f"/console/api/schedule/versions/{oldest['id']}/restore", {})
    assert r.status_code == 200, r.text
    assert r.json()["version"]["reason"] == f"khôi phục phiên bản số {oldest['id']}"
    assert "enabled: false" not in schedule_text(daemon) and COMMENT in schedule_text(daemon)
    r = post(clients, "quan", "/console/api/schedule/versions/999/restore", {})
    assert r.status_code == 400 and "Không có phiên bản số 999" in r.json()["error"]


def test_scripts_list_read_and_reading(daemon: Daemon, clients: dict) -> None:
    client, _ = clients["xem"]
    scripts = client.get("/console/api/scripts").json()["scripts"]
    assert [s["name"] for s in scripts] == ["thu"] and scripts[0]["used_by"] == ["sang", "toi"]
    got = client.get("/console/api/scripts/thu").json()
    assert got["text"].startswith("Kính thưa bà con") and got["reading"].startswith("Kính thưa bà con")
    r = post(clients, "xem", "/console/api/scripts/reading", {"text": "Họp lúc 7h30 ngày 21/4"})
    assert r.status_code == 200 and not re.search(r"\d", r.json()["reading"]), r.json()
    r = client.put(
        "/console/api/scripts/thu", json={"text": "x", "base": got["base"]}, headers={"X-CSRF-Token": clients["xem"][1]}
    )
    assert r.status_code == 403


@pytest.mark.parametrize("name", ["..%2Fschedule", "..", ".hidden", "a.b", "%2Fetc%2Fpasswd", "thu%00"])
def test_script_path_traversal_is_refused(daemon: Daemon, clients: dict, name: str) -> None:
    client, token = clients["lan"]
    before = schedule_text(daemon)
    r = client.put(f"/console/api/scripts/{name}", json={"text": "hack: 1"}, headers={"X-CSRF-Token": token})
    assert r.status_code in (400, 404, 405), r.text  # '..' is folded by the client into another route
    assert client.get(f"/console/api/scripts/{name}").status_code in (400, 404)
    assert schedule_text(daemon) == before
    assert sorted(p.name for p in (daemon.project.root / "scripts_vi").iterdir()) == ["thu.txt"]
    assert not (daemon.project.root / "etc").exists()


def test_operator_saves_a_script_atomically_with_audit(daemon: Daemon, clients: dict) -> None:
    client, token = clients["lan"]
    got = client.get("/console/api/scripts/thu").json()
    new_text = "Kính thưa bà con, tối nay 19h họp thôn."
    r = client.put(
        "/console/api/scripts/thu", json={"text": new_text, "base": got["base"]}, headers={"X-CSRF-Token": token}
    )
    assert r.status_code == 200, r.text
    path = daemon.project.root / "scripts_vi" / "thu.txt"
    assert path.read_text(encoding="utf-8") == new_text + "\n"
    assert "mười chín giờ" in r.json()["reading"]
    stale = client.put(
        "/console/api/scripts/thu", json={"text": "khác", "base": got["base"]}, headers={"X-CSRF-Token": token}
    )
    assert stale.status_code == 409 and "vừa được sửa ở nơi khác" in stale.json()["error"]
    empty = client.put("/console/api/scripts/moi", json={"text": "   "}, headers={"X-CSRF-Token": token})
    assert empty.status_code == 400 and "trống" in empty.json()["error"]
    edits = [e for e in audit_lines(daemon.project.root) if e["action"] == "script_edit" and e["who"] == "lan"]
    assert edits and edits[-1]["detail"]["script"] == "thu"
    deadline = time.monotonic() + 30  # the watcher sees the console's save (debounced)
    while not any("Đã nạp lại lịch" in line and "thu.txt" in line for line in daemon.lines):
        assert time.monotonic() < deadline, daemon.log()
        time.sleep(0.1)
    by_hand = [e for e in audit_lines(daemon.project.root) if e["action"] == "script_edit" and e["who"] != "lan"]
    assert by_hand == [], "the console's save was audited a second time as a hand edit"


def test_preview_returns_wav(daemon: Daemon, clients: dict) -> None:
    r = post(clients, "lan", "/console/api/scripts/preview", {"text": "Xin chào bà con."})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav" and r.content[:4] == b"RIFF" and len(r.content) > 10_000
    r = post(clients, "xem", "/console/api/scripts/preview", {"text": "Xin chào"})
    assert r.status_code == 403
    r = post(clients, "lan", "/console/api/scripts/preview", {"text": "  "})
    assert r.status_code == 400 and "Chưa có nội dung" in r.json()["error"]


# -- the browser: an operator moves a slot to a minute from now and it airs ---------------------


@pytest.fixture
def airing_project(tmp_path: Path):  # noqa: ANN201
    project = Project(tmp_path)
    project.slot("sang", local_now() + timedelta(hours=2))
    project.save(commented(project.yaml_text()))
    add_user(project, "lan", "operator")
    d = Daemon(project, {}, output=f"wav:{tmp_path / 'out'}").start()
    yield d
    assert d.terminate() == 0


def played(project: Project, slot: str) -> list[dict]:
    return [r for r in project.asrun_rows() if r["slot"] == slot and r["status"] == "played"]


@pytest.mark.browser
def test_operator_moves_a_slot_in_the_browser_and_it_airs(airing_project: Daemon, chromium) -> None:  # noqa: ANN001
    d = airing_project
    base = base_url(d.project.root)
    page = chromium.new_page(viewport={"width": 360, "height": 740})  # a phone
    try:
        login(page, base, "lan")
        page.goto(f"{base}/console/lich-phat")
        chip = page.locator('.slot-chip[data-slot="sang"]').first
        chip.wait_for(timeout=10_000)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # no sideways scroll
        chip.click()
        page.wait_for_selector("#slot-editor:not([hidden])", timeout=10_000)
        new_time = hhmmss(local_now() + timedelta(seconds=45))
        page.fill("#f-times", new_time)
        start = len(d.lines)
        page.click("#f-save")
        page.wait_for_selector("#slot-editor[hidden]", state="attached", timeout=10_000)
        page.wait_for_selector(f'.slot-chip[data-slot="sang"][data-time="{new_time}"]', timeout=10_000)
    finally:
        page.close()
    text = d.project.schedule_path.read_text(encoding="utf-8")
    assert COMMENT in text and "# buổi sáng: tin thử" in text and f'at: "{new_time}"' in text
    d.wait_for("Đã nạp lại lịch", timeout=15, start=start)
    deadline = time.monotonic() + 120
    while not played(d.project, "sang") and time.monotonic() < deadline:
        time.sleep(0.5)
    rows = played(d.project, "sang")
    assert rows, "the moved slot did not air:\n" + d.log()
    assert hhmmss_of(rows[0]["planned_at"]) == new_time


def hhmmss_of(iso: str) -> str:
    return hhmmss(datetime.fromisoformat(iso))

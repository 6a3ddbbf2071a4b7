"""The console on a 360 px phone, after an operator trial: layout, audit in words, contrast, zones, time.

One daemon with three zones — two WAV "card" zones and an Icecast zone whose server is down — and
a trail of real actions (announcements, a slot saved from the console, a hand edit of the file, a
script saved, a user added), so every page has long, real content. Every page is opened by every
role that may open it at 360 px; nothing may be wider than the phone. The browser of the last test
runs in UTC, as the commune PC whose clock was left on UTC: every time shown is still station time.
"""

from __future__ import annotations

import inspect
import re
import socket
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from broadcaster.schedule.versions import text_sha256
from tests.console.console_helpers import (
    PASSWORD,
    PHONE_WIDTH,
    add_user,
    base_url,
    contrast,
    http_login,
    is_on_top,
    login,
    page_width,
    wider_than,
)
from tests.support.harness import Daemon, Project, local_now, write_silent_wav

PHONE = {"width": PHONE_WIDTH, "height": 740}
USERS = {"quantri": "admin", "lan": "operator", "chutich": "approver", "xem": "viewer"}
ICECAST_PASSWORD = "bi-mat-nguon-icecast"
LONG_SCRIPT = "thong_bao_lich_tiem_phong_vac_xin_cho_tre_em_duoi_5_tuoi_tai_tram_y_te_xa"
HEX = re.compile(r"[0-9a-f]{40,}")
STATION_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def free_port() -> int:
    """A loopback port nothing listens on (the Icecast server of zone thon-bac is 'down')."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("console-mobile")
    project = Project(root, chime=False)
    now = local_now()
    project.slot("sang", now + timedelta(hours=2))
    project.slot("toi", now + timedelta(hours=3))
    project.write_script(LONG_SCRIPT, "Kính thưa bà con, trạm y tế xã tổ chức tiêm phòng vào sáng thứ Bảy.")
    write_silent_wav(root / "audio" / "dai.wav", 120)
    port = free_port()
    text = project.yaml_text() + (
        "zones:\n"
        f"  trung-tam: {{device: 'wav:{root / 'wav-trung-tam'}'}}\n"
        f"  thon-dong: {{device: 'wav:{root / 'wav-thon-dong'}'}}\n"
        f"  thon-bac: {{icecast: 'http://127.0.0.1:{port}/thon-bac', delay_ms: 0}}\n"
    )
    project.save(text)
    for name, role in USERS.items():
        add_user(project, name, role)
    daemon = Daemon(project, {"LOA_XA_ICECAST_PASSWORD": ICECAST_PASSWORD}).start()
    daemon.icecast_port = port  # type: ignore[attr-defined]
    base = base_url(root)
    admin, csrf = http_login(base, "quantri")
    headers = {"X-CSRF-Token": csrf}
    long_text = "Thông báo: xem chi tiết tại " + "https://xa-thu-nghiem.gov.vn/thong-bao/" + "a" * 90 + " nhé."
    r = admin.post(
        "/console/api/phat-ngay", json={"text": long_text, "chime": False, "zones": ["trung-tam"]}, headers=headers
    )
    assert r.status_code == 200, r.text
    base_text = project.schedule_path.read_text(encoding="utf-8")
    r = admin.post(
        "/console/api/schedule/slots/toi", json={"base": text_sha256(base_text), "times": ["19:30"]}, headers=headers
    )
    assert r.status_code == 200 and r.json()["ok"], r.text
    old = (root / "scripts_vi" / f"{LONG_SCRIPT}.txt").read_text(encoding="utf-8")
    r = admin.put(
        f"/console/api/scripts/{LONG_SCRIPT}",
        json={"text": old.strip() + " Mang theo sổ tiêm chủng.", "base": text_sha256(old)},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    r = admin.post(
        "/console/api/nguoi-dung",
        json={"name": "nguyenvanbinh.thonbac", "role": "viewer", "password": PASSWORD},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    mark = len(daemon.lines)
    project.save(
        project.schedule_path.read_text(encoding="utf-8").replace("repeat: 1\n    play", "repeat: 2\n    play", 1)
    )
    daemon.wait_for("Đã nạp lại lịch", timeout=20, start=mark)
    admin.close()
    yield daemon
    assert daemon.terminate() == 0


def status(daemon: Daemon) -> dict[str, Any]:
    code, data = daemon.api("GET", "/api/status")
    assert code == 200, data
    return data


def wait_status(daemon: Daemon, done: Any, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = status(daemon)
        if done(data):
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.2)


def zone_of(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(z for z in data["zones"] if z["name"] == name)


def quiet(daemon: Daemon) -> None:
    """Nothing on air in any zone (what a previous test started is stopped)."""
    if any(z["now_playing"] for z in status(daemon)["zones"]):
        daemon.api("POST", "/api/stop", {})
    wait_status(daemon, lambda s: not any(z["now_playing"] for z in s["zones"]))


def send(daemon: Daemon, body: dict[str, Any]) -> None:
    client, csrf = http_login(base_url(daemon.project.root), "lan")
    try:
        r = client.post("/console/api/phat-ngay", json={"chime": False, **body}, headers={"X-CSRF-Token": csrf})
    finally:
        client.close()
    assert r.status_code == 200, r.text


def settle(page: Any, slug: str) -> None:
    """Until the page has drawn what its API calls returned (Tổng quan keeps a live stream open)."""
    if slug == "tong-quan":
        page.wait_for_selector("#conn:has-text('Đang cập nhật')", timeout=10_000)
    else:
        page.wait_for_load_state("networkidle", timeout=15_000)
    page.wait_for_timeout(300)


def phone(chromium: Any, **options: Any) -> Any:
    # is_mobile: a page wider than the phone widens the layout viewport as on a real phone, and what
    # then overlaps a button intercepts the tap (the trial's "Thêm người dùng" under the users table)
    context = chromium.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True, **options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    return context, page


# -- 1. nothing wider than the phone; "Thêm người dùng" can be pressed ---------------------------


@pytest.mark.parametrize("name", list(USERS))
@pytest.mark.slow
@pytest.mark.browser
def test_no_page_is_wider_than_a_phone_for_any_role(station: Daemon, chromium: Any, name: str) -> None:
    base = base_url(station.project.root)
    context, page = phone(chromium)
    try:
        page.goto(f"{base}/console/dang-nhap")
        assert page_width(page) <= PHONE_WIDTH, wider_than(page)
        login(page, base, name)
        slugs = [p["slug"] for p in page.evaluate("me()")["pages"]]
        assert "tong-quan" in slugs and ("nguoi-dung" in slugs) == (name == "quantri")
        for slug in slugs:
            page.goto(f"{base}/console/{slug}")
            settle(page, slug)
            for fold in page.query_selector_all("details"):  # folded details open wide too
                fold.evaluate("(d) => { d.open = true; }")
            if slug == "lich-phat":
                page.click(".slot-chip[data-slot=sang]")
                page.wait_for_selector("#slot-editor:not([hidden])")
            page.click("nav.topbar .menu-toggle")
            assert page_width(page) <= PHONE_WIDTH, (slug, name, wider_than(page))
        assert not page.js_errors, page.js_errors
    finally:
        context.close()


@pytest.mark.slow
@pytest.mark.browser
def test_the_add_user_button_can_be_pressed_on_a_phone(station: Daemon, chromium: Any) -> None:
    base = base_url(station.project.root)
    context, page = phone(chromium)
    try:
        login(page, base, "quantri")
        page.goto(f"{base}/console/nguoi-dung")
        settle(page, "nguoi-dung")
        page.fill("#new-name", "tranthihoa")
        page.select_option("#new-role", "operator")
        page.fill("#new-password", "ngan")
        page.click("#add-button", timeout=5_000)
        page.wait_for_selector("#toast .notice.error:has-text('Mật khẩu quá ngắn')")
        page.click("#add-button", timeout=5_000)  # the same refusal again: one message, not a pile
        page.wait_for_timeout(500)
        assert page.locator("#toast .notice").count() == 1
        page.fill("#new-password", PASSWORD)
        page.locator("#add-button").scroll_into_view_if_needed()
        assert is_on_top(page, "#add-button"), "something covers 'Thêm người dùng'"
        page.click("#add-button", timeout=5_000)  # no force: Playwright checks nothing covers it
        page.wait_for_selector("#users td:has-text('tranthihoa')")
        assert page_width(page) <= PHONE_WIDTH, wider_than(page)
    finally:
        context.close()


# -- 2. the audit trail in words -----------------------------------------------------------------


def test_each_audited_action_reads_as_a_sentence() -> None:
    from broadcaster.console.audit_text import describe_entry

    diff = [
        "--- trước",
        "+++ sau",
        "@@ -14,3 +14,3 @@",
        "   - name: sang",
        "-    at: '06:00'",
        '+    at: "06:30"',
        "     dates: [2026-04-21]",
    ]
    edit = describe_entry(
        "schedule_edit",
        {"version": 3, "reason": "buổi 'sang': giờ 06:00 → 06:30", "sha256": "ab" * 32, "diff": diff},
        seq=9,
        entry_hash="cd" * 32,
    )
    assert edit["summary"] == "Sửa lịch: giờ 06:00 → 06:30 ở buổi 'sang' — phiên bản số 3"
    assert edit["changes"] == [{"where": "buổi 'sang'", "before": "giờ: 06:00", "after": "giờ: 06:30"}]
    assert not HEX.search(edit["summary"] + str(edit["changes"]))
    assert any("ab" * 32 in t for t in edit["technical"]) and "cd" * 32 in edit["integrity"]
    by_hand = describe_entry(
        "schedule_edit",
        {
            "diff": [
                "@@ -5,3 +5,3 @@",
                "     priority: normal",
                "-    repeat: 1",
                "+    repeat: 2",
                "-    enabled: true",
                "+    enabled: false",
                "-    days: [mon, sat]",
                "+    days: [sun]",
            ]
        },
    )
    assert by_hand["summary"].startswith("Sửa trực tiếp tệp lịch")
    assert [(c["before"], c["after"]) for c in by_hand["changes"]] == [
        ("số lần đọc: 1", "số lần đọc: 2"),
        ("đang bật", "đã tắt"),
        ("thứ: T2, T7", "thứ: CN"),
    ]
    secret = describe_entry(
        "schedule_edit",
        {"diff": ["-  x: {icecast: 'http://source:hunter2@h:8000/m'}", "+  x: {icecast: 'http://h:8000/m'}"]},
    )
    assert "hunter2" not in str(secret)
    restored = describe_entry("schedule_edit", {"version": 7, "restored": 4, "reason": "khôi phục phiên bản số 4"})
    assert restored["summary"] == "Khôi phục lịch về phiên bản số 4 — phiên bản số 7"
    script = describe_entry(
        "script_edit",
        {"script": "tin-sang", "created": False, "sha256": "ef" * 32, "diff": ["@@ -1 +1 @@", "-Cũ.", "+Mới."]},
    )
    assert script["summary"] == "Sửa bài đọc 'tin-sang'" and script["changes"][0] == {
        "where": None,
        "before": "Cũ.",
        "after": "Mới.",
    }
    assert describe_entry("script_edit", {"script": "moi", "created": True})["summary"] == "Tạo bài đọc mới 'moi'"
    assert "tin-sang.txt" in describe_entry("script_edit", {"files": ["tin-sang.txt"]})["summary"]
    said = describe_entry(
        "say",
        {"key": "adhoc:1a2b", "priority": "emergency", "text": "Nước lên nhanh.", "repeat": 3, "zones": ["thon-dong"]},
    )
    assert said["summary"] == "Phát ngay văn bản «Nước lên nhanh.» (mức khẩn cấp, đọc 3 lần, vùng thon-dong)"
    assert "adhoc:1a2b" not in said["summary"] and any("adhoc:1a2b" in t for t in said["technical"])
    assert describe_entry("play", {"audio": "audio/x.wav", "priority": "normal", "repeat": 1})["summary"] == (
        "Phát ngay tệp âm thanh 'audio/x.wav' (mọi vùng)"
    )
    assert describe_entry("stop", {"title": "Tin sáng", "key": "k"})["summary"] == "Dừng «Tin sáng»"
    assert describe_entry("stop", None)["summary"] == "Bấm Dừng khi không có bản tin nào đang phát"
    assert describe_entry("stop", {"cut": [{"title": "Tin sáng", "zone": "thon-dong"}], "zones": ["thon-dong"]})[
        "summary"
    ] == ("Dừng «Tin sáng» (vùng thon-dong)")
    assert describe_entry("cancel", {"title": "Tin chiều", "key": "k"})["summary"] == "Hủy lượt chờ «Tin chiều»"
    assert describe_entry("approve", {"kind": "script", "name": "tin", "code": "A1B2", "note": ""})["summary"] == (
        "Duyệt bài đọc 'tin' (mã A1B2)"
    )
    assert describe_entry("reject", {"kind": "text", "name": "Họp thôn", "code": "C3", "note": "sai giờ"})[
        "summary"
    ] == ("Từ chối văn bản «Họp thôn» (mã C3) — lý do: sai giờ")
    assert describe_entry("review", {"id": 2, "title": "Bão"})["summary"] == "Đã xem lại bản tin khẩn cấp «Bão»"
    assert describe_entry("user_change", {"user": "hoa", "change": "add", "role": "viewer"})["summary"] == (
        "Thêm người dùng 'hoa' (vai trò: chỉ xem)"
    )
    assert describe_entry("user_change", {"user": "hoa", "change": "khoá"})["summary"] == "Người dùng 'hoa': khoá"
    assert describe_entry("login", None)["summary"] == ""
    cut = describe_entry("audit_mismatch", {"reason": "mốc ghi 9 dòng nhưng tệp chỉ còn 7", "file_lines": 7})
    assert cut["summary"].startswith("CẢNH BÁO: nhật ký thao tác không khớp mốc — mốc ghi 9 dòng")
    assert "hunter2" not in describe_entry("future_action", {"password": "hunter2", "zone": "a"})["summary"]


@pytest.mark.slow
@pytest.mark.browser
def test_the_audit_trail_shows_what_was_done_not_diffs_and_hashes(station: Daemon, chromium: Any) -> None:
    base = base_url(station.project.root)
    context, page = phone(chromium)
    try:
        login(page, base, "quantri")
        page.goto(f"{base}/console/nguoi-dung")
        settle(page, "nguoi-dung")
        shown = page.inner_text("#audit")
        assert "Sửa lịch: giờ" in shown and "→ 19:30 ở buổi 'toi'" in shown, shown
        assert "Sửa trực tiếp tệp lịch" in shown
        assert f"Sửa bài đọc '{LONG_SCRIPT}'" in shown
        assert "Thêm người dùng 'nguyenvanbinh.thonbac' (vai trò: chỉ xem)" in shown
        assert "Phát ngay văn bản «Thông báo: xem chi tiết" in shown
        assert not HEX.search(shown), "a hash is shown"
        assert "diff" not in shown and "sha256" not in shown and "@@" not in shown
        row = page.locator("#audit tbody tr", has_text="Sửa trực tiếp tệp lịch").first
        row.locator("details.changes summary").click()
        opened = row.inner_text()
        assert "Trước:" in opened and "số lần đọc: 1" in opened and "Sau:" in opened and "số lần đọc: 2" in opened
        assert not HEX.search(opened)
        tech = page.locator("#audit tbody tr", has_text="Sửa lịch: giờ").first.locator("details.tech")
        tech.locator("summary").click()
        assert HEX.search(tech.inner_text()), "the content hash stays reachable under 'Chi tiết kỹ thuật'"
        assert HEX.search(page.get_attribute("#audit tbody tr td[data-label='Lúc']", "title") or "")
        assert page.locator("#audit tbody tr", has_text="đăng nhập").first.locator("details").count() == 0
        assert page_width(page) <= PHONE_WIDTH, wider_than(page)
    finally:
        context.close()


# -- 3. a slot stays readable after a save ------------------------------------------------------


@pytest.mark.slow
@pytest.mark.browser
def test_a_slot_just_saved_keeps_readable_text(station: Daemon, chromium: Any) -> None:
    base = base_url(station.project.root)
    context, page = phone(chromium)
    try:
        login(page, base, "lan")
        page.goto(f"{base}/console/lich-phat")
        settle(page, "lich-phat")
        page.click(".slot-chip[data-slot=sang]")
        page.wait_for_selector("#slot-editor:not([hidden])")
        selected = contrast(page, ".slot-chip[data-slot=sang] .when")
        assert selected and min(selected) >= 4.5, selected
        page.fill("#f-times", "06:45")
        page.click("#f-save")
        page.wait_for_selector("#toast .notice.ok:has-text('Đã lưu lịch')")
        page.wait_for_selector(".slot-chip[data-slot=sang][data-time='06:45']")
        chip = ".slot-chip[data-slot=sang]"
        texts = f"{chip} .when, {chip} .what"
        states = {"right after saving": contrast(page, texts)}
        page.hover(chip)
        states["under the pointer"] = contrast(page, texts)
        page.focus(chip)
        states["focused"] = contrast(page, texts)
        page.mouse.move(0, 0)
        states["every chip"] = contrast(page, ".slot-chip .when, .slot-chip .what")
        low = {state: min(values) for state, values in states.items() if not values or min(values) < 4.5}
        assert not low, f"text contrast under 4.5:1 after a save: {low}"
        assert "vừa lưu" in page.inner_text(chip)
    finally:
        context.close()


# -- 4 and 5. Tổng quan: each zone's address, what airs in every zone, stop all / one zone ----------


@pytest.mark.slow
@pytest.mark.browser
def test_a_zone_line_shows_its_mount_address_never_the_password(station: Daemon, chromium: Any) -> None:
    base = base_url(station.project.root)
    port = station.icecast_port  # type: ignore[attr-defined]
    assert zone_of(status(station), "thon-bac")["output"]["connected"] is False
    context, page = phone(chromium)
    try:
        login(page, base, "xem")
        page.goto(f"{base}/console/tong-quan")
        settle(page, "tong-quan")
        line = page.inner_text("#zones li[data-zone=thon-bac]")
        assert f"http://127.0.0.1:{port}/thon-bac" in line, line
        assert "mất kết nối" in line and "kiểm tra máy chủ Icecast" in line
        assert ICECAST_PASSWORD not in page.content()
        assert page_width(page) <= PHONE_WIDTH, wider_than(page)
    finally:
        context.close()


@pytest.mark.slow
@pytest.mark.browser
def test_tong_quan_shows_what_airs_in_a_zone_other_than_the_first_and_stops_it(station: Daemon, chromium: Any) -> None:
    quiet(station)
    send(station, {"audio": "audio/dai.wav", "zones": ["thon-dong"]})
    data = wait_status(station, lambda s: zone_of(s, "thon-dong")["now_playing"])
    assert zone_of(data, "trung-tam")["now_playing"] is None  # the first zone rests, the second airs
    base = base_url(station.project.root)
    context, page = phone(chromium)
    try:
        login(page, base, "lan")
        page.goto(f"{base}/console/tong-quan")
        settle(page, "tong-quan")
        block = page.locator("#onair-body .zone-onair[data-zone=thon-dong]")
        block.wait_for(timeout=10_000)
        assert "dai" in block.inner_text() and "Đã phát" in block.inner_text()
        assert block.get_by_role("button", name=re.compile("Dừng vùng này")).is_visible()
        assert page.is_visible("#stop-button")
        assert page_width(page) <= PHONE_WIDTH, wider_than(page)
        page.click("#stop-button")
        page.wait_for_selector("#toast .notice.ok:has-text('Đã dừng')")
        wait_status(station, lambda s: not any(z["now_playing"] for z in s["zones"]))
        page.wait_for_selector("#onair-body:has-text('Không có bản tin nào đang phát')", timeout=10_000)
        assert page.is_hidden("#stop-button")
    finally:
        context.close()


def _stop_takes_zones() -> bool:
    """Whether ``POST /console/api/dung`` reads a ``{"zones": [...]}`` body (live.py, another change)."""
    from broadcaster.console import live

    return len(inspect.signature(live.stop).parameters) > 2


@pytest.mark.skipif(not _stop_takes_zones(), reason="needs the zones body of /console/api/dung")
@pytest.mark.slow
@pytest.mark.browser
def test_dung_vung_nay_stops_that_zone_only(station: Daemon, chromium: Any) -> None:
    quiet(station)
    send(station, {"audio": "audio/dai.wav", "zones": ["trung-tam", "thon-dong"]})
    wait_status(station, lambda s: zone_of(s, "trung-tam")["now_playing"] and zone_of(s, "thon-dong")["now_playing"])
    base = base_url(station.project.root)
    context, page = phone(chromium)
    requests: list[Any] = []
    page.on("request", lambda r: requests.append(r) if r.url.endswith("/console/api/dung") else None)
    try:
        login(page, base, "lan")
        page.goto(f"{base}/console/tong-quan")
        settle(page, "tong-quan")
        page.locator(".zone-onair[data-zone=thon-dong]").get_by_role("button", name=re.compile("Dừng vùng này")).click()
        page.wait_for_selector("#toast .notice.ok")
        after = wait_status(station, lambda s: not zone_of(s, "thon-dong")["now_playing"])
        assert zone_of(after, "trung-tam")["now_playing"], "the other zone must go on"
        assert requests and requests[0].post_data_json == {"zones": ["thon-dong"]}
        page.wait_for_selector(".zone-onair[data-zone=thon-dong]", state="detached", timeout=5_000)
        assert page.is_visible(".zone-onair[data-zone=trung-tam]") and page.is_visible("#stop-button")
    finally:
        context.close()
        quiet(station)


# -- 6. station time on a PC left on UTC --------------------------------------------------------


def station_clock(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(STATION_TZ).strftime("%H:%M %d/%m/%Y")


@pytest.mark.slow
@pytest.mark.browser
def test_a_browser_on_utc_shows_station_time(station: Daemon, chromium: Any) -> None:
    base = base_url(station.project.root)
    assert status(station)["campaign"]["timezone"] == "Asia/Ho_Chi_Minh"
    context, page = phone(chromium, timezone_id="UTC")
    try:
        login(page, base, "quantri")
        assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") in ("UTC", "Etc/UTC")
        page.goto(f"{base}/console/tong-quan")
        settle(page, "tong-quan")
        upcoming = status(station)["next"]
        assert upcoming, "the schedule has slots ahead"
        shown = page.inner_text("#next li strong >> nth=0")
        assert shown == station_clock(upcoming[0]["at"]), (shown, upcoming[0]["at"])
        admin, _ = http_login(base, "quantri")  # logged in (and audited) before the page is read
        page.goto(f"{base}/console/nguoi-dung")
        settle(page, "nguoi-dung")
        try:
            newest = admin.get("/console/api/nhat-ky-thao-tac", params={"limit": 1}).json()["entries"][0]
        finally:
            admin.close()
        first_row = page.locator("#audit tbody tr").first
        assert first_row.locator("td[data-label='Lúc']").inner_text() == station_clock(newest["at"])
        page.goto(f"{base}/console/lich-phat")
        settle(page, "lich-phat")
        versions = httpx.get(f"{base}/console/api/schedule/versions", cookies=context_cookies(context)).json()[
            "versions"
        ]
        assert station_clock(versions[0]["at"]) in page.inner_text("#versions li >> nth=0")
    finally:
        context.close()


def context_cookies(context: Any) -> dict[str, str]:
    return {c["name"]: c["value"] for c in context.cookies()}

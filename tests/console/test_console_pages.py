"""Nhật ký, Người dùng and the screenshots, in a real browser against a real daemon (WAV output)."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest

from tests.console.console_helpers import PASSWORD, add_user, audit_lines, base_url, http_login, login
from tests.support.harness import Daemon, Project

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PAGES = ("dang-nhap", "tong-quan", "phat-ngay", "lich-phat", "bai-doc", "nhat-ky", "duyet", "nguoi-dung")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("console-pages")
    project = Project(root)
    project.save()
    add_user(project, "quantri", "admin")
    add_user(project, "lan", "operator")
    d = Daemon(project, {}, output=f"wav:{root / 'out'}").start()
    client, csrf = http_login(base_url(root), "lan")
    for text in ("Bản tin thứ nhất.", "Bản tin thứ hai."):
        r = client.post("/console/api/phat-ngay", json={"text": text, "chime": False}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200, r.text
    deadline = time.monotonic() + 30
    while sum(r["status"] == "played" for r in project.asrun_rows()) < 2:
        assert time.monotonic() < deadline, d.log()
        time.sleep(0.1)
    yield d
    assert d.terminate() == 0


def test_logbook_shows_rows_figures_chart_and_csv(daemon, chromium):
    base = base_url(daemon.project.root)
    page = chromium.new_page(viewport={"width": 360, "height": 740})
    try:
        login(page, base, "lan")
        page.goto(f"{base}/console/nhat-ky")
        page.wait_for_selector("#rows tbody tr td[data-label='Kết quả']")
        assert page.locator("#rows tbody tr").count() == 2
        assert "Phát ngay: Bản tin thứ nhất" in page.inner_text("#rows")
        assert "Đã phát" in page.inner_text("#figures")
        assert page.locator("#chart svg rect[data-outcome=played]").count() == 1
        page.select_option("#ket_qua", "failed")
        page.click("#filters button[type=submit]")
        page.wait_for_selector("text=Không có lượt phát nào khớp bộ lọc")
        href = page.get_attribute("#csv", "href")
    finally:
        page.close()
    client, _ = http_login(base, "lan")
    r = client.get(href)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert table[0][0] == "Thời gian" and len(table) == 3 and {row[6] for row in table[1:]} == {"đã phát"}


def test_admin_adds_and_disables_a_user_and_the_audit_shows_it(daemon, chromium):
    base = base_url(daemon.project.root)
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    try:
        login(page, base, "quantri")
        page.goto(f"{base}/console/nguoi-dung")
        page.fill("#new-name", "hoa")
        page.select_option("#new-role", "viewer")
        page.fill("#new-password", "ngan")
        page.click("#add-button")
        page.wait_for_selector("#toast .notice.error")
        assert "Mật khẩu quá ngắn" in page.inner_text("#toast")
        page.fill("#new-password", PASSWORD)
        page.click("#add-button")
        page.wait_for_selector("#users td:has-text('hoa')")
        hoa, _ = http_login(base, "hoa")
        assert hoa.get("/console/api/toi").json()["role"] == "viewer"
        row = page.locator("#users tr", has_text="hoa")
        row.get_by_role("button", name="Khoá").click()
        page.click("#confirm-ok")
        page.wait_for_selector("#users tr:has-text('hoa') .badge.bad")
        assert hoa.get("/console/api/toi").status_code == 401  # logged out at once
        page.wait_for_selector("#audit td:has-text('thay đổi người dùng')")
    finally:
        page.close()
    changes = [  # the fixture's users were added on the command line (audited there)
        e for e in audit_lines(daemon.project.root) if e["action"] == "user_change" and e["where"].startswith("console")
    ]
    assert [c["detail"]["user"] for c in changes] == ["hoa", "hoa"]
    assert all(c["who"] == "quantri" and c["where"] == "console 127.0.0.1" for c in changes)
    assert PASSWORD not in (daemon.project.root / "state" / "audit.jsonl").read_text(encoding="utf-8")


def save_screenshots(browser, base: str, name: str, folder: Path = SCREENSHOTS) -> list[Path]:
    """Each page at 360 px and 1280 px wide, as ``<slug>-360.png`` / ``<slug>-1280.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for width, height in ((360, 740), (1280, 900)):
        context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
        page = context.new_page()
        try:
            page.goto(f"{base}/console/dang-nhap")
            saved.append(folder / f"dang-nhap-{width}.png")
            page.screenshot(path=str(saved[-1]), full_page=True)
            login(page, base, name)
            for slug in PAGES[1:]:
                page.goto(f"{base}/console/{slug}")
                page.wait_for_load_state("networkidle") if slug != "tong-quan" else page.wait_for_timeout(1500)
                saved.append(folder / f"{slug}-{width}.png")
                page.screenshot(path=str(saved[-1]), full_page=True)
        finally:
            context.close()
    return saved


def test_screenshots_of_every_page_at_phone_and_desktop_width(daemon, chromium):
    saved = save_screenshots(chromium, base_url(daemon.project.root), "quantri")
    assert len(saved) == 2 * len(PAGES)
    assert all(p.stat().st_size > 5_000 for p in saved)


def test_an_approver_approves_a_held_announcement_on_the_duyet_page(tmp_path, chromium):
    project = Project(tmp_path)
    text = project.yaml_text().replace("max_session_minutes: 45}", "max_session_minutes: 45, require_approval: true}")
    project.save(text)
    add_user(project, "lan", "operator")
    add_user(project, "chutich", "approver")
    d = Daemon(project, {}, output=f"wav:{tmp_path / 'out'}").start()
    page = chromium.new_page(viewport={"width": 360, "height": 740})
    try:
        base = base_url(tmp_path)
        operator, csrf = http_login(base, "lan")
        body = {"text": "Mời bà con họp thôn lúc 19 giờ.", "chime": False}
        held = operator.post("/console/api/phat-ngay", json=body, headers={"X-CSRF-Token": csrf})
        assert held.status_code == 403 and "Chưa phát" in held.json()["error"]
        login(page, base, "chutich")
        page.goto(f"{base}/console/duyet")
        page.wait_for_selector("#items li:has-text('Mời bà con họp thôn')")
        assert "mười chín giờ" in page.inner_text("#items")  # the reading, as the voice will say it
        page.get_by_role("button", name="Duyệt", exact=True).click()
        page.wait_for_selector("text=Không có nội dung nào chờ duyệt")
        sent = operator.post("/console/api/phat-ngay", json=body, headers={"X-CSRF-Token": csrf})
        assert sent.status_code == 200, sent.text
    finally:
        page.close()
        assert d.terminate() == 0
    approvals = [e for e in audit_lines(tmp_path) if e["action"] == "approve"]
    assert approvals and approvals[0]["who"] == "chutich" and approvals[0]["where"] == "console 127.0.0.1"

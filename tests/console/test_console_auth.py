"""Console security over real HTTP and a real browser: login, audit, throttle, sessions, roles on every route."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from broadcaster.layout import Layout
from tests.console.console_helpers import PASSWORD, add_user, audit_lines, base_url, http_login, login
from tests.support.harness import Daemon, Project

pytestmark = pytest.mark.slow

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
#: POST routes a logged-in viewer may still call: their own login/logout, and POSTs that change nothing
#: (a text's reading is computed from a body too long for a URL). Reviewed by hand: keep it short.
OPEN_TO_EVERY_USER = {
    ("POST", "/console/api/dang-nhap"),
    ("POST", "/console/api/dang-xuat"),
    ("POST", "/console/api/scripts/reading"),  # schedule_pages: the reading of a text, nothing saved
}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("console-auth")
    project = Project(root)
    project.save()
    for name, role in (("quantri", "admin"), ("lan", "operator"), ("xem", "viewer"), ("duyet", "approver")):
        add_user(project, name, role)
    d = Daemon(project, {}, output=f"wav:{root / 'out'}").start()
    yield d
    assert d.terminate() == 0


def _walk(routes: list, prefix: str = "") -> list[tuple[str, set[str]]]:
    """(path, methods) of every endpoint, also inside included routers (FastAPI ≥ 0.16x keeps them nested)."""
    found: list[tuple[str, set[str]]] = []
    for route in routes:
        nested = getattr(route, "original_router", None)
        if hasattr(route, "build"):  # the console's own app behind one route (daemon/web.py)
            found += _walk(route.routes, prefix)
        elif nested is not None:
            found += _walk(nested.routes, prefix + getattr(route.include_context, "prefix", ""))
        elif getattr(route, "methods", None) and hasattr(route, "endpoint"):
            found.append((prefix + route.path, set(route.methods)))
    return found


def unsafe_routes() -> list[tuple[str, str]]:
    """Every POST/PUT/PATCH/DELETE route of the daemon's app, read from the app itself."""
    from broadcaster.daemon.web import control_app

    fake = SimpleNamespace(layout=Layout.at(Path("/nonexistent")))
    app = control_app(fake, "token")  # type: ignore[arg-type]
    found = []
    for path, methods in _walk(app.routes):
        found += [(m, re.sub(r"\{[^}]+\}", "1", path)) for m in sorted(methods & UNSAFE)]
    return sorted(set(found))


def test_the_route_list_covers_the_console_and_the_api():
    routes = unsafe_routes()
    assert ("POST", "/console/api/phat-ngay") in routes and ("POST", "/api/announcements") in routes
    assert ("DELETE", "/console/api/hang-cho/1") in routes


def test_a_viewer_is_refused_every_state_changing_route(daemon):
    base = base_url(daemon.project.root)
    client, csrf = http_login(base, "xem")
    before = len(daemon.project.asrun_rows())
    checked = 0
    for method, path in unsafe_routes():
        if (method, path) in OPEN_TO_EVERY_USER:
            continue
        r = client.request(method, path, json={"text": "không được phát"}, headers={"X-CSRF-Token": csrf})
        if path.startswith("/console/"):
            assert r.status_code == 403, (method, path, r.status_code, r.text)
            assert "không được" in r.json()["error"], (method, path, r.text)
        else:  # the bearer-token API: a console cookie is not a token
            assert r.status_code == 401, (method, path, r.status_code, r.text)
        checked += 1
    assert checked >= 5
    assert len(daemon.project.asrun_rows()) == before  # nothing aired
    assert client.get("/console/api/trang-thai").status_code == 200  # but the viewer may look


def test_state_changes_need_the_csrf_token_and_a_session(daemon):
    base = base_url(daemon.project.root)
    client, csrf = http_login(base, "lan")
    for headers in ({}, {"X-CSRF-Token": "sai"}, {"X-CSRF-Token": csrf + "x"}):
        r = client.post("/console/api/phat-ngay", json={"text": "không được phát"}, headers=headers)
        assert r.status_code == 403 and "Phiên làm việc hết hạn" in r.json()["error"]
    anonymous = httpx.post(f"{base}/console/api/phat-ngay", json={"text": "x"}, headers={"X-CSRF-Token": csrf})
    assert anonymous.status_code == 401 and "đăng nhập" in anonymous.json()["error"]
    page = httpx.get(f"{base}/console/phat-ngay")
    assert page.status_code == 303 and page.headers["location"].startswith("/console/dang-nhap")
    assert client.post("/console/api/dung", headers={"X-CSRF-Token": csrf}).status_code == 200


def test_pages_follow_roles(daemon):
    base = base_url(daemon.project.root)
    viewer, _ = http_login(base, "xem")
    assert viewer.get("/console/tong-quan").status_code == 200
    assert viewer.get("/console/lich-phat").status_code == 200
    r = viewer.get("/console/nguoi-dung")
    assert r.status_code == 403 and "không được mở trang Người dùng" in r.text
    assert viewer.get("/console/phat-ngay").status_code == 403
    slugs = [p["slug"] for p in viewer.get("/console/api/toi").json()["pages"]]
    assert "phat-ngay" not in slugs and "nguoi-dung" not in slugs and "tong-quan" in slugs
    admin, _ = http_login(base, "quantri")
    assert admin.get("/console/nguoi-dung").status_code == 200


def test_cookie_is_httponly_and_strict(daemon):
    r = httpx.post(f"{base_url(daemon.project.root)}/console/api/dang-nhap", json={"name": "lan", "password": PASSWORD})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie


@pytest.mark.browser
def test_login_in_the_browser_wrong_password_then_right_both_audited(daemon, chromium):
    base = base_url(daemon.project.root)
    page = chromium.new_page(viewport={"width": 360, "height": 740})
    try:
        page.goto(f"{base}/console/tong-quan")
        assert "/console/dang-nhap" in page.url  # not logged in: the login page
        page.fill("#name", "lan")
        page.fill("#password", "mat-khau-sai-1")
        page.click("#login-button")
        page.wait_for_selector("#login-error:not([hidden])")
        assert "Sai tên đăng nhập hoặc mật khẩu" in page.inner_text("#login-error")
        login(page, base, "lan")
        assert page.url.endswith("/console/tong-quan")
        page.wait_for_selector("text=Không có bản tin nào đang phát")
        assert "lan (phát thanh viên)" in page.inner_text("nav.topbar")
    finally:
        page.close()
    actions = [(e["action"], e["who"], e["where"]) for e in audit_lines(daemon.project.root)]
    assert ("login_failed", "lan", "console 127.0.0.1") in actions
    assert ("login", "lan", "console 127.0.0.1") in actions


def test_failed_logins_wait_and_sessions_survive_a_restart(tmp_path):
    project = Project(tmp_path)
    project.save()
    add_user(project, "lan", "operator")
    d = Daemon(project, {}, output=f"wav:{tmp_path / 'out'}").start()
    try:
        base = base_url(tmp_path)
        client, csrf = http_login(base, "lan")
        codes = [
            httpx.post(f"{base}/console/api/dang-nhap", json={"name": "lan", "password": "sai-sai-sai"})
            for _ in range(6)
        ]
        assert [r.status_code for r in codes[:5]] == [401] * 5
        assert codes[5].status_code == 429 and "Hãy chờ" in codes[5].json()["error"]
        # even the right password waits now: guessing cannot go on
        r = httpx.post(f"{base}/console/api/dang-nhap", json={"name": "lan", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    finally:
        assert d.terminate() == 0
    d = Daemon(project, {}, output=f"wav:{tmp_path / 'out'}").start()
    try:
        client.base_url = httpx.URL(base_url(tmp_path))
        assert client.get("/console/api/toi").json()["name"] == "lan"  # the same cookie, a new daemon
        assert client.post("/console/api/dang-xuat", headers={"X-CSRF-Token": csrf}).status_code == 200
        assert client.get("/console/api/toi").status_code == 401
    finally:
        assert d.terminate() == 0
    assert sum(e["action"] == "login_failed" for e in audit_lines(tmp_path)) == 5

"""The control listener's edge on a real daemon over loopback: proxies, Host names, framing.

The daemon trusts one proxy, 127.0.0.2 (Linux answers every 127.x address on loopback, so a
client picks its source address to play the proxy, a stranger, or the operator's own machine).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.console.console_helpers import PASSWORD, add_user, audit_lines
from tests.support.harness import Daemon, Project

pytestmark = pytest.mark.slow

PROXY = "127.0.0.2"  # listed in api.trusted_proxies
STRANGER = "127.0.0.3"  # a loopback peer that is not a proxy
ALLOWED_NAME = "loa-xa.lan"
EDGE_KEYS = f"api:\n  trusted_proxies: [{PROXY}]\n  allowed_hosts: [{ALLOWED_NAME}]\n"
FRAMING = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("edge")
    project = Project(root)
    project.save(project.yaml_text() + EDGE_KEYS)
    add_user(project, "quantri", "admin")
    d = Daemon(project, {}, output=f"wav:{root / 'out'}").start()
    yield d
    assert d.terminate() == 0


def _port(d: Daemon) -> int:
    return int(json.loads((d.project.root / "state" / "daemon.json").read_text())["port"])


def _token(d: Daemon) -> str:
    return (d.project.root / "state" / "api-token").read_text().strip()


def request(
    d: Daemon,
    method: str,
    path: str,
    *,
    source: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection from ``source``; ``(status, lower-case headers, body)``."""
    conn = http.client.HTTPConnection("127.0.0.1", _port(d), timeout=10, source_address=(source, 0))
    try:
        data = json.dumps(body).encode() if body is not None else None
        sent = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers={**sent, **(headers or {})})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _failed_login(d: Daemon, source: str, headers: dict[str, str]) -> str:
    """Log in with a wrong password; the audit trail's ``where`` of that failure."""
    before = len(audit_lines(d.project.root))
    status, _, _ = request(
        d, "POST", "/console/api/dang-nhap", source=source, headers=headers, body={"name": "quantri", "password": "x"}
    )
    assert status == 401
    new = [line for line in audit_lines(d.project.root)[before:] if line.get("action") == "login_failed"]
    assert new, "the failed login was not audited"
    return str(new[-1]["where"])


def test_forwarded_headers_from_a_peer_that_is_no_proxy_change_nothing(daemon):
    # 127.0.0.1 is the station's own machine, not a proxy: what it writes in the headers is not believed
    status, headers, _ = request(
        daemon,
        "POST",
        "/console/api/dang-nhap",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "6.6.6.5"},
        body={"name": "quantri", "password": PASSWORD},
    )
    assert status == 200 and "secure" not in headers.get("set-cookie", "").lower()
    assert _failed_login(daemon, "127.0.0.1", {"X-Forwarded-For": "6.6.6.6"}) == "console 127.0.0.1"
    assert _failed_login(daemon, STRANGER, {"X-Forwarded-For": "6.6.6.7"}) == f"console {STRANGER}"
    # rotating the header does not give a fresh rate-limit bucket per request
    codes = []
    for i in range(30):
        status, headers, _ = request(daemon, "GET", "/api/status", headers={"X-Forwarded-For": f"10.0.0.{i + 1}"})
        codes.append(status)
    assert 429 in codes, codes
    time.sleep(float(headers.get("retry-after", "1")) + 4.0)  # the anonymous bucket refills for the next tests


def test_a_trusted_proxy_passes_on_the_client_address_and_scheme(daemon):
    assert _failed_login(daemon, PROXY, {"X-Forwarded-For": "10.9.8.7"}) == "console 10.9.8.7"
    # a client's own X-Forwarded-For is kept by the proxy on the left: only the proxy's entry counts
    assert _failed_login(daemon, PROXY, {"X-Forwarded-For": "6.6.6.6, 10.9.8.8"}) == "console 10.9.8.8"
    status, headers, _ = request(
        daemon,
        "POST",
        "/console/api/dang-nhap",
        source=PROXY,
        headers={"X-Forwarded-For": "10.9.8.9", "X-Forwarded-Proto": "https", "Host": ALLOWED_NAME},
        body={"name": "quantri", "password": PASSWORD},
    )
    assert status == 200
    assert "secure" in headers["set-cookie"].lower()


def test_a_foreign_host_name_is_refused_in_vietnamese(daemon):
    port = _port(daemon)
    auth = {"Authorization": f"Bearer {_token(daemon)}"}
    for path in ("/api/status", "/console/dang-nhap", "/"):
        status, _, body = request(daemon, "GET", path, headers={**auth, "Host": f"evil.example:{port}"})
        assert status == 421, (path, status, body[:200])
        error = json.loads(body)["error"]
        assert "evil.example" in error and "allowed_hosts" in error
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", f"[::1]:{port}", ALLOWED_NAME, "192.0.2.1"):
        status, _, body = request(daemon, "GET", "/api/status", headers={**auth, "Host": host})
        assert status == 200, (host, status, body[:200])


def test_every_response_forbids_framing_and_sniffing(daemon):
    port = _port(daemon)
    auth = {"Authorization": f"Bearer {_token(daemon)}"}
    cases = [
        ("/console/dang-nhap", {}, 200),
        ("/api/status", auth, 200),
        ("/api/status", {}, 401),
        ("/khong-co-trang-nay", auth, 404),
        ("/", {}, 303),
        ("/console/static/app.js", {}, 200),
        ("/api/status", {"Host": "evil.example"}, 421),
    ]
    for path, headers, expected in cases:
        status, got, _ = request(daemon, "GET", path, headers={"Host": f"127.0.0.1:{port}", **headers})
        assert status == expected, (path, status)
        for name, value in FRAMING.items():
            assert got.get(name) == value, (path, name, got)
        assert "frame-ancestors 'none'" in got.get("content-security-policy", ""), (path, got)


class _FramingPage(BaseHTTPRequestHandler):
    """Another site on loopback (Icecast's own page is one) that frames the console."""

    target = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's spelling
        page = f'<!doctype html><title>khung</title><iframe id="f" src="{self.target}"></iframe>'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.browser
def test_a_page_on_another_port_cannot_frame_the_console(daemon, chromium):
    target = f"http://127.0.0.1:{_port(daemon)}/console/dang-nhap"
    handler = type("Handler", (_FramingPage,), {"target": target})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, name="framing-page", daemon=True).start()
    page = chromium.new_page()
    try:
        answered: list[int] = []
        page.on("response", lambda r: answered.append(r.status) if r.url == target else None)
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/", wait_until="load", timeout=15_000)
        page.wait_for_timeout(500)
        assert answered == [200], answered  # the console did answer the frame's request…
        frame = page.frame_locator("#f")
        assert frame.locator("#name").count() == 0  # …but the browser showed nothing of it
        assert all(not f.url.startswith(target) for f in page.frames), [f.url for f in page.frames]
    finally:
        page.close()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("keys", "bad"),
    [
        ("api:\n  trusted_proxies: [192.168.1.300]\n", "192.168.1.300"),
        ("api:\n  trusted_proxies: [nginx]\n", "nginx"),
        ("api:\n  allowed_hosts: ['http://loa-xa.lan:8686']\n", "http://loa-xa.lan:8686"),
    ],
)
def test_check_names_a_bad_proxy_address_or_host_name(tmp_path: Path, keys: str, bad: str):
    project = Project(tmp_path)
    project.save(project.yaml_text() + keys)
    done = project.cli("check")
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert bad in said and ("trusted_proxies" in said or "allowed_hosts" in said), said

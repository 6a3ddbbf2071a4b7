"""Login security on a real daemon over real loopback sockets (docs/security.md).

* the throttle counts an attempt before its check: parallel guesses past the limit are not checked;
* a flood of empty passwords from many addresses does not unlock a locked (client, name);
* nobody can lock a known user out: the right password from a client that has not failed gets in;
* forty parallel logins do not take the daemon to gigabytes, and /api/status still answers;
* sessions end when the CLI or the console changes a user, and 12 h after the login at the latest;
* refusals (403) and uploads are in the audit trail.

Many client addresses come from binding the client's end to 127.x.y.z (all of 127/8 is loopback
on Linux). The last tests drive :class:`LoginThrottle` on a fake clock (fast, no daemon).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from broadcaster.console.sessions import (
    BASE_WAIT_SECONDS,
    CLIENT_MAX_FAILURES,
    MAX_FAILURES,
    NAME_MAX_FAILURES,
    LoginThrottle,
)
from tests.console.console_helpers import PASSWORD, add_user, audit_lines, base_url, http_login
from tests.support.harness import Daemon, Project, write_silent_wav

LOGIN = "/console/api/dang-nhap"
TOO_MANY = "Đăng nhập sai quá nhiều lần"
BUSY = "Đang có nhiều người đăng nhập cùng lúc"
DAY = 24 * 3600.0
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    # in memory when possible: the floods below write one fsynced audit line per failure
    shm = Path("/dev/shm")
    fast = shm.is_dir() and os.access(shm, os.W_OK)
    root = Path(tempfile.mkdtemp(prefix="login-security-", dir=shm)) if fast else tmp_path_factory.mktemp("login")
    project = Project(root)
    project.save()
    for name, role in (("quantri", "admin"), ("song", "operator"), ("tuan", "operator"), ("hoa", "operator"),
                       ("minh", "operator"), ("nam", "operator"), ("cu", "operator"), ("xem", "viewer")):  # fmt: skip
        add_user(project, name, role)
    d = Daemon(project, {}, output=f"wav:{root / 'out'}").start()
    yield d
    assert d.terminate() == 0
    if fast:
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: dict[str, str]
    text: str


def post_from(base: str, address: str, name: str, password: str, headers: dict | None = None) -> Answer:
    """One login POST from the client address ``address`` (a fresh connection; stdlib, so cheap)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60, source_address=(address, 0))
    try:
        body = json.dumps({"name": name, "password": password})
        conn.request("POST", LOGIN, body, {"Content-Type": "application/json", **(headers or {})})
        r = conn.getresponse()
        return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode("utf-8", "replace"))
    finally:
        conn.close()


def login_until_checked(base: str, address: str, name: str, password: str, tries: int = 20) -> Answer:
    """A login retried while the daemon is busy checking others (its 429 'try again in a few seconds')."""
    for _ in range(tries):
        r = post_from(base, address, name, password)
        if r.status_code != 429 or BUSY not in r.text:
            return r
        time.sleep(float(r.headers.get("retry-after", "1")) / 4)
    raise AssertionError(f"still busy after {tries} tries: {r.text}")


def failures_of(root: Path, who: str) -> int:
    return sum(e["action"] == "login_failed" and e["who"] == who for e in audit_lines(root))


def vm_kib(pid: int, field: str) -> int:
    """``VmRSS`` / ``VmHWM`` of a process, in KiB (from /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def status_seconds(base: str, token: str) -> float:
    """How long ``GET /api/status`` takes, connection included."""
    url = urlsplit(base)
    started = time.monotonic()
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        conn.request("GET", "/api/status", headers={"Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        assert r.status == 200, r.read()
        r.read()
    finally:
        conn.close()
    return time.monotonic() - started


def flood(base: str, seconds: float, workers: int = 40) -> list[int]:
    """``workers`` clients, each from its own address, logging in with unknown names for ``seconds``."""
    deadline = time.monotonic() + seconds
    codes: list[int] = []

    def client(i: int) -> None:
        for attempt in range(200):  # bounded; the deadline ends it much sooner
            if time.monotonic() > deadline:
                return
            codes.append(post_from(base, f"127.0.4.{i + 1}", f"khong-co-{i}-{attempt}", f"sai-sai-{i}").status_code)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(client, range(workers)))
    return codes


@slow
def test_forty_parallel_logins_stay_within_memory_and_status_still_answers(daemon):
    base, pid = base_url(daemon.project.root), daemon.proc.pid
    token = (daemon.project.root / "state" / "api-token").read_text().strip()
    status_seconds(base, token)
    idle = vm_kib(pid, "VmRSS")
    peak, latencies, done = idle, [], threading.Event()

    def watch() -> None:
        nonlocal peak
        for _ in range(6000):  # 10 ms apart: at most a minute
            if done.is_set():
                return
            peak = max(peak, vm_kib(pid, "VmRSS"))
            time.sleep(0.01)

    def probe() -> None:
        for _ in range(10):
            if done.wait(0.3):
                return
            latencies.append(status_seconds(base, token))

    threads = [threading.Thread(target=watch), threading.Thread(target=probe)]
    for t in threads:
        t.start()
    try:
        codes = flood(base, seconds=3.0)
    finally:
        done.set()
        for t in threads:
            t.join(60)
    grown_mb = (peak - idle) / 1024
    assert grown_mb < 300, f"RSS {idle // 1024} MB idle → {peak // 1024} MB (HWM {vm_kib(pid, 'VmHWM') // 1024} MB)"
    assert latencies and max(latencies) < 1.0, latencies
    assert set(codes) <= {401, 429} and 429 in codes and 401 in codes


@slow
def test_parallel_wrong_passwords_past_the_limit_are_not_checked(daemon):
    base, root = base_url(daemon.project.root), daemon.project.root
    barrier = threading.Barrier(20)

    def guess(i: int) -> Answer:
        barrier.wait(30)
        return post_from(base, "127.0.1.1", "song", f"doan-sai-{i}")

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(guess, range(20)))
    checked = [r for r in answers if r.status_code == 401]
    assert 1 <= len(checked) <= MAX_FAILURES, [r.status_code for r in answers]
    assert all(r.status_code == 429 and r.headers["retry-after"] for r in answers if r.status_code != 401)
    assert any(TOO_MANY in r.text for r in answers)
    assert failures_of(root, "song") == len(checked)


@slow
def test_a_flood_of_empty_passwords_from_many_addresses_leaves_a_locked_user_locked(daemon):
    base = base_url(daemon.project.root)
    for i in range(MAX_FAILURES):
        assert login_until_checked(base, "127.0.2.1", "tuan", f"sai-{i}").status_code == 401
    assert post_from(base, "127.0.2.1", "tuan", PASSWORD).status_code == 429
    time.sleep(BASE_WAIT_SECONDS + 0.5)  # one more failure after the wait: locked twice as long,
    assert login_until_checked(base, "127.0.2.1", "tuan", "sai-nua").status_code == 401  # longer than the flood
    locked_at = time.monotonic()

    def empty(i: int) -> int:  # three throttle keys each: far more than the table holds
        return post_from(base, f"127.1.{i // 250}.{i % 250 + 1}", f"ten-{i}", "").status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(empty, range(5200)))
    assert codes.count(401) == 5200, {c: codes.count(c) for c in set(codes)}
    locked = post_from(base, "127.0.2.1", "tuan", PASSWORD)
    took = time.monotonic() - locked_at
    assert took < 2 * BASE_WAIT_SECONDS, f"the flood took {took:.0f} s, longer than the lock: this test cannot tell"
    assert locked.status_code == 429 and TOO_MANY in locked.text, locked.text
    assert login_until_checked(base, "127.0.2.2", "tuan", PASSWORD).status_code == 200  # another client: in


@slow
def test_nobody_can_lock_a_known_user_out(daemon):
    base = base_url(daemon.project.root)
    codes = [login_until_checked(base, "127.0.3.1", "hoa", f"doan-{i}").status_code for i in range(MAX_FAILURES + 3)]
    assert codes == [401] * MAX_FAILURES + [429] * 3
    assert login_until_checked(base, "127.0.3.2", "hoa", PASSWORD).status_code == 200

    def guess(i: int) -> int:  # many addresses: the name's own limit is passed
        return login_until_checked(base, f"127.2.0.{i + 1}", "hoa", f"doan-nua-{i}").status_code

    with ThreadPoolExecutor(2) as pool:
        assert set(pool.map(guess, range(NAME_MAX_FAILURES))) == {401}
    assert login_until_checked(base, "127.2.0.1", "hoa", "doan-tiep").status_code == 429  # failed before: waits
    assert login_until_checked(base, "127.0.3.3", "hoa", PASSWORD).status_code == 200  # never failed: gets in
    assert login_until_checked(base, "127.0.3.2", "hoa", "go-nham").status_code == 401  # logged in before
    assert login_until_checked(base, "127.0.3.2", "hoa", PASSWORD).status_code == 200


@slow
def test_the_cli_ends_sessions_on_password_role_and_state_changes_and_audits_them(daemon):
    base, project = base_url(daemon.project.root), daemon.project
    steps = (
        (("passwd", "minh", "--password-stdin"), "mat-khau-moi-1\n", "mat-khau-moi-1"),
        (("role", "minh", "viewer"), None, "mat-khau-moi-1"),
        (("disable", "minh"), None, None),
    )
    password = PASSWORD
    for args, stdin, new_password in steps:
        client, _ = http_login(base, "minh", password)
        assert client.get("/console/api/toi").status_code == 200
        done = project.cli("user", *args, stdin=stdin)
        assert done.returncode == 0, done.stdout + done.stderr
        assert client.get("/console/api/toi").status_code == 401, args
        password = new_password or password
    assert project.cli("user", "enable", "minh").returncode == 0
    assert client.get("/console/api/toi").status_code == 401  # enabling again does not revive an old session
    changes = [e for e in audit_lines(project.root) if e["action"] == "user_change" and e["detail"]["user"] == "minh"]
    assert [c["detail"]["change"] for c in changes] == [
        "add",
        "đặt mật khẩu mới",
        "vai trò: chỉ xem",
        "khoá",
        "mở khoá",
    ]
    assert all(c["where"].startswith("dòng lệnh ") and c["who"] for c in changes)
    assert "mat-khau-moi-1" not in (project.root / "state" / "audit.jsonl").read_text(encoding="utf-8")


@slow
def test_a_role_change_in_the_console_ends_that_users_sessions(daemon):
    base = base_url(daemon.project.root)
    nam, _ = http_login(base, "nam")
    admin, csrf = http_login(base, "quantri")
    r = admin.patch("/console/api/nguoi-dung/nam", json={"role": "viewer"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert nam.get("/console/api/toi").status_code == 401
    assert admin.get("/console/api/toi").status_code == 200


@slow
def test_a_session_ends_twelve_hours_after_its_login_however_busy(daemon):
    state = daemon.project.root / "state"
    with sqlite3.connect(state / "users.sqlite3") as conn:  # the user was last changed long ago
        conn.execute("UPDATE users SET updated_at = '2020-01-01T00:00:00+00:00' WHERE name = 'cu'")
    client, _ = http_login(base_url(daemon.project.root), "cu")

    def age(seconds: float) -> None:
        with sqlite3.connect(state / "sessions.sqlite3") as conn:
            now = time.time()
            conn.execute(
                "UPDATE sessions SET created_at = ?, last_seen = ? WHERE user_name = 'cu'", (now - seconds, now)
            )

    age(11 * 3600)
    assert client.get("/console/api/toi").status_code == 200
    age(30 * DAY)  # used a minute ago, logged in a month ago
    assert client.get("/console/api/toi").status_code == 401


@slow
def test_refusals_and_uploads_are_audited(daemon):
    base, root = base_url(daemon.project.root), daemon.project.root
    viewer, csrf = http_login(base, "xem")
    assert viewer.post("/console/api/phat-ngay", json={"text": "x"}, headers={"X-CSRF-Token": csrf}).status_code == 403
    assert viewer.get("/console/nguoi-dung").status_code == 403
    admin, csrf = http_login(base, "quantri")
    assert admin.post("/console/api/dung", headers={"X-CSRF-Token": "sai"}).status_code == 403
    wav = write_silent_wav(root / "ghi-am.wav", 1.0).read_bytes()
    r = admin.post(
        "/console/api/tai-len",
        params={"id": "ab" * 8, "part": 0, "last": "true", "name": "ghi-am.wav"},
        content=wav,
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    lines = audit_lines(root)
    refused = [(e["who"], e["detail"]["path"]) for e in lines if e["action"] == "refused"]
    assert refused == [
        ("xem", "/console/api/phat-ngay"),
        ("xem", "/console/nguoi-dung"),
        ("quantri", "/console/api/dung"),
    ]
    uploads = [e for e in lines if e["action"] == "upload"]
    assert len(uploads) == 1 and uploads[0]["who"] == "quantri" and uploads[0]["detail"]["audio"] == r.json()["audio"]
    assert uploads[0]["where"] == "console 127.0.0.1"


@slow
def test_behind_a_trusted_proxy_each_browser_is_its_own_client(tmp_path):
    project = Project(tmp_path)
    project.save(project.yaml_text() + "api:\n  trusted_proxies: [127.0.0.1]\n")
    add_user(project, "lan", "operator")
    d = Daemon(project, {}, output=f"wav:{tmp_path / 'out'}").start()
    try:
        base = base_url(tmp_path)
        guesser = {"X-Forwarded-For": "10.0.0.7"}
        codes = [post_from(base, "127.0.0.1", "lan", f"sai-{i}", guesser).status_code for i in range(MAX_FAILURES + 1)]
        assert codes == [401] * MAX_FAILURES + [429]
        r = post_from(base, "127.0.0.1", "lan", PASSWORD, {"X-Forwarded-For": "203.0.113.9, 10.0.0.8"})
        assert r.status_code == 200, r.text
    finally:
        assert d.terminate() == 0
    wheres = {e["where"] for e in audit_lines(tmp_path) if e["action"].startswith("login")}
    assert wheres == {"console 10.0.0.7", "console 10.0.0.8"}


# -- LoginThrottle on a fake clock ------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, client: str, name: str, times: int = 1) -> list[float]:
    return [throttle.reserve(client, name) for _ in range(times)]


def test_reserving_counts_before_the_check_and_the_wait_doubles():
    clock = FakeClock()
    t = LoginThrottle(clock=clock)
    assert fail(t, "a", "lan", MAX_FAILURES) == [0.0] * MAX_FAILURES  # five in flight: none checked yet
    assert t.reserve("a", "lan") == BASE_WAIT_SECONDS  # the sixth is refused before any check
    clock.now += BASE_WAIT_SECONDS
    assert t.reserve("a", "lan") == 0.0
    assert t.reserve("a", "lan") == 2 * BASE_WAIT_SECONDS
    t.succeeded("a", "lan")  # the right password clears the pair
    assert fail(t, "a", "lan", MAX_FAILURES - 1) == [0.0] * (MAX_FAILURES - 1)


def test_a_cancelled_attempt_gives_its_count_back():
    t = LoginThrottle(clock=FakeClock())
    fail(t, "a", "lan", MAX_FAILURES - 1)
    assert t.reserve("a", "lan") == 0.0
    t.cancel("a", "lan")  # not checked (busy): not a failure
    assert t.reserve("a", "lan") == 0.0
    assert t.reserve("a", "lan") > 0


def test_a_client_spraying_names_is_locked_and_a_success_does_not_clear_its_failures():
    t = LoginThrottle(clock=FakeClock())
    for i in range(CLIENT_MAX_FAILURES - 1):
        assert t.reserve("a", f"ten-{i}") == 0.0
    assert t.reserve("a", "toi") == 0.0
    t.succeeded("a", "toi")  # his own account: gives back this attempt only
    assert t.reserve("a", "ten-x") == 0.0
    assert t.reserve("a", "ten-y") > 0
    assert t.reserve("b", "ten-y") == 0.0


def test_the_names_lock_delays_only_clients_that_failed_for_it():
    t = LoginThrottle(clock=FakeClock())
    assert t.reserve("ban-dau", "lan") == 0.0
    t.succeeded("ban-dau", "lan")
    for i in range(NAME_MAX_FAILURES):
        assert t.reserve(f"k{i}", "lan") == 0.0
    assert t.reserve("k1", "lan") > 0  # failed for lan: the name's lock applies
    assert t.reserve("moi", "lan") == 0.0  # never failed: checked
    assert t.reserve("moi", "lan") > 0
    assert t.reserve("ban-dau", "lan") == 0.0 and t.reserve("ban-dau", "lan") == 0.0  # logged in before


def test_memory_is_bounded_without_ever_dropping_a_locked_entry():
    clock = FakeClock()
    t = LoginThrottle(clock=clock, max_entries=300)
    fail(t, "a", "lan", MAX_FAILURES)
    for i in range(5000):
        clock.now += 0.001
        assert t.reserve(f"c{i}", f"n{i}") == 0.0
        assert len(t) <= 300
    assert t.reserve("a", "lan") > 0  # still locked after 15 000 keys came and went


def test_a_table_full_of_locks_refuses_new_clients_instead_of_forgetting_a_lock():
    clock = FakeClock()
    t = LoginThrottle(clock=clock, client_max_failures=MAX_FAILURES, name_max_failures=MAX_FAILURES, max_entries=60)
    for i in range(20):  # 20 × (pair, client, name), every one locked
        fail(t, f"c{i}", f"n{i}", MAX_FAILURES)
    assert t.reserve("moi", "khac") > 0  # no room: refused, not checked
    assert t.reserve("c0", "n0") > 0 and len(t) == 60
    clock.now += BASE_WAIT_SECONDS  # the locks end: their entries may go now
    assert t.reserve("moi", "khac") == 0.0 and len(t) <= 60

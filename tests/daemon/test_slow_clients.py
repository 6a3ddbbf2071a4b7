"""Slow clients must not take the station off air (a real daemon, real sockets on loopback).

The daemon runs with 1024 open files, soft and hard (systemd's default for a service), a
broadcast due ~20 s later on the real-time WAV output, and a flood of 1 100 connections that
each send half a request and hang — reopened as fast as the daemon closes them. Throughout,
the operator's ``/api/status`` must answer, the heartbeat must tick, the broadcast must air on
time and the log must stay small.
"""

from __future__ import annotations

import http.client
import json
import logging
import resource
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from broadcaster.logfilter import RepeatFilter
from tests.support.harness import Daemon, Project, local_now

FD_LIMIT = 1024
FLOOD = 1100
HALF_REQUEST = b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"  # never finished
HEADER_TIMEOUT_BOUND_S = 15.0  # the daemon closes a request without its headers after 10 s


def _limits(soft: int, hard: int):
    def apply() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return apply


class LimitedDaemon(Daemon):
    """``broadcaster run`` under an open-files limit; otherwise the harness's Daemon."""

    def __init__(self, project: Project, *, soft: int, hard: int, extra: list[str]) -> None:
        super().__init__(project, {}, output=f"wav:{project.root / 'out'}", extra=extra)
        self.soft, self.hard = soft, hard
        self.preexec = _limits(soft, hard)

    @property
    def port(self) -> int:
        return int(json.loads((self.project.root / "state" / "daemon.json").read_text())["port"])

    def log_bytes(self) -> int:
        return sum(len(line.encode()) + 1 for line in list(self.lines))


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[LimitedDaemon]:
    made: list[LimitedDaemon] = []

    def make(project: Project, *, soft: int = FD_LIMIT, hard: int = FD_LIMIT, extra: list[str] | None = None):
        d = LimitedDaemon(project, soft=soft, hard=hard, extra=extra or [])
        made.append(d)
        return d.start()

    yield make  # type: ignore[misc]
    for d in made:
        d.kill()


@dataclass
class Flood:
    """``count`` connections that send half a request and hang; each one the daemon closes is reopened."""

    port: int
    count: int = FLOOD
    reopen_per_second: float = 200.0
    max_opened: int = 20_000  # bounded, whatever the daemon does
    opened: int = 0
    closed_by_daemon: int = 0
    peak_open: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self, seconds: float) -> None:
        sel = selectors.DefaultSelector()
        deadline, owed, budget, last = time.monotonic() + seconds, self.count, 0.0, time.monotonic()
        while not self._stop.is_set() and time.monotonic() < deadline:
            now = time.monotonic()
            budget = min(self.count, budget + (now - last) * self.reopen_per_second) if self.opened else self.count
            last = now
            while owed and budget >= 1 and self.opened < self.max_opened:
                self._open(sel)
                owed, budget = owed - 1, budget - 1
            self.peak_open = max(self.peak_open, len(sel.get_map()))
            for key, mask in sel.select(0.05):
                owed += self._event(sel, key.fileobj, key.data, mask)  # type: ignore[arg-type]
        for key in list(sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        sel.close()

    def stop(self) -> None:
        self._stop.set()

    def _open(self, sel: selectors.BaseSelector) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", self.port))
        sel.register(s, selectors.EVENT_WRITE, "connecting")
        self.opened += 1

    def _event(self, sel: selectors.BaseSelector, s: socket.socket, state: str, mask: int) -> int:
        """Handle one ready socket; 1 when it is gone (to be reopened)."""
        try:
            if state == "connecting":
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    s.send(HALF_REQUEST)
                    sel.modify(s, selectors.EVENT_READ, "hanging")
                    return 0
            elif s.recv(4096):
                return 0  # an answer (503): keep reading until the daemon closes
        except OSError:
            pass
        sel.unregister(s)
        s.close()
        self.closed_by_daemon += 1
        return 1


def _status(port: int, token: str) -> str | None:
    """None when ``GET /api/status`` answers 200 on a fresh connection within 5 s, else what went wrong."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/api/status", headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        resp.read()
        return None if resp.status == 200 else f"HTTP {resp.status}"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def _alive(project: Project) -> float:
    try:
        return float((project.root / "state" / "alive").read_text().strip())
    except (OSError, ValueError):
        return 0.0


def _row(project: Project, slot: str) -> dict | None:
    rows = [r for r in project.asrun_rows() if r["slot"] == slot and r["status"] != "started"]
    return rows[-1] if rows else None


def _start_offset_s(row: dict, planned: datetime) -> float:
    if row.get("start_error_ms") is not None:
        return abs(float(row["start_error_ms"])) / 1000
    return abs(datetime.fromisoformat(row["started_at"]).timestamp() - planned.timestamp())


@pytest.mark.slow
def test_a_flood_of_half_sent_requests_leaves_playout_and_the_operator_alone(tmp_path, limited):
    started = time.monotonic()
    project = Project(tmp_path)
    planned = local_now().replace(microsecond=0) + timedelta(seconds=20)
    project.slot("giua-con-lu", planned)
    project.save()
    d = limited(project, extra=["--heartbeat-minutes", "0.05"])  # a heartbeat every 3 s
    token = (project.root / "state" / "api-token").read_text().strip()
    assert _status(d.port, token) is None
    flood = Flood(d.port)
    flooding = threading.Thread(target=flood.run, args=(45.0,), name="flood", daemon=True)
    flooding.start()
    failures: list[str] = []
    beats: list[float] = []
    row = None
    try:
        time.sleep(2.0)  # let the flood reach its size
        while time.monotonic() - started < 55 and (row is None or time.time() < planned.timestamp() + 2):
            tick = time.monotonic()
            why = _status(d.port, token)
            if why:
                failures.append(f"{time.monotonic() - started:.1f}s {why}")
            beats.append(_alive(project))
            row = row or _row(project, "giua-con-lu")
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    finally:
        flood.stop()
        flooding.join(10)
    assert flood.opened >= FLOOD and flood.peak_open >= FD_LIMIT - 100, (flood.opened, flood.peak_open)
    assert not failures, f"/api/status failed during the flood: {failures[:10]} (of {len(failures)})\n" + d.log()
    assert row is not None, "the broadcast did not finish during the flood:\n" + d.log()
    assert row["status"] == "played", (row, d.log())
    assert _start_offset_s(row, planned) < 1.0, row
    changes = sorted(set(beats))
    assert len(changes) >= 4 and time.time() - changes[-1] < 8, f"heartbeat stalled: {changes}"
    assert d.log_bytes() < 1_000_000, f"log grew to {d.log_bytes()} bytes:\n" + d.log()
    assert d.terminate() == 0


@pytest.mark.slow
def test_a_request_that_never_finishes_its_headers_is_closed_and_the_fd_limit_is_raised(tmp_path, limited):
    project = Project(tmp_path)
    project.save()
    d = limited(project, soft=1024, hard=4096)
    limits = Path(f"/proc/{d.proc.pid}/limits").read_text()
    (line,) = [row for row in limits.splitlines() if row.startswith("Max open files")]
    assert line.split()[3:5] == ["4096", "4096"], line  # soft raised to the hard limit at start
    with socket.create_connection(("127.0.0.1", d.port), timeout=HEADER_TIMEOUT_BOUND_S + 5) as s:
        s.sendall(HALF_REQUEST)
        sent = time.monotonic()
        got = b""
        try:
            while chunk := s.recv(4096):  # bounded by the socket's timeout
                got += chunk
        except TimeoutError:
            pytest.fail("a request without its end of headers was kept open for more than 20 s")
        waited = time.monotonic() - sent
    assert waited <= HEADER_TIMEOUT_BOUND_S, waited
    assert d.terminate() == 0


def test_repeated_lines_are_logged_once_a_minute_with_a_count():
    now = [1000.0]
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(RepeatFilter(window_s=60.0, clock=lambda: now[0]))
    log = logging.getLogger("test.repeat")
    log.propagate, log.level = False, logging.INFO
    log.addHandler(handler)
    try:
        for _ in range(5000):
            log.error("socket.accept() out of system resource: [Errno 24] Too many open files")
            now[0] += 0.01
        log.info("một dòng khác")  # other lines are not held back
        now[0] += 60.0
        log.error("socket.accept() out of system resource: [Errno 24] Too many open files")
    finally:
        log.removeHandler(handler)
    texts = [r.getMessage() for r in records]
    assert len(texts) <= 5, texts
    assert "một dòng khác" in texts
    assert any("lặp lại" in t for t in texts[-1:]), texts


def test_the_stations_own_information_lines_are_never_held_back():
    """A reload logged five times a minute is five lines (the bench's hot-reload figure waits on each)."""
    records = [logging.LogRecord("broadcaster.daemon", logging.INFO, __file__, 1, "Đã nạp lại lịch", None, None)]
    gate = RepeatFilter()
    assert all(gate.filter(records[0]) for _ in range(20))

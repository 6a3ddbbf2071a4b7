"""Run the real daemon in a subprocess against a throw-away project folder.

Used by the daemon tests, the soak and the benchmarks: a project (schedule.yaml, scripts_vi/,
audio/chime.wav) written to a temp folder, a ``broadcaster run`` child process reaching a
private PulseAudio server, its log lines collected, and the control API called over loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[2]  # tests/support/harness.py → the repository
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
BROADCASTER = [sys.executable, "-m", "broadcaster.cli"]

SHORT_TEXT = "Kính thưa bà con, đây là bản tin thử nghiệm của đài truyền thanh xã."


def write_silent_wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    """A real WAV file of silence (for schedules that name audio items)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return path


def local_now() -> datetime:
    return datetime.now(TZ)


def hhmmss(t: datetime) -> str:
    return t.astimezone(TZ).strftime("%H:%M:%S")


class Project:
    """A project folder: schedule.yaml + scripts_vi/ + audio/ (chime copied from the repo)."""

    def __init__(self, root: Path, *, chime: bool = True, voice: str = "espeak") -> None:
        self.root = root
        (root / "scripts_vi").mkdir(parents=True, exist_ok=True)
        (root / "audio").mkdir(exist_ok=True)
        self.chime = chime
        self.voice = voice
        if chime:
            shutil.copy(REPO / "audio" / "chime.wav", root / "audio" / "chime.wav")
        self.write_script("thu", SHORT_TEXT)
        self.schedule_path = root / "schedule.yaml"
        self.slots: list[dict] = []

    def cli(self, *args: str, stdin: str | None = None, timeout: float = 120.0) -> subprocess.CompletedProcess:
        """``broadcaster ARGS --schedule <this project>`` as a subprocess (no daemon needed)."""
        return subprocess.run(
            [*BROADCASTER, *args, "--schedule", str(self.schedule_path)],
            cwd=self.root,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def write_script(self, slug: str, text: str) -> Path:
        path = self.root / "scripts_vi" / f"{slug}.txt"
        path.write_text(text + "\n", encoding="utf-8")
        return path

    def slot(
        self, name: str, at: datetime, *, play: list[dict] | None = None, priority: str = "normal", repeat: int = 1
    ) -> dict:
        s = {
            "name": name,
            "at": hhmmss(at),
            "dates": [at.astimezone(TZ).date().isoformat()],
            "play": play or [{"script": "thu"}],
            "priority": priority,
            "repeat": repeat,
        }
        self.slots.append(s)
        return s

    def yaml_text(self) -> str:
        today = local_now().date()
        lines = [
            "campaign:",
            "  name: Chiến dịch thử nghiệm",
            f"  start: {(today - timedelta(days=1)).isoformat()}",
            f"  end: {(today + timedelta(days=1)).isoformat()}",
            "  timezone: Asia/Ho_Chi_Minh",
            "policy: {earliest: '00:00', latest: '23:59:59', max_session_minutes: 45}",
            "defaults:",
            f"  chime: {'audio/chime.wav' if self.chime else 'null'}",
            "  repeat: 1",
            "  gap_seconds: 1",
            f"  voice: [{self.voice}]",
            "output: {grace_minutes: 1}",
            "slots:" if self.slots else "slots: []",
        ]
        for s in self.slots:
            lines.append(f"  - name: {s['name']}")
            lines.append(f"    at: '{s['at']}'")
            lines.append(f"    dates: [{', '.join(s['dates'])}]")
            lines.append(f"    priority: {s['priority']}")
            lines.append(f"    repeat: {s['repeat']}")
            lines.append("    play:")
            for item in s["play"]:
                ((k, v),) = item.items()
                lines.append(f"      - {k}: {json.dumps(v, ensure_ascii=False)}")
        return "\n".join(lines) + "\n"

    def save(self, text: str | None = None) -> None:
        """Write schedule.yaml the way editors do: temp file, then rename."""
        tmp = self.schedule_path.with_name(".schedule.yaml.tmp")
        tmp.write_text(text if text is not None else self.yaml_text(), encoding="utf-8")
        os.replace(tmp, self.schedule_path)

    # -- the as-run log, read directly from SQLite -----------------------------------
    def asrun_rows(self) -> list[dict]:
        db = self.root / "state" / "asrun.sqlite3"
        if not db.exists():
            return []
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute("SELECT * FROM asrun ORDER BY id")]
        finally:
            con.close()


def wait_rows(project: Project, done: Callable[[list[dict]], bool], timeout: float = 60.0) -> list[dict]:
    """The as-run rows once ``done(rows)`` holds (polled; bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    rows: list[dict] = []
    while time.monotonic() < deadline:
        rows = project.asrun_rows()
        if done(rows):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"as-run log never got there: {rows}")


class Daemon:
    """``broadcaster run`` as a child process; stderr lines collected for assertions."""

    def __init__(
        self, project: Project, env: dict[str, str], *, output: str | None = None, extra: list[str] | None = None
    ) -> None:
        self.project = project
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.output = output
        self.extra = extra or []
        self.lines: list[str] = []
        #: run in the child before it starts (resource limits for the slow-client test)
        self.preexec: Callable[[], None] | None = None
        self.proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> Daemon:
        cmd = [*BROADCASTER, "run", "--schedule", str(self.project.schedule_path), "--port", "0", *self.extra]
        if self.output:
            cmd += ["--output", self.output]
        info = self.project.root / "state" / "daemon.json"
        if info.exists():
            info.unlink()
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.project.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=self.preexec,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for("sẵn sàng", timeout)
        return self

    def _read(self) -> None:
        assert self.proc and self.proc.stderr
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, needle: str, timeout: float = 20.0, start: int = 0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[start:]:
                if needle in line:
                    return line
            if self.proc and self.proc.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"daemon exited ({self.proc.returncode}) before '{needle}':\n" + self.log())
            time.sleep(0.02)
        raise AssertionError(f"'{needle}' not seen within {timeout}s:\n" + self.log())

    def log(self) -> str:
        return "\n".join(self.lines[-80:])

    # -- control API over loopback ------------------------------------------------------
    def api(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        token: str | None = "auto",
        raw: bytes | None = None,
        headers: dict | None = None,
        wait_if_limited: bool = True,
    ) -> tuple[int, dict]:
        """One request; by default a 429 is retried after its Retry-After, as a polite client does."""
        for _ in range(5):
            code, answer, retry_after = self._api_once(method, path, body, token, raw, headers)
            if code != 429 or not wait_if_limited:
                break
            time.sleep(retry_after)
        return code, answer

    def api_text(self, path: str) -> tuple[int, str]:
        """GET a text endpoint (``/metrics``) with the state folder's token."""
        info = json.loads((self.project.root / "state" / "daemon.json").read_text())
        token = (self.project.root / "state" / "api-token").read_text().strip()
        req = urllib.request.Request(f"http://127.0.0.1:{info['port']}{path}")
        req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def _api_once(self, method, path, body, token, raw, headers) -> tuple[int, dict, float]:
        info = json.loads((self.project.root / "state" / "daemon.json").read_text())
        if token == "auto":
            token = (self.project.root / "state" / "api-token").read_text().strip()
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(f"http://127.0.0.1:{info['port']}{path}", data=data, method=method)
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"{}"), 0.0
        except urllib.error.HTTPError as exc:
            body = exc.read()
            retry_after = float(exc.headers.get("Retry-After") or 1)
            try:
                return exc.code, json.loads(body), retry_after
            except ValueError:
                return exc.code, {"raw": body.decode(errors="replace")}, retry_after

    def cli(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*BROADCASTER, *args, "--schedule", str(self.project.schedule_path)],
            cwd=self.project.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def terminate(self, timeout: float = 15.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("daemon did not stop on SIGTERM:\n" + self.log()) from None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


class Webhook:
    """A real HTTP endpoint on loopback that keeps every JSON alert posted to it, with its arrival time."""

    def __init__(self) -> None:
        received: list[dict] = []
        arrived: list[float] = []
        self.received, self.arrived = received, arrived

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's spelling
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived.append(time.time())
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, name="webhook", daemon=True).start()

    def alerts(self, kind: str, since: float = 0.0) -> list[tuple[float, dict]]:
        """``(arrival wall time, alert)`` of each alert of ``kind`` that arrived at or after ``since``."""
        got = list(zip(list(self.arrived), list(self.received), strict=False))
        return [(t, a) for t, a in got if a.get("kind") == kind and t >= since]

    def wait_for(self, kind: str, timeout: float = 20.0, since: float = 0.0) -> dict:
        """The first alert of ``kind`` that arrived at or after ``since`` (waits up to ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.alerts(kind, since)
            if found:
                return found[0][1]
            time.sleep(0.1)
        raise AssertionError(f"no '{kind}' alert reached the webhook: {self.received}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

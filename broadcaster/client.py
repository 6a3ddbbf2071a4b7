"""Talk to the running daemon's control API (standard library only: the CLI must start fast)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from broadcaster.daemon import state
from broadcaster.layout import Layout


class DaemonNotRunning(Exception):
    """No daemon answers for this schedule."""


class ApiRefused(Exception):
    """The daemon answered with an error; ``str()`` is its Vietnamese message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Client:
    def __init__(self, state_dir: Path, timeout: float = 10.0) -> None:
        info = state.read_daemon_info(state_dir)
        token = state.read_token(state_dir)
        if not info or not token:
            raise DaemonNotRunning()
        host = info.get("host", "127.0.0.1")
        if ":" in host:
            host = f"[{host}]"
        self.base = f"http://{host}:{info['port']}"
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error") or str(exc)
            except ValueError:
                message = str(exc)
            raise ApiRefused(exc.code, message) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise DaemonNotRunning() from exc


def connect(schedule_path: Path) -> Client:
    """A client for the daemon serving this schedule (raises DaemonNotRunning)."""
    return Client(Layout.locate(schedule_path).state_dir)

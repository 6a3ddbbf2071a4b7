"""Talk to the running daemon's control API (standard library only: the CLI must start fast)."""

from __future__ import annotations

import json
import socket
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
        self.host, self.port = info.get("host", "127.0.0.1"), int(info["port"])
        self.base = f"http://{host}:{self.port}"
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        """One HTTP/1.1 request on a plain socket.

        Not urllib: importing urllib.request (with http.client, email and ssl) costs ~60 ms, a
        third of ``broadcaster say``'s time to the chime. The daemon is on loopback and answers
        JSON with a Content-Length; anything else is reported as an error, never guessed.
        """
        data = json.dumps(body).encode() if body is not None else b""
        head = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Authorization: Bearer {self.token}",
            "Connection: close",
            f"Content-Length: {len(data)}",
        ]
        if body is not None:
            head.append("Content-Type: application/json")
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
                sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data)
                status, payload = _read_response(sock)
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise DaemonNotRunning() from exc
        try:
            answer = json.loads(payload or b"{}")
        except ValueError:
            answer = {"error": payload.decode("utf-8", "replace")[:300]}
        if status >= 400:
            raise ApiRefused(status, (answer.get("error") if isinstance(answer, dict) else None) or f"HTTP {status}")
        return answer


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Status code and body of an HTTP/1.1 response (the server closes after it: Connection: close)."""
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ConnectionError(f"not an HTTP response: {lines[0][:80]!r}")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _unchunk(body)
    elif "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return int(parts[1]), body


def _unchunk(data: bytes) -> bytes:
    out = []
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(rest[:size])
        data = rest[size + 2 :]
    return b"".join(out)


def connect(schedule_path: Path) -> Client:
    """A client for the daemon serving this schedule (raises DaemonNotRunning)."""
    return Client(Layout.locate(schedule_path).state_dir)

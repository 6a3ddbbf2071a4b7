"""Console login sessions in SQLite (``state/sessions.sqlite3``) and the login throttle.

* A session id is 32 random bytes sent in an HttpOnly, SameSite=Strict cookie; the database keeps
  only its SHA-256, so a copy of the file does not let anyone log in.
* Sessions survive a daemon restart and end after :data:`IDLE_SECONDS` without a request, at
  logout, or when the user is disabled (checked on every request by :mod:`broadcaster.console.auth`).
* Every session has its own CSRF token, which the console's JavaScript sends back in the
  ``X-CSRF-Token`` header of every state-changing request.
* :class:`LoginThrottle` counts failed logins per client address and per user name in memory:
  after :data:`MAX_FAILURES` failures the next attempt waits, longer each time.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from broadcaster.users import state_db

IDLE_SECONDS = 8 * 3600
MAX_FAILURES = 5
BASE_WAIT_SECONDS = 30.0
MAX_WAIT_SECONDS = 15 * 60.0
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL,
    client TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_name);
"""


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class Session:
    """A logged-in browser: whose it is and its CSRF token (never the id itself)."""

    user_name: str
    csrf: str
    created_at: float
    last_seen: float


class SessionStore:
    """Login sessions of one installation."""

    def __init__(self, path: Path, *, idle_seconds: float = IDLE_SECONDS, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.idle_seconds = idle_seconds
        self.clock = clock

    def create(self, user_name: str, client: str = "") -> tuple[str, Session]:
        """A new session for ``user_name``: (the cookie's value, the session)."""
        sid = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(user_name=user_name, csrf=secrets.token_urlsafe(32), created_at=now, last_seen=now)
        with state_db(self.path, _SCHEMA, SCHEMA_VERSION, create=True, what="tệp phiên đăng nhập") as conn:
            # expired rows are cleared here, at the rare write, not on every request
            conn.execute("DELETE FROM sessions WHERE last_seen < ?", (now - self.idle_seconds,))
            conn.execute(
                "INSERT INTO sessions (id_hash, user_name, csrf, created_at, last_seen, client) VALUES (?,?,?,?,?,?)",
                (_digest(sid), user_name, session.csrf, now, now, client[:100]),
            )
        return sid, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of that cookie value (its idle clock restarted), or None."""
        if not session_id or len(session_id) > 200:
            return None
        now = self.clock()
        try:
            with state_db(self.path, _SCHEMA, SCHEMA_VERSION, create=False, what="tệp phiên đăng nhập") as conn:
                row = conn.execute("SELECT * FROM sessions WHERE id_hash = ?", (_digest(session_id),)).fetchone()
                if row is None:
                    return None
                if row["last_seen"] < now - self.idle_seconds:
                    return None
                # touch at most once a minute: a page polling every second should not write every second
                if now - row["last_seen"] > 60:
                    conn.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (now, row["id_hash"]))
                return Session(row["user_name"], row["csrf"], row["created_at"], max(now, row["last_seen"]))
        except (FileNotFoundError, sqlite3.Error):
            return None

    def delete(self, session_id: str | None) -> None:
        """End one session (logout)."""
        if not session_id:
            return
        try:
            with state_db(self.path, _SCHEMA, SCHEMA_VERSION, create=False, what="tệp phiên đăng nhập") as conn:
                conn.execute("DELETE FROM sessions WHERE id_hash = ?", (_digest(session_id),))
        except FileNotFoundError:
            return

    def delete_user(self, user_name: str) -> None:
        """End every session of a user (disabled, or password changed by an admin)."""
        try:
            with state_db(self.path, _SCHEMA, SCHEMA_VERSION, create=False, what="tệp phiên đăng nhập") as conn:
                conn.execute("DELETE FROM sessions WHERE user_name = ?", (user_name,))
        except FileNotFoundError:
            return


@dataclass
class _Failures:
    count: int = 0
    until: float = 0.0


@dataclass
class LoginThrottle:
    """Failed logins per client address and per user name; :meth:`wait` says how long to wait."""

    clock: Callable[[], float] = time.monotonic
    max_failures: int = MAX_FAILURES
    _seen: dict[str, _Failures] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, client: str, name: str) -> float:
        """Seconds before another attempt for this address or name is allowed (0 = now)."""
        now = self.clock()
        with self._lock:
            waits = [f.until - now for k in self._keys(client, name) if (f := self._seen.get(k))]
        return max([0.0, *waits])

    def failed(self, client: str, name: str) -> None:
        """Count one failure; from the max_failures-th on, the wait doubles each time."""
        now = self.clock()
        with self._lock:
            if len(self._seen) > 10_000:  # bound memory against a spray of names
                self._seen.clear()
            for key in self._keys(client, name):
                f = self._seen.setdefault(key, _Failures())
                f.count += 1
                if f.count >= self.max_failures:
                    extra = f.count - self.max_failures
                    f.until = now + min(MAX_WAIT_SECONDS, BASE_WAIT_SECONDS * 2**extra)

    def succeeded(self, client: str, name: str) -> None:
        """A right password clears the counts of this address and name."""
        with self._lock:
            for key in self._keys(client, name):
                self._seen.pop(key, None)

    @staticmethod
    def _keys(client: str, name: str) -> tuple[str, str]:
        return (f"ip:{client}", f"name:{name.strip().lower()[:64]}")

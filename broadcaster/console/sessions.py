"""Console login sessions in SQLite (``state/sessions.sqlite3``) and the login throttle.

Sessions
--------
* A session id is 32 random bytes sent in an HttpOnly, SameSite=Strict cookie; the database keeps
  only its SHA-256, so a copy of the file does not let anyone log in.
* Sessions survive a daemon restart and end after :data:`IDLE_SECONDS` without a request, at the
  latest :data:`MAX_AGE_SECONDS` after the login however busy they are (both checked on every
  request), at logout, and when the user's password, role or state changes (the console and
  ``broadcaster user`` delete them with :meth:`SessionStore.delete_user`;
  :mod:`broadcaster.console.auth` also refuses any session older than the user's last change).
* Every session has its own CSRF token, which the console's JavaScript sends back in the
  ``X-CSRF-Token`` header of every state-changing request.

The login throttle
------------------
:class:`LoginThrottle` counts failed logins in memory under three keys, each with its own limit;
from the limit on, the key waits :data:`BASE_WAIT_SECONDS`, doubling per further failure up to
:data:`MAX_WAIT_SECONDS`:

* the pair (client address, name): :data:`MAX_FAILURES` — the guesser's own lock;
* the client address, whatever names it tries: :data:`CLIENT_MAX_FAILURES` — against one
  address spraying names (higher, so one person's typos behind a shared address do not lock
  the others);
* the name, from every address: :data:`NAME_MAX_FAILURES` — against guessing one name from many
  addresses. This lock only delays clients that have themselves failed for this name and have
  never logged in as it: a client that has not failed is never refused by it, so nobody can
  lock a known user out by guessing their password.

Trade-off: an attacker with very many addresses still gets one guess per fresh address once the
name is locked (and five before); what bounds him then is the cost of a check (argon2id, at
most :data:`broadcaster.users.PASSWORD_SLOTS` at a time for the whole daemon) and the audit
trail, which records every failure. A hard per-name lock would stop him but would also lock out
the real user, which is exactly the attack we refuse to make possible.

An attempt is counted *before* its password is checked (:meth:`LoginThrottle.reserve`), so
parallel attempts past a limit are refused without being checked; a right password clears the
pair and gives back what it reserved (:meth:`~LoginThrottle.succeeded`), an attempt that was not
checked gives everything back (:meth:`~LoginThrottle.cancel`). Memory is bounded by
:data:`MAX_ENTRIES`: the entries changed longest ago that are not locked are dropped first; a
locked entry is never dropped, and when nothing can be dropped new clients wait (fail closed).
Failures with no lock are forgotten :data:`FORGET_SECONDS` after the last one.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from broadcaster.users import state_db

IDLE_SECONDS = 8 * 3600
#: a session ends this long after its login, however busy (a stolen cookie does not last forever)
MAX_AGE_SECONDS = 12 * 3600
#: a session "created" further in the future than this (the clock was wrong then) is not trusted
CLOCK_SLACK_SECONDS = 300
MAX_FAILURES = 5
CLIENT_MAX_FAILURES = 20
NAME_MAX_FAILURES = 50
BASE_WAIT_SECONDS = 30.0
MAX_WAIT_SECONDS = 15 * 60.0
FORGET_SECONDS = 3600.0
MAX_ENTRIES = 10_000
#: clients remembered per name for having logged in as it (the name's lock does not delay them)
KNOWN_CLIENTS = 16
#: how long new clients wait when the table is full of locked entries
FULL_WAIT_SECONDS = 10.0
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
_WHAT = "tệp phiên đăng nhập"


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

    def __init__(
        self,
        path: Path,
        *,
        idle_seconds: float = IDLE_SECONDS,
        max_age_seconds: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.time,
    ):
        self.path = Path(path)
        self.idle_seconds = idle_seconds
        self.max_age_seconds = max_age_seconds
        self.clock = clock

    def create(self, user_name: str, client: str = "") -> tuple[str, Session]:
        """A new session for ``user_name``: (the cookie's value, the session)."""
        sid = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(user_name=user_name, csrf=secrets.token_urlsafe(32), created_at=now, last_seen=now)
        with state_db(self.path, _SCHEMA, SCHEMA_VERSION, create=True, what=_WHAT) as conn:
            # ended rows are cleared here, at the rare write, not on every request
            conn.execute(
                "DELETE FROM sessions WHERE last_seen < ? OR created_at < ?",
                (now - self.idle_seconds, now - self.max_age_seconds),
            )
            conn.execute(
                "INSERT INTO sessions (id_hash, user_name, csrf, created_at, last_seen, client) VALUES (?,?,?,?,?,?)",
                (_digest(sid), user_name, session.csrf, now, now, client[:100]),
            )
        return sid, session

    def _alive(self, row: sqlite3.Row, now: float) -> bool:
        """Neither idle too long nor older than the absolute lifetime (nor from a clock gone wrong)."""
        created, seen = float(row["created_at"]), float(row["last_seen"])
        return seen >= now - self.idle_seconds and now - self.max_age_seconds <= created <= now + CLOCK_SLACK_SECONDS

    def get(self, session_id: str | None) -> Session | None:
        """The live session of that cookie value (its idle clock restarted), or None."""
        if not session_id or len(session_id) > 200:
            return None
        now = self.clock()
        try:
            with state_db(self.path, _SCHEMA, SCHEMA_VERSION, create=False, what=_WHAT) as conn:
                row = conn.execute("SELECT * FROM sessions WHERE id_hash = ?", (_digest(session_id),)).fetchone()
                if row is None or not self._alive(row, now):
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
            with state_db(self.path, _SCHEMA, SCHEMA_VERSION, create=False, what=_WHAT) as conn:
                conn.execute("DELETE FROM sessions WHERE id_hash = ?", (_digest(session_id),))
        except FileNotFoundError:
            return

    def delete_user(self, user_name: str) -> int:
        """End every session of a user (password, role or state changed); how many there were."""
        try:
            with state_db(self.path, _SCHEMA, SCHEMA_VERSION, create=False, what=_WHAT) as conn:
                return int(conn.execute("DELETE FROM sessions WHERE user_name = ?", (user_name,)).rowcount)
        except FileNotFoundError:
            return 0


# -- the login throttle -----------------------------------------------------------------------

#: (kind, client, name): kind "pair" has both, "client" an empty name, "name" an empty client
_Key = tuple[str, str, str]


@dataclass
class _Count:
    count: int = 0
    until: float = 0.0  # locked while the clock is before this
    changed: float = 0.0


def _wait(count: int, limit: int) -> float:
    """The lock after the ``count``-th attempt: BASE_WAIT_SECONDS at the limit, doubling, at most MAX_WAIT_SECONDS."""
    return min(MAX_WAIT_SECONDS, BASE_WAIT_SECONDS * float(2 ** min(count - limit, 32)))


@dataclass
class LoginThrottle:
    """Login attempts per (client, name), per client and per name; see the module's docstring."""

    clock: Callable[[], float] = time.monotonic
    max_failures: int = MAX_FAILURES
    client_max_failures: int = CLIENT_MAX_FAILURES
    name_max_failures: int = NAME_MAX_FAILURES
    max_entries: int = MAX_ENTRIES
    _seen: OrderedDict[_Key, _Count] = field(default_factory=OrderedDict)  # oldest change first
    _known: dict[str, OrderedDict[str, None]] = field(default_factory=dict)  # name → clients that logged in
    _full_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve(self, client: str, name: str) -> float:
        """Count one attempt as a failure before its password is checked; 0.0, or the seconds to wait.

        A refused attempt (a wait > 0) is not counted and must not be checked.
        """
        now = self.clock()
        keys = self._keys(client, name)
        with self._lock:
            wait = self._refusal(keys, now)
            if wait > 0:
                return wait
            if not self._make_room(sum(k not in self._seen for k in keys), now):
                return FULL_WAIT_SECONDS
            for key, limit in zip(keys, self._limits(), strict=True):
                entry = self._seen.setdefault(key, _Count())
                entry.count += 1
                entry.changed = now
                if entry.count >= limit:
                    entry.until = max(entry.until, now + _wait(entry.count, limit))
                self._seen.move_to_end(key)
        return 0.0

    def succeeded(self, client: str, name: str) -> None:
        """The reserved attempt had the right password: the pair is cleared, client and name get theirs back."""
        pair, by_client, by_name = self._keys(client, name)
        with self._lock:
            self._seen.pop(pair, None)
            self._give_back(by_client, self.client_max_failures)
            self._give_back(by_name, self.name_max_failures)
            known = self._known.setdefault(by_name[2], OrderedDict())
            known[client] = None
            known.move_to_end(client)
            while len(known) > KNOWN_CLIENTS:
                known.popitem(last=False)

    def cancel(self, client: str, name: str) -> None:
        """The reserved attempt was not checked (no free slot): give everything back."""
        with self._lock:
            for key, limit in zip(self._keys(client, name), self._limits(), strict=True):
                self._give_back(key, limit)

    def __len__(self) -> int:
        return len(self._seen)

    # -- inside the lock ----------------------------------------------------------------------
    def _limits(self) -> tuple[int, int, int]:
        return (self.max_failures, self.client_max_failures, self.name_max_failures)

    def _current(self, key: _Key, now: float) -> _Count | None:
        """The entry of a key, forgotten when it is unlocked and quiet for FORGET_SECONDS."""
        entry = self._seen.get(key)
        if entry is not None and entry.until <= now and now - entry.changed > FORGET_SECONDS:
            del self._seen[key]
            return None
        return entry

    def _refusal(self, keys: tuple[_Key, _Key, _Key], now: float) -> float:
        pair, by_client, by_name = (self._current(k, now) for k in keys)
        waits = [e.until - now for e in (pair, by_client) if e is not None]
        if by_name is not None and pair is not None and pair.count > 0:
            if keys[0][1] not in self._known.get(keys[2][2], ()):  # the name's lock: only clients that failed
                waits.append(by_name.until - now)
        return max([0.0, *waits])

    def _give_back(self, key: _Key, limit: int) -> None:
        entry = self._seen.get(key)
        if entry is None:
            return
        entry.count -= 1
        if entry.count < limit:
            entry.until = 0.0
        if entry.count <= 0:
            del self._seen[key]

    def _make_room(self, new: int, now: float) -> bool:
        """Room for ``new`` entries: drop the oldest unlocked ones (a tenth of the table at once)."""
        if len(self._seen) + new <= self.max_entries:
            return True
        if now < self._full_until:
            return False
        need = len(self._seen) + new - self.max_entries * 9 // 10
        victims: list[_Key] = []
        for key, entry in self._seen.items():
            if len(victims) >= need:
                break
            if entry.until <= now:  # never a locked one
                victims.append(key)
        for key in victims:
            del self._seen[key]
        if len(self._seen) + new <= self.max_entries:
            return True
        self._full_until = now + 1.0  # everything is locked: do not rescan on every attempt
        return False

    @staticmethod
    def _keys(client: str, name: str) -> tuple[_Key, _Key, _Key]:
        key = name.strip().lower()[:64]
        client = client[:64]
        return (("pair", client, key), ("client", client, ""), ("name", "", key))

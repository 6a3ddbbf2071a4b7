"""The people who may run the loudspeaker: users with roles, in ``users.sqlite3`` in the state folder.

* Roles: ``admin`` (quản trị), ``operator`` (phát thanh viên), ``approver`` (lãnh đạo duyệt),
  ``viewer`` (chỉ xem). Only approvers and admins may approve content.
* Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher``, a memory-hard KDF); a
  hash made with weaker parameters is upgraded at the next successful login. Hashes never
  leave this module: :class:`User` carries no hash.
* argon2 costs 64 MiB per check by design, so a process never runs more than
  :data:`PASSWORD_SLOTS` hashes or checks at a time (:func:`password_slot`): forty parallel
  logins cannot take the daemon to gigabytes. The console's login waits at most a moment for a
  slot and is otherwise refused (:class:`PasswordBusy`, answered 429). The work itself runs on
  low-priority threads (:func:`argon2_work`), so a login flood leaves the CPU to playout.
* The database file is 0600 (SQLite gives its journal file the same mode). Every call opens
  its own short connection, so the CLI and the daemon's threads always see the latest users and
  nothing needs reloading.

Used by ``broadcaster user``, ``broadcaster approve`` and the console's login
(:meth:`UserStore.authenticate`).
"""

from __future__ import annotations

import asyncio
import enum
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from argon2 import PasswordHasher

USERS_FILE = "users.sqlite3"
SCHEMA_VERSION = 1
NAME_RULE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 takes any length; this only stops a pasted file
#: argon2 hashes or checks running at once in this process (each takes 64 MiB while it runs)
PASSWORD_SLOTS = 2
#: how long a password change or a new user waits for a slot (the login passes its own, shorter wait)
HASH_WAIT_SECONDS = 30.0
BUSY = "Đang có nhiều người đăng nhập cùng lúc, thử lại sau vài giây."
#: how much lower than the rest of the process argon2 runs (playout and /api/status come first)
PASSWORD_NICE = 10
_slots = threading.BoundedSemaphore(PASSWORD_SLOTS)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_login_at TEXT
);
"""


class Role(enum.StrEnum):
    """What a user may do; stored as the English value, shown with :attr:`vi`."""

    ADMIN = "admin"
    OPERATOR = "operator"
    APPROVER = "approver"
    VIEWER = "viewer"

    @property
    def vi(self) -> str:
        return ROLE_VI[self]

    @property
    def can_approve(self) -> bool:
        """Approve, reject and revoke content, review emergencies."""
        return self in (Role.ADMIN, Role.APPROVER)

    @classmethod
    def parse(cls, text: str) -> Role:
        """``admin|operator|approver|viewer`` or the Vietnamese name; raises UserError otherwise."""
        value = " ".join((text or "").split()).lower()
        for role in cls:
            if value in (role.value, role.vi):
                return role
        choices = ", ".join(f"{r.value} ({r.vi})" for r in cls)
        raise UserError(f"Vai trò '{text}' không hợp lệ. Chọn một trong: {choices}.")


ROLE_VI: dict[Role, str] = {
    Role.ADMIN: "quản trị",
    Role.OPERATOR: "phát thanh viên",
    Role.APPROVER: "lãnh đạo duyệt",
    Role.VIEWER: "chỉ xem",
}


class StateError(Exception):
    """A state database cannot be used; ``str()`` is a Vietnamese message that says what to do."""


class UserError(StateError):
    """A refused user operation; ``str()`` is a Vietnamese message that says what to do."""


class PasswordBusy(StateError):
    """Every password slot stayed taken for the whole wait; ``str()`` says to try again shortly."""

    def __init__(self) -> None:
        super().__init__(BUSY)


@contextmanager
def password_slot(wait: float | None) -> Iterator[None]:
    """Hold one of the :data:`PASSWORD_SLOTS` while hashing or checking a password.

    ``wait``: seconds to wait for a free slot (0: only if one is free now; None: as long as it
    takes). Raises :class:`PasswordBusy` when none came free in time.
    """
    if not _slots.acquire(timeout=wait):  # timeout=None: no limit
        raise PasswordBusy()
    try:
        yield
    finally:
        _slots.release()


_T = TypeVar("_T")


def _lower_priority() -> None:
    """Nice this worker thread (Linux: per thread; argon2's lane threads inherit it)."""
    with suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PASSWORD_NICE)


#: its threads start at the first submit (never in a CLI command that checks no password)
_argon2_pool = ThreadPoolExecutor(PASSWORD_SLOTS, "argon2", initializer=_lower_priority)


def argon2_work(fn: Callable[..., _T], *args: object) -> _T:
    """Run one argon2 hash or check on a low-priority worker and wait for it (hold a slot first).

    argon2id keeps every core busy on purpose; at normal priority a few checks at once starve
    the event loop and playout of CPU. Exceptions (a wrong password) come back as raised.
    """
    return _argon2_pool.submit(fn, *args).result()


async def take_password_slot(wait: float) -> bool:
    """Take a password slot within ``wait`` seconds without holding a thread (for async routes).

    True: the caller holds it and must :func:`release_password_slot`; False: none came free.
    """
    deadline = time.monotonic() + wait
    while not _slots.acquire(blocking=False):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def release_password_slot() -> None:
    """Give back a slot taken with :func:`take_password_slot`."""
    _slots.release()


@dataclass(frozen=True)
class User:
    """A user as the rest of the program sees it (never with the password hash)."""

    name: str
    role: Role
    active: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_text(value: datetime) -> str:
    """UTC ISO 8601 text, as stored in the state databases."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_utc(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def check_name(name: str) -> str:
    """The canonical (lower-case) user name, or UserError saying what a name may contain."""
    value = (name or "").strip().lower()
    if not NAME_RULE.match(value):
        raise UserError(
            f"Tên đăng nhập '{name}' không hợp lệ: dùng 2–32 ký tự gồm chữ không dấu (a–z), số, "
            "dấu chấm, gạch dưới hoặc gạch ngang, bắt đầu bằng chữ hoặc số (ví dụ: nguyenvana)."
        )
    return value


def check_password(password: str) -> None:
    """Refuse passwords too short to resist guessing (UserError)."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"Mật khẩu quá ngắn: cần ít nhất {MIN_PASSWORD} ký tự.")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"Mật khẩu quá dài (tối đa {MAX_PASSWORD} ký tự).")


@contextmanager
def state_db(path: Path, schema: str, version: int, *, create: bool, what: str) -> Iterator[sqlite3.Connection]:
    """A short connection to a private (0600) state database, schema ensured; committed on success.

    ``create=False`` on a missing file raises FileNotFoundError, so read-only callers (``plan``,
    ``check``) never create files in the state folder.
    """
    if not path.exists():
        if not create:
            raise FileNotFoundError(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # create it 0600 before SQLite does (SQLite would use the umask, usually 0644)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    elif path.stat().st_mode & 0o077:
        with suppress(OSError):  # another account's file: SQLite will say whether we may use it
            os.chmod(path, 0o600)
    try:
        conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    except sqlite3.Error as exc:
        raise StateError(f"Không mở được {what} '{path}': {exc}. Kiểm tra quyền đọc/ghi thư mục trạng thái.") from None
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        if conn.execute("PRAGMA user_version").fetchone()[0] < version:
            conn.executescript(f"BEGIN IMMEDIATE; {schema} PRAGMA user_version = {version}; COMMIT;")
        conn.execute("BEGIN IMMEDIATE" if create else "BEGIN")
        yield conn
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise StateError(
            f"{what[:1].upper()}{what[1:]} '{path}' bị hỏng hoặc đang bị khoá ({exc}). "
            "Thử lại sau ít giây; nếu vẫn lỗi, chuyển tệp sang chỗ khác rồi tạo lại."
        ) from None
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def _user(row: sqlite3.Row) -> User:
    return User(
        name=row["name"],
        role=Role(row["role"]),
        active=bool(row["active"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        last_login_at=parse_utc(row["last_login_at"]),
    )


class UserStore:
    """Users of one installation (``<state>/users.sqlite3``)."""

    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        self.path = Path(path)
        self._hasher = hasher
        self._dummy: str | None = None

    @classmethod
    def open(cls, state_dir: Path) -> UserStore:
        """The user store of this state folder (the file is created on the first write)."""
        return cls(Path(state_dir) / USERS_FILE)

    @property
    def hasher(self) -> PasswordHasher:
        if self._hasher is None:
            from argon2 import PasswordHasher

            self._hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (64 MiB)
        return self._hasher

    def _db(self, *, write: bool) -> AbstractContextManager[sqlite3.Connection]:
        return state_db(self.path, _SCHEMA, SCHEMA_VERSION, create=write, what="tệp người dùng")

    # -- reading ----------------------------------------------------------------------
    def users(self) -> list[User]:
        """Every user, by name (empty when the file does not exist yet)."""
        try:
            with self._db(write=False) as conn:
                return [_user(r) for r in conn.execute("SELECT * FROM users ORDER BY name")]
        except FileNotFoundError:
            return []

    def get(self, name: str) -> User | None:
        """The user of that name, or None."""
        try:
            key = check_name(name)
        except UserError:
            return None
        try:
            with self._db(write=False) as conn:
                row = conn.execute("SELECT * FROM users WHERE name = ?", (key,)).fetchone()
        except FileNotFoundError:
            return None
        return _user(row) if row else None

    def require(self, name: str) -> User:
        """The user of that name, or UserError naming what to do."""
        user = self.get(name)
        if user is None:
            raise UserError(f"Không có người dùng '{name}'. Xem danh sách: broadcaster user list")
        return user

    # -- changing ---------------------------------------------------------------------
    def add(self, name: str, role: Role | str, password: str) -> User:
        """Create a user (UserError if the name is taken or the password too weak)."""
        key = check_name(name)
        role = role if isinstance(role, Role) else Role.parse(role)
        check_password(password)
        digest = self._hash(password)
        now = utc_text(utc_now())
        with self._db(write=True) as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (key,)).fetchone():
                raise UserError(
                    f"Đã có người dùng '{key}'. Chọn tên khác, hoặc đổi mật khẩu: broadcaster user passwd {key}"
                )
            conn.execute(
                "INSERT INTO users (name, role, password_hash, active, created_at, updated_at) VALUES (?,?,?,1,?,?)",
                (key, role.value, digest, now, now),
            )
        return self.require(key)

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password."""
        key = self.require(name).name
        check_password(password)
        digest = self._hash(password)
        with self._db(write=True) as conn:
            conn.execute(
                "UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?", (digest, utc_text(utc_now()), key)
            )

    def set_role(self, name: str, role: Role | str) -> User:
        """Change a user's role (the last active admin stays admin)."""
        user = self.require(name)
        role = role if isinstance(role, Role) else Role.parse(role)
        with self._db(write=True) as conn:
            if role is not Role.ADMIN:
                self._keep_an_admin(conn, user, "đổi vai trò của")
            conn.execute(
                "UPDATE users SET role = ?, updated_at = ? WHERE name = ?", (role.value, utc_text(utc_now()), user.name)
            )
        return self.require(user.name)

    def set_active(self, name: str, active: bool) -> User:
        """Disable (or enable again) a user: a disabled user cannot log in or approve."""
        user = self.require(name)
        with self._db(write=True) as conn:
            if not active:
                self._keep_an_admin(conn, user, "khoá")
            conn.execute(
                "UPDATE users SET active = ?, updated_at = ? WHERE name = ?",
                (int(active), utc_text(utc_now()), user.name),
            )
        return self.require(user.name)

    def remove(self, name: str) -> None:
        """Delete a user (their past approvals keep their name)."""
        user = self.require(name)
        with self._db(write=True) as conn:
            self._keep_an_admin(conn, user, "xoá")
            conn.execute("DELETE FROM users WHERE name = ?", (user.name,))

    @staticmethod
    def _keep_an_admin(conn: sqlite3.Connection, user: User, verb: str) -> None:
        """Refuse to leave an installation that had an admin without an active one."""
        if user.role is not Role.ADMIN or not user.active:
            return
        others = conn.execute(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1 AND name != ?", (user.name,)
        ).fetchone()[0]
        if not others:
            raise UserError(
                f"Không thể {verb} '{user.name}': đây là người quản trị duy nhất còn hoạt động. "
                "Hãy tạo một người quản trị khác trước (broadcaster user add TÊN --role admin)."
            )

    # -- logging in -------------------------------------------------------------------
    def authenticate(
        self, name: str, password: str, *, wait: float | None = None, slot_taken: bool = False
    ) -> User | None:
        """The active user whose password this is, or None (unknown name, wrong password, disabled).

        An unknown name costs the same argon2 work as a known one, so response time does not
        tell which names exist; both hold a :func:`password_slot` (waiting ``wait`` seconds for
        one, None: as long as it takes; :class:`PasswordBusy` otherwise) — or ``slot_taken``:
        the caller already holds one (:func:`take_password_slot`). A hash with outdated
        parameters is replaced on success.
        """
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        try:
            key = check_name(name)
            with self._db(write=False) as conn:
                row = conn.execute("SELECT * FROM users WHERE name = ?", (key,)).fetchone()
        except (UserError, FileNotFoundError):
            row = None
        with nullcontext() if slot_taken else password_slot(wait):
            dummy = self._dummy_hash()  # made once, before the first check of any name: same cost for all
            stored = row["password_hash"] if row else dummy
            try:
                argon2_work(self.hasher.verify, stored, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return None
            if row is None or not row["active"]:
                return None
            fresh = argon2_work(self.hasher.hash, password) if self.hasher.check_needs_rehash(stored) else None
        with self._db(write=True) as conn:
            if fresh is not None:
                conn.execute("UPDATE users SET password_hash = ? WHERE name = ?", (fresh, key))
            conn.execute("UPDATE users SET last_login_at = ? WHERE name = ?", (utc_text(utc_now()), key))
        return self.require(key)

    def _hash(self, password: str) -> str:
        """argon2id of a new password, in a :func:`password_slot`."""
        with password_slot(HASH_WAIT_SECONDS):
            return argon2_work(self.hasher.hash, password)

    def _dummy_hash(self) -> str:
        """A hash of a random password with this hasher's parameters (unknown names verify against it).

        Called with a password slot held.
        """
        if self._dummy is None:
            self._dummy = argon2_work(self.hasher.hash, os.urandom(16).hex())
        return self._dummy

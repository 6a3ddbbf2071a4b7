"""The audit trail: every operator action, appended to ``audit.jsonl`` in the state directory.

One JSON object a line::

    {"seq": 12, "at": "2026-04-21T02:05:03.120+00:00", "who": "lan", "where": "api 127.0.0.1",
     "action": "say", "detail": {...}, "prev": "<sha256 of line 11>", "hash": "…", "mac": "…"}

``prev`` is the SHA-256 of the previous line's bytes (64 zeros for the first), ``hash`` the
SHA-256 of the entry's canonical JSON without ``hash`` and ``mac``, and ``mac`` an HMAC-SHA256
of the same bytes (so of the content and the previous line's hash) with a 32-byte random key
kept apart from the log, in ``audit-key`` (0600, created on the first append). After every
append the **anchor** ``audit-anchor`` (0600, replaced atomically) holds the line count, the
last line's MAC and a MAC over both. :func:`check` (``broadcaster audit --verify``) reports a
line edited, lines inserted or removed in the middle, the last lines removed (the anchor counts
more lines than the file has), the file truncated or deleted while the anchor exists, the anchor
missing or edited, and a chain rewritten with SHA-256 alone (the MACs do not match the key). An
append that finds the anchor not matching the file writes a keyed ``audit_mismatch`` line first,
so cutting the tail is not hidden by the next login: verify names that line too.

What this can and cannot show, honestly:

* Someone who edits or copies **the log alone** (a backup, a USB stick, a hand edit) cannot
  make it verify: without the key no MAC can be computed, and the anchor pins the last line.
* Someone who can read ``audit-key`` (root on this machine, or the daemon's user) can rewrite
  everything — log, MACs and anchor — and it verifies. The key only raises the bar to "took
  the key too"; it is not a signature.
* Rolling back the log **and** the anchor together to an earlier, consistent pair (both
  copied away beforehand) is not visible on this machine. A copy of the anchor **off the
  machine** (in the backups, printed in the daily report) is what shows it:
  ``broadcaster audit --verify --anchor COPY`` refuses a log that no longer reaches that copy.
* Deleting key, anchor and every line's ``mac`` makes the log look like one from before keys
  existed; verify says how many lines carry no MAC ("trước khi có khóa") so that shows.

Lines written before keys existed (no ``mac``) still verify by the SHA-256 chain and are shown
as "trước khi có khóa"; the first keyed line chains on from them, and a line without ``mac``
after a keyed one is refused. Appends are serialised by a thread lock and an ``fcntl`` lock on
the file, so the daemon's threads and a CLI process can all write; each line is written with
one ``write`` and fsynced before the anchor moves (a power cut leaves the anchor one line
behind at most, which verify accepts).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from broadcaster.audit_chain import (  # the chain's names, re-exported: callers need only this module
    GENESIS,
    MISMATCH,
    Anchor,
    BadAnchor,
    Verdict,
    anchor_mac,
    anchor_path,
    canonical,
    check,
    entry_hash,
    entry_mac,
    key_path,
    parse,
    read_anchor,
    read_key,
    sha,
)
from broadcaster.fsutil import atomic_file, temp_beside

__all__ = [
    "ACTION_VI", "AUDIT_FILENAME", "GENESIS", "MISMATCH", "Anchor", "AuditEntry", "BadAnchor", "Verdict",
    "anchor_path", "append", "audit_path", "canonical", "check", "entries", "entry_hash", "entry_mac",
    "key_path", "parse", "read_anchor", "read_key", "sha", "verify",
]  # fmt: skip

AUDIT_FILENAME = "audit.jsonl"
KEY_BYTES = 32
SYSTEM = "hệ thống"

#: Vietnamese names of the actions the program records (unknown actions are shown as they are)
ACTION_VI = {
    "say": "phát ngay văn bản",
    "play": "phát ngay tệp âm thanh",
    "stop": "dừng buổi đang phát",
    "cancel": "hủy lượt trong hàng chờ",
    "reload": "nạp lại lịch",
    "schedule_edit": "sửa lịch phát",
    "script_edit": "sửa kịch bản",
    "approve": "duyệt nội dung",
    "reject": "từ chối nội dung",
    "revoke": "thu hồi duyệt",
    "review": "xem xét bản tin khẩn cấp",
    "login": "đăng nhập",
    "login_failed": "đăng nhập thất bại",
    "logout": "đăng xuất",
    "user_change": "thay đổi người dùng",
    "start": "khởi động phần mềm",
    "shutdown": "dừng phần mềm",
    "upload": "tải lên tệp ghi âm",
    "refused": "bị từ chối (không có quyền)",
    MISMATCH: "phát hiện nhật ký không khớp mốc (bị cắt, xoá hoặc sửa)",
}

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def audit_path(state_dir: Path) -> Path:
    """Where the audit trail lives inside a state directory."""
    return Path(state_dir) / AUDIT_FILENAME


@dataclass(frozen=True)
class AuditEntry:
    """One recorded action."""

    seq: int
    at: datetime
    who: str
    where: str
    action: str
    detail: Any
    prev: str
    hash: str
    line: int = 0

    @property
    def action_vi(self) -> str:
        return ACTION_VI.get(self.action, self.action)


def _write_anchor(path: Path, key: bytes, lines: int, last_mac: str) -> None:
    body = {"lines": lines, "last_mac": last_mac, "mac": anchor_mac(key, lines, last_mac)}
    with atomic_file(path, "w", perms=0o600, encoding="utf-8") as fh:
        fh.write(json.dumps(body) + "\n")


def _create_key(path: Path) -> bytes:
    """32 random bytes in a new 0600 file; a key another process made meanwhile wins."""
    tmp = temp_beside(path, 0o600)
    try:
        with open(tmp, "wb") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        with suppress(FileExistsError):
            os.link(tmp, path)  # never replaces an existing key
    finally:
        os.unlink(tmp)
    key = read_key(path)
    if key is None:
        raise OSError(f"không tạo được khóa nhật ký thao tác '{path}'")
    return key


def _file_lock(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path.resolve(), threading.Lock())


def _tail(fd: int) -> tuple[bytes | None, bytes | None]:
    """The last complete line (without newline) and a torn piece after it (power cut), read backwards."""
    end = os.lseek(fd, 0, os.SEEK_END)
    if end == 0:
        return None, None
    data, pos = b"", end
    while True:
        last_nl = data.rfind(b"\n")
        if last_nl >= 0:
            before = data.rfind(b"\n", 0, last_nl)
            if before >= 0 or pos == 0:
                return data[before + 1 : last_nl], data[last_nl + 1 :] or None
        elif pos == 0:
            return None, data
        step = min(4096, pos)
        pos -= step
        data = os.pread(fd, step, pos) + data


@dataclass
class _Position:
    """Where the next line goes: complete lines so far, the next seq, the last line's hash and MAC."""

    lines: int = 0
    seq: int = 1
    prev: str = GENESIS
    last_mac: str = ""
    keyed: int = 0
    mac_at: dict[int, str] = field(default_factory=dict)


def _scan(fd: int, want: int | None) -> _Position:
    """Count the complete lines (seq numbered as :func:`check` expects); the MAC of line ``want``."""
    pos = _Position()
    with os.fdopen(os.dup(fd), "rb") as fh:
        fh.seek(0)
        for raw in fh:
            if not raw.endswith(b"\n"):
                break  # the torn piece: the caller closes it
            pos.lines += 1
            data = parse(raw.rstrip(b"\n"))
            mac = str(data.get("mac") or "") if data else ""
            pos.keyed += bool(mac)
            pos.seq = int(data["seq"]) + 1 if data and isinstance(data.get("seq"), int) else pos.seq + 1
            if pos.lines == want:
                pos.mac_at[want] = mac
    return pos


def _position(fd: int, anchor_file: Path, key: bytes, key_is_new: bool) -> tuple[_Position, dict[str, Any] | None]:
    """Where we are in the file and, when the anchor does not match it, what an audit_mismatch line says."""
    last, torn = _tail(fd)
    try:
        anchor: Anchor | None = read_anchor(anchor_file)
    except BadAnchor:
        anchor = Anchor(-1, "", "")
    trusted = anchor is not None and not key_is_new and anchor.valid(key)
    data = parse(last) if last is not None else None
    if trusted and anchor and data and data.get("mac") == anchor.last_mac and isinstance(data.get("seq"), int):
        pos = _Position(lines=anchor.lines, seq=data["seq"] + 1, last_mac=anchor.last_mac, keyed=1)
    else:
        pos = _scan(fd, anchor.lines if trusted and anchor else None)
    reason = _mismatch(anchor, trusted, key_is_new, pos)
    if last is not None:
        pos.prev, pos.last_mac = sha(last), str(data.get("mac") or "") if data else ""
    if torn is not None:  # closed with a newline below: it becomes a (damaged) line of its own
        pos.lines, pos.seq, pos.prev, pos.last_mac = pos.lines + 1, pos.seq + 1, sha(torn), ""
    if reason is None:
        return pos, None
    shown = anchor.lines if anchor and trusted else None
    return pos, {"reason": reason, "anchor_lines": shown, "file_lines": pos.lines}


def _mismatch(anchor: Anchor | None, trusted: bool, key_is_new: bool, pos: _Position) -> str | None:
    """Why the anchor does not match the file (Vietnamese), or None when it does (or there is none yet)."""
    if key_is_new:
        if anchor is not None:
            return "khóa audit-key bị mất (phần mềm đã tạo khóa mới) trong khi mốc vẫn còn"
        return "khóa và mốc đều mất trong khi nhật ký đã có mã xác thực" if pos.keyed else None
    if anchor is None:
        return f"không có mốc audit-anchor (bị xoá) khi nhật ký có {pos.lines} dòng"
    if not trusted:
        return "mốc audit-anchor bị sửa tay (không khớp khóa)"
    if anchor.lines > pos.lines:
        return f"mốc ghi {anchor.lines} dòng nhưng tệp chỉ còn {pos.lines} (dòng cuối bị xoá, tệp bị cắt hoặc xoá)"
    if anchor.lines and anchor.lines in pos.mac_at and pos.mac_at[anchor.lines] != anchor.last_mac:
        return f"dòng {anchor.lines} không còn là dòng mốc ghi lại (nhật ký bị viết lại)"
    return None


def _write_line(fd: int, key: bytes, pos: _Position, fields: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"seq": pos.seq, **fields, "prev": pos.prev}
    entry["hash"] = entry_hash(entry)
    entry["mac"] = entry_mac(key, entry)
    line = canonical(entry).encode("utf-8")
    os.write(fd, line + b"\n")
    pos.lines, pos.seq, pos.prev, pos.last_mac = pos.lines + 1, pos.seq + 1, sha(line), entry["mac"]
    return entry


def append(
    path: Path, *, who: str, where: str, action: str, detail: Any = None, clock: Callable[[], datetime] | None = None
) -> AuditEntry:
    """Append one action to the audit file at ``path`` (created with mode 0600) and return it.

    ``who``: the user (or ``"hệ thống"``); ``where``: ``"cli"``, ``"api 127.0.0.1"``,
    ``"console"``…; ``action``: a key of :data:`ACTION_VI`; ``detail``: anything JSON can hold.
    The key is created on the first append; the anchor is rewritten after every one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    now = (clock or (lambda: datetime.now(UTC)))().astimezone(UTC).isoformat(timespec="milliseconds")
    with _file_lock(path):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd is closed
            existing = read_key(key_path(path))
            key = existing or _create_key(key_path(path))
            pos, mismatch = _position(fd, anchor_path(path), key, existing is None)
            end = os.lseek(fd, 0, os.SEEK_END)
            if end and os.pread(fd, 1, end - 1) != b"\n":
                os.write(fd, b"\n")  # a torn last line (power cut): keep it, start a new one
            if mismatch is not None:
                _write_line(
                    fd, key, pos, {"at": now, "who": SYSTEM, "where": "audit", "action": MISMATCH, "detail": mismatch}
                )
            fields = {"at": now, "who": str(who), "where": str(where), "action": str(action), "detail": detail}
            entry = _write_line(fd, key, pos, fields)
            os.fsync(fd)
            _write_anchor(anchor_path(path), key, pos.lines, pos.last_mac)
        finally:
            os.close(fd)
    return _entry(entry, 0)


def _entry(data: dict[str, Any], line: int) -> AuditEntry:
    return AuditEntry(
        seq=int(data["seq"]),
        at=datetime.fromisoformat(str(data["at"])),
        who=str(data["who"]),
        where=str(data["where"]),
        action=str(data["action"]),
        detail=data.get("detail"),
        prev=str(data["prev"]),
        hash=str(data["hash"]),
        line=line,
    )


def entries(path: Path) -> Iterator[AuditEntry]:
    """Every readable entry, in file order (damaged lines are skipped; :func:`verify` names them)."""
    path = Path(path)
    if not path.is_file():
        return
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                yield _entry(json.loads(raw), number)
            except (ValueError, KeyError, TypeError):
                continue


def verify(path: Path) -> list[str]:
    """Check chain, MACs and anchor; return problems in Vietnamese with line numbers (empty: intact)."""
    return check(Path(path)).problems

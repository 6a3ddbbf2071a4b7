"""The audit trail: every operator action, appended to ``audit.jsonl`` in the state directory.

One JSON object a line::

    {"seq": 12, "at": "2026-04-21T02:05:03.120+00:00", "who": "lan", "where": "api 127.0.0.1",
     "action": "say", "detail": {...}, "prev": "<sha256 of line 11>", "hash": "<sha256 of this entry>"}

``prev`` is the SHA-256 of the previous line's bytes (64 zeros for the first) and ``hash`` the
SHA-256 of this entry's canonical JSON without ``hash``. Editing, inserting or deleting a line
breaks the chain at that line, which :func:`verify` names. What a hash chain cannot show on its
own is the *last* lines being cut off; keep a copy of the latest ``hash`` elsewhere (the daily
report, a print-out) if that matters.

Appends are serialised by a thread lock and an ``fcntl`` lock on the file, so the daemon's
threads and a CLI process can all write; each line is written with one ``write`` and fsynced.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AUDIT_FILENAME = "audit.jsonl"
GENESIS = "0" * 64

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
}

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def audit_path(state_dir: Path) -> Path:
    """Where the audit trail lives inside a state directory."""
    return Path(state_dir) / AUDIT_FILENAME


def _canonical(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry_hash(entry: dict[str, Any]) -> str:
    """The hash an entry must carry: over its canonical JSON without the ``hash`` key."""
    return _sha(_canonical({k: v for k, v in entry.items() if k != "hash"}).encode("utf-8"))


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


def _file_lock(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path.resolve(), threading.Lock())


def _last_line(fd: int) -> bytes | None:
    """The file's last line (without its newline), read backwards from the end; None if empty."""
    end = os.lseek(fd, 0, os.SEEK_END)
    if end == 0:
        return None
    chunk, pos, data = 4096, end, b""
    while pos > 0:
        step = min(chunk, pos)
        pos -= step
        data = os.pread(fd, step, pos) + data
        body = data[:-1] if data.endswith(b"\n") else data
        if b"\n" in body:
            return body.rsplit(b"\n", 1)[1]
    return data[:-1] if data.endswith(b"\n") else data


def _next_seq(fd: int, last: bytes | None) -> int:
    if last is None:
        return 1
    try:
        return int(json.loads(last)["seq"]) + 1
    except (ValueError, KeyError, TypeError):
        # a damaged last line (verify() names it): number on from the line count, as verify expects
        with os.fdopen(os.dup(fd), "rb") as fh:
            fh.seek(0)
            return sum(1 for _ in fh) + 1


def append(
    path: Path, *, who: str, where: str, action: str, detail: Any = None, clock: Callable[[], datetime] | None = None
) -> AuditEntry:
    """Append one action to the audit file at ``path`` (created with mode 0600) and return it.

    ``who``: the user (or ``"hệ thống"``); ``where``: ``"cli"``, ``"api 127.0.0.1"``,
    ``"console"``…; ``action``: a key of :data:`ACTION_VI`; ``detail``: anything JSON can hold.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    now = (clock or (lambda: datetime.now(UTC)))()
    with _file_lock(path):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd is closed
            last = _last_line(fd)
            if last is not None and os.pread(fd, 1, os.lseek(fd, 0, os.SEEK_END) - 1) != b"\n":
                os.write(fd, b"\n")  # a torn last line (power cut): keep it, start a new one
            entry: dict[str, Any] = {
                "seq": _next_seq(fd, last),
                "at": now.astimezone(UTC).isoformat(timespec="milliseconds"),
                "who": str(who),
                "where": str(where),
                "action": str(action),
                "detail": detail,
                "prev": GENESIS if last is None else _sha(last),
            }
            entry["hash"] = entry_hash(entry)
            os.write(fd, (_canonical(entry) + "\n").encode("utf-8"))
            os.fsync(fd)
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


def _check_line(number: int, raw: bytes, prev: str, seq: int) -> list[str]:
    """Problems of one line given the previous line's hash and the expected seq."""
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError
    except ValueError:
        return [f"dòng {number}: không đọc được (không phải JSON) — dòng bị sửa hoặc ghi dở"]
    problems = []
    missing = [k for k in ("seq", "at", "who", "where", "action", "prev", "hash") if k not in data]
    if missing:
        problems.append(f"dòng {number}: thiếu trường {', '.join(missing)}")
    if data.get("hash") != entry_hash(data):
        problems.append(f"dòng {number}: nội dung không khớp mã băm của chính nó — dòng này đã bị sửa")
    if data.get("prev") != prev:
        problems.append(f"dòng {number}: không nối với dòng trước (mã 'prev' sai) — có dòng bị sửa, xoá hoặc chèn")
    if data.get("seq") != seq:
        problems.append(f"dòng {number}: số thứ tự {data.get('seq')} thay vì {seq} — có dòng bị xoá hoặc chèn")
    return problems


def verify(path: Path) -> list[str]:
    """Check the whole chain; return problems in Vietnamese with line numbers (empty: intact)."""
    path = Path(path)
    if not path.is_file():
        return []
    problems: list[str] = []
    prev, seq = GENESIS, 1
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            raw = line.rstrip(b"\n")
            problems += _check_line(number, raw, prev, seq)
            prev = _sha(raw)
            try:
                seq = int(json.loads(raw)["seq"]) + 1
            except (ValueError, KeyError, TypeError):
                seq += 1
    return problems

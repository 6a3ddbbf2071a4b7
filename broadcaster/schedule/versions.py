"""Every saved version of ``schedule.yaml``, and the one safe way to write it (:func:`save`).

:func:`save` checks a new text with the daemon's own loader (on a temp file beside the real one),
refuses it when the file changed since the operator's form was built, keeps the previous and the
new version here, writes atomically and records the edit in the audit trail; :func:`restore`
brings an old version back the same way.

The store is a folder (``Layout.schedule_versions_dir``): one file per version (``0001.yaml``,
``0002.yaml`` …, written whole with :func:`broadcaster.fsutil.atomic_file`) and ``index.jsonl``,
one JSON object a line::

    {"id": 3, "at": "2026-04-21T02:05:03+00:00", "who": "lan", "where": "console 10.0.0.5",
     "reason": "buổi 'sang': giờ 06:30 → 06:45", "sha256": "…", "size": 2841}

A version file is complete before its index line is appended, so a power cut leaves at worst
an unlisted file, never a listed version without its text. A torn last index line is skipped.
:meth:`VersionStore.locked` serialises writers across threads and processes (``fcntl``).
"""

from __future__ import annotations

import difflib
import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from broadcaster import audit
from broadcaster.fsutil import atomic_file, temp_beside
from broadcaster.layout import Layout
from broadcaster.schedule.diagnostics import Diagnostic
from broadcaster.schedule.load import load_schedule

log = logging.getLogger("broadcaster.schedule.versions")

STALE_MESSAGE = "Lịch vừa được sửa ở nơi khác — tải lại trang rồi sửa lại"
INDEX_FILE = "index.jsonl"
LOCK_FILE = ".lock"

_thread_lock = threading.RLock()


class VersionError(Exception):
    """A version cannot be read; ``str()`` is a Vietnamese message for the operator."""


def text_sha256(text: str) -> str:
    """SHA-256 (hex) of a schedule text as UTF-8: the identity of a version and a form's base."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Version:
    """One saved version of the schedule (its text is in :meth:`VersionStore.get`)."""

    id: int
    at: datetime
    who: str
    where: str
    reason: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        """The index line (and the API's answer) for this version."""
        return {
            "id": self.id,
            "at": self.at.isoformat(timespec="seconds"),
            "who": self.who,
            "where": self.where,
            "reason": self.reason,
            "sha256": self.sha256,
            "size": self.size,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Version:
        """Parse an index line (raises KeyError/ValueError/TypeError when it is damaged)."""
        return cls(
            id=int(data["id"]),
            at=datetime.fromisoformat(str(data["at"])),
            who=str(data["who"]),
            where=str(data["where"]),
            reason=str(data.get("reason", "")),
            sha256=str(data["sha256"]),
            size=int(data.get("size", 0)),
        )


class VersionStore:
    """The versions folder of one station."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @classmethod
    def of(cls, layout: Layout) -> VersionStore:
        """The store at ``layout.schedule_versions_dir``."""
        return cls(layout.schedule_versions_dir)

    @property
    def index_path(self) -> Path:
        return self.directory / INDEX_FILE

    def file_of(self, version_id: int) -> Path:
        return self.directory / f"{version_id:04d}.yaml"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock (threads of this process and other processes) while writing."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with _thread_lock:
            fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the flock

    def versions(self) -> list[Version]:
        """Every version, newest first; damaged index lines are skipped."""
        try:
            raw = self.index_path.read_bytes()
        except FileNotFoundError:
            return []
        found: dict[int, Version] = {}
        for line in raw.splitlines():
            try:
                version = Version.from_json(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue  # a torn line after a power cut
            found[version.id] = version
        return sorted(found.values(), key=lambda v: v.id, reverse=True)

    def latest(self) -> Version | None:
        """The newest version, or None when nothing was saved yet."""
        listed = self.versions()
        return listed[0] if listed else None

    def get(self, version_id: int) -> tuple[Version, str]:
        """A version and its text; raises :class:`VersionError` (Vietnamese) when it is missing or damaged."""
        version = next((v for v in self.versions() if v.id == version_id), None)
        if version is None:
            raise VersionError(f"Không có phiên bản số {version_id} của lịch — tải lại trang để xem danh sách mới.")
        try:
            text = self.file_of(version_id).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise VersionError(f"Không đọc được phiên bản số {version_id} của lịch: {exc}") from None
        if text_sha256(text) != version.sha256:
            raise VersionError(
                f"Phiên bản số {version_id} đã bị sửa hoặc hỏng (mã kiểm tra không khớp) — chọn một phiên bản khác."
            )
        return version, text

    def add(self, text: str, *, who: str, where: str, reason: str, at: datetime | None = None) -> Version:
        """Keep ``text`` as a new version (call inside :meth:`locked`); returns it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        latest = self.latest()
        version = Version(
            id=(latest.id + 1) if latest else 1,
            at=(at or datetime.now(UTC)).astimezone(UTC),
            who=who,
            where=where,
            reason=reason,
            sha256=text_sha256(text),
            size=len(text.encode("utf-8")),
        )
        with atomic_file(self.file_of(version.id), "w", perms=0o600, encoding="utf-8") as fh:
            fh.write(text)
        line = json.dumps(version.to_json(), ensure_ascii=False, sort_keys=True) + "\n"
        fd = os.open(self.index_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            end = os.lseek(fd, 0, os.SEEK_END)
            if end and os.pread(fd, 1, end - 1) != b"\n":
                os.write(fd, b"\n")  # a torn last line (power cut): leave it, start a new one
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return version

    def saved_here(self, text: str) -> bool:
        """True when ``text`` is the newest saved version (the daemon's watcher then knows who edited)."""
        latest = self.latest()
        return latest is not None and latest.sha256 == text_sha256(text)


# -- saving -----------------------------------------------------------------------------------


@dataclass
class SaveResult:
    """What a save did: ``status`` is ``saved``, ``unchanged``, ``invalid`` (errors, file untouched) or ``stale``."""

    status: str
    message: str
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    version: Version | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("saved", "unchanged")

    def to_json(self) -> dict[str, Any]:
        """The API's answer: errors and warnings with their line and column."""

        def diag(d: Diagnostic) -> dict[str, Any]:
            return {"line": d.line, "col": d.col, "message": d.message, "text": f"dòng {d.line}: {d.message}"}

        return {
            "ok": self.ok,
            "status": self.status,
            "message": self.message,
            "errors": [diag(d) for d in self.errors],
            "warnings": [diag(d) for d in self.warnings],
            "version": self.version.to_json() if self.version else None,
        }


def read_text(path: Path) -> str:
    """The schedule's text as it is on disk now ('' when missing or unreadable)."""
    try:
        return Path(path).read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return ""


def validate(path: Path, text: str) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """(errors, warnings) of ``text`` as the schedule at ``path``: the daemon's loader, on a temp file beside it.

    Beside it, so that ``scripts_vi/`` and ``audio/`` resolve as they will for the real file; the
    temp name starts with a dot, which the daemon's watcher ignores.
    """
    tmp = temp_beside(path, 0o600)
    try:
        tmp.write_bytes(text.encode("utf-8"))
        result = load_schedule(tmp)
    finally:
        tmp.unlink(missing_ok=True)
    shown = Path(path)
    return [replace(d, path=shown) for d in result.errors], [replace(d, path=shown) for d in result.warnings]


def save(
    path: Path,
    new_text: str,
    *,
    who: str,
    where: str,
    layout: Layout,
    base: str | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> SaveResult:
    """Validate ``new_text``, keep the previous and the new version, write it atomically, audit it.

    ``base`` is the SHA-256 of the text the operator's form was built from: when the file changed
    since (an edit by hand, another console), nothing is written and the result is ``stale``.
    """
    store = VersionStore.of(layout)
    with store.locked():
        current = read_text(path)
        if base is not None and text_sha256(current) != base:
            return SaveResult("stale", STALE_MESSAGE)
        if new_text == current:
            return SaveResult("unchanged", "Không có gì thay đổi — lịch giữ nguyên.")
        errors, warnings = validate(path, new_text)
        if errors:
            first = errors[0]
            return SaveResult(
                "invalid", f"Lịch mới có lỗi ở dòng {first.line}, chưa lưu: {first.message}", errors, warnings
            )
        if current and not store.saved_here(current):
            store.add(current, who="sửa trực tiếp trong tệp", where="tệp lịch", reason="bản trước khi sửa")
        with atomic_file(path, "wb") as fh:
            fh.write(new_text.encode("utf-8"))
        version = store.add(new_text, who=who, where=where, reason=reason or "sửa lịch")
    diff = difflib.unified_diff(current.splitlines(), new_text.splitlines(), "trước", "sau", lineterm="", n=1)
    info = {"version": version.id, "reason": version.reason, "sha256": version.sha256, "diff": list(diff)[:200]}
    try:
        audit.append(layout.audit_log, who=who, where=where, action="schedule_edit", detail={**info, **(detail or {})})
    except OSError as exc:  # the schedule is saved; a full disk must not hide that
        log.error("Không ghi được nhật ký thao tác (%s): %s", layout.audit_log, exc)
    return SaveResult("saved", f"Đã lưu lịch (phiên bản số {version.id}).", [], warnings, version)


def restore(path: Path, version_id: int, *, who: str, where: str, layout: Layout) -> SaveResult:
    """Bring back a saved version: validated first, then saved as a new version (admins only, at the route)."""
    try:
        _, text = VersionStore.of(layout).get(version_id)
    except VersionError as exc:
        return SaveResult("invalid", str(exc))
    reason = f"khôi phục phiên bản số {version_id}"
    return save(path, text, who=who, where=where, layout=layout, reason=reason, detail={"restored": version_id})

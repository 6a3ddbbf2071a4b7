"""Recordings uploaded from a phone or the console: the hidden ``.part`` pieces and the folder's quota.

* A ``.part`` file (``audio/uploads/.<id>.part``) is created with ``O_CREAT | O_EXCL |
  O_NOFOLLOW`` (0600) and appended to with ``O_NOFOLLOW``, below the station folder with no
  symlink on the way (:func:`broadcaster.fsutil.open_inside`): a link planted under that name,
  or an ``audio/uploads`` that is a link, is refused — never written through as the daemon's user.
* Whoever receives the pieces calls :func:`discard` on any failure (too big, out of order, the
  client gone, a bad format), so nothing half-sent stays; what a crash leaves behind is swept:
  ``.part`` files older than :data:`PART_MAX_AGE_S` at daemon start and before each new upload
  (a ``.part`` that is a symlink at once — the program never makes one).
* The folder holds at most :data:`QUOTA_BYTES` (recordings and their decoded copies); a piece
  past it is refused with a Vietnamese message saying to delete old recordings.

Standard library only.
"""

from __future__ import annotations

import os
import stat
import time
from contextlib import suppress
from pathlib import Path

from broadcaster.fsutil import UnsafePath, open_inside
from broadcaster.layout import Layout

PART_MAX_AGE_S = 3600
QUOTA_BYTES = 500 * 1024 * 1024
INTERRUPTED = "Tải lên bị gián đoạn (thiếu một phần). Hãy chọn lại tệp và tải lên lần nữa."


class UploadRefused(Exception):
    """A piece that is not kept; ``status`` is the HTTP status, ``message`` Vietnamese."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def part_path(layout: Layout, upload_id: str) -> Path:
    """The hidden file the pieces of one upload are appended to (``upload_id`` already checked: hex)."""
    return layout.uploads_dir / f".{upload_id}.part"


def used_bytes(folder: Path) -> int:
    """Bytes in the folder's regular files (links are not followed, not counted)."""
    total = 0
    with suppress(FileNotFoundError, NotADirectoryError), os.scandir(folder) as found:
        for entry in found:
            with suppress(FileNotFoundError):
                st = entry.stat(follow_symlinks=False)
                total += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return total


def sweep_parts(folder: Path, now: float | None = None, max_age: float = PART_MAX_AGE_S) -> list[str]:
    """Remove ``.part`` files older than ``max_age`` seconds (and any ``.part`` that is a link); their names."""
    if folder.is_symlink() or not folder.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    with os.scandir(folder) as found:
        for entry in found:
            if not (entry.name.startswith(".") and entry.name.endswith(".part")):
                continue
            with suppress(FileNotFoundError):
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode) or now - st.st_mtime > max_age:
                    os.unlink(entry.path)  # unlink never follows a link: removes the link itself
                    removed.append(entry.name)
    return removed


def _quota_check(folder: Path, size: int, quota: int) -> None:
    used = used_bytes(folder)
    if used + size > quota:
        mb = 1024 * 1024
        raise UploadRefused(
            507,
            f"Thư mục ghi âm audio/uploads/ đã đầy ({used // mb} MB, tối đa {quota // mb} MB). Hãy xoá bớt các "
            "bản ghi cũ không còn dùng trong thư mục đó (hoặc nhờ người phụ trách kỹ thuật) rồi tải lên lại.",
        )


def write_part(layout: Layout, upload_id: str, part: int, data: bytes, quota: int = QUOTA_BYTES) -> Path:
    """Keep one piece: the first creates the ``.part`` (after a sweep), the others append to it.

    Raises :class:`UploadRefused` — the caller then calls :func:`discard`.
    """
    folder, path = layout.uploads_dir, part_path(layout, upload_id)
    if part == 0:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        sweep_parts(folder)
        if not folder.is_symlink():  # (a linked folder is refused by open_inside below)
            with suppress(FileNotFoundError):
                os.unlink(path)  # a stale piece under the same id (or a planted link): removed, never followed
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    else:
        flags = os.O_WRONLY | os.O_APPEND
    _quota_check(folder, len(data), quota)
    try:
        fd = open_inside(layout.base_dir, path, flags, 0o600)
    except UnsafePath as exc:
        raise UploadRefused(400, str(exc)) from None
    except (FileNotFoundError, FileExistsError):
        raise UploadRefused(409, INTERRUPTED) from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def discard(layout: Layout, upload_id: str) -> None:
    """Remove an upload's ``.part`` (a link under that name is removed, not followed)."""
    if layout.uploads_dir.is_symlink():
        return  # nothing of ours can be in there: open_inside refused it
    with suppress(FileNotFoundError, NotADirectoryError):
        os.unlink(part_path(layout, upload_id))

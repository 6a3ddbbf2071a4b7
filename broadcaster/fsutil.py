"""Crash-safe file writes, and opening files inside a folder without following links.

:func:`atomic_file`: write a temporary file beside the target, fsync, rename over it — a power
cut or a failed write never leaves a half-written cache entry, state file or WAV under the real
name. :func:`open_inside` / :func:`read_text_inside`: a script or an upload opened by name never
leads through a symlink (``scripts_vi/leak.txt → state/api-token``) or out of its folder.
Standard library only (the CLI's fast path uses it).
"""

from __future__ import annotations

import errno
import os
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO


def temp_beside(path: str | os.PathLike, perms: int = 0o666) -> Path:
    """Create an empty, uniquely named temporary file next to ``path`` (for write + rename).

    Unlike ``mkstemp`` (always 0600) the file gets ``perms`` under the umask, so cached and
    rehearsal audio stay readable by the operator's other tools after the rename; secrets
    pass ``0o600``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.part")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, perms))
            return tmp
        except FileExistsError:
            continue


@contextmanager
def atomic_file(
    path: str | os.PathLike, mode: str = "wb", *, perms: int = 0o666, encoding: str | None = None
) -> Iterator[IO]:
    """Yield a file to write; on success it replaces ``path`` whole, on error it is removed."""
    tmp = temp_beside(path, perms)
    try:
        with open(tmp, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# -- opening a file inside a folder, never through a link ----------------------------------------


class UnsafePath(OSError):
    """A path that leaves its folder or goes through a symlink; ``str()`` is a Vietnamese message."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "đường dẫn không an toàn"


def _refuse(root: Path, shown: str, why: str) -> UnsafePath:
    """The refusal; names the file relative to ``root`` only (no absolute path reaches a browser)."""
    return UnsafePath(
        f"Không mở '{shown}': {why}. Phần mềm chỉ mở tệp thật nằm trong thư mục '{root.name}' của đài, không "
        "đi theo liên kết tượng trưng (symlink) — hãy thay liên kết bằng một tệp thật (hoặc xoá nó) rồi thử lại."
    )


def _parts_inside(root: Path, path: str | os.PathLike) -> tuple[str, ...]:
    """``path`` (relative to ``root``, or absolute below it) as plain names; ``..`` and the like refused."""
    given = Path(path)
    if given.is_absolute():
        given = Path(os.path.abspath(given))
        try:
            given = given.relative_to(root)
        except ValueError:
            raise _refuse(root, given.name, "tệp nằm ngoài thư mục") from None
    parts = given.parts
    if not parts or any(p in ("", ".", "..") for p in parts):
        raise _refuse(root, given.name, "đường dẫn có '..' hoặc trống")
    return parts


def open_inside(root: str | os.PathLike, path: str | os.PathLike, flags: int = os.O_RDONLY, perms: int = 0o600) -> int:
    """Open ``path`` below ``root`` and return the descriptor; no symlink is followed on the way.

    Every folder between ``root`` and the file, and the file, must be real (not links): each
    step is opened with ``O_NOFOLLOW`` relative to the one before, so a link swapped in at any
    moment is refused by the kernel, not just by a check beforehand (``root`` itself may be
    reached through links: whoever can replace the station folder owns it anyway). The
    file must be a regular file (a FIFO would hang a read); one opened for writing must have
    a single name (a hard link to a file elsewhere is refused). ``flags`` are ``os.open``'s
    (add ``O_CREAT | O_EXCL`` to create); raises :class:`UnsafePath` (an ``OSError``) when
    refused, ``FileNotFoundError`` and the like as ``os.open`` does.
    """
    root = Path(os.path.abspath(root))
    parts = _parts_inside(root, path)
    shown = "/".join(parts)
    resolved_root = root.resolve()
    if not (resolved_root / Path(*parts)).resolve().is_relative_to(resolved_root):
        raise _refuse(root, shown, "tệp (hoặc một thư mục trên đường tới nó) là liên kết trỏ ra ngoài thư mục")
    dir_flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(resolved_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in parts[:-1]:
            try:
                step = os.open(name, dir_flags, dir_fd=fd)
            except NotADirectoryError:
                raise _refuse(root, shown, f"'{name}' không phải thư mục thật (là liên kết?)") from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _refuse(root, shown, f"thư mục '{name}' là một liên kết") from None
                raise
            os.close(fd)
            fd = step
        try:
            file_fd = os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, perms, dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _refuse(root, shown, "tệp là một liên kết") from None
            raise
    finally:
        os.close(fd)
    try:
        st = os.fstat(file_fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(root, shown, "không phải tệp thường")
        if flags & (os.O_WRONLY | os.O_RDWR) and st.st_nlink > 1:
            raise _refuse(root, shown, "tệp có liên kết cứng (hard link) tới tệp khác")
        os.set_blocking(file_fd, True)
    except BaseException:
        os.close(file_fd)
        raise
    return file_fd


def read_bytes_inside(root: str | os.PathLike, path: str | os.PathLike) -> bytes:
    """The bytes of ``path`` below ``root`` (see :func:`open_inside`: links are refused)."""
    with os.fdopen(open_inside(root, path), "rb") as fh:
        return fh.read()


def read_text_inside(root: str | os.PathLike, path: str | os.PathLike, encoding: str = "utf-8") -> str:
    """The text of ``path`` below ``root``; raises UnicodeDecodeError on bytes that are not ``encoding``."""
    return read_bytes_inside(root, path).decode(encoding)


def check_inside(root: str | os.PathLike, path: str | os.PathLike) -> None:
    """Raise :class:`UnsafePath` (or FileNotFoundError) unless ``path`` opens safely below ``root``."""
    os.close(open_inside(root, path))

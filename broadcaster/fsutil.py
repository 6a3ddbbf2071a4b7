"""Crash-safe file writes: write a temporary file beside the target, fsync, rename over it.

A power cut or a failed write never leaves a half-written cache entry, state file or WAV
under the real name. Standard library only (the CLI's fast path uses it).
"""

from __future__ import annotations

import os
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

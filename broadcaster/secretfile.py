"""Secret files (passwords): 0600, read and written so no one else on the machine can read them.

Used for the Icecast source password (``broadcaster.zones.secrets``) and the SMTP password of
the alerts (``broadcaster.alerts``). Standard library only.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class SecretFileError(ValueError):
    """A secret file is unsafe, empty or unreadable; ``str()`` is a Vietnamese message naming the file."""


def read_secret_file(path: Path) -> str | None:
    """The first line of a 0600 secret file; None when it does not exist.

    Raises :class:`SecretFileError` when the file can be read by the group or others (a
    password anyone on the machine can read is no password), when it is empty or unreadable.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretFileError(f"Không đọc được tệp mật khẩu '{path}': {exc.strerror}.") from exc
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretFileError(
            f"Tệp mật khẩu '{path}' đang cho người khác đọc được (quyền {stat.filemode(st.st_mode)}). "
            f"Hãy chạy: chmod 600 {path}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretFileError(f"Không đọc được tệp mật khẩu '{path}': {exc}.") from exc
    value = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not value:
        raise SecretFileError(f"Tệp mật khẩu '{path}' đang trống. Hãy ghi mật khẩu vào dòng đầu tiên của tệp.")
    return value


def write_secret_file(path: Path, value: str) -> None:
    """Write ``value`` to ``path`` with mode 0600 from the start (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT

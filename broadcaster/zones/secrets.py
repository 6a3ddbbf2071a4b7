"""The Icecast source password: from ``LOA_XA_ICECAST_PASSWORD`` or ``state/icecast-password`` (0600).

The password is never logged; error messages name the file and the variable, never the value.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from broadcaster.layout import Layout

ENV_PASSWORD = "LOA_XA_ICECAST_PASSWORD"


class ZoneConfigError(Exception):
    """A zone (Icecast) setting is missing or unsafe; ``str()`` is a Vietnamese message for the operator."""


def read_secret_file(path: Path) -> str | None:
    """The first line of a 0600 secret file; None when it does not exist.

    Raises :class:`ZoneConfigError` when the file can be read by the group or others (a
    password anyone on the machine can read is no password), when it is empty or unreadable.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ZoneConfigError(f"Không đọc được tệp mật khẩu '{path}': {exc.strerror}.") from exc
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ZoneConfigError(
            f"Tệp mật khẩu '{path}' đang cho người khác đọc được (quyền {stat.filemode(st.st_mode)}). "
            f"Hãy chạy: chmod 600 {path}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ZoneConfigError(f"Không đọc được tệp mật khẩu '{path}': {exc}.") from exc
    value = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not value:
        raise ZoneConfigError(f"Tệp mật khẩu '{path}' đang trống. Hãy ghi mật khẩu vào dòng đầu tiên của tệp.")
    return value


def write_secret_file(path: Path, value: str) -> None:
    """Write ``value`` to ``path`` with mode 0600 from the start (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT


def new_password() -> str:
    """A fresh random password (URL- and XML-safe, so it can be typed into a receiver)."""
    return secrets.token_urlsafe(18)


def source_password(layout: Layout) -> str:
    """The Icecast source password: ``LOA_XA_ICECAST_PASSWORD``, else ``state/icecast-password``.

    Raises :class:`ZoneConfigError` (Vietnamese) when neither gives one, or the file is unsafe.
    """
    value = os.environ.get(ENV_PASSWORD, "").strip()
    if value:
        return value
    path = layout.icecast_password_file
    from_file = read_secret_file(path)
    if from_file is None:
        raise ZoneConfigError(
            "Chưa có mật khẩu nguồn Icecast cho các vùng loa. Hãy đặt biến môi trường "
            f"{ENV_PASSWORD}, hoặc ghi mật khẩu vào tệp {path} (rồi chạy: chmod 600 {path}), "
            "hoặc chạy: python -m broadcaster.zones.server --out <thư mục> để tạo cấu hình và mật khẩu."
        )
    return from_file

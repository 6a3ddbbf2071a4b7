"""The Icecast source password: from ``LOA_XA_ICECAST_PASSWORD`` or ``state/icecast-password`` (0600).

The password is never logged; error messages name the file and the variable, never the value.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from broadcaster import secretfile
from broadcaster.layout import Layout
from broadcaster.secretfile import write_secret_file

ENV_PASSWORD = "LOA_XA_ICECAST_PASSWORD"

__all__ = [
    "ENV_PASSWORD",
    "ZoneConfigError",
    "new_password",
    "read_secret_file",
    "source_password",
    "write_secret_file",
]


class ZoneConfigError(Exception):
    """A zone (Icecast) setting is missing or unsafe; ``str()`` is a Vietnamese message for the operator."""


def read_secret_file(path: Path) -> str | None:
    """:func:`broadcaster.secretfile.read_secret_file`, its refusals as :class:`ZoneConfigError`."""
    try:
        return secretfile.read_secret_file(path)
    except secretfile.SecretFileError as exc:
        raise ZoneConfigError(str(exc)) from exc


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

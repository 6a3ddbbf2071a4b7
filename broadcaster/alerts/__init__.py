"""Alerts to people: grouped, rate-limited, sent by webhook and e-mail without blocking the daemon.

``AlertHub(AlertConfig(...))`` → ``raise_alert(kind, key, message)`` / ``resolve(kind, key, message)``;
``active()`` and ``recent()`` feed status and the console. See :mod:`broadcaster.alerts.hub`.
"""

from __future__ import annotations

from broadcaster.alerts.config import ADVICE, SMTP_PASSWORD_ENV, TITLES, AlertConfig, smtp_password, title_of
from broadcaster.alerts.hub import ALERTS_FILE, AlertHub, disk_check

__all__ = [
    "ADVICE",
    "ALERTS_FILE",
    "SMTP_PASSWORD_ENV",
    "TITLES",
    "AlertConfig",
    "AlertHub",
    "disk_check",
    "smtp_password",
    "title_of",
]

"""The alert hub: one active alert per (kind, key), grouped, re-sent at most every ``repeat_minutes``.

The daemon calls :meth:`AlertHub.raise_alert` as often as it notices a problem (every second
during dead air is fine) and :meth:`AlertHub.resolve` when it is over. Sending happens on the
channels' own threads (:mod:`broadcaster.alerts.channels`), so neither call ever waits on the
network. With ``state_dir`` the active alerts survive a restart: a problem still there after a
restart is not announced again before its repeat window, and its recovery is still sent.
"""

from __future__ import annotations

import collections
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from broadcaster import fmt
from broadcaster.alerts.channels import Channel, Courier, EmailChannel, Notice, WebhookChannel
from broadcaster.alerts.config import TITLES, AlertConfig, smtp_password, title_of
from broadcaster.fsutil import atomic_file

log = logging.getLogger("broadcaster.alerts")

#: the active alerts and recent history, inside the state folder
ALERTS_FILE = "alerts.json"
RECENT_KEEP = 200


@dataclass
class Alert:
    """One active problem (what the console's alert list shows)."""

    kind: str
    key: str
    message: str
    since: float
    last_at: float
    last_sent: float
    count: int = 1
    detail: dict[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        """A JSON-ready dict for status and the console (times as epoch seconds and ISO 8601)."""
        return {
            "kind": self.kind,
            "key": self.key,
            "title": title_of(self.kind),
            "message": self.message,
            "detail": dict(self.detail),
            "since": self.since,
            "since_iso": _iso(self.since),
            "last_at": self.last_at,
            "last_at_iso": _iso(self.last_at),
            "count": self.count,
        }


def _iso(t: float) -> str:
    """ISO 8601 with the station's UTC offset (never the PC's zone)."""
    return fmt.station_time(t).isoformat(timespec="seconds")


class AlertHub:
    """Keeps the active alerts and hands notices to the configured channels (never blocking)."""

    def __init__(
        self, config: AlertConfig, *, state_dir: Path | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        """Start one courier per configured channel. ValueError (Vietnamese) on a bad SMTP password file."""
        self.config = config
        self.clock = clock
        self._file = Path(state_dir) / ALERTS_FILE if state_dir is not None else None
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._version = self._saved_version = 0
        self._active: dict[tuple[str, str], Alert] = {}
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT_KEEP)
        channels: list[Channel] = []
        if config.webhook_url:
            channels.append(WebhookChannel(config.webhook_url, config.timeout_seconds))
        if config.email_enabled:
            channels.append(EmailChannel(config, smtp_password(config)))
        self.couriers = [Courier(ch, retry_delays=config.retry_delays, queue_size=config.queue_size) for ch in channels]
        self._load()

    # -- the daemon's side ------------------------------------------------------------------
    def raise_alert(self, kind: str, key: str, message: str, detail: dict[str, Any] | None = None) -> None:
        """Note that ``kind`` is happening at ``key``; sends only when new or due again. Never blocks."""
        if kind not in TITLES:
            log.warning("unknown alert kind %r (sent with the kind as its title)", kind)
        now = self.clock()
        with self._lock:
            alert = self._active.get((kind, key))
            if alert is None:
                alert = Alert(kind, key, message, since=now, last_at=now, last_sent=now, detail=dict(detail or {}))
                self._active[(kind, key)] = alert
                log.warning("Cảnh báo: %s (%s): %s", title_of(kind), key or "—", message)
                due = True
            else:
                alert.count += 1
                alert.last_at = now
                alert.message = message
                if detail is not None:
                    alert.detail = dict(detail)
                due = now - alert.last_sent >= self.config.repeat_minutes * 60.0
                if due:
                    alert.last_sent = now
            if due:
                notice = self._notice(alert, "firing", message)
                snapshot = self._remember(notice, now)
        if due:
            self._save(snapshot)
            self._send(notice)

    def resolve(self, kind: str, key: str, message: str) -> bool:
        """End the alert; sends "Đã khắc phục: …" only if it was active. True when it was."""
        now = self.clock()
        with self._lock:
            alert = self._active.pop((kind, key), None)
            if alert is None:
                return False
            notice = self._notice(alert, "resolved", message)
            snapshot = self._remember(notice, now)
        self._save(snapshot)
        log.info("Đã khắc phục: %s (%s): %s", title_of(kind), key or "—", message)
        self._send(notice)
        return True

    # -- status and console -----------------------------------------------------------------
    def active(self) -> list[dict[str, Any]]:
        """The active alerts, newest first."""
        with self._lock:
            alerts = sorted(self._active.values(), key=lambda a: a.since, reverse=True)
            return [a.view() for a in alerts]

    def recent(self, n: int = 20) -> list[dict[str, Any]]:
        """The last ``n`` notices sent (fired, re-sent or resolved), newest first."""
        with self._lock:
            return list(self._recent)[::-1][: max(0, n)]

    def is_active(self, kind: str, key: str) -> bool:
        """Whether (kind, key) is an active alert."""
        with self._lock:
            return (kind, key) in self._active

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait (bounded) until every channel has sent or given up on what is queued (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        return all(c.wait_idle(max(0.0, deadline - time.monotonic())) for c in self.couriers)

    def close(self, timeout: float = 2.0) -> None:
        """Save the counts and stop the couriers (unsent notices are logged and dropped after ``timeout``).

        Counts of repeats are saved on transitions and here, not on every repeat (an SD card's
        life); after a crash an alert's count may be lower than it was — never its state.
        """
        with self._lock:
            self._version += 1
            snapshot = self._version, self._snapshot()
        self._save(snapshot)
        for courier in self.couriers:
            courier.close(timeout)

    # -- internals --------------------------------------------------------------------------
    def _notice(self, alert: Alert, state: str, message: str) -> Notice:
        return Notice(
            kind=alert.kind,
            key=alert.key,
            title=title_of(alert.kind),
            message=message,
            state=state,
            count=alert.count,
            since=alert.since,
            station=self.config.station_name,
            detail=dict(alert.detail),
        )

    def _remember(self, notice: Notice, now: float) -> tuple[int, dict[str, Any]]:
        """Add to the history (under the lock); return a numbered snapshot to persist outside it."""
        entry = asdict(notice)
        entry["at"] = now
        entry["headline"] = notice.headline
        self._recent.append(entry)
        self._version += 1
        return self._version, self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        return {"active": [asdict(a) for a in self._active.values()], "recent": list(self._recent)}

    def _send(self, notice: Notice) -> None:
        for courier in self.couriers:
            courier.put(notice)

    def _save(self, snapshot: tuple[int, dict[str, Any]]) -> None:
        """Persist on transitions only (not every repeat), outside the hub's lock; never an older snapshot."""
        version, data = snapshot
        if self._file is None:
            return
        with self._save_lock:
            if version <= self._saved_version:
                return
            self._saved_version = version
            self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        assert self._file is not None
        try:
            with atomic_file(self._file, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False)
        except OSError as exc:
            log.warning("Không ghi được danh sách cảnh báo vào %s: %s", self._file, exc.strerror or exc)

    def _load(self) -> None:
        if self._file is None or not self._file.exists():
            return
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
            for raw in data.get("active", []):
                alert = Alert(**raw)
                self._active[(alert.kind, alert.key)] = alert
            self._recent.extend(data.get("recent", []))
        except (OSError, ValueError, TypeError) as exc:
            log.warning("Bỏ qua tệp cảnh báo hỏng %s (%s) — bắt đầu danh sách mới", self._file, exc)
            self._active.clear()
            self._recent.clear()


def disk_check(path: str | Path, min_free_mb: float = 500) -> str | None:
    """A Vietnamese warning when the disk holding ``path`` has less than ``min_free_mb`` MB free, else None."""
    target = Path(path)
    while not target.exists() and target != target.parent:
        target = target.parent  # the folder may not exist yet; its disk does
    try:
        free_mb = shutil.disk_usage(target).free / (1024 * 1024)
    except OSError as exc:
        return f"Không kiểm tra được dung lượng ổ đĩa chứa {path}: {exc.strerror or exc}"
    if free_mb >= min_free_mb:
        return None
    return (
        f"Ổ đĩa chứa {path} chỉ còn {free_mb:.0f} MB trống (cần ít nhất {min_free_mb:.0f} MB) — "
        "xoá bớt bản ghi cũ hoặc tệp âm thanh không dùng nữa."
    )

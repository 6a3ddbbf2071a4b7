"""Delivering alerts: a webhook (JSON POST), e-mail (SMTP), and the courier thread behind each.

Every channel has its own courier — a thread with a bounded queue — so a slow mail server never
holds up the webhook and nothing ever holds up the daemon. A full queue drops its oldest notice
(logged); a failed send is retried after ``retry_delays`` and then given up (logged in Vietnamese).
"""

from __future__ import annotations

import collections
import logging
import smtplib
import ssl
import threading
from dataclasses import dataclass, field
from email.header import Header
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from typing import Any, Protocol

from broadcaster import fmt
from broadcaster.alerts.config import ADVICE, AlertConfig

log = logging.getLogger("broadcaster.alerts")

RESOLVED_PREFIX = "Đã khắc phục"


@dataclass(frozen=True)
class Notice:
    """One message about one alert: it fired (again) or it was resolved."""

    kind: str
    key: str
    title: str
    message: str
    state: str  # "firing" | "resolved"
    count: int
    since: float
    station: str
    detail: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The webhook's JSON body (``since`` as ISO 8601 with the station's UTC offset)."""
        return {
            "kind": self.kind,
            "key": self.key,
            "title": self.title,
            "message": self.message,
            "detail": self.detail,
            "state": self.state,
            "count": self.count,
            "since": fmt.station_time(self.since).isoformat(timespec="seconds"),
            "station": self.station,
        }

    @property
    def headline(self) -> str:
        """``Không nghe thấy`` or ``Đã khắc phục: Không nghe thấy``."""
        return f"{RESOLVED_PREFIX}: {self.title}" if self.state == "resolved" else self.title


class Channel(Protocol):
    """Something that delivers a notice or raises."""

    name: str

    def send(self, notice: Notice) -> None: ...


class WebhookChannel:
    """POST the notice as JSON; any non-2xx answer is a failure (and retried)."""

    def __init__(self, url: str, timeout: float) -> None:
        self.name = "webhook"
        self.url = url
        self.timeout = timeout

    def send(self, notice: Notice) -> None:
        """One POST; raises on a network error or a non-2xx status."""
        import requests  # on first delivery: a station without a webhook never loads it (5 MB, 0.1 s)

        response = requests.post(self.url, json=notice.payload(), timeout=self.timeout)
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"máy nhận trả lời mã {response.status_code}")


class EmailChannel:
    """A plain-text UTF-8 e-mail through SMTP (STARTTLS and login when configured)."""

    def __init__(self, config: AlertConfig, password: str | None) -> None:
        self.name = "email"
        self.config = config
        self.password = password

    def send(self, notice: Notice) -> None:
        """Connect, optionally STARTTLS and log in, send one message; raises on any failure."""
        c = self.config
        assert c.smtp_host is not None  # only built when e-mail is enabled
        with smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=c.timeout_seconds) as smtp:
            if c.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if c.smtp_user:
                smtp.login(c.smtp_user, self.password or "")
            smtp.send_message(self.message(notice))

    def message(self, notice: Notice) -> MIMEText:
        """The e-mail for ``notice``: subject ``[Loa xã] <title>: <message>``, a Vietnamese body.

        Built with the compat32 classes on purpose: Python 3.11's default policy drops a space
        when it folds a long non-ASCII subject into encoded words; ``Header`` folds it correctly.
        """
        subject = f"[{notice.station}] {notice.headline}: {notice.message}"
        msg = MIMEText(email_body(notice), "plain", "utf-8")
        msg["Subject"] = Header(fmt.ellipsize(" ".join(subject.split()), 200), "utf-8")  # type: ignore[assignment]
        msg["From"] = self.config.email_from
        msg["To"] = ", ".join(self.config.email_to)
        msg["Date"] = format_datetime(fmt.station_time())  # some relays refuse mail without these two
        msg["Message-ID"] = make_msgid(domain=self.config.email_from.rpartition("@")[2] or None)
        return msg


def email_body(notice: Notice) -> str:
    """The plain Vietnamese body: what, where, since when, how often, what to do."""
    since = fmt.station_time(notice.since)
    lines = [
        f"Trạm: {notice.station}",
        f"{'Đã khắc phục' if notice.state == 'resolved' else 'Cảnh báo'}: {notice.title}",
    ]
    if notice.key:
        lines.append(f"Nơi: {notice.key}")
    lines += [
        f"Nội dung: {notice.message}",
        f"Bắt đầu lúc: {fmt.clock(since)} ngày {fmt.day(since)}",
        f"Số lần ghi nhận: {notice.count}",
    ]
    if notice.detail:
        lines.append("Chi tiết:")
        lines += [f"  {k}: {v}" for k, v in notice.detail.items()]
    if notice.state == "firing" and notice.kind in ADVICE:
        lines += ["", f"Việc cần làm: {ADVICE[notice.kind]}"]
    return "\n".join(lines) + "\n"


class Courier:
    """A worker thread that delivers notices through one channel, with retries and a bounded queue."""

    def __init__(self, channel: Channel, *, retry_delays: tuple[float, ...], queue_size: int) -> None:
        self.channel = channel
        self.retry_delays = retry_delays
        self._queue: collections.deque[Notice] = collections.deque()
        self._size = max(1, queue_size)
        self._cond = threading.Condition()
        self._closing = threading.Event()
        self._idle = True
        self.delivered = 0
        self.given_up = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=f"alerts-{channel.name}", daemon=True)
        self._thread.start()

    def put(self, notice: Notice) -> None:
        """Queue ``notice``; never blocks. A full queue loses its oldest notice (logged)."""
        with self._cond:
            if len(self._queue) >= self._size:
                lost = self._queue.popleft()
                self.dropped += 1
                log.warning(
                    "Hàng đợi cảnh báo qua %s đầy — bỏ cảnh báo cũ nhất: %s: %s",
                    self.channel.name,
                    lost.headline,
                    lost.message,
                )
            self._queue.append(notice)
            self._cond.notify()

    def wait_idle(self, timeout: float) -> bool:
        """Wait (bounded) until the queue is empty and nothing is being sent; True if it is."""
        with self._cond:
            return self._cond.wait_for(lambda: self._idle and not self._queue, timeout=timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Stop: abandon retries' waits, finish or drop what is in hand within ``timeout`` seconds."""
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._closing.is_set())
                if self._closing.is_set():
                    if self._queue:
                        log.warning("Phần mềm dừng — %d cảnh báo qua %s chưa gửi", len(self._queue), self.channel.name)
                    self._queue.clear()
                    self._idle = True
                    self._cond.notify_all()
                    return
                notice = self._queue.popleft()
                self._idle = False
            self._deliver(notice)
            with self._cond:
                self._idle = True
                self._cond.notify_all()

    def _deliver(self, notice: Notice) -> None:
        """Try once, then once after each retry delay; log the give-up in Vietnamese."""
        error = ""
        for attempt, delay in enumerate((0.0, *self.retry_delays)):
            if delay and self._closing.wait(delay):
                break  # shutting down: do not sit out a 30 s back-off
            try:
                self.channel.send(notice)
                self.delivered += 1
                if attempt:
                    log.info("Đã gửi cảnh báo qua %s sau %d lần thử", self.channel.name, attempt + 1)
                return
            except Exception as exc:  # noqa: BLE001 — any failure of a channel is retried, never raised
                error = str(exc) or type(exc).__name__
                log.debug("alert via %s failed (attempt %d): %s", self.channel.name, attempt + 1, error)
        self.given_up += 1
        log.error(
            "Không gửi được cảnh báo qua %s (%s: %s) sau %d lần thử: %s — kiểm tra cấu hình cảnh báo và mạng.",
            self.channel.name,
            notice.headline,
            notice.message,
            attempt + 1,
            error,
        )

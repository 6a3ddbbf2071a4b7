"""The daemon's watchfulness: alerts out, metrics for Prometheus, the amplifier's power.

:class:`Watch` subscribes to the players' typed events (:meth:`Watch.attach`: a broadcast not
heard, failed, missed, held, played again), hears hot reloads, and every few seconds looks at
what status shows (sound card gone, receivers lost, Icecast down, no voice, disk nearly full).
Each problem is raised once and resolved when it clears; the :class:`~broadcaster.alerts.AlertHub`
groups repeats and delivers without blocking.
Nothing here ever delays playout: every call returns at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from broadcaster.alerts import AlertConfig, AlertHub, disk_check
from broadcaster.events import (
    AiredRecord,
    BroadcastFinished,
    BroadcastHeld,
    BroadcastMissed,
    EventBus,
    Subscription,
)
from broadcaster.metrics import Metrics
from broadcaster.power import PowerConfig, PowerControl
from broadcaster.records import Outcome

if TYPE_CHECKING:
    from broadcaster.schedule.model import Schedule

log = logging.getLogger("broadcaster.daemon")

#: the recovery notice of each zone alert kind (by the zone's or the receiver's name)
_ZONE_RECOVERED = {
    "icecast_down": "vùng {key}: đã kết nối lại Icecast",
    "receiver_lost": "cụm loa {key} đã nhận tiếng trở lại",
}


def alert_config(schedule: Schedule) -> AlertConfig:
    a = schedule.alerts
    password = schedule.state_path / "smtp-password"
    return AlertConfig(
        webhook_url=a.webhook,
        email_to=list(a.email_to),
        email_from=a.email_from,
        smtp_host=a.smtp_host,
        smtp_port=a.smtp_port,
        smtp_starttls=a.smtp_starttls,
        smtp_user=a.smtp_user,
        # a mail server without login needs no password file; with smtp_user a missing file is an error
        smtp_password_file=str(password) if password.exists() or a.smtp_user else None,
        repeat_minutes=a.repeat_minutes,
        station_name=f"Loa xã — {schedule.campaign.name}",
    )


def power_config(schedule: Schedule) -> PowerConfig:
    p = schedule.power
    return PowerConfig(
        on_command=list(p.on) if p.on else None,
        off_command=list(p.off) if p.off else None,
        lead_seconds=p.lead_seconds,
        off_after_seconds=p.off_after_minutes * 60,
        timeout_seconds=p.timeout_seconds,
    )


class Watch:
    """Alert hub, metrics and power control of one daemon."""

    def __init__(self, schedule: Schedule) -> None:
        try:
            self.hub = AlertHub(alert_config(schedule), state_dir=schedule.state_path)
        except ValueError as exc:  # a bad SMTP password file: alerts still show in status
            log.error("Cảnh báo qua thư điện tử không dùng được: %s", exc)
            self.hub = AlertHub(AlertConfig(webhook_url=schedule.alerts.webhook), state_dir=schedule.state_path)
        self.metrics = Metrics()
        self.power = PowerControl(power_config(schedule), on_alert=self.hub.raise_alert, on_resolve=self._resolved)
        self._state_dir = schedule.state_path
        self._subscriptions: list[Subscription] = []

    def _resolved(self, kind: str, key: str, message: str) -> None:
        self.hub.resolve(kind, key, message)

    def close(self) -> None:
        for subscription in self._subscriptions:
            subscription.unsubscribe()
        self.power.close()
        self.hub.close()

    # -- from the players -------------------------------------------------------------------
    def attach(self, bus: EventBus) -> None:
        """Subscribe to the players' events on ``bus`` (the station's); :meth:`close` unsubscribes."""
        self._subscriptions += [
            bus.subscribe(self.broadcast_finished, BroadcastFinished),
            bus.subscribe(self.broadcast_missed, BroadcastMissed),
            bus.subscribe(self.broadcast_held, BroadcastHeld),
        ]

    def broadcast_finished(self, event: BroadcastFinished) -> None:
        """Count it, alert on a broadcast not heard or with dead air, let the amplifier go off."""
        record = event.record
        zone, where, title = _names(record)
        proof = record.proof or {}
        self.metrics.broadcast_finished(record.outcome, zone, record.start_error_ms, record.heard)
        if record.time_to_air_ms is not None:
            self.metrics.time_to_air(record.time_to_air_ms / 1000)
        if record.outcome is Outcome.NOT_HEARD:
            self.hub.raise_alert(
                "not_heard",
                zone,
                f"{where}: '{title}' đã gửi ra nhưng không nghe thấy — {record.error or ''}",
                {"key": record.key, "proof": dict(proof)},
            )
        elif record.outcome is Outcome.PLAYED and record.heard:
            self.hub.resolve("not_heard", zone, f"{where}: '{title}' đã nghe thấy bình thường")
        self._dead_air(proof, zone, where, title)
        self._after(record)

    def broadcast_missed(self, event: BroadcastMissed) -> None:
        """Count it; the amplifier may go off (nothing airs now)."""
        self.metrics.broadcast_finished(event.record.outcome, _names(event.record)[0], None, None)
        self._after(event.record)

    def broadcast_held(self, event: BroadcastHeld) -> None:
        """Count it (the amplifier stays as it is: the broadcast may be approved and aired soon)."""
        self.metrics.broadcast_finished(event.record.outcome, _names(event.record)[0], None, None)
        self.metrics.alerts_active(len(self.hub.active()))

    def _after(self, record: AiredRecord) -> None:
        """An attempt is over: the amplifier may go off after it; the alert count may have changed."""
        self.power.after(record.planned_at.timestamp() if record.planned_at else None)
        self.metrics.alerts_active(len(self.hub.active()))

    def _dead_air(self, proof: Mapping[str, Any], zone: str, where: str, title: str) -> None:
        """Dead air found in a finished broadcast alerts (if the live check missed it); a clean one resolves.

        A broadcast heard from start to end also ends a "monitor failed" alert: the monitor works again.
        """
        if not proof or proof.get("heard") is None:
            return
        self.hub.resolve("monitor_failed", zone, f"{where}: đầu nghe kiểm tra hoạt động trở lại")
        if proof.get("heard"):
            self._heard(zone, where, title, proof, {"proof": dict(proof)})

    def _heard(
        self, key: str, where: str, title: str, proof: Mapping[str, Any], detail: dict[str, Any] | None = None
    ) -> None:
        """A heard broadcast: dead air in it alerts; heard throughout, the loudspeakers are fine again."""
        if proof.get("dead_air"):
            self.hub.raise_alert("dead_air", key, f"{where}: '{title}': {proof.get('note') or ''}", detail)
        else:
            self.hub.resolve("dead_air", key, f"{where}: '{title}' phát trọn vẹn, không mất tiếng")

    def receiver_proof(self, zone: str, receiver: str, piece: dict[str, Any], row: dict[str, Any] | None) -> None:
        """A receiver's monitor on one programme: alert on not heard / dead air at that cluster."""
        key, heard = f"{zone}/{receiver}", piece.get("heard")
        where = f"vùng {zone}, cụm loa {receiver}"
        title = (row or {}).get("title") or f"đoạn phát lúc {_clock(piece.get('started_at'))}"
        if heard is None:
            return
        if heard is False:
            self.hub.raise_alert("not_heard", key, f"{where}: '{title}' không nghe thấy — {piece.get('note') or ''}")
            return
        self.hub.resolve("not_heard", key, f"{where}: '{title}' đã nghe thấy bình thường")
        self._heard(key, where, title, piece)

    def adhoc_submitted(self, zones: int) -> None:
        """An announcement for ``zones`` outputs: the amplifier on now (the broadcast does not wait)."""
        for _ in range(max(1, zones)):
            self.power.before(time.time())

    def scheduled_soon(self, planned_at: float, zones: int) -> None:
        for _ in range(max(1, zones)):
            self.power.before(planned_at)

    # -- from the daemon --------------------------------------------------------------------
    def reload_result(self, ok: bool, message: str) -> None:
        if ok:
            self.hub.resolve("reload_refused", "", "bản sửa lịch mới đã được nạp")
        else:
            self.hub.raise_alert("reload_refused", "", message)

    def check(self, snapshot: dict[str, Any]) -> None:
        """Raise or resolve what the status shows (called every few seconds, off the playout path)."""
        self._toggle("sound_card_gone", "", _card_missing(snapshot), "card âm thanh đã có lại")
        voices = snapshot.get("engines") or {}
        no_voice = bool(voices) and all(h.get("reachable") is False for h in voices.values())
        self._toggle("voice_unavailable", "", "không giọng đọc nào dùng được" if no_voice else None, "có giọng đọc")
        self._toggle("disk_full", "", disk_check(self._state_dir), "ổ đĩa đã đủ chỗ")
        self._zone_alerts(snapshot.get("zones") or [])
        for zone in snapshot.get("zones") or []:
            self.metrics.receivers_alive(zone["name"], int(zone.get("receivers_alive") or 0))
            self.metrics.queue_length(zone["name"], int(zone.get("queue") or 0))
        if not snapshot.get("zones"):
            self.metrics.queue_length("main", len(snapshot.get("queue") or []))
        self.metrics.alerts_active(len(self.hub.active()))

    def _zone_alerts(self, zone_states: list[dict[str, Any]]) -> None:
        """Raise what :func:`~broadcaster.daemon.status.zone_problems` finds; resolve what it no longer does."""
        from broadcaster.daemon.status import zone_problems

        problems = {(p.kind, p.key): p for p in zone_problems(zone_states) if p.kind}
        for (kind, key), problem in problems.items():
            self.hub.raise_alert(kind, key, problem.message)
        for alert in self.hub.active():
            kind, key = alert["kind"], alert["key"]
            if kind in _ZONE_RECOVERED and (kind, key) not in problems:
                self.hub.resolve(kind, key, _ZONE_RECOVERED[kind].format(key=key))

    def _toggle(self, kind: str, key: str, problem: str | None, recovered: str) -> None:
        if problem:
            self.hub.raise_alert(kind, key, problem)
        elif self.hub.is_active(kind, key):
            self.hub.resolve(kind, key, recovered)


def _names(record: AiredRecord) -> tuple[str, str, str]:
    """A record's zone key (``main`` for the one output), its place as operators say it, and its title."""
    return record.zone or "main", f"vùng {record.zone}" if record.zone else "loa", record.title or record.key


def _card_missing(snapshot: dict[str, Any]) -> str | None:
    from broadcaster.daemon.status import output_missing

    return output_missing(snapshot.get("output") or {})


def _clock(iso: Any) -> str:
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(iso)).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return "?"

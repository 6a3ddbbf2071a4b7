"""The daemon's receivers component: heartbeats of the boxes at the clusters, and what their monitors heard."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from broadcaster.daemon.alerting import Watch
from broadcaster.daemon.reload import ScheduleHolder
from broadcaster.daemon.zones import Receivers
from broadcaster.station import Station

log = logging.getLogger("broadcaster.daemon")


class Receiving:
    """Remembers each receiver's last heartbeat and merges its proofs into the zone's as-run rows."""

    def __init__(self, schedule: ScheduleHolder, station: Station, watch: Watch) -> None:
        self._schedule = schedule
        self._station = station
        self._watch = watch
        self.receivers = Receivers()

    def heartbeat(self, body: dict[str, Any], address: str | None = None) -> dict[str, Any]:
        """A receiver box reports (``broadcaster receive``): remember it, say which zone it feeds."""
        was_lost = {r["name"] for r in self.receivers.lost()}
        known = self.receivers.names()
        receiver = self.receivers.heartbeat(body, self._schedule.current, address)
        if receiver.name in was_lost and receiver.state == "playing":
            log.info("Cụm loa %s (vùng %s) đã kết nối lại.", receiver.name, receiver.zone or "?")
        if receiver.name not in known:
            log.info("Cụm loa mới báo về: %s, nhận %s (vùng %s).", receiver.name, receiver.url, receiver.zone or "?")
        if receiver.zone is None and receiver.name not in known:
            log.warning("Cụm loa %s báo nhận %s — không thuộc vùng nào trong lịch.", receiver.name, receiver.url)
        if receiver.zone is not None:
            for piece in self.receivers.new_proofs(receiver.name, body):
                self._proof(receiver.zone, receiver.name, piece)
        return {"ok": True, "zone": receiver.zone}

    def log_lost(self) -> None:
        for r in self.receivers.lost():
            log.warning("Cụm loa %s (vùng %s): %s.", r["name"], r["zone"] or "?", r["state_vi"])

    def _proof(self, zone: str, name: str, piece: dict[str, Any]) -> None:
        """What a receiver's monitor heard of one programme: into the zone's as-run row, and alerts."""
        from broadcaster.asrun import AsRunError

        assert self._station.asrun is not None  # a daemon's station has its log
        try:
            at = datetime.fromisoformat(str(piece["started_at"])).timestamp()
            row = self._station.asrun.receiver_proof(zone, name, piece)
        except (AsRunError, ValueError, KeyError, TypeError) as exc:
            log.warning("Không ghi được kết quả nghe của cụm loa %s: %s", name, exc)
            self.receivers.taken(name, piece)
            return
        if row is None and time.time() - at < 120:
            return  # its row may not be written yet: offered again with the next heartbeat
        self.receivers.taken(name, piece)
        self._watch.receiver_proof(zone, name, piece, row)
        if row is not None and row["first_verdict"]:
            self._watch.metrics.checked(zone, bool(row["heard"]))
        if row is not None and row["status"] != row["was"]:
            log.warning("Vùng %s: '%s' → %s theo báo cáo của các cụm loa.", zone, row["title"], row["status"])

"""The daemon's receivers component: heartbeats of the boxes at the clusters, and what their monitors heard.

Who may report (a stolen receiver box must be harmless beyond its own cluster):

* a receiver registered with ``broadcaster receiver add`` reports with its own token, only under
  its registered name and only for its zone's mount, so its proofs only touch that zone's rows;
* the station's own token (``state/api-token``, which can do anything) is still taken from a box
  while no receiver is registered, so a running commune keeps its status after an upgrade — with
  a warning in the log and on the receiver in status; once any receiver is registered it is
  refused for heartbeats (the box shows as lost, loudly, until it gets its own token).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from broadcaster.contract import ControlError
from broadcaster.daemon.alerting import Watch
from broadcaster.daemon.reload import ScheduleHolder
from broadcaster.daemon.zones import Receivers, ReceiversFull, mount_key, zone_of_mount
from broadcaster.receivers import ADD_HINT, ReceiverStore, ReceiverStoreError
from broadcaster.station import Station

log = logging.getLogger("broadcaster.daemon")

#: what status says of a box reporting with the station's token
STATION_TOKEN_WARNING = (
    "Máy thu này báo tình trạng bằng mã truy cập của trạm (mã toàn quyền): mất máy thu là lộ mã. "
    f"Cấp mã riêng trên trạm ({ADD_HINT}) rồi dùng --token-file trên máy thu."
)
REFUSED_LOG_EVERY_S = 600.0  # a refused box is named in the log at most this often


class Receiving:
    """Remembers each receiver's last heartbeat and merges its proofs into the zone's as-run rows."""

    def __init__(self, schedule: ScheduleHolder, station: Station, watch: Watch) -> None:
        self._schedule = schedule
        self._station = station
        self._watch = watch
        self.store = ReceiverStore(station.layout.receivers_file)
        self.receivers = Receivers(registered=self._registered)
        self._noted: dict[str, float] = {}  # refused or warned names → when last logged

    def receiver_for_token(self, token: str) -> str | None:
        """The registered receiver whose own token ``token`` is (None: not a receiver's token)."""
        found = self.store.by_token(token)
        return found.name if found else None

    def heartbeat(
        self, body: dict[str, Any], address: str | None = None, receiver: str | None = None
    ) -> dict[str, Any]:
        """A receiver box reports (``broadcaster receive``): check who it may be, remember it, merge its proofs.

        ``receiver``: the registered receiver whose own token came with it; None: the station's token.
        """
        zone, warning = self._registered_zone(body, receiver) if receiver else self._station_token(body, address)
        was_lost = {r["name"] for r in self.receivers.lost()}
        known = self.receivers.names()
        try:
            rx = self.receivers.heartbeat(body, zone, address, warning)
        except ReceiversFull as full:
            self._note(str(full), "Từ chối máy thu %s: đã có %d máy thu báo về bằng mã của trạm.", len(known))
            raise ControlError(
                403,
                f"Trạm đã nhận {len(known)} máy thu báo về bằng mã của trạm, không nhận thêm. "
                f"Cấp mã riêng cho từng máy thu: {ADD_HINT}.",
            ) from None
        if rx.name in was_lost and rx.state == "playing":
            log.info("Cụm loa %s (vùng %s) đã kết nối lại.", rx.name, rx.zone or "?")
        if rx.name not in known:
            log.info("Cụm loa mới báo về: %s, nhận %s (vùng %s).", rx.name, rx.url, rx.zone or "?")
        if rx.zone is None and rx.name not in known:
            log.warning("Cụm loa %s báo nhận %s — không thuộc vùng nào trong lịch.", rx.name, rx.url)
        if rx.zone is not None:
            for piece in self.receivers.new_proofs(rx.name, body):
                self._proof(rx.zone, rx.name, piece)
        return {"ok": True, "zone": rx.zone}

    def _registered_zone(self, body: dict[str, Any], name: str) -> tuple[str, None]:
        """The zone of registered receiver ``name``; refuses another name or another zone's mount."""
        try:
            registered = self.store.get(name)
        except ReceiverStoreError as exc:
            raise ControlError(403, str(exc)) from None
        if registered is None:  # removed between the token check and now
            raise ControlError(401, f"Máy thu '{name}' không còn được cấp mã: {ADD_HINT}.")
        if str(body.get("receiver") or "") != name:
            self._note(name, "Máy thu %s gửi tình trạng dưới tên khác (%s): từ chối.", body.get("receiver"))
            raise ControlError(
                403, f"Mã này là của máy thu '{name}': chỉ báo tình trạng dưới tên '{name}' (--name {name})."
            )
        zone = self._schedule.current.zones.get(registered.zone)
        if zone is None or not zone.icecast:
            raise ControlError(
                403,
                f"Vùng {registered.zone} của máy thu '{name}' không còn là vùng Icecast trong lịch phát: "
                f"xoá rồi cấp lại mã cho máy thu (broadcaster receiver remove {name}; {ADD_HINT}).",
            )
        if mount_key(str(body.get("url") or "")) != mount_key(zone.icecast):
            self._note(name, "Máy thu %s báo nghe luồng không phải của vùng mình (%s): từ chối.", body.get("url"))
            raise ControlError(
                403,
                f"Máy thu '{name}' thuộc vùng {registered.zone}: chỉ được nghe và báo về luồng {zone.icecast}.",
            )
        return registered.zone, None

    def _station_token(self, body: dict[str, Any], address: str | None) -> tuple[str | None, str]:
        """A heartbeat with the station's token: taken only while no receiver is registered."""
        name = str(body.get("receiver") or address or "?")[:80]
        try:
            self.store.all()
        except ReceiverStoreError as exc:  # fail closed: who is registered is unknown
            self._note("", "%s%s", str(exc))
            raise ControlError(403, str(exc)) from None
        if self.store.in_use():
            self._note(name, "Từ chối tình trạng của máy thu %s: nó dùng mã của trạm; cấp mã riêng (%s).", ADD_HINT)
            raise ControlError(
                403,
                "Trạm đã cấp mã riêng cho các máy thu: không nhận mã của trạm để báo tình trạng. "
                f"Trên trạm chạy '{ADD_HINT}', ghi mã được in ra vào tệp trên máy thu (chmod 600) và "
                "chạy máy thu với --token-file TỆP.",
            )
        self._note(name, "Máy thu %s đang dùng mã truy cập của trạm (toàn quyền) — cấp mã riêng: %s.", ADD_HINT)
        return zone_of_mount(self._schedule.current, str(body.get("url") or "")), STATION_TOKEN_WARNING

    def _registered(self) -> dict[str, str] | None:
        """Registered receivers (name → zone) for the status, or None when none is."""
        try:
            receivers = self.store.all()
        except ReceiverStoreError:
            return {}
        return {r.name: r.zone for r in receivers} if receivers else None

    def _note(self, name: str, message: str, *args: Any) -> None:
        """Log a warning about ``name`` at most every :data:`REFUSED_LOG_EVERY_S` (a box retries every 5 s)."""
        now = time.monotonic()
        last = self._noted.get(name)
        if last is not None and now - last < REFUSED_LOG_EVERY_S:
            return
        if len(self._noted) >= 1024:
            self._noted.clear()
        self._noted[name] = now
        log.warning(message, name, *args)

    def log_lost(self) -> None:
        for r in self.receivers.lost():
            log.warning("Cụm loa %s (vùng %s): %s.", r["name"], r["zone"] or "?", r["state_vi"])
        legacy = sorted(r["name"] for group in self.receivers.by_zone().values() for r in group if r.get("warning"))
        if legacy:
            log.warning("Máy thu dùng mã của trạm (kém an toàn): %s — cấp mã riêng: %s.", ", ".join(legacy), ADD_HINT)

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

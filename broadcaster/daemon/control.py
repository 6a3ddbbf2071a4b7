"""The daemon's announcements component: announce, stop and cancel for an :class:`Actor`.

Scope is decided here and only here: :meth:`Actor.reach` turns the zones a request names (none
= all) into the zones it may touch, for announcements, stop and cancel alike; every action is
audited with the actor, where they came from and the scope used.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from broadcaster.adhoc import AdhocRefused, adhoc_action, adhoc_detail, make_request
from broadcaster.contract import Accepted, Actor, Announcement, ControlError, Stopped
from broadcaster.daemon import zones
from broadcaster.daemon.alerting import Watch
from broadcaster.daemon.reload import ScheduleHolder
from broadcaster.daemon.status import output_missing
from broadcaster.playout.player import Player, Request
from broadcaster.records import Outcome
from broadcaster.schedule.model import Priority
from broadcaster.station import Station

log = logging.getLogger("broadcaster.daemon")


class StationAudit:
    """The contract's audit trail: who, from where, and the scope they acted in."""

    def __init__(self, station: Station) -> None:
        self._station = station
        #: script name → SHA-256 of the text a caller just saved (the watcher then sees that save)
        self._saved: dict[str, str] = {}

    def record(self, actor: Actor, action: str, detail: dict[str, Any] | None = None) -> None:
        if actor.zones is not None:
            detail = {**(detail or {}), "scope": actor.scope}
        if action == "script_edit" and detail and detail.get("script") and detail.get("sha256"):
            self._saved[f"{detail['script']}.txt"] = str(detail["sha256"])
        self._station.audit(who=actor.name, where=actor.where, action=action, detail=detail)

    def saved_here(self, file_name: str, sha256: str) -> bool:
        """Whether this exact text of a script was saved (and audited) through the contract."""
        return self._saved.get(file_name) == sha256


class Announcements:
    """Ad-hoc requests from every caller (API, console, CLI client), through one path."""

    def __init__(self, schedule: ScheduleHolder, station: Station, watch: Watch) -> None:
        self._schedule = schedule
        self._station = station
        self._watch = watch
        self.audit = StationAudit(station)

    def _zones(self, actor: Actor, requested: Sequence[str] | None) -> tuple[str, ...] | None:
        return actor.reach(requested, self._schedule.current.zones.keys())

    def announce(self, a: Announcement, actor: Actor) -> Accepted:
        fields = a.model_dump()
        fields["zones"] = self._zones(actor, a.zones)
        fields["by"] = a.by if a.by and actor.role == "token" else actor.name
        try:
            req = make_request(self._schedule.current, **fields)  # the body's fields are its arguments
        except AdhocRefused as exc:
            raise ControlError(400, str(exc)) from None
        held = self._station.admit(req)
        if held is not None:
            self._log_unapproved(req, held)
            raise ControlError(403, f"Chưa phát: {held}. Người duyệt xem bằng 'broadcaster approve --pending'.")
        # the station token's holder may say on whose behalf it asks (`say --by`, the API's `by`)
        requester = replace(actor, name=req.by) if actor.role == "token" and req.by else actor
        self.audit.record(requester, adhoc_action(req), adhoc_detail(req))
        chosen = zones.targets(self._station.players, req.zones)
        busy = any(p.now_playing() for p in chosen)
        zones.submit(self._station.players, req)
        self._watch.adhoc_submitted(len(chosen))
        ahead = max((len([r for r in p.queued() if r.sort_key() < req.sort_key()]) for p in chosen), default=0)
        log.info("Yêu cầu phát ngay #%d (%s) từ %s: %s", req.id, req.priority.vi, req.by, req.items[0].label)
        message = self._message(req, chosen, busy, ahead)
        return Accepted(id=req.id, title=req.title, priority=req.priority.label, position=ahead, message=message)

    def _message(self, req: Request, chosen: list[Player], busy: bool, ahead: int) -> str:
        if req.priority is Priority.EMERGENCY:
            msg = "KHẨN CẤP: cắt bản tin đang phát và phát ngay." if busy else "KHẨN CẤP: đang phát ngay."
        elif busy or ahead:
            msg = f"Đã xếp hàng ({req.priority.vi}): phát sau bản tin đang phát và {ahead} bản tin đang chờ."
        else:
            msg = "Đang phát ngay."
        player = chosen[0] if chosen else self._station.player
        missing = output_missing(player.sink.describe())
        if missing:
            msg += (
                f" CẢNH BÁO: {missing[0].lower()}{missing[1:]} — bản tin có thể không phát được; "
                "xem 'broadcaster status'."
            )
        if req.zones:
            msg += f" Vùng: {', '.join(req.zones)}."
        return msg

    def _log_unapproved(self, req: Request, reason: str) -> None:
        assert self._station.asrun is not None
        self._station.asrun.record(req.as_record(None, Outcome.UNAPPROVED, error=reason))
        log.warning("CHƯA DUYỆT %s: %s", req.key, reason)

    def cut(self, actor: Actor, requested: Sequence[str] | None = None) -> Stopped:
        """Cut what is on air in the zones asked for (none = every zone in the actor's scope)."""
        known = set(self._schedule.current.zones) | {p.zone for p in self._station.players.values() if p.zone}
        unknown = [z for z in requested or () if z not in known]
        if unknown:
            raise ControlError(400, f"Không có vùng {', '.join(unknown)} trong lịch.")
        chosen = zones.targets(self._station.players, self._zones(actor, requested))
        cut = [{**s, "zone": p.zone} for p in chosen if (s := p.stop_current(actor.name))]
        first = cut[0] if cut else None
        detail: dict[str, Any] = {"cut": [{"title": c["title"], "key": c["key"], "zone": c["zone"]} for c in cut]}
        if requested:
            detail["zones"] = list(requested)
        self.audit.record(actor, "stop", detail)
        if not cut:
            message = "Không có bản tin nào đang phát" + (f" ở vùng {', '.join(requested)}." if requested else ".")
        else:
            where = {c["zone"] for c in cut if c["zone"]}
            message = f"Đã dừng: {first['title'] if first else ''}" + (
                f" (vùng {', '.join(sorted(where))})." if where else "."
            )
        return Stopped(stopped=first, cut=cut, message=message)

    def cancel(self, request_id: int, actor: Actor) -> dict[str, Any] | None:
        """Remove a queued request from the zones in the actor's scope."""
        chosen = zones.targets(self._station.players, self._zones(actor, None))
        cancelled = [r for p in chosen if (r := p.cancel(request_id))]
        req = cancelled[0] if cancelled else None
        if req is not None:
            self.audit.record(actor, "cancel", {"title": req.title, "key": req.key})
        return req.describe() if req else None

"""Catch up on what passed while the daemon was down: air it late within grace, else log it ``missed``.

Per zone: a zone that aired a broadcast keeps it; a zone that did not gets it late (within the
grace period) or a ``missed`` row; a broadcast an emergency cut before the crash is not marked
missed (its replay is owed, the operator sees the interrupted row). A zone added to the schedule
since the last run owes nothing: it did not exist when those broadcasts were due (adding
``zones:`` and restarting must not air again what already aired).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from broadcaster import fmt
from broadcaster.daemon import state, zones
from broadcaster.playout.player import Request
from broadcaster.records import SETTLED_OUTCOMES, Outcome
from broadcaster.schedule.model import Broadcast, Schedule
from broadcaster.schedule.plan import plan_broadcasts
from broadcaster.station import Station

log = logging.getLogger("broadcaster.daemon")


def catch_up(schedule: Schedule, station: Station, request_for: Callable[[Broadcast], Request]) -> list[Broadcast]:
    """Handle the broadcasts planned since the daemon was last alive; returns them (now fired)."""
    tz = schedule.campaign.timezone
    grace = station.grace_seconds
    asrun = station.asrun
    assert asrun is not None
    now = datetime.now(UTC)
    alive = state.last_alive(station.layout.state_dir)
    since = (
        datetime.fromtimestamp(alive, UTC)
        if alive
        else datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    )
    since = max(since, now - timedelta(days=7))
    previous = state.read_outputs(station.layout.state_dir)
    state.write_outputs(station.layout.state_dir, [p.zone for p in station.players.values()])
    past = [
        b
        for b in plan_broadcasts(schedule, since.astimezone(tz).date(), now.astimezone(tz).date())
        if since - timedelta(seconds=grace) <= b.at <= now
    ]
    if not past:
        return []
    rows = asrun.rows(start=since.astimezone(tz).date(), tz=tz)
    settled = {(r.key, r.zone) for r in rows if r.status in SETTLED_OUTCOMES}
    interrupted = {(r.key, r.zone) for r in rows if r.status == Outcome.INTERRUPTED}
    for b in past:
        late = (now - b.at).total_seconds()
        for player in zones.targets(station.players, b.zones):
            if (b.key, player.zone) in settled or _new_zone(player.zone, b.key, previous, settled):
                continue
            req = request_for(b)
            if late <= grace:
                log.warning("Phát muộn %s (trễ %.0f giây, trong thời gian cho phép).", b.key, late)
                player.submit(req)
            elif (b.key, player.zone) not in interrupted:
                reason = f"phần mềm không chạy lúc đến giờ (trễ {fmt.duration(late)} khi khởi động lại)"
                asrun.record(req.as_record(player.zone, Outcome.MISSED, error=reason))
                log.warning("BỎ LỠ %s: %s", b.key, reason)
    return past


def _new_zone(zone: str | None, key: str, previous: set[str] | None, settled: set[tuple[str, str | None]]) -> bool:
    """A zone the previous run did not play to (or, from a release that did not say, one added
    since the broadcast aired on the station's single output)."""
    if previous is not None:
        return (zone or "") not in previous
    return zone is not None and (key, None) in settled

"""Turn a validated :class:`Schedule` into the concrete broadcasts it asks for.

Pure and fast: no I/O, no YAML. The daemon schedules exactly what :func:`plan_broadcasts`
returns, so ``broadcaster plan`` shows exactly what will air.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from broadcaster.schedule.estimate import (  # re-exported: part of this module's API
    estimate_broadcast_seconds,
    estimate_item_seconds,
    estimate_session_seconds,
)
from broadcaster.schedule.model import Broadcast, Schedule, Slot, has_relay

__all__ = [
    "plan_broadcasts",
    "slot_dates",
    "localize",
    "estimate_item_seconds",
    "estimate_broadcast_seconds",
    "estimate_session_seconds",
]

_ONE_DAY = timedelta(days=1)


def slot_dates(slot: Slot, first: date, last: date) -> Iterator[date]:
    """Local dates in ``first..last`` (inclusive) on which ``slot`` airs (ignores ``enabled``)."""
    if first > last:
        return
    if slot.dates is not None:
        candidates: Iterator[date] = iter(sorted(d for d in slot.dates if first <= d <= last))
    else:
        candidates = (first + timedelta(days=n) for n in range((last - first).days + 1))
    days, skip = slot.days, slot.skip_dates
    for d in candidates:
        if days is not None and d.weekday() not in days:
            continue
        if d in skip:
            continue
        yield d


def localize(day: date, at: time, tz: ZoneInfo) -> datetime:
    """Aware local datetime; a wall time in a DST gap is moved forward, an ambiguous one takes the first."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=tz)
    # a round trip through UTC normalises times that do not exist on the wall clock
    normal = aware.astimezone(UTC).astimezone(tz)
    return aware if normal.replace(tzinfo=None) == naive else normal


def _as_bounds(value: date | datetime | None, tz: ZoneInfo) -> tuple[date | None, datetime | None]:
    """A date bound is a whole local day; a datetime bound is an exact instant (naive = local)."""
    if value is None:
        return None, None
    if isinstance(value, datetime):
        instant = value if value.tzinfo is not None else value.replace(tzinfo=tz)
        return instant.astimezone(tz).date(), instant
    return value, None


def plan_broadcasts(
    schedule: Schedule,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
) -> list[Broadcast]:
    """Every broadcast of the enabled slots within the campaign (and ``start``..``end``), sorted by time.

    ``start``/``end`` are inclusive local dates; a datetime is taken as an exact instant instead.
    """
    campaign = schedule.campaign
    tz = campaign.timezone
    start_day, start_instant = _as_bounds(start, tz)
    end_day, end_instant = _as_bounds(end, tz)
    first = max(campaign.start, start_day) if start_day else campaign.start
    last = min(campaign.end, end_day) if end_day else campaign.end
    if first > last:
        return []

    planned: list[tuple[datetime, int, int, Broadcast]] = []
    for order, slot in enumerate(schedule.slots):
        if not slot.enabled:
            continue
        times = sorted(set(slot.times))
        items, priority, repeat, gap, chime = slot.play, slot.priority, slot.repeat, slot.gap_seconds, slot.chime
        if has_relay(items):
            repeat, chime = 1, None  # a relay airs once, without our chime
        name = slot.name
        for day in slot_dates(slot, first, last):
            for t in times:
                at = localize(day, t, tz)
                if start_instant is not None and at < start_instant:
                    continue
                if end_instant is not None and at > end_instant:
                    continue
                b = Broadcast(
                    at=at,
                    slot=name,
                    items=items,
                    priority=priority,
                    repeat=repeat,
                    gap_seconds=gap,
                    chime=chime,
                    zones=slot.zones,
                )
                planned.append((at, -int(priority), order, b))
    # same instant: the higher priority first, then the order of the file
    planned.sort(key=lambda row: row[:3])
    return [row[3] for row in planned]

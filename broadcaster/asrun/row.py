"""One row of the as-run log, as the rest of the program sees it."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from broadcaster.records import Outcome, Source

DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_TIMES = ("planned_at", "started_at", "ended_at", "recorded_at")


@dataclass(frozen=True)
class AsRunRow:
    """One line of the as-run log (times are aware datetimes in UTC)."""

    id: int
    key: str
    planned_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    source: Source
    slot: str | None
    title: str
    items: list[str]
    priority: str
    status: Outcome
    engines: dict[str, str]
    duration_s: float | None
    error: str | None
    #: what or who cut an interrupted broadcast
    by: str | None
    note: str | None
    recorded_at: datetime | None = None
    zone: str | None = None
    #: a receiver confirmed the broadcast was heard (None: nobody checked)
    heard: bool | None = None
    start_error_ms: float | None = None
    start_error_method: str | None = None
    #: the user who asked for it (ad-hoc broadcasts)
    by_user: str | None = None
    #: what the monitor heard (``broadcaster.proof``): delay_ms, level_db, dead_air, note…
    proof: dict[str, Any] | None = None

    @property
    def at(self) -> datetime | None:
        """The instant that places the row on a day: planned time, else start, else when written."""
        return self.planned_at or self.started_at or self.recorded_at

    @property
    def aired_seconds(self) -> float:
        """Seconds actually on air: only played or interrupted rows count."""
        if self.status not in (Outcome.PLAYED, Outcome.INTERRUPTED):
            return 0.0
        if self.duration_s is not None:
            return max(0.0, float(self.duration_s))
        if self.started_at and self.ended_at:
            return max(0.0, (self.ended_at - self.started_at).total_seconds())
        return 0.0

    def to_dict(self, tz: tzinfo | None = None) -> dict[str, Any]:
        """JSON-ready dict; times as ISO 8601 in ``tz`` (with offset), enums as their plain strings."""
        data = asdict(self)
        for name in _TIMES:
            value = data[name]
            data[name] = value.astimezone(tz or DEFAULT_TZ).isoformat() if value else None
        data["status"], data["source"] = str(self.status), str(self.source)
        return data


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def row_from_sql(r: sqlite3.Row) -> AsRunRow:
    """An :class:`AsRunRow` from a ``SELECT *`` row of the current schema."""
    heard = r["heard"]
    return AsRunRow(
        id=int(r["id"]),
        key=str(r["key"]),
        planned_at=_time(r["planned_at"]),
        started_at=_time(r["started_at"]),
        ended_at=_time(r["ended_at"]),
        source=Source(r["source"]),
        slot=r["slot"],
        title=str(r["title"]),
        items=[str(i) for i in json.loads(r["items"] or "[]")],
        priority=str(r["priority"]),
        status=Outcome(r["status"]),
        engines={str(k): str(v) for k, v in json.loads(r["engines"] or "{}").items()},
        duration_s=r["duration_s"],
        error=r["error"],
        by=r["by"],
        note=r["note"],
        recorded_at=_time(r["recorded_at"]),
        zone=r["zone"],
        heard=None if heard is None else bool(heard),
        start_error_ms=r["start_error_ms"],
        start_error_method=r["start_error_method"],
        by_user=r["by_user"],
        proof=json.loads(r["proof"]) if r["proof"] else None,
    )

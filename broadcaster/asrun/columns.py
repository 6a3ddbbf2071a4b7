"""An :class:`~broadcaster.events.AiredRecord` as the as-run table's columns, and back from keywords.

The store writes what a record says; this module says which column holds what (the row layout
of :mod:`broadcaster.asrun.schema`, unchanged). The keyword forms of ``begin``/``finish``/``record``
that callers used before the record existed are turned into records here too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from broadcaster.events import AiredRecord
from broadcaster.records import Outcome, Source
from broadcaster.schedule.model import Priority

E = TypeVar("E", Outcome, Source)

#: the INSERT of a new row: request columns, then the outcome columns a never-started row has
INSERT_SQL = (
    "INSERT INTO asrun (key, planned_at, started_at, recorded_at, source, slot, title, items, priority,"
    " status, error, note, zone, heard, start_error_ms, start_error_method, by_user)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
#: the UPDATE that closes a started row; a value left None keeps what the row holds
FINISH_SQL = (
    "UPDATE asrun SET status=?, started_at=COALESCE(?, started_at), ended_at=?, engines=?, duration_s=?,"
    " error=COALESCE(?, error), by=COALESCE(?, by), note=COALESCE(?, note), zone=COALESCE(?, zone),"
    " heard=COALESCE(?, heard), start_error_ms=COALESCE(?, start_error_ms),"
    " start_error_method=COALESCE(?, start_error_method), by_user=COALESCE(?, by_user),"
    " proof=COALESCE(?, proof) WHERE id=?"
)


def utc_text(value: datetime) -> str:
    """An aware datetime as the fixed-width UTC text the database stores."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"thời điểm phải có múi giờ (aware datetime): {value!r}")
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def member(kind: type[E], value: object) -> E | None:
    """``value`` as a member of the StrEnum ``kind``, or None when it is not one."""
    try:
        return kind(str(value))
    except ValueError:
        return None


def priority_text(priority: Priority | str) -> str:
    """The stored label of a priority; ValueError for one that is not a priority."""
    if isinstance(priority, Priority):
        return priority.label
    return Priority.parse(str(priority)).label


def _optional(record: AiredRecord) -> tuple[Any, ...]:
    """The optional columns (zone, receivers, timing, who asked) in database form."""
    return (
        record.zone,
        None if record.heard is None else int(bool(record.heard)),
        None if record.start_error_ms is None else float(record.start_error_ms),
        record.start_error_method,
        record.by_user,
    )


def request_side(record: AiredRecord) -> AiredRecord:
    """``record`` with its outcome side cleared: what a row holds when its broadcast starts."""
    return AiredRecord(
        key=record.key,
        title=record.title,
        priority=record.priority,
        source=record.source,
        slot=record.slot,
        zone=record.zone,
        planned_at=record.planned_at,
        items=record.items,
        by_user=record.by_user,
    )


def insert_values(record: AiredRecord, now: str, *, started: bool) -> tuple[Any, ...]:
    """The INSERT parameters of ``record``: a ``started`` row (begin) or one that never started."""
    source = member(Source, record.source)
    if source is None:
        raise ValueError(f"source must be one of {[s.value for s in Source]}, not {record.source!r}")
    return (
        str(record.key),
        utc_text(record.planned_at) if record.planned_at is not None else None,
        now if started else None,
        now,
        source.value,
        record.slot,
        str(record.title),
        json.dumps([str(i) for i in record.items], ensure_ascii=False),
        priority_text(record.priority),
        record.outcome.value,
        record.error,
        record.note,
        *_optional(record),
    )


def finish_values(row_id: int, record: AiredRecord, now: str) -> tuple[Any, ...]:
    """The UPDATE parameters that close row ``row_id`` with ``record``'s outcome; ``ended_at`` is ``now``."""
    return (
        record.outcome.value,
        utc_text(record.started_at) if record.started_at else None,
        now,
        json.dumps(dict(record.engines), ensure_ascii=False),
        None if record.seconds is None else round(float(record.seconds), 3),
        record.error,
        record.by,
        record.note,
        *_optional(record),
        json.dumps(dict(record.proof), ensure_ascii=False) if record.proof else None,
        int(row_id),
    )


def request_record(
    *,
    key: str,
    planned_at: datetime | None,
    source: Source | str,
    slot: str | None,
    title: str,
    items: Iterable[str],
    priority: Priority | str,
    zone: str | None = None,
    by_user: str | None = None,
    status: Outcome | str = Outcome.STARTED,
    **outcome: Any,
) -> AiredRecord:
    """A record from the keyword columns ``begin(...)`` and ``record(...)`` took before records existed."""
    kind = member(Source, source)
    if kind is None:
        raise ValueError(f"source must be one of {[s.value for s in Source]}, not {source!r}")
    return AiredRecord(
        key=key,
        title=title,
        priority=priority_text(priority),
        source=kind,
        slot=slot,
        zone=zone,
        planned_at=planned_at,
        items=tuple(str(i) for i in items),
        by_user=by_user,
        outcome=_outcome(status),
        **outcome,
    )


def finished_record(status: Outcome | str, *, duration_s: float | None = None, **outcome: Any) -> AiredRecord:
    """The outcome a keyword ``finish(row_id, status, duration_s=…, …)`` gave, as a record.

    Only the outcome's side is written when a row is closed, so the request's side stays empty.
    """
    if outcome.get("engines") is None:
        outcome.pop("engines", None)
    return AiredRecord(key="", title="", outcome=_outcome(status), seconds=duration_s, **outcome)


def _outcome(status: Outcome | str) -> Outcome:
    outcome = member(Outcome, status)
    if outcome is None:
        raise ValueError(f"status must be one of {[o.value for o in Outcome]}, not {status!r}")
    return outcome

"""Report arithmetic: what was planned and what the log says aired, per day, per script, in total.

Pure functions of the planned broadcasts and the log rows — no files, no formatting. One rule
decides what stands for a broadcast (:func:`final_outcomes`) and one function counts outcomes
(:func:`tally`); ``log``, ``report`` (text, CSV, DOCX) and ``status``'s "today" line all count
through them, so their totals always agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

from broadcaster.asrun.row import DEFAULT_TZ, AsRunRow
from broadcaster.records import Outcome, Source
from broadcaster.schedule.model import Broadcast

# When one broadcast has several rows (interrupted by an emergency, then replayed), the best
# outcome stands for it: it counts once, as played if any attempt played.
_RANK = {
    o: i
    for i, o in enumerate(
        (
            Outcome.PLAYED,
            Outcome.STARTED,
            Outcome.INTERRUPTED,
            Outcome.NOT_HEARD,
            Outcome.FAILED,
            Outcome.MISSED,
            Outcome.SKIPPED,
            Outcome.UNAPPROVED,
        )
    )
}


#: the order outcomes are named in, everywhere (what is done first, what is still on air last)
SUMMARY_ORDER = (
    Outcome.PLAYED,
    Outcome.INTERRUPTED,
    Outcome.NOT_HEARD,
    Outcome.FAILED,
    Outcome.MISSED,
    Outcome.SKIPPED,
    Outcome.UNAPPROVED,
    Outcome.STARTED,
)


def final_outcomes(rows: Iterable[AsRunRow]) -> dict[str, AsRunRow]:
    """Per broadcast key, the row that stands for it: its best outcome, the newest row on a tie.

    Keys keep the order of their first row.
    """

    def rank(r: AsRunRow) -> tuple[int, int]:
        return _RANK.get(r.status, 99), -r.id

    best: dict[str, AsRunRow] = {}
    for r in rows:
        if r.key not in best or rank(r) < rank(best[r.key]):
            best[r.key] = r
    return best


def _zero() -> dict[Outcome, int]:
    return dict.fromkeys(Outcome, 0)


@dataclass
class OutcomeCounts:
    """Broadcasts by outcome, scheduled and ad-hoc apart (every outcome present, zeros included)."""

    schedule: dict[Outcome, int] = field(default_factory=_zero)
    adhoc: dict[Outcome, int] = field(default_factory=_zero)

    def total(self) -> dict[Outcome, int]:
        """Both sources together, per outcome."""
        return {o: self.schedule[o] + self.adhoc[o] for o in Outcome}

    @property
    def broadcasts(self) -> int:
        return sum(self.schedule.values()) + sum(self.adhoc.values())

    def add(self, other: OutcomeCounts) -> None:
        for o in Outcome:
            self.schedule[o] += other.schedule[o]
            self.adhoc[o] += other.adhoc[o]


def tally(final_rows: Iterable[AsRunRow]) -> OutcomeCounts:
    """Count rows that each stand for one broadcast (see :func:`final_outcomes`) by source and outcome."""
    counts = OutcomeCounts()
    for r in final_rows:
        side = counts.adhoc if r.source is Source.ADHOC else counts.schedule
        side[r.status] += 1
    return counts


def count_outcomes(rows: Iterable[AsRunRow]) -> OutcomeCounts:
    """Broadcasts by outcome for a list of log rows: a replayed broadcast counts once."""
    return tally(final_outcomes(rows).values())


def today_counts(rows: Iterable[AsRunRow]) -> dict[str, int]:
    """``status``'s "today" figures: outcome → number of broadcasts (non-zero ones, both sources)."""
    return {str(o): n for o, n in count_outcomes(rows).total().items() if n}


def outcome_summary(counts: Mapping[str, int] | Mapping[Outcome, int]) -> str:
    """``7 đã phát, 2 bị ngắt, 1 lỗi`` — non-zero outcomes in one fixed order, the same everywhere."""
    values = {str(k): int(v) for k, v in counts.items()}
    return ", ".join(f"{values[o]} {o.vi}" for o in SUMMARY_ORDER if values.get(o.value))


@dataclass
class DayStats:
    """Counts for one day (or the whole period, for the total)."""

    day: date | None
    planned: int = 0
    #: planned, time already passed, and not a single row in the log
    no_record: int = 0
    #: planned, time not yet come
    upcoming: int = 0
    #: schedule broadcasts in the log that the current schedule no longer plans
    unplanned: int = 0
    seconds_aired: float = 0.0
    counts: OutcomeCounts = field(default_factory=OutcomeCounts)

    # scheduled broadcasts by outcome, by name (what the report's columns show)
    @property
    def played(self) -> int:
        return self.counts.schedule[Outcome.PLAYED]

    @property
    def interrupted(self) -> int:
        return self.counts.schedule[Outcome.INTERRUPTED]

    @property
    def failed(self) -> int:
        return self.counts.schedule[Outcome.FAILED]

    @property
    def missed(self) -> int:
        return self.counts.schedule[Outcome.MISSED]

    @property
    def skipped(self) -> int:
        return self.counts.schedule[Outcome.SKIPPED]

    @property
    def unapproved(self) -> int:
        return self.counts.schedule[Outcome.UNAPPROVED]

    @property
    def on_air(self) -> int:
        return self.counts.schedule[Outcome.STARTED]

    @property
    def adhoc_played(self) -> int:
        return self.counts.adhoc[Outcome.PLAYED]

    @property
    def minutes_aired(self) -> float:
        return self.seconds_aired / 60.0

    def add(self, other: DayStats) -> None:
        self.planned += other.planned
        self.no_record += other.no_record
        self.upcoming += other.upcoming
        self.unplanned += other.unplanned
        self.seconds_aired += other.seconds_aired
        self.counts.add(other.counts)


@dataclass
class ScriptStats:
    """How often one item (script, text or audio) was planned and aired."""

    label: str
    planned: int = 0
    played_schedule: int = 0
    played_adhoc: int = 0

    @property
    def played(self) -> int:
        return self.played_schedule + self.played_adhoc


@dataclass
class Report:
    """The whole period: per day, in total and per script."""

    start: date
    end: date
    days: list[DayStats]
    total: DayStats
    scripts: list[ScriptStats]
    campaign: str = ""
    #: False when the schedule could not be read: planned counts are then unknown
    plan_available: bool = True
    generated_at: datetime | None = None
    tz: tzinfo = field(default=DEFAULT_TZ)


def _local_day(value: datetime, tz: tzinfo) -> date:
    return value.astimezone(tz).date()


def _count_plan(
    planned: list[Broadcast],
    days: dict[date, DayStats],
    outcomes: Mapping[str, AsRunRow],
    script: dict[str, ScriptStats],
    tz: tzinfo,
    now: datetime,
) -> set[str]:
    """Count planned broadcasts into ``days`` and ``script``; return the keys planned in range."""
    planned_keys: set[str] = set()
    for b in sorted(planned, key=lambda b: b.at):
        stats = days.get(_local_day(b.at, tz))
        if stats is None:
            continue
        planned_keys.add(b.key)
        stats.planned += 1
        for item in b.items:
            script.setdefault(item.label, ScriptStats(item.label)).planned += 1
        if b.key not in outcomes:
            if b.at <= now:
                stats.no_record += 1
            else:
                stats.upcoming += 1
    return planned_keys


def build_report(
    planned: list[Broadcast],
    rows: list[AsRunRow],
    start: date,
    end: date,
    *,
    tz: tzinfo | None = None,
    now: datetime | None = None,
    campaign: str = "",
    plan_available: bool = True,
) -> Report:
    """Count, per day and in total, what was planned and what the log says aired."""
    if start > end:
        raise ValueError("start after end")
    zone = tz or DEFAULT_TZ
    moment = now or datetime.now(UTC)
    days = {start + timedelta(days=i): DayStats(start + timedelta(days=i)) for i in range((end - start).days + 1)}

    in_range = [r for r in rows if r.at is not None and _local_day(r.at, zone) in days]
    for r in in_range:
        assert r.at is not None
        days[_local_day(r.at, zone)].seconds_aired += r.aired_seconds
    outcomes = final_outcomes(in_range)
    scripts: dict[str, ScriptStats] = {}
    planned_keys = _count_plan(planned, days, outcomes, scripts, zone, moment)

    by_day: dict[date, list[AsRunRow]] = {}
    for key, best in outcomes.items():
        assert best.at is not None
        by_day.setdefault(_local_day(best.at, zone), []).append(best)
        if best.source is Source.SCHEDULE and plan_available and key not in planned_keys:
            days[_local_day(best.at, zone)].unplanned += 1
        if best.status is Outcome.PLAYED:
            for label in best.items:
                s = scripts.setdefault(label, ScriptStats(label))
                if best.source is Source.ADHOC:
                    s.played_adhoc += 1
                else:
                    s.played_schedule += 1
    for day, final_rows in by_day.items():
        days[day].counts = tally(final_rows)

    total = DayStats(None)
    for stats in days.values():
        total.add(stats)
    return Report(
        start=start,
        end=end,
        days=list(days.values()),
        total=total,
        scripts=list(scripts.values()),  # planned order first, then what only the log knows
        campaign=campaign,
        plan_available=plan_available,
        generated_at=moment,
        tz=zone,
    )


def item_label_vi(label: str) -> str:
    """``script:chu-de`` → ``chu-de``; other kinds get a Vietnamese prefix."""
    kind, _, value = label.partition(":")
    if not value:
        return label
    return {"script": value, "text": f"văn bản: {value}", "audio": f"âm thanh: {value}"}.get(kind, label)

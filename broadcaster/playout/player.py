"""The playout worker: one queue, one thread, the only code that touches the output.

Scheduler jobs and API calls never play anything themselves; they :meth:`Player.submit` a
:class:`Request`. The worker takes requests in order of priority, then planned time, then
arrival, turns each into a :class:`~broadcaster.programme.Programme` and streams it to the
:class:`~broadcaster.playout.sinks.Sink`, writing the as-run log around every attempt and
publishing what happened as typed events (:mod:`broadcaster.events`) on its bus.

Priorities follow Circular 39/2020/TT-BTTTT:

* normal — after everything already queued;
* priority — next, after the item now playing;
* emergency — cuts the item now playing (short fade in the sink), airs, then the cut
  broadcast is queued again and replays from its start. Emergencies queue among themselves.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from broadcaster.events import (
    AiredRecord,
    BroadcastFinished,
    BroadcastHeld,
    BroadcastMissed,
    BroadcastStarted,
    EventBus,
)
from broadcaster.playout.sink import PlayResult, Sink
from broadcaster.records import Outcome, Source, StopReason
from broadcaster.schedule.model import Item, Priority

if TYPE_CHECKING:
    from broadcaster.asrun import AsRunLog
    from broadcaster.programme import Programme

log = logging.getLogger("broadcaster.playout")

SortKey = tuple[int, float, int]

_seq = itertools.count(1)
#: the as-run columns a request fills in (``Player.row_fields``)
_REQUEST_COLUMNS = ("key", "planned_at", "source", "slot", "title", "items", "priority", "zone", "by_user")


@dataclass(frozen=True)
class Request:
    """A broadcast waiting for air: a planned slot airing or an ad-hoc announcement."""

    key: str
    title: str
    items: tuple[Item, ...]
    priority: Priority = Priority.NORMAL
    source: Source = Source.SCHEDULE
    slot: str | None = None
    planned_at: datetime | None = None  # None: as soon as possible
    repeat: int = 1
    gap_seconds: float = 3.0
    chime: Path | None = None
    by: str | None = None
    offline: bool = False  # ad-hoc: do not wait on the online voice
    replay_of: int | None = None  # as-run row id of the attempt an emergency cut
    zones: tuple[str, ...] | None = None  # the zones it airs in (None = all); each zone's player gets it
    id: int = field(default_factory=lambda: next(_seq))
    submitted: float = field(default_factory=time.time)

    def sort_key(self) -> SortKey:
        """Priority first (highest first), then planned time (else arrival), then id."""
        when = self.planned_at.timestamp() if self.planned_at else self.submitted
        return (-int(self.priority), when, self.id)

    def describe(self) -> dict[str, Any]:
        """The request as the API and events show it."""
        return {
            "id": self.id,
            "key": self.key,
            "title": self.title,
            "source": self.source,
            "slot": self.slot,
            "priority": self.priority.label,
            "items": [i.label for i in self.items],
            "planned_at": self.planned_at.isoformat() if self.planned_at else None,
            "replay": self.replay_of is not None,
            "zones": list(self.zones) if self.zones else None,
        }

    def as_record(
        self,
        zone: str | None = None,
        outcome: Outcome = Outcome.STARTED,
        *,
        error: str | None = None,
        note: str | None = None,
    ) -> AiredRecord:
        """The request's side of its as-run record in ``zone``; the outcome's side empty unless given."""
        return AiredRecord(
            key=self.key,
            title=self.title,
            priority=self.priority.label,
            source=self.source,
            slot=self.slot,
            zone=zone,
            planned_at=self.planned_at,
            items=tuple(i.label for i in self.items),
            by_user=self.by if self.source == Source.ADHOC else None,  # who asked for it
            outcome=outcome,
            error=error,
            note=note,
        )


@dataclass
class _NowPlaying:
    request: Request
    row_id: int
    since: float
    stop: threading.Event = field(default_factory=threading.Event)
    stop_reason: StopReason | None = None
    stop_by: str | None = None  # who asked for the cut (the emergency's author, the operator)
    cut_by: str | None = None  # what cut it (the emergency's title)

    def cut(self, reason: StopReason, by: str | None, what: str | None = None) -> None:
        """Cut this broadcast now (call with the player's lock held)."""
        self.stop_reason, self.stop_by, self.cut_by = reason, by, what
        self.stop.set()

    def cut_reason(self) -> str:
        """What cut it, said once: ``nhường cho bản tin khẩn cấp: <title>``."""
        if self.stop_reason is None:
            return "bị ngắt"
        return f"{self.stop_reason.vi}: {self.cut_by}" if self.cut_by else self.stop_reason.vi


class Player:
    """Owns the sink; plays queued requests one at a time.

    ``events``: where it publishes what happens to each broadcast (the station's one bus; a
    private bus when not given). ``clock``: wall time, injectable for tests (the sink keeps its own).
    """

    def __init__(
        self,
        *,
        sink: Sink,
        asrun: AsRunLog,
        build_programme: Callable[[Request], Programme],
        grace_seconds: float = 300.0,
        events: EventBus | None = None,
        admit: Callable[[Request], str | None] | None = None,
        zone: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.zone = zone  # the loudspeaker cluster this player feeds (None: the one output of a zoneless schedule)
        self._sink = sink
        self._admit = admit or (lambda req: None)  # None = may air; else why it is held (not approved)
        self._pending_sink: Sink | None = None  # a new output, taken up at the next broadcast
        self._asrun = asrun
        self._build = build_programme
        self.grace_seconds = grace_seconds
        self.events = events if events is not None else EventBus()
        self._clock = clock
        self._heap: list[tuple[SortKey, Request]] = []
        self._cond = threading.Condition()
        self._now: _NowPlaying | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=f"playout-{zone}" if zone else "playout", daemon=True)
        self.last_result: dict[str, Any] | None = None

    # -- control (any thread) ---------------------------------------------------------
    def start(self) -> None:
        """Start the playout thread."""
        self._thread.start()

    def submit(self, request: Request) -> int:
        """Queue a request; an emergency cuts whatever non-emergency is on air."""
        with self._cond:
            if self._closing:
                raise RuntimeError("player is shutting down")
            heapq.heappush(self._heap, (request.sort_key(), request))
            now = self._now
            if (
                request.priority is Priority.EMERGENCY
                and now is not None
                and now.request.priority is not Priority.EMERGENCY
                and not now.stop.is_set()
            ):
                now.cut(StopReason.EMERGENCY, request.by, request.title)
            self._cond.notify_all()
        log.debug("queued %s (%s)", request.key, request.priority.label)
        return request.id

    def stop_current(self, by: str = "operator") -> dict[str, Any] | None:
        """Cut the broadcast now on air (logged ``interrupted``, not replayed)."""
        with self._cond:
            now = self._now
            if now is None or now.stop.is_set():
                return None
            now.cut(StopReason.OPERATOR, by)
            return now.request.describe()

    def cancel(self, request_id: int) -> Request | None:
        """Remove a queued (not yet playing) request; it is logged ``skipped``."""
        with self._cond:
            for i, (_, req) in enumerate(self._heap):
                if req.id == request_id:
                    self._heap.pop(i)
                    heapq.heapify(self._heap)
                    break
            else:
                return None
        self._asrun.record(req.as_record(self.zone, Outcome.SKIPPED, note="người vận hành hủy"))
        return req

    @property
    def sink(self) -> Sink:
        """The output the next broadcast will use."""
        with self._cond:
            return self._pending_sink if self._pending_sink is not None else self._sink

    def use_sink(self, sink: Sink) -> None:
        """Switch the output from the next broadcast on; the one on air ends on the sink it started on."""
        with self._cond:
            replaced, self._pending_sink = self._pending_sink, sink
        if replaced is not None:
            replaced.close()

    def queued(self) -> list[Request]:
        """Requests waiting, in the order they will air."""
        with self._cond:
            return [req for _, req in sorted(self._heap, key=lambda e: e[0])]

    def now_playing(self) -> dict[str, Any] | None:
        """The request on air, with when it began and its as-run row, or None."""
        with self._cond:
            now = self._now
            if now is None:
                return None
            return {**now.request.describe(), "since": now.since, "row_id": now.row_id}

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cut the current broadcast, drop the queue (it will be re-planned) and stop."""
        with self._cond:
            self._closing = True
            if self._now is not None and not self._now.stop.is_set():
                self._now.cut(StopReason.SHUTDOWN, "hệ thống")
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sink.close()
        if self._pending_sink is not None:
            self._pending_sink.close()

    # -- worker ----------------------------------------------------------------------
    def _next(self) -> Request | None:
        with self._cond:
            while not self._heap and not self._closing:
                self._cond.wait()
            if self._closing:
                return None
            return heapq.heappop(self._heap)[1]

    def _run(self) -> None:
        while True:
            request = self._next()
            if request is None:
                return
            try:
                self._play(request)
            except Exception:  # the air must not die with one broadcast
                log.exception("lỗi không lường trước khi phát %s; tiếp tục với lượt sau", request.key)

    @staticmethod
    def row_fields(req: Request, zone: str | None = None) -> dict[str, Any]:
        """Deprecated: the keyword columns of ``asrun.record(**row_fields(req, zone), status=…, error=…)``.

        New code passes ``asrun.record(req.as_record(zone, outcome, error=…))``.
        """
        record = req.as_record(zone)
        return {name: getattr(record, name) for name in _REQUEST_COLUMNS}

    def _play(self, req: Request) -> None:
        """Air one request: missed when too late, held when not approved, else build, play, log, replay if cut."""
        with self._cond:
            pending, self._pending_sink = self._pending_sink, None
        if pending is not None:
            self._sink.close()
            self._sink = pending
        start_at = req.planned_at.timestamp() if req.planned_at else None
        base = req.as_record(self.zone)
        if self._turned_away(req, base, start_at):
            return
        programme = None
        build_error = None
        try:
            programme = self._build(req)
        except Exception as exc:  # noqa: BLE001 - reported in the as-run log
            build_error = f"không chuẩn bị được chương trình: {exc}"

        row_id = self._asrun.begin(base)
        now = _NowPlaying(req, row_id, self._clock())
        with self._cond:
            self._now = now
            if self._closing:
                now.cut(StopReason.SHUTDOWN, "hệ thống")
        log.info("BẮT ĐẦU %s [%s] %s", req.key, req.priority.label, ", ".join(i.label for i in req.items))
        self.events.publish(BroadcastStarted(base, row_id))
        try:
            if programme is not None:
                record = self._air(base, programme, now, start_at)
            else:
                record = replace(base, outcome=Outcome.FAILED, error=build_error, seconds=0.0)
        finally:
            with self._cond:
                self._now = None
        self._finish(now, record)
        if record.outcome is Outcome.INTERRUPTED and now.stop_reason is StopReason.EMERGENCY:
            self._replay(req, row_id)

    def _turned_away(self, req: Request, base: AiredRecord, start_at: float | None) -> bool:
        """Missed (later than the grace period) or held (not approved): logged and told; True then."""
        late = self._clock() - start_at if start_at is not None else 0.0
        if late > self.grace_seconds:
            reason = f"trễ {late:.0f} giây, quá thời gian cho phép {self.grace_seconds:.0f} giây"
            missed = replace(base, outcome=Outcome.MISSED, error=reason)
            self._asrun.record(missed)
            log.warning("BỎ LỠ %s: %s", req.key, reason)
            self.events.publish(BroadcastMissed(missed))
            return True
        why = self._admit(req)  # asked when its turn comes, so an approval given meanwhile counts
        if why is None:
            return False
        held = replace(base, outcome=Outcome.UNAPPROVED, error=why)
        self._asrun.record(held)
        log.warning("CHƯA DUYỆT %s: %s", req.key, why)
        self.last_result = _last_result(held, None)
        self.events.publish(BroadcastHeld(held))
        return True

    def _air(self, base: AiredRecord, programme: Programme, now: _NowPlaying, start_at: float | None) -> AiredRecord:
        """Stream the programme to the sink; what happened, as the as-run row will say it."""
        try:
            result = self._sink.play(
                self._blocks(programme, now.stop),
                rate=programme.rate,
                start_at=start_at,
                stop=now.stop,
                label=base.title,
            )
        except Exception as exc:  # noqa: BLE001 - SinkError and render failures end as 'failed'
            reason = str(exc) or exc.__class__.__name__
            return replace(base, outcome=Outcome.FAILED, error=reason, seconds=0.0, engines=_engines(programme))
        outcome, error = _verdict(result, now)
        start_error_ms, start_error_method, time_to_air_ms = result.start_error_ms, result.start_error_method, None
        if start_at and result.started_at:
            if start_error_ms is not None:
                log.info("  lệch giờ phát: %+.0f ms (đo bằng %s)", start_error_ms, start_error_method)
            else:
                log.info("  lệch giờ phát: không đo được (ghi trống, không ghi +0)")
        elif result.started_at:
            time_to_air_ms = (result.started_at - now.request.submitted) * 1000
            log.info("  từ lúc nhận lệnh đến khi phát: %.0f ms", time_to_air_ms)
        heard_at = result.started_at if result.started_at and result.seconds > 0 else None
        return replace(
            base,
            outcome=outcome,
            error=error,
            seconds=result.seconds,
            started_at=datetime.fromtimestamp(heard_at, UTC) if heard_at else None,
            engines=_engines(programme),
            start_error_ms=start_error_ms,
            start_error_method=start_error_method,
            time_to_air_ms=time_to_air_ms,
            heard=result.proof.get("heard") if result.proof else None,
            proof=result.proof,
        )

    def _finish(self, now: _NowPlaying, record: AiredRecord) -> None:
        """Close the as-run row, remember the result, tell the listeners."""
        # Who asked for the cut; what cut it is in the error, said once.
        record = replace(record, by=now.stop_by if record.outcome is Outcome.INTERRUPTED else None)
        self._asrun.finish(now.row_id, record)
        self.last_result = _last_result(record, self._clock())
        if record.outcome is Outcome.PLAYED:
            engines = _engine_summary(record.engines)
            log.info("KẾT THÚC %s: đã phát %.1f giây, giọng đọc %s", record.key, record.seconds or 0.0, engines)
        else:
            log.warning("KẾT THÚC %s: %s — %s", record.key, record.outcome.value, record.error)
        self.events.publish(BroadcastFinished(record, now.row_id))

    def _replay(self, req: Request, row_id: int) -> None:
        """Queue a broadcast an emergency cut: it airs again from its start, keeping its place."""
        # Its sort key is unchanged, so it stays ahead of later broadcasts. Cut before its
        # planned instant (still in pre-roll): keep that instant, never air early.
        keep = req.planned_at if req.planned_at and req.planned_at.timestamp() > self._clock() else None
        again = replace(req, replay_of=row_id, planned_at=keep, id=req.id, submitted=req.submitted)
        with self._cond:
            if not self._closing:
                heapq.heappush(self._heap, (req.sort_key(), again))
                self._cond.notify_all()

    @staticmethod
    def _blocks(programme: Programme, stop: threading.Event) -> Iterator[np.ndarray]:
        for part in programme.parts:
            if part.stream is not None:  # a relay: live blocks as they arrive
                yield from part.stream(stop)
            else:
                yield part.audio(timeout=120)


def _engines(programme: Programme) -> dict[str, str]:
    try:
        return {label: eng for label, eng in programme.engines().items() if eng}
    except Exception:  # noqa: BLE001 - a part that failed to render has no engine
        return {p.label: p.engine for p in programme.parts if getattr(p, "ready", False) and p.engine}


def _last_result(record: AiredRecord, ended_at: float | None) -> dict[str, Any]:
    """What ``status`` shows of the last attempt (``ended_at``: None for one that never started)."""
    result: dict[str, Any] = {"key": record.key, "title": record.title, "status": record.outcome.value}
    result["error"] = record.error
    result["seconds"] = record.seconds or 0.0
    if ended_at is not None:
        result["ended_at"] = datetime.fromtimestamp(ended_at, UTC).isoformat()
    return result


def _verdict(result: PlayResult, now: _NowPlaying) -> tuple[Outcome, str | None]:
    """The outcome of a play that returned, and its error."""
    if not result.completed:
        return Outcome.INTERRUPTED, now.cut_reason()
    if result.proof and result.proof.get("heard") is False:
        # sent, but the loudspeakers' monitor did not hear it: never counted as aired
        return Outcome.NOT_HEARD, result.proof.get("note") or "đầu nghe kiểm tra không nghe thấy bản tin"
    return Outcome.PLAYED, None


def _engine_summary(engines: Mapping[str, str]) -> str:
    names = sorted(set(engines.values()))
    return ", ".join(names) if names else "không có giọng đọc (chỉ âm thanh)"

"""The playout worker: one queue, one thread, the only code that touches the output.

Scheduler jobs and API calls never play anything themselves; they :meth:`Player.submit` a
:class:`Request`. The worker takes requests in order of priority, then planned time, then
arrival, turns each into a :class:`~broadcaster.programme.Programme` and streams it to the
:class:`~broadcaster.playout.sinks.Sink`, writing the as-run log around every attempt.

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
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from broadcaster.schedule.model import Item, Priority

log = logging.getLogger("broadcaster.playout")

_seq = itertools.count(1)


@dataclass(frozen=True)
class Request:
    """A broadcast waiting for air: a planned slot airing or an ad-hoc announcement."""

    key: str
    title: str
    items: tuple[Item, ...]
    priority: Priority = Priority.NORMAL
    source: str = "schedule"  # "schedule" | "adhoc"
    slot: str | None = None
    planned_at: datetime | None = None  # None: as soon as possible
    repeat: int = 1
    gap_seconds: float = 3.0
    chime: Path | None = None
    by: str | None = None
    offline: bool = False  # ad-hoc: do not wait on the online voice
    replay_of: int | None = None  # as-run row id of the attempt an emergency cut
    id: int = field(default_factory=lambda: next(_seq))
    submitted: float = field(default_factory=time.time)

    def sort_key(self) -> tuple:
        when = self.planned_at.timestamp() if self.planned_at else self.submitted
        return (-int(self.priority), when, self.id)

    def describe(self) -> dict:
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
        }


@dataclass
class _NowPlaying:
    request: Request
    row_id: int
    since: float
    stop: threading.Event = field(default_factory=threading.Event)
    stop_reason: str | None = None  # "emergency" | "operator" | "shutdown"
    stop_by: str | None = None


class Player:
    """Owns the sink; plays queued requests one at a time."""

    def __init__(
        self,
        *,
        sink,
        asrun,
        build_programme: Callable[[Request], object],
        grace_seconds: float = 300.0,
        on_event: Callable[[str, dict], None] | None = None,
    ) -> None:
        self._sink = sink
        self._pending_sink = None  # a new output, taken up at the next broadcast
        self._asrun = asrun
        self._build = build_programme
        self.grace_seconds = grace_seconds
        self._on_event = on_event or (lambda kind, data: None)
        self._heap: list[tuple[tuple, Request]] = []
        self._cond = threading.Condition()
        self._now: _NowPlaying | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="playout", daemon=True)
        self.last_result: dict | None = None

    # -- control (any thread) ---------------------------------------------------------
    def start(self) -> None:
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
                now.stop_reason, now.stop_by = "emergency", request.title
                now.stop.set()
            self._cond.notify_all()
        log.debug("queued %s (%s)", request.key, request.priority.label)
        return request.id

    def stop_current(self, by: str = "operator") -> dict | None:
        """Cut the broadcast now on air (logged ``interrupted``, not replayed)."""
        with self._cond:
            now = self._now
            if now is None or now.stop.is_set():
                return None
            now.stop_reason, now.stop_by = "operator", by
            now.stop.set()
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
        self._asrun.record(**self._row_fields(req), status="skipped", note="người vận hành hủy")
        return req

    @property
    def sink(self):
        """The output the next broadcast will use."""
        with self._cond:
            return self._pending_sink if self._pending_sink is not None else self._sink

    def use_sink(self, sink) -> None:
        """Switch the output from the next broadcast on; the one on air ends on the sink it started on."""
        with self._cond:
            replaced, self._pending_sink = self._pending_sink, sink
        if replaced is not None:
            replaced.close()

    def queued(self) -> list[Request]:
        with self._cond:
            return [req for _, req in sorted(self._heap, key=lambda e: e[0])]

    def now_playing(self) -> dict | None:
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
                self._now.stop_reason, self._now.stop_by = "shutdown", "hệ thống"
                self._now.stop.set()
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
    def _row_fields(req: Request) -> dict:
        return {
            "key": req.key,
            "planned_at": req.planned_at,
            "source": req.source,
            "slot": req.slot,
            "title": req.title,
            "items": [i.label for i in req.items],
            "priority": req.priority.label,
        }

    def _play(self, req: Request) -> None:
        with self._cond:
            pending, self._pending_sink = self._pending_sink, None
        if pending is not None:
            self._sink.close()
            self._sink = pending
        start_at = req.planned_at.timestamp() if req.planned_at else None
        if start_at is not None and time.time() - start_at > self.grace_seconds:
            late = time.time() - start_at
            reason = f"trễ {late:.0f} giây, quá thời gian cho phép {self.grace_seconds:.0f} giây"
            self._asrun.record(**self._row_fields(req), status="missed", error=reason)
            log.warning("BỎ LỠ %s: %s", req.key, reason)
            self._on_event("missed", req.describe())
            return

        programme = None
        build_error = None
        try:
            programme = self._build(req)
        except Exception as exc:  # noqa: BLE001 - reported in the as-run log
            build_error = f"không chuẩn bị được chương trình: {exc}"

        row_id = self._asrun.begin(**self._row_fields(req))
        now = _NowPlaying(req, row_id, time.time())
        with self._cond:
            self._now = now
            if self._closing:
                now.stop_reason, now.stop_by = "shutdown", "hệ thống"
                now.stop.set()
        log.info("BẮT ĐẦU %s [%s] %s", req.key, req.priority.label, ", ".join(i.label for i in req.items))
        self._on_event("started", req.describe())
        status, error, seconds, engines, heard_at = "failed", build_error, 0.0, {}, None
        try:
            if programme is not None:
                result = self._sink.play(
                    self._blocks(programme),
                    rate=programme.rate,
                    start_at=start_at,
                    stop=now.stop,
                    label=req.title,
                )
                seconds = result.seconds
                if result.started_at and seconds > 0:
                    heard_at = datetime.fromtimestamp(result.started_at, timezone.utc)
                engines = _engines(programme)
                if result.completed:
                    status, error = "played", None
                else:
                    status = "interrupted"
                    error = {
                        "emergency": f"nhường cho bản tin khẩn cấp: {now.stop_by}",
                        "operator": "người vận hành dừng",
                        "shutdown": "phần mềm dừng",
                    }.get(now.stop_reason or "", "bị ngắt")
                if result.started_at and start_at:
                    log.info("  lệch giờ phát: %+.0f ms", (result.started_at - start_at) * 1000)
                elif result.started_at:
                    log.info("  từ lúc nhận lệnh đến khi phát: %.0f ms", (result.started_at - req.submitted) * 1000)
        except Exception as exc:  # noqa: BLE001 - SinkError and render failures end as 'failed'
            error = str(exc) or exc.__class__.__name__
            engines = _engines(programme) if programme is not None else {}
        finally:
            with self._cond:
                self._now = None
        by = now.stop_by if status == "interrupted" else None
        self._asrun.finish(row_id, status, engines=engines, duration_s=round(seconds, 3), error=error, by=by,
                           started_at=heard_at)
        self.last_result = {"key": req.key, "title": req.title, "status": status, "error": error,
                            "seconds": seconds, "ended_at": datetime.now(timezone.utc).isoformat()}
        if status == "played":
            log.info("KẾT THÚC %s: đã phát %.1f giây, giọng đọc %s", req.key, seconds, _engine_summary(engines))
        else:
            log.warning("KẾT THÚC %s: %s — %s", req.key, status, error)
        self._on_event(status, {**req.describe(), "error": error})

        if status == "interrupted" and now.stop_reason == "emergency":
            # Airs again from its start once the emergency is over; it keeps its place
            # ahead of later broadcasts because its sort key is unchanged.
            # Cut before its planned instant (still in pre-roll): keep that instant, never air early.
            keep = req.planned_at if req.planned_at and req.planned_at.timestamp() > time.time() else None
            again = replace(req, replay_of=row_id, planned_at=keep, id=req.id, submitted=req.submitted)
            with self._cond:
                if not self._closing:
                    heapq.heappush(self._heap, (req.sort_key(), again))
                    self._cond.notify_all()

    @staticmethod
    def _blocks(programme) -> Iterator:
        for part in programme.parts:
            yield part.audio(timeout=120)


def _engines(programme) -> dict:
    try:
        return {label: eng for label, eng in programme.engines().items() if eng}
    except Exception:  # noqa: BLE001 - a part that failed to render has no engine
        return {p.label: p.engine for p in programme.parts if getattr(p, "ready", False) and p.engine}


def _engine_summary(engines: dict) -> str:
    names = sorted(set(engines.values()))
    return ", ".join(names) if names else "không có giọng đọc (chỉ âm thanh)"

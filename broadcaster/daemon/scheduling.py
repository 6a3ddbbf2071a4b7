"""The daemon's scheduling component: APScheduler, the job set, catch-up, and the periodic jobs.

Opens on the daemon's exit stack: catch up on what passed while the daemon was down, build the
job set from the plan, start the scheduler (and shut it down on close). Jobs only enqueue; the
playout workers do the work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from broadcaster.daemon import state, zones
from broadcaster.daemon.alerting import Watch
from broadcaster.daemon.catchup import catch_up
from broadcaster.daemon.jobs import JobDiff, JobSync
from broadcaster.daemon.reload import ScheduleHolder
from broadcaster.playout.player import Request
from broadcaster.records import Source
from broadcaster.schedule.model import Broadcast
from broadcaster.station import Station

log = logging.getLogger("broadcaster.daemon")


class Scheduling:
    """The scheduler and its job set, kept equal to the plan's future broadcasts."""

    def __init__(self, schedule: ScheduleHolder, station: Station, watch: Watch, *, lead_seconds: float) -> None:
        self._schedule = schedule
        self._station = station
        self._watch = watch
        self._lead_seconds = lead_seconds
        self._fired: set[str] = set()
        self._lock = threading.RLock()
        self.jobs: JobSync
        self.scheduler: BackgroundScheduler

    def open(self, stack: ExitStack) -> JobDiff:
        """Catch up, build the job set, start the scheduler; its shutdown goes on ``stack``."""
        schedule = self._schedule.current
        self.scheduler = BackgroundScheduler(
            timezone=schedule.campaign.timezone,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(self._station.grace_seconds) or 1,
            },
        )
        power = self._watch.power.config
        self.jobs = JobSync(
            self.scheduler,
            self._fire,
            lead_seconds=self._lead_seconds,
            misfire_grace_seconds=self._station.grace_seconds,
            prepare=self._prepare if power.enabled else None,
            prepare_seconds=power.lead_seconds,
        )
        for b in catch_up(schedule, self._station, request_for):
            self._fired.add(b.key)
        diff = self.resync()
        self.every(30 * 60, self.resync, "horizon")
        self.every(30, state.touch_alive, "alive", self._station.layout.state_dir)
        self.scheduler.start()
        stack.callback(self.scheduler.shutdown, wait=False)
        return diff

    def every(self, seconds: float, func: Callable[..., Any], job_id: str, *args: Any) -> None:
        """A periodic job (watching, heartbeat, …) on the same scheduler."""
        self.scheduler.add_job(func, "interval", seconds=seconds, id=job_id, coalesce=True, args=list(args))

    def resync(self) -> JobDiff:
        """The job set from the current schedule (also extends the rolling horizon)."""
        with self._lock:
            return self.jobs.sync(self._schedule.current, datetime.now(UTC), skip=self._fired.__contains__)

    def set_misfire_grace(self, seconds: float) -> None:
        self.jobs.set_misfire_grace(seconds)

    def upcoming(self, limit: int = 5) -> list[Broadcast]:
        return self.jobs.upcoming(limit)

    def next_text(self) -> str:
        """'lượt tiếp theo 06:00:00 17/04/2026 (Sáng)' for the log lines."""
        nxt = self.jobs.upcoming(1)
        if not nxt:
            return "không còn lượt phát nào theo lịch"
        b = nxt[0]
        return f"lượt tiếp theo {b.at.strftime('%H:%M:%S %d/%m/%Y')} ({b.slot})"

    def _fire(self, b: Broadcast) -> None:
        """APScheduler job: tiny on purpose — it only enqueues."""
        with self._lock:
            if b.key in self._fired:
                return
            self._fired.add(b.key)
        zones.submit(self._station.players, request_for(b))

    def _prepare(self, b: Broadcast) -> None:
        """APScheduler job, ``power.lead_seconds`` ahead: the amplifier on for the broadcast's zones."""
        self._watch.scheduled_soon(b.at.timestamp(), len(zones.targets(self._station.players, b.zones)))


def request_for(b: Broadcast) -> Request:
    """The playout request of a planned broadcast."""
    return Request(
        key=b.key,
        title=b.slot,
        items=b.items,
        priority=b.priority,
        source=Source.SCHEDULE,
        slot=b.slot,
        planned_at=b.at,
        repeat=b.repeat,
        gap_seconds=b.gap_seconds,
        chime=b.chime,
        zones=b.zones,
    )

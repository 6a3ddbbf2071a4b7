"""From the plan to APScheduler jobs: build the wanted job set, diff it, apply it.

The YAML is the single source of truth: jobs live in APScheduler's memory store and are
rebuilt from ``plan_broadcasts`` on every (re)load. Only a rolling horizon is scheduled (a
year-long campaign would otherwise mean tens of thousands of jobs); a job every 30 minutes extends it.
Each job fires ``lead_seconds`` before the broadcast so the worker can prepare the programme
and open the output; the sink then starts the sound exactly at the planned instant.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from broadcaster.schedule.model import Broadcast, Schedule
from broadcaster.schedule.plan import plan_broadcasts

log = logging.getLogger("broadcaster.jobs")

JOB_PREFIX = "bc:"
PREPARE_PREFIX = "prep:"  # the amplifier switched on ahead of a broadcast


@dataclass
class JobDiff:
    added: int = 0
    removed: int = 0
    replaced: int = 0
    kept: int = 0

    def __str__(self) -> str:
        return f"thêm {self.added}, bỏ {self.removed}, thay {self.replaced}, giữ {self.kept}"


def fingerprint(b: Broadcast) -> Broadcast:
    """Everything that changes what airs: the whole broadcast, a frozen value (its zones included).

    No field list to keep in step with :class:`Broadcast`: a field added there is compared here.
    """
    return b


def wanted_broadcasts(
    schedule: Schedule, now: datetime, horizon: timedelta, skip: Callable[[str], bool]
) -> dict[str, Broadcast]:
    """Broadcasts strictly in the future and inside the horizon, keyed by ``Broadcast.key``."""
    tz = schedule.campaign.timezone
    local_now = now.astimezone(tz)
    end = local_now + horizon
    out: dict[str, Broadcast] = {}
    for b in plan_broadcasts(schedule, local_now.date(), end.date()):
        if local_now < b.at <= end and not skip(b.key):
            out[b.key] = b
    return out


class JobSync:
    """Keeps the scheduler's job set equal to the plan's future broadcasts."""

    def __init__(
        self,
        scheduler,
        fire: Callable[[Broadcast], None],
        *,
        lead_seconds: float,
        misfire_grace_seconds: float,
        horizon: timedelta = timedelta(hours=36),
        prepare: Callable[[Broadcast], None] | None = None,
        prepare_seconds: float = 0.0,
    ) -> None:
        self._scheduler = scheduler
        self._fire = fire
        #: called ``prepare_seconds`` before each broadcast (the amplifier's power), if given
        self._prepare = prepare
        self.prepare_seconds = prepare_seconds
        self.lead_seconds = lead_seconds
        self.misfire_grace_seconds = misfire_grace_seconds
        self.horizon = horizon
        self._prints: dict[str, Broadcast] = {}

    def sync(self, schedule: Schedule, now: datetime, skip: Callable[[str], bool] = lambda k: False) -> JobDiff:
        return self.apply(wanted_broadcasts(schedule, now, self.horizon, skip))

    def apply(self, wanted: dict[str, Broadcast]) -> JobDiff:
        """Make the job set equal to ``wanted`` (key → broadcast): add, replace changed ones, drop the rest."""
        diff = JobDiff()
        current = {job.id[len(JOB_PREFIX) :] for job in self._scheduler.get_jobs() if job.id.startswith(JOB_PREFIX)}
        for key in current - wanted.keys():
            self._remove(key)
            diff.removed += 1
        for key, b in wanted.items():
            if key in current:
                if self._prints.get(key) == fingerprint(b):
                    diff.kept += 1
                    continue
                self._remove(key)
                diff.replaced += 1
            else:
                diff.added += 1
            self._add(b)
        return diff

    def set_misfire_grace(self, seconds: float) -> None:
        """A new grace period, for the jobs already scheduled too."""
        self.misfire_grace_seconds = seconds
        for job in self._scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX):
                job.modify(misfire_grace_time=int(seconds) or 1)

    def _add(self, b: Broadcast) -> None:
        fire_at = b.at - timedelta(seconds=self.lead_seconds)
        self._scheduler.add_job(
            self._fire,
            trigger="date",
            run_date=fire_at,
            args=[b],
            id=JOB_PREFIX + b.key,
            name=b.slot,
            misfire_grace_time=int(self.misfire_grace_seconds) or 1,
            coalesce=True,
            replace_existing=True,
        )
        self._prints[b.key] = fingerprint(b)
        if self._prepare is not None:
            prepare_at = b.at - timedelta(seconds=max(self.prepare_seconds, self.lead_seconds))
            self._scheduler.add_job(
                self._prepare,
                trigger="date",
                run_date=prepare_at,
                args=[b],
                id=PREPARE_PREFIX + b.key,
                name=f"chuẩn bị {b.slot}",
                misfire_grace_time=int(self.misfire_grace_seconds) or 1,
                coalesce=True,
                replace_existing=True,
            )

    def _remove(self, key: str) -> None:
        for prefix in (JOB_PREFIX, PREPARE_PREFIX):
            try:
                self._scheduler.remove_job(prefix + key)
            except Exception:  # noqa: BLE001 - already fired and gone
                pass
        self._prints.pop(key, None)

    def upcoming(self, limit: int = 5) -> list[Broadcast]:
        """The next broadcasts the scheduler will fire, in time order."""
        jobs = [j for j in self._scheduler.get_jobs() if j.id.startswith(JOB_PREFIX)]
        jobs.sort(key=lambda j: j.args[0].at)
        return [j.args[0] for j in jobs[:limit]]

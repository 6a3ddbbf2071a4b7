"""Plan → APScheduler jobs: the diff on reload, the lead time, the horizon. Real scheduler, real YAML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from broadcaster.daemon.jobs import JOB_PREFIX, JobSync
from broadcaster.schedule.load import load_schedule
from broadcaster.schedule.plan import plan_broadcasts
from tests.support.harness import TZ, Project


def _load(project: Project):
    project.save()
    result = load_schedule(project.schedule_path)
    assert result.ok, [str(e) for e in result.errors]
    return result.schedule


@pytest.fixture
def scheduler():
    s = BackgroundScheduler(timezone=TZ)
    s.start(paused=True)  # jobs are added and inspected, never fired
    yield s
    s.shutdown(wait=False)


def test_jobs_equal_the_plan_fire_early_by_the_lead_and_reload_is_a_diff(tmp_path, scheduler):
    project = Project(tmp_path)
    now = datetime.now(TZ).replace(microsecond=0)
    a = project.slot("a", now + timedelta(minutes=10))
    project.slot("b", now + timedelta(minutes=20))
    project.slot("c", now + timedelta(minutes=30))
    fired = []
    sync = JobSync(scheduler, fired.append, lead_seconds=3, misfire_grace_seconds=60)
    schedule = _load(project)

    diff = sync.sync(schedule, now)
    assert (diff.added, diff.removed, diff.replaced, diff.kept) == (3, 0, 0, 0)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    planned = plan_broadcasts(schedule)
    assert set(jobs) == {JOB_PREFIX + b.key for b in planned}, "the daemon fires exactly what plan shows"
    for b in planned:
        job = jobs[JOB_PREFIX + b.key]
        assert job.next_run_time == b.at - timedelta(seconds=3)
        assert job.misfire_grace_time == 60

    # Edit: 'a' changes its items, 'c' is deleted, 'd' is added, 'b' untouched.
    a["play"] = [{"text": "Nội dung mới"}]
    project.slots = [s for s in project.slots if s["name"] != "c"]
    project.slot("d", now + timedelta(minutes=40))
    diff = sync.sync(_load(project), now)
    assert (diff.added, diff.removed, diff.replaced, diff.kept) == (1, 1, 1, 1)
    assert sorted(b.slot for b in sync.upcoming(10)) == ["a", "b", "d"]
    assert [b.slot for b in sync.upcoming(10)] == ["a", "b", "d"], "upcoming is in time order"


def test_a_new_grace_period_reaches_the_jobs_already_scheduled_and_later_ones(tmp_path, scheduler):
    project = Project(tmp_path)
    now = datetime.now(TZ).replace(microsecond=0)
    project.slot("a", now + timedelta(minutes=10))
    sync = JobSync(scheduler, lambda b: None, lead_seconds=3, misfire_grace_seconds=60)
    sync.sync(_load(project), now)
    sync.set_misfire_grace(300)
    project.slot("b", now + timedelta(minutes=20))
    sync.sync(_load(project), now)
    jobs = [j for j in scheduler.get_jobs() if j.id.startswith(JOB_PREFIX)]
    assert len(jobs) == 2
    assert {j.misfire_grace_time for j in jobs} == {300}


def test_only_future_broadcasts_inside_the_horizon_and_not_skipped(tmp_path, scheduler):
    project = Project(tmp_path)
    now = datetime.now(TZ).replace(microsecond=0)
    project.slot("qua", now - timedelta(minutes=1))
    project.slot("sap", now + timedelta(minutes=5))
    project.slot("da-phat", now + timedelta(minutes=6))
    sync = JobSync(scheduler, lambda b: None, lead_seconds=3, misfire_grace_seconds=60, horizon=timedelta(hours=1))
    schedule = _load(project)
    sync.sync(schedule, now.astimezone(UTC), skip=lambda key: key.startswith("da-phat@"))
    assert [b.slot for b in sync.upcoming(10)] == ["sap"]
    # A horizon too short to reach 'sap' schedules nothing yet.
    short = JobSync(
        BackgroundScheduler(timezone=TZ),
        lambda b: None,
        lead_seconds=3,
        misfire_grace_seconds=60,
        horizon=timedelta(minutes=2),
    )
    assert short.sync(schedule, now).added == 0


def test_a_hot_edit_of_a_slots_zones_replaces_its_job(tmp_path, scheduler):
    """Review defect: the fingerprint listed fields by hand and left out ``zones`` ("giữ 1", ignored)."""
    from dataclasses import replace

    project = Project(tmp_path)
    now = datetime.now(TZ).replace(microsecond=0)
    project.slot("a", now + timedelta(minutes=10))
    sync = JobSync(scheduler, lambda b: None, lead_seconds=3, misfire_grace_seconds=60)
    (b,) = plan_broadcasts(_load(project))
    one = replace(b, zones=("thon-a",))
    assert sync.apply({one.key: one}).added == 1
    two = replace(b, zones=("thon-a", "thon-b"))
    diff = sync.apply({two.key: two})
    assert (diff.replaced, diff.kept) == (1, 0)
    assert sync.upcoming(1)[0].zones == ("thon-a", "thon-b"), "the job now airs to both zones"
    assert sync.apply({two.key: two}).kept == 1, "an unchanged broadcast keeps its job"

"""The playout worker's rules, in the fast loop: real programmes and a real SQLite as-run log,
a fake clock and a manual sink that holds a broadcast on air until the test lets it go (or the
player cuts it). The same rules on a real-time practice output: ``test_player_wav.py`` (slow)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from broadcaster.asrun import AsRunLog
from broadcaster.events import BroadcastFinished, BroadcastHeld, BroadcastMissed, BroadcastStarted
from broadcaster.playout.sinks import SinkError
from broadcaster.records import Outcome, Source, StopReason
from broadcaster.schedule.model import Priority
from tests.support.clock import FakeClock
from tests.support.playout import PlayerRig
from tests.support.sinks import ManualSink

TAIL_S = 0.5  # every programme ends with at least this much silence (programme.build_programme)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    """One folder of tone files for the module: each length is decoded and levelled once."""
    return tmp_path_factory.mktemp("tones")


@pytest.fixture
def make_rig(tmp_path, clock, tones):
    rigs: list[PlayerRig] = []

    def make(**kw) -> PlayerRig:
        rigs.append(PlayerRig(tmp_path / f"rig-{len(rigs)}", clock=clock, tones=tones, **kw))
        return rigs[-1]

    yield make
    for r in rigs:
        r.close()


@pytest.fixture
def rig(make_rig):
    return make_rig()


def test_queue_order_is_priority_then_time_then_arrival(rig):
    rig.sink.hold("dang-phat")
    rig.submit("dang-phat", 0.6)
    rig.sink.wait_on_air("dang-phat")
    rig.submit("thuong-sau", 0.1, planned_at=rig.at(0))
    rig.submit("thuong-truoc", 0.1, planned_at=rig.at(-1))
    rig.submit("uu-tien", 0.1, priority=Priority.PRIORITY)
    rig.submit("thuong-ngay", 0.1)  # arrived last: after both planned ones, which are due already
    assert rig.started() == ["dang-phat"], "a priority broadcast waits for the one on air"
    rig.sink.release("dang-phat")
    rig.wait_ended(5)
    assert rig.started() == ["dang-phat", "uu-tien", "thuong-truoc", "thuong-sau", "thuong-ngay"]
    assert [r.status for r in rig.rows()] == [Outcome.PLAYED] * 5


def test_emergency_cuts_the_current_broadcast_which_then_replays_from_the_start(rig, clock):
    rig.sink.hold("ban-tin")
    rig.submit("ban-tin", 2.0)
    rig.sink.wait_on_air("ban-tin")
    clock.advance(0.5)
    rig.submit("khan-cap", 0.3, priority=Priority.EMERGENCY)
    rig.wait_ended(3)
    assert rig.started() == ["ban-tin", "khan-cap", "ban-tin"]
    rows = rig.rows()
    assert [(r.title, r.status) for r in rows] == [
        ("ban-tin", Outcome.INTERRUPTED),
        ("khan-cap", Outcome.PLAYED),
        ("ban-tin", Outcome.PLAYED),
    ]
    assert rows[0].duration_s == pytest.approx(0.5), "cut where the clock was"
    assert rows[2].duration_s == pytest.approx(2.0 + TAIL_S), "replayed whole"
    assert "khẩn cấp" in rows[0].error
    assert rig.sink.labels() == ["ban-tin", "khan-cap", "ban-tin"]
    assert rows[1].started_at == rows[0].started_at + timedelta(seconds=0.5), "the emergency airs at the cut"


def test_two_emergencies_queue_among_themselves(rig):
    rig.sink.hold("khan-cap-1")
    rig.submit("khan-cap-1", 0.8, priority=Priority.EMERGENCY)
    rig.sink.wait_on_air("khan-cap-1")
    rig.submit("khan-cap-2", 0.2, priority=Priority.EMERGENCY)
    assert rig.player.now_playing()["title"] == "khan-cap-1", "an emergency never cuts an emergency"
    rig.sink.release("khan-cap-1")
    rig.wait_ended(2)
    assert [(r.title, r.status) for r in rig.rows()] == [("khan-cap-1", "played"), ("khan-cap-2", "played")]


def test_operator_stop_interrupts_without_replay_and_cancel_skips(rig, clock):
    rig.sink.hold("dai")
    rig.submit("dai", 3.0)
    rig.sink.wait_on_air("dai")
    queued = rig.submit("cho", 0.2)
    cancelled = rig.player.cancel(queued)
    assert cancelled is not None and cancelled.title == "cho"
    assert rig.player.cancel(queued) is None, "already gone"
    clock.advance(1.0)
    assert rig.player.stop_current("người vận hành")["title"] == "dai"
    assert rig.player.stop_current("người vận hành") is None, "one cut per broadcast"
    rig.wait_ended(1)
    rig.submit("sau-cung", 0.1)  # a replay of "dai" would air before it
    rig.wait_ended(2)
    rows = {r.title: r for r in rig.rows()}
    assert rows["dai"].status == Outcome.INTERRUPTED and rows["dai"].by == "người vận hành"
    assert rows["dai"].duration_s == pytest.approx(1.0) and rows["dai"].error == StopReason.OPERATOR.vi
    assert rows["cho"].status == Outcome.SKIPPED and rows["cho"].note == "người vận hành hủy"
    assert rig.started() == ["dai", "sau-cung"], "an operator stop is not replayed"


def test_a_broadcast_later_than_grace_is_missed_not_played(make_rig, clock):
    rig = make_rig(grace=60)
    rig.submit("tre", 0.2, planned_at=rig.at(-61))
    rig.submit("vua-kip", 0.2, planned_at=rig.at(-60))  # exactly at the grace: starts late, not never
    missed, played = rig.wait_ended(2)
    assert isinstance(missed, BroadcastMissed) and missed.record.outcome is Outcome.MISSED
    assert isinstance(played, BroadcastFinished) and played.record.outcome is Outcome.PLAYED
    assert played.record.start_error_ms == pytest.approx(60_000)
    rows = {r.title: r for r in rig.rows()}
    assert rows["tre"].status == Outcome.MISSED and "trễ 61 giây" in rows["tre"].error
    assert rows["tre"].started_at is None
    assert rig.started() == ["vua-kip"] and rig.sink.labels() == ["vua-kip"]


def test_a_failing_output_logs_failed_and_the_next_broadcast_plays(rig):
    rig.sink.fail("mot", SinkError("Không tìm thấy thiết bị âm thanh 'usb'."))
    rig.submit("mot", 0.2)
    rig.submit("hai", 0.2)
    rig.wait_ended(2)
    rows = rig.rows()
    assert [(r.title, r.status) for r in rows] == [("mot", "failed"), ("hai", "played")]
    assert "thiết bị âm thanh" in rows[0].error and rows[0].duration_s == 0.0
    assert json.dumps(rows[1].engines)  # engines recorded (audio items: none spoken)


def test_an_emergency_during_pre_roll_does_not_make_the_broadcast_air_early(rig, clock):
    planned = rig.at(1.5)
    rig.submit("theo-lich", 0.3, planned_at=planned)
    clock.wait_for_waiters(1)  # the sink waits for the planned instant
    rig.submit("khan-cap", 0.2, priority=Priority.EMERGENCY)
    rig.wait_ended(2)
    clock.wait_for_waiters(1)  # the replay waits for the same instant again
    assert len(rig.sink.plays) == 3 and rig.sink.plays[2].start_at == planned.timestamp()
    clock.advance_to(planned.timestamp())
    rig.wait_ended(3)
    rows = rig.rows()
    assert [(r.title, r.status) for r in rows] == [
        ("theo-lich", Outcome.INTERRUPTED),
        ("khan-cap", Outcome.PLAYED),
        ("theo-lich", Outcome.PLAYED),
    ]
    assert rows[0].duration_s == 0.0, "cut before a sample aired"
    assert rows[2].started_at == planned and rows[2].start_error_ms == 0.0, "aired at, not before, its time"


def test_a_broadcast_cut_in_pre_roll_by_a_long_emergency_airs_right_after_it(rig, clock):
    planned = rig.at(1.5)
    rig.submit("theo-lich", 0.3, planned_at=planned)
    clock.wait_for_waiters(1)
    rig.submit("khan-cap", 2.0, priority=Priority.EMERGENCY)  # still on air at the planned instant
    rig.wait_ended(3)
    _, emergency, replay = rig.rows()
    assert (replay.title, replay.status) == ("theo-lich", Outcome.PLAYED)
    assert replay.started_at == emergency.ended_at, "its instant passed meanwhile: late rather than never"
    assert replay.start_error_ms == 1000.0  # the emergency: 2 s and its tail


def test_a_cut_row_says_once_what_cut_it_and_who_asked(rig):
    """Issue 14.6: error = the reason + the emergency's title; by = who ordered the emergency."""
    rig.sink.hold("ban-tin")
    rig.submit("ban-tin", 2.0)
    rig.sink.wait_on_air("ban-tin")
    rig.submit("Phát ngay: Khẩn cấp đê", 0.2, priority=Priority.EMERGENCY, by="chủ tịch xã")
    rig.wait_ended(3)
    cut = rig.rows()[0]
    assert cut.status == Outcome.INTERRUPTED
    assert cut.error == f"{StopReason.EMERGENCY.vi}: Phát ngay: Khẩn cấp đê"
    assert cut.by == "chủ tịch xã"
    assert "Phát ngay" not in cut.by and cut.error.count("Phát ngay") == 1


def test_the_log_keeps_the_measured_start_error_and_its_method(rig, clock):
    rig.submit("dung-gio", 0.3, planned_at=rig.at(0.5))
    clock.wait_for_waiters(1)
    rig.submit("ngay", 0.2)  # no planned instant: no start error at all
    clock.advance(0.5)
    rig.wait_ended(2)
    on_time, now = rig.rows()
    assert on_time.start_error_method == "clock" and on_time.start_error_ms == 0.0
    assert now.start_error_ms is None and now.start_error_method is None
    assert rig.ended()[1].record.time_to_air_ms == pytest.approx(1300.0), "asked, then waited 1.3 s for the one on air"


def test_shutdown_cuts_the_broadcast_on_air_and_drops_the_queue(make_rig, clock):
    rig = make_rig()
    rig.sink.hold("dang-phat")
    rig.submit("dang-phat", 2.0)
    rig.sink.wait_on_air("dang-phat")
    rig.submit("cho", 0.2)
    rig.close()
    with pytest.raises(RuntimeError):
        rig.player.submit(rig.request("muon", 0.1))
    with AsRunLog(rig.tmp / "asrun.sqlite3") as log:  # the log outlives the player
        (row,) = log.rows()
    assert (row.title, row.status, row.error) == ("dang-phat", Outcome.INTERRUPTED, StopReason.SHUTDOWN.vi)
    assert rig.started() == ["dang-phat"], "the queue is re-planned at the next start, not aired now"
    assert rig.sink.closed


# -- what the player publishes ----------------------------------------------------------------


def test_each_attempt_is_started_then_finished_with_the_record_the_log_holds(rig, clock):
    rig.sink.hold("ban-tin")
    rig.submit("ban-tin", 1.0, planned_at=rig.at(0))
    rig.sink.wait_on_air("ban-tin")
    clock.advance(0.25)
    rig.submit("khan-cap", 0.5, priority=Priority.EMERGENCY, by="trưởng thôn")
    rig.wait_ended(3)
    kinds = [(type(e).__name__, e.title) for e in rig.events]
    assert kinds == [
        ("BroadcastStarted", "ban-tin"),
        ("BroadcastFinished", "ban-tin"),
        ("BroadcastStarted", "khan-cap"),
        ("BroadcastFinished", "khan-cap"),
        ("BroadcastStarted", "ban-tin"),
        ("BroadcastFinished", "ban-tin"),
    ]
    started, cut = rig.events[0], rig.events[1]
    assert isinstance(started, BroadcastStarted) and isinstance(cut, BroadcastFinished)
    assert started.row_id == cut.row_id == rig.rows()[0].id
    record, row = cut.record, rig.rows()[0]
    assert (record.outcome, record.seconds, record.by, record.error) == (row.status, 0.25, row.by, row.error)
    assert (record.key, record.slot, record.zone, record.priority) == ("k:ban-tin", None, None, "normal")
    assert record.started_at == row.started_at and record.source is Source.SCHEDULE
    emergency = rig.events[3].record
    assert emergency.by_user == "trưởng thôn" and emergency.priority == "emergency"
    assert emergency.items == (rig.rows()[1].items[0],)


def test_a_broadcast_its_monitor_did_not_hear_is_not_played(make_rig, clock):
    sink = ManualSink(clock, proof=lambda play: {"heard": False, "note": "đầu nghe chỉ thu được im lặng"})
    rig = make_rig(sink=sink)
    rig.submit("im-lang", 0.5)
    (finished,) = rig.wait_ended(1)
    assert finished.record.outcome is Outcome.NOT_HEARD and finished.record.heard is False
    (row,) = rig.rows()
    assert (row.status, row.heard, row.error) == (Outcome.NOT_HEARD, False, "đầu nghe chỉ thu được im lặng")
    assert row.proof == {"heard": False, "note": "đầu nghe chỉ thu được im lặng"}


def test_a_broadcast_not_approved_when_its_turn_comes_is_held(make_rig, clock):
    rig = make_rig(admit=lambda req: "chưa được duyệt" if req.title == "chua-duyet" else None)
    rig.submit("chua-duyet", 0.5)
    rig.submit("da-duyet", 0.5)
    held, played = rig.wait_ended(2)
    assert isinstance(held, BroadcastHeld) and held.record.error == "chưa được duyệt"
    assert played.record.outcome is Outcome.PLAYED and rig.sink.labels() == ["da-duyet"]
    assert [(r.title, r.status) for r in rig.rows()] == [("chua-duyet", "unapproved"), ("da-duyet", "played")]


def test_a_failing_subscriber_never_stops_the_air(rig):
    def broken(event):
        raise RuntimeError("bug in a listener")

    rig.bus.subscribe(broken, BroadcastStarted)
    rig.submit("mot", 0.2)
    rig.submit("hai", 0.2)
    rig.wait_ended(2)
    assert [(r.title, r.status) for r in rig.rows()] == [("mot", "played"), ("hai", "played")]


def test_a_new_output_is_taken_up_at_the_next_broadcast(rig, clock):
    rig.sink.hold("dang-phat")
    rig.submit("dang-phat", 0.5)
    first = rig.sink
    first.wait_on_air("dang-phat")
    second = ManualSink(clock, name="moi")
    rig.player.use_sink(second)
    assert rig.player.sink is second and not first.closed, "the one on air ends on the output it started on"
    rig.submit("sau", 0.2)
    first.release("dang-phat")
    rig.wait_ended(2)
    assert first.labels() == ["dang-phat"] and second.labels() == ["sau"] and first.closed

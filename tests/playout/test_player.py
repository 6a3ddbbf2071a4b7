"""The playout worker's rules, with real programmes, a real SQLite as-run log and a real-time null sink."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from broadcaster.asrun import AsRunLog
from broadcaster.playout.player import Player, Request
from broadcaster.playout.sinks import NullSink, PlayResult, SinkError, WavSink
from broadcaster.programme import build_programme
from broadcaster.records import Outcome, Source, StopReason
from broadcaster.schedule.model import Item, ItemKind, Priority
from broadcaster.speech.render import SpeechRenderer

pytestmark = pytest.mark.slow  # the player runs in real time: seconds per test

RATE = 48000


def _tone(path: Path, seconds: float) -> Path:
    t = np.arange(int(seconds * RATE)) / RATE
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), RATE)
    return path


class Rig:
    """A player on a real-time null sink; every broadcast is a tone of a given length."""

    def __init__(self, tmp: Path, sink=None, grace: float = 300.0) -> None:
        self.tmp = tmp
        self.asrun = AsRunLog(tmp / "asrun.sqlite3")
        self.renderer = SpeechRenderer(tmp / "cache", voice=("espeak",))
        self.order: list[str] = []
        self.done = threading.Condition()
        self.finished: list[tuple[str, str]] = []
        self.player = Player(
            sink=sink or NullSink(realtime=True),
            asrun=self.asrun,
            build_programme=self._build,
            grace_seconds=grace,
            on_event=self._event,
        )
        self.player.start()

    def _build(self, req: Request):
        return build_programme(
            req.items, renderer=self.renderer, chime=None, repeat=1, gap_seconds=0, tail_seconds=0.0, item_pause=0.0
        )

    def _event(self, kind: str, data: dict) -> None:
        with self.done:
            if kind == "started":
                self.order.append(data["title"])
            else:
                self.finished.append((data["title"], kind))
            self.done.notify_all()

    def request(self, title: str, seconds: float, priority=Priority.NORMAL, planned_at=None, by=None) -> Request:
        path = _tone(self.tmp / f"{title}.wav", seconds)
        return Request(
            key=f"k:{title}",
            title=title,
            items=(Item(ItemKind.AUDIO, path.name, path),),
            priority=priority,
            planned_at=planned_at,
            by=by,
            source=Source.SCHEDULE if planned_at else Source.ADHOC,
        )

    def wait_finished(self, n: int, timeout: float = 20.0) -> None:
        with self.done:
            assert self.done.wait_for(lambda: len(self.finished) >= n, timeout), self.finished

    def wait_started(self, title: str, timeout: float = 10.0) -> None:
        with self.done:
            assert self.done.wait_for(lambda: title in self.order, timeout), self.order

    def rows(self):
        return self.asrun.rows()

    def close(self) -> None:
        self.player.shutdown()
        self.asrun.close()


@pytest.fixture
def rig(tmp_path):
    r = Rig(tmp_path)
    yield r
    r.close()


def test_queue_order_is_priority_then_time_then_arrival(rig):
    rig.player.submit(rig.request("dang-phat", 0.6))
    rig.wait_started("dang-phat")
    now = datetime.now(UTC)
    rig.player.submit(rig.request("thuong-sau", 0.1, planned_at=now + timedelta(seconds=0)))
    rig.player.submit(rig.request("thuong-truoc", 0.1, planned_at=now - timedelta(seconds=1)))
    rig.player.submit(rig.request("uu-tien", 0.1, priority=Priority.PRIORITY))
    rig.wait_finished(4)
    assert rig.order == ["dang-phat", "uu-tien", "thuong-truoc", "thuong-sau"]
    assert [r.status for r in rig.rows()] == ["played"] * 4


def test_emergency_cuts_the_current_broadcast_which_then_replays_from_the_start(rig):
    rig.player.submit(rig.request("ban-tin", 2.0))
    rig.wait_started("ban-tin")
    time.sleep(0.5)
    rig.player.submit(rig.request("khan-cap", 0.3, priority=Priority.EMERGENCY))
    rig.wait_finished(3)
    assert rig.order == ["ban-tin", "khan-cap", "ban-tin"]
    rows = rig.rows()
    assert [(r.title, r.status) for r in rows] == [
        ("ban-tin", "interrupted"),
        ("khan-cap", "played"),
        ("ban-tin", "played"),
    ]
    assert rows[0].duration_s < 1.5 and rows[2].duration_s >= 2.0, "cut early; the replay airs in full"
    assert "khẩn cấp" in rows[0].error


def test_two_emergencies_queue_among_themselves(rig):
    rig.player.submit(rig.request("khan-cap-1", 0.8, priority=Priority.EMERGENCY))
    rig.wait_started("khan-cap-1")
    rig.player.submit(rig.request("khan-cap-2", 0.2, priority=Priority.EMERGENCY))
    rig.wait_finished(2)
    assert [(r.title, r.status) for r in rig.rows()] == [("khan-cap-1", "played"), ("khan-cap-2", "played")]


def test_operator_stop_interrupts_without_replay_and_cancel_skips(rig):
    rig.player.submit(rig.request("dai", 3.0))
    rig.wait_started("dai")
    queued = rig.player.submit(rig.request("cho", 0.2))
    cancelled = rig.player.cancel(queued)
    assert cancelled is not None and cancelled.title == "cho"
    assert rig.player.stop_current("người vận hành")["title"] == "dai"
    rig.wait_finished(1)
    time.sleep(0.3)
    rows = {r.title: r for r in rig.rows()}
    assert rows["dai"].status == "interrupted" and rows["dai"].by == "người vận hành"
    assert rows["cho"].status == "skipped"
    assert rig.order == ["dai"], "an operator stop is not replayed"


def test_a_broadcast_later_than_grace_is_missed_not_played(tmp_path):
    rig = Rig(tmp_path, grace=60)
    try:
        late = datetime.now(UTC) - timedelta(minutes=5)
        rig.player.submit(rig.request("tre", 0.2, planned_at=late))
        rig.wait_finished(1)
        (row,) = rig.rows()
        assert row.status == "missed" and "trễ" in row.error
        assert rig.order == []
    finally:
        rig.close()


class _FlakySink(NullSink):
    """The first play fails like an unplugged card; later ones work."""

    def __init__(self):
        super().__init__(realtime=False)
        self.calls = 0

    def play(self, blocks, **kw) -> PlayResult:
        self.calls += 1
        if self.calls == 1:
            raise SinkError("Không tìm thấy thiết bị âm thanh 'usb'.")
        return super().play(blocks, **kw)


def test_a_failing_output_logs_failed_and_the_next_broadcast_plays(tmp_path):
    rig = Rig(tmp_path, sink=_FlakySink())
    try:
        rig.player.submit(rig.request("mot", 0.2))
        rig.player.submit(rig.request("hai", 0.2))
        rig.wait_finished(2)
        rows = rig.rows()
        assert [(r.title, r.status) for r in rows] == [("mot", "failed"), ("hai", "played")]
        assert "thiết bị âm thanh" in rows[0].error
        assert json.dumps(rows[1].engines)  # engines recorded (audio items: none spoken)
    finally:
        rig.close()


def test_an_emergency_during_pre_roll_does_not_make_the_broadcast_air_early(rig):
    planned = datetime.now(UTC) + timedelta(seconds=1.5)
    rig.player.submit(rig.request("theo-lich", 0.3, planned_at=planned))
    rig.wait_started("theo-lich")  # taken by the worker, waiting for its instant
    rig.player.submit(rig.request("khan-cap", 0.2, priority=Priority.EMERGENCY))
    rig.wait_finished(3)
    rows = rig.rows()
    assert [(r.title, r.status) for r in rows] == [
        ("theo-lich", "interrupted"),
        ("khan-cap", "played"),
        ("theo-lich", "played"),
    ]
    assert rows[2].started_at >= planned - timedelta(milliseconds=20), "aired before its planned time"


def test_a_cut_row_says_once_what_cut_it_and_who_asked(rig):
    """Issue 14.6: error = the reason + the emergency's title; by = who ordered the emergency."""
    rig.player.submit(rig.request("ban-tin", 2.0))
    rig.wait_started("ban-tin")
    time.sleep(0.3)
    rig.player.submit(rig.request("Phát ngay: Khẩn cấp đê", 0.2, priority=Priority.EMERGENCY, by="chủ tịch xã"))
    rig.wait_finished(3)
    cut = rig.rows()[0]
    assert cut.status == Outcome.INTERRUPTED
    assert cut.error == f"{StopReason.EMERGENCY.vi}: Phát ngay: Khẩn cấp đê"
    assert cut.by == "chủ tịch xã"
    assert "Phát ngay" not in cut.by and cut.error.count("Phát ngay") == 1


def test_the_log_keeps_the_measured_start_error_and_its_method(rig):
    planned = datetime.now(UTC) + timedelta(seconds=0.5)
    rig.player.submit(rig.request("dung-gio", 0.3, planned_at=planned))
    rig.player.submit(rig.request("ngay", 0.2))  # no planned instant: no start error at all
    rig.wait_finished(2)
    on_time, now = rig.rows()
    assert on_time.start_error_method == "clock" and abs(on_time.start_error_ms) < 50
    assert now.start_error_ms is None and now.start_error_method is None


# -- issue 14.1: the WAV output is a practice loudspeaker ------------------------------------


@pytest.fixture
def wav_rig(tmp_path):
    r = Rig(tmp_path, sink=WavSink(tmp_path / "out"))
    yield r
    r.close()


def _wav_seconds(rig) -> list[float]:
    return sorted(sf.info(p).duration for p in (rig.tmp / "out").glob("*.wav"))


def test_wav_output_takes_real_time_and_logs_real_start_and_end(wav_rig):
    t0 = time.monotonic()
    wav_rig.player.submit(wav_rig.request("nam-giay", 5.0))
    wav_rig.wait_started("nam-giay")
    time.sleep(1.0)
    assert wav_rig.player.now_playing()["title"] == "nam-giay", "status must show it on air"
    wav_rig.wait_finished(1)
    took = time.monotonic() - t0
    (row,) = wav_rig.rows()
    assert 4.8 < took < 7.0
    assert row.status == Outcome.PLAYED and (row.ended_at - row.started_at).total_seconds() >= 4.8
    assert row.duration_s >= 5.0 and _wav_seconds(wav_rig) == [pytest.approx(row.duration_s, abs=0.01)]


def test_wav_output_is_cut_by_stop_and_the_file_ends_at_the_cut(wav_rig):
    wav_rig.player.submit(wav_rig.request("nam-giay", 5.0))
    wav_rig.wait_started("nam-giay")
    time.sleep(1.0)
    assert wav_rig.player.stop_current("người vận hành") is not None
    wav_rig.wait_finished(1)
    (row,) = wav_rig.rows()
    assert row.status == Outcome.INTERRUPTED and row.duration_s == pytest.approx(1.0, abs=0.4)
    (seconds,) = _wav_seconds(wav_rig)
    assert seconds == pytest.approx(row.duration_s, abs=0.15), "the file ends where it was cut"


def test_wav_output_is_cut_by_an_emergency(wav_rig):
    wav_rig.player.submit(wav_rig.request("nam-giay", 5.0))
    wav_rig.wait_started("nam-giay")
    time.sleep(1.0)
    wav_rig.player.submit(wav_rig.request("khan-cap", 0.5, priority=Priority.EMERGENCY, by="trưởng thôn"))
    wav_rig.wait_finished(2)
    cut, emergency = wav_rig.rows()[:2]
    assert (cut.status, emergency.status) == (Outcome.INTERRUPTED, Outcome.PLAYED)
    assert cut.duration_s < 2.0 and cut.by == "trưởng thôn"
    assert _wav_seconds(wav_rig)[:2] == [
        pytest.approx(emergency.duration_s, abs=0.02),
        pytest.approx(cut.duration_s, abs=0.15),
    ]


def test_wav_output_without_real_time_is_fast_for_internal_renders(tmp_path):
    sink = WavSink(tmp_path, realtime=False)
    t0 = time.monotonic()
    result = sink.play([np.zeros(RATE * 10, dtype=np.float32)], rate=RATE, start_at=None, stop=threading.Event())
    assert result.completed and result.seconds == pytest.approx(10.0) and time.monotonic() - t0 < 1.0
    assert result.start_error_ms is None

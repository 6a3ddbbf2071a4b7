"""Issue 14.1: the WAV output is a practice loudspeaker — the player on real-time practice outputs.

The player's rules themselves run in the fast loop (``test_player.py``, fake clock, manual sink);
these check that a real output paced by the wall clock takes real time, is cut where the player
cuts it, and measures its start: seconds per test, hence ``slow``.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import soundfile as sf

from broadcaster.playout.sinks import NullSink, WavSink
from broadcaster.records import Outcome
from broadcaster.schedule.model import Priority
from tests.support.playout import RATE, PlayerRig


@pytest.fixture
def wav_rig(tmp_path):
    r = PlayerRig(tmp_path, sink=WavSink(tmp_path / "out"))
    yield r
    r.close()


def _wav_seconds(rig) -> list[float]:
    return sorted(sf.info(p).duration for p in (rig.tmp / "out").glob("*.wav"))


@pytest.mark.slow
def test_wav_output_takes_real_time_and_logs_real_start_and_end(wav_rig):
    t0 = time.monotonic()
    wav_rig.submit("nam-giay", 5.0)
    wav_rig.wait_started("nam-giay")
    time.sleep(1.0)
    assert wav_rig.player.now_playing()["title"] == "nam-giay", "status must show it on air"
    wav_rig.wait_ended(1)
    took = time.monotonic() - t0
    (row,) = wav_rig.rows()
    assert 4.8 < took < 7.0
    assert row.status == Outcome.PLAYED and (row.ended_at - row.started_at).total_seconds() >= 4.8
    assert row.duration_s >= 5.0 and _wav_seconds(wav_rig) == [pytest.approx(row.duration_s, abs=0.01)]


@pytest.mark.slow
def test_wav_output_is_cut_by_stop_and_the_file_ends_at_the_cut(wav_rig):
    wav_rig.submit("nam-giay", 5.0)
    wav_rig.wait_started("nam-giay")
    time.sleep(1.0)
    assert wav_rig.player.stop_current("người vận hành") is not None
    wav_rig.wait_ended(1)
    (row,) = wav_rig.rows()
    assert row.status == Outcome.INTERRUPTED and row.duration_s == pytest.approx(1.0, abs=0.4)
    (seconds,) = _wav_seconds(wav_rig)
    assert seconds == pytest.approx(row.duration_s, abs=0.15), "the file ends where it was cut"


@pytest.mark.slow
def test_wav_output_is_cut_by_an_emergency(wav_rig):
    wav_rig.submit("nam-giay", 5.0)
    wav_rig.wait_started("nam-giay")
    time.sleep(1.0)
    wav_rig.submit("khan-cap", 0.5, priority=Priority.EMERGENCY, by="trưởng thôn")
    wav_rig.wait_ended(2)
    cut, emergency = wav_rig.rows()[:2]
    assert (cut.status, emergency.status) == (Outcome.INTERRUPTED, Outcome.PLAYED)
    assert cut.duration_s < 2.0 and cut.by == "trưởng thôn"
    assert _wav_seconds(wav_rig)[:2] == [
        pytest.approx(emergency.duration_s, abs=0.02),
        pytest.approx(cut.duration_s, abs=0.15),
    ]


@pytest.mark.slow
def test_a_real_time_output_measures_the_start_against_the_wall_clock(tmp_path):
    rig = PlayerRig(tmp_path, sink=NullSink(realtime=True))
    try:
        rig.submit("dung-gio", 0.3, planned_at=rig.at(0.5))
        rig.submit("ngay", 0.2)  # no planned instant: no start error at all
        rig.wait_ended(2)
        on_time, now = rig.rows()
        assert on_time.start_error_method == "clock" and abs(on_time.start_error_ms) < 50
        assert now.start_error_ms is None and now.start_error_method is None
    finally:
        rig.close()


def test_wav_output_without_real_time_is_fast_for_internal_renders(tmp_path):
    sink = WavSink(tmp_path, realtime=False)
    t0 = time.monotonic()
    result = sink.play([np.zeros(RATE * 10, dtype=np.float32)], rate=RATE, start_at=None, stop=threading.Event())
    assert result.completed and result.seconds == pytest.approx(10.0) and time.monotonic() - t0 < 1.0
    assert result.start_error_ms is None

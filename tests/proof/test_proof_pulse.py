"""Proof of play against a real (private) PulseAudio server: the card, its monitor, faults.

The programme plays on the real sound-card sink (``open_sink(None)`` → PortAudio → ALSA pulse
plugin → null sink ``pa_out``) in this process; the ``pa`` fixture points PortAudio at the
private server before the sink touches it (as ``tests/playout/test_sinks.py`` does). The
monitor is the null sink's monitor source ``pa_out.monitor``, recorded by ``MonitorCapture``
with parec. Faults are made with pactl: mute the sink, move our stream to a second null sink,
play hum or noise into ``pa_out`` from ``pacat`` with no programme.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from broadcaster.playout.sinks import open_sink
from broadcaster.proof.capture import CaptureError, MonitorCapture, pulse_sources
from broadcaster.proof.monitored import MonitoredSink
from broadcaster.speech.audio import decode_file
from broadcaster.speech.engines import EspeakEngine
from tests.support import pulse

pytestmark = [pytest.mark.audio, pytest.mark.slow]

RATE = 48000
TEXT = (
    "Loa xã xin thông báo. Ủy ban nhân dân xã tổ chức tiêm phòng cho trẻ em vào sáng thứ bảy tuần này "
    "tại trạm y tế xã. Đề nghị các gia đình đưa trẻ đến đúng giờ và mang theo sổ tiêm chủng. "
    "Xin cảm ơn bà con đã lắng nghe."
)


@pytest.fixture(scope="module")
def pa():
    """A private PulseAudio server; PortAudio and parec in this process are pointed at it."""
    why = pulse.pulseaudio_available()
    if why:
        pytest.skip(f"no PulseAudio to make a test sound card: {why}")
    with pulse.serving_this_process() as server:
        yield server


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> np.ndarray:
    """About 12 s of Vietnamese speech from espeak-ng (the offline voice the station uses)."""
    path = tmp_path_factory.mktemp("speech") / "notice.wav"
    try:
        EspeakEngine(speed=140).synthesize(TEXT, path, timeout=20)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"espeak-ng is not usable here: {exc}")
    x = decode_file(path, RATE)
    return (x * (0.3 / float(np.max(np.abs(x))))).astype(np.float32)


@pytest.fixture(scope="module")
def card(pa):
    sink = open_sink(None)
    yield sink
    sink.close()


def blocks(x: np.ndarray, size: int = 4800) -> list[np.ndarray]:
    return [x[i : i + size] for i in range(0, len(x), size)]


def play(sink: MonitoredSink, programme: np.ndarray, lead: float = 1.2) -> tuple[dict[str, Any], float]:
    start_at = time.time() + lead
    result = sink.play(blocks(programme), rate=RATE, start_at=start_at, stop=threading.Event(), label="thử")
    assert result.completed
    assert result.proof is not None
    return result.proof, start_at


def playback_streams(pa: pulse.PulseServer) -> set[str]:
    """Sink-input indices of PortAudio playback streams (not parec/pacat helpers)."""
    out = pa.pactl("list", "sink-inputs").stdout
    return {
        block.split()[0] for block in out.split("Sink Input #")[1:] if "parec" not in block and "pacat" not in block
    }


class WhenPlaying(threading.Thread):
    """Runs ``action(sink_input)`` as soon as a *new* playback stream appears (bounded wait).

    ``done_at`` is when the action took effect: the tests check it came before the programme
    started, so a slow machine shows up as a setup failure, not as a wrong verdict.
    """

    def __init__(self, pa: pulse.PulseServer, action, timeout: float = 5.0):
        super().__init__(daemon=True)
        self.pa, self.action, self.timeout = pa, action, timeout
        self.before = playback_streams(pa)
        self.done_at: float | None = None
        self.start()

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            new = playback_streams(self.pa) - self.before
            if new:
                done = self.action(new.pop())
                assert done.returncode == 0, done.stderr
                self.done_at = time.time()
                return
            time.sleep(0.02)

    def check(self, start_at: float) -> None:
        self.join(timeout=self.timeout + 1)
        assert self.done_at is not None, "our playback stream never appeared on the server"
        assert self.done_at < start_at, f"the fault came {self.done_at - start_at:.2f} s after the start"


# -- the capture itself -------------------------------------------------------------------


def test_capture_maps_samples_to_wall_time_like_the_test_recorder(pa, card, speech):
    """Two recorders of the same monitor agree on when the programme started (capture bias)."""
    ours = MonitorCapture("monitor:pa_out.monitor", RATE)
    ours.start()
    reference = pa.record()
    card.play(blocks(speech[: RATE * 2]), rate=RATE, start_at=time.time() + 1.2, stop=threading.Event())
    time.sleep(0.3)
    samples, t0 = ours.stop()
    rec = reference.stop()
    ours_onset = t0 + pulse.find_onsets(samples, RATE)[0]
    ref_onset = rec.t0_wall + pulse.find_onsets(rec.samples, RATE)[0]
    assert abs(ours_onset - ref_onset) < 0.005


def test_alsa_capture_path_maps_time_too(pa, card, speech):
    """The PortAudio (ALSA) input path, here the pulse plugin's default source = pa_out.monitor."""
    ours = MonitorCapture("monitor:alsa:default", RATE)
    assert ours.kind == "alsa"
    ours.start()
    reference = pa.record()
    card.play(blocks(speech[: RATE * 2]), rate=RATE, start_at=time.time() + 1.2, stop=threading.Event())
    time.sleep(0.3)
    samples, t0 = ours.stop()
    rec = reference.stop()
    ours_onset = t0 + pulse.find_onsets(samples, RATE)[0]
    ref_onset = rec.t0_wall + pulse.find_onsets(rec.samples, RATE)[0]
    assert abs(ours_onset - ref_onset) < 0.010


def test_missing_capture_device_is_a_vietnamese_error(pa):
    assert "pa_out.monitor" in pulse_sources()
    with pytest.raises(CaptureError) as err:
        MonitorCapture("pulse:khong_co.monitor", RATE).start()
    assert "Không mở được đầu vào theo dõi 'khong_co.monitor'" in str(err.value)
    with pytest.raises(CaptureError) as err:
        MonitorCapture("alsa:khong-co-thiet-bi-nay", RATE).start()
    assert "broadcaster devices" in str(err.value)


def test_a_missing_monitor_never_fails_the_broadcast(pa, card, speech):
    alerts: list[tuple[str, dict[str, Any]]] = []
    sink = MonitoredSink(
        card, MonitorCapture("pulse:khong_co.monitor", RATE), on_alert=lambda k, d: alerts.append((k, d))
    )
    proof, _ = play(sink, speech[: RATE * 2], lead=0.5)
    assert proof["heard"] is None
    assert "Không kiểm tra được" in proof["note"]
    assert [k for k, _ in alerts] == ["monitor_failed"]
    assert sink.describe()["monitor"] == "monitor:khong_co.monitor"
    assert MonitorCapture("monitor:alsa:2", RATE).method == "monitor:alsa:2"


# -- proof of play ------------------------------------------------------------------------


def test_a_normal_broadcast_is_heard_with_a_small_delay(pa, card, speech):
    sink = MonitoredSink(card, MonitorCapture("monitor:pa_out.monitor", RATE))
    proof, _ = play(sink, speech[: RATE * 6])
    assert proof["heard"] is True, proof
    assert proof["method"] == "monitor:pa_out.monitor"
    # The card's own result already places the start; the monitor adds at most a few blocks.
    assert -20 <= proof["delay_ms"] <= 60
    assert -30 < proof["level_db"] < -5
    assert proof["dead_air"] == []
    assert proof["confidence"] >= 0.8


def test_without_start_at_the_proof_uses_the_cards_own_start(pa, card, speech):
    sink = MonitoredSink(card, MonitorCapture("pa_out.monitor", RATE))
    result = sink.play(blocks(speech[: RATE * 4]), rate=RATE, start_at=None, stop=threading.Event())
    assert result.completed and result.proof is not None
    assert result.proof["heard"] is True, result.proof
    assert -20 <= result.proof["delay_ms"] <= 60
    assert sink.describe()["last_proof"] == result.proof


def test_a_broadcast_that_starts_late_raises_no_false_dead_air(pa, card, speech):
    """Queued behind another or caught up after a restart: booked 2.5 s ago, on air now. The live
    check must follow the real start (found by the soak: every late broadcast alerted 'hum')."""
    alerts: list[str] = []
    sink = MonitoredSink(card, MonitorCapture("pa_out.monitor", RATE), on_alert=lambda k, d: alerts.append(k))
    booked = time.time() - 2.5
    result = sink.play(blocks(speech[: RATE * 9]), rate=RATE, start_at=booked, stop=threading.Event())
    assert result.completed and result.proof is not None
    assert result.proof["heard"] is True and result.proof["dead_air"] == [], result.proof
    assert alerts == []


def test_inner_errors_pass_through_and_a_failing_alert_channel_is_contained(pa, card, speech, tmp_path):
    from broadcaster.playout.sinks import SinkError, WavSink

    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    broken = MonitoredSink(WavSink(blocked / "sub"), MonitorCapture("pa_out.monitor", RATE))
    with pytest.raises(SinkError):
        broken.play(blocks(speech[:RATE]), rate=RATE, start_at=None, stop=threading.Event())

    def explode(kind: str, detail: dict[str, Any]) -> None:
        raise RuntimeError("the alert channel is down")

    sink = MonitoredSink(card, MonitorCapture("pulse:khong_co.monitor", RATE), on_alert=explode)
    proof, _ = play(sink, speech[:RATE], lead=0.5)
    assert proof["heard"] is None


def test_muted_output_is_not_heard(pa, card, speech):
    sink = MonitoredSink(card, MonitorCapture("monitor:pa_out.monitor", RATE))
    assert pa.pactl("set-sink-mute", "pa_out", "1").returncode == 0
    try:
        proof, _ = play(sink, speech[: RATE * 4])
    finally:
        pa.pactl("set-sink-mute", "pa_out", "0")
    assert proof["heard"] is False
    assert "không nghe thấy" in proof["note"].casefold()
    assert "im lặng" in proof["note"]


def test_sound_going_to_another_sink_is_not_heard(pa, card, speech):
    other = pa.load_module("module-null-sink", "sink_name=elsewhere", f"rate={RATE}")
    try:
        sink = MonitoredSink(card, MonitorCapture("monitor:pa_out.monitor", RATE))
        mover = WhenPlaying(pa, lambda idx: pa.pactl("move-sink-input", idx, "elsewhere"))
        proof, start_at = play(sink, speech[: RATE * 4], lead=2.0)
        mover.check(start_at)
    finally:
        pa.unload_module(other)
    assert proof["heard"] is False, proof
    assert "không nghe thấy" in proof["note"].casefold()


def test_muted_mid_programme_reports_dead_air_and_alerts_while_playing(pa, card, speech):
    programme = speech[: RATE * 12]
    alerts: list[tuple[float, str, dict[str, Any]]] = []
    sink = MonitoredSink(
        card, MonitorCapture("monitor:pa_out.monitor", RATE), on_alert=lambda k, d: alerts.append((time.time(), k, d))
    )
    mute_at, unmute_at = 3.5, 8.5

    def muter(start_at: float) -> None:
        time.sleep(max(0.0, start_at + mute_at - time.time()))
        pa.pactl("set-sink-mute", "pa_out", "1")
        time.sleep(max(0.0, start_at + unmute_at - time.time()))
        pa.pactl("set-sink-mute", "pa_out", "0")

    start_at = time.time() + 1.2
    t = threading.Thread(target=muter, args=(start_at,), daemon=True)
    t.start()
    try:
        result = sink.play(blocks(programme), rate=RATE, start_at=start_at, stop=threading.Event(), label="tắt giữa")
    finally:
        t.join(timeout=15)
        pa.pactl("set-sink-mute", "pa_out", "0")
    ended = time.time()
    proof = result.proof
    assert proof is not None and proof["heard"] is True, proof
    assert len(proof["dead_air"]) == 1, proof
    dead = proof["dead_air"][0]
    assert dead["kind"] == "silence"
    assert abs(dead["at_s"] - mute_at) <= 0.5
    assert abs(dead["at_s"] + dead["seconds"] - unmute_at) <= 0.5
    live = [(when, d) for when, kind, d in alerts if kind == "dead_air"]
    assert len(live) == 1, alerts
    when, detail = live[0]
    assert when < ended  # while the broadcast still ran
    assert when - (start_at + mute_at) <= sink.dead_air_s + 1.0 + 0.3  # 0.3: the check period and the mute call
    assert abs(detail["at_s"] - mute_at) <= 1.0 and detail["kind"] == "silence"
    assert detail["message"].startswith("im lặng đã ") and "'tắt giữa' (bản tin vẫn đang phát)" in detail["message"]


def pacat(pa: pulse.PulseServer, samples: np.ndarray) -> subprocess.Popen[bytes]:
    """Play ``samples`` into pa_out from another client (a second stream on the same sink)."""
    proc = subprocess.Popen(
        ["pacat", "--playback", "-d", "pa_out", "--raw", "--format=float32le", f"--rate={RATE}", "--channels=1"],
        stdin=subprocess.PIPE,
        env={**os.environ, **pa.env},
    )
    assert proc.stdin is not None
    threading.Thread(target=lambda: (proc.stdin.write(samples.tobytes()), proc.stdin.close()), daemon=True).start()  # type: ignore[union-attr]
    return proc


@pytest.mark.parametrize("kind", ["hum", "noise"])
def test_hum_or_noise_without_the_programme_is_not_heard(pa, card, speech, kind):
    t = np.arange(RATE * 7) / RATE
    if kind == "hum":
        interference = sum(0.1 / k * np.sin(2 * np.pi * 50 * k * t) for k in (1, 2, 3, 5, 7))
    else:
        interference = 0.05 * np.random.default_rng(7).standard_normal(len(t))

    def silence_our_stream(idx: str) -> subprocess.CompletedProcess[str]:
        # The programme never reaches the loudspeakers; only the interference does.
        return pa.pactl("set-sink-input-mute", idx, "1")

    feeder = pacat(pa, np.asarray(interference, dtype=np.float32))
    try:
        sink = MonitoredSink(card, MonitorCapture("monitor:pa_out.monitor", RATE))
        muter = WhenPlaying(pa, silence_our_stream)
        proof, start_at = play(sink, speech[: RATE * 4], lead=2.0)
        muter.check(start_at)
    finally:
        feeder.kill()
        feeder.wait(timeout=3)
    assert proof["heard"] is False, proof
    assert "không nghe thấy" in proof["note"].casefold()
    assert re.search(r"ù/nhiễu \(-?\d+,\d dBFS\)", proof["note"])


def test_devices_command_names_the_monitor_sources(pa):
    out = subprocess.run(
        [str(Path(os.sys.executable).with_name("broadcaster")), "devices"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **pa.env},
    )
    assert "monitor:pa_out.monitor" in out.stdout, out.stdout + out.stderr


def test_a_receivers_stream_is_proven_programme_by_programme(pa, card, speech):
    """``broadcaster receive --monitor``: one endless stream, cut into programmes at the silence
    between them; the second programme is played with the loudspeakers muted."""
    from broadcaster.proof.stream import StreamProver

    prover = StreamProver(MonitorCapture("pa_out.monitor", RATE, keep_s=90.0), RATE)
    gap = np.zeros(int(RATE * 2.5), np.float32)
    stream = np.concatenate([gap, speech[: RATE * 6], gap, speech[: RATE * 6], gap])
    second = (len(gap) * 2 + RATE * 6) / RATE

    def muter(t0: float) -> None:
        time.sleep(max(0.0, t0 + second - 1.0 - time.time()))
        pa.pactl("set-sink-mute", "pa_out", "1")
        time.sleep(max(0.0, t0 + second + 7.5 - time.time()))
        pa.pactl("set-sink-mute", "pa_out", "0")

    deadline = time.monotonic() + 10
    while not prover.describe()["recording"] and time.monotonic() < deadline:
        time.sleep(0.05)  # the receiver records all the time; here it just started
    t0 = time.time()

    def paced() -> Iterator[np.ndarray]:  # as the receiver's pacer hands blocks over: in real time
        for i, block in enumerate(blocks(stream, 960)):
            time.sleep(max(0.0, t0 + i * 0.02 - 0.1 - time.time()))
            yield block

    t = threading.Thread(target=muter, args=(t0,), daemon=True)
    t.start()
    try:
        result = card.play(prover.tee(paced()), rate=RATE, start_at=None, stop=threading.Event())
        deadline = time.monotonic() + 15
        while len(prover.results()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        t.join(timeout=15)
        pa.pactl("set-sink-mute", "pa_out", "0")
        prover.close()
    assert result.completed
    first, muted = prover.results()
    assert first["heard"] is True and first["piece"] == 0 and 5.5 <= first["seconds"] <= 6.1, first
    assert -20 <= first["delay_ms"] <= 300, first
    assert muted["heard"] is False and "Không nghe thấy" in muted["note"], muted
    gap_s = (
        datetime.fromisoformat(muted["started_at"]).timestamp()
        - datetime.fromisoformat(first["started_at"]).timestamp()
    )
    assert abs(gap_s - (6 + 2.5)) < 0.3  # each programme is stamped with when its first sound was played

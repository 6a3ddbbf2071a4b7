"""The receiver: pacing / jitter buffer logic, and ``broadcaster receive`` against a real Icecast.

The receiver runs as a subprocess (like on the box beside the loudspeakers); its output is a
practice WAV output (real time) or a private PulseAudio card; heartbeats go to a real HTTP
endpoint on 127.0.0.1 that records them.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from test_stream_in import Mp3Source, dominant_hz, wait_for

from broadcaster.zones.receiver import Heartbeat, JitterBuffer, Pacer

RATE = 48000
TOKEN = "ma-thu-nghiem-123"
# The receive command, run exactly as ``broadcaster receive`` runs it (parser + run).
RUNNER = (
    "import sys; from broadcaster import cli; from broadcaster.commands import receive; "
    "cli._translate_argparse(); p = cli._Parser(prog='broadcaster receive'); receive.add_arguments(p); "
    "sys.exit(receive.run(p.parse_args(sys.argv[1:])))"
)


# ---- pure logic: jitter buffer and pacing ---------------------------------------------------------


def test_jitter_buffer_is_a_fifo_with_a_cap() -> None:
    buf = JitterBuffer(max_samples=10)
    buf.push(np.arange(4, dtype=np.float32))
    buf.push(np.arange(4, 8, dtype=np.float32))
    assert buf.level() == 8
    assert buf.peek(5).tolist() == [0, 1, 2, 3, 4]
    assert buf.take(3).tolist() == [0, 1, 2]
    buf.push(np.arange(8, 14, dtype=np.float32))  # 11 samples > cap: the oldest one goes
    assert buf.level() == 10 and buf.dropped == 1
    assert buf.take(100).tolist() == list(range(4, 14))
    assert buf.take(5).size == 0


def _fake_link(samples: np.ndarray) -> Any:
    """What the Pacer reads from a connection: a buffer and a 'done' flag (no network here)."""
    link = SimpleNamespace(buffer=JitterBuffer(10 * RATE), done=threading.Event())
    link.buffer.push(samples.astype(np.float32))
    return link


def test_pacer_drops_a_burst_back_to_the_target_with_a_crossfade() -> None:
    ramp = np.linspace(0.0, 1.0, 2 * RATE, dtype=np.float32)  # 2 s backlog: far above a 100 ms target
    link = _fake_link(ramp)
    pacer = Pacer(link, RATE, target=int(0.1 * RATE))
    blocks = pacer.blocks(threading.Event())
    first = next(blocks)
    keep = pacer.target + pacer.lead  # the target, plus the head start the output gets when it opens
    assert link.buffer.level() == keep - pacer.block  # caught up
    assert link.buffer.dropped > RATE  # most of the backlog was dropped
    # crossfaded from the dropped audio's start into the kept audio, then plain kept audio
    assert first[-1] == pytest.approx(ramp[-keep + pacer.block - 1], abs=1e-6)
    assert abs(first[0]) < 1e-3
    t0 = time.monotonic()
    n = pacer.lead // pacer.block + 3  # the head start goes out at once, then the clock paces
    for _ in range(n):
        next(blocks)
    assert 0.03 < time.monotonic() - t0 < 0.5
    assert link.buffer.level() == keep - (n + 1) * pacer.block  # nothing else dropped


def test_pacer_fades_out_on_underrun_then_rebuffers_then_ends_when_the_link_is_gone() -> None:
    link = _fake_link(np.full(int(0.05 * RATE), 0.5))
    pacer = Pacer(link, RATE, target=int(0.04 * RATE))
    stop = threading.Event()
    t0 = time.monotonic()
    gen = pacer.blocks(stop)
    got = [next(gen), next(gen)]  # two 20 ms blocks of sound, the first faded in
    assert got[0][0] == 0.0 and got[0][-1] == pytest.approx(0.5)
    assert pacer.underruns == 0
    tail = next(gen)  # the 10 ms left, faded out, then silence
    assert pacer.underruns == 1
    assert (
        tail[: int(0.01 * RATE)].max() <= 0.5
        and tail[int(0.01 * RATE) - 1] < 0.01
        and not tail[int(0.01 * RATE) :].any()
    )
    assert not next(gen).any()  # silence while waiting for the buffer to refill
    link.buffer.push(np.full(RATE // 2, 0.25, dtype=np.float32))
    resumed = next(b for _, b in zip(range(50), gen, strict=False) if b.any())  # once refilled to the target
    assert resumed[0] == 0.0 and resumed[-1] == pytest.approx(0.25)  # faded in
    link.done.set()
    rest = list(gen)  # what was buffered plays out, then the generator ends
    assert sum(map(len, rest)) >= pacer.target - pacer.block
    assert time.monotonic() - t0 < 2.0


def test_heartbeat_failures_are_logged_once_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    beat = Heartbeat("http://127.0.0.1:9", TOKEN, 1.0, lambda: {"state": "playing"})
    with caplog.at_level("INFO", logger="broadcaster.receiver"):
        assert beat.beat() is False
        assert beat.beat() is False
    warnings = [r for r in caplog.records if "Không gửi được tình trạng" in r.getMessage()]
    assert len(warnings) == 1 and "Loa vẫn phát bình thường" in warnings[0].getMessage()


# ---- the command against real Icecast -------------------------------------------------------------


class StationStub:
    """The station's heartbeat endpoint on 127.0.0.1: records every POST (body and Authorization)."""

    def __init__(self) -> None:
        beats: list[dict[str, Any]] = []
        self.beats = beats

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                ok = self.path == "/api/receivers/heartbeat" and self.headers["Authorization"] == f"Bearer {TOKEN}"
                if ok:
                    beats.append(body)
                answer = json.dumps({"ok": ok}).encode()
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def states(self) -> list[str]:
        return [b["state"] for b in self.beats]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def icecast():
    from tests.support.icecast_server import IcecastServer, icecast_available

    why = icecast_available()
    if why:
        pytest.skip(why)
    with IcecastServer(source_password="nguon-thu") as server:
        yield server


@pytest.fixture
def station():
    stub = StationStub()
    yield stub
    stub.close()


class ReceiverProcess:
    """``broadcaster receive`` in a subprocess; stderr goes to a file the test reads."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None):
        self.log = log
        with open(log, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", RUNNER, *args],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env={**os.environ, "LOA_XA_TOKEN": TOKEN, **(env or {})},
            )

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """SIGTERM as systemd does (or ``sig``: SIGINT is Ctrl+C); the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise AssertionError(f"the receiver did not stop on SIGTERM:\n{self.text()}") from None


def receive_args(url: str, out: Path, station: str | None = None) -> list[str]:
    args = [url, "--output", f"wav:{out}", "--timeout-s", "2", "--retry-s", "0.3", "--name", "thu-thon-dong"]
    return args + (["--station", station, "--heartbeat-s", "0.5"] if station else [])


def assert_tone_or_silence(audio: np.ndarray, what: str) -> None:
    """Every 40 ms window is silence or the 440 Hz tone (soft edges allowed): never noise, never a click.

    A hard cut of the tone puts ~0.5 % of a window's energy above 1 kHz, noise at −40 dB ~0.1 %,
    a 10 ms fade ~0.0005 %: the bound sits between.
    """
    n = int(0.04 * RATE)
    high = np.fft.rfftfreq(n, 1 / RATE) > 1000
    for i in range(0, len(audio) - n, n // 4):
        w = audio[i : i + n].astype(np.float64)
        if np.max(np.abs(w)) < 1e-3:
            continue
        spectrum = np.abs(np.fft.rfft(w * np.hanning(n))) ** 2
        share = spectrum[high].sum() / spectrum.sum()
        assert share < 2e-4, f"{what}: noise or a click at {i / RATE:.2f} s ({share:.2%} of the energy above 1 kHz)"


@pytest.mark.slow
def test_plays_the_mount_and_reports_playing(icecast, station, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with Mp3Source(icecast.port, "thon-dong", icecast.source_password, hz=440.0):
        wait_for(lambda: "/thon-dong" in icecast.sources(), 5, "the source")
        rx = ReceiverProcess(receive_args(icecast.url("thon-dong"), out, station.url), tmp_path / "rx.log")
        try:
            wait_for(lambda: "playing" in station.states(), 8, "a 'playing' heartbeat")
            wait_for(lambda: icecast.listeners("thon-dong") == 1, 3, "the receiver as a listener")
            time.sleep(1.5)  # let it play a little (the WAV is closed when it stops)
        finally:
            code = rx.stop()
    log = rx.text()
    assert code == 0, log
    assert f"Đang nhận tiếng từ {icecast.url('thon-dong')}" in log and "Đã dừng máy thu." in log
    assert "Traceback" not in log
    [wav] = list(out.glob("*.wav"))
    audio, rate = sf.read(wav, dtype="float32")
    assert rate == RATE and len(audio) > RATE
    assert abs(dominant_hz(audio[-RATE:], RATE) - 440) < 5
    assert_tone_or_silence(audio, "playing")
    beat = next(b for b in station.beats if b["state"] == "playing")
    assert beat["receiver"] == "thu-thon-dong" and beat["url"] == icecast.url("thon-dong")
    assert beat["connected_since"] and beat["sent_at"] and beat["bytes_received"] > 0
    assert 0 <= beat["buffer_ms"] < 1000 and beat["reconnects"] == 0 and beat["last_error"] is None


@pytest.mark.slow
def test_icecast_restart_is_silent_meanwhile_and_resumes_by_itself(icecast, station, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with Mp3Source(icecast.port, "thon-dong", icecast.source_password, hz=440.0):
        wait_for(lambda: "/thon-dong" in icecast.sources(), 5, "the source")
        rx = ReceiverProcess(receive_args(icecast.url("thon-dong"), out, station.url), tmp_path / "rx.log")
        try:
            wait_for(lambda: "playing" in station.states(), 8, "a 'playing' heartbeat")
            time.sleep(1.0)
            icecast.kill()
            wait_for(lambda: {"down", "connecting"} & set(station.states()), 5, "a 'down' heartbeat")
            time.sleep(1.0)  # a real outage: several failed attempts
            icecast.start()
            n = len(station.beats)
            wait_for(lambda: "playing" in station.states()[n:], 8, "'playing' again")
            time.sleep(1.5)
        finally:
            code = rx.stop()
    log = rx.text()
    assert code == 0, log
    assert "Mất kết nối tới" in log and "thử lại sau 0,3 giây (lần 1)" in log
    assert "Đã nhận lại tiếng sau" in log
    states = station.states()
    first_down = next(i for i, s in enumerate(states) if s != "playing" and i > states.index("playing"))
    assert "playing" in states[first_down:]
    back = next(b for b in station.beats[first_down:] if b["state"] == "playing")
    assert back["reconnects"] == 1 and back["last_error"]
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == 2, wavs  # one per connection; nothing at all is played while down
    for wav in wavs:
        audio, _ = sf.read(wav, dtype="float32")
        assert_tone_or_silence(audio, wav.name)
        assert abs(dominant_hz(audio[: RATE // 2], RATE) - 440) < 5
    first, _ = sf.read(wavs[0], dtype="float32")
    assert first[-1] == 0.0 and np.max(np.abs(first[-5:])) < 0.01  # the sound faded out (no click: checked above)


@pytest.mark.slow
def test_a_killed_receiver_restarted_listens_again(icecast, tmp_path: Path) -> None:
    with Mp3Source(icecast.port, "thon-nam", icecast.source_password, hz=440.0):
        wait_for(lambda: "/thon-nam" in icecast.sources(), 5, "the source")
        args = receive_args(icecast.url("thon-nam"), tmp_path / "out")
        rx = ReceiverProcess(args, tmp_path / "rx1.log")
        wait_for(lambda: icecast.listeners("thon-nam") == 1, 8, "the first receiver")
        rx.proc.kill()  # power cut: no goodbye
        rx.proc.wait(timeout=5)
        wait_for(lambda: icecast.listeners("thon-nam") == 0, 5, "icecast to drop the dead listener")
        rx2 = ReceiverProcess(args, tmp_path / "rx2.log")
        try:
            wait_for(lambda: "Đang nhận tiếng" in rx2.text(), 8, "the restarted receiver to play")
            assert icecast.listeners("thon-nam") == 1
        finally:
            assert rx2.stop(signal.SIGINT) == 0  # Ctrl+C: a clean exit too
        assert "Đã dừng máy thu." in rx2.text() and "Traceback" not in rx2.text()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["thon-dong"], "không hợp lệ"),
        (["http://127.0.0.1:8000/a", "--buffer-ms", "5"], "--buffer-ms phải từ 40"),
        (["http://127.0.0.1:8000/a", "--station", "tram"], "Địa chỉ trạm"),
        (["http://127.0.0.1:8000/a", "--station", "http://127.0.0.1:1", "--token-file", "/khong/co"], "mã truy cập"),
        (["http://127.0.0.1:8000/a", "--output", "wav:"], "Thiếu thư mục"),
    ],
)
def test_bad_arguments_exit_2_in_vietnamese(args: list[str], says: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, *args], capture_output=True, text=True, timeout=30, env=dict(os.environ)
    )
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.audio
def test_plays_on_a_real_sound_card(icecast, pulse_server) -> None:
    from tests.support.pulse import find_onsets

    with Mp3Source(icecast.port, "thon-dong", icecast.source_password, hz=440.0):
        wait_for(lambda: "/thon-dong" in icecast.sources(), 5, "the source")
        rec = pulse_server.record()
        log = Path(pulse_server.log_path).with_name("rx.log")
        rx = ReceiverProcess([icecast.url("thon-dong"), "--timeout-s", "2"], log, env=pulse_server.env)
        try:
            wait_for(lambda: "Đang nhận tiếng" in rx.text(), 8, "the receiver to play")
            time.sleep(1.5)
        finally:
            code = rx.stop()
            recording = rec.stop()
    assert code == 0, rx.text()
    samples = recording.samples
    onsets = find_onsets(samples, recording.rate)
    assert onsets, "nothing reached the sound card"
    heard = samples[int((onsets[0] + 0.2) * recording.rate) : int((onsets[0] + 1.2) * recording.rate)]
    assert abs(dominant_hz(heard, recording.rate) - 440) < 5


@pytest.mark.slow
@pytest.mark.audio
def test_an_unplugged_card_is_retried_like_a_network_cut(icecast, tmp_path: Path) -> None:
    from tests.support.pulse import PulseServer, pulseaudio_available

    if pulseaudio_available():
        pytest.skip(pulseaudio_available())
    with PulseServer() as card, Mp3Source(icecast.port, "thon-dong", icecast.source_password, hz=440.0):
        wait_for(lambda: "/thon-dong" in icecast.sources(), 5, "the source")
        rx = ReceiverProcess(
            [icecast.url("thon-dong"), "--timeout-s", "2", "--retry-s", "0.5"], tmp_path / "rx.log", env=card.env
        )
        try:
            wait_for(lambda: "Đang nhận tiếng" in rx.text(), 8, "the receiver to play")
            card.kill()  # the card is unplugged (the sound server dies)
            wait_for(lambda: "Mất kết nối tới loa" in rx.text(), 8, "the receiver to notice")
            card.start()
            rec = card.record()
            wait_for(lambda: "Đã nhận lại tiếng" in rx.text(), 10, "the receiver to play again")
            time.sleep(1.0)
            recording = rec.stop()
        finally:
            code = rx.stop()
    assert code == 0, rx.text()
    loud = np.flatnonzero(np.abs(recording.samples) > 0.1)
    assert loud.size, f"nothing reached the card once it was back:\n{rx.text()}"
    heard = recording.samples[loud[0] : loud[0] + RATE // 2]
    assert abs(dominant_hz(heard, recording.rate) - 440) < 5

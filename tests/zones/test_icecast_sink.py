"""IcecastSink against a real icecast2 on loopback: a plain HTTP listener hears the programme on time."""

from __future__ import annotations

import io
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from broadcaster.playout.sink import SinkError
from broadcaster.zones.icecast import IcecastSink
from broadcaster.zones.mp3 import find_frame_sync
from tests.support.icecast_server import IcecastServer, icecast_available

pytestmark = pytest.mark.slow

RATE = 48000
BYTES_PER_S = 64000 / 8  # 64 kbit/s CBR
PASSWORD = "hackme-test"


@pytest.fixture
def ice() -> Iterator[IcecastServer]:
    why = icecast_available()
    if why:
        pytest.skip(f"no icecast2 here: {why}")
    with IcecastServer(mounts=["thon-dong", "thon-doai"]) as server:
        yield server


@pytest.fixture
def sinks() -> Iterator[list[IcecastSink]]:
    opened: list[IcecastSink] = []
    yield opened
    for s in opened:
        s.close()


def open_sink(sinks: list[IcecastSink], url: str, password: str = PASSWORD, **kw: float) -> IcecastSink:
    sink = IcecastSink(url, password, name=url.rsplit("/", 1)[1], **kw)  # type: ignore[arg-type]
    sinks.append(sink)
    return sink


def poll(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def tone(seconds: float, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def blocks(samples: np.ndarray, n: int = 4800) -> list[np.ndarray]:
    return [samples[i : i + n] for i in range(0, samples.size, n)]


class Listener:
    """A plain HTTP listener on a mount: raw bytes with their arrival times, decoded with PyAV."""

    def __init__(self, url: str, seconds: float) -> None:
        self.chunks: list[tuple[float, bytes]] = []
        self._resp = urllib.request.urlopen(url, timeout=5)
        self._until = time.time() + seconds
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while time.time() < self._until:
            data = self._resp.read1(4096)
            if not data:
                break
            self.chunks.append((time.time(), data))
        self._resp.close()

    def join(self) -> None:
        self._thread.join(timeout=15)

    def decode(self, send_ahead_s: float) -> tuple[np.ndarray, float]:
        """Decoded mono samples and the stream time of the first one.

        The stream is CBR and paced, so byte ``b`` carries stream time ``t0 + b / BYTES_PER_S``;
        no byte arrives before it was sent (at stream time minus ``send_ahead_s``), so the
        earliest arrival bounds ``t0``.
        """
        import av

        data = b"".join(c for _, c in self.chunks)
        start = find_frame_sync(data)
        assert start is not None, "no MPEG frame header in what the listener received"
        walls = np.array([w for w, _ in self.chunks])
        ends = np.cumsum([len(c) for _, c in self.chunks]) - start
        t0 = float(np.min(walls - ends / BYTES_PER_S)) + send_ahead_s
        with av.open(io.BytesIO(data[start:]), mode="r", format="mp3") as container:
            stream = container.streams.audio[0]
            assert stream.rate == RATE and stream.channels == 1
            pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])
        return pcm.astype(np.float32), t0


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def test_listener_hears_the_programme_at_its_stream_time(ice: IcecastServer, sinks: list[IcecastSink]) -> None:
    sink = open_sink(sinks, ice.url("thon-dong"), send_ahead_s=0.3)
    assert poll(lambda: sink.describe()["connected"]), sink.describe()
    listener = Listener(ice.url("thon-dong"), seconds=3.6)
    assert poll(lambda: ice.listeners("thon-dong") == 1)
    start_at = time.time() + 1.2
    result = sink.play(blocks(tone(1.0)), rate=RATE, start_at=start_at, stop=threading.Event(), label="thử")
    assert time.time() >= start_at + 1.0 - 0.05  # returned once the last sample's stream time passed
    assert result.completed and result.seconds == pytest.approx(1.0, abs=0.001)
    assert result.start_error_method == "icecast-stream"
    assert result.start_error_ms is not None and abs(result.start_error_ms) < 1
    listener.join()
    pcm, t0 = listener.decode(send_ahead_s=0.3)
    onset = t0 + int(np.argmax(np.abs(pcm) > 0.1)) / RATE
    assert abs(onset - start_at) < 0.15, f"tone heard {onset - start_at:+.3f} s from its start time"
    at = lambda t: int((t - t0) * RATE)  # noqa: E731 - stream time → decoded sample index
    assert rms(pcm[: at(start_at - 0.2)]) < 0.005, "not silent before the programme"
    assert rms(pcm[at(start_at + 0.2) : at(start_at + 0.8)]) > 0.3, "the tone is not there"
    spectrum = np.abs(np.fft.rfft(pcm[at(start_at + 0.2) : at(start_at + 0.8)]))
    assert abs(np.argmax(spectrum) * RATE / (2 * (spectrum.size - 1)) - 1000) < 20
    assert rms(pcm[at(start_at + 1.2) :]) < 0.005, "not silent after the programme"


def test_stop_cuts_to_silence_at_once(ice: IcecastServer, sinks: list[IcecastSink]) -> None:
    sink = open_sink(sinks, ice.url("thon-dong"))
    assert poll(lambda: sink.describe()["connected"])
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    t = time.time()
    result = sink.play(blocks(tone(5.0)), rate=RATE, start_at=None, stop=stop)
    assert time.time() - t < 1.0
    assert not result.completed and 0.3 < result.seconds < 0.9


def test_wrong_password_is_a_distinct_message(ice: IcecastServer, sinks: list[IcecastSink]) -> None:
    sink = open_sink(sinks, ice.url("thon-dong"), password="wrong")
    assert poll(lambda: sink.describe()["last_error"] is not None)
    assert "401" in sink.describe()["last_error"] and "LOA_XA_ICECAST_PASSWORD" in sink.describe()["last_error"]
    with pytest.raises(SinkError, match="mật khẩu nguồn"):
        sink.play(blocks(tone(0.2)), rate=RATE, start_at=None, stop=threading.Event())
    assert PASSWORD not in str(sink.describe())


def test_mount_in_use_is_a_distinct_message(ice: IcecastServer, sinks: list[IcecastSink]) -> None:
    first = open_sink(sinks, ice.url("thon-dong"))
    assert poll(lambda: first.describe()["connected"])
    second = open_sink(sinks, ice.url("thon-dong"))
    assert poll(lambda: second.describe()["last_error"] is not None)
    assert "403" in second.describe()["last_error"] and "nguồn khác" in second.describe()["last_error"]


def test_icecast_down_at_open_then_killed_mid_programme_then_back(
    ice: IcecastServer, sinks: list[IcecastSink], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="broadcaster.zones")
    ice.kill()
    sink = open_sink(sinks, ice.url("thon-dong"), retry_max_s=0.5)
    assert poll(lambda: sink.describe()["last_error"] is not None)
    assert not sink.describe()["connected"]
    ice.start()
    assert poll(lambda: sink.describe()["connected"], timeout=3)
    threading.Timer(0.6, ice.kill).start()
    t = time.time()
    with pytest.raises(SinkError, match="Không gửi được tới máy chủ Icecast") as err:
        sink.play(blocks(tone(3.0)), rate=RATE, start_at=None, stop=threading.Event())
    assert time.time() - t < 1.5 and "đã phát 0," in str(err.value)
    with pytest.raises(SinkError):  # still down: play() gives up after ~1 s
        sink.play(blocks(tone(0.2)), rate=RATE, start_at=None, stop=threading.Event())
    ice.start()
    assert poll(lambda: sink.describe()["connected"], timeout=3)
    result = sink.play(blocks(tone(0.3)), rate=RATE, start_at=None, stop=threading.Event())
    assert result.completed and sink.describe()["reconnects"] == 1  # the first connection is not a reconnect
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    # one line per outage, not one per retry: down at open, lost mid-programme, back
    assert sum("không kết nối được" in m for m in lines) == 1, lines
    assert sum("mất kết nối" in m for m in lines) == 1, lines
    assert sum("đã kết nối lại" in m for m in lines) == 1, lines


def test_two_sinks_on_two_mounts_do_not_mix(ice: IcecastServer, sinks: list[IcecastSink]) -> None:
    dong = open_sink(sinks, ice.url("thon-dong"))
    doai = open_sink(sinks, ice.url("thon-doai"))
    assert poll(lambda: dong.describe()["connected"] and doai.describe()["connected"])
    ears = {m: Listener(ice.url(m), seconds=2.5) for m in ("thon-dong", "thon-doai")}
    start_at = time.time() + 0.8
    results: dict[str, bool] = {}
    play_doai = threading.Thread(
        target=lambda: results.setdefault(
            "doai",
            doai.play(blocks(tone(1.0, 3000.0)), rate=RATE, start_at=start_at, stop=threading.Event()).completed,
        )
    )
    play_doai.start()
    results["dong"] = dong.play(
        blocks(tone(1.0, 500.0)), rate=RATE, start_at=start_at, stop=threading.Event()
    ).completed
    play_doai.join(timeout=5)
    assert results == {"dong": True, "doai": True}
    for mount, freq in (("thon-dong", 500.0), ("thon-doai", 3000.0)):
        ears[mount].join()
        pcm, t0 = ears[mount].decode(send_ahead_s=0.0)
        part = pcm[int((start_at + 0.2 - t0) * RATE) : int((start_at + 0.8 - t0) * RATE)]
        spectrum = np.abs(np.fft.rfft(part))
        freqs = np.fft.rfftfreq(part.size, 1 / RATE)
        assert abs(freqs[np.argmax(spectrum)] - freq) < 20, mount
        other = 3500.0 - freq
        assert spectrum[np.abs(freqs - other) < 20].max() < 0.01 * spectrum.max(), f"{mount} carries the other tone"


def test_describe_and_close(ice: IcecastServer) -> None:
    sink = IcecastSink(ice.url("thon-dong"), PASSWORD, name="thon-dong")
    try:
        assert poll(lambda: sink.describe()["connected"])
        d = sink.describe()
        assert d["url"] == ice.url("thon-dong") and d["last_error"] is None and d["reconnects"] == 0
        assert poll(lambda: ice.sources() == ["/thon-dong"])
    finally:
        t = time.monotonic()
        sink.close()
    assert time.monotonic() - t < 1.0 and not sink.describe()["connected"]
    assert poll(lambda: ice.sources() == [])


def test_programme_at_another_rate_is_resampled(ice: IcecastServer, sinks: list[IcecastSink]) -> None:
    sink = open_sink(sinks, ice.url("thon-dong"))
    assert poll(lambda: sink.describe()["connected"])
    samples = tone(0.5)[::3]  # 0.5 s at 16 kHz
    result = sink.play(blocks(samples, 1000), rate=16000, start_at=time.time() + 0.3, stop=threading.Event())
    assert result.completed and result.seconds == pytest.approx(0.5, abs=0.002)

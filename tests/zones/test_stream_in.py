"""The HTTP MP3 stream decoder: frame-sync cutting (pure), decoding, and real HTTP / Icecast failures."""

from __future__ import annotations

import base64
import http.server
import socket
import threading
import time

import numpy as np
import pytest

from broadcaster.zones.mp3 import find_frame_sync, frame_header
from broadcaster.zones.stream_in import (
    Mp3Decoder,
    StreamError,
    StreamReader,
    check_url,
)

SRC_RATE = 44100


def encode_mp3(samples: np.ndarray, rate: int = SRC_RATE, bitrate: int = 64) -> bytes:
    """Float mono samples → MP3 bytes (lameenc)."""
    import lameenc

    enc = lameenc.Encoder()
    enc.set_bit_rate(bitrate)
    enc.set_in_sample_rate(rate)
    enc.set_channels(1)
    enc.set_quality(5)
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes()
    return bytes(enc.encode(pcm) + enc.flush())


def tone(seconds: float, hz: float = 440.0, level: float = 0.5, rate: int = SRC_RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def frame_starts(data: bytes) -> list[int]:
    """Every frame boundary, by walking headers from the first byte (lameenc output starts on one)."""
    starts, i = [], 0
    while (head := frame_header(data, i)) is not None:
        starts.append(i)
        i += head[0]
    return starts


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


class Mp3Source:
    """A tiny Icecast source: ``PUT /mount`` (not chunked), raw MP3 paced in real time.

    Reconnects by itself when the server goes away (like the station's sink); ``hz = None``
    sends digital silence. ``sent`` counts MP3 bytes accepted by the server.
    """

    CHUNK_S = 0.05

    def __init__(self, port: int, mount: str, password: str, hz: float | None = 440.0, level: float = 0.5):
        import lameenc

        self.port, self.mount, self.password = port, mount, password
        self.hz, self.level = hz, level
        self.sent = 0
        self.connections = 0
        self._stop = threading.Event()
        self._enc = lameenc.Encoder()
        self._enc.set_bit_rate(64)
        self._enc.set_in_sample_rate(SRC_RATE)
        self._enc.set_channels(1)
        self._enc.set_quality(7)
        self._phase = 0
        self._thread = threading.Thread(target=self._run, name="test-mp3-source", daemon=True)

    def __enter__(self) -> Mp3Source:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _pcm(self) -> bytes:
        n = int(self.CHUNK_S * SRC_RATE)
        t = (self._phase + np.arange(n)) / SRC_RATE
        self._phase += n
        x = np.zeros(n) if self.hz is None else self.level * np.sin(2 * np.pi * self.hz * t)
        return (x * 32767).astype(np.int16).tobytes()

    def _session(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            auth = base64.b64encode(f"source:{self.password}".encode()).decode()
            sock.sendall(
                (
                    f"PUT /{self.mount} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Basic {auth}\r\n"
                    "Content-Type: audio/mpeg\r\nIce-Public: 0\r\nUser-Agent: test-source\r\n\r\n"
                ).encode()
            )
            answer = sock.recv(1024)
            if b" 200" not in answer.split(b"\r\n", 1)[0]:
                raise OSError(f"source refused: {answer[:80]!r}")
            self.connections += 1
            t0 = time.monotonic()
            k = 0
            while not self._stop.is_set():
                data = self._enc.encode(self._pcm())
                sock.sendall(data)
                self.sent += len(data)
                k += 1
                self._stop.wait(max(0.0, t0 + k * self.CHUNK_S - time.monotonic()))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._session()
            except OSError:
                self._stop.wait(0.2)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


# ---- pure: frame sync ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mp3_tone() -> bytes:
    return encode_mp3(tone(1.0))


def test_frame_sync_cuts_to_the_next_real_frame(mp3_tone: bytes) -> None:
    starts = frame_starts(mp3_tone)
    assert len(starts) > 30
    for cut in (1, 2, 3, 57, starts[5] - 1, starts[5], starts[5] + 1, starts[20] + 100):
        at = find_frame_sync(mp3_tone[cut:])
        assert at is not None
        expected = next(s for s in starts if s >= cut)
        assert cut + at == expected, f"cut at {cut}"


def test_frame_sync_ignores_false_sync_patterns(mp3_tone: bytes) -> None:
    # 0xFFFB 90 looks like a 128 kbit/s MPEG-1 layer III header but no frame follows it
    junk = b"\x00\xff\xfb\x90\x00" + bytes(range(256)) + b"\xff\xe0\xff\xff"
    assert find_frame_sync(junk) is None
    starts = frame_starts(mp3_tone)
    assert find_frame_sync(junk + mp3_tone[starts[3] :]) == len(junk)


def test_frame_sync_waits_for_the_confirming_header(mp3_tone: bytes) -> None:
    starts = frame_starts(mp3_tone)
    # one whole frame and a half: the next header is not there yet, so no decision
    assert find_frame_sync(mp3_tone[starts[2] : starts[3] + 2]) is None
    assert find_frame_sync(mp3_tone[starts[2] : starts[3] + 4]) == 0


@pytest.mark.parametrize("header", [b"\xff\xfb\x00\x00", b"\xff\xfb\xf0\x00", b"\xff\xfb\x9c\x00", b"\xff\xe9\x90\x00"])
def test_reserved_header_values_are_rejected(header: bytes) -> None:
    assert frame_header(header, 0) is None  # free format, bad bitrate, reserved rate, reserved version


def test_decoder_joins_mid_stream_without_errors(mp3_tone: bytes) -> None:
    decoder = Mp3Decoder(48000)
    out = [decoder.feed(mp3_tone[i : i + 333]) for i in range(1001, len(mp3_tone), 333)]
    audio = np.concatenate(out)
    assert decoder.errors == 0
    assert 0 < decoder.bytes_skipped < 1500
    assert 0.7 < len(audio) / 48000 < 1.0  # resampled to 48 kHz, minus the cut and the dropped first frame
    assert abs(dominant_hz(audio[2000:], 48000) - 440) < 5
    assert 0.4 < np.max(np.abs(audio)) < 0.7


def test_decoder_rejects_nothing_but_noise() -> None:
    decoder = Mp3Decoder(48000)
    rng = np.random.default_rng(1)
    for _ in range(20):
        assert len(decoder.feed(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())) == 0


@pytest.mark.parametrize("url", ["thon-dong", "ftp://x/y", "http://", "http://host:99999/a", ""])
def test_bad_urls_are_refused_in_vietnamese(url: str) -> None:
    with pytest.raises(StreamError, match="không hợp lệ"):
        check_url(url)


# ---- real HTTP on loopback ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_url_raises_quickly() -> None:
    reader = StreamReader(f"http://127.0.0.1:{_free_port()}/thon-dong", rate=48000, timeout_s=2.0)
    t0 = time.monotonic()
    with pytest.raises(StreamError, match="Không kết nối được"):
        next(reader.blocks(threading.Event()))
    assert time.monotonic() - t0 < 2.0


def test_server_that_never_answers_is_bounded_by_the_timeout() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        reader = StreamReader(f"http://127.0.0.1:{server.getsockname()[1]}/a", rate=48000, timeout_s=1.0)
        t0 = time.monotonic()
        with pytest.raises(StreamError, match="không trả lời"):
            next(reader.blocks(threading.Event()))
        assert 0.9 < time.monotonic() - t0 < 3.0


class _HtmlHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b"<html><body>Icecast status</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_web_page_is_not_audio() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        reader = StreamReader(f"http://127.0.0.1:{server.server_port}/status.xsl", rate=48000, timeout_s=2.0)
        with pytest.raises(StreamError, match="không phải luồng âm thanh MP3") as info:
            next(reader.blocks(threading.Event()))
        assert "text/html" in str(info.value)
    finally:
        server.shutdown()
        server.server_close()


# ---- real Icecast -------------------------------------------------------------------------------


@pytest.fixture
def icecast():
    from tests.support.icecast_server import IcecastServer, icecast_available

    why = icecast_available()
    if why:
        pytest.skip(why)
    with IcecastServer(source_password="nguon-thu") as server:
        yield server


@pytest.mark.slow
def test_reads_a_live_icecast_mount(icecast) -> None:
    with Mp3Source(icecast.port, "thon-dong", icecast.source_password, hz=440.0):
        wait_for(lambda: "/thon-dong" in icecast.sources(), 5, "the source on the mount")
        reader = StreamReader(icecast.url("thon-dong"), rate=48000, timeout_s=3.0)
        stop = threading.Event()
        got: list[np.ndarray] = []
        t0 = time.monotonic()
        for block in reader.blocks(stop):
            got.append(block)
            if sum(map(len, got)) >= 48000:
                stop.set()
        took = time.monotonic() - t0
        audio = np.concatenate(got)
        assert abs(dominant_hz(audio[-24000:], 48000) - 440) < 5
        assert reader.bytes_received > 5000 and reader.content_type == "audio/mpeg"
        assert took < 3.0  # live: about one second of audio takes about one second (no probing)


@pytest.mark.slow
def test_a_silent_stream_raises_after_the_silence_timeout(icecast) -> None:
    with Mp3Source(icecast.port, "thon-tay", icecast.source_password, hz=None):
        wait_for(lambda: "/thon-tay" in icecast.sources(), 5, "the source on the mount")
        reader = StreamReader(icecast.url("thon-tay"), rate=48000, timeout_s=3.0, silence_timeout_s=1.5)
        t0 = time.monotonic()
        blocks = 0
        with pytest.raises(StreamError, match="im lặng"):
            for _ in reader.blocks(threading.Event()):
                blocks += 1
        assert blocks > 0  # the stream was there: it is the silence that failed it
        assert 1.4 < time.monotonic() - t0 < 4.0


@pytest.mark.slow
def test_a_missing_mount_and_a_killed_server_raise(icecast) -> None:
    with pytest.raises(StreamError, match="không có điểm phát"):
        next(StreamReader(icecast.url("khong-co"), rate=48000, timeout_s=2.0).blocks(threading.Event()))
    with Mp3Source(icecast.port, "thon-bac", icecast.source_password):
        wait_for(lambda: "/thon-bac" in icecast.sources(), 5, "the source on the mount")
        blocks = StreamReader(icecast.url("thon-bac"), rate=48000, timeout_s=2.0).blocks(threading.Event())
        next(blocks)
        icecast.kill()
        t0 = time.monotonic()
        with pytest.raises(StreamError):
            for _ in blocks:
                pass
        assert time.monotonic() - t0 < 3.0

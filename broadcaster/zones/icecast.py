"""An Icecast mount as a playout output: the station is the source of one zone's stream.

:class:`IcecastSink` keeps one source connection per zone, fed by its own thread, streaming
*continuously*: silence between broadcasts (receivers stay connected and in time), the
programme when one plays. The stream is a timeline of intended play times ("stream time" =
wall-clock time at a receiver's loudspeaker): stream time ``s`` is transmitted at wall time
``s - send_ahead_s - ENCODER_LAG_S``, in 20 ms frames paced by the wall clock, so a cut or a
new broadcast takes effect within a frame. ``ENCODER_LAG_S`` is the MP3 encoder's own delay
(known here); ``send_ahead_s`` is the measured rest of the pipeline delay to the loudspeaker
(network, Icecast, the receiver's buffer and decoder), compensated by sending that much early.

``play(start_at=T)`` puts the programme's first sample at stream time ``T`` (or at the first
frame not yet sent, when ``T`` is already too close) and returns once the last sample's stream
time has passed. ``PlayResult.start_error_ms`` is therefore a *model* figure
(``start_error_method = "icecast-stream"``): where the stream says the sound is, assuming
``send_ahead_s`` is right. It is not a measurement; the benchmark measures the real start
error at receivers.

The source speaks HTTP ``PUT`` with ``Expect: 100-continue`` written by hand on a socket: the
server answers before any audio (401 wrong password, 403 mount in use) and the body is raw MP3
(no chunked encoding, whose framing would end up in the stream).
"""

from __future__ import annotations

import base64
import logging
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from broadcaster.fmt import decimal
from broadcaster.playout.sink import PlayResult, Sink, SinkError, as_mono, wait_until
from broadcaster.speech.resample import StreamResampler
from broadcaster.zones.mp3 import DEFAULT_BITRATE_KBPS, STREAM_RATE, Mp3Encoder
from broadcaster.zones.secrets import ZoneConfigError
from broadcaster.zones.server import mount_path

log = logging.getLogger("broadcaster.zones")

METHOD_ICECAST = "icecast-stream"
FRAME_S = 0.02  # one paced frame: a cut or a new broadcast waits at most this long
CONNECT_TIMEOUT_S = 3.0
SEND_TIMEOUT_S = 5.0  # a server that stops reading for this long is treated as gone
PLAY_CONNECT_WAIT_S = 1.0  # play() while disconnected waits this long for a reconnect
#: LAME holds back 80-100 ms of audio before a frame comes out, and its frames decode 1105 samples
#: (23 ms) late: together about 0.1 s the feeder sends earlier on top of ``send_ahead_s``
ENCODER_LAG_S = 0.1
_BEHIND_RESET_S = 1.0  # feeder this far behind its timeline (machine stalled): jump to now
_PASSWORD_HINT = "kiểm tra mật khẩu nguồn Icecast trong LOA_XA_ICECAST_PASSWORD hoặc state/icecast-password"

PREFETCH_S = 5.0  # programme audio queued ahead of the feeder (bounded memory, no underrun on a slow block)


class Programme:
    """One play() on the stream: samples queued by play(), placed on the timeline by the feeder."""

    def __init__(self, requested_s: float | None, stop: threading.Event) -> None:
        self.requested_s = requested_s
        self.stop = stop
        self.done = threading.Event()  # every sample sent, or failed
        self.started_s: float | None = None  # stream time of the first sample
        self.end_s: float | None = None  # stream time just after the last sample
        self.sent = 0  # samples on the stream so far
        self.error: str | None = None
        self.underruns = 0
        self._cond = threading.Condition()
        self._chunks: deque[np.ndarray] = deque()
        self._queued = 0
        self._finished = False
        self._cancelled = False

    def _over(self) -> bool:
        return self._cancelled or self.done.is_set() or self.stop.is_set()

    def put(self, samples: np.ndarray, rate: int) -> bool:
        """Queue samples, waiting while PREFETCH_S are already queued; False once cut, failed or done."""
        with self._cond:
            while self._queued > PREFETCH_S * rate and not self._over():
                self._cond.wait(0.05)  # short: a stop event does not notify this condition
            if self._over():
                return False
            if samples.size:
                self._chunks.append(samples)
                self._queued += samples.size
            return True

    def finish(self) -> None:
        """No more samples: the programme ends when the queue is empty."""
        with self._cond:
            self._finished = True

    def cancel(self) -> None:
        """Cut: the feeder sends silence from its next frame."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    def fail(self, reason: str) -> None:
        """The stream broke under the programme."""
        with self._cond:
            if not self.done.is_set():
                self.error = reason
                self.done.set()
            self._cond.notify_all()

    def fill(self, frame: np.ndarray, frame_s: float, rate: int) -> None:
        """Place this programme's samples into ``frame`` (silence), which starts at stream time ``frame_s``."""
        with self._cond:
            if self._over() or (self.started_s is None and not self._chunks and not self._finished):
                return  # nothing to place yet: the start waits for the first block rather than underrun
            pos = 0
            if self.started_s is None:
                pos = 0 if self.requested_s is None else max(0, round((self.requested_s - frame_s) * rate))
                if pos >= frame.size:
                    return
                self.started_s = frame_s + pos / rate
            pos = self._copy(frame, pos)
            if pos < frame.size:
                if self._finished:
                    self.end_s = frame_s + pos / rate
                    self.done.set()
                else:
                    self.underruns += 1  # the programme arrives slower than real time: a gap
            self._cond.notify_all()

    def _copy(self, frame: np.ndarray, pos: int) -> int:
        while pos < frame.size and self._chunks:
            head = self._chunks[0]
            n = min(frame.size - pos, head.size)
            frame[pos : pos + n] = head[:n]
            if n == head.size:
                self._chunks.popleft()
            else:
                self._chunks[0] = head[n:]
            pos += n
            self._queued -= n
            self.sent += n
        return pos


class _Refused(Exception):
    """The server answered the source request with an error (401, 403, …)."""


class IcecastSink(Sink):
    """One zone as an Icecast mount; a feeder thread streams MP3 to it from construction to close()."""

    def __init__(
        self,
        url: str,
        password: str,
        *,
        name: str,
        send_ahead_s: float = 0.0,
        bitrate_kbps: int = DEFAULT_BITRATE_KBPS,
        sample_rate: int = STREAM_RATE,
        retry_min_s: float = 0.5,
        retry_max_s: float = 10.0,
        user: str = "source",
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or len(parts.path) < 2:
            raise ZoneConfigError(
                f"Địa chỉ Icecast của vùng {name} không hợp lệ: '{url}'. Cần dạng http://MÁY:CỔNG/tên-vùng."
            )
        self.name = name
        self.host, self.port, self.mount = parts.hostname, parts.port or 80, mount_path(parts.path)
        self.url = f"http://{self.host}:{self.port}{self.mount}"  # never the password
        self.send_ahead_s = float(send_ahead_s)
        self.rate = sample_rate
        self.bitrate_kbps = bitrate_kbps
        self.retry_min_s, self.retry_max_s = retry_min_s, retry_max_s
        self._auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._frame = round(FRAME_S * sample_rate)
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._closing = threading.Event()
        self._sock: socket.socket | None = None
        self._current: Programme | None = None
        self._next_s = 0.0  # stream time of the next frame to send
        self.last_error: str | None = None
        self.reconnects = 0
        self._thread = threading.Thread(target=self._feed, name=f"icecast-{name}", daemon=True)
        self._thread.start()

    # -- the playout interface ------------------------------------------------------------------
    def play(
        self,
        blocks: Iterable[np.ndarray],
        *,
        rate: int,
        start_at: float | None,
        stop: threading.Event,
        label: str = "",
    ) -> PlayResult:
        """Put the programme on the stream at stream time ``start_at``; return once it has been heard (by the model)."""
        if self._closing.is_set():
            raise SinkError(f"Đầu ra Icecast của vùng {self.name} đã đóng.")
        prog = Programme(start_at, stop)
        self._install(prog)
        try:
            self._produce(prog, blocks, rate)
            return self._await_end(prog, start_at)
        finally:
            prog.cancel()
            with self._lock:
                if self._current is prog:
                    self._current = None

    def _install(self, prog: Programme) -> None:
        """Make ``prog`` the feeder's programme once connected (waiting up to PLAY_CONNECT_WAIT_S)."""
        deadline = time.monotonic() + PLAY_CONNECT_WAIT_S
        while True:
            self._connected.wait(max(0.0, deadline - time.monotonic()))
            # Checked and installed under the lock the feeder fails programmes under, so a
            # connection lost right now either fails this programme or is seen here.
            with self._lock:
                if self._connected.is_set():
                    if self._current is not None:
                        self._current.fail("replaced")  # one writer per output: a stale one cannot linger
                    self._current = prog
                    return
            if time.monotonic() >= deadline:
                raise SinkError(self._send_failure(0.0, self.last_error))
            time.sleep(0.02)

    def _produce(self, prog: Programme, blocks: Iterable[np.ndarray], rate: int) -> None:
        """Hand the programme's samples (resampled to the stream rate) to the feeder, a few seconds ahead."""
        resampler = StreamResampler(rate, self.rate) if rate != self.rate else None
        for block in blocks:
            a = as_mono(block)
            if resampler is not None:
                a = resampler.push(a)
            if not prog.put(a, self.rate):
                return  # cut, failed or closed: _await_end reports it
        if resampler is not None:
            prog.put(resampler.flush(), self.rate)
        prog.finish()

    def _await_end(self, prog: Programme, start_at: float | None) -> PlayResult:
        """Wait for the last sample's stream time (or a cut / a lost connection)."""
        while not prog.done.wait(0.05):
            if prog.stop.is_set() or self._closing.is_set():
                break
        if prog.error is not None:
            raise SinkError(self._send_failure(prog.sent / self.rate, prog.error))
        completed = prog.end_s is not None and not prog.stop.is_set()
        if completed and prog.end_s is not None:
            completed = wait_until(prog.end_s, prog.stop)  # heard when its last sample's stream time passes
        prog.cancel()  # the feeder switches to silence at the next frame
        started = prog.started_s
        error_ms = round((started - start_at) * 1000, 2) if started is not None and start_at is not None else None
        return PlayResult(
            completed=completed,
            seconds=prog.sent / self.rate,
            started_at=started,
            start_error_ms=error_ms,
            start_error_method=METHOD_ICECAST if error_ms is not None else None,
        )

    def _send_failure(self, seconds: float, reason: str | None) -> str:
        return (
            f"Không gửi được tới máy chủ Icecast (vùng {self.name}): {reason or 'chưa kết nối được'}; "
            f"đã phát {decimal(seconds)} giây."
        )

    def describe(self) -> dict[str, Any]:
        """Name, URL (no password), whether the source is connected, the last error and reconnect count."""
        return {
            "name": self.name,
            "kind": "icecast",
            "url": self.url,
            "connected": self._connected.is_set(),
            "last_error": self.last_error,
            "reconnects": self.reconnects,
            "send_ahead_s": self.send_ahead_s,
        }

    def close(self) -> None:
        """Stop the feeder (bounded join) and drop the connection."""
        self._closing.set()
        self._drop()
        self._thread.join(timeout=2.0)

    # -- the feeder thread ------------------------------------------------------------------------
    def _feed(self) -> None:
        """Connect, stream, and on any failure retry with back-off; one log line per outage."""
        delay, ever_connected = self.retry_min_s, False
        logged: str | None = None  # the kind of outage already logged ("down", "401", …)
        while not self._closing.is_set():
            try:
                self._connect()
            except (OSError, _Refused) as exc:
                self.last_error = self._describe_error(exc)
                kind = str(exc.args[0]) if isinstance(exc, _Refused) else "down"
                if kind != logged:  # retries of the same outage stay quiet
                    log.warning("Vùng %s: %s; thử lại sau %s giây.", self.name, self.last_error, decimal(delay))
                    logged = kind
                self._closing.wait(delay)
                delay = min(delay * 2, self.retry_max_s)
                continue
            if ever_connected:
                self.reconnects += 1
                log.warning("Vùng %s: đã kết nối lại máy chủ Icecast %s.", self.name, self.url)
            else:
                log.info("Vùng %s: đang phát lên máy chủ Icecast %s.", self.name, self.url)
            delay, logged, ever_connected = self.retry_min_s, None, True
            self.last_error = None
            try:
                self._stream()
            except OSError as exc:
                self.last_error = f"mất kết nối tới máy chủ Icecast {self.host}:{self.port} ({exc.strerror or exc})"
                log.warning("Vùng %s: %s; đang kết nối lại.", self.name, self.last_error)
                logged = "down"
            finally:
                self._drop()
                self._fail_current(self.last_error or "đầu ra đã đóng")

    def _connect(self) -> None:
        """Open the source connection; raise :class:`_Refused` with the server's answer if refused."""
        sock = socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT_S)
        try:
            request = (
                f"PUT {self.mount} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Authorization: Basic {self._auth}\r\nUser-Agent: loa-xa\r\nContent-Type: audio/mpeg\r\n"
                f"ice-name: {' '.join(self.name.split())}\r\nice-public: 0\r\n"  # split(): no header injection
                f"ice-audio-info: channels=1;samplerate={self.rate};bitrate={self.bitrate_kbps}\r\n"
                "Expect: 100-continue\r\n\r\n"
            )
            sock.sendall(request.encode("utf-8"))
            status = _read_status(sock)
            if status not in (100, 200):
                raise _Refused(status)
        except BaseException:
            sock.close()
            raise
        sock.settimeout(SEND_TIMEOUT_S)
        with self._lock:
            self._sock = sock
        self._connected.set()

    def _stream(self) -> None:
        """Send paced frames until the connection fails or the sink closes."""
        sock = self._sock
        assert sock is not None
        encoder = Mp3Encoder(self.rate, self.bitrate_kbps)  # fresh per connection: no stale audio
        step = self._frame / self.rate
        lead = self.send_ahead_s + ENCODER_LAG_S
        self._next_s = max(self._next_s, time.time() + lead)
        while not self._closing.is_set():
            wait = self._next_s - lead - time.time()
            if wait > 0 and self._closing.wait(wait):
                return
            if -wait > _BEHIND_RESET_S:  # the machine stalled: resume at "now" rather than rush
                self._next_s = time.time() + lead
            if _peer_closed(sock):
                raise ConnectionResetError("máy chủ đã đóng kết nối")
            data = encoder.encode(self._next_frame())
            if data:
                sock.sendall(data)
            self._next_s += step

    def _next_frame(self) -> np.ndarray:
        """The samples of the frame at ``_next_s``: silence, with the current programme's samples placed in it."""
        frame = np.zeros(self._frame, dtype=np.float32)
        with self._lock:
            prog = self._current
        if prog is not None:
            prog.fill(frame, self._next_s, self.rate)
        return frame

    def _fail_current(self, reason: str) -> None:
        with self._lock:
            prog = self._current
        if prog is not None:
            prog.fail(reason)

    def _drop(self) -> None:
        self._connected.clear()
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # unblocks a sendall stuck on a full window
            except OSError:
                pass
            sock.close()

    def _describe_error(self, exc: BaseException) -> str:
        where = f"{self.host}:{self.port}"
        if isinstance(exc, _Refused):
            status = exc.args[0]
            if status == 401:
                return f"máy chủ Icecast {where} từ chối mật khẩu nguồn (401): hãy {_PASSWORD_HINT}"
            if status == 403:
                return (
                    f"điểm phát {self.mount} trên máy chủ Icecast {where} đang có nguồn khác (403): hãy kiểm tra "
                    "không có máy/chương trình nào khác đang phát vào vùng này"
                )
            return f"máy chủ Icecast {where} từ chối nguồn (mã {status})"
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        return f"không kết nối được máy chủ Icecast {where} ({reason})"


def _read_status(sock: socket.socket) -> int:
    """Read the response head of the source request; its status code (0 when unreadable)."""
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 8192:
        chunk = sock.recv(1024)
        if not chunk:
            break
        head += chunk
    try:
        return int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def _peer_closed(sock: socket.socket) -> bool:
    """True once the server closed the connection (it never sends anything after its answer)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (ValueError, OSError):  # closed meanwhile by the feeder (fd -1): as good as closed
        return True
    if not readable:
        return False
    try:
        return sock.recv(1024, socket.MSG_PEEK) == b""
    except OSError:
        return True

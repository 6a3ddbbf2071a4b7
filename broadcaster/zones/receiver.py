"""The receiver beside a thôn's loudspeakers: plays an Icecast MP3 mount, reconnects, reports health.

One loop (:meth:`Receiver.run`): connect, fill a small jitter buffer, play it through the
project's playout sink until the stream goes down, wait, reconnect — forever, until stopped.
While the stream is down the output gets nothing (a sound card sits silent); short network
hiccups while connected become silence with soft edges, never decoder noise.

Delay is kept steady: the jitter buffer is refilled to ``buffer_ms`` after an underrun, and
when a burst (after a stall, or Icecast's burst-on-connect) pushes it far above the target the
oldest audio is dropped, with a short crossfade, so the loudspeakers stay close to live.

A :class:`Heartbeat` thread POSTs the receiver's state to the station every few seconds; its
failures never touch playback. With a monitor (``--monitor``), a
:class:`~broadcaster.proof.stream.StreamProver` watches what is played and the heartbeat carries
its proofs: whether this cluster's loudspeakers were heard.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from broadcaster import fmt
from broadcaster.playout.sink import Sink, SinkError
from broadcaster.zones.stream_in import Float32Array, StreamError, StreamReader

if TYPE_CHECKING:
    from broadcaster.proof.stream import StreamProver

log = logging.getLogger("broadcaster.receiver")

BLOCK_S = 0.02  # the pace at which audio is handed to the output
# Handed out ahead of the clock when playing starts: a sound card asks for its whole device
# buffer (0.1 s, playout/card.py) at once when it opens; without this head start it would
# insert silence gaps in the first tenth of a second.
LEAD_S = 0.15
FADE_S = 0.01  # soft edges where sound stops/starts (underrun) and crossfade when catching up
STEER_BLOCKS = 150  # 3 s of 20 ms blocks: a surplus lasting this long is dropped (a steady delay)
MAX_BUFFER_S = 10.0  # never hold more than this (a stuck output must not grow memory)
ARRIVAL_WINDOW = 50  # how many recent arrivals the lump size is judged on (~10 s at 64 kbit/s)
MIN_ARRIVALS = 3  # before playing: two waits between arrivals measured
MAX_GAP_S = 2.0  # a longer stall is an outage, not jitter: never let the delay grow past this
HEARTBEAT_PATH = "/api/receivers/heartbeat"


def now_iso() -> str:
    """Wall time as ISO 8601 with the UTC offset (what the station's JSON expects)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class JitterBuffer:
    """A thread-safe FIFO of float32 samples (network thread in, output generator out)."""

    def __init__(self, max_samples: int):
        self._chunks: collections.deque[Float32Array] = collections.deque()
        self._size = 0
        self._max = max_samples
        self._lock = threading.Lock()
        self.dropped = 0  # samples thrown away to catch up or to stay under max_samples
        self._last_push: float | None = None
        self.arrivals = 0
        self._gaps: collections.deque[float] = collections.deque(maxlen=ARRIVAL_WINDOW)

    def push(self, block: Float32Array) -> None:
        """Append ``block``; the oldest audio goes when the buffer would exceed its maximum."""
        if len(block) == 0:
            return
        with self._lock:
            self._chunks.append(block)
            self._size += len(block)
            self.arrivals += 1
            now = time.monotonic()
            if self._last_push is not None:
                self._gaps.append(now - self._last_push)
            self._last_push = now
        if self._size > self._max:
            self.drop(self._size - self._max)

    def level(self) -> int:
        """Samples buffered now."""
        return self._size

    def arrival_gap_s(self) -> float:
        """The longest recent wait between two arrivals (seconds, at most MAX_GAP_S).

        Audio comes in lumps (Icecast sends ~1400-byte pieces: 175 ms at 64 kbit/s), and a
        buffer shorter than the wait for the next lump runs dry. Measured in time, not size,
        so a burst-on-connect (many pieces at once) does not count as a long wait.
        """
        with self._lock:
            return min(MAX_GAP_S, max(self._gaps, default=0.0))

    def take(self, n: int) -> Float32Array:
        """Remove and return up to ``n`` samples (fewer when fewer are buffered)."""
        out = self.peek(n)
        self._discard(len(out))
        return out

    def peek(self, n: int) -> Float32Array:
        """The first ``n`` samples (or fewer) without removing them."""
        parts: list[Float32Array] = []
        got = 0
        with self._lock:
            for chunk in self._chunks:
                if got >= n:
                    break
                parts.append(chunk[: n - got])
                got += len(parts[-1])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def drop(self, n: int, *, count: bool = True) -> None:
        """Throw away the oldest ``n`` samples (``count``: as audio lost to catch up)."""
        done = self._discard(n)
        if count:
            self.dropped += done

    def _discard(self, n: int) -> int:
        done = 0
        with self._lock:
            while done < n and self._chunks:
                first = self._chunks[0]
                if len(first) <= n - done:
                    self._chunks.popleft()
                    done += len(first)
                else:
                    self._chunks[0] = first[n - done :]
                    done = n
            self._size -= done
        return done


class Link:
    """One connection: ``StreamReader.blocks`` on its own thread, filling a :class:`JitterBuffer`."""

    def __init__(self, reader: StreamReader, rate: int):
        self.buffer = JitterBuffer(int(MAX_BUFFER_S * rate))
        self.error: StreamError | None = None
        self.done = threading.Event()
        self._cancel = threading.Event()
        self._reader = reader
        self._thread = threading.Thread(target=self._run, name="receiver-net", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for block in self._reader.blocks(self._cancel):
                self.buffer.push(block)
        except StreamError as exc:
            self.error = exc
        except Exception as exc:  # noqa: BLE001 - a decoder surprise is one lost connection, not a dead receiver
            self.error = StreamError("Lỗi khi giải mã luồng âm thanh.", repr(exc))
        finally:
            self.done.set()

    def wait_filled(self, pacer: Pacer, timeout: float, stop: threading.Event) -> bool:
        """True once the buffer holds ``pacer``'s target, judged on a few arrivals (so the pace of
        the lumps is known before playing); False when the link failed, ``stop`` was set or time ran out."""
        deadline = time.monotonic() + timeout
        while True:
            pacer.adapt()
            want = pacer.target + pacer.lead
            if self.buffer.arrivals >= MIN_ARRIVALS and self.buffer.level() >= want:
                self.buffer.drop(self.buffer.level() - want, count=False)  # start no later than needed
                return True
            if self.done.is_set() or time.monotonic() > deadline or stop.wait(0.01):
                return False

    def close(self) -> None:
        """Stop reading (the thread ends within one read slice)."""
        self._cancel.set()
        self._thread.join(timeout=2.0)


def _ramp(n: int, rising: bool) -> Float32Array:
    r = np.linspace(0.0, 1.0, n, endpoint=False, dtype=np.float32) if n else np.zeros(0, dtype=np.float32)
    return r if rising else r[::-1].copy()


class Pacer:
    """Hands the link's audio to the output in fixed blocks at the wall-clock pace, keeping the delay steady."""

    def __init__(self, link: Link, rate: int, target: int):
        self.link = link
        self.rate = rate
        self.block = max(1, int(BLOCK_S * rate))
        self.wanted = max(target, self.block)
        self.lead = int(LEAD_S * rate)
        self.target = self.wanted
        self.ceiling = self.target
        self.adapt()
        self.fade = int(FADE_S * rate)
        self.underruns = 0
        self.rebuffering = False  # the buffer ran dry: silence until it holds the target again
        self.last_sound = time.monotonic()  # when real audio was last handed out
        # steering: the lowest buffer level over a window; a surplus that persists is dropped, so
        # every connection settles on the same delay (the station compensates one fixed delay)
        self._low = np.inf
        self._low_blocks = 0

    def blocks(self, stop: threading.Event) -> Iterator[Float32Array]:
        """Blocks until the link has failed and its buffer is empty, or ``stop`` is set (then it returns)."""
        buf = self.link.buffer
        t0 = time.monotonic()
        k = 0
        fade_in = True
        silence = np.zeros(self.block, dtype=np.float32)
        while not stop.is_set():
            wait = t0 + (k * self.block - self.lead) / self.rate - time.monotonic()
            if wait > 0 and stop.wait(wait):
                return
            if wait < -0.5:  # the output stalled us: re-anchor rather than burst through the backlog
                t0 = time.monotonic() - (k * self.block - self.lead) / self.rate
            k += 1
            self.adapt()
            if self.rebuffering:
                if buf.level() < self.target:
                    if self.link.done.is_set():
                        return
                    yield silence
                    continue
                self.rebuffering, fade_in = False, True
            ahead = max(0, self.lead - (k - 1) * self.block)  # head start still being handed out
            surplus = self._surplus(buf.level(), ahead)
            if buf.level() > self.ceiling + ahead:
                out = self._catch_up(self.target + ahead)
            elif surplus:
                out = self._catch_up(buf.level() - surplus)
            elif buf.level() >= self.block:
                out = buf.take(self.block)
            else:  # underrun: the last samples fade out, then silence until the buffer is refilled
                out = np.zeros(self.block, dtype=np.float32)
                tail = buf.take(self.block)
                out[: len(tail)] = tail * _ramp(len(tail), rising=False)
                self.underruns += 1
                self.rebuffering = True
                log.debug("underrun: target %d, lump gap %.3f s", self.target, self.link.buffer.arrival_gap_s())
                self.last_sound = time.monotonic()
                yield out
                continue
            if fade_in:
                n = min(self.fade, len(out))
                out[:n] *= _ramp(n, rising=True)
                fade_in = False
            self.last_sound = time.monotonic()
            yield out

    def _surplus(self, level: int, ahead: int) -> int:
        """Samples to drop now: what stayed above the target through a whole window (0 most of the time)."""
        self._low = min(self._low, level)
        self._low_blocks += 1
        if self._low_blocks < STEER_BLOCKS:
            return 0
        low, self._low, self._low_blocks = self._low, np.inf, 0
        extra = int(low) - (self.target + ahead)
        return extra if extra > self.block else 0

    def adapt(self) -> None:
        """Target: the wanted delay, but always more than one arrival lump (+ 3 blocks of slack);
        ceiling: a burst above it is dropped back to the target (normal lumps stay below it)."""
        lump = int(self.link.buffer.arrival_gap_s() * self.rate)
        self.target = max(self.wanted, lump + 3 * self.block)
        self.ceiling = self.target + max(self.target, lump + 2 * self.block, int(0.1 * self.rate))

    def _catch_up(self, keep: int) -> Float32Array:
        """Drop the oldest audio down to ``keep`` samples; crossfade so the jump does not click."""
        buf = self.link.buffer
        natural = buf.peek(self.fade)  # what would have followed the previous block
        log.debug("catch up: level %d > ceiling, keep %d", buf.level(), keep)
        buf.drop(buf.level() - keep)
        out = buf.take(self.block).copy()
        n = min(len(natural), len(out))
        out[:n] = natural[:n] * _ramp(n, rising=False) + out[:n] * _ramp(n, rising=True)
        return out


class Receiver:
    """Plays ``reader``'s stream on ``sink`` until stopped; reconnects by itself; keeps a status."""

    def __init__(
        self,
        reader: StreamReader,
        sink: Sink,
        *,
        name: str,
        rate: int,
        buffer_ms: float = 150.0,
        retry_s: float = 2.0,
        prover: StreamProver | None = None,
    ):
        self.reader = reader
        self.prover = prover  # proof of play from this receiver's own monitor, if it has one
        self.sink = sink
        self.name = name
        self.rate = rate
        self.target = int(buffer_ms / 1000 * rate)
        self.retry_s = retry_s
        self.reconnects = 0  # times the sound came back after being lost
        self._lock = threading.Lock()
        self._state = "connecting"
        self._last_error: str | None = None
        self._pacer: Pacer | None = None

    def snapshot(self) -> dict[str, Any]:
        """The heartbeat body (without ``sent_at``)."""
        with self._lock:
            pacer = self._pacer
            playing = self._state == "playing"
            # Connected but starved (the network stalls): say so rather than "playing" silence.
            state = "connecting" if playing and pacer is not None and pacer.rebuffering else self._state
            return {
                "receiver": self.name,
                "url": self.reader.url,
                "state": state,
                "buffer_ms": round(pacer.link.buffer.level() / self.rate * 1000, 1) if pacer and playing else 0.0,
                "last_error": self._last_error,
                "connected_since": self.reader.connected_since.isoformat() if self.reader.connected_since else None,
                "bytes_received": self.reader.bytes_received,
                "reconnects": self.reconnects,
                **({"monitor": self.prover.describe(), "proofs": self.prover.results()} if self.prover else {}),
            }

    def _set(self, state: str, error: str | None = None, pacer: Pacer | None = None) -> None:
        with self._lock:
            self._state = state
            self._pacer = pacer
            if error is not None:
                self._last_error = error

    def run(self, stop: threading.Event) -> None:
        """Receive and play until ``stop`` is set."""
        attempt = 0  # failed attempts in the current outage
        lost_at: float | None = None  # monotonic time the sound stopped; None before the first sound
        while not stop.is_set():
            self._set("connecting")
            link = Link(self.reader, self.rate)
            pacer = Pacer(link, self.rate, self.target)
            lost = self.reader.url
            try:
                if link.wait_filled(pacer, self.reader.timeout_s + 1.0, stop):
                    attempt, lost_at = 0, self._play(pacer, stop, lost_at)
                error: Exception = link.error or StreamError(f"Không nhận được âm thanh từ '{lost}'.", "no audio")
            except SinkError as exc:  # the card, not the network: the same retry, a different sentence
                error, lost, lost_at = exc, f"loa ({self.sink.name})", pacer.last_sound
            finally:
                link.close()
            if stop.is_set():
                break
            attempt += 1
            self._set("down", str(error))
            if attempt <= 3 or attempt % 30 == 0:  # a long outage does not flood the log
                log.warning(
                    "Mất kết nối tới %s — thử lại sau %s giây (lần %d). Lý do: %s",
                    lost,
                    fmt.decimal(self.retry_s, 0 if self.retry_s == int(self.retry_s) else 1),
                    attempt,
                    error,
                )
            stop.wait(self.retry_s)

    def _play(self, pacer: Pacer, stop: threading.Event, lost_at: float | None) -> float:
        """Play the link until it fails; return the monotonic time its sound stopped."""
        link = pacer.link
        self._set("playing", pacer=pacer)
        if lost_at is None:
            log.info("Đang nhận tiếng từ %s", self.reader.url)
        else:
            self.reconnects += 1
            log.info("Đã nhận lại tiếng sau %s giây.", fmt.decimal(time.monotonic() - lost_at))
        blocks = pacer.blocks(stop)
        if self.prover is not None:
            blocks = self.prover.tee(blocks)
        result = self.sink.play(blocks, rate=self.rate, start_at=None, stop=stop, label="thu-luong")
        if pacer.underruns or link.buffer.dropped:
            log.info(
                "Phiên nhận vừa rồi: %s giây, %d lần thiếu dữ liệu, bỏ %s giây để bắt kịp.",
                fmt.decimal(result.seconds),
                pacer.underruns,
                fmt.decimal(link.buffer.dropped / self.rate, 2),
            )
        return pacer.last_sound


class Heartbeat:
    """POSTs the receiver's snapshot to the station every ``interval_s``; failures are logged once per outage."""

    def __init__(self, station: str, token: str, interval_s: float, snapshot: Callable[[], dict[str, Any]]):
        self.url = station.rstrip("/") + HEARTBEAT_PATH
        self.token = token
        self.interval_s = interval_s
        self.snapshot = snapshot
        self.sent = 0
        self.failing = False

    def start(self, stop: threading.Event) -> threading.Thread:
        """Run on a daemon thread until ``stop`` is set."""
        thread = threading.Thread(target=self._loop, args=(stop,), name="receiver-heartbeat", daemon=True)
        thread.start()
        return thread

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.beat()
            stop.wait(self.interval_s)

    def beat(self) -> bool:
        """Send one heartbeat; True when the station answered 200 with JSON."""
        body = {**self.snapshot(), "sent_at": now_iso()}
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=min(3.0, self.interval_s)) as response:
                json.loads(response.read(65536) or b"null")
        except urllib.error.HTTPError as exc:
            why = "trạm từ chối mã truy cập — kiểm tra tệp mã (--token-file)" if exc.code in (401, 403) else ""
            return self._failed(f"HTTP {exc.code}" + (f": {why}" if why else ""))
        except (OSError, ValueError) as exc:  # refused, timeout, DNS, not JSON
            return self._failed(str(exc))
        self.sent += 1
        if self.failing:
            log.info("Đã gửi lại được tình trạng máy thu về trạm.")
            self.failing = False
        return True

    def _failed(self, why: str) -> bool:
        if not self.failing:
            log.warning(
                "Không gửi được tình trạng máy thu về trạm (%s): %s. Loa vẫn phát bình thường; máy thu sẽ tự gửi lại.",
                self.url,
                why,
            )
            self.failing = True
        return False

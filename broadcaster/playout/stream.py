"""The stream engine: a feeder thread and the PortAudio callback that places the start.

The callback knows, for each buffer, the moment its first frame reaches the DAC
(``outputBufferDacTime``), maps it to wall-clock time and starts the programme at the exact
frame that will be heard at ``start_at``. The feeder pulls programme blocks (which may still be
rendering) on its own thread, so a slow block never stalls the audio callback.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from broadcaster.playout.sink import as_mono
from broadcaster.speech.audio import StreamResampler

FADE_SECONDS = 0.03
# How much programme audio the feeder thread may queue ahead of the callback.
MAX_QUEUED_SECONDS = 5.0
# The first programme sample above this (−40 dBFS) is what a listener hears as "the start".
ONSET_LEVEL = 0.01


class Feeder:
    """Pulls programme blocks on its own thread, resampled to the device rate, for the callback."""

    def __init__(self, blocks: Iterable[np.ndarray], from_rate: int, stop: threading.Event, rate: int):
        self._it: Iterator[np.ndarray] = iter(blocks)
        self._resampler = StreamResampler(from_rate, rate)
        self._stop = stop
        self._rate = rate
        self._queue: collections.deque[np.ndarray] = collections.deque()
        self._head = 0  # samples already consumed from the first queued array
        self._queued = 0
        self._pushed = 0  # samples queued so far (device rate)
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self.exhausted = False
        self.error: BaseException | None = None
        self.first_loud: int | None = None  # index of the first sample above ONSET_LEVEL
        self._cancel = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sink-feeder", daemon=True)
        self.thread.start()

    def _push(self, a: np.ndarray) -> bool:
        """Queue ``a`` when there is room; False when cancelled."""
        if self.first_loud is None and len(a):
            loud = np.flatnonzero(np.abs(a) > ONSET_LEVEL)
            if loud.size:
                self.first_loud = self._pushed + int(loud[0])
        with self._room:
            while self._queued > MAX_QUEUED_SECONDS * self._rate and not self._cancel.is_set():
                self._room.wait(0.1)
            if self._cancel.is_set():
                return False
            if len(a):
                self._queue.append(a)
                self._queued += len(a)
                self._pushed += len(a)
        return True

    def _run(self) -> None:
        try:
            for block in self._it:
                if not self._push(self._resampler.push(as_mono(block))):
                    return
                if self._stop.is_set() or self._cancel.is_set():
                    return
            self._push(self._resampler.flush())
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            self.error = exc
        finally:
            self.exhausted = True

    def read(self, out: np.ndarray) -> int:
        """Copy up to len(out) queued samples into ``out``; never blocks long (audio callback)."""
        n = 0
        with self._lock:
            while n < len(out) and self._queue:
                first = self._queue[0]
                take = min(len(first) - self._head, len(out) - n)
                out[n : n + take] = first[self._head : self._head + take]
                n += take
                self._head += take
                if self._head >= len(first):
                    self._queue.popleft()
                    self._head = 0
            self._queued -= n
            if n:
                self._room.notify()
        return n

    def has_data(self) -> bool:
        """Something is queued for the callback."""
        return bool(self._queue)

    def drained(self) -> bool:
        """The programme has ended and every sample was handed to the callback."""
        return self.exhausted and not self._queue

    def cancel(self) -> None:
        """Stop pulling blocks (the feeder thread ends soon)."""
        self._cancel.set()
        with self._room:
            self._room.notify_all()


class Playback:
    """State shared between the sink's play() and the PortAudio callback."""

    def __init__(self, feeder: Feeder, rate: int, channels: int, start_at: float | None, stop: threading.Event):
        self.feeder = feeder
        self.latency = 0.0  # the stream's output latency, set once it is open
        self.rate = rate
        self.channels = channels
        self.start_at = start_at
        self.stop = stop
        self.offset: float | None = None  # wall clock minus stream clock
        self.started_at: float | None = None
        self.end_at: float | None = None  # wall time the last sample is heard
        self.frames = 0
        self.gaps = 0  # callbacks where the programme was not ready (fed silence instead)
        self.underflows = 0
        self.fade_left: int | None = None
        self.fade_len = max(1, int(FADE_SECONDS * rate))
        self.stopped = False
        self.finished = threading.Event()
        self.last_callback = time.monotonic()
        self.callbacks = 0
        self.error: BaseException | None = None
        self._mono = np.zeros(0, dtype=np.float32)

    def _dac_wall(self, time_info: Any) -> float:
        now = time.time()
        current = time_info.currentTime
        dac = time_info.outputBufferDacTime
        if current and dac:
            # The callback runs a little after currentTime; the smallest difference seen is the
            # truest clock offset (stream clocks are monotonic or realtime depending on host API).
            diff = now - current
            if self.offset is None or diff < self.offset:
                self.offset = diff
            return float(dac + self.offset)
        return now + self.latency

    def callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:  # PortAudio thread
        """Fill one device buffer: silence until the start frame, then the programme, then a fade."""
        try:
            self.last_callback = time.monotonic()
            self.callbacks += 1
            if status.output_underflow:
                self.underflows += 1
            if len(self._mono) != frames:
                self._mono = np.zeros(frames, dtype=np.float32)
            mono = self._mono
            mono.fill(0.0)
            dac_wall = self._dac_wall(time_info)
            if self.finished.is_set():
                outdata.fill(0.0)
                return
            pos = self._start_position(frames, dac_wall)
            if pos is None:
                outdata.fill(0.0)
                return
            if self.started_at is not None and pos < frames:
                self._fill(mono, pos, frames, dac_wall)
            if self.channels > 1:
                outdata[:] = mono[:, None]
            else:
                outdata[:, 0] = mono
        except BaseException as exc:  # noqa: BLE001 - never let an exception kill the audio thread silently
            self.error = exc
            outdata.fill(0.0)
            self.finished.set()

    def _start_position(self, frames: int, dac_wall: float) -> int | None:
        """Where the programme begins in this buffer (``frames``: not here); None when cut before."""
        if self.started_at is not None:
            return 0
        if self.stop.is_set():
            self.stopped = True
            self.finished.set()
            return None
        lead = 0 if self.start_at is None else int(round((self.start_at - dac_wall) * self.rate))
        # A late first block (speech still rendering) starts late rather than with a hole.
        if lead < frames and (self.feeder.has_data() or self.feeder.exhausted):
            pos = max(0, lead)
            self.started_at = dac_wall + pos / self.rate
            return pos
        return frames

    def _fill(self, mono: np.ndarray, pos: int, frames: int, dac_wall: float) -> None:
        """Copy programme samples from ``pos`` on; fade out when cut; note when the end is heard."""
        n = self.feeder.read(mono[pos:])
        end = pos + n
        if self.fade_left is None and (self.stop.is_set() or self.feeder.error is not None):
            self.fade_left = self.fade_len
        if self.fade_left is not None:
            k = min(self.fade_left, n)
            ramp = np.arange(self.fade_left, self.fade_left - k, -1, dtype=np.float32) / self.fade_len
            mono[pos : pos + k] *= ramp
            mono[pos + k :] = 0.0
            self.fade_left -= k
            self.frames += k
            if self.fade_left <= 0 or k < n or n == 0:
                self.stopped = self.stop.is_set()
                self.end_at = dac_wall + (pos + k) / self.rate
                self.finished.set()
            return
        self.frames += n
        if end < frames:
            if self.feeder.drained():
                self.end_at = dac_wall + end / self.rate
                self.finished.set()
            else:
                self.gaps += 1

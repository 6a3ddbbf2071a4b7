"""The output interface every playout sink implements, and the two sinks without a sound card.

``Sink.play`` blocks until the programme has been *heard* (or was cut), so the player, the
as-run log and ``status`` see the same thing whatever the output is. The file and null outputs
are practice outputs ("loa tập"): they take real time like a loudspeaker, start at
``start_at``, stop when cut, and report when they really started. ``realtime=False`` exists
for internal renders only (nothing waits, nothing can be cut mid-way).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from broadcaster.fmt import slugify, station_time

log = logging.getLogger("broadcaster.playout")

#: how a start error was measured (``PlayResult.start_error_method``)
METHOD_CLOCK = "clock"  # a practice output paced by the wall clock: the clock is the output
METHOD_MONITOR = "monitor"  # the sound server's monitor of the sink, recorded around the start
METHOD_DAC = "portaudio-dac"  # PortAudio's DAC time on a device whose driver reports real latency


class SinkError(Exception):
    """The sink cannot play; ``str()`` is a Vietnamese reason for the operator (+ technical detail)."""

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message} (chi tiết kỹ thuật: {self.detail})" if self.detail else self.message


@dataclass
class PlayResult:
    """What happened to one play() call.

    ``start_error_ms`` is first-sample-heard minus ``start_at`` as *measured* by
    ``start_error_method``; both are None when it could not be measured (never a guessed 0).
    """

    completed: bool  # False when stopped before the end
    seconds: float  # programme audio actually played
    started_at: float | None  # wall time the first sample was audible; None if never
    start_error_ms: float | None = None
    start_error_method: str | None = None
    #: proof of play from a monitor input (``broadcaster.proof``): heard, delay, level, dead air;
    #: None when the output has no monitor
    proof: dict[str, Any] | None = None


class Sink(ABC):
    """One audio output. ``play`` blocks until the programme has been heard (or stopped)."""

    name: str

    @abstractmethod
    def play(
        self,
        blocks: Iterable[np.ndarray],
        *,
        rate: int,
        start_at: float | None,
        stop: threading.Event,
        label: str = "",
    ) -> PlayResult:
        """Play float32 mono ``blocks`` so the first sample is heard at wall time ``start_at``."""

    def describe(self) -> dict[str, Any]:
        """A small dict for status pages and logs."""
        return {"name": self.name}

    def close(self) -> None:  # noqa: B027 - optional: most sinks hold nothing between plays
        """Release whatever the sink holds."""


class UnavailableSink(Sink):
    """An output that could not open: every broadcast on it fails with the reason, at once."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def play(
        self,
        blocks: Iterable[np.ndarray],
        *,
        rate: int,
        start_at: float | None,
        stop: threading.Event,
        label: str = "",
    ) -> PlayResult:
        raise SinkError(f"đầu ra {self.name} không dùng được: {self.reason}")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "error": self.reason}


def as_mono(block: Any) -> np.ndarray:
    """A block as 1-D float32 (a 2-D block is averaged to mono)."""
    a = np.asarray(block, dtype=np.float32)
    if a.ndim == 2:
        a = a.mean(axis=1, dtype=np.float32)
    return a.reshape(-1)


def wait_until(deadline: float, stop: threading.Event) -> bool:
    """Sleep until wall time ``deadline``; False if ``stop`` was set first."""
    while True:
        left = deadline - time.time()
        if left <= 0:
            return True
        # Short final waits keep the wake-up precise; Event.wait sleeps on a monotonic clock.
        if stop.wait(min(left, 0.2) if left > 0.005 else 0):
            return False
        if left <= 0.005:
            while time.time() < deadline:
                pass
            return True


def clock_error_ms(started: float, start_at: float | None) -> tuple[float | None, str | None]:
    """Start error of a wall-clock-paced output: exact by construction (the clock is the output)."""
    if start_at is None:
        return None, None
    return round((started - start_at) * 1000, 2), METHOD_CLOCK


class _Pacer:
    """Paces consumption of a programme by the wall clock, like a loudspeaker would.

    ``take(n)`` returns once ``n`` more samples "have been heard", or early when ``stop`` is
    set; then ``heard`` says how much was heard up to the cut.
    """

    def __init__(self, rate: int, stop: threading.Event, realtime: bool):
        self.rate = rate
        self.stop = stop
        self.realtime = realtime
        self.started = time.time()
        self.frames = 0  # samples handed over so far

    def take(self, n: int) -> bool:
        """Account for ``n`` samples; False when cut (then ``heard_frames`` is where)."""
        if self.stop.is_set():
            return False
        if not self.realtime:
            self.frames += n
            return True
        done = wait_until(self.started + (self.frames + n) / self.rate, self.stop)
        self.frames += n
        return done

    def heard_frames(self) -> int:
        """Samples heard so far: all handed over, or what the clock let through before a cut."""
        if not self.realtime:
            return self.frames
        return max(0, min(self.frames, int((time.time() - self.started) * self.rate)))


class WavSink(Sink):
    """Writes each play() to ``<YYYYmmdd-HHMMSS>-<label-slug>.wav`` in ``directory`` (16-bit mono).

    A practice output: waits for ``start_at``, takes as long as the programme lasts, and a cut
    (stop / emergency) ends the file where it was cut. ``realtime=False`` writes as fast as the
    blocks arrive (internal renders only).
    """

    def __init__(self, directory: Path, *, realtime: bool = True):
        self.directory = Path(directory)
        self.realtime = realtime
        self.name = f"wav:{self.directory}"
        self.last_path: Path | None = None

    def _target(self, started: float, label: str) -> Path:
        stamp = station_time(started).strftime("%Y%m%d-%H%M%S")  # the station's clock, not the PC's
        base = f"{stamp}-{slugify(label)}"
        path = self.directory / f"{base}.wav"
        n = 2
        while path.exists():
            path = self.directory / f"{base}-{n}.wav"
            n += 1
        return path

    def play(
        self,
        blocks: Iterable[np.ndarray],
        *,
        rate: int,
        start_at: float | None,
        stop: threading.Event,
        label: str = "",
    ) -> PlayResult:
        """Write the programme to a new WAV file, in real time unless ``realtime=False``."""
        import soundfile as sf

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(
                f"Không tạo được thư mục ghi âm thanh '{self.directory}'. Kiểm tra đường dẫn và quyền ghi.",
                str(exc),
            ) from exc
        if start_at is not None and self.realtime and not wait_until(start_at, stop):
            return PlayResult(completed=False, seconds=0.0, started_at=None)
        pacer = _Pacer(rate, stop, self.realtime)
        path = self._target(pacer.started, label)
        completed = True
        try:
            with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as f:
                for block in blocks:
                    a = as_mono(block)
                    if stop.is_set():
                        completed = False
                        break
                    # Write first, pace after: a cut mid-block truncates the file to the cut below.
                    f.write(np.clip(a, -1.0, 1.0))
                    if not pacer.take(len(a)):
                        completed = False
                        break
                completed = completed and not stop.is_set()
                heard = pacer.heard_frames() if not completed else pacer.frames
                if heard < pacer.frames:
                    f.truncate(heard)  # the file ends where the output was cut
        except OSError as exc:
            raise SinkError(
                f"Không ghi được tệp âm thanh '{path}'. Kiểm tra ổ đĩa còn chỗ trống và quyền ghi.", str(exc)
            ) from exc
        except sf.SoundFileError as exc:
            raise SinkError(f"Không ghi được tệp âm thanh '{path}'.", str(exc)) from exc
        self.last_path = path
        log.info("WAV: đã ghi %s (%.1f s)", path, heard / rate)
        error_ms, method = clock_error_ms(pacer.started, start_at) if self.realtime else (None, None)
        return PlayResult(completed, heard / rate, pacer.started, error_ms, method)

    def describe(self) -> dict[str, Any]:
        """Kind, directory, the last file written and whether it runs in real time."""
        return {
            "name": self.name,
            "kind": "wav",
            "directory": str(self.directory),
            "realtime": self.realtime,
            "last_file": str(self.last_path) if self.last_path else None,
        }


class NullSink(Sink):
    """Consumes the audio and discards it; with ``realtime`` it takes as long as a card would."""

    def __init__(self, realtime: bool = True):
        self.realtime = realtime
        self.name = "null" if realtime else "null (không chờ)"

    def play(
        self,
        blocks: Iterable[np.ndarray],
        *,
        rate: int,
        start_at: float | None,
        stop: threading.Event,
        label: str = "",
    ) -> PlayResult:
        """Discard the programme, taking real time unless ``realtime=False``."""
        if start_at is not None and self.realtime and not wait_until(start_at, stop):
            return PlayResult(completed=False, seconds=0.0, started_at=None)
        pacer = _Pacer(rate, stop, self.realtime)
        completed = True
        for block in blocks:
            if not pacer.take(len(as_mono(block))):
                completed = False
                break
        completed = completed and not stop.is_set()
        heard = pacer.frames if completed else pacer.heard_frames()
        error_ms, method = clock_error_ms(pacer.started, start_at) if self.realtime else (None, None)
        return PlayResult(completed, heard / rate, pacer.started, error_ms, method)

    def describe(self) -> dict[str, Any]:
        """Kind and whether it runs in real time."""
        return {"name": self.name, "kind": "null", "realtime": self.realtime}

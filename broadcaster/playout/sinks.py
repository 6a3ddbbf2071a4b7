"""Where a programme's audio goes: a sound card, a WAV file per broadcast, or nowhere.

All sinks share one small interface (``Sink.play``) so the player does not care which one it
drives and tests can use a WAV or null sink where no sound card exists.

Timing is the point of ``SoundDeviceSink``: the stream is opened shortly before ``start_at``
and fed silence; the PortAudio callback knows, for each buffer, the moment its first frame
reaches the DAC (``outputBufferDacTime``), maps it to wall-clock time and starts the programme
at the exact frame that will be heard at ``start_at``. A stalled or dead device is detected by
a watchdog (no callback for a while, or the stream stopping by itself) and reported as a
``SinkError`` within about two seconds; the next ``play()`` re-initialises PortAudio, because
PortAudio reads the device list only once.
"""

from __future__ import annotations

import collections
import logging
import re
import threading
import time
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

log = logging.getLogger(__name__)

FADE_SECONDS = 0.03
# Open the sound card this long before start_at: enough for PortAudio/PulseAudio to settle.
PREROLL_SECONDS = 1.0
# No callback for this long (or the stream stopping by itself) means the device is gone.
WATCHDOG_SECONDS = 1.5
MAX_WATCHDOG_SECONDS = 5.0
# Closing a stream on a dead server can block forever; give up on it after this long.
CLOSE_TIMEOUT = 2.0
FAILED_CLOSE_TIMEOUT = 0.4
# Opening/querying a device normally takes well under a second.
CALL_TIMEOUT = 4.0
# How much programme audio the feeder thread may queue ahead of the callback.
MAX_QUEUED_SECONDS = 5.0

_HINT_DEVICES = "Kiểm tra dây loa/amply đã cắm chưa, rồi chạy 'broadcaster devices' để xem danh sách."


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
    """What happened to one play() call."""

    completed: bool  # False when stopped before the end
    seconds: float  # programme audio actually played
    started_at: float | None  # wall time the first sample was (estimated) audible; None if never


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

    def describe(self) -> dict:
        """A small dict for status pages and logs."""
        return {"name": self.name}

    def close(self) -> None:
        """Release whatever the sink holds."""


# ---------------------------------------------------------------------------------------
# helpers shared by the sinks


def _as_mono(block) -> np.ndarray:
    a = np.asarray(block, dtype=np.float32)
    if a.ndim == 2:
        a = a.mean(axis=1, dtype=np.float32)
    return a.reshape(-1)


def _wait_until(deadline: float, stop: threading.Event) -> bool:
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


def slugify(label: str, max_len: int = 40) -> str:
    """ASCII file-name slug of a (Vietnamese) label: 'Thông báo tiêm phòng' → 'thong-bao-tiem-phong'."""
    text = label.replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return text[:max_len].rstrip("-") or "phat"


# ---------------------------------------------------------------------------------------
# WAV and null sinks


class WavSink(Sink):
    """Writes each play() to ``<YYYYmmdd-HHMMSS>-<label-slug>.wav`` in ``directory`` (16-bit mono).

    Waits until ``start_at`` like a real card, then writes as fast as blocks arrive.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.name = f"wav:{self.directory}"
        self.last_path: Path | None = None

    def _target(self, started: float, label: str) -> Path:
        stamp = datetime.fromtimestamp(started).strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{slugify(label)}"
        path = self.directory / f"{base}.wav"
        n = 2
        while path.exists():
            path = self.directory / f"{base}-{n}.wav"
            n += 1
        return path

    def play(self, blocks, *, rate, start_at, stop, label=""):
        import soundfile as sf

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(
                f"Không tạo được thư mục ghi âm thanh '{self.directory}'. Kiểm tra đường dẫn và quyền ghi.",
                str(exc),
            ) from exc
        if start_at is not None and not _wait_until(start_at, stop):
            return PlayResult(completed=False, seconds=0.0, started_at=None)
        started = time.time()
        path = self._target(started, label)
        frames = 0
        completed = True
        try:
            with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as f:
                it = iter(blocks)
                for block in it:
                    if stop.is_set():
                        completed = False
                        break
                    a = _as_mono(block)
                    f.write(np.clip(a, -1.0, 1.0))
                    frames += len(a)
                if completed and stop.is_set():
                    completed = False
        except OSError as exc:
            raise SinkError(f"Không ghi được tệp âm thanh '{path}'. Kiểm tra ổ đĩa còn chỗ trống và quyền ghi.", str(exc)) from exc
        except sf.SoundFileError as exc:
            raise SinkError(f"Không ghi được tệp âm thanh '{path}'.", str(exc)) from exc
        self.last_path = path
        log.info("WAV: đã ghi %s (%.1f s)", path, frames / rate)
        return PlayResult(completed=completed, seconds=frames / rate, started_at=started)

    def describe(self) -> dict:
        return {"name": self.name, "kind": "wav", "directory": str(self.directory),
                "last_file": str(self.last_path) if self.last_path else None}


class NullSink(Sink):
    """Consumes the audio and discards it; with ``realtime`` it takes as long as a card would."""

    def __init__(self, realtime: bool = True):
        self.realtime = realtime
        self.name = "null" if realtime else "null (không chờ)"

    def play(self, blocks, *, rate, start_at, stop, label=""):
        if start_at is not None and self.realtime and not _wait_until(start_at, stop):
            return PlayResult(completed=False, seconds=0.0, started_at=None)
        started = time.time()
        frames = 0
        for block in blocks:
            frames += len(_as_mono(block))
            if self.realtime:
                _wait_until(started + frames / rate, stop)
            if stop.is_set():
                # in real time, only what the clock let through was "heard"
                heard = min(frames / rate, time.time() - started) if self.realtime else frames / rate
                return PlayResult(completed=False, seconds=heard, started_at=started)
        return PlayResult(completed=True, seconds=frames / rate, started_at=started)

    def describe(self) -> dict:
        return {"name": self.name, "kind": "null", "realtime": self.realtime}


# ---------------------------------------------------------------------------------------
# sound card through PortAudio

_pa_busy = threading.Lock()  # held by whichever thread is inside a PortAudio control call
_pa_doing = ""  # that call, for error details
_pa_dirty = False  # a stream failed or a device was missing: re-initialise before the next use

_HUNG = (
    "Hệ thống âm thanh không phản hồi (card âm thanh hoặc dịch vụ âm thanh PulseAudio/PipeWire bị treo). "
    "Kiểm tra card âm thanh và amply; nếu vẫn lỗi, khởi động lại dịch vụ âm thanh hoặc khởi động lại máy."
)


def _sd():
    """Import sounddevice (initialises PortAudio) with a Vietnamese error if PortAudio is missing."""
    try:
        import sounddevice as sd
    except OSError as exc:  # libportaudio2 not installed
        raise SinkError(
            "Không tải được thư viện âm thanh PortAudio. Cài gói 'libportaudio2' (sudo apt install libportaudio2).",
            str(exc),
        ) from exc
    return sd


def _mark_dirty() -> None:
    global _pa_dirty
    _pa_dirty = True


def _portaudio(fn, what: str, timeout: float = CALL_TIMEOUT):
    """Run one PortAudio control call on its own thread, one at a time, waiting at most ``timeout``.

    A call into a hung sound server can block forever. Such a call is abandoned, but it keeps
    the lock until it returns, so PortAudio is never entered twice at once (that corrupts its
    memory) and later calls fail fast with a clear message instead of hanging.
    """
    global _pa_doing
    t0 = time.monotonic()
    if not _pa_busy.acquire(timeout=timeout):
        raise SinkError(_HUNG, f"PortAudio still busy with {_pa_doing!r} after {timeout} s")
    _pa_doing = what
    box: dict = {}
    done = threading.Event()

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc
        finally:
            _pa_busy.release()
            done.set()

    threading.Thread(target=target, name=f"portaudio-{what}", daemon=True).start()
    if not done.wait(max(0.05, timeout - (time.monotonic() - t0))):
        _mark_dirty()
        raise SinkError(_HUNG, f"{what} did not return within {timeout} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _reinitialise_unlocked(sd) -> None:
    """Restart PortAudio so it sees devices (and sound servers) that came back."""
    global _pa_dirty
    try:
        sd._terminate()
    except Exception:  # noqa: BLE001 - already terminated is fine
        pass
    sd._initialize()
    _pa_dirty = False
    log.info("Đã khởi động lại PortAudio để dò lại thiết bị âm thanh")


def _devices_unlocked(sd) -> list[dict]:
    if _pa_dirty:
        _reinitialise_unlocked(sd)
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise SinkError("Không đọc được danh sách thiết bị âm thanh.", str(exc)) from exc
    try:
        default_out = sd.query_devices(kind="output")["index"]
    except (sd.PortAudioError, ValueError, KeyError, TypeError):
        default_out = -1
    out = []
    for dev in devices:
        if dev["max_output_channels"] <= 0:
            continue
        out.append(
            {
                "index": dev["index"],
                "name": dev["name"],
                "hostapi": hostapis[dev["hostapi"]]["name"],
                "channels": dev["max_output_channels"],
                "default": dev["index"] == default_out,
                "default_samplerate": dev["default_samplerate"],
            }
        )
    if not out:
        _mark_dirty()  # a card or sound server may appear later; look again next time
    return out


def list_devices() -> list[dict]:
    """Output devices: index, name, hostapi, channels, default (bool), default_samplerate."""
    sd = _sd()
    return _portaudio(lambda: _devices_unlocked(sd), "query-devices")


def _find_device(spec: str | int | None, devices: list[dict]) -> dict:
    """Pick the output device for ``spec`` (None = default, int = index, str = name substring)."""
    try:
        return _match_device(spec, devices)
    except SinkError:
        _mark_dirty()  # it may be plugged in (or its sound server started) before the next try
        raise


def _match_device(spec: str | int | None, devices: list[dict]) -> dict:
    """The device for ``spec`` among ``devices``, or a SinkError the operator understands."""
    if not devices:
        raise SinkError(
            "Không thấy thiết bị phát âm thanh nào trên máy. Kiểm tra card âm thanh (hoặc USB sound) đã cắm, "
            "dây loa/amply đã nối, dịch vụ âm thanh (PulseAudio/PipeWire) đang chạy; rồi chạy 'broadcaster devices'."
        )
    if spec is None or (isinstance(spec, str) and spec.strip() == ""):
        for dev in devices:
            if dev["default"]:
                return dev
        return devices[0]
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        idx = int(spec)
        for dev in devices:
            if dev["index"] == idx:
                return dev
        raise SinkError(f"Không tìm thấy thiết bị âm thanh '{spec}'. {_HINT_DEVICES}", f"no output device with index {idx}")
    wanted = spec.strip().casefold()
    exact = [d for d in devices if d["name"].casefold() == wanted]
    if exact:
        return exact[0]
    matches = [d for d in devices if wanted in d["name"].casefold()]
    if not matches:
        raise SinkError(f"Không tìm thấy thiết bị âm thanh '{spec}'. {_HINT_DEVICES}", "no output device name contains it")
    if len(matches) > 1:
        log.warning("Có %d thiết bị khớp '%s'; dùng '%s'", len(matches), spec, matches[0]["name"])
    return matches[0]


class _Feeder:
    """Pulls programme blocks on its own thread so a slow block never stalls the audio callback."""

    def __init__(self, blocks: Iterable[np.ndarray], ratio: float, stop: threading.Event, rate: int):
        self._it: Iterator = iter(blocks)
        self._ratio = ratio  # device rate / programme rate
        self._stop = stop
        self._rate = rate
        self._queue: collections.deque[np.ndarray] = collections.deque()
        self._head = 0  # samples already consumed from the first queued array
        self._queued = 0
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self.exhausted = False
        self.error: BaseException | None = None
        self._cancel = threading.Event()
        self._resample_pos = 0.0
        self._resample_last = np.zeros(1, dtype=np.float32)
        self.thread = threading.Thread(target=self._run, name="sink-feeder", daemon=True)
        self.thread.start()

    def _resample(self, a: np.ndarray) -> np.ndarray:
        # Linear interpolation, continuous across blocks; only used when the card refuses the
        # programme's rate (PulseAudio/dmix resample themselves, so this is the rare hw: case).
        if self._ratio == 1.0 or len(a) == 0:
            return a
        src = np.concatenate([self._resample_last, a])
        step = 1.0 / self._ratio
        positions = np.arange(self._resample_pos, len(src) - 1, step)
        out = np.interp(positions, np.arange(len(src)), src).astype(np.float32)
        self._resample_pos = (positions[-1] + step - (len(src) - 1)) if len(positions) else self._resample_pos - len(a)
        self._resample_last = src[-1:]
        return out

    def _run(self) -> None:
        try:
            for block in self._it:
                a = self._resample(_as_mono(block))
                with self._room:
                    while self._queued > MAX_QUEUED_SECONDS * self._rate and not self._cancel.is_set():
                        self._room.wait(0.1)
                    if self._cancel.is_set():
                        return
                    if len(a):
                        self._queue.append(a)
                        self._queued += len(a)
                if self._stop.is_set() or self._cancel.is_set():
                    return
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
                out[n:n + take] = first[self._head:self._head + take]
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
        return bool(self._queue)

    def drained(self) -> bool:
        return self.exhausted and not self._queue

    def cancel(self) -> None:
        self._cancel.set()
        with self._room:
            self._room.notify_all()


class _Playback:
    """State shared between play() and the PortAudio callback."""

    def __init__(self, feeder: _Feeder, rate: int, channels: int, start_at: float | None, stop: threading.Event):
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

    def _dac_wall(self, time_info) -> float:
        now = time.time()
        current = time_info.currentTime
        dac = time_info.outputBufferDacTime
        if current and dac:
            # The callback runs a little after currentTime; the smallest difference seen is the
            # truest clock offset (stream clocks are monotonic or realtime depending on host API).
            diff = now - current
            if self.offset is None or diff < self.offset:
                self.offset = diff
            return dac + self.offset
        return now + self.latency

    def callback(self, outdata, frames, time_info, status) -> None:  # PortAudio thread
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
            pos = 0  # where the programme's samples begin in this buffer
            if self.started_at is None:
                pos = frames
                if self.stop.is_set():
                    self.stopped = True
                    self.finished.set()
                    outdata.fill(0.0)
                    return
                lead = 0 if self.start_at is None else int(round((self.start_at - dac_wall) * self.rate))
                # A late first block (speech still rendering) starts late rather than with a hole.
                if lead < frames and (self.feeder.has_data() or self.feeder.exhausted):
                    pos = max(0, lead)
                    self.started_at = dac_wall + pos / self.rate
            if self.started_at is not None and pos < frames:
                n = self.feeder.read(mono[pos:])
                end = pos + n
                if self.fade_left is None and (self.stop.is_set() or self.feeder.error is not None):
                    self.fade_left = self.fade_len
                if self.fade_left is not None:
                    k = min(self.fade_left, n)
                    ramp = np.arange(self.fade_left, self.fade_left - k, -1, dtype=np.float32) / self.fade_len
                    mono[pos:pos + k] *= ramp
                    mono[pos + k:] = 0.0
                    self.fade_left -= k
                    self.frames += k
                    if self.fade_left <= 0 or k < n or n == 0:
                        self.stopped = self.stop.is_set()
                        self.end_at = dac_wall + (pos + k) / self.rate
                        self.finished.set()
                else:
                    self.frames += n
                    if end < frames:
                        if self.feeder.drained():
                            self.end_at = dac_wall + end / self.rate
                            self.finished.set()
                        else:
                            self.gaps += 1
            if self.channels > 1:
                outdata[:] = mono[:, None]
            else:
                outdata[:, 0] = mono
        except BaseException as exc:  # noqa: BLE001 - never let an exception kill the audio thread silently
            self.error = exc
            outdata.fill(0.0)
            self.finished.set()


class SoundDeviceSink(Sink):
    """A sound card through PortAudio (ALSA, PulseAudio via ALSA, …), chosen by index or name substring.

    ``latency`` is the device buffer; it does not change *when* the programme is heard (the
    start is placed by DAC time), only how much CPU hiccup the stream survives. The default
    100 ms keeps a busy 2-core machine from underrunning while speech is being rendered.
    """

    def __init__(self, device: str | int | None = None, rate: int = 48000, latency: float | str = 0.1, channels: int = 2):
        self.device_spec = device
        self.rate = rate
        self.latency = latency
        self.channels = channels
        self.plays = 0
        self.failures = 0
        # A missing card at start-up is not fatal: the daemon must run and keep trying at
        # every broadcast (each failure logged), so the device is looked up again in play().
        self._device: dict | None = None
        self.name = f"{device if device is not None else 'loa mặc định'} (chưa tìm thấy)"
        try:
            sd = _sd()
            self._device = _portaudio(lambda: _find_device(device, _devices_unlocked(sd)), "find-device")
            self.name = f"{self._device['name']} ({self._device['hostapi']})"
        except SinkError as exc:
            log.warning("%s", exc)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "kind": "sounddevice",
            "device": self.device_spec,
            "index": self._device["index"] if self._device else None,
            "rate": self.rate,
            "latency": self.latency,
            "plays": self.plays,
            "failures": self.failures,
        }

    def _prepare_unlocked(self, sd, rate: int) -> int:
        """Find the device again (indices change after re-initialisation); return the rate to open at."""
        self._device = _find_device(self.device_spec, _devices_unlocked(sd))
        self.name = f"{self._device['name']} ({self._device['hostapi']})"
        try:
            sd.check_output_settings(device=self._device["index"], samplerate=rate, dtype="float32",
                                     channels=self._channels())
            return rate
        except sd.PortAudioError:
            dev_rate = int(self._device["default_samplerate"])
            log.warning("Thiết bị '%s' không hỗ trợ %d Hz; phát ở %d Hz", self.name, rate, dev_rate)
            return dev_rate

    def _channels(self) -> int:
        return max(1, min(self.channels, self._device["channels"]))

    def _open_unlocked(self, sd, state: _Playback):
        stream = sd.OutputStream(
            device=self._device["index"],
            samplerate=state.rate,
            channels=state.channels,
            dtype="float32",
            latency=self.latency,
            blocksize=max(64, state.rate // 100),  # 10 ms callbacks: little Python work per second
            callback=state.callback,
        )
        state.latency = float(stream.latency)
        try:
            stream.start()
        except BaseException:
            stream.close(ignore_errors=True)
            raise
        return stream

    def play(self, blocks, *, rate, start_at, stop, label=""):
        sd = _sd()
        if start_at is not None and start_at - time.time() > PREROLL_SECONDS:
            if not _wait_until(start_at - PREROLL_SECONDS, stop):
                return PlayResult(completed=False, seconds=0.0, started_at=None)
        try:
            dev_rate = _portaudio(lambda: self._prepare_unlocked(sd, rate), "find-device")
        except SinkError:
            self.failures += 1
            raise
        feeder = _Feeder(blocks, dev_rate / rate, stop, dev_rate)
        state = _Playback(feeder, dev_rate, self._channels(), start_at, stop)
        try:
            stream = _portaudio(lambda: self._open_unlocked(sd, state), "open-stream")
        except Exception as exc:  # noqa: BLE001 - PortAudioError, an ALSA failure or a hung server
            feeder.cancel()
            _mark_dirty()
            self.failures += 1
            if isinstance(exc, SinkError):
                raise
            raise SinkError(f"Không mở được thiết bị âm thanh '{self.name}'. {_HINT_DEVICES}", str(exc)) from exc
        self.plays += 1
        try:
            self._supervise(stream, state)
        except SinkError:
            feeder.cancel()
            self.failures += 1
            _mark_dirty()
            self._close(stream, FAILED_CLOSE_TIMEOUT)
            raise
        feeder.cancel()
        self._close(stream, CLOSE_TIMEOUT)
        if feeder.error is not None:
            raise feeder.error
        if state.gaps:
            log.warning("'%s': %d lần chương trình chưa sẵn sàng, đã chèn khoảng lặng", label or "phát", state.gaps)
        if state.underflows:
            log.warning("'%s': %d lần thiếu dữ liệu (underflow) trên thiết bị", self.name, state.underflows)
        completed = not state.stopped and feeder.drained()
        seconds = state.frames / dev_rate
        if completed and state.started_at is not None and seconds > 2.0:
            # A device that swallows audio faster than real time (a sound server gone and its
            # client running free) has not played anything: never log that as 'played'.
            took = time.time() - state.started_at
            if took < 0.5 * seconds:
                self.failures += 1
                _mark_dirty()
                raise SinkError(
                    f"Thiết bị âm thanh '{self.name}' không phát theo thời gian thực "
                    f"({seconds:.0f} giây âm thanh trôi qua trong {took:.1f} giây): có thể dịch vụ âm thanh đã dừng. "
                    f"{_HINT_DEVICES}",
                    "consumed faster than real time",
                )
        return PlayResult(completed=completed, seconds=seconds, started_at=state.started_at)

    def _lost(self, state: _Playback, stream, where: str) -> SinkError:
        silent = time.monotonic() - state.last_callback
        return SinkError(
            f"Mất kết nối với thiết bị âm thanh '{self.name}' {where} (card âm thanh bị rút, "
            f"amply/loa mất kết nối hoặc dịch vụ âm thanh bị tắt). {_HINT_DEVICES} "
            "Lần phát sau sẽ tự thử kết nối lại.",
            f"no audio callback for {silent:.1f} s, stream active={stream.active}",
        )

    def _supervise(self, stream, state: _Playback) -> None:
        """Wait until the programme has been heard; raise SinkError if the device dies meanwhile."""
        # Bounded: a device reporting an absurd latency must not make the watchdog blind.
        watchdog = min(MAX_WATCHDOG_SECONDS, max(WATCHDOG_SECONDS, 4 * state.latency))
        ready_since: float | None = None  # wall time the programme's first samples were queued

        def dead() -> bool:
            return time.monotonic() - state.last_callback > watchdog or not stream.active

        while not state.finished.wait(0.05):
            if state.feeder.error is not None and state.started_at is None:
                return  # nothing audible yet; play() re-raises the programme's error
            if dead():
                raise self._lost(state, stream, "khi đang phát")
            # Callbacks that keep coming while the start never happens mean the device clock
            # is frozen (a stalled sound server): fail now, never wait on it forever.
            if state.started_at is None and (state.feeder.has_data() or state.feeder.exhausted):
                now = time.time()
                ready_since = ready_since or now
                due = max(ready_since, state.start_at or 0.0)
                if now - due > watchdog:
                    raise self._lost(state, stream, "lúc bắt đầu (đồng hồ thiết bị âm thanh không chạy)")
        if state.error is not None:
            raise SinkError(f"Lỗi khi phát trên '{self.name}'.", repr(state.error))
        # The last sample is still in the device's buffer: wait until it has been heard.
        if state.end_at is not None:
            deadline = time.monotonic() + min(max(0.0, state.end_at - time.time()), 10.0) + 0.02
            while time.monotonic() < deadline:
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
                if dead():
                    raise self._lost(state, stream, "ở cuối bản tin")

    def _close(self, stream, timeout: float) -> None:
        def close():
            stream.abort(ignore_errors=True)
            stream.close(ignore_errors=True)

        try:
            _portaudio(close, "close-stream", timeout)
        except SinkError as exc:  # a stuck close must not hang the player; the next play() reports it
            _mark_dirty()
            log.warning("Không đóng được luồng âm thanh: %s", exc.detail)


def open_sink(spec: str | int | None) -> Sink:
    """None → default sound card; "wav:DIR" → WavSink; "null" → NullSink; int or name substring → SoundDeviceSink."""
    if isinstance(spec, str):
        s = spec.strip()
        if s.lower().startswith("wav:"):
            directory = s[4:].strip()
            if not directory:
                raise SinkError("Thiếu thư mục cho 'wav:'. Ví dụ: wav:./ban-ghi")
            return WavSink(Path(directory).expanduser())
        if s.lower() in ("null", "none", "khong"):
            return NullSink()
        if s == "":
            return SoundDeviceSink(None)
    return SoundDeviceSink(spec)

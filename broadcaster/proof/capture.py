"""Record a monitor input (what the loudspeakers get), each sample mapped to wall-clock time.

Two paths:

* a PulseAudio/PipeWire **source** (a sink's monitor such as ``pa_out.monitor``, or a line-in /
  microphone source): ``parec``, robust and independent of PortAudio in this process;
* an **ALSA capture device** through PortAudio (``sounddevice.InputStream``), by index or name.

Wall time: every chunk is stamped on arrival, and ``arrival - samples_so_far / rate`` is an
upper bound of when sample 0 was captured; the smallest such value over the whole recording
(the lower envelope) removes the delivery delay down to about one scheduler wake-up, as
``tests/support/pulse.py`` and :mod:`broadcaster.playout.monitor` do. A sink's monitor shows a block when
the sink renders it, i.e. up to one server block (5–10 ms) *before* a loudspeaker would play
it, so a delay measured on a monitor source reads up to that much early; on a line-in or a
microphone the capture path's own buffering is removed the same way. ``tests/proof`` checks
the mapping against the test recorder of ``tests/support/pulse.py`` on the same source (within 5 ms).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from broadcaster.playout.monitor import stop_recorder

F32Array = npt.NDArray[np.float32]

PAREC_LATENCY_MSEC = 10
START_TIMEOUT = 2.0

HINT = "Chạy 'broadcaster devices' để xem các đầu vào theo dõi (monitor) mà máy nhìn thấy."


class CaptureError(Exception):
    """The monitor input cannot be recorded; ``str()`` is Vietnamese for the operator."""

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message} (chi tiết kỹ thuật: {self.detail})" if self.detail else self.message


def pulse_sources(timeout: float = 2.0) -> list[str]:
    """Names of the PulseAudio/PipeWire sources (``pactl list short sources``); [] when none/unreachable."""
    if shutil.which("pactl") is None:
        return []
    try:
        out = subprocess.run(
            ["pactl", "list", "short", "sources"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if out.returncode != 0:
        return []
    return [cols[1] for line in out.stdout.splitlines() if len(cols := line.split("\t")) > 1]


def parse_device(spec: str) -> tuple[str, str]:
    """("pulse" | "alsa", name) for a monitor spec: ``monitor:pa_out.monitor``, ``pulse:X``, ``alsa:hw:1``, ``2``."""
    s = spec.strip()
    if s.lower().startswith("monitor:"):
        s = s[len("monitor:") :].strip()
    kind, sep, rest = s.partition(":")
    if sep and kind.lower() in ("pulse", "alsa"):
        return kind.lower(), rest.strip()
    if s.endswith(".monitor") or s.startswith("@") or s in pulse_sources():
        return "pulse", s
    return "alsa", s


class _Chunks:
    """Captured chunks (at the device rate) and the lower envelope of sample 0's wall time."""

    def __init__(self, rate: int, keep_frames: int | None = None):
        self.rate = rate
        self.keep_frames = keep_frames  # older chunks are dropped (a capture that runs for days)
        self.lock = threading.Lock()
        self.chunks: list[F32Array] = []
        self.kept = 0
        self.frames = 0
        self.t0: float | None = None

    def add(self, data: F32Array, arrived: float) -> None:
        with self.lock:
            self.chunks.append(data)
            self.frames += len(data)
            self.kept += len(data)
            while self.keep_frames is not None and self.kept - len(self.chunks[0]) >= self.keep_frames:
                self.kept -= len(self.chunks.pop(0))
            t0 = arrived - self.frames / self.rate
            if self.t0 is None or t0 < self.t0:
                self.t0 = t0

    def tail(self, frames: int) -> tuple[F32Array, int]:
        """The last ``frames`` samples (or fewer) and the index of the first one returned."""
        with self.lock:
            picked: list[F32Array] = []
            n = 0
            for chunk in reversed(self.chunks):
                if n >= frames:
                    break
                picked.append(chunk)
                n += len(chunk)
            total = self.frames
        data = np.concatenate(picked[::-1]) if picked else np.zeros(0, np.float32)
        data = data[max(0, len(data) - frames) :]
        return data, total - len(data)


class MonitorCapture:
    """Records a monitor input at ``rate`` (mono float32); ``start()`` … ``stop() -> (samples, t0_wall)``.

    ``device``: ``pulse:<source>`` or ``alsa:<index or name>``; without a prefix a name ending in
    ``.monitor`` or listed by ``pactl list short sources`` is a PulseAudio source, anything else
    a PortAudio input (the ``monitor:`` prefix of the station's spec may be left on).
    """

    def __init__(self, device: str, rate: int = 48000, keep_s: float | None = None):
        self.device = device
        self.rate = rate
        self.keep_s = keep_s  # keep only the newest seconds (for a capture that never stops)
        self.kind, self.name = parse_device(device)
        self.method = f"monitor:{self.name}" if self.kind == "pulse" else f"monitor:alsa:{self.name}"
        self.failed: str | None = None  # why the capture stopped early (Vietnamese), if it did
        self._proc: subprocess.Popen[bytes] | None = None
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._buf = self._chunks(rate)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start recording; returns once data flows. Raises :class:`CaptureError` (Vietnamese)."""
        if not self.name:
            raise CaptureError(f"Chưa ghi tên đầu vào theo dõi sau 'monitor:'. {HINT}")
        self._buf = self._chunks(self.rate)  # a capture object can record again after stop()
        self.failed = None
        if self.kind == "pulse":
            self._start_parec()
        else:
            self._start_portaudio()
        deadline = time.monotonic() + timeout
        while self._buf.t0 is None:
            if self._proc is not None and self._proc.poll() is not None:
                err = self._stderr()
                self.stop()
                raise CaptureError(f"Không mở được đầu vào theo dõi '{self.name}'. {HINT}", err or None)
            if time.monotonic() > deadline:
                self.stop()
                raise CaptureError(
                    f"Đầu vào theo dõi '{self.name}' không gửi dữ liệu. Kiểm tra thiết bị và dịch vụ âm thanh.",
                    f"no data within {timeout} s",
                )
            time.sleep(0.005)

    def _start_parec(self) -> None:
        if shutil.which("parec") is None:
            raise CaptureError(
                "Chưa cài parec (PulseAudio) để ghi đầu vào theo dõi. "
                "Cài bằng lệnh: sudo apt-get install pulseaudio-utils"
            )
        cmd = ["parec", "-d", self.name, "--raw", "--format=float32le", f"--rate={self.rate}", "--channels=1"]
        cmd += [f"--latency-msec={PAREC_LATENCY_MSEC}", "--client-name=loa-xa-proof-of-play"]
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise CaptureError(f"Không chạy được parec để ghi '{self.name}'.", str(exc)) from exc
        self._thread = threading.Thread(target=self._read_parec, name="proof-capture", daemon=True)
        self._thread.start()

    def _read_parec(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        pending = b""
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            now = time.time()
            if not data:
                break
            data = pending + data
            cut = len(data) - len(data) % 4
            pending = data[cut:]
            if cut:
                self._buf.add(np.frombuffer(data[:cut], dtype="<f4").astype(np.float32), now)
        if self._proc is not None:  # EOF while we did not stop it: the source or server went away
            self.failed = "đầu vào theo dõi ngừng gửi dữ liệu giữa chừng"

    def _start_portaudio(self) -> None:
        from broadcaster.playout.devices import find_input_device
        from broadcaster.playout.host import PortAudioHost
        from broadcaster.playout.sink import SinkError

        host = PortAudioHost.shared()
        try:
            dev = find_input_device(self.name, host)
            self._stream = host.call(lambda: self._open_stream(host, dev), "open-input")
        except SinkError as exc:
            raise CaptureError(f"Không mở được đầu vào theo dõi '{self.name}'. {HINT}", exc.detail or str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - PortAudio errors vary; the operator gets Vietnamese
            raise CaptureError(f"Không mở được đầu vào theo dõi '{self.name}'. {HINT}", str(exc)) from exc

    def _open_stream(self, host: Any, dev: dict[str, Any]) -> Any:
        sd = host.sd
        dev_rate = self.rate
        try:
            sd.check_input_settings(device=dev["index"], channels=1, samplerate=self.rate, dtype="float32")
        except Exception:  # noqa: BLE001 - the device refuses our rate: record at its own, resample later
            dev_rate = int(dev["default_samplerate"])
        self._buf = self._chunks(dev_rate)

        def callback(indata: Any, frames: int, time_info: Any, status: Any) -> None:
            self._buf.add(np.array(indata[:, 0], dtype=np.float32), time.time())

        stream = sd.InputStream(
            device=dev["index"], channels=1, samplerate=dev_rate, dtype="float32", blocksize=480, callback=callback
        )
        stream.start()
        return stream

    @property
    def running(self) -> bool:
        """Recording now (started and not stopped or failed)."""
        if self.failed is not None:
            return False
        if self._proc is not None:
            return self._proc.poll() is None
        return self._stream is not None

    def _chunks(self, rate: int) -> _Chunks:
        return _Chunks(rate, None if self.keep_s is None else int(self.keep_s * rate))

    def again(self, rate: int) -> MonitorCapture:
        """A new capture of the same input at ``rate``, without asking the sound server again."""
        return MonitorCapture(f"{self.kind}:{self.name}", rate)

    def stop(self) -> tuple[F32Array, float]:
        """Stop recording; (mono float32 samples at ``rate``, wall time of sample 0)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_recorder(proc, self._thread)
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001, S110 - closing a dead device; nothing left to save
                pass
        samples, first = self._buf.tail(self._buf.frames)
        t0 = self._buf.t0 + first / self._buf.rate if self._buf.t0 is not None else float("nan")
        return self._at_rate(samples), t0

    def _stderr(self) -> str:
        proc = self._proc
        if proc is None or proc.stderr is None:
            return ""
        try:
            return proc.stderr.read(2000).decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""

    # -- reading while it records ---------------------------------------------------------------
    def _at_rate(self, x: F32Array) -> F32Array:
        if self._buf.rate == self.rate:
            return x
        from broadcaster.speech.resample import resample

        return resample(x, self._buf.rate, self.rate)

    def recorded_until(self) -> float | None:
        """Wall time just after the newest recorded sample, once anything arrived."""
        t0 = self._buf.t0
        return None if t0 is None else t0 + self._buf.frames / self._buf.rate

    def since(self, wall_from: float) -> tuple[F32Array, float] | None:
        """Samples (at ``rate``) from wall time ``wall_from`` to now, and the wall time of the first."""
        t0, until = self._buf.t0, self.recorded_until()
        if t0 is None or until is None or until <= wall_from:
            return None
        frames = int((until - max(wall_from, t0)) * self._buf.rate) + 1
        data, first = self._buf.tail(frames)
        return self._at_rate(data), t0 + first / self._buf.rate

    def wait_until_recorded(self, wall: float, timeout: float) -> bool:
        """Wait until samples up to wall time ``wall`` are in (at most ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            until = self.recorded_until()
            if until is not None and until >= wall:
                return True
            if self._proc is not None and self._proc.poll() is not None:
                return False
            time.sleep(0.01)
        return False

"""Measure when a start was really heard, from the sound server's monitor of the sink.

PortAudio's DAC time sees ALSA's buffer but not the sound server's: behind the ALSA ``pulse``
plugin, PulseAudio/PipeWire queue the stream again and may grow that queue after underruns
(issue 16: +52 ms at the sink while the DAC estimate said +0). The monitor source carries what
the sink actually rendered, so recording it with ``parec`` around the start and finding the
programme's first loud sample gives a start time the log can stand behind. Samples are mapped
to wall time like ``tests/support/pulse.py`` does (lower envelope of chunk arrival times); the monitor
shows a block when the sink renders it, i.e. at most one monitor block (10 ms) before a
loudspeaker on that sink would — the figures in ``bench`` quantify that bias.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import numpy as np

RATE = 48000
# Small monitor blocks keep the precision; the server renders in blocks this long meanwhile.
BLOCK_MSEC = 10
ONSET_DBFS = -40.0


def stop_recorder(proc: subprocess.Popen[bytes], reader: threading.Thread | None) -> None:
    """Stop a recording process (``parec``) by its own pid, killing it after 2 s; join its reader; close its pipes."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=2)
    if reader is not None:
        reader.join(timeout=2)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def monitor_source() -> str:
    """The monitor of the sink our stream goes to (``PULSE_SINK``), else of the default sink."""
    sink = os.environ.get("PULSE_SINK", "").strip()
    return f"{sink}.monitor" if sink else "@DEFAULT_MONITOR@"


class MonitorProbe:
    """``parec`` on the sink's monitor, started before the start and stopped once it is heard."""

    def __init__(self, source: str | None = None, rate: int = RATE):
        self.source = source or monitor_source()
        self.rate = rate
        self.why_not: str | None = None  # why it could not measure (Vietnamese)
        self._proc: subprocess.Popen[bytes] | None = None
        self._chunks: list[bytes] = []
        self._nbytes = 0
        self._t0: float | None = None  # wall time of sample 0 (lower envelope)
        self._thread: threading.Thread | None = None

    @staticmethod
    def available() -> bool:
        """A PulseAudio/PipeWire client (``parec``) exists and a server seems configured."""
        return shutil.which("parec") is not None

    def start(self) -> bool:
        """Start recording; False (with ``why_not``) when the monitor cannot be opened."""
        try:
            self._proc = subprocess.Popen(
                [
                    "parec",
                    "-d",
                    self.source,
                    "--raw",
                    "--format=float32le",
                    f"--rate={self.rate}",
                    "--channels=1",
                    f"--latency-msec={BLOCK_MSEC}",
                    "--client-name=loa-xa-start-probe",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            self.why_not = f"không chạy được parec ({exc})"
            return False
        self._thread = threading.Thread(target=self._read, name="start-probe", daemon=True)
        self._thread.start()
        return True

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            now = time.time()
            if not data:
                break
            self._chunks.append(data)
            self._nbytes += len(data)
            # A chunk arrives after its last sample was rendered: the smallest such value is
            # the least-delayed observation of when sample 0 was rendered.
            t0 = now - (self._nbytes // 4) / self.rate
            if self._t0 is None or t0 < self._t0:
                self._t0 = t0

    def recorded_until(self) -> float | None:
        """Wall time of the newest recorded sample, once anything arrived."""
        return None if self._t0 is None else self._t0 + (self._nbytes // 4) / self.rate

    def wait_until_recorded(self, wall: float, timeout: float) -> bool:
        """Wait until samples up to wall time ``wall`` are in (at most ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            until = self.recorded_until()
            if until is not None and until >= wall:
                return True
            time.sleep(0.01)
        return False

    def stop(self) -> None:
        """Stop parec (by its own pid) and the reader."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_recorder(proc, self._thread)

    def onset_after(self, wall_from: float, wall_to: float) -> float | None:
        """Wall time of the first loud sample between ``wall_from`` and ``wall_to``, or None."""
        if self._t0 is None:
            self.why_not = "màn theo dõi (monitor) của loa không gửi dữ liệu"
            return None
        raw = b"".join(self._chunks)
        x = np.frombuffer(raw[: len(raw) - len(raw) % 4], dtype="<f4")
        a = max(0, int((wall_from - self._t0) * self.rate))
        b = min(len(x), int((wall_to - self._t0) * self.rate) + 1)
        loud = np.flatnonzero(np.abs(x[a:b]) > 10 ** (ONSET_DBFS / 20))
        if loud.size == 0:
            self.why_not = "không nghe thấy chương trình trên màn theo dõi (monitor) của loa"
            return None
        return self._t0 + (a + int(loud[0])) / self.rate

"""A real, private PulseAudio sound card for tests and benchmarks.

``PulseServer`` starts a ``pulseaudio`` daemon with a null sink in a temporary runtime
directory (the machine's own sound setup is never touched). Clients reach it through
``server.env`` (``PULSE_SERVER=unix:…``); PortAudio reaches it through ALSA's pulse plugin,
which the system hook ``/etc/alsa/conf.d/99-pulse.conf`` makes the ALSA ``default`` device
whenever a server answers. PortAudio reads the device list once, at initialisation, so the
server must be up before ``import sounddevice`` in a process that uses it (or PortAudio must
be re-initialised with ``sd._terminate(); sd._initialize()``).

``PulseServer.record()`` captures the sink's monitor with ``parec``: what the sink played,
with each sample mapped to wall-clock time (see ``Recording`` for the precision).

Usage::

    with PulseServer() as pa:
        rec = pa.record()
        subprocess.run([...], env={**os.environ, **pa.env})
        recording = rec.stop()
        onsets = find_onsets(recording.samples, recording.rate)
        wall = recording.t0_wall + onsets[0]
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 48000
# The null sink renders (and shows on its monitor) this far ahead of its own clock; it bounds
# how precisely a recording says when a sample was "played". 5 ms: precise, still cheap.
LATENCY_MS = 5


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the test process dies, even by SIGKILL (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort; atexit still stops servers on a normal exit
        pass


_live_servers: weakref.WeakSet[PulseServer] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_live_servers):
        server.close()


def pulseaudio_available() -> str | None:
    """Return why a private PulseAudio server cannot run here, or None when it can."""
    for tool in ("pulseaudio", "pactl", "parec"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed (apt-get install pulseaudio pulseaudio-utils libasound2-plugins)"
    if not Path("/usr/lib/x86_64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so").exists() and not any(
        Path("/usr/lib").glob("*/alsa-lib/libasound_module_pcm_pulse.so")
    ):
        return "ALSA's pulse plugin is missing (apt-get install libasound2-plugins)"
    return None


class PulseServer:
    """A private PulseAudio daemon with one null sink; a context manager.

    The daemon (and parec) die with the process that started them, even if it is killed:
    Linux ties that to the *thread* that called ``start()``, so start (and ``restart()``)
    from a thread that lives as long as the server, such as the main thread.
    """

    def __init__(self, sink_name: str = "pa_out", rate: int = RATE):
        self.sink_name = sink_name
        self.rate = rate
        self._dir = Path(tempfile.mkdtemp(prefix="loa-pulse-"))
        self.runtime_dir = self._dir / "run"
        self.runtime_dir.mkdir(mode=0o700)
        (self._dir / "home").mkdir()
        self.socket_path = self.runtime_dir / "pulse" / "native"
        self.log_path = self._dir / "pulseaudio.log"
        self._proc: subprocess.Popen | None = None
        self._keeper: subprocess.Popen | None = None
        self._recorders: list[Recorder] = []

    # -- what clients need -------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """Environment variables a client process needs to reach this server (and no other)."""
        return {
            "PULSE_SERVER": f"unix:{self.socket_path}",
            "PULSE_SINK": self.sink_name,
            # Never let a client that lost the server spawn a new one somewhere else.
            "PULSE_CLIENTCONFIG": str(self._client_conf()),
        }

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def _client_conf(self) -> Path:
        path = self._dir / "client.conf"
        if not path.exists():
            path.write_text("autospawn = no\n")
        return path

    def _server_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
        # A private HOME keeps the cookie and state out of the real home directory.
        env.update(XDG_RUNTIME_DIR=str(self.runtime_dir), HOME=str(self._dir / "home"))
        env.pop("XDG_CONFIG_HOME", None)
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        return env

    def pactl(self, *args: str, timeout: float = 3.0) -> subprocess.CompletedProcess:
        """Run ``pactl`` against this server."""
        return subprocess.run(
            ["pactl", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    # -- lifecycle -----------------------------------------------------------
    def start(self, timeout: float = 10.0) -> PulseServer:
        """Start the daemon and wait until it answers with the sink loaded; raise with its log if not."""
        if self.running:
            return self
        cmd = [
            "pulseaudio",
            "--daemonize=no",
            "--system=false",
            "-n",  # no default.pa: nothing but what we load (no suspend-on-idle, no hardware probing)
            "--exit-idle-time=-1",
            "--use-pid-file=no",
            "--realtime=no",
            "--high-priority=no",
            "--log-target=stderr",
            "--log-level=warning",
            "--load=module-native-protocol-unix auth-anonymous=1",
            f"--load=module-null-sink sink_name={self.sink_name} rate={self.rate} channels=2",
        ]
        log = open(self.log_path, "ab")
        try:
            self._proc = subprocess.Popen(
                cmd,
                env=self._server_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a Ctrl+C in the test runner must not reach it first
                preexec_fn=_die_with_parent,
            )
            _live_servers.add(self)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"pulseaudio exited with {self._proc.returncode}:\n{self._log_tail()}")
            if self.socket_path.exists():
                try:
                    sinks = self.pactl("list", "short", "sinks", timeout=2)
                except subprocess.TimeoutExpired:
                    sinks = None
                if sinks is not None and sinks.returncode == 0 and self.sink_name in sinks.stdout:
                    self._start_keeper()
                    self._settle(deadline)
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pulseaudio did not answer within {timeout} s:\n{self._log_tail()}")

    def _start_keeper(self) -> None:
        # An idle null sink renders in 2-second blocks (its maximum latency), so a client's
        # buffer drains in bursts with ~1-2 s pauses and the monitor sees audio up to 2 s
        # early. A real card plays continuously; a monitor reader asking for LATENCY_MS
        # pins the null sink to blocks that small, which makes it behave like one.
        self._keeper = subprocess.Popen(
            [
                "parec",
                "-d",
                f"{self.sink_name}.monitor",
                "--raw",
                "--format=float32le",
                f"--rate={self.rate}",
                "--channels=1",
                f"--latency-msec={LATENCY_MS}",
                "--client-name=loa-xa-test-latency-keeper",
            ],
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )

    def sink_latency(self) -> float | None:
        """The null sink's current latency in seconds (how far its clock runs ahead of now)."""
        out = self.pactl("list", "sinks").stdout
        m = re.search(r"Latency: (\d+) usec", out)
        return int(m.group(1)) / 1e6 if m else None

    def _settle(self, deadline: float) -> None:
        # The null sink rendered a 2-second block before the keeper asked for less; a
        # suspend/resume restarts its clock at "now" instead of waiting ~2 s for it to catch up.
        self.pactl("suspend-sink", self.sink_name, "1")
        self.pactl("suspend-sink", self.sink_name, "0")
        while time.monotonic() < deadline:
            latency = self.sink_latency()
            if latency is not None and latency < 0.1:
                return
            time.sleep(0.05)
        raise RuntimeError(f"null sink latency stayed at {self.sink_latency()} s")

    def kill(self) -> None:
        """Kill the daemon abruptly (SIGKILL), as a crash or an unplugged card would."""
        self._stop(signal.SIGKILL)

    def stop(self) -> None:
        """Stop the daemon by its PID (SIGTERM, then SIGKILL); idempotent."""
        self._stop(signal.SIGTERM)

    def _stop(self, sig: int) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None and keeper.poll() is None:
            keeper.kill()
            keeper.wait(timeout=3)
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=3)

    def restart(self) -> PulseServer:
        """Stop and start again on the same socket path (for fault injection)."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop recorders and the daemon and remove the temporary directory."""
        for rec in list(self._recorders):
            rec.stop()
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)
        _live_servers.discard(self)

    def __enter__(self) -> PulseServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    # -- recording -----------------------------------------------------------
    def load_module(self, name: str, *args: str) -> int:
        """Load a PulseAudio module (e.g. a second null sink, a loopback); return its index."""
        done = self.pactl("load-module", name, *args)
        if done.returncode != 0:
            raise RuntimeError(f"pactl load-module {name} failed: {done.stderr.strip()}")
        return int(done.stdout.strip())

    def unload_module(self, index: int) -> None:
        """Unload a module that :meth:`load_module` loaded."""
        self.pactl("unload-module", str(index))

    def record(self, source: str | None = None) -> Recorder:
        """Start recording the sink's monitor (float32, mono, ``self.rate``); returns when data flows.

        ``source``: another source to record (e.g. a second sink's monitor).
        """
        rec = Recorder(self, source or f"{self.sink_name}.monitor", self.rate)
        self._recorders.append(rec)
        rec.start()
        return rec


@dataclass
class Recording:
    """Samples captured from the monitor.

    ``t0_wall`` is the wall-clock time (``time.time()``) at which sample 0 left the sink,
    estimated as the lower envelope of ``arrival_time - samples_so_far / rate`` over all chunks
    parec delivered: a chunk can only arrive *after* its last sample was rendered, so the
    smallest value is the least-delayed observation (delivery delay removed down to about one
    scheduler wake-up, < 1 ms). The null sink renders in blocks of ``LATENCY_MS`` (5 ms, pinned
    by the server's keeper reader) and posts each block to the monitor when it renders it, i.e.
    up to one block *before* its clock — the clock players' latency reports are based on —
    says the block is heard. So a sample's wall time here is early by 0…5 ms (+/- 1 ms);
    measured: a sink that places its onset exactly at ``start_at`` by its DAC-time estimate
    shows up −4.8 ms here, steadily (``tests/playout/test_sinks.py``).
    """

    samples: np.ndarray
    rate: int
    t0_wall: float

    def wall_time(self, seconds_from_start: float) -> float:
        return self.t0_wall + seconds_from_start

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate

    def __iter__(self):  # allows ``samples, t0 = rec.stop()``
        return iter((self.samples, self.t0_wall))


class Recorder:
    """``parec`` on a monitor source, read by a thread that timestamps every chunk."""

    def __init__(self, server: PulseServer, source: str, rate: int):
        self._server = server
        self.source = source
        self.rate = rate
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._chunks: list[bytes] = []
        self._t0_candidates: list[float] = []
        self._nbytes = 0
        self._first = threading.Event()
        self._result: Recording | None = None

    def start(self, timeout: float = 5.0) -> Recorder:
        self._proc = subprocess.Popen(
            [
                "parec",
                "-d",
                self.source,
                "--raw",
                "--format=float32le",
                f"--rate={self.rate}",
                "--channels=1",
                f"--latency-msec={LATENCY_MS}",
                "--client-name=loa-xa-test-recorder",
            ],
            env={**os.environ, **self._server.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        self._thread = threading.Thread(target=self._read, name="parec-reader", daemon=True)
        self._thread.start()
        if not self._first.wait(timeout):
            err = self._stop_proc()
            raise RuntimeError(f"parec delivered nothing within {timeout} s: {err}")
        return self

    def _read(self) -> None:
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
            self._t0_candidates.append(now - (self._nbytes // 4) / self.rate)
            self._first.set()

    def _stop_proc(self) -> str:
        if self._proc is None:
            return ""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=3)
        if self._thread is not None:
            self._thread.join(timeout=3)
        err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream:
                stream.close()
        return err

    def stop(self) -> Recording:
        """Stop recording; return the samples and the wall time of sample 0."""
        if self._result is not None:
            return self._result
        self._stop_proc()
        if self in self._server._recorders:
            self._server._recorders.remove(self)
        raw = b"".join(self._chunks)
        raw = raw[: len(raw) - len(raw) % 4]
        samples = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        t0 = min(self._t0_candidates) if self._t0_candidates else float("nan")
        self._result = Recording(samples=samples, rate=self.rate, t0_wall=t0)
        return self._result


def find_onsets(
    samples: np.ndarray,
    rate: int,
    threshold_dbfs: float = -40.0,
    min_gap_s: float = 0.5,
) -> list[float]:
    """Seconds from the start where sound begins after at least ``min_gap_s`` of silence.

    A sample is "sound" when its absolute value exceeds ``threshold_dbfs`` (peak, 0 dBFS = 1.0),
    so an onset is located to the sample. The very start counts as preceded by silence.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim > 1:
        x = np.max(np.abs(x), axis=1)
    loud = np.flatnonzero(np.abs(x) > 10 ** (threshold_dbfs / 20))
    if loud.size == 0:
        return []
    min_gap = int(round(min_gap_s * rate))
    gaps = np.diff(loud)
    starts = [int(loud[0])]
    starts += [int(i) for i in loud[1:][gaps > min_gap]]
    return [s / rate for s in starts]


def find_silence_after(
    samples: np.ndarray, rate: int, start_s: float = 0.0, threshold_dbfs: float = -40.0
) -> float | None:
    """Seconds from the start of the last loud sample at or after ``start_s`` (None if none)."""
    x = np.abs(np.asarray(samples, dtype=np.float64))[int(start_s * rate) :]
    loud = np.flatnonzero(x > 10 ** (threshold_dbfs / 20))
    if loud.size == 0:
        return None
    return start_s + int(loud[-1]) / rate


@contextlib.contextmanager
def serving_this_process() -> Iterator[PulseServer]:
    """A private server that PortAudio and parec in *this* process use until the block ends.

    The process's PulseAudio variables are set for the block and restored after it, and
    PortAudio re-reads its device list on both sides (sounddevice may have been imported before).
    """
    from broadcaster.playout import sinks

    saved = {k: os.environ.get(k) for k in ("PULSE_SERVER", "PULSE_SINK", "PULSE_CLIENTCONFIG")}
    server = PulseServer()
    server.start()
    os.environ.update(server.env)
    sinks.PortAudioHost.shared().mark_dirty()
    try:
        yield server
    finally:
        server.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        sinks.PortAudioHost.shared().mark_dirty()

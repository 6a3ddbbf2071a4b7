"""Shared pieces of the benchmarks and the soak: the test helpers (tests.support), a daemon whose log
lines carry their arrival time, statistics, /proc readings and small audio fixtures."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from tests.support import harness, pulse

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"

__all__ = [
    "REPO",
    "TESTS",
    "harness",
    "pulse",
    "TimedDaemon",
    "summary",
    "cpu_seconds",
    "status_kb",
    "machine",
    "busy_processes",
    "write_tone",
    "first_loud",
    "Timer",
    "log",
    "DEBUG_ENTRY",
    "MONITOR_BIAS_MS",
]

#: how early a recording places a sample (tests/support/pulse.py ``Recording``): 0…5 ms, measured −4.8 ms
MONITOR_BIAS_MS = -4.8
ONSET_DBFS = -40.0


class TimedDaemon(harness.Daemon):
    """``harness.Daemon`` whose stderr lines are time-stamped (``time.time()``) on arrival.

    The daemon's own log format has one-second resolution; the arrival time of a line at the
    pipe is what the latency figures use (Python's stderr is unbuffered in the child).
    """

    def __init__(self, *args, entry: list[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stamps: list[float] = []
        self.spawned_at: float | None = None
        self.entry = entry  # command that replaces ``python -m broadcaster.cli``

    def start(self, timeout: float = 30.0) -> TimedDaemon:
        self.spawned_at = time.time()
        if self.entry is None:
            super().start(timeout)
            return self
        saved = harness.BROADCASTER
        harness.BROADCASTER = self.entry  # Daemon.start builds its command from this module constant
        try:
            super().start(timeout)
        finally:
            harness.BROADCASTER = saved
        return self

    def dump_stacks(self, wait: float = 1.0) -> str:
        """Ask a daemon started with ``DEBUG_ENTRY`` for its threads' stacks (SIGUSR1)."""
        import signal

        if self.proc is None or self.proc.poll() is not None:
            return "(daemon not running)"
        mark = len(self.lines)
        self.proc.send_signal(signal.SIGUSR1)
        time.sleep(wait)
        return "\n".join(self.lines[mark:])

    def _read(self) -> None:
        assert self.proc and self.proc.stderr
        for line in self.proc.stderr:
            self.stamps.append(time.time())  # before the line: an index in lines has its stamp
            self.lines.append(line.rstrip("\n"))

    def find(self, needle: str, start: int = 0) -> tuple[int, str, float] | None:
        """First line at or after ``start`` containing ``needle``: (index, line, arrival time)."""
        for i in range(start, len(self.lines)):
            if needle in self.lines[i]:
                return i, self.lines[i], self.stamps[i]
        return None

    def wait_stamped(self, needle: str, timeout: float = 20.0, start: int = 0) -> tuple[int, str, float]:
        """Like ``wait_for`` but returns (index, line, arrival time)."""
        self.wait_for(needle, timeout, start)
        found = self.find(needle, start)
        assert found is not None
        return found

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None


# -- statistics ------------------------------------------------------------------------------


def summary(values, digits: int = 1) -> dict:
    """n, median, p95, p99, max (and min, mean) of ``values``; percentiles interpolate linearly."""
    a = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if a.size == 0:
        return {"n": 0}
    r = lambda x: round(float(x), digits)  # noqa: E731
    return {
        "n": int(a.size),
        "median": r(np.median(a)),
        "p95": r(np.percentile(a, 95)),
        "p99": r(np.percentile(a, 99)),
        "max": r(a.max()),
        "min": r(a.min()),
        "mean": r(a.mean()),
    }


# -- the process, from /proc ---------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def row(metric: str, unit: str, stats: dict, target: str = "", met: bool | None = None) -> dict:
    """One line of a figure's table, as bench/results.json stores it (``met`` None: no target)."""
    return {"metric": metric, "unit": unit, "stats": stats, "target": target, "met": met}


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


def status_kb(pid: int, key: str) -> int | None:
    """A ``kB`` line of /proc/<pid>/status (VmRSS, VmHWM…)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def machine() -> dict:
    """What the figures were measured on."""
    info = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        mem = status_meminfo()
        if mem:
            info["memory_mb"] = mem
    except OSError:
        pass
    return info


def status_meminfo() -> int | None:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return None


def busy_processes(threshold: float = 20.0) -> list[str]:
    """Other processes using more than ``threshold`` % CPU (rough: over their lifetime), for noise notes."""
    out = []
    me = os.getpid()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == me:
            continue
        try:
            stat = (d / "stat").read_text()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            f = stat.rsplit(")", 1)[1].split()
            used = (int(f[11]) + int(f[12])) / CLK_TCK
            start = int(f[19]) / CLK_TCK
            uptime = float(Path("/proc/uptime").read_text().split()[0])
            age = max(1e-3, uptime - start)
            if age > 10 and 100 * used / age > threshold:
                out.append(f"{name}({d.name}) {100 * used / age:.0f}%")
        except (OSError, ValueError, IndexError):
            continue
    return out


# -- audio fixtures ----------------------------------------------------------------------------

#: ``python -m broadcaster.cli`` plus a stack dump of every thread on SIGUSR1 (see ``dump_stacks``):
#: a daemon that stops making progress can then be diagnosed in place instead of only killed.
DEBUG_ENTRY = [
    sys.executable,
    "-c",
    "import faulthandler, signal, sys; faulthandler.register(signal.SIGUSR1, all_threads=True); "
    "from broadcaster.cli import main; sys.exit(main())",
]


def write_tone(path: Path, seconds: float = 0.6, freq: float = 880.0, rate: int = 48000) -> Path:
    """A sine burst that is loud from its first samples (so its onset is sharp), as 16-bit WAV."""
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t + np.pi / 4)  # starts at 0.35: audible at sample 0
    fade = int(0.01 * rate)
    x[-fade:] *= np.linspace(1, 0, fade)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x.astype(np.float32), rate, subtype="PCM_16")
    return path


def first_loud(samples: np.ndarray, rate: int, start_s: float = 0.0, dbfs: float = ONSET_DBFS) -> float | None:
    """Seconds from the start of the first sample above ``dbfs`` at or after ``start_s``."""
    i0 = max(0, int(round(start_s * rate)))
    loud = np.flatnonzero(np.abs(samples[i0:]) > 10 ** (dbfs / 20))
    return None if loud.size == 0 else (i0 + int(loud[0])) / rate


def fmt_ms(x) -> str:
    return "—" if x is None else f"{x:.1f}"


class Timer:
    """``with Timer() as t: …`` then ``t.ms``."""

    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.ms = (time.perf_counter() - self.t0) * 1000


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)

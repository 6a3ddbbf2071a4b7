"""One fake clock for every test: wall and monotonic time that move only when the test says so.

Code under test that *sleeps* (``clock.sleep``) returns at once with the clock moved on. Code that
*waits for an instant* (``clock.wait_until``, e.g. a sink's pre-roll on another thread) blocks until
the test advances the clock there; ``wait_for_waiters`` tells the test that a thread is blocked, so
the test advances exactly when it means to — no real sleeping, no races.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, tzinfo

#: 2026-04-12 13:20 UTC: inside the shipped campaign, far from the real clock on purpose
EPOCH = 1_776_000_000.0
#: how often a waiting thread looks at its stop event (the clock itself wakes it at once)
POLL_S = 0.002


class FakeClock:
    """A settable clock: ``time()``, ``monotonic()``, ``now()``, ``sleep()``, ``advance()``, ``wait_until()``.

    Pass its bound methods where the code takes a clock: ``Player(clock=clock.time)``,
    ``AsRunLog(clock=clock.now)``, ``Metrics(clock=clock.time)``. Safe to use from any thread.
    """

    def __init__(self, start: float = EPOCH) -> None:
        self._start = start
        self._now = start
        self._cond = threading.Condition()
        self._waiters = 0

    def __call__(self) -> float:
        """The wall time, so the clock itself fits a ``Callable[[], float]`` parameter."""
        return self.time()

    def time(self) -> float:
        """Wall time in seconds since the epoch, like :func:`time.time`."""
        with self._cond:
            return self._now

    def monotonic(self) -> float:
        """A monotonic reading that moves with the wall time (never set backwards)."""
        with self._cond:
            return 1000.0 + self._now - self._start

    def now(self, tz: tzinfo = UTC) -> datetime:
        """The wall time as an aware datetime."""
        return datetime.fromtimestamp(self.time(), tz)

    def at(self, seconds: float = 0.0, tz: tzinfo = UTC) -> datetime:
        """The aware datetime ``seconds`` from now (negative: in the past)."""
        return datetime.fromtimestamp(self.time() + seconds, tz)

    def advance(self, seconds: float) -> None:
        """Move the clock forward and wake every thread waiting for an instant now reached."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._cond:
            self._now += seconds
            self._cond.notify_all()

    def advance_to(self, when: float) -> None:
        """Move the clock forward to wall time ``when`` (no-op when already there)."""
        with self._cond:
            self._now = max(self._now, when)
            self._cond.notify_all()

    def sleep(self, seconds: float) -> None:
        """Like :func:`time.sleep`, without the waiting: the clock moves on by ``seconds``."""
        if seconds > 0:
            self.advance(seconds)

    def wait_until(self, deadline: float, stop: threading.Event | None = None, *, timeout: float = 5.0) -> bool:
        """Block until the clock reaches ``deadline`` (True) or ``stop`` is set (False).

        ``timeout`` is real seconds, a safety net for a test that forgot to advance: TimeoutError.
        """
        give_up = time.monotonic() + timeout
        with self._cond:
            self._waiters += 1
            self._cond.notify_all()
            try:
                while self._now < deadline:
                    if stop is not None and stop.is_set():
                        return False
                    if time.monotonic() > give_up:
                        raise TimeoutError(f"the fake clock was not advanced to {deadline} (now {self._now})")
                    self._cond.wait(POLL_S if stop is not None else max(0.0, give_up - time.monotonic()))
                return True
            finally:
                self._waiters -= 1
                self._cond.notify_all()

    def wait_for_waiters(self, n: int = 1, timeout: float = 5.0) -> None:
        """Return once ``n`` threads are blocked in :meth:`wait_until` (AssertionError after ``timeout``)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._waiters >= n, timeout):
                raise AssertionError(f"{self._waiters} thread(s) waiting on the clock, expected {n}")

    @property
    def waiters(self) -> int:
        """How many threads are blocked in :meth:`wait_until` right now."""
        with self._cond:
            return self._waiters

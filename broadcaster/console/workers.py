"""Bounded, low-priority work for the console: heavy jobs, live-status streams, one shared snapshot.

A console user can ask for work that costs real CPU — the reading of a text (the normalizer) or
its rendered voice ("Nghe thử"). The station's first duty is playout, which shares the machine
(two cores on a commune's box), so such work is bounded three ways:

* :class:`HeavyWork` admits at most :data:`HEAVY_SLOTS` jobs station-wide and one per user, and
  turns the rest away at once (429 "đang bận") instead of queueing them;
* its jobs run on its own worker threads whose OS priority is lowered
  (``setpriority(PRIO_PROCESS, <thread id>, 10)`` — Linux applies it per thread and lowering
  needs no privilege), so the playout threads keep their core when both want one;
* a slot is freed when the job has *finished*, not when its request went away, so a client that
  sends and disconnects cannot pile work up behind the limit.

:class:`StreamSlots` caps the live-status streams (server-sent events) per session and in total,
and :class:`StatusCache` makes every stream and poll share one status snapshot per second per
zone scope instead of computing one each.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from fastapi import Request

from broadcaster.console.auth import COOKIE, ConsoleDenied

log = logging.getLogger("broadcaster.console")

T = TypeVar("T")

#: heavy console jobs at once, station-wide (the box has two cores; playout needs one)
HEAVY_SLOTS = 2
#: heavy jobs at once for one user
HEAVY_PER_USER = 1
#: the niceness of the worker threads (0 = playout's; 19 = the lowest)
WORKER_NICE = 10
#: live-status streams at once for one login session, and in total
STREAMS_PER_SESSION = 3
STREAMS_TOTAL = 20
#: how long one status snapshot is shared
SNAPSHOT_SECONDS = 1.0

BUSY_STATION = "Máy đang bận xử lý yêu cầu của người khác — chờ vài giây rồi bấm lại."
BUSY_USER = "Yêu cầu trước của bạn vẫn đang được xử lý — chờ nó xong (vài giây) rồi bấm lại."
TOO_MANY_TABS = (
    "Bạn đang mở quá nhiều trang Tổng quan cùng lúc (tối đa {n}) — đóng bớt các thẻ (tab) rồi tải lại trang này."
)
TOO_MANY_STREAMS = (
    "Đang có quá nhiều người xem Tổng quan trực tiếp (tối đa {n}) — thử lại sau ít phút; "
    "trang vẫn xem được khi bấm tải lại (F5)."
)


def lower_priority(nice: int = WORKER_NICE) -> None:
    """Lower the calling thread's OS scheduling priority to ``nice`` (never raises it back)."""
    if not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, max(current, nice))
    except OSError as exc:  # a sandbox without the call: the job still runs, at normal priority
        log.warning("console worker: cannot lower thread priority (%s)", exc)


class HeavyWork:
    """At most ``slots`` heavy jobs at once (``per_user`` for one user) on low-priority threads."""

    def __init__(self, slots: int = HEAVY_SLOTS, per_user: int = HEAVY_PER_USER, nice: int = WORKER_NICE) -> None:
        self.slots, self.per_user = slots, per_user
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}
        self._pool = ThreadPoolExecutor(
            max_workers=slots, thread_name_prefix="console-heavy", initializer=lower_priority, initargs=(nice,)
        )

    def running(self) -> int:
        with self._lock:
            return sum(self._running.values())

    def submit(self, who: str, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Start ``fn(*args)`` for ``who``, or refuse at once with a 429 :class:`ConsoleDenied`."""
        with self._lock:
            if self._running.get(who, 0) >= self.per_user:
                raise ConsoleDenied(429, BUSY_USER)
            if sum(self._running.values()) >= self.slots:
                raise ConsoleDenied(429, BUSY_STATION)
            self._running[who] = self._running.get(who, 0) + 1
        try:
            future = self._pool.submit(fn, *args)
        except RuntimeError:  # the pool is shut down: the daemon is stopping
            self._done(who)
            raise ConsoleDenied(503, "Phần mềm Loa xã đang dừng — thử lại sau khi nó chạy lại.") from None
        future.add_done_callback(lambda _: self._done(who))
        return future

    def run(self, who: str, fn: Callable[..., T], *args: Any) -> T:
        """:meth:`submit` and wait (for sync routes, which already run on a thread of their own)."""
        return self.submit(who, fn, *args).result()

    async def run_async(self, who: str, fn: Callable[..., T], *args: Any) -> T:
        """:meth:`submit` and await, without holding a thread of the web server meanwhile."""
        return await asyncio.wrap_future(self.submit(who, fn, *args))

    def _done(self, who: str) -> None:
        with self._lock:
            left = self._running.get(who, 0) - 1
            if left > 0:
                self._running[who] = left
            else:
                self._running.pop(who, None)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class StreamSlots:
    """Open live-status streams, counted per login session and in total."""

    def __init__(self, per_session: int = STREAMS_PER_SESSION, total: int = STREAMS_TOTAL) -> None:
        self.per_session, self.total = per_session, total
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}

    def acquire(self, session: str) -> Callable[[], None]:
        """Count one more stream of ``session`` (refused with a 429); returns its release, safe to call twice."""
        with self._lock:
            if self._open.get(session, 0) >= self.per_session:
                raise ConsoleDenied(429, TOO_MANY_TABS.format(n=self.per_session))
            if sum(self._open.values()) >= self.total:
                raise ConsoleDenied(429, TOO_MANY_STREAMS.format(n=self.total))
            self._open[session] = self._open.get(session, 0) + 1
        released = threading.Event()

        def release() -> None:
            if released.is_set():
                return
            released.set()
            with self._lock:
                left = self._open.get(session, 0) - 1
                if left > 0:
                    self._open[session] = left
                else:
                    self._open.pop(session, None)

        return release

    def open_count(self) -> int:
        with self._lock:
            return sum(self._open.values())


class StatusCache:
    """One snapshot per scope, shared for :data:`SNAPSHOT_SECONDS` by every caller of that scope."""

    def __init__(self, seconds: float = SNAPSHOT_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[float, Any]] = {}

    def fresh(self, scope: Hashable) -> Any | None:
        """The shared snapshot of ``scope`` if it is recent enough (no lock, no work), else None."""
        kept = self._kept.get(scope)
        return kept[1] if kept is not None and self.clock() - kept[0] < self.seconds else None

    def get(self, scope: Hashable, make: Callable[[], T]) -> T:
        """The shared snapshot of ``scope``; when stale, one caller makes it and the others wait for it."""
        with self._lock:
            kept = self._kept.get(scope)
            if kept is not None and self.clock() - kept[0] < self.seconds:
                value: T = kept[1]
                return value
            value = make()
            if len(self._kept) > 256:  # zone scopes are few; never grow without bound
                self._kept.clear()
            self._kept[scope] = (self.clock(), value)
            return value


def session_key(request: Request) -> str:
    """A stable, non-secret name of the request's login session (the SHA-256 of its cookie)."""
    return hashlib.sha256(request.cookies.get(COOKIE, "").encode("utf-8", "replace")).hexdigest()


def heavy_work(request: Request) -> HeavyWork:
    """The station's heavy-work pool (made by :func:`install`)."""
    pool: HeavyWork = request.app.state.console_heavy
    return pool


def stream_slots(request: Request) -> StreamSlots:
    slots: StreamSlots = request.app.state.console_streams
    return slots


def status_cache(request: Request) -> StatusCache:
    cache: StatusCache = request.app.state.console_status
    return cache


def install(app: Any) -> None:
    """Give the console app its pool, stream counter and snapshot cache.

    The pool's threads end with the process (an idle one at once, a busy one after its job).
    """
    app.state.console_heavy = HeavyWork()
    app.state.console_streams = StreamSlots()
    app.state.console_status = StatusCache()

"""Hold back a log line repeated over and over, so an error storm cannot fill the disk.

When the process runs out of file descriptors, asyncio logs "socket.accept() out of system
resource … Too many open files" with a traceback on every attempt; an attack review saw the log
grow by 472 MB in 150 s. :class:`RepeatFilter` lets the same message (same logger, level and
text) pass ``burst`` times per window; the rest are counted, and the first one after the window
passes with the count, so a storm costs a few lines a minute. Other lines are never held back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_S = 60.0
BURST = 3
_MAX_KEYS = 512  # distinct messages remembered; a spray of unique lines cannot grow memory


@dataclass
class _Seen:
    since: float
    count: int = 1
    held: int = 0


def _text(record: logging.LogRecord) -> str:
    try:
        text = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format must not break logging
        text = str(record.msg)
    if record.exc_info and record.exc_info[1] is not None:
        text += f" | {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
    return text[:500]


class RepeatFilter(logging.Filter):
    """A handler filter: identical lines beyond ``burst`` per ``window_s`` are counted, not written."""

    def __init__(
        self, window_s: float = WINDOW_S, burst: int = BURST, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.window_s, self.burst, self.clock = window_s, burst, clock
        self._seen: dict[tuple[str, int, str], _Seen] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True  # the station's own information lines (a reload, a broadcast) always pass
        key = (record.name, record.levelno, _text(record))
        with self._lock:
            now = self.clock()
            seen = self._seen.get(key)
            if seen is not None and now - seen.since < self.window_s:
                seen.count += 1
                if seen.count <= self.burst:
                    return True
                seen.held += 1
                return False
            if len(self._seen) >= _MAX_KEYS:
                self._seen = {k: s for k, s in self._seen.items() if now - s.since < self.window_s}
                if len(self._seen) >= _MAX_KEYS:
                    self._seen.clear()
            self._seen[key] = _Seen(now)
        if seen is not None and seen.held:
            record.msg = (
                f"{record.getMessage()} (dòng này lặp lại thêm {seen.held} lần trong "
                f"{round(now - seen.since)} giây qua; đã bỏ bớt để nhật ký không đầy đĩa)"
            )
            record.args = ()
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Put one :class:`RepeatFilter` on each handler of ``logger`` (the root one by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RepeatFilter) for f in handler.filters):
            handler.addFilter(RepeatFilter())

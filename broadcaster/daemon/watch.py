"""Watch ``schedule.yaml`` and ``scripts_vi/`` and call back once per burst of edits.

Editors save in many ways (write in place, write a temp file and rename, delete and
recreate), often as several events in a few milliseconds; a short debounce turns a burst
into one reload. inotify (via watchdog) reports within milliseconds, so a save is live
well within a second.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger("broadcaster.watch")


class _Handler(FileSystemEventHandler):
    def __init__(self, relevant: Callable[[Path], bool], poke: Callable[[Path], None]) -> None:
        self._relevant = relevant
        self._poke = poke

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                path = Path(raw if isinstance(raw, str) else raw.decode())
                if self._relevant(path):
                    self._poke(path)
                    return


class ScheduleWatcher:
    """Calls ``on_change(paths)`` after edits settle for ``debounce`` seconds."""

    def __init__(
        self, schedule_path: Path, scripts_dir: Path, on_change: Callable[[set[Path]], None], debounce: float = 0.25
    ) -> None:
        self._schedule = schedule_path.resolve()
        self._scripts = scripts_dir.resolve()
        self._on_change = on_change
        self._debounce = debounce
        self._lock = threading.Lock()
        self._pending: set[Path] = set()
        self._timer: threading.Timer | None = None
        self._observer = Observer()

    def _relevant(self, path: Path) -> bool:
        if path.name.startswith(".") or path.name.endswith(("~", ".swp", ".tmp")):
            return False
        return path == self._schedule or self._scripts in path.parents

    def _poke(self, path: Path) -> None:
        with self._lock:
            self._pending.add(path)
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self._debounce, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            paths, self._pending, self._timer = self._pending, set(), None
        try:
            self._on_change(paths)
        except Exception:  # noqa: BLE001 - a watcher that dies silently is the worst outcome
            log.exception("lỗi khi nạp lại lịch")

    def start(self) -> None:
        handler = _Handler(self._relevant, self._poke)
        self._observer.schedule(handler, str(self._schedule.parent), recursive=False)
        if self._scripts.is_dir():
            self._observer.schedule(handler, str(self._scripts), recursive=True)
        self._observer.daemon = True
        self._observer.start()

    def stop(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        self._observer.stop()
        self._observer.join(timeout=5)

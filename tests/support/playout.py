"""A player under test: real programmes (tone files), a real SQLite as-run log, the event bus.

``PlayerRig(tmp, clock=FakeClock())`` runs on a :class:`~tests.support.sinks.ManualSink` by default
(the fast loop); ``PlayerRig(tmp, sink=WavSink(...))`` on a real-time practice output (``slow``).
The rig records every event the player publishes and lets the test wait for them. Tone files
live in ``tones`` (default: beside the log); a folder shared by many rigs decodes each tone once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from broadcaster.asrun import AsRunLog, AsRunRow
from broadcaster.events import BroadcastEnded, BroadcastStarted, EventBus, PlayoutEvent
from broadcaster.playout.player import Player, Request
from broadcaster.playout.sink import Sink
from broadcaster.programme import Programme, build_programme
from broadcaster.records import Source
from broadcaster.schedule.model import Item, ItemKind, Priority
from broadcaster.speech.render import SpeechRenderer
from tests.support.clock import FakeClock
from tests.support.sinks import ManualSink

RATE = 48000


def write_tone(path: Path, seconds: float, rate: int = RATE) -> Path:
    """A 440 Hz tone of ``seconds`` at −10 dBFS, as a WAV file."""
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    return path


class PlayerRig:
    """A started player whose every broadcast is a tone of a given length; closed by :meth:`close`."""

    def __init__(
        self,
        tmp: Path,
        *,
        clock: FakeClock | None = None,
        sink: Sink | None = None,
        grace: float = 300.0,
        admit: Callable[[Request], str | None] | None = None,
        tones: Path | None = None,
    ) -> None:
        self.tmp = tmp
        self.tones = tones or tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        if sink is None:
            sink = ManualSink(clock or FakeClock())
        self.sink = sink
        self.asrun = AsRunLog(tmp / "asrun.sqlite3", clock=clock.now if clock else None)
        self.renderer = SpeechRenderer(tmp / "cache", voice=("espeak",))
        self.bus = EventBus()
        self.events: list[PlayoutEvent] = []
        self._seen = threading.Condition()
        self.bus.subscribe(self._event)
        self.player = Player(
            sink=sink,
            asrun=self.asrun,
            build_programme=self._build,
            grace_seconds=grace,
            events=self.bus,
            admit=admit,
            clock=clock.time if clock else time.time,
        )
        self.player.start()

    def _build(self, req: Request) -> Programme:
        return build_programme(
            req.items, renderer=self.renderer, chime=None, repeat=1, gap_seconds=0, tail_seconds=0.0, item_pause=0.0
        )

    def _event(self, event: PlayoutEvent) -> None:
        with self._seen:
            self.events.append(event)
            self._seen.notify_all()

    def now(self) -> float:
        return self.clock.time() if self.clock else time.time()

    def at(self, seconds: float) -> datetime:
        """The aware instant ``seconds`` from now on the rig's clock."""
        return datetime.fromtimestamp(self.now() + seconds, UTC)

    def request(
        self,
        title: str,
        seconds: float,
        priority: Priority = Priority.NORMAL,
        planned_at: datetime | None = None,
        by: str | None = None,
    ) -> Request:
        """A broadcast of one tone file; scheduled when ``planned_at`` is given, else ad hoc."""
        path = self.tones / f"tone-{seconds:g}.wav"
        if not path.exists():
            write_tone(path, seconds)
        return Request(
            key=f"k:{title}",
            title=title,
            items=(Item(ItemKind.AUDIO, path.name, path),),
            priority=priority,
            planned_at=planned_at,
            by=by,
            source=Source.SCHEDULE if planned_at else Source.ADHOC,
            submitted=self.now(),
        )

    def submit(self, title: str, seconds: float, **kw: Any) -> int:
        return self.player.submit(self.request(title, seconds, **kw))

    # -- what happened -------------------------------------------------------------------------
    def started(self) -> list[str]:
        """Titles in the order the worker started them (a replay appears again)."""
        with self._seen:
            return [e.title for e in self.events if isinstance(e, BroadcastStarted)]

    def ended(self) -> list[BroadcastEnded]:
        with self._seen:
            return [e for e in self.events if isinstance(e, BroadcastEnded)]

    def wait_ended(self, n: int, timeout: float = 10.0) -> list[BroadcastEnded]:
        """The first ``n`` ended events, once there are that many."""
        with self._seen:
            ok = self._seen.wait_for(lambda: sum(isinstance(e, BroadcastEnded) for e in self.events) >= n, timeout)
            assert ok, [type(e).__name__ + ":" + e.title for e in self.events]
        return self.ended()[:n]

    def wait_started(self, title: str, timeout: float = 10.0) -> None:
        with self._seen:
            assert self._seen.wait_for(lambda: title in self.started(), timeout), self.events

    def rows(self) -> list[AsRunRow]:
        return self.asrun.rows()

    def close(self) -> None:
        self.player.shutdown()
        self.asrun.close()

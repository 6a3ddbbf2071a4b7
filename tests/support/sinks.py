"""A sink the test drives by hand: plays "instantly" against a :class:`~tests.support.clock.FakeClock`.

:class:`ManualSink` implements the project's :class:`~broadcaster.playout.sink.Sink`. Each
``play()`` is remembered as a :class:`Play` (blocks, ``start_at``, label, result). A play waits on
the fake clock for its ``start_at`` (the test advances the clock), then airs at once: the clock
moves on by the programme's length and the result says it started exactly on time. To test what
happens *while* something is on air, ``hold(label)`` keeps the next play of that label on air
until the test ``release``s it or the player cuts it (``stop``); a cut play reports as heard what
the clock let through since its start, as a real practice output would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from broadcaster.playout.sink import METHOD_CLOCK, PlayResult, Sink, as_mono
from tests.support.clock import FakeClock


@dataclass
class Play:
    """One ``play()`` call, as the sink got it and as it ended."""

    label: str
    start_at: float | None
    rate: int
    blocks: list[np.ndarray] = field(default_factory=list)
    started_at: float | None = None  # fake wall time of the first sample; None: cut in pre-roll
    result: PlayResult | None = None
    held: bool = False
    on_air: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    @property
    def seconds(self) -> float:
        """The programme's length (what it got, whether or not it all aired)."""
        return sum(len(b) for b in self.blocks) / self.rate


class ManualSink(Sink):
    """Plays at once on a fake clock, remembers every play, and holds one on air when asked.

    ``advance=False`` leaves the clock where it is after a play (every broadcast "takes no time").
    ``proof`` turns a play into the monitor's verdict (``PlayResult.proof``), for not-heard rules.
    """

    def __init__(
        self,
        clock: FakeClock,
        *,
        name: str = "manual",
        advance: bool = True,
        proof: Callable[[Play], dict[str, Any] | None] | None = None,
    ) -> None:
        self.clock = clock
        self.name = name
        self.advance = advance
        self.proof = proof
        self.plays: list[Play] = []
        self.closed = False
        self._holds: dict[str, int] = {}
        self._failures: dict[str, Exception] = {}
        self._cond = threading.Condition()

    # -- what the test does -------------------------------------------------------------------
    def hold(self, label: str, times: int = 1) -> None:
        """Keep the next ``times`` plays of ``label`` on air until :meth:`release` (or a cut)."""
        with self._cond:
            self._holds[label] = self._holds.get(label, 0) + times

    def release(self, label: str) -> None:
        """Let the held play of ``label`` now on air run to its end."""
        self.wait_on_air(label).released.set()

    def fail(self, label: str, error: Exception) -> None:
        """Make the next play of ``label`` raise ``error`` (an unplugged card, a dead stream)."""
        with self._cond:
            self._failures[label] = error

    def wait_on_air(self, label: str, timeout: float = 5.0) -> Play:
        """The latest play of ``label`` that is on air and held, once it is (AssertionError after ``timeout``)."""

        def held() -> Play | None:
            return next((p for p in reversed(self.plays) if p.label == label and p.held and p.on_air.is_set()), None)

        with self._cond:
            if not self._cond.wait_for(lambda: held() is not None and not held().released.is_set(), timeout):
                raise AssertionError(f"no held play of {label!r} on air; plays: {self.labels()}")
            play = held()
            assert play is not None
            return play

    def labels(self) -> list[str]:
        """The labels of every play so far, in order."""
        with self._cond:
            return [p.label for p in self.plays]

    # -- the Sink interface --------------------------------------------------------------------
    def play(
        self,
        blocks: Iterable[np.ndarray],
        *,
        rate: int,
        start_at: float | None,
        stop: threading.Event,
        label: str = "",
    ) -> PlayResult:
        """Wait for ``start_at`` on the fake clock, air at once (or until released / cut), report."""
        play = Play(label, start_at, rate)
        with self._cond:
            self.plays.append(play)
            failure = self._failures.pop(label, None)
            play.held = self._holds.get(label, 0) > 0
            if play.held:
                self._holds[label] -= 1
            self._cond.notify_all()
        if failure is not None:
            raise failure
        if start_at is not None and not self.clock.wait_until(start_at, stop):
            return self._end(play, PlayResult(completed=False, seconds=0.0, started_at=None))
        play.started_at = self.clock.time()
        play.blocks = [as_mono(b) for b in blocks]
        if play.held:
            with self._cond:
                play.on_air.set()
                self._cond.notify_all()
            while not play.released.is_set() and not stop.is_set():
                play.released.wait(0.002)
        completed = not stop.is_set()
        heard = play.seconds if completed else min(play.seconds, self.clock.time() - play.started_at)
        if completed and self.advance:
            self.clock.advance_to(play.started_at + play.seconds)
        error_ms = round((play.started_at - start_at) * 1000, 2) if start_at is not None else None
        result = PlayResult(completed, heard, play.started_at, error_ms, METHOD_CLOCK if error_ms is not None else None)
        result.proof = self.proof(play) if self.proof else None
        return self._end(play, result)

    def _end(self, play: Play, result: PlayResult) -> PlayResult:
        with self._cond:
            play.result = result
            self._cond.notify_all()
        return result

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "manual", "plays": len(self.plays)}

    def close(self) -> None:
        self.closed = True

"""Typed playout events, and the bus that carries them from the players to whoever listens.

The shape is APScheduler 4's ``_events.py``: frozen event classes under one base, and
``subscribe(callback, event_types)`` by class. A player publishes what happened to each
broadcast (:class:`BroadcastStarted`, then one of :class:`BroadcastFinished`,
:class:`BroadcastMissed`, :class:`BroadcastHeld`); alerting, metrics, power and ``say``
without a daemon subscribe to the kinds they care about. Each event carries the attempt's
:class:`AiredRecord` — the same value the as-run log stores — so no subscriber decodes a dict.

A leaf module: it knows the typed outcomes of :mod:`broadcaster.records` and plain values,
nothing of the player, the schedule or the store.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, overload

from broadcaster.records import Outcome, Source

log = logging.getLogger("broadcaster.events")


@dataclass(frozen=True, slots=True)
class AiredRecord:
    """One attempt at airing one broadcast in one zone, as its as-run row records it.

    The request's side (key … by_user) is known before the attempt; the outcome's side
    (outcome … by) is filled in as it ends. ``engines`` and ``proof`` are read-only views:
    never change them in place (the store and every subscriber see the same value).
    """

    key: str
    title: str
    priority: str = "normal"  # the Priority label: normal, priority, emergency
    source: Source = Source.SCHEDULE
    slot: str | None = None
    zone: str | None = None  # the output zone (None: the one output of a zoneless schedule)
    planned_at: datetime | None = None  # aware; None: as soon as possible (ad hoc)
    items: tuple[str, ...] = ()  # item labels, ``script:mo-dau``, ``text:…``
    by_user: str | None = None  # who asked for it (ad hoc)
    outcome: Outcome = Outcome.STARTED
    error: str | None = None
    note: str | None = None
    seconds: float | None = None  # programme audio on air; None: not measured
    started_at: datetime | None = None  # when the first sample was heard
    engines: Mapping[str, str] = field(default_factory=dict)  # item label → voice that spoke it
    start_error_ms: float | None = None  # measured start minus planned instant
    start_error_method: str | None = None  # how it was measured (``clock``, ``monitor``…)
    time_to_air_ms: float | None = None  # ad hoc: from the request to its first sample heard
    heard: bool | None = None  # the output's monitor heard it (None: nobody checked)
    proof: Mapping[str, Any] | None = None  # what the monitor heard (``broadcaster.proof``)
    by: str | None = None  # who or what cut it (an interrupted attempt)


@dataclass(frozen=True, slots=True)
class PlayoutEvent:
    """Something that happened to one broadcast in one zone's player."""

    record: AiredRecord

    @property
    def zone(self) -> str | None:
        return self.record.zone

    @property
    def key(self) -> str:
        return self.record.key

    @property
    def title(self) -> str:
        return self.record.title


@dataclass(frozen=True, slots=True)
class BroadcastStarted(PlayoutEvent):
    """The worker took it and opened its as-run row; it may still wait for its planned instant."""

    row_id: int


@dataclass(frozen=True, slots=True)
class BroadcastEnded(PlayoutEvent):
    """The attempt is over; ``record.outcome`` says how. Subscribe to this for "any end"."""


@dataclass(frozen=True, slots=True)
class BroadcastFinished(BroadcastEnded):
    """It went to the output: played, interrupted, failed or not heard (``record`` is its row)."""

    row_id: int


@dataclass(frozen=True, slots=True)
class BroadcastMissed(BroadcastEnded):
    """It reached the output later than the grace period and never started."""


@dataclass(frozen=True, slots=True)
class BroadcastHeld(BroadcastEnded):
    """Held back when its turn came: approval required and not given (``record.error`` says why)."""


E = TypeVar("E", bound=PlayoutEvent)


class Subscription:
    """One callback on one bus; :meth:`unsubscribe` ends it (idempotent)."""

    __slots__ = ("_bus", "callback", "event_types")

    def __init__(
        self, bus: EventBus, callback: Callable[[Any], object], event_types: tuple[type[PlayoutEvent], ...]
    ) -> None:
        self._bus = bus
        self.callback = callback
        self.event_types = event_types

    def unsubscribe(self) -> None:
        """Stop delivering events to this callback."""
        self._bus._remove(self)

    def __repr__(self) -> str:
        kinds = ", ".join(t.__name__ for t in self.event_types)
        return f"<Subscription {getattr(self.callback, '__qualname__', self.callback)!r} to {kinds}>"


class EventBus:
    """Delivers each published event to the callbacks subscribed to its class (or a base class).

    Delivery is synchronous, on the publisher's thread, in subscription order: subscribers must
    return at once (DEVELOPERS.md: alerts, metrics, power and proof never block playout). An
    exception in a subscriber is logged and swallowed — it never reaches the playout worker.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # copy-on-write: publish() reads the tuple without taking the lock
        self._subscriptions: tuple[Subscription, ...] = ()

    @overload
    def subscribe(self, callback: Callable[[E], object], event_types: type[E] | Iterable[type[E]]) -> Subscription: ...

    @overload
    def subscribe(self, callback: Callable[[PlayoutEvent], object], event_types: None = None) -> Subscription: ...

    def subscribe(
        self,
        callback: Callable[[Any], object],
        event_types: type[PlayoutEvent] | Iterable[type[PlayoutEvent]] | None = None,
    ) -> Subscription:
        """Call ``callback(event)`` for every event of ``event_types`` (classes; None = every event)."""
        if event_types is None:
            kinds: tuple[type[PlayoutEvent], ...] = (PlayoutEvent,)
        elif isinstance(event_types, type):
            kinds = (event_types,)
        else:
            kinds = tuple(event_types)
        if not kinds or not all(isinstance(k, type) and issubclass(k, PlayoutEvent) for k in kinds):
            raise TypeError(f"event_types must be PlayoutEvent classes, not {event_types!r}")
        subscription = Subscription(self, callback, kinds)
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

    def publish(self, event: PlayoutEvent) -> None:
        """Deliver ``event`` to its subscribers; a failing subscriber is logged, the others still get it."""
        for subscription in self._subscriptions:
            if isinstance(event, subscription.event_types):
                try:
                    subscription.callback(event)
                except Exception:  # a listener's bug must not stop the air
                    log.exception("subscriber %r failed on %s of %s", subscription, type(event).__name__, event.key)

"""The playout event bus: subscription by type, unsubscribe, and a failing subscriber kept away from playout."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from broadcaster.events import (
    AiredRecord,
    BroadcastEnded,
    BroadcastFinished,
    BroadcastHeld,
    BroadcastMissed,
    BroadcastStarted,
    EventBus,
    PlayoutEvent,
)
from broadcaster.records import Outcome

RECORD = AiredRecord(key="sang@2026-04-21", title="Bản tin sáng", zone="thon-1")


def _all_kinds() -> list[PlayoutEvent]:
    return [
        BroadcastStarted(RECORD, row_id=1),
        BroadcastFinished(dataclasses.replace(RECORD, outcome=Outcome.PLAYED, seconds=3.0), row_id=1),
        BroadcastMissed(dataclasses.replace(RECORD, outcome=Outcome.MISSED, error="trễ")),
        BroadcastHeld(dataclasses.replace(RECORD, outcome=Outcome.UNAPPROVED, error="chưa duyệt")),
    ]


def test_subscribers_get_the_kinds_they_asked_for_and_base_classes_match_their_subclasses():
    bus = EventBus()
    got: dict[str, list[str]] = {"all": [], "ended": [], "missed_or_held": [], "finished": []}
    bus.subscribe(lambda e: got["all"].append(type(e).__name__))
    bus.subscribe(lambda e: got["ended"].append(e.record.outcome), BroadcastEnded)
    bus.subscribe(lambda e: got["missed_or_held"].append(e.record.error), {BroadcastMissed, BroadcastHeld})
    bus.subscribe(lambda e: got["finished"].append(e.row_id), [BroadcastFinished])
    for event in _all_kinds():
        bus.publish(event)
    assert got == {
        "all": ["BroadcastStarted", "BroadcastFinished", "BroadcastMissed", "BroadcastHeld"],
        "ended": [Outcome.PLAYED, Outcome.MISSED, Outcome.UNAPPROVED],
        "missed_or_held": ["trễ", "chưa duyệt"],
        "finished": [1],
    }


def test_unsubscribe_stops_delivery_and_is_idempotent():
    bus = EventBus()
    got: list[PlayoutEvent] = []
    subscription = bus.subscribe(got.append, BroadcastStarted)
    bus.publish(BroadcastStarted(RECORD, row_id=1))
    subscription.unsubscribe()
    subscription.unsubscribe()
    bus.publish(BroadcastStarted(RECORD, row_id=2))
    assert [e.row_id for e in got] == [1]


def test_a_failing_subscriber_is_logged_and_the_others_still_hear(caplog):
    bus = EventBus()
    got: list[PlayoutEvent] = []

    def broken(event: PlayoutEvent) -> None:
        raise RuntimeError("lỗi của người nghe")

    bus.subscribe(broken)
    bus.subscribe(got.append)
    with caplog.at_level(logging.ERROR, logger="broadcaster.events"):
        bus.publish(BroadcastStarted(RECORD, row_id=1))  # never raises into the publisher
    assert len(got) == 1
    assert "broken" in caplog.text and "BroadcastStarted" in caplog.text and "lỗi của người nghe" in caplog.text


def test_a_subscriber_may_unsubscribe_itself_while_being_called():
    bus = EventBus()
    got: list[int] = []

    def once(event: BroadcastStarted) -> None:
        got.append(event.row_id)
        subscription.unsubscribe()

    subscription = bus.subscribe(once, BroadcastStarted)
    bus.publish(BroadcastStarted(RECORD, row_id=1))
    bus.publish(BroadcastStarted(RECORD, row_id=2))
    assert got == [1]


def test_events_and_records_are_frozen_values():
    event = BroadcastFinished(dataclasses.replace(RECORD, outcome=Outcome.PLAYED), row_id=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.row_id = 4  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.record.outcome = Outcome.FAILED  # type: ignore[misc]
    assert (event.zone, event.key, event.title) == ("thon-1", RECORD.key, RECORD.title)
    assert event == BroadcastFinished(dataclasses.replace(RECORD, outcome=Outcome.PLAYED), row_id=3)


def test_only_event_classes_can_be_subscribed_to():
    bus = EventBus()
    with pytest.raises(TypeError):
        bus.subscribe(print, [str])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        bus.subscribe(print, [])

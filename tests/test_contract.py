"""The control contract: an actor's reach decides the zones of every request, in one place.

The API is driven here against a small fake :class:`Controller` — the contract is all it needs.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from broadcaster.contract import Actor, ControlError, Stopped

ZONES = ["trung-tam", "thon-dong", "thon-doai"]


def test_an_unlimited_actor_reaches_what_it_asks_and_none_means_every_zone():
    admin = Actor(name="admin", where="cli")
    assert admin.reach(None, ZONES) is None
    assert admin.reach(["thon-dong"], ZONES) == ("thon-dong",)


def test_a_scoped_actors_all_zones_are_his_zones_and_others_are_refused():
    head = Actor(name="truong-thon-dong", where="console 10.0.0.5", role="operator", zones=frozenset({"thon-dong"}))
    assert head.reach(None, ZONES) == ("thon-dong",)
    assert head.reach([], ZONES) == ("thon-dong",)
    assert head.reach(["thon-dong"], ZONES) == ("thon-dong",)
    with pytest.raises(ControlError) as refused:
        head.reach(["thon-dong", "thon-doai"], ZONES)
    assert refused.value.status == 403 and "thon-doai" in refused.value.message
    assert head.scope == ["thon-dong"]
    assert head.may_see("thon-dong") and not head.may_see("thon-doai") and not head.may_see(None)


def test_a_scoped_actor_without_any_zone_of_this_station_is_refused():
    stranger = Actor(name="x", where="console", zones=frozenset({"thon-khac"}))
    with pytest.raises(ControlError):
        stranger.reach(None, ZONES)


class _Fake:
    """Only what the API calls; it records the actor and zones each call got."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Actor, object]] = []

    def cut(self, actor: Actor, zones=None) -> Stopped:
        self.calls.append(("cut", actor, zones))
        return Stopped(stopped=None, cut=[], message="Không có bản tin nào đang phát.")


def test_the_api_passes_the_stop_body_and_a_token_actor_through_the_contract():
    from broadcaster.daemon.api import create_app

    fake = _Fake()
    client = TestClient(create_app(fake, "tok"))  # type: ignore[arg-type]
    auth = {"Authorization": "Bearer tok"}
    assert client.post("/api/stop", headers=auth).status_code == 200
    assert client.post("/api/stop", headers=auth, json={"zones": ["thon-dong"]}).status_code == 200
    assert client.post("/api/stop", headers=auth, json={"zones": ["a"], "x": 1}).status_code == 422
    assert [(c[0], c[2]) for c in fake.calls] == [("cut", None), ("cut", ["thon-dong"])]
    actor = fake.calls[0][1]
    assert actor.role == "token" and actor.where.startswith("api ") and actor.zones is None

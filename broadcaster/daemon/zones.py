"""Zones at the daemon: which players a broadcast goes to, and the receivers that report back.

Each zone has its own player (its own worker, queue and timeline), so two zones air different
programmes at the same time and an emergency preempts per zone, exactly as on one output. A
broadcast for several zones is the same :class:`Request` submitted to each zone's player; the
as-run log gets one row per zone.

Receivers (``broadcaster receive`` on the box at a cluster) post a heartbeat every few seconds;
a receiver not heard from for :data:`RECEIVER_TIMEOUT_S` is shown "mất kết nối". What is kept
is bounded: once receivers are registered (``broadcaster receiver add``) only they are kept,
before that at most :data:`MAX_UNREGISTERED` names; merged proofs at most :data:`MAX_TAKEN`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from broadcaster.playout.player import Player, Request
    from broadcaster.schedule.model import Schedule

#: a receiver silent for this long is lost (three missed 5-second heartbeats, and some slack)
RECEIVER_TIMEOUT_S = 20.0
#: receivers not heard from for this long are forgotten (a box taken out of service)
FORGET_AFTER_S = 7 * 24 * 3600.0
PROOF_TTL_S = 3600.0  # a merged proof is remembered this long (receivers resend only their newest)
#: receiver names kept while none is registered (a commune has tens of clusters)
MAX_UNREGISTERED = 64
MAX_TAKEN = 20_000  # merged proofs remembered at most (20 per receiver's heartbeat, an hour each)


class ReceiversFull(Exception):
    """A new receiver name beyond :data:`MAX_UNREGISTERED` (none is registered)."""


def targets(players: dict[str, Player], zones: tuple[str, ...] | None) -> list[Player]:
    """The players of ``zones`` (None = all), in the schedule's order; unknown names are skipped."""
    if zones is None:
        return list(players.values())
    return [players[z] for z in zones if z in players]


def submit(players: dict[str, Player], req: Request) -> list[str]:
    """Queue ``req`` in each of its zones; a zone that refuses (shutting down) does not stop the others."""
    queued = []
    for player in targets(players, req.zones):
        try:
            player.submit(req)
        except RuntimeError:  # that player is shutting down
            continue
        queued.append(player.zone or "")
    return queued


@dataclass
class Receiver:
    """The last heartbeat of one receiver box."""

    name: str
    url: str
    zone: str | None
    state: str
    seen: float
    buffer_ms: float | None = None
    last_error: str | None = None
    connected_since: str | None = None
    bytes_received: int | None = None
    reconnects: int | None = None
    address: str | None = None
    monitor: dict[str, Any] | None = None  # the receiver's own monitor: method, recording, error
    warning: str | None = None  # reports with the station's own token (see daemon/receiving.py)

    def describe(self, now: float) -> dict[str, Any]:
        age = now - self.seen
        alive = age <= RECEIVER_TIMEOUT_S and self.state == "playing"
        return {
            "name": self.name,
            "url": self.url,
            "zone": self.zone,
            "state": self.state if age <= RECEIVER_TIMEOUT_S else "lost",
            "state_vi": _state_vi(self.state, age),
            "alive": alive,
            "last_seen_s": round(age, 1),
            "buffer_ms": self.buffer_ms,
            "last_error": self.last_error,
            "connected_since": self.connected_since,
            "reconnects": self.reconnects,
            "address": self.address,
            "monitor": self.monitor,
            **({"warning": self.warning} if self.warning else {}),
        }


def _state_vi(state: str, age: float) -> str:
    if age > RECEIVER_TIMEOUT_S:
        return f"mất kết nối (không nhận tin {age:.0f} giây)"
    return {"playing": "đang nhận tiếng", "connecting": "đang kết nối lại", "down": "mất tiếng từ đài"}.get(
        state, state
    )


def mount_key(url: str) -> str:
    """A mount URL compared without scheme case, default port or trailing slash."""
    parts = urlsplit(url.strip())
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}{parts.path.rstrip('/')}"


class Receivers:
    """Heartbeats by receiver name, each with the zone it feeds (any thread).

    ``registered()`` gives the registered receivers (name → zone), or None when none is: then
    only they are kept, each in its own zone.
    """

    def __init__(self, clock: Any = time.time, registered: Callable[[], dict[str, str] | None] = lambda: None) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, Receiver] = {}
        self._taken: dict[tuple[str, str, int], float] = {}  # proofs merged: (receiver, started_at, piece)
        self._clock = clock
        self._registered = registered

    def heartbeat(
        self, body: dict[str, Any], zone: str | None, address: str | None = None, warning: str | None = None
    ) -> Receiver:
        """Record one heartbeat of a receiver feeding ``zone`` (None: a mount no zone uses).

        Raises :class:`ReceiversFull` for a new name when :data:`MAX_UNREGISTERED` are kept and
        none is registered.
        """
        receiver = Receiver(
            name=str(body.get("receiver") or address or "?")[:80],
            url=str(body.get("url") or "")[:300],
            zone=zone,
            state=str(body.get("state") or "playing")[:20],
            seen=self._clock(),
            buffer_ms=_number(body.get("buffer_ms")),
            last_error=(str(body["last_error"])[:300] if body.get("last_error") else None),
            connected_since=(str(body["connected_since"])[:40] if body.get("connected_since") else None),
            bytes_received=_int(body.get("bytes_received")),
            reconnects=_int(body.get("reconnects")),
            address=address,
            monitor=_monitor(body.get("monitor")),
            warning=warning,
        )
        with self._lock:
            if receiver.name not in self._by_name and len(self._by_name) >= MAX_UNREGISTERED:
                raise ReceiversFull(receiver.name)
            self._by_name[receiver.name] = receiver
        return receiver

    def new_proofs(self, receiver: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The proofs in a heartbeat not taken yet (each is sent with several heartbeats)."""
        fresh = []
        for piece in body.get("proofs") or []:
            if not isinstance(piece, dict) or not isinstance(piece.get("started_at"), str):
                continue
            key = (receiver, piece["started_at"][:40], _int(piece.get("piece")) or 0)
            with self._lock:
                if key in self._taken:
                    continue
            fresh.append(piece)
        return fresh

    def taken(self, receiver: str, piece: dict[str, Any]) -> None:
        """Do not offer ``piece`` again (it is in the as-run log, or too old to belong anywhere)."""
        now = self._clock()
        with self._lock:
            self._taken[(receiver, str(piece["started_at"])[:40], _int(piece.get("piece")) or 0)] = now
            for key in [k for k, t in self._taken.items() if now - t > PROOF_TTL_S]:
                del self._taken[key]
            for key in list(self._taken)[: max(0, len(self._taken) - MAX_TAKEN)]:  # the oldest first
                del self._taken[key]

    def names(self) -> set[str]:
        with self._lock:
            return set(self._by_name)

    def by_zone(self) -> dict[str | None, list[dict[str, Any]]]:
        """Receivers grouped by zone (None: a mount no zone uses), forgetting long-gone and removed ones."""
        now = self._clock()
        registered = self._registered()
        with self._lock:
            for name in [n for n, r in self._by_name.items() if now - r.seen > FORGET_AFTER_S]:
                del self._by_name[name]
            if registered is not None:
                for name in [n for n, r in self._by_name.items() if registered.get(n) != r.zone]:
                    del self._by_name[name]
            receivers = sorted(self._by_name.values(), key=lambda r: r.name)
        out: dict[str | None, list[dict[str, Any]]] = {}
        for r in receivers:
            out.setdefault(r.zone, []).append(r.describe(now))
        return out

    def lost(self) -> list[dict[str, Any]]:
        """Receivers that stopped reporting, or report that they hear nothing."""
        return [r for group in self.by_zone().values() for r in group if not r["alive"]]


def zone_of_mount(schedule: Schedule, url: str) -> str | None:
    """The zone whose Icecast mount is ``url``."""
    if not url:
        return None
    wanted = mount_key(url)
    for name, zone in schedule.zones.items():
        if zone.icecast and mount_key(zone.icecast) == wanted:
            return name
    return None


def _monitor(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    error = value.get("error")
    return {
        "method": str(value.get("method") or "")[:120],
        "recording": bool(value.get("recording")),
        "error": str(error)[:300] if error else None,
    }


def _number(value: Any) -> float | None:
    try:
        return None if value is None else round(float(value), 1)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None

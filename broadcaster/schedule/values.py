"""The plain values of a schedule: priorities, the items a slot plays, and the broadcasts it plans.

These carry no schema declaration and import nothing else of the schedule package, so every
other module — the value types that build them, the model that declares the schedule's sections,
the estimator — can depend on them one way. ``model.py`` re-exports them: callers keep importing
them from ``broadcaster.schedule.model``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


class Priority(enum.IntEnum):
    """Bulletin levels of Circular 39/2020/TT-BTTTT; a higher value airs first."""

    NORMAL = 0
    PRIORITY = 1
    EMERGENCY = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def vi(self) -> str:
        return {0: "thông thường", 1: "ưu tiên", 2: "khẩn cấp"}[int(self)]

    @classmethod
    def parse(cls, value: str) -> Priority:
        """Parse ``normal|priority|emergency`` (raises ValueError otherwise)."""
        try:
            return cls[value.strip().upper()]
        except (KeyError, AttributeError):
            raise ValueError(value) from None


class ItemKind(enum.StrEnum):
    SCRIPT = "script"
    TEXT = "text"
    AUDIO = "audio"
    RELAY = "relay"  # an upper-level station's live stream (tiếp sóng), for ``seconds``


@dataclass(frozen=True)
class Item:
    """One thing to air: a script of ``scripts_vi/``, inline text, an audio file, or a relay.

    ``value`` is what the operator wrote (script slug, the text, the audio path as written, or
    the relayed stream's URL); ``path`` is the resolved absolute file for scripts and audio. A
    relay airs for ``seconds``; when its stream is unreachable or silent, ``fallback`` airs
    instead (or the zone goes quiet).
    """

    kind: ItemKind
    value: str
    path: Path | None = None
    seconds: float | None = None
    fallback: Item | None = None

    @property
    def label(self) -> str:
        """Short human name, used in plans, logs and reports."""
        if self.kind is ItemKind.TEXT:
            text = " ".join(self.value.split())
            return "text:" + (text if len(text) <= 40 else text[:39] + "…")
        return f"{self.kind.value}:{self.value}"


def has_relay(items: Iterable[Item]) -> bool:
    """A set with a relay airs once and without a chime: the upper-level station brings its own."""
    return any(item.kind is ItemKind.RELAY for item in items)


@dataclass(frozen=True)
class Broadcast:
    """One concrete airing: a slot at a local, timezone-aware instant."""

    at: datetime
    slot: str
    items: tuple[Item, ...]
    priority: Priority = Priority.NORMAL
    repeat: int = 1
    gap_seconds: float = 3.0
    chime: Path | None = None
    #: None = every zone
    zones: tuple[str, ...] | None = None

    @property
    def key(self) -> str:
        """Stable identity: the same slot at the same instant is the same broadcast."""
        return f"{self.slot}@{self.at.isoformat()}"

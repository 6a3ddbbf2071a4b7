"""Typed model of a validated schedule and of the broadcasts it plans.

Everything here is immutable and free of I/O: the loader (``load.py``) builds it from
YAML, the planner (``plan.py``) turns it into concrete :class:`Broadcast` objects, and
nothing downstream ever reads YAML again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo


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
    def parse(cls, value: str) -> "Priority":
        """Parse ``normal|priority|emergency`` (raises ValueError otherwise)."""
        try:
            return cls[value.strip().upper()]
        except (KeyError, AttributeError):
            raise ValueError(value) from None


class ItemKind(str, enum.Enum):
    SCRIPT = "script"
    TEXT = "text"
    AUDIO = "audio"


@dataclass(frozen=True)
class Item:
    """One thing to air: a script of ``scripts_vi/``, inline text, or an audio file.

    ``value`` is what the operator wrote (script slug, the text, or the audio path as
    written); ``path`` is the resolved absolute file for scripts and audio.
    """

    kind: ItemKind
    value: str
    path: Path | None = None

    @property
    def label(self) -> str:
        """Short human name, used in plans, logs and reports."""
        if self.kind is ItemKind.TEXT:
            text = " ".join(self.value.split())
            return "text:" + (text if len(text) <= 40 else text[:39] + "…")
        return f"{self.kind.value}:{self.value}"


@dataclass(frozen=True)
class Campaign:
    name: str
    start: date
    end: date
    timezone: ZoneInfo


@dataclass(frozen=True)
class Policy:
    earliest: time = time(6, 0)
    latest: time = time(21, 0)
    max_session_minutes: float = 45.0


@dataclass(frozen=True)
class Defaults:
    chime: Path | None = None
    repeat: int = 2
    gap_seconds: float = 3.0
    #: engine chain, tried in order, e.g. ("gtts", "espeak")
    voice: tuple[str, ...] = ("gtts", "espeak")


@dataclass(frozen=True)
class Output:
    #: sounddevice device: name substring or index; None = system default
    device: str | int | None = None
    #: a broadcast later than this when its turn comes is logged ``missed``
    grace_minutes: float = 5.0


@dataclass(frozen=True)
class Api:
    host: str = "127.0.0.1"
    port: int = 8686


@dataclass(frozen=True)
class Slot:
    name: str
    times: tuple[time, ...]
    play: tuple[Item, ...]
    days: frozenset[int] | None = None  # 0=Monday … 6=Sunday; None = every day
    dates: frozenset[date] | None = None  # None = every day of the window
    skip_dates: frozenset[date] = frozenset()
    priority: Priority = Priority.NORMAL
    enabled: bool = True
    repeat: int = 2
    gap_seconds: float = 3.0
    chime: Path | None = None
    line: int = 0  # 1-based line of the slot in the YAML, for messages


@dataclass(frozen=True)
class Schedule:
    path: Path
    campaign: Campaign
    slots: tuple[Slot, ...]
    policy: Policy = field(default_factory=Policy)
    defaults: Defaults = field(default_factory=Defaults)
    output: Output = field(default_factory=Output)
    api: Api = field(default_factory=Api)
    state_dir: Path | None = None  # None = <schedule folder>/state

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def state_path(self) -> Path:
        return self.state_dir if self.state_dir is not None else self.base_dir / "state"


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

    @property
    def key(self) -> str:
        """Stable identity: the same slot at the same instant is the same broadcast."""
        return f"{self.slot}@{self.at.isoformat()}"

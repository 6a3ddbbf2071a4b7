"""Typed model of a validated schedule and of the broadcasts it plans.

Everything here is immutable and free of I/O: the loader (``load.py``) builds it from
YAML, the planner (``plan.py``) turns it into concrete :class:`Broadcast` objects, and
nothing downstream ever reads YAML again. The plain values (:class:`Priority`,
:class:`Item`, :class:`Broadcast`…) live in ``values.py`` and are re-exported here.

The model *is* the schedule schema: a field with ``metadata=declare(Type())`` is a YAML key of
that type (see ``schema.py``), its default is the default when the key is left out, and a
field without a default is a required key. Adding a key is one line here; a ``problems()``
method holds the checks that involve several keys. A value type that builds or reads a section
is given the section's class here (``ZoneMap(Zone)``), so the types never import the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo

from broadcaster import fmt
from broadcaster.schedule.schema import Section, SlotList, declare
from broadcaster.schedule.slot_types import Dates, Play, PriorityLevel, Times, Weekdays
from broadcaster.schedule.types import (
    DEFAULT_TIMEZONE,
    AudioFile,
    Boolean,
    Day,
    Device,
    FilePath,
    Integer,
    Nullable,
    Number,
    Text,
    TimeOfDay,
    Timezone,
    Voices,
)
from broadcaster.schedule.values import Broadcast as Broadcast
from broadcaster.schedule.values import Item as Item
from broadcaster.schedule.values import ItemKind as ItemKind
from broadcaster.schedule.values import Priority as Priority
from broadcaster.schedule.values import has_relay as has_relay
from broadcaster.schedule.zone_types import StreamUrl, TextList, ZoneMap, ZoneNames

#: measured Icecast → receiver → loudspeaker delay on loopback (docs/benchmarks.md), sent early by default
DEFAULT_ICECAST_DELAY_MS = 415.0


@dataclass(frozen=True)
class Campaign:
    name: str = field(metadata=declare(Text()))
    start: date = field(metadata=declare(Day()))
    end: date = field(metadata=declare(Day()))
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE), metadata=declare(Timezone()))

    def problems(self) -> list[tuple[str, str]]:
        """Checks across keys, as ``(key to point at, message)``."""
        if self.end < self.start:
            return [
                (
                    "end",
                    f"ngày kết thúc {fmt.day(self.end)} trước ngày bắt đầu {fmt.day(self.start)} — "
                    "kiểm tra lại campaign.start và campaign.end",
                )
            ]
        return []


@dataclass(frozen=True)
class Policy:
    earliest: time = field(default=time(6, 0), metadata=declare(TimeOfDay()))
    latest: time = field(default=time(21, 0), metadata=declare(TimeOfDay()))
    max_session_minutes: float = field(default=45.0, metadata=declare(Number(0.0, strict=True)))
    #: broadcasts need an approval before they air (the approval workflow reads this)
    require_approval: bool = field(default=False, metadata=declare(Boolean()))

    def problems(self) -> list[tuple[str, str]]:
        """Checks across keys, as ``(key to point at, message)``."""
        if self.latest < self.earliest:
            clock = fmt.clock
            return [
                ("latest", f"policy.latest ({clock(self.latest)}) sớm hơn policy.earliest ({clock(self.earliest)})")
            ]
        return []


@dataclass(frozen=True)
class Defaults:
    chime: Path | None = field(default=None, metadata=declare(Nullable(AudioFile(), None)))
    repeat: int = field(default=2, metadata=declare(Integer(1, 20)))
    gap_seconds: float = field(default=3.0, metadata=declare(Number()))
    #: engine chain, tried in order, e.g. ("gtts", "espeak")
    voice: tuple[str, ...] = field(default=("gtts", "espeak"), metadata=declare(Voices()))


@dataclass(frozen=True)
class Output:
    #: sounddevice device: name substring or index; None = system default
    device: str | int | None = field(default=None, metadata=declare(Device()))
    #: a broadcast later than this when its turn comes is logged ``missed``
    grace_minutes: float = field(default=5.0, metadata=declare(Number()))
    #: a capture device that hears the loudspeakers (line-in from the amplifier, a microphone, a sink's monitor)
    monitor: str | None = field(default=None, metadata=declare(Nullable(Text(), None)))
    #: silence or steady hum at a monitor this long while the programme has sound is dead air (alerted live)
    dead_air_seconds: float = field(default=3.0, metadata=declare(Number(1.0)))


#: ``Zone.device`` when the key is left out (``device: null`` means the default sound card)
NO_DEVICE = ""


@dataclass(frozen=True)
class Zone:
    """One loudspeaker cluster and its output: the local sound card or an Icecast mount."""

    name: str
    #: as ``output.device`` (None = default sound card, "null", "wav:DIR"); NO_DEVICE when not given
    device: str | int | None = field(default=NO_DEVICE, metadata=declare(Device()))
    #: http://HOST:PORT/MOUNT of the Icecast mount this zone's receivers play
    icecast: str | None = field(default=None, metadata=declare(Nullable(StreamUrl(mount=True), None)))
    #: a capture device that hears this zone's loudspeakers (card zones; receivers report their own)
    monitor: str | None = field(default=None, metadata=declare(Nullable(Text(), None)))
    #: pipeline delay to a receiver's loudspeaker (Icecast, codec, receiver buffer): sent this much early
    delay_ms: float = field(default=DEFAULT_ICECAST_DELAY_MS, metadata=declare(Number()))

    def problems(self) -> list[tuple[str, str]]:
        """Exactly one output per zone."""
        if self.icecast is None and self.device == NO_DEVICE:
            return [
                ("icecast", f"vùng '{self.name}' cần một đầu ra: 'device: null' (card âm thanh) hoặc 'icecast: URL'")
            ]
        if self.icecast is not None and self.device != NO_DEVICE:
            return [("device", f"vùng '{self.name}' chỉ có một đầu ra: giữ 'device' hoặc 'icecast', không cả hai")]
        return []

    @property
    def output(self) -> str | int | None:
        """The sound-card spec of a card zone (for ``open_sink``)."""
        return None if self.device == NO_DEVICE else self.device


@dataclass(frozen=True)
class Alerts:
    """Where alerts go besides ``status`` and the console (the SMTP password: LOA_XA_SMTP_PASSWORD or state/)."""

    webhook: str | None = field(default=None, metadata=declare(Nullable(StreamUrl(), None)))
    email_to: tuple[str, ...] = field(default=(), metadata=declare(Nullable(TextList(email=True), ())))
    email_from: str = field(default="loa-xa@localhost", metadata=declare(Text()))
    smtp_host: str | None = field(default=None, metadata=declare(Nullable(Text(), None)))
    smtp_port: int = field(default=25, metadata=declare(Integer(1, 65535)))
    smtp_starttls: bool = field(default=False, metadata=declare(Boolean()))
    smtp_user: str | None = field(default=None, metadata=declare(Nullable(Text(), None)))
    #: the same alert is sent again at most this often while it lasts
    repeat_minutes: float = field(default=30.0, metadata=declare(Number(0.0, strict=True)))

    def problems(self) -> list[tuple[str, str]]:
        if self.email_to and not self.smtp_host:
            return [("email_to", "có email_to nhưng thiếu smtp_host — ghi máy chủ gửi thư (ví dụ smtp.gmail.com)")]
        return []


@dataclass(frozen=True)
class Power:
    """The amplifier's relay: commands (no shell) run around each session of broadcasts."""

    on: tuple[str, ...] | None = field(default=None, metadata=declare(Nullable(TextList(), None)))
    off: tuple[str, ...] | None = field(default=None, metadata=declare(Nullable(TextList(), None)))
    #: switch on this long before the first broadcast of a session
    lead_seconds: float = field(default=30.0, metadata=declare(Number()))
    #: switch off this long after the last one
    off_after_minutes: float = field(default=5.0, metadata=declare(Number()))
    #: a command that takes longer is killed (and alerted); the broadcast goes out anyway
    timeout_seconds: float = field(default=10.0, metadata=declare(Number(0.0, strict=True)))


@dataclass(frozen=True)
class Api:
    """The control listener (API and console); the edge rules are in ``broadcaster/daemon/edge.py``."""

    host: str = field(default="127.0.0.1", metadata=declare(Text()))
    port: int = field(default=8686, metadata=declare(Integer(1, 65535)))
    #: reverse proxies (addresses or networks) whose X-Forwarded-For/-Proto are believed; none by default
    trusted_proxies: tuple[str, ...] = field(default=(), metadata=declare(Nullable(TextList(), ())))
    #: host names besides loopback, IP addresses and ``host`` that browsers may use to reach the station
    allowed_hosts: tuple[str, ...] = field(default=(), metadata=declare(Nullable(TextList(), ())))

    def problems(self) -> list[tuple[str, str]]:
        """Each proxy is an IP address or network, each name a bare host name."""
        import ipaddress
        import re

        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy.strip(), strict=False)
            except ValueError:
                return [
                    (
                        "trusted_proxies",
                        f"api.trusted_proxies: '{proxy}' không phải địa chỉ IP hay dải mạng — ghi địa chỉ của "
                        "máy chạy nginx/Caddy, ví dụ 127.0.0.1 hoặc 192.168.1.0/24",
                    )
                ]
        for name in self.allowed_hosts:
            label = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
            if not re.fullmatch(rf"{label}(\.{label})*\.?", name.strip()):
                return [
                    (
                        "allowed_hosts",
                        f"api.allowed_hosts: '{name}' không phải tên máy — chỉ ghi tên, không có http://, "
                        "cổng hay dấu '/', ví dụ loa-xa.lan",
                    )
                ]
        return []


@dataclass(frozen=True)
class Slot:
    name: str = field(metadata=declare(Text()))
    times: tuple[time, ...] = field(metadata=declare(Times(), key="at"))
    play: tuple[Item, ...] = field(metadata=declare(Play()))
    #: 0=Monday … 6=Sunday; None = every day
    days: frozenset[int] | None = field(default=None, metadata=declare(Nullable(Weekdays(), None)))
    #: None = every day of the window
    dates: frozenset[date] | None = field(
        default=None, metadata=declare(Nullable(Dates(nonempty=True, campaign=Campaign), None))
    )
    skip_dates: frozenset[date] = field(
        default=frozenset(), metadata=declare(Nullable(Dates(nonempty=False), frozenset()))
    )
    priority: Priority = field(default=Priority.NORMAL, metadata=declare(PriorityLevel()))
    enabled: bool = field(default=True, metadata=declare(Boolean()))
    repeat: int = field(default=2, metadata=declare(Integer(1, 20), inherit="repeat"))
    gap_seconds: float = field(default=3.0, metadata=declare(Number(), inherit="gap_seconds"))
    chime: Path | None = field(default=None, metadata=declare(Nullable(AudioFile(), None), inherit="chime"))
    #: the zones this slot airs in; None = every zone
    zones: tuple[str, ...] | None = field(default=None, metadata=declare(Nullable(ZoneNames(), None)))
    line: int = 0  # 1-based line of the slot in the YAML, for messages


@dataclass(frozen=True)
class Schedule:
    path: Path
    campaign: Campaign = field(metadata=declare(Section(Campaign, nullable=False)))
    slots: tuple[Slot, ...] = field(metadata=declare(SlotList(Slot), late=True))
    policy: Policy = field(default_factory=Policy, metadata=declare(Section(Policy)))
    defaults: Defaults = field(default_factory=Defaults, metadata=declare(Section(Defaults)))
    output: Output = field(default_factory=Output, metadata=declare(Section(Output)))
    api: Api = field(default_factory=Api, metadata=declare(Section(Api)))
    alerts: Alerts = field(default_factory=Alerts, metadata=declare(Section(Alerts)))
    power: Power = field(default_factory=Power, metadata=declare(Section(Power)))
    #: loudspeaker clusters by name; empty = one implicit zone on ``output``
    zones: dict[str, Zone] = field(default_factory=dict, metadata=declare(ZoneMap(Zone)))
    #: None = <schedule folder>/state
    state_dir: Path | None = field(default=None, metadata=declare(Nullable(FilePath(), None)))

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def state_path(self) -> Path:
        return self.state_dir if self.state_dir is not None else self.base_dir / "state"

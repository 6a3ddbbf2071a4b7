"""The daemon's state at one instant, typed: what the API returns, ``status`` prints and the console shows.

One model, three renderings: the API declares it (``/openapi.json``), ``broadcaster status``
validates the JSON it receives back into it, the console renders the same fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")  # a newer daemon may add fields; an older CLI ignores them


class QueuedBroadcast(_Model):
    id: int
    key: str
    title: str
    source: str
    slot: str | None = None
    priority: str
    items: list[str]
    planned_at: str | None = None
    replay: bool = False
    zones: list[str] | None = None


class OnAir(QueuedBroadcast):
    since: float
    row_id: int
    #: the zone it airs in (None: the station's one output)
    zone: str | None = None


class NextBroadcast(_Model):
    at: str
    slot: str
    priority: str
    items: list[str]
    zones: list[str] | None = None


class ReloadState(_Model):
    ok: bool | None = None
    at: str | None = None
    message: str = ""
    errors: list[str] = Field(default_factory=list)


class EngineHealth(_Model):
    online: bool
    last_ok: float | None = None
    last_failed: float | None = None
    last_error: str | None = None
    reachable: bool | None = None
    retry_in: float = 0.0


class CampaignInfo(_Model):
    name: str
    timezone: str
    start: str
    end: str
    in_window: bool


class ReceiverState(_Model):
    name: str
    url: str
    zone: str | None = None
    state: str
    state_vi: str
    alive: bool
    last_seen_s: float
    buffer_ms: float | None = None
    last_error: str | None = None


class ZoneState(_Model):
    name: str
    kind: str  # "card" | "icecast"
    output: dict[str, Any]
    now_playing: OnAir | None = None
    queue: int = 0
    receivers: list[ReceiverState] = Field(default_factory=list)
    receivers_alive: int = 0


class StatusSnapshot(_Model):
    """Everything ``status`` shows; alerts first because they are what needs the operator."""

    alerts: list[str]
    #: the first of ``on_air`` (kept for older callers)
    now_playing: OnAir | None
    queue: list[QueuedBroadcast]
    next: list[NextBroadcast]
    output: dict[str, Any]
    last_result: dict[str, Any] | None
    last_reload: ReloadState
    engines: dict[str, EngineHealth]
    today: dict[str, int]
    adhoc_voice_rule: str
    campaign: CampaignInfo
    schedule: str
    uptime_s: float
    pid: int
    zones: list[ZoneState] = Field(default_factory=list)
    #: what airs now in every zone, each with its zone
    on_air: list[OnAir] = Field(default_factory=list)
    #: the station's timezone (everything shown to people is in it)
    timezone: str = "Asia/Ho_Chi_Minh"
    #: the alert hub's active alerts (kind, title, message, since, count…), newest first
    active_alerts: list[dict[str, Any]] = Field(default_factory=list)
    #: the amplifier's power relay (when configured)
    power: dict[str, Any] | None = None
    #: receivers reporting a mount no zone uses
    stray_receivers: list[ReceiverState] = Field(default_factory=list)

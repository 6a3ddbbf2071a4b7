"""The control contract: what every caller of the running station may ask, and nothing else.

The daemon implements :class:`Controller`; the control API, the web console, the CLI client
and any later caller (an inbox of the province's bulletins, a public page) use only this
module. It is a leaf: it imports nothing of the station's parts (checked by the import
contract in ``pyproject.toml``), so a caller can never reach into the daemon's attributes.

Every request names its :class:`Actor` — who, from where, in which role, and the zones they
may reach. The zones a request may touch are decided in one place, :meth:`Actor.reach`, for
announcements, stop and cancel alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from broadcaster.snapshot import StatusSnapshot

if TYPE_CHECKING:  # types only: the contract imports none of the parts at run time
    from broadcaster.asrun.row import AsRunRow
    from broadcaster.layout import Layout
    from broadcaster.schedule.model import Schedule
    from broadcaster.speech.render import Rendered

__all__ = [
    "Accepted",
    "Actor",
    "Announcement",
    "AuditTrail",
    "ControlError",
    "Controller",
    "LogRows",
    "ScheduleView",
    "SpeechPreview",
    "StatusSnapshot",
    "Stopped",
]


class ControlError(Exception):
    """A refusal with an HTTP-like status and a Vietnamese message for the operator."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Actor:
    """Who asks: their name, where from (for the audit trail), their role and their zones.

    ``zones`` None means every zone of the station; a set limits every request to those zones
    (a thôn head who speaks to his own thôn).
    """

    name: str
    where: str
    role: str = "admin"
    zones: frozenset[str] | None = None

    @property
    def scope(self) -> list[str] | None:
        """The zones this actor is limited to (sorted), None when unlimited — for the audit trail."""
        return sorted(self.zones) if self.zones is not None else None

    def reach(self, requested: Sequence[str] | None, known: Iterable[str]) -> tuple[str, ...] | None:
        """The zones a request may touch: ``requested`` (None = all) within this actor's scope.

        Returns None for "every zone" (unlimited actor, nothing requested); refuses
        (:class:`ControlError` 403) a requested zone outside the scope.
        """
        if self.zones is None:
            return tuple(requested) if requested else None
        if not requested:
            mine = tuple(z for z in known if z in self.zones)
            if not mine:
                raise ControlError(403, f"Tài khoản '{self.name}' không được giao vùng nào của đài này.")
            return mine
        outside = [z for z in requested if z not in self.zones]
        if outside:
            raise ControlError(
                403,
                f"Tài khoản '{self.name}' chỉ được phát và dừng ở vùng {', '.join(sorted(self.zones))}; "
                f"không được dùng vùng {', '.join(outside)}.",
            )
        return tuple(requested)

    def may_see(self, zone: str | None) -> bool:
        """Whether a row or a zone of ``zone`` (None: the station's main output) is within scope."""
        return self.zones is None or (zone is not None and zone in self.zones)


class Announcement(BaseModel):
    """Exactly one of ``text``, ``script`` or ``audio``.

    Only types are checked here; limits (length, repeat, priority names) are judged by
    ``adhoc.make_request``, so the daemon and a direct ``say`` refuse with the same words.
    """

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, description="Văn bản đọc ngay (tối đa 5000 ký tự)")
    script: str | None = Field(None, description="Tên bài đọc trong scripts_vi/ (không có .txt)")
    audio: str | None = Field(None, description="Tệp âm thanh trong audio/ hoặc scripts_vi/")
    priority: Literal["normal", "priority", "emergency"] | str = "normal"
    repeat: int = Field(1, description="Số lần đọc (1–5)")
    chime: bool = True
    by: str | None = Field(None, max_length=100, description="Người yêu cầu (ghi vào nhật ký)")
    zones: list[str] | None = Field(None, description="Các cụm loa (vùng) sẽ phát; bỏ trống = tất cả")


class Accepted(BaseModel):
    id: int
    title: str
    priority: str
    position: int
    message: str


class StopRequest(BaseModel):
    """``POST /api/stop`` and the console's "Dừng": which zones (none or null = every zone in scope)."""

    model_config = ConfigDict(extra="forbid")

    zones: list[str] | None = Field(None, description="Các vùng cần dừng; bỏ trống = mọi vùng")


class Stopped(BaseModel):
    """What a stop cut: the first broadcast (or None), and every cut one with its zone."""

    stopped: dict[str, Any] | None
    cut: list[dict[str, Any]] = Field(default_factory=list)
    message: str = ""


class SpeechPreview(Protocol):
    """How the station would read a text (the console's reading and "Nghe thử")."""

    @property
    def abbreviations(self) -> Any: ...
    def spoken_text(self, text: str) -> str: ...
    def render(self, text: str) -> Rendered: ...


class LogRows(Protocol):
    """The as-run log's rows, in the station's timezone."""

    def rows(
        self, *, start: date | None = None, end: date | None = None, day: date | None = None
    ) -> list[AsRunRow]: ...


class ScheduleView(Protocol):
    """The schedule the station runs now, where it lives, and what its last reload said."""

    @property
    def current(self) -> Schedule: ...
    @property
    def path(self) -> Path: ...
    @property
    def last_reload(self) -> dict[str, Any]: ...


class AuditTrail(Protocol):
    """The tamper-evident trail of who did what, from where, within which scope."""

    def record(self, actor: Actor, action: str, detail: dict[str, Any] | None = None) -> None: ...


class Controller(Protocol):
    """The running station as its callers see it."""

    @property
    def layout(self) -> Layout: ...
    @property
    def speech(self) -> SpeechPreview: ...
    @property
    def log_rows(self) -> LogRows: ...
    @property
    def schedule(self) -> ScheduleView: ...
    @property
    def audit(self) -> AuditTrail: ...

    def status(self, actor: Actor | None = None) -> StatusSnapshot: ...
    def announce(self, a: Announcement, actor: Actor) -> Accepted: ...
    def cut(self, actor: Actor, zones: Sequence[str] | None = None) -> Stopped:
        """Stop what airs in ``zones`` (None = every zone in the actor's scope)."""
        ...

    def cancel(self, request_id: int, actor: Actor) -> dict[str, Any] | None: ...
    def receiver_heartbeat(
        self, body: dict[str, Any], address: str | None = None, receiver: str | None = None
    ) -> dict[str, Any]:
        """A receiver box's heartbeat; ``receiver``: the registered receiver whose own token sent it
        (None: the station's token). Refused (:class:`ControlError`) beyond that receiver's name and zone."""
        ...

    def receiver_for_token(self, token: str) -> str | None:
        """The registered receiver whose own token ``token`` is (None: not a receiver's token)."""
        ...

    def metrics_text(self) -> tuple[bytes, str]: ...

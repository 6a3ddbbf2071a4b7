"""Typed values that travel between the parts: outcomes, sources, stop reasons.

They are ``StrEnum`` so that they compare equal to, and serialise as, the plain strings the
as-run database, the API and older callers already use (``Outcome.PLAYED == "played"``).
Their Vietnamese names live here too, so ``log``, ``report``, CSV, ``status`` and the console
all say the same word for the same thing.
"""

from __future__ import annotations

import enum


class Outcome(enum.StrEnum):
    """What became of one attempt to air a broadcast (one as-run row)."""

    STARTED = "started"  # on air now, or the daemon died while it was (recover → interrupted)
    PLAYED = "played"
    INTERRUPTED = "interrupted"  # cut: by an emergency, by the operator, by shutdown
    FAILED = "failed"
    MISSED = "missed"  # reached the output later than the grace period
    SKIPPED = "skipped"  # cancelled before it aired
    UNAPPROVED = "unapproved"  # held back: approval required and not given
    NOT_HEARD = "not_heard"  # sent to the output, but its monitor did not hear it (never counted as aired)

    @property
    def vi(self) -> str:
        return OUTCOME_VI[self]


OUTCOME_VI: dict[Outcome, str] = {
    Outcome.STARTED: "đang phát",
    Outcome.PLAYED: "đã phát",
    Outcome.INTERRUPTED: "bị ngắt",
    Outcome.FAILED: "lỗi",
    Outcome.MISSED: "bỏ lỡ",
    Outcome.SKIPPED: "bỏ qua",
    Outcome.UNAPPROVED: "chưa duyệt",
    Outcome.NOT_HEARD: "không nghe thấy",
}

#: outcomes after which a planned broadcast must not be aired again (a restart checks these)
SETTLED_OUTCOMES = frozenset(
    {Outcome.PLAYED, Outcome.MISSED, Outcome.FAILED, Outcome.SKIPPED, Outcome.UNAPPROVED, Outcome.NOT_HEARD}
)


class Source(enum.StrEnum):
    """Where a broadcast came from."""

    SCHEDULE = "schedule"
    ADHOC = "adhoc"

    @property
    def vi(self) -> str:
        return {Source.SCHEDULE: "lịch", Source.ADHOC: "phát ngay"}[self]


class StopReason(enum.StrEnum):
    """Why a broadcast on air was cut."""

    EMERGENCY = "emergency"
    OPERATOR = "operator"
    SHUTDOWN = "shutdown"

    @property
    def vi(self) -> str:
        return {
            StopReason.EMERGENCY: "nhường cho bản tin khẩn cấp",
            StopReason.OPERATOR: "người vận hành dừng",
            StopReason.SHUTDOWN: "phần mềm dừng",
        }[self]

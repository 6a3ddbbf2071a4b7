"""Load ``schedule.yaml`` into a :class:`Schedule`, collecting every problem with its line and column.

The pieces: ``marked.py`` parses the text into line-marked nodes (repairing a Tab or an open
quote so that one slip does not hide the rest), the model's declared fields (``model.py``,
read by ``schema.py`` through the value types of ``types.py``/``slot_types.py``) check and
build every value, and this module adds the policy warnings that need the whole schedule.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any

from broadcaster import fmt
from broadcaster.fmt import parse_day  # re-exported: commands/ import it from here for now
from broadcaster.schedule.diagnostics import Diagnostic, Invalid, LoadResult, Reporter
from broadcaster.schedule.marked import compose
from broadcaster.schedule.model import Policy, Schedule, Slot
from broadcaster.schedule.schema import TOP, Where, read_object
from broadcaster.schedule.slot_types import SCRIPTS_DIR
from broadcaster.schedule.types import (
    DEFAULT_TIMEZONE,
    KNOWN_ENGINES,
    Context,
    is_null,
    is_scalar,
    is_sequence,
    parse_time,
)

__all__ = [
    "DEFAULT_TIMEZONE",
    "KNOWN_ENGINES",
    "SCRIPTS_DIR",
    "Diagnostic",
    "LoadResult",
    "load_schedule",
    "parse_day",
]


def _read_text(shown: Path, resolved: Path, reporter: Reporter) -> str | None:
    """The file's text, or None after reporting why it cannot be read."""
    try:
        data = resolved.read_bytes()
    except FileNotFoundError:
        reporter.error(
            None, "không tìm thấy tệp lịch phát — kiểm tra đường dẫn hoặc chỉ định bằng --schedule ĐƯỜNG_DẪN"
        )
        return None
    except IsADirectoryError:
        reporter.error(None, "đây là một thư mục, không phải tệp lịch — chỉ định tệp, ví dụ --schedule schedule.yaml")
        return None
    except OSError as exc:
        reporter.error(None, f"không đọc được tệp lịch phát: {exc.strerror or exc}")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        message = "tệp lịch không phải mã UTF-8 — mở bằng trình soạn thảo và lưu lại với mã hóa UTF-8"
        reporter.errors.append(Diagnostic(shown, line, col, message))
        return None


def load_schedule(path: Path) -> LoadResult:
    """Read, check and build a schedule; never raises for bad input, every problem is in the result."""
    shown = Path(path)
    resolved = shown.expanduser().absolute()
    reporter = Reporter(shown)
    text = _read_text(shown, resolved, reporter)
    if text is None:
        return reporter.result(None)
    root = compose(text, reporter)
    if isinstance(root, Invalid):
        return reporter.result(None)
    if root is None or is_null(root):
        if not reporter.errors:
            reporter.error(None, "tệp lịch trống — cần ít nhất 'campaign:' và 'slots:' (xem mẫu schedule.yaml)")
        return reporter.result(None)
    ctx = Context(reporter, resolved.parent)
    schedule, _ = read_object(ctx, root, Schedule, Where(TOP, lambda _: ""), path=resolved)
    if isinstance(schedule, Invalid) or reporter.errors:
        return reporter.result(None)
    check_policy(schedule, ctx)
    return reporter.result(schedule)


# -- policy warnings -------------------------------------------------------------------


def check_policy(schedule: Schedule, ctx: Context) -> None:
    """Warn about slots outside the allowed hours, over-long sessions and slots that never air."""
    from broadcaster.schedule.estimate import estimate_session_seconds
    from broadcaster.schedule.plan import slot_dates

    policy, campaign = schedule.policy, schedule.campaign
    for slot, found in ctx.slots:
        if not slot.enabled:
            continue
        seconds = estimate_session_seconds(slot.play, slot.repeat, slot.gap_seconds, slot.chime)
        if seconds > policy.max_session_minutes * 60:
            ctx.reporter.warning(
                found["play"][0],
                f"buổi phát '{slot.name}' dài khoảng {fmt.duration(seconds)} (lặp {slot.repeat} lần), "
                f"vượt giới hạn {fmt.duration(policy.max_session_minutes * 60)} mỗi buổi — "
                "bớt nội dung hoặc giảm repeat",
            )
        _check_hours(ctx, slot, found, policy, seconds)
        if next(slot_dates(slot, campaign.start, campaign.end), None) is None:
            ctx.reporter.warning(
                found["name"][1],
                f"buổi phát '{slot.name}' không có lần phát nào trong thời gian chiến dịch — "
                "kiểm tra days, dates, skip_dates",
            )


def _clock(t: time) -> str:
    return fmt.clock(t, seconds=bool(t.second))


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _check_hours(ctx: Context, slot: Slot, found: dict[str, Any], policy: Policy, seconds: float) -> None:
    """Each air time: before ``earliest``, after ``latest``, or a session running past ``latest``."""
    at_node = found["at"][1]
    by_time: dict[time, Any] = {}
    for node in at_node.value if is_sequence(at_node) else [at_node]:
        t = parse_time(node.value) if is_scalar(node) else None
        if t is not None:
            by_time.setdefault(t, node)
    for t in slot.times:
        where = by_time.get(t, at_node)
        if t < policy.earliest:
            ctx.reporter.warning(
                where,
                f"buổi phát '{slot.name}' lúc {_clock(t)} sớm hơn giờ cho phép ({_clock(policy.earliest)}) — "
                "dễ làm phiền bà con",
            )
        elif t > policy.latest:
            ctx.reporter.warning(
                where, f"buổi phát '{slot.name}' lúc {_clock(t)} muộn hơn giờ cho phép ({_clock(policy.latest)})"
            )
        elif _seconds(t) + seconds > _seconds(policy.latest):
            h, rest = divmod(int(_seconds(t) + seconds), 3600)
            ctx.reporter.warning(
                where,
                f"buổi phát '{slot.name}' lúc {_clock(t)} kết thúc khoảng {h % 24:02d}:{rest // 60:02d}, "
                f"quá giờ cho phép ({_clock(policy.latest)})",
            )

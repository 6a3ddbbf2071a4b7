"""``broadcaster check``: validate the schedule and report every problem with its line."""

from __future__ import annotations

import sys

from broadcaster import ui

HELP = "Kiểm tra tệp lịch phát (schedule.yaml): báo mọi lỗi kèm số dòng, cột"


def add_arguments(parser) -> None:
    ui.add_schedule_argument(parser)


def format_duration(seconds: float) -> str:
    """``1 giờ 05 phút``, ``12 phút 30 giây`` — airtime as operators say it."""
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} giờ {m:02d} phút"
    if m:
        return f"{m} phút {s:02d} giây"
    return f"{s} giây"


def print_diagnostics(result, stream=None) -> None:
    """Print errors and warnings as ``PATH:LINE:COL: …`` in file order, then a count with what to do."""
    stream = stream or sys.stderr
    rows = sorted(result.errors + result.warnings, key=lambda d: (d.line, d.col, d.severity))
    for d in rows:
        if d.severity == "warning":
            print(f"{d.path}:{d.line}:{d.col}: cảnh báo: {d.message}", file=stream)
        else:
            print(str(d), file=stream)
    if result.errors:
        print(
            f"Lịch phát có {len(result.errors)} lỗi"
            + (f" và {len(result.warnings)} cảnh báo" if result.warnings else "")
            + ".\n  → Sửa các dòng trên rồi chạy lại 'broadcaster check'.",
            file=stream,
        )


def load_or_report(args):
    """Load the schedule named by ``--schedule``; print diagnostics; return the LoadResult."""
    from broadcaster.schedule.load import load_schedule

    result = load_schedule(ui.schedule_path(args))
    print_diagnostics(result)
    return result


def run(args) -> int:
    result = load_or_report(args)
    if not result.ok:
        return 1
    from broadcaster.schedule.plan import estimate_session_seconds, plan_broadcasts

    schedule = result.schedule
    broadcasts = plan_broadcasts(schedule)
    per_slot = {
        s.name: estimate_session_seconds(s.play, s.repeat, s.gap_seconds, s.chime) for s in schedule.slots
    }
    airtime = sum(per_slot[b.slot] for b in broadcasts)
    c = schedule.campaign
    active = sum(1 for s in schedule.slots if s.enabled)
    note = f" ({len(result.warnings)} cảnh báo ở trên)" if result.warnings else ""
    print(
        f"Lịch phát hợp lệ: {active} buổi phát, {len(broadcasts)} lần phát từ "
        f"{c.start:%d/%m/%Y} đến {c.end:%d/%m/%Y}, tổng thời lượng ước tính {format_duration(airtime)}{note}."
    )
    return 0

"""``broadcaster plan``: the concrete broadcasts the schedule asks for — exactly what the daemon fires."""

from __future__ import annotations

from broadcaster import ui

HELP = "Xem các lần phát cụ thể theo lịch (ngày giờ, buổi phát, nội dung, mức ưu tiên)"

_WEEKDAY_VI = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")


def add_arguments(parser) -> None:
    ui.add_schedule_argument(parser)
    parser.add_argument("--from", dest="start", metavar="NGÀY", help="từ ngày (2026-04-21 hoặc 21/04/2026), tính cả ngày đó")
    parser.add_argument("--to", dest="end", metavar="NGÀY", help="đến ngày (2026-04-21 hoặc 21/04/2026), tính cả ngày đó")
    parser.add_argument("--json", action="store_true", help="in ra dạng JSON (cho máy đọc)")


def _short_label(item) -> str:
    """A script is known by its slug alone in the table; text and audio keep their prefix."""
    label = item.label
    return label.removeprefix("script:")


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def _parse_bound(value: str | None, option: str):
    from broadcaster.schedule.load import parse_day

    if value is None:
        return None
    try:
        return parse_day(value)
    except ValueError:
        raise ValueError(f"ngày '{value}' của {option} không hợp lệ") from None


def run(args) -> int:
    try:
        start = _parse_bound(args.start, "--from")
        end = _parse_bound(args.end, "--to")
    except ValueError as exc:
        return ui.error(str(exc), "Viết ngày dạng NĂM-THÁNG-NGÀY (2026-04-21) hoặc NGÀY/THÁNG/NĂM (21/04/2026).")
    if start and end and end < start:
        return ui.error(
            f"--to ({end:%d/%m/%Y}) trước --from ({start:%d/%m/%Y})", "Đổi lại thứ tự hai ngày."
        )

    from broadcaster.commands.check import format_duration, load_or_report

    result = load_or_report(args)
    if not result.ok:
        return 1
    from broadcaster.schedule.plan import estimate_session_seconds, plan_broadcasts

    schedule = result.schedule
    broadcasts = plan_broadcasts(schedule, start, end)
    # every airing of a slot is the same session: estimate once per slot, not per broadcast
    memo: dict[tuple, float] = {}

    def seconds(b) -> float:
        key = (b.items, b.repeat, b.gap_seconds, b.chime)
        if key not in memo:
            memo[key] = estimate_session_seconds(*key)
        return memo[key]

    if args.json:
        import json

        rows = [
            {
                "at": b.at.isoformat(),
                "slot": b.slot,
                "items": [i.label for i in b.items],
                "priority": b.priority.label,
                "repeat": b.repeat,
                "gap_seconds": b.gap_seconds,
                "chime": str(b.chime) if b.chime else None,
                "estimated_seconds": round(seconds(b), 1),
                "key": b.key,
            }
            for b in broadcasts
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0

    c = schedule.campaign
    if not broadcasts:
        ui.info(
            f"Không có lần phát nào trong khoảng đã chọn (chiến dịch: {c.start:%d/%m/%Y} → {c.end:%d/%m/%Y})."
        )
        return 0
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Lịch phát — {escape(c.name)}", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Thời gian", no_wrap=True)
    table.add_column("Buổi phát", overflow="fold")
    table.add_column("Mức", no_wrap=True)
    table.add_column("Lặp", justify="right", no_wrap=True)
    table.add_column("Ước tính", justify="right", no_wrap=True)
    table.add_column("Nội dung", min_width=12, overflow="fold")
    for b in broadcasts:
        level = b.priority.vi if b.priority.value == 0 else f"[bold yellow]{b.priority.vi}[/]"
        table.add_row(
            f"{_WEEKDAY_VI[b.at.weekday()]} {b.at:%d/%m/%Y %H:%M}" + (f":{b.at:%S}" if b.at.second else ""),
            escape(b.slot),
            level,
            f"×{b.repeat}",
            _clock(seconds(b)),
            escape("\n".join(_short_label(i) for i in b.items)),
        )
    console = Console()
    console.print(table)
    total = sum(seconds(b) for b in broadcasts)
    console.print(f"{len(broadcasts)} lần phát, tổng thời lượng ước tính {format_duration(total)}.")
    return 0

"""``broadcaster plan``: the concrete broadcasts the schedule asks for — exactly what the daemon fires."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from broadcaster import ui

if TYPE_CHECKING:
    from broadcaster.approval import Unapproved
    from broadcaster.schedule.model import Broadcast, Item, Schedule

#: ``broadcast -> (approved, what lacks approval)``; approved is None when approval does not apply
ApprovalOf = Callable[["Broadcast"], tuple[bool | None, list["Unapproved"]]]

HELP = "Xem các lần phát cụ thể theo lịch (ngày giờ, buổi phát, nội dung, mức ưu tiên)"

_WEEKDAY_VI = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ui.add_schedule_argument(parser)
    parser.add_argument(
        "--from", dest="start", metavar="NGÀY", help="từ ngày (2026-04-21 hoặc 21/04/2026), tính cả ngày đó"
    )
    parser.add_argument(
        "--to", dest="end", metavar="NGÀY", help="đến ngày (2026-04-21 hoặc 21/04/2026), tính cả ngày đó"
    )
    parser.add_argument("--json", action="store_true", help="in ra dạng JSON (cho máy đọc)")


def _short_label(item: Item) -> str:
    """A script is known by its slug alone in the table; text and audio keep their prefix."""
    from broadcaster.schedule.model import ItemKind

    if item.kind is ItemKind.RELAY:
        return "tiếp sóng " + item.value.split("://", 1)[-1]
    label = item.label
    return label.removeprefix("script:")


def zones_of(b: Broadcast, schedule: Schedule) -> list[str]:
    """The zones a broadcast airs in ([] when the schedule has no zones: the one output)."""
    return list(b.zones) if b.zones is not None else list(schedule.zones)


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def _parse_bound(value: str | None, option: str) -> date | None:
    from broadcaster.fmt import parse_day

    if value is None:
        return None
    try:
        return parse_day(value)
    except ValueError:
        raise ValueError(f"ngày '{value}' của {option} không hợp lệ") from None


def approval_status(schedule: Schedule) -> ApprovalOf:
    """``broadcast -> (approved, reasons)``: approved is None when approval is not required or for an emergency.

    Reads the approvals file once per distinct playlist (never creates it), exactly as the daemon
    decides at fire time (``broadcaster.approval.gate``).
    """
    from broadcaster.approval import approval_required

    if not approval_required(schedule):
        return lambda b: (None, [])
    from broadcaster.approval import ApprovalStore, check_items
    from broadcaster.schedule.model import Priority

    store = ApprovalStore.open(schedule.state_path)
    memo: dict[tuple[Item, ...], tuple[bool | None, list[Unapproved]]] = {}

    def status(b: Broadcast) -> tuple[bool | None, list[Unapproved]]:
        if b.priority >= Priority.EMERGENCY:
            return None, []  # emergencies are never held (reviewed after airing)
        if b.items not in memo:
            missing = check_items(b.items, schedule, store)
            memo[b.items] = (not missing, missing)
        return memo[b.items]

    return status


def run(args: Any) -> int:
    try:
        start = _parse_bound(args.start, "--from")
        end = _parse_bound(args.end, "--to")
    except ValueError as exc:
        return ui.error(str(exc), "Viết ngày dạng NĂM-THÁNG-NGÀY (2026-04-21) hoặc NGÀY/THÁNG/NĂM (21/04/2026).")
    if start and end and end < start:
        return ui.error(f"--to ({end:%d/%m/%Y}) trước --from ({start:%d/%m/%Y})", "Đổi lại thứ tự hai ngày.")

    from broadcaster import fmt

    result = ui.load_and_report(ui.schedule_path(args))
    if not result.ok:
        return 1
    from broadcaster.schedule.plan import estimate_session_seconds, plan_broadcasts

    schedule = result.schedule
    broadcasts = plan_broadcasts(schedule, start, end)
    approval = approval_status(schedule)
    # every airing of a slot is the same session: estimate once per slot, not per broadcast
    memo: dict[tuple[Any, ...], float] = {}

    def seconds(b: Broadcast) -> float:
        # keyed by the items' identity: every airing of a slot shares its tuple (hashing 11 000
        # tuples of items by value was a tenth of `plan --json` on a one-year schedule)
        key = (id(b.items), b.repeat, b.gap_seconds, b.chime)
        if key not in memo:
            memo[key] = estimate_session_seconds(b.items, b.repeat, b.gap_seconds, b.chime)
        return memo[key]

    if args.json:
        rows = _json_rows(broadcasts, seconds, approval)
        for row, b in zip(rows, broadcasts, strict=True):
            row["zones"] = zones_of(b, schedule)
        sys.stdout.write(json_lines(rows))
        return 0
    c = schedule.campaign
    if not broadcasts:
        ui.info(f"Không có lần phát nào trong khoảng đã chọn (chiến dịch: {c.start:%d/%m/%Y} → {c.end:%d/%m/%Y}).")
        return 0
    _print_table(c.name, broadcasts, seconds, approval, fmt.duration)
    return 0


def json_lines(rows: Sequence[dict[str, Any]]) -> str:
    """A JSON array with one broadcast per line.

    ``json.dumps(indent=…)`` runs the pure-Python encoder: on a one-year plan (11 000 broadcasts,
    4.7 MB) that was three quarters of the command's time. Each row through the C encoder, one
    per line, is the same JSON value, still readable line by line and greppable by broadcast.
    """
    import json

    encode = json.JSONEncoder(ensure_ascii=False).encode
    if not rows:
        return "[]\n"
    return "[\n" + ",\n".join(encode(r) for r in rows) + "\n]\n"


def _json_rows(
    broadcasts: Sequence[Broadcast], seconds: Callable[[Broadcast], float], approval: ApprovalOf
) -> list[dict[str, Any]]:
    """``--json``: one object per broadcast; ``approved`` is null when approval does not apply."""
    labels: dict[int, list[str]] = {}  # a slot's items (one shared tuple), labelled once for all its airings
    rows = []
    for b in broadcasts:
        approved, unapproved = approval(b)
        items = labels.get(id(b.items))
        if items is None:
            items = labels[id(b.items)] = [i.label for i in b.items]
        rows.append(
            {
                "at": b.at.isoformat(),
                "slot": b.slot,
                "items": items,
                "priority": b.priority.label,
                "repeat": b.repeat,
                "gap_seconds": b.gap_seconds,
                "chime": str(b.chime) if b.chime else None,
                "estimated_seconds": round(seconds(b), 1),
                "key": b.key,
                "approved": approved,
                "unapproved_items": [u.item.label for u in unapproved],
            }
        )
    return rows


def _print_table(
    title: str,
    broadcasts: Sequence[Broadcast],
    seconds: Callable[[Broadcast], float],
    approval: ApprovalOf,
    format_duration: Callable[[float], str],
) -> None:
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Lịch phát — {escape(title)}", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Thời gian", no_wrap=True)
    table.add_column("Buổi phát", overflow="fold", max_width=14)
    table.add_column("Mức", no_wrap=True)
    table.add_column("Ước tính", justify="right", no_wrap=True)  # "×2" (reads) under the duration
    # whole script names (never "attp-huong-d / an"): the slot name folds instead
    longest = max((len(_short_label(i)) for b in broadcasts for i in b.items), default=12)
    table.add_column("Nội dung", min_width=min(max(longest, 12), 30), overflow="fold", ratio=1)
    for b in broadcasts:
        level = b.priority.vi if b.priority.value == 0 else f"[bold yellow]{b.priority.vi}[/]"
        level += _approval_cell(approval(b)[0])  # under the level: no extra column on an 80-column screen
        table.add_row(
            # day above time: the narrow column leaves "Nội dung" room for whole script names at 80 columns
            f"{_WEEKDAY_VI[b.at.weekday()]} {b.at:%d/%m/%Y}\n{b.at:%H:%M}" + (f":{b.at:%S}" if b.at.second else ""),
            escape(b.slot),
            level,
            f"{_clock(seconds(b))}\n×{b.repeat}",
            escape("\n".join([_short_label(i) for i in b.items] + ([f"→ {', '.join(b.zones)}"] if b.zones else []))),
        )
    console = Console()
    console.print(table)
    total = sum(seconds(b) for b in broadcasts)
    console.print(f"{len(broadcasts)} lần phát, tổng thời lượng ước tính {format_duration(total)}.")
    held = [b for b in broadcasts if approval(b)[0] is False]
    if held:
        console.print(
            f"[bold red]{len(held)} lần phát sẽ không phát vì chưa duyệt[/] — {escape(_why_held(held, approval))}.\n"
            "  → Xem nội dung chờ duyệt: broadcaster approve --pending; "
            "lãnh đạo duyệt: broadcaster approve BÀI --by TÊN",
            highlight=False,
        )


def _why_held(held: Sequence[Broadcast], approval: ApprovalOf) -> str:
    """``chưa duyệt: bài 'a', bài 'b'; bài 'c' bị từ chối (…)`` — each content once."""
    missing = {u.subject.digest: u for b in held for u in approval(b)[1]}.values()
    plain = [u.subject.label_vi for u in missing if u.decision is None and u.reason.endswith("chưa được duyệt")]
    other = [u.reason for u in missing if u.subject.label_vi not in plain]
    return "; ".join(([f"chưa duyệt: {', '.join(plain)}"] if plain else []) + other)


def _approval_cell(approved: bool | None) -> str:
    """A second line in the level cell when approval is required (nothing otherwise)."""
    if approved is None:
        return ""
    return "\n[green]đã duyệt[/]" if approved else "\n[bold red]chưa duyệt[/]"

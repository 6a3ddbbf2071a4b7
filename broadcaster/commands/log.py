"""``broadcaster log``: show the as-run log of one day (what aired, when, with which voice)."""

from __future__ import annotations

import argparse
import sys
import textwrap
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from broadcaster import fmt, ui

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from broadcaster.asrun import AsRunRow

HELP = "xem nhật ký phát (các buổi đã phát, bị ngắt, lỗi, bỏ lỡ) của một ngày"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ui.add_schedule_argument(parser)
    parser.add_argument(
        "--date",
        metavar="NGÀY",
        default=None,
        help=f"ngày cần xem, dạng {fmt.DAY_FORMS} (mặc định: hôm nay)",
    )
    parser.add_argument("--json", action="store_true", help="in ra JSON (mảng các bản ghi, đầy đủ chữ) thay vì bảng")


@dataclass
class LogContext:
    """What the log, report and audit commands need from the schedule (which may be broken)."""

    schedule_path: Path
    state_dir: Path
    tz: tzinfo
    schedule: Any | None  # broadcaster.schedule.model.Schedule when it loaded cleanly

    @property
    def log_file(self) -> Path:
        from broadcaster.asrun import log_path

        return log_path(self.state_dir)


def load_context(path: Path) -> LogContext:
    """Find the state directory and time zone; a broken schedule only earns a warning."""
    from broadcaster.asrun import DEFAULT_TZ
    from broadcaster.layout import Layout

    path = Path(path)
    if not path.is_file():
        fallback = LogContext(path, Layout.locate(path).state_dir, DEFAULT_TZ, None)
        ui.warn(
            f"không tìm thấy tệp lịch '{path}'; tìm nhật ký ở '{fallback.state_dir}'. "
            "Dùng --schedule ĐƯỜNG_DẪN nếu lịch ở chỗ khác."
        )
        return fallback
    # a broken schedule may still name its state_dir: Layout.locate reads just that line
    fallback = LogContext(path, Layout.locate(path).state_dir, DEFAULT_TZ, None)
    try:
        from broadcaster.schedule.load import load_schedule

        result = load_schedule(path)
    except Exception as exc:  # noqa: BLE001 - a loader bug must not hide the log from the operator
        ui.warn(f"không đọc được lịch '{path}' ({exc}); tìm nhật ký ở '{fallback.state_dir}'.")
        return fallback
    if result.schedule is None or not result.ok:
        ui.warn(
            f"lịch '{path}' có {len(result.errors)} lỗi (chạy 'broadcaster check' để xem); "
            f"vẫn đọc nhật ký ở '{fallback.state_dir}' theo giờ Việt Nam."
        )
        if result.schedule is None:
            return fallback
    schedule = result.schedule
    return LogContext(path, schedule.state_path, schedule.campaign.timezone, schedule if result.ok else None)


def _hhmm(value: datetime | None, tz: tzinfo, seconds: bool = False) -> str:
    return fmt.clock(value.astimezone(tz), seconds=seconds) if value is not None else ""


def _engines(engines: dict[str, str]) -> str:
    return ", ".join(dict.fromkeys(str(v) for v in engines.values()))


_STATUS_STYLE = {
    "played": "green",
    "started": "cyan",
    "interrupted": "yellow",
    "failed": "red",
    "missed": "red",
    "skipped": "dim",
    "unapproved": "magenta",
}


def _shown_seconds(r: AsRunRow) -> float | None:
    """What the duration column shows: time on air; unknown after a crash."""
    from broadcaster.records import Outcome

    if r.status is Outcome.INTERRUPTED and r.duration_s is None and r.ended_at is None:
        return None  # a crash: nobody knows how long it aired
    if r.status in (Outcome.PLAYED, Outcome.INTERRUPTED):
        return r.aired_seconds
    return r.duration_s


def _details(r: AsRunRow) -> str:
    """The row's second line: items (unless the title already says them), source, voice, who asked."""
    from broadcaster.asrun import item_label_vi
    from broadcaster.records import Source

    labels = [item_label_vi(i) for i in r.items]
    parts = []
    # an ad-hoc text's title is usually the text itself: do not print it twice
    if labels and not (len(labels) == 1 and r.title in labels[0]):
        parts.append(", ".join(labels))
    if r.source is Source.ADHOC and not r.title.lower().startswith("phát ngay"):
        parts.append("phát ngay")
    if r.engines:
        parts.append("giọng đọc: " + _engines(r.engines))
    if r.by_user:
        parts.append(f"do {r.by_user} yêu cầu")
    if r.zone:
        parts.append(f"vùng {r.zone}")
    return " · ".join(parts)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.split()))


def _print_narrow(console: Console, rows: list[AsRunRow], tz: tzinfo) -> None:
    """At most three lines a row, none wider than the terminal: the time columns, then the
    details and the reason under the programme's name, ellipsized (``--json`` has the full text)."""
    from rich.text import Text

    from broadcaster.asrun import STATUS_VI, row_problem

    width = max(60, console.width)
    indent = " " * 7
    head = f"{'Lịch':<5}  {'Phát lúc':<11}  {'Kết quả':<10}  {'Thời lượng':>14}  Chương trình"
    console.print(Text(head, style="bold"), no_wrap=True, overflow="ellipsis", crop=True)
    console.print("─" * width, no_wrap=True, crop=True)
    for r in rows:
        span = _hhmm(r.started_at, tz) + ("–" + _hhmm(r.ended_at, tz) if r.ended_at else "")
        line = Text(f"{_hhmm(r.planned_at, tz):<5}  {span:<11}  ")
        line.append(f"{STATUS_VI.get(r.status, r.status):<10}", style=_STATUS_STYLE.get(r.status, ""))
        line.append(f"  {fmt.duration(_shown_seconds(r)):>14}  ")
        line.append(fmt.ellipsize(_nfc(r.title), width - len(line.plain)))
        console.print(line, no_wrap=True, overflow="ellipsis", crop=True)
        for text, style in ((_details(r), "dim"), (row_problem(r), "red")):
            if text:
                console.print(
                    Text(indent + fmt.ellipsize(_nfc(text), width - len(indent)), style=style),
                    no_wrap=True,
                    overflow="ellipsis",
                    crop=True,
                )


def _programme(r: AsRunRow) -> Text:
    """Title, then the items in dim (wide table: voice and reason have their own columns)."""
    from rich.text import Text

    from broadcaster.asrun import item_label_vi

    text = Text(fmt.ellipsize(_nfc(r.title), 60))
    labels = [item_label_vi(i) for i in r.items]
    if labels and not (len(labels) == 1 and r.title in labels[0]):
        text.append("\n" + fmt.ellipsize(_nfc(", ".join(labels)), 60), style="dim")
    if r.by_user:
        text.append(f"\ndo {r.by_user} yêu cầu", style="dim")
    return text


def _print_wide(console: Console, rows: list[AsRunRow], tz: tzinfo, title: str) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from broadcaster.asrun import SOURCE_VI, STATUS_VI, row_problem

    table = Table(title=title, box=box.HEAVY_HEAD)
    names = [
        "Dự kiến",
        "Bắt đầu",
        "Kết thúc",
        "Nguồn",
        "Chương trình",
        "Trạng thái",
        "Giọng đọc",
        "Thời lượng",
        "Lỗi / ghi chú",
    ]
    for name in names:
        table.add_column(
            name,
            no_wrap=name not in ("Chương trình", "Lỗi / ghi chú"),
            justify="right" if name == "Thời lượng" else "left",
            overflow="fold",
        )
    for r in rows:
        table.add_row(
            _hhmm(r.planned_at, tz),
            _hhmm(r.started_at, tz, True),
            _hhmm(r.ended_at, tz, True),
            SOURCE_VI.get(r.source, r.source),
            _programme(r),
            Text(STATUS_VI.get(r.status, r.status), style=_STATUS_STYLE.get(r.status, "")),
            _engines(r.engines),
            fmt.duration(_shown_seconds(r)),
            fmt.ellipsize(_nfc(row_problem(r)), 80),
        )
    console.print(table)


def summary(rows: list[AsRunRow]) -> list[str]:
    """``5 bản ghi — 4 buổi phát: 4 đã phát.``, counted as the report counts (one computation)."""
    from broadcaster.asrun import count_outcomes, outcome_summary

    counts = count_outcomes(rows)
    lines = [f"{len(rows)} bản ghi — {counts.broadcasts} buổi phát: {outcome_summary(counts.total())}."]
    if len(rows) > counts.broadcasts:
        lines.append("(Buổi bị ngắt rồi phát lại chỉ tính một lần, như trong báo cáo.)")
    return lines


def _read_rows(ctx: LogContext, day: date) -> list[AsRunRow] | int:
    """The day's rows, or an exit code after telling the operator what went wrong."""
    from broadcaster.asrun import AsRunError, AsRunLog

    try:
        with AsRunLog(ctx.log_file) as log:
            return log.rows(day=day, tz=ctx.tz)
    except AsRunError as exc:
        return ui.error(str(exc))
    except Exception as exc:  # noqa: BLE001 - e.g. the file is locked by a stuck process
        return ui.error(
            f"không đọc được nhật ký phát '{ctx.log_file}': {exc}",
            "Thử lại sau ít giây; nếu vẫn lỗi, kiểm tra quyền đọc tệp.",
        )


def run(args: argparse.Namespace) -> int:
    import json

    ctx = load_context(ui.schedule_path(args))
    try:
        day: date = fmt.parse_day(args.date) if args.date else datetime.now(ctx.tz).date()
    except ValueError as exc:
        return ui.error(str(exc))
    if not ctx.log_file.is_file():
        if args.json:
            print("[]")
        ui.info(
            f"Chưa có nhật ký phát ở '{ctx.log_file}'. Nhật ký được tạo khi 'broadcaster run' "
            "phát buổi đầu tiên (hoặc khi dùng 'broadcaster say'/'play')."
        )
        return 0
    rows = _read_rows(ctx, day)
    if isinstance(rows, int):
        return rows
    if args.json:
        json.dump([r.to_dict(ctx.tz) for r in rows], sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not rows:
        ui.info(f"Ngày {fmt.day(day)} chưa có bản ghi nào trong nhật ký phát.")
        return 0

    from rich.console import Console

    console = Console()
    title = f"Nhật ký phát ngày {fmt.day(day)}"
    if console.width >= 120:
        _print_wide(console, rows, ctx.tz, title)
    else:
        console.print(title, style="bold", no_wrap=True, crop=True)
        _print_narrow(console, rows, ctx.tz)
    for line in summary(rows):
        for part in textwrap.wrap(line, console.width):
            console.print(part, no_wrap=True, crop=True)
    return 0

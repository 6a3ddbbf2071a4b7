"""``broadcaster log``: show the as-run log of one day (what aired, when, with which voice)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path

from broadcaster import ui

HELP = "xem nhật ký phát (các buổi đã phát, bị ngắt, lỗi, bỏ lỡ) của một ngày"


def add_arguments(parser) -> None:
    ui.add_schedule_argument(parser)
    parser.add_argument(
        "--date",
        metavar="NGÀY",
        default=None,
        help="ngày cần xem, dạng 2026-04-21 hoặc 21/4/2026 (mặc định: hôm nay)",
    )
    parser.add_argument(
        "--json", action="store_true", help="in ra JSON (mảng các bản ghi) thay vì bảng"
    )


@dataclass
class LogContext:
    """What the log and report commands need from the schedule (which may be broken)."""

    schedule_path: Path
    state_dir: Path
    tz: tzinfo
    schedule: object | None  # broadcaster.schedule.model.Schedule when it loaded cleanly

    @property
    def log_file(self) -> Path:
        from broadcaster.asrun import log_path

        return log_path(self.state_dir)


def load_context(path: Path) -> LogContext:
    """Find the state directory and time zone; a broken schedule only earns a warning."""
    from broadcaster.asrun import DEFAULT_TZ

    path = Path(path)
    fallback = LogContext(path, path.parent / "state", DEFAULT_TZ, None)
    if not path.is_file():
        ui.warn(
            f"không tìm thấy tệp lịch '{path}'; tìm nhật ký ở '{fallback.state_dir}'. "
            "Dùng --schedule ĐƯỜNG_DẪN nếu lịch ở chỗ khác."
        )
        return fallback
    try:
        from broadcaster.schedule.load import load_schedule

        result = load_schedule(path)
    except Exception as exc:  # a loader bug must not hide the log from the operator
        ui.warn(f"không đọc được lịch '{path}' ({exc}); tìm nhật ký ở '{fallback.state_dir}'.")
        return fallback
    if result.schedule is None or not result.ok:
        count = len(result.errors)
        ui.warn(
            f"lịch '{path}' có {count} lỗi (chạy 'broadcaster check' để xem); "
            f"vẫn đọc nhật ký ở '{fallback.state_dir}' theo giờ Việt Nam."
        )
        if result.schedule is None:
            return fallback
    schedule = result.schedule
    return LogContext(path, schedule.state_path, schedule.campaign.timezone,
                      schedule if result.ok else None)


def _hhmm(value: datetime | None, tz: tzinfo, seconds: bool = False) -> str:
    if value is None:
        return ""
    return value.astimezone(tz).strftime("%H:%M:%S" if seconds else "%H:%M")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = int(round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def _engines(engines: dict[str, str]) -> str:
    return ", ".join(dict.fromkeys(str(v) for v in engines.values()))


_STATUS_STYLE = {
    "played": "green",
    "started": "cyan",
    "interrupted": "yellow",
    "failed": "red",
    "missed": "red",
    "skipped": "dim",
}


def run(args) -> int:
    import json

    from broadcaster.asrun import SOURCE_VI, STATUS_VI, AsRunError, AsRunLog, item_label_vi, parse_day

    ctx = load_context(ui.schedule_path(args))
    try:
        day: date = parse_day(args.date) if args.date else datetime.now(ctx.tz).date()
    except ValueError as exc:
        return ui.error(str(exc))
    day_text = day.strftime("%d/%m/%Y")

    if not ctx.log_file.is_file():
        if args.json:
            print("[]")
        ui.info(
            f"Chưa có nhật ký phát ở '{ctx.log_file}'. Nhật ký được tạo khi 'broadcaster run' "
            "phát buổi đầu tiên (hoặc khi dùng 'broadcaster say'/'play')."
        )
        return 0
    try:
        with AsRunLog(ctx.log_file) as log:
            rows = log.rows(day=day, tz=ctx.tz)
    except AsRunError as exc:
        return ui.error(str(exc))
    except Exception as exc:  # e.g. the file is locked by a stuck process
        return ui.error(
            f"không đọc được nhật ký phát '{ctx.log_file}': {exc}",
            "Thử lại sau ít giây; nếu vẫn lỗi, kiểm tra quyền đọc tệp.",
        )

    if args.json:
        json.dump([r.to_dict(ctx.tz) for r in rows], sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not rows:
        ui.info(f"Ngày {day_text} chưa có bản ghi nào trong nhật ký phát.")
        return 0

    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    # An 80-column terminal cannot hold nine columns: there, start and end share a column
    # without seconds, and voice and error go under the programme's name.
    wide = console.width >= 120
    table = Table(title=f"Nhật ký phát ngày {day_text}", box=box.HEAVY_HEAD if wide else box.SIMPLE_HEAD)
    if wide:
        names = ["Dự kiến", "Bắt đầu", "Kết thúc", "Nguồn", "Chương trình", "Trạng thái",
                 "Giọng đọc", "Thời lượng", "Lỗi / ghi chú"]
    else:
        names = ["Dự kiến", "Phát lúc", "Nguồn", "Trạng thái", "Thời lượng", "Chương trình"]
    for name in names:
        table.add_column(
            name,
            no_wrap=name in ("Dự kiến", "Bắt đầu", "Kết thúc", "Phát lúc", "Thời lượng"),
            justify="right" if name == "Thời lượng" else "left",
            overflow="fold",
        )
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
        programme = Text(r.title)
        labels = [item_label_vi(i) for i in r.items]
        # an ad-hoc text's title is usually the text itself: do not print it twice
        if labels and not (len(labels) == 1 and r.title in labels[0]):
            programme.append("\n" + ", ".join(labels), style="dim")
        problem = "; ".join(x for x in (r.error, r.note) if x)
        if r.by:
            problem = (problem + "; " if problem else "") + f"người ra lệnh: {r.by}"
        duration = r.aired_seconds if r.status in ("played", "interrupted") else r.duration_s
        if r.status == "interrupted" and r.duration_s is None and r.ended_at is None:
            duration = None  # a crash: nobody knows how long it aired
        status = Text(STATUS_VI.get(r.status, r.status), style=_STATUS_STYLE.get(r.status, ""))
        source = SOURCE_VI.get(r.source, r.source)
        if wide:
            table.add_row(
                _hhmm(r.planned_at, ctx.tz),
                _hhmm(r.started_at, ctx.tz, True),
                _hhmm(r.ended_at, ctx.tz, True),
                source,
                programme,
                status,
                _engines(r.engines),
                _duration(duration),
                problem,
            )
            continue
        span = _hhmm(r.started_at, ctx.tz)
        if r.ended_at:
            span += "–" + _hhmm(r.ended_at, ctx.tz)
        if r.engines:
            programme.append("\ngiọng đọc: " + _engines(r.engines), style="dim")
        if problem:
            programme.append("\n" + problem, style="red")
        table.add_row(_hhmm(r.planned_at, ctx.tz), span, source, status, _duration(duration), programme)
    console.print(table)
    summary = ", ".join(f"{n} {STATUS_VI[s]}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    console.print(f"{len(rows)} bản ghi: {summary}.")
    return 0

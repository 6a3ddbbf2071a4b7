"""``broadcaster rehearse``: write one day's broadcasts to WAV files, exactly as they would air."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from broadcaster import fmt, ui
from broadcaster.ui import add_schedule_argument, error, schedule_path

HELP = "Tập dượt: ghi mọi buổi phát của một ngày ra tệp WAV để nghe thử (không cần loa, không cần mạng)"


def add_arguments(parser) -> None:
    parser.add_argument("--date", required=True, metavar="NGÀY", help=f"ngày cần tập dượt ({fmt.DAY_FORMS})")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="THƯ_MỤC",
        help="thư mục ghi tệp (mặc định: audio/rehearsal/NGÀY/ cạnh tệp lịch)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="không dùng Internet: giọng ngoại tuyến (espeak-ng) và âm thanh đã có sẵn",
    )
    add_schedule_argument(parser)


def _clock_duration(seconds: float) -> str:
    """``1:05`` — a recording's length as a player shows it."""
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def _render_one(b: Any, renderer: Any, target: Path, offline: bool) -> tuple[Any, Any, Path]:
    """One broadcast's programme, exactly as it would air, written to ``target``."""
    from broadcaster.programme import build_programme
    from broadcaster.speech.audio import write_wav

    programme = build_programme(
        b.items,
        renderer=renderer,
        chime=b.chime,
        repeat=b.repeat,
        gap_seconds=b.gap_seconds,
        title=f"{b.slot} {b.at:%H:%M}",
        offline=offline,
    )
    samples = programme.samples()
    return programme, samples, write_wav(target, samples)


def _render_day(
    broadcasts: list[Any], renderer: Any, out_dir: Path, *, offline: bool
) -> tuple[list[tuple[str, ...]], list[str], int]:
    """Write each broadcast's programme to ``out_dir``: table rows, failures, offline-voice parts."""
    from rich.console import Console

    from broadcaster.commands.render import progress_bar
    from broadcaster.programme import ProgrammeError
    from broadcaster.speech.audio import measure_lufs
    from broadcaster.speech.render import RenderError

    console = Console(stderr=True)
    rows: list[tuple[str, ...]] = []
    failures: list[str] = []
    fallback_parts = 0
    used_names: set[str] = set()
    with progress_bar(console) as progress:
        task = progress.add_task("Đang tập dượt", total=len(broadcasts))
        for b in broadcasts:
            hhmm = b.at.strftime("%H%M")
            progress.update(task, description=f"{b.at:%H:%M} {b.slot}")
            name = f"{hhmm}-{fmt.slugify(b.slot)}"
            while name in used_names:
                name += "-2"
            used_names.add(name)
            try:
                programme, samples, target = _render_one(b, renderer, out_dir / f"{name}.wav", offline)
            except (RenderError, ProgrammeError) as exc:
                failures.append(f"{b.at:%H:%M} {b.slot}: {exc}")
            except OSError as exc:
                failures.append(f"{b.at:%H:%M} {b.slot}: không ghi được tệp: {exc.strerror or exc}")
            else:
                engines = sorted(set(programme.engines().values())) or ["—"]
                fallback_parts += len({p.label for p in programme.parts if p.kind == "speech" and p.fallback})
                rows.append(
                    (
                        f"{b.at:%H:%M}",
                        b.slot,
                        _clock_duration(len(samples) / programme.rate),
                        ", ".join(engines),
                        f"{measure_lufs(samples):.1f}",
                        target.name,
                    )
                )
            progress.advance(task)

    return rows, failures, fallback_parts


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from broadcaster.commands.render import conclude, make_renderer
    from broadcaster.layout import Layout
    from broadcaster.schedule.plan import plan_broadcasts

    try:
        day = fmt.parse_day(args.date)
    except ValueError as exc:
        return error(str(exc), "ví dụ: --date 21/4/2026")

    path = schedule_path(args)
    schedule = ui.load_schedule_or_report(path)
    if schedule is None:
        return 1
    campaign = schedule.campaign
    if not campaign.start <= day <= campaign.end:
        return error(
            f"ngày {fmt.day(day)} nằm ngoài chiến dịch '{campaign.name}' "
            f"({fmt.day(campaign.start)} → {fmt.day(campaign.end)}), không có buổi phát nào",
            "chọn một ngày trong thời gian chiến dịch",
        )
    broadcasts = [b for b in plan_broadcasts(schedule, day, day) if b.at.date() == day]
    if not broadcasts:
        print(
            f"Ngày {fmt.day(day)} không có buổi phát nào theo lịch (trong chiến dịch, nhưng không buổi nào "
            "rơi vào ngày này hoặc các buổi đang tắt). Không có gì để tập dượt."
        )
        return 0
    renderer = make_renderer(schedule)
    if renderer is None:
        return 1

    out_dir = args.out if args.out is not None else Layout.of(schedule).rehearsal_dir / day.isoformat()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return error(f"không tạo được thư mục {out_dir}: {exc.strerror or exc}", "chọn thư mục khác bằng --out")

    rows, failures, fallback_parts = _render_day(broadcasts, renderer, out_dir, offline=args.offline)
    table = Table(title=f"Tập dượt ngày {fmt.day(day)} — {out_dir}")
    for header in ("Giờ", "Buổi phát", "Thời lượng", "Giọng đọc", "Độ lớn (LUFS)", "Tệp"):
        table.add_column(header, no_wrap=True)
    for row in rows:
        table.add_row(*row)
    # piped output (logs, tests) has no terminal width: do not squeeze the table into 80 columns
    Console(width=None if sys.stdout.isatty() else 120).print(table)
    return conclude(
        renderer,
        fallback_parts,
        args.offline,
        failures,
        f"{len(failures)} buổi phát chưa tập dượt được",
        "sửa lỗi ở trên rồi chạy lại; những buổi này sẽ lỗi y như vậy khi phát thật",
    )

"""``broadcaster render``: pre-render every script and text the schedule uses into the cache."""

from __future__ import annotations

import sys
from typing import Any

from broadcaster.ui import add_schedule_argument, error, load_schedule_or_report, schedule_path, warn

HELP = "Chuẩn bị trước giọng đọc cho mọi bài trong lịch (lưu vào audio/cache/ để phát không cần chờ)"


def add_arguments(parser) -> None:
    parser.add_argument(
        "--offline",
        action="store_true",
        help="không dùng Internet: chỉ dùng giọng ngoại tuyến (espeak-ng) và âm thanh đã có sẵn",
    )
    add_schedule_argument(parser)


def progress_bar(console: Any) -> Any:
    """The progress bar of long preparations (``render``, ``rehearse``), gone when done."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    return Progress(*columns, TimeElapsedColumn(), console=console, transient=True)


def make_renderer(schedule):
    """The schedule's renderer, or None after printing why it cannot be built."""
    from broadcaster.station import make_renderer as station_renderer

    try:
        return station_renderer(schedule, strict=True)
    except Exception as exc:  # noqa: BLE001 - bad abbreviations file, no usable voice: tell the operator, no traceback
        error(
            f"không chuẩn bị được giọng đọc: {exc}",
            "kiểm tra defaults.voice trong lịch và tệp scripts_vi/abbreviations.yaml",
        )
        return None


def fallback_note(renderer, fallback_count: int, offline: bool) -> str | None:
    """Vietnamese sentence explaining that the offline voice replaced the online one."""
    preferred = renderer.engines[0]
    if not fallback_count or not preferred.online:
        return None
    used = ", ".join(e.name for e in renderer.engines[1:])
    if offline:
        return (
            f"Chế độ ngoại tuyến: {fallback_count} bài đọc bằng giọng dự phòng ({used}) thay cho "
            f"giọng trực tuyến ({preferred.name}). Khi có mạng, chạy 'broadcaster render' để thay."
        )
    last_error = renderer.health().get(preferred.name, {}).get("last_error") or "không rõ lý do"
    return (
        f"Không kết nối được giọng đọc trực tuyến ({preferred.name}): {last_error}\n"
        f"  → Đã dùng giọng ngoại tuyến ({used}) cho {fallback_count} bài. "
        "Khi có mạng, chạy lại 'broadcaster render' để thay bằng giọng trực tuyến."
    )


def run(args) -> int:
    from rich.console import Console

    from broadcaster.programme import ProgrammeError, item_text, speech_items
    from broadcaster.speech.render import RenderError

    path = schedule_path(args)
    schedule = load_schedule_or_report(path)
    if schedule is None:
        return 1
    renderer = make_renderer(schedule)
    if renderer is None:
        return 1
    items = speech_items(schedule)
    if not items:
        print("Lịch không có bài đọc nào (script/text) — không có gì để chuẩn bị.")
        return 0

    console = Console(stderr=True)
    synthesized = cached = fallback = 0
    failures: list[str] = []
    with progress_bar(console) as progress:
        task = progress.add_task("Đang chuẩn bị giọng đọc", total=len(items))
        for item in items:
            progress.update(task, description=f"Đang đọc {item.label}")
            try:
                rendered = renderer.render(item_text(item), offline=args.offline)
            except (RenderError, ProgrammeError) as exc:
                failures.append(f"{item.label}: {exc}")
            else:
                cached += rendered.from_cache
                synthesized += not rendered.from_cache
                fallback += rendered.fallback
            progress.advance(task)

    done = synthesized + cached
    print(
        f"Đã chuẩn bị {done}/{len(items)} bài: {synthesized} bài mới đọc, {cached} bài lấy từ bộ nhớ đệm"
        + (f", {fallback} bài bằng giọng dự phòng." if fallback else ".")
    )
    print(f"Bộ nhớ đệm: {renderer.cache.directory}")
    return conclude(
        renderer,
        fallback,
        args.offline,
        failures,
        f"{len(failures)} bài chưa chuẩn bị được",
        "sửa lỗi ở trên (tệp bài đọc, cài espeak-ng: sudo apt-get install espeak-ng) rồi chạy lại",
    )


def conclude(renderer, fallback: int, offline: bool, failures: list[str], failed: str, hint: str) -> int:
    """Say when the offline voice stood in, list the failures; the exit code."""
    note = fallback_note(renderer, fallback, offline)
    if note:
        warn(note)
    if failures:
        for line in failures:
            print(f"Lỗi: {line}", file=sys.stderr)
        return error(failed, hint)
    return 0

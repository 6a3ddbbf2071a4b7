"""``broadcaster check``: validate the schedule and report every problem with its line."""

from __future__ import annotations

import sys

from broadcaster import fmt, ui

HELP = "Kiểm tra tệp lịch phát (schedule.yaml): báo mọi lỗi kèm số dòng, cột"


def add_arguments(parser) -> None:
    ui.add_schedule_argument(parser)


def check_speech(base_dir, stream=None) -> int:
    """Report bad reading-list entries (errors) and ambiguous spans in scripts_vi/*.txt (warnings).

    Prints ``PATH:LINE:COL: …`` lines like the schedule's; returns the number of errors.
    """
    from pathlib import Path

    from broadcaster.speech.normalize import analyze, load_lexicon

    stream = stream or sys.stderr
    from broadcaster.layout import Layout

    scripts = Layout.at(Path(base_dir)).scripts_dir
    lexicon = load_lexicon(scripts if scripts.is_dir() else None)
    for issue in lexicon.issues:
        print(
            str(issue)
            if issue.severity == "error"
            else f"{issue.path}:{issue.line}:{issue.col}: cảnh báo: {issue.message}",
            file=stream,
        )
    warnings = 0
    for path in sorted(scripts.glob("*.txt")) if scripts.is_dir() else []:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # the schedule check reports unreadable scripts it uses
        for w in analyze(text, lexicon).warnings:
            print(f"{path}:{w.line}:{w.col}: cảnh báo: {w.message}", file=stream)
            warnings += 1
    errors = len(lexicon.errors)
    if errors:
        print(
            f"Danh sách đọc (từ viết tắt, cách đọc) có {errors} mục sai; các mục đó bị bỏ qua khi đọc.\n"
            "  → Sửa các dòng trên rồi chạy lại 'broadcaster check'.",
            file=stream,
        )
    elif warnings:
        print(
            f"Kịch bản có {warnings} chỗ có thể đọc hai cách; máy dùng cách đọc thứ nhất.\n"
            "  → Viết rõ hơn ở các dòng trên nếu cách đọc đó chưa đúng.",
            file=stream,
        )
    return errors


def run(args) -> int:
    result = ui.load_and_report(ui.schedule_path(args))
    base = result.schedule.base_dir if result.schedule is not None else ui.schedule_path(args).parent
    speech_errors = check_speech(base)
    if not result.ok or speech_errors:
        return 1
    _approval_warnings(result.schedule)
    from broadcaster.schedule.plan import estimate_session_seconds, plan_broadcasts

    schedule = result.schedule
    broadcasts = plan_broadcasts(schedule)
    per_slot = {s.name: estimate_session_seconds(s.play, s.repeat, s.gap_seconds, s.chime) for s in schedule.slots}
    airtime = sum(per_slot[b.slot] for b in broadcasts)
    c = schedule.campaign
    active = sum(1 for s in schedule.slots if s.enabled)
    note = f" ({len(result.warnings)} cảnh báo ở trên)" if result.warnings else ""
    print(
        f"Lịch phát hợp lệ: {active} buổi phát, {len(broadcasts)} lần phát từ "
        f"{fmt.day(c.start)} đến {fmt.day(c.end)}, tổng thời lượng ước tính {fmt.duration(airtime)}{note}."
    )
    return 0


def _approval_warnings(schedule) -> None:
    """With ``policy.require_approval``: what will not air until approved, ahead of time."""
    from broadcaster.commands.approve import approval_warnings
    from broadcaster.layout import Layout

    for warning in approval_warnings(schedule, Layout.of(schedule).state_dir):
        ui.warn(warning)

"""``broadcaster say``: read a text on the loudspeakers now (through the daemon when it runs)."""

from __future__ import annotations

import argparse
import sys

from broadcaster import ui

HELP = "đọc ngay một thông báo trên loa (thông thường, ưu tiên hoặc khẩn cấp)"

PRIORITY_HELP = (
    "mức ưu tiên: normal = thông thường (xếp sau hàng chờ), priority = ưu tiên (phát kế tiếp), "
    "emergency = khẩn cấp (cắt bản tin đang phát, phát ngay)"
)


def add_priority_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--priority", choices=["normal", "priority", "emergency"], default="normal", help=PRIORITY_HELP)
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="số lần đọc (1–5, mặc định 1)")
    parser.add_argument("--no-chime", action="store_true", help="không phát nhạc hiệu trước thông báo")
    parser.add_argument(
        "--output",
        metavar="THIẾT_BỊ",
        help="chỉ khi phần mềm chưa chạy: thiết bị âm thanh để phát trực tiếp ('wav:THƯ_MỤC' để ghi tệp)",
    )
    parser.add_argument(
        "--zone",
        action="append",
        metavar="VÙNG",
        help="chỉ phát ở vùng loa này (ghi nhiều lần cho nhiều vùng; mặc định: mọi vùng)",
    )
    ui.add_schedule_argument(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", metavar="VĂN_BẢN", help="nội dung cần đọc ('-' để đọc từ đầu vào chuẩn)")
    add_priority_arguments(parser)


def run(args) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        return ui.error("nội dung thông báo đang trống.", 'Ví dụ: broadcaster say "Kính thưa bà con…"')
    return announce(args, {"text": text})


def announce(args, body: dict) -> int:
    """Send to the running daemon; when none runs, render and play here, and say so."""
    from broadcaster.client import ApiRefused, DaemonNotRunning, connect

    body = {**body, "priority": args.priority, "repeat": args.repeat, "chime": not args.no_chime}
    if getattr(args, "zone", None):
        body["zones"] = args.zone
    path = ui.schedule_path(args)
    if not path.is_file():
        return ui.error(
            f"không tìm thấy tệp lịch '{path}'.", "Chạy lệnh trong thư mục có schedule.yaml hoặc dùng --schedule."
        )
    try:
        answer = connect(path).call("POST", "/api/announcements", body)
    except ApiRefused as exc:
        return ui.error(f"phần mềm phát thanh từ chối: {exc}")
    except DaemonNotRunning:
        return _play_here(args, path, body)
    print(f"#{answer['id']} {answer['message']}")
    return 0


def _play_here(args, path, body: dict) -> int:
    ui.info("Không thấy phần mềm phát thanh đang chạy: phát trực tiếp từ máy này (chờ phát xong)…")
    import logging

    from broadcaster import fmt

    logging.basicConfig(level=logging.INFO, handlers=[fmt.station_log_handler("%(asctime)s %(message)s", "%H:%M:%S")])
    from broadcaster.adhoc import AdhocRefused, play_direct

    schedule = ui.load_schedule_or_report(path)
    if schedule is None:
        return 1
    fmt.set_station_zone(schedule.campaign.timezone)  # log lines and WAV names
    try:
        outcome = play_direct(schedule, body, output=args.output)
    except AdhocRefused as exc:
        return ui.error(str(exc))
    if outcome["status"] == "unapproved":
        return ui.error(
            f"chưa phát: {outcome.get('error')}", "Người duyệt xem và duyệt bằng 'broadcaster approve --pending'."
        )
    if outcome["status"] != "played":
        return ui.error(
            f"không phát được: {outcome.get('error') or outcome['status']}",
            "Kiểm tra amply và dây loa, chạy 'broadcaster devices' và 'broadcaster test-tone'.",
        )
    print(f"Đã phát xong ({outcome['seconds']:.1f} giây).")
    return 0

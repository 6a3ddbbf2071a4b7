"""``broadcaster stop``: cut the broadcast now on air."""

from __future__ import annotations

from broadcaster import ui

HELP = "dừng ngay bản tin đang phát (ghi nhật ký: bị ngắt bởi người vận hành)"


def add_arguments(parser) -> None:
    ui.add_schedule_argument(parser)


def run(args) -> int:
    from broadcaster.client import ApiRefused, DaemonNotRunning, connect

    try:
        answer = connect(ui.schedule_path(args)).call("POST", "/api/stop")
    except DaemonNotRunning:
        return ui.error("phần mềm phát thanh không chạy, không có gì để dừng.")
    except ApiRefused as exc:
        return ui.error(str(exc))
    stopped = answer.get("stopped")
    print(f"Đã dừng: {stopped['title']}." if stopped else "Hiện không phát bản tin nào.")
    return 0

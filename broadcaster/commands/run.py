"""``broadcaster run``: the daemon that plays the schedule and serves the control API."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from broadcaster import ui

HELP = "chạy phần mềm phát thanh: phát theo lịch, tự nạp lại khi sửa lịch, nhận lệnh phát ngay"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ui.add_schedule_argument(parser)
    parser.add_argument(
        "--output",
        metavar="THIẾT_BỊ",
        help="thiết bị âm thanh: một phần tên hoặc số thứ tự (xem 'broadcaster devices'); "
        "'wav:THƯ_MỤC' để ghi ra tệp thay vì phát loa",
    )
    parser.add_argument("--port", type=int, metavar="CỔNG", help="cổng API điều khiển (mặc định theo lịch, 8686)")
    parser.add_argument("--host", metavar="ĐỊA_CHỈ", help="địa chỉ API điều khiển (mặc định 127.0.0.1)")
    parser.add_argument(
        "--allow-remote", action="store_true", help="cho phép mở API ra ngoài máy này (không khuyến khích)"
    )
    parser.add_argument(
        "--grace-minutes",
        type=float,
        metavar="PHÚT",
        help="lượt phát trễ quá số phút này thì ghi 'bỏ lỡ' (mặc định theo lịch, 5)",
    )
    parser.add_argument(
        "--heartbeat-minutes",
        type=float,
        default=5.0,
        metavar="PHÚT",
        help="ghi một dòng 'nhịp tim' vào nhật ký mỗi số phút này (mặc định 5)",
    )


def _output_spec(value: str | None):
    if value is None:
        return None
    return int(value) if value.isdigit() else value


def run(args) -> int:
    from broadcaster import fmt

    path = ui.schedule_path(args)
    # log lines and file names in the station's zone from the first line on; the daemon sets it
    # again from the loaded schedule at start and on every reload
    fmt.set_station_zone(fmt.station_zone_of(path))
    logging.basicConfig(
        level=logging.INFO,
        handlers=[fmt.station_log_handler("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")],
    )
    for noisy in ("apscheduler", "watchdog", "uvicorn", "urllib3", "gtts"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from broadcaster.daemon.state import private_files

    private_files(path)  # umask 0077 before any file is made: state/, uploads, WAV out are the owner's only
    from broadcaster.daemon.app import Daemon, DaemonOptions, StartError

    if not path.is_file():
        return ui.error(
            f"không tìm thấy tệp lịch '{path}'.", "Chạy lệnh trong thư mục có schedule.yaml hoặc dùng --schedule."
        )
    daemon = Daemon(
        DaemonOptions(
            schedule_path=path,
            output=_output_spec(args.output),
            api_host=args.host,
            api_port=args.port,
            allow_remote=args.allow_remote,
            grace_minutes=args.grace_minutes,
            heartbeat_minutes=args.heartbeat_minutes,
        )
    )
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum, _frame):
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        daemon.start()
    except StartError as exc:  # nothing is left running: start() closed what it had opened
        print(str(exc), file=sys.stderr)
        return ui.error(
            "phần mềm CHƯA chạy: lịch phát có lỗi hoặc một bộ phận không khởi động được.",
            "Sửa theo các dòng trên (chạy 'broadcaster check' để kiểm tra lịch) rồi chạy lại.",
        )
    while not stop.wait(1.0):
        pass
    logging.getLogger("broadcaster.daemon").info("Nhận tín hiệu %s.", received[0] if received else "dừng")
    daemon.stop()
    return 0

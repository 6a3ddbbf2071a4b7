"""``broadcaster receive``: the box beside a thôn's loudspeakers plays the station's Icecast stream."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster import ui

if TYPE_CHECKING:
    from broadcaster.proof.stream import StreamProver

HELP = "máy thu ở cụm loa thôn: phát luồng MP3 từ máy chủ Icecast của trạm, tự kết nối lại khi mất mạng"

TOKEN_ENV = "LOA_XA_TOKEN"
EXAMPLE = "Ví dụ: broadcaster receive http://192.168.1.10:8000/thon-dong --station http://192.168.1.10:8080"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommand's arguments (Vietnamese help)."""
    parser.add_argument(
        "url", metavar="ĐỊA_CHỈ_LUỒNG", help="địa chỉ điểm phát, ví dụ http://192.168.1.10:8000/thon-dong"
    )
    parser.add_argument(
        "--output",
        metavar="THIẾT_BỊ",
        default=None,
        help="card âm thanh (số hoặc một phần tên, xem 'broadcaster devices'); 'wav:THƯ_MỤC' để ghi tệp, "
        "'null' để bỏ đi; mặc định: thiết bị mặc định",
    )
    parser.add_argument(
        "--monitor",
        metavar="ĐẦU_VÀO",
        default=None,
        help="đầu nghe kiểm tra cạnh loa (line-in từ amply hoặc micrô, xem 'broadcaster devices'): "
        "máy thu báo về trạm mỗi bản tin có thật sự nghe thấy không",
    )
    parser.add_argument("--station", metavar="ĐỊA_CHỈ", help="địa chỉ trạm để báo tình trạng máy thu (không bắt buộc)")
    parser.add_argument(
        "--token-file",
        metavar="TỆP",
        default="",
        help="tệp (quyền 600) chứa mã riêng của máy thu này, in ra bởi 'broadcaster receiver add' trên trạm "
        f"(để trống: biến môi trường {TOKEN_ENV}, cách cũ)",
    )
    parser.add_argument("--name", metavar="TÊN", help="tên máy thu hiện trên trạm (mặc định: tên máy)")
    parser.add_argument(
        "--buffer-ms", type=float, default=150.0, metavar="MS", help="độ trễ đệm chống giật, 40–3000 ms (mặc định 150)"
    )
    parser.add_argument(
        "--heartbeat-s", type=float, default=5.0, metavar="GIÂY", help="báo tình trạng mỗi bao nhiêu giây (mặc định 5)"
    )
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=5.0,
        metavar="GIÂY",
        help="coi là mất kết nối khi không có dữ liệu bấy nhiêu giây (mặc định 5)",
    )
    parser.add_argument(
        "--retry-s", type=float, default=2.0, metavar="GIÂY", help="chờ bao lâu giữa hai lần thử lại (mặc định 2)"
    )


def _bad(message: str, hint: str = EXAMPLE) -> int:
    ui.error(message, hint)
    return 2


def _check_numbers(args: argparse.Namespace) -> str | None:
    limits = [
        ("--buffer-ms", args.buffer_ms, 40.0, 3000.0),
        ("--heartbeat-s", args.heartbeat_s, 0.2, 300.0),
        ("--timeout-s", args.timeout_s, 1.0, 60.0),
        ("--retry-s", args.retry_s, 0.2, 300.0),
    ]
    for flag, value, low, high in limits:
        if not low <= value <= high:
            return f"{flag} phải từ {low:g} đến {high:g} (bạn nhập {value:g})."
    return None


def _token(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(token, error message): the 0600 ``--token-file`` (an empty value, as systemd passes an unset
    variable, means none), else the environment variable of older installs."""
    if args.token_file.strip():
        from broadcaster.receivers import ReceiverStoreError, read_token_file

        try:
            return read_token_file(Path(args.token_file.strip())), None
        except ReceiverStoreError as exc:
            return None, str(exc)
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        return None, f"có --station nhưng thiếu mã truy cập: dùng --token-file TỆP hoặc biến môi trường {TOKEN_ENV}."
    return token, None


def _prover(device: str, rate: int) -> StreamProver:
    """The monitor's prover; it starts recording on its own thread (a failure is reported, not fatal)."""
    from broadcaster.proof.capture import MonitorCapture
    from broadcaster.proof.stream import PIECE_S, StreamProver

    return StreamProver(MonitorCapture(device, rate, keep_s=PIECE_S + 30.0), rate)


def _log_to_stderr() -> None:
    """Log lines with station-time stamps (a receiver has no schedule: the default zone, Asia/Ho_Chi_Minh)."""
    import logging

    from broadcaster import fmt

    logging.basicConfig(level=logging.INFO, handlers=[fmt.station_log_handler("%(asctime)s %(message)s", "%H:%M:%S")])


def run(args: argparse.Namespace) -> int:
    """Receive until Ctrl-C / SIGTERM (exit 0); bad arguments → Vietnamese message, exit 2."""
    problem = _check_numbers(args)
    if problem:
        return _bad(problem)
    if not args.url.strip():
        return _bad(
            "thiếu địa chỉ luồng cần phát.",
            f"{EXAMPLE} (chạy bằng systemd: ghi LOA_XA_STREAM_URL=… vào /etc/loa-xa/receiver.env).",
        )
    import signal
    import socket
    import threading

    from broadcaster.playout.sinks import SinkError, open_sink
    from broadcaster.speech.resample import RATE
    from broadcaster.zones.receiver import Heartbeat, Receiver
    from broadcaster.zones.stream_in import StreamError, StreamReader, check_url

    try:
        reader = StreamReader(args.url, rate=RATE, timeout_s=args.timeout_s)
        if args.station:
            check_url(args.station, "trạm")
    except StreamError as exc:
        return _bad(exc.message)
    token, why = _token(args) if args.station else (None, None)
    if why:
        return _bad(why, "Trên trạm: broadcaster receiver add TÊN --zone VÙNG; ghi mã vào /etc/loa-xa/receiver-token.")
    _log_to_stderr()
    try:
        sink = open_sink(args.output)
    except SinkError as exc:
        return _bad(str(exc), "Xem các thiết bị bằng 'broadcaster devices'.")
    prover = _prover(args.monitor, RATE) if args.monitor else None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    receiver = Receiver(
        reader,
        sink,
        name=args.name or socket.gethostname(),
        rate=RATE,
        buffer_ms=args.buffer_ms,
        retry_s=args.retry_s,
        prover=prover,
    )
    if args.station and token:
        Heartbeat(args.station, token, args.heartbeat_s, receiver.snapshot).start(stop)
    ui.info(f"Máy thu '{receiver.name}' phát ra {sink.name}. Nhấn Ctrl+C để dừng.")
    try:
        receiver.run(stop)
    finally:
        if prover is not None:
            prover.close()
        sink.close()
    ui.info("Đã dừng máy thu.")
    return 0

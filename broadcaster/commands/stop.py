"""``broadcaster stop``: cut the broadcast now on air (every zone, or the zones named)."""

from __future__ import annotations

from broadcaster import ui

HELP = "dừng ngay bản tin đang phát (ghi nhật ký: bị ngắt bởi người vận hành)"


def add_arguments(parser) -> None:
    ui.add_schedule_argument(parser)
    parser.add_argument(
        "--zone",
        action="append",
        dest="zones",
        metavar="VÙNG",
        help="chỉ dừng ở vùng này (lặp lại cho nhiều vùng); bỏ trống = dừng ở mọi vùng",
    )


def run(args) -> int:
    from broadcaster.client import ApiRefused, DaemonNotRunning, connect

    body = {"zones": args.zones} if args.zones else None
    try:
        answer = connect(ui.schedule_path(args)).call("POST", "/api/stop", body)
    except DaemonNotRunning:
        return ui.error("phần mềm phát thanh không chạy, không có gì để dừng.")
    except ApiRefused as exc:
        return ui.error(str(exc))
    cut = answer.get("cut") or ([answer["stopped"]] if answer.get("stopped") else [])
    if not cut:
        where = f" ở vùng {', '.join(args.zones)}" if args.zones else ""
        print(f"Hiện không phát bản tin nào{where}.")
        return 0
    for c in cut:
        zone = f" (vùng {c['zone']})" if c.get("zone") else ""
        print(f"Đã dừng: {c['title']}{zone}.")
    return 0

"""``broadcaster report``: what was planned and what aired over a period, for the commune's report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from broadcaster import ui

HELP = "lập báo cáo kết quả phát thanh (theo ngày, tổng cộng và theo nội dung) để gửi cấp trên"

_EPILOG = """\
Báo cáo in ra dạng văn bản, có thể dán thẳng vào báo cáo của xã. Một buổi theo lịch bị
ngắt (ví dụ do tin khẩn cấp) rồi phát lại chỉ được tính một lần "đã phát". Buổi đã qua giờ
mà nhật ký không ghi nhận được tính là "không có bản ghi" — không buổi nào bị bỏ sót.

Với --csv BAO_CAO.csv, chương trình ghi HAI tệp (UTF-8 có BOM, mở được bằng Excel):
  BAO_CAO.csv           mỗi ngày một dòng và một dòng "Tổng";
  BAO_CAO-kich-ban.csv  số lần phát của từng nội dung (kịch bản).

Ví dụ: broadcaster report --from 17/4/2026 --to 26/4/2026 --csv bao-cao.csv
"""


def add_arguments(parser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    ui.add_schedule_argument(parser)
    parser.add_argument("--from", dest="date_from", metavar="NGÀY", default=None,
                        help="ngày đầu (2026-04-17 hoặc 17/4/2026; mặc định: ngày đầu chiến dịch)")
    parser.add_argument("--to", dest="date_to", metavar="NGÀY", default=None,
                        help="ngày cuối, tính cả ngày này (mặc định: ngày cuối chiến dịch)")
    parser.add_argument("--csv", type=Path, default=None, metavar="TỆP",
                        help="ghi thêm bảng tính CSV: TỆP (theo ngày) và TỆP-kich-ban.csv (theo nội dung)")


def run(args) -> int:
    from broadcaster.asrun import (
        AsRunError,
        AsRunLog,
        build_report,
        parse_day,
        render_text,
        write_csv,
    )
    from broadcaster.commands.log import load_context

    ctx = load_context(ui.schedule_path(args))
    schedule = ctx.schedule
    try:
        start = parse_day(args.date_from) if args.date_from else None
        end = parse_day(args.date_to) if args.date_to else None
    except ValueError as exc:
        return ui.error(str(exc))
    if start is None or end is None:
        if schedule is None:
            return ui.error(
                "cần ghi rõ khoảng thời gian vì không đọc được lịch phát.",
                "Ví dụ: broadcaster report --from 17/4/2026 --to 26/4/2026",
            )
        start = start or schedule.campaign.start
        end = end or schedule.campaign.end
    if start > end:
        return ui.error(
            f"ngày đầu ({start:%d/%m/%Y}) sau ngày cuối ({end:%d/%m/%Y}).",
            "Đổi lại --from và --to cho đúng thứ tự.",
        )
    if (end - start).days > 366 * 2:
        return ui.error("khoảng thời gian dài quá 2 năm.", "Hãy chọn khoảng ngắn hơn.")

    planned = []
    if schedule is not None:
        from broadcaster.schedule.plan import plan_broadcasts

        planned = plan_broadcasts(schedule, start, end)

    rows = []
    if ctx.log_file.is_file():
        try:
            with AsRunLog(ctx.log_file) as log:
                rows = log.rows(start=start, end=end, tz=ctx.tz)
        except AsRunError as exc:
            return ui.error(str(exc))
        except Exception as exc:
            return ui.error(
                f"không đọc được nhật ký phát '{ctx.log_file}': {exc}",
                "Thử lại sau ít giây; nếu vẫn lỗi, kiểm tra quyền đọc tệp.",
            )
    else:
        ui.warn(f"chưa có nhật ký phát ở '{ctx.log_file}': mọi buổi đã qua giờ sẽ là 'không có bản ghi'.")

    report = build_report(
        planned, rows, start, end, tz=ctx.tz,
        campaign=schedule.campaign.name if schedule is not None else "",
        plan_available=schedule is not None,
    )
    sys.stdout.write(render_text(report))
    if args.csv is not None:
        try:
            days_file, scripts_file = write_csv(report, args.csv)
        except OSError as exc:
            return ui.error(
                f"không ghi được tệp CSV '{args.csv}': {exc.strerror or exc}",
                "Kiểm tra thư mục có tồn tại và có quyền ghi; đóng tệp nếu đang mở trong Excel.",
            )
        ui.info(f"Đã ghi bảng tính: {days_file} (theo ngày) và {scripts_file} (theo nội dung).")
    return 0

"""``broadcaster report``: what was planned and what aired over a period, for the commune's report."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from broadcaster import fmt, ui

if TYPE_CHECKING:
    from broadcaster.commands.log import LogContext

HELP = "lập báo cáo kết quả phát thanh (theo ngày, tổng cộng và theo nội dung) để gửi cấp trên"

_EPILOG = """\
Báo cáo in ra dạng văn bản, có thể dán thẳng vào báo cáo của xã. Một buổi theo lịch bị
ngắt (ví dụ do tin khẩn cấp) rồi phát lại chỉ được tính một lần "đã phát". Buổi đã qua giờ
mà nhật ký không ghi nhận được tính là "không có bản ghi" — không buổi nào bị bỏ sót.

Với --csv BAO_CAO.csv, chương trình ghi HAI tệp (UTF-8 có BOM, mở được bằng Excel):
  BAO_CAO.csv           mỗi ngày một dòng và một dòng "Tổng";
  BAO_CAO-kich-ban.csv  số lần phát của từng nội dung (kịch bản).

Với --docx BAO_CAO.docx, chương trình ghi báo cáo dạng văn bản hành chính (thể thức
Nghị định 30/2020/NĐ-CP: quốc hiệu, tiêu ngữ, số liệu, biểu đồ, nơi nhận, người ký), mở
được bằng Word/LibreOffice để in, ký và gửi. Tên cơ quan, số hiệu, địa danh, người ký và
nơi nhận lấy từ tệp report.yaml đặt cạnh schedule.yaml (không có thì dùng mặc định).

Số liệu trong văn bản, CSV và bản in ra màn hình là một: cùng một cách tính.
CSV dành cho máy (ngày 2026-04-21, số thập phân 2.7); văn bản và màn hình dành cho
người đọc (ngày 21/04/2026, số thập phân 2,7).

Ví dụ: broadcaster report --from 17/4/2026 --to 26/4/2026 --csv bao-cao.csv
       broadcaster report --from 17/4/2026 --to 26/4/2026 --docx bao-cao.docx
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    ui.add_schedule_argument(parser)
    parser.add_argument(
        "--from",
        dest="date_from",
        metavar="NGÀY",
        default=None,
        help="ngày đầu (2026-04-17 hoặc 17/4/2026; mặc định: ngày đầu chiến dịch)",
    )
    parser.add_argument(
        "--to",
        dest="date_to",
        metavar="NGÀY",
        default=None,
        help="ngày cuối, tính cả ngày này (mặc định: ngày cuối chiến dịch)",
    )
    parser.add_argument(
        "--csv",
        type=Path,
        default=None,
        metavar="TỆP",
        help="ghi thêm bảng tính CSV: TỆP (theo ngày) và TỆP-kich-ban.csv (theo nội dung)",
    )
    parser.add_argument(
        "--docx",
        type=Path,
        default=None,
        metavar="TỆP",
        help="ghi thêm báo cáo dạng văn bản hành chính (Word .docx) để in, ký và gửi cấp trên",
    )


def _period(args: argparse.Namespace, schedule: Any) -> tuple[date, date] | int:
    """The days to report on, or an exit code after a Vietnamese error."""
    try:
        start = fmt.parse_day(args.date_from) if args.date_from else None
        end = fmt.parse_day(args.date_to) if args.date_to else None
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
            f"ngày đầu ({fmt.day(start)}) sau ngày cuối ({fmt.day(end)}).", "Đổi lại --from và --to cho đúng thứ tự."
        )
    if (end - start).days > 366 * 2:
        return ui.error("khoảng thời gian dài quá 2 năm.", "Hãy chọn khoảng ngắn hơn.")
    return start, end


def _rows(ctx: LogContext, start: date, end: date) -> list[Any] | int:
    from broadcaster.asrun import AsRunError, AsRunLog

    if not ctx.log_file.is_file():
        ui.warn(f"chưa có nhật ký phát ở '{ctx.log_file}': mọi buổi đã qua giờ sẽ là 'không có bản ghi'.")
        return []
    try:
        with AsRunLog(ctx.log_file) as log:
            return list(log.rows(start=start, end=end, tz=ctx.tz))
    except AsRunError as exc:
        return ui.error(str(exc))
    except Exception as exc:  # noqa: BLE001 - e.g. a file locked by a stuck process: a sentence, not a traceback
        return ui.error(
            f"không đọc được nhật ký phát '{ctx.log_file}': {exc}",
            "Thử lại sau ít giây; nếu vẫn lỗi, kiểm tra quyền đọc tệp.",
        )


def _write_csv(report: Any, path: Path) -> int:
    from broadcaster.asrun import write_csv

    try:
        days_file, scripts_file = write_csv(report, path)
    except OSError as exc:
        return ui.error(
            f"không ghi được tệp CSV '{path}': {exc.strerror or exc}",
            "Kiểm tra thư mục có tồn tại và có quyền ghi; đóng tệp nếu đang mở trong Excel.",
        )
    ui.info(f"Đã ghi bảng tính: {days_file} (theo ngày) và {scripts_file} (theo nội dung).")
    return 0


def _write_docx(report: Any, ctx: LogContext, path: Path) -> int:
    from broadcaster.asrun.settings import SettingsError, load_settings

    try:
        settings = load_settings(ctx.schedule_path)
    except SettingsError as exc:
        return ui.error(str(exc), "Sửa tệp report.yaml rồi chạy lại (hoặc xoá nó để dùng giá trị mặc định).")
    try:
        from broadcaster.asrun.docx import write_docx
    except ImportError as exc:
        return ui.error(
            f"thiếu thư viện để tạo tệp Word ({exc.name}).",
            "Cài lại Loa xã: .venv/bin/pip install -e . (cần python-docx và matplotlib).",
        )
    try:
        write_docx(report, settings, path)
    except OSError as exc:
        return ui.error(
            f"không ghi được tệp '{path}': {exc.strerror or exc}",
            "Kiểm tra thư mục có tồn tại và có quyền ghi; đóng tệp nếu đang mở trong Word.",
        )
    ui.info(f"Đã ghi báo cáo dạng văn bản: {path} (mở bằng Word hoặc LibreOffice, kiểm tra rồi in, ký).")
    return 0


def run(args: argparse.Namespace) -> int:
    from broadcaster.asrun import build_report, render_text
    from broadcaster.commands.log import load_context

    ctx = load_context(ui.schedule_path(args))
    schedule = ctx.schedule
    period = _period(args, schedule)
    if isinstance(period, int):
        return period
    start, end = period
    planned = []
    if schedule is not None:
        from broadcaster.schedule.plan import plan_broadcasts

        planned = plan_broadcasts(schedule, start, end)
    rows = _rows(ctx, start, end)
    if isinstance(rows, int):
        return rows
    report = build_report(
        planned,
        rows,
        start,
        end,
        tz=ctx.tz,
        campaign=schedule.campaign.name if schedule is not None else "",
        plan_available=schedule is not None,
    )
    sys.stdout.write(render_text(report))
    code = _write_csv(report, args.csv) if args.csv is not None else 0
    if code == 0 and args.docx is not None:
        code = _write_docx(report, ctx, args.docx)
    return code

"""``broadcaster audit``: list the operators' actions, or check that nobody edited the trail."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, tzinfo
from typing import Any

from broadcaster import fmt, ui

HELP = "xem nhật ký thao tác (ai đã làm gì, lúc nào, từ đâu) hoặc kiểm tra nó có bị sửa không (--verify)"

_EPILOG = """\
Mỗi thao tác (phát ngay, dừng, sửa lịch, duyệt, đăng nhập…) được ghi thêm vào tệp
audit.jsonl trong thư mục trạng thái. Mỗi dòng mang mã băm của dòng trước nên sửa, xoá
hoặc chèn một dòng đều bị phát hiện: 'broadcaster audit --verify' báo dòng đầu tiên hỏng
và trả mã lỗi 1.

Ví dụ: broadcaster audit --from 17/4/2026 --to 26/4/2026
       broadcaster audit --verify
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    ui.add_schedule_argument(parser)
    parser.add_argument(
        "--verify", action="store_true", help="kiểm tra chuỗi mã băm: báo dòng bị sửa/xoá/chèn (mã lỗi 1 nếu có)"
    )
    parser.add_argument("--from", dest="date_from", metavar="NGÀY", default=None, help=f"từ ngày ({fmt.DAY_FORMS})")
    parser.add_argument("--to", dest="date_to", metavar="NGÀY", default=None, help="đến ngày, tính cả ngày này")
    parser.add_argument("--json", action="store_true", help="in ra JSON (mỗi thao tác một đối tượng)")


def _detail_text(detail: Any) -> str:
    if detail is None or detail == {} or detail == "":
        return ""
    if isinstance(detail, dict):
        return ", ".join(f"{k}: {v}" for k, v in detail.items())
    return str(detail)


def _verify(path: Any) -> int:
    from broadcaster.audit import verify

    if not path.is_file():
        ui.info(f"Chưa có nhật ký thao tác ở '{path}': chưa có gì để kiểm tra.")
        return 0
    problems = verify(path)
    if problems:
        print(f"Nhật ký thao tác '{path}' ĐÃ BỊ THAY ĐỔI — {len(problems)} vấn đề:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return ui.error(
            f"chuỗi mã băm hỏng từ {problems[0].split(':')[0]}.",
            "Giữ nguyên tệp này làm bằng chứng và báo cho lãnh đạo xã / người phụ trách kỹ thuật.",
        )
    with open(path, "rb") as fh:
        count = sum(1 for _ in fh)
    print(f"Nhật ký thao tác nguyên vẹn: {count} thao tác, chuỗi mã băm khớp từ đầu đến cuối.")
    return 0


def _in_range(day: date, start: date | None, end: date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def _print(entries: list[Any], tz: tzinfo, as_json: bool) -> None:
    if as_json:
        data = [
            {
                "seq": e.seq,
                "at": e.at.astimezone(tz).isoformat(),
                "who": e.who,
                "where": e.where,
                "action": e.action,
                "detail": e.detail,
                "hash": e.hash,
            }
            for e in entries
        ]
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return
    for e in entries:
        local = e.at.astimezone(tz)
        detail = _detail_text(e.detail)
        line = f"{fmt.day(local)} {fmt.clock(local, seconds=True)}  {e.who} ({e.where}): {e.action_vi}"
        print(line + (f" — {fmt.ellipsize(detail, 200)}" if detail else ""))
    print(f"{len(entries)} thao tác.")


def run(args: argparse.Namespace) -> int:
    from broadcaster.audit import audit_path, entries
    from broadcaster.commands.log import load_context

    ctx = load_context(ui.schedule_path(args))
    path = audit_path(ctx.state_dir)
    if args.verify:
        return _verify(path)
    try:
        start = fmt.parse_day(args.date_from) if args.date_from else None
        end = fmt.parse_day(args.date_to) if args.date_to else None
    except ValueError as exc:
        return ui.error(str(exc))
    if start and end and start > end:
        return ui.error(
            f"ngày đầu ({fmt.day(start)}) sau ngày cuối ({fmt.day(end)}).", "Đổi lại --from và --to cho đúng thứ tự."
        )
    if not path.is_file():
        if args.json:
            print("[]")
        ui.info(f"Chưa có nhật ký thao tác ở '{path}'. Nó được tạo khi có thao tác đầu tiên (phát ngay, dừng…).")
        return 0
    try:
        chosen = [e for e in entries(path) if _in_range(e.at.astimezone(ctx.tz).date(), start, end)]
    except OSError as exc:
        return ui.error(f"không đọc được nhật ký thao tác '{path}': {exc.strerror or exc}", "Kiểm tra quyền đọc tệp.")
    _print(chosen, ctx.tz, args.json)
    return 0

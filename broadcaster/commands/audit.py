"""``broadcaster audit``: list the operators' actions, or check that nobody edited the trail."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, tzinfo
from pathlib import Path
from typing import Any

from broadcaster import fmt, ui

HELP = "xem nhật ký thao tác (ai đã làm gì, lúc nào, từ đâu) hoặc kiểm tra nó có bị sửa không (--verify)"

_EPILOG = """\
Mỗi thao tác (phát ngay, dừng, sửa lịch, duyệt, đăng nhập…) được ghi thêm vào tệp
audit.jsonl trong thư mục trạng thái. Mỗi dòng mang mã băm của dòng trước và một mã xác
thực tính bằng khóa riêng (tệp audit-key), còn tệp mốc audit-anchor giữ số dòng và mã của
dòng cuối. 'broadcaster audit --verify' báo dòng bị sửa, xoá hoặc chèn, các dòng cuối bị
xoá, tệp bị cắt hay bị xoá, mốc bị mất, và chuỗi bị viết lại không có khóa; có vấn đề thì
trả mã lỗi 1.

Người có quyền root lấy được cả khóa thì vẫn viết lại được tất cả. Hãy giữ một bản sao
tệp audit-anchor ở nơi khác (bản sao lưu, USB) và kiểm tra với --anchor BẢN_SAO: nhật
ký bị quay lui về trước bản sao đó sẽ bị phát hiện.

Ví dụ: broadcaster audit --from 17/4/2026 --to 26/4/2026
       broadcaster audit --verify
       broadcaster audit --verify --anchor /media/usb/audit-anchor
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    ui.add_schedule_argument(parser)
    parser.add_argument(
        "--verify",
        action="store_true",
        help="kiểm tra chuỗi mã băm, mã xác thực và mốc: báo dòng bị sửa/xoá/chèn, tệp bị cắt (mã lỗi 1 nếu có)",
    )
    parser.add_argument(
        "--anchor",
        metavar="BẢN_SAO",
        type=Path,
        default=None,
        help="với --verify: so thêm với một bản sao tệp audit-anchor giữ ở nơi khác (phát hiện nhật ký bị quay lui)",
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


def _verify(path: Path, copy: Path | None) -> int:
    from broadcaster.audit import anchor_path, check, key_path

    if copy is None and not any(p.exists() for p in (path, anchor_path(path), key_path(path))):
        ui.info(f"Chưa có nhật ký thao tác ở '{path}': chưa có gì để kiểm tra.")
        return 0
    v = check(path, copy)
    if v.problems:
        print(f"Nhật ký thao tác '{path}' ĐÃ BỊ THAY ĐỔI — {len(v.problems)} vấn đề:", file=sys.stderr)
        for p in v.problems:
            print(f"  {p}", file=sys.stderr)
        first = v.problems[0]
        what = (
            f"chuỗi mã băm hỏng từ {first.split(':')[0].split('–')[0]}."
            if first.startswith("dòng ")
            else "nhật ký thao tác bị cắt, bị xoá hoặc mốc/khóa bị thay (xem các dòng trên)."
        )
        return ui.error(
            what,
            f"Giữ nguyên các tệp {path.name}, {anchor_path(path).name}, {key_path(path).name} làm bằng chứng "
            "(chép sang USB) và báo cho lãnh đạo xã / người phụ trách kỹ thuật.",
        )
    before = f" ({v.unkeyed} dòng trước khi có khóa: chỉ kiểm được bằng chuỗi mã băm)" if v.unkeyed else ""
    print(f"Nhật ký thao tác nguyên vẹn: {v.lines} thao tác{before}, chuỗi mã băm và mã xác thực khớp từ đầu đến cuối.")
    if copy is not None:
        print(f"Khớp bản sao mốc '{copy}': nhật ký không bị quay lui về trước bản sao đó.")
    if v.anchor is not None:
        print(
            f"Mốc: {v.anchor.lines} dòng, mã dòng cuối {v.anchor.last_mac[:16]}…. Giữ một bản sao tệp "
            f"'{anchor_path(path)}' ở nơi khác rồi kiểm tra với --anchor BẢN_SAO."
        )
    elif v.lines:
        print("Chưa có khóa và mốc: lần ghi thao tác tiếp theo sẽ tạo (audit-key, audit-anchor).")
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
        return _verify(path, args.anchor)
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

"""``broadcaster normalize``: print a text exactly as the speech engines will read it."""

from __future__ import annotations

import sys
from pathlib import Path

from broadcaster import ui
from broadcaster.layout import Layout

HELP = "In văn bản đúng như máy sẽ đọc (ngày tháng, số, chữ viết tắt… đã chuyển thành chữ)"

# relative to the current folder, like ./schedule.yaml (layout.py, stdlib only, spells the names)
_HERE = Layout.at(Path("."))
_DEFAULT_FILE = _HERE.abbreviations.relative_to(".")
_PRONUNCIATIONS = _HERE.pronunciations.relative_to(".")


def add_arguments(parser) -> None:
    parser.add_argument(
        "text",
        nargs="*",
        metavar="VĂN_BẢN",
        help="văn bản cần chuẩn hóa; bỏ trống hoặc '-' để đọc từ đầu vào chuẩn "
        "(ví dụ: broadcaster normalize - < scripts_vi/tin.txt)",
    )
    parser.add_argument(
        "--abbreviations",
        type=Path,
        default=None,
        metavar="ĐƯỜNG_DẪN",
        help=f"tệp từ viết tắt bổ sung (mặc định: {_DEFAULT_FILE} nếu có)",
    )
    parser.add_argument(
        "--pronunciations",
        type=Path,
        default=None,
        metavar="ĐƯỜNG_DẪN",
        help=f"tệp cách đọc tên riêng, từ nước ngoài (mặc định: {_PRONUNCIATIONS} nếu có)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="in bảng: đoạn gốc → cách đọc → quy tắc đã dùng",
    )


def _read_stdin() -> str:
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # already text (e.g. replaced in tests)
        return sys.stdin.read()
    return buffer.read().decode("utf-8")


def _lists(args):
    """(abbreviations, pronunciations) or an exit code after printing the problem."""
    from broadcaster.speech.normalize import load_abbreviations
    from broadcaster.speech.normalize.lexicon import builtin_pronunciations, read_entries

    extra = args.abbreviations
    if extra is None and _DEFAULT_FILE.is_file():
        extra = _DEFAULT_FILE
    try:
        abbreviations = load_abbreviations(extra)
    except ValueError as exc:
        return ui.error(str(exc), "Sửa tệp từ viết tắt rồi chạy lại lệnh.")
    pronunciations = dict(builtin_pronunciations())
    path = args.pronunciations
    if path is None and _PRONUNCIATIONS.is_file():
        path = _PRONUNCIATIONS
    if path is not None:
        entries, issues = read_entries(path, "pronunciations")
        errors = [i for i in issues if i.severity == "error"]
        if errors:
            return ui.error(errors[0].sentence(), "Sửa tệp cách đọc rồi chạy lại lệnh (xem: broadcaster check).")
        pronunciations.update(entries)
    return abbreviations, pronunciations


def _print_explain(analysis) -> None:
    from broadcaster.speech.normalize import explain_rows

    rows = [("Đoạn gốc", "Đọc là", "Quy tắc")]
    rows += [
        (src.replace("\n", "⏎") or "(thêm)", spoken.replace("\n", "⏎") or "(bỏ)", rule)
        for src, spoken, rule in explain_rows(analysis)
    ]
    width = [min(max(len(r[i]) for r in rows), 40) for i in range(2)]
    for src, spoken, rule in rows:
        print(f"{src:<{width[0]}}  →  {spoken:<{width[1]}}  [{rule}]")
    if len(rows) == 1:
        print("(không có đoạn nào cần đổi)")


def run(args) -> int:
    from broadcaster.speech.normalize import analyze

    lists = _lists(args)
    if isinstance(lists, int):
        return lists
    abbreviations, pronunciations = lists

    if not args.text or args.text == ["-"]:
        if sys.stdin is None or sys.stdin.isatty():
            ui.info('Gõ văn bản rồi nhấn Ctrl+D (hoặc dùng: broadcaster normalize "văn bản").')
        try:
            text = _read_stdin()
        except UnicodeDecodeError:
            return ui.error(
                "Văn bản đưa vào không phải mã UTF-8.",
                "Lưu tệp với mã UTF-8 (Notepad: Lưu thành… → Mã hóa UTF-8) rồi thử lại.",
            )
    else:
        text = " ".join(args.text)

    analysis = analyze(text, abbreviations, pronunciations)
    if args.explain:
        _print_explain(analysis)
        print()
    spoken = analysis.spoken
    sys.stdout.write(spoken if spoken.endswith("\n") else spoken + "\n")
    for warning in analysis.warnings:
        ui.warn(f"dòng {warning.line}, cột {warning.col}: {warning.message}")
    return 0

"""``broadcaster normalize``: print a text exactly as the speech engines will read it."""

from __future__ import annotations

import sys
from pathlib import Path

from broadcaster import ui

HELP = "In văn bản đúng như máy sẽ đọc (ngày tháng, số, chữ viết tắt… đã chuyển thành chữ)"

_DEFAULT_FILE = Path("scripts_vi") / "abbreviations.yaml"


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


def _read_stdin() -> str:
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # already text (e.g. replaced in tests)
        return sys.stdin.read()
    return buffer.read().decode("utf-8")


def run(args) -> int:
    from broadcaster.speech.normalize import load_abbreviations, normalize

    extra = args.abbreviations
    if extra is None and _DEFAULT_FILE.is_file():
        extra = _DEFAULT_FILE
    try:
        abbreviations = load_abbreviations(extra)
    except ValueError as exc:
        return ui.error(str(exc), "Sửa tệp từ viết tắt rồi chạy lại lệnh.")

    if not args.text or args.text == ["-"]:
        if sys.stdin is None or sys.stdin.isatty():
            ui.info("Gõ văn bản rồi nhấn Ctrl+D (hoặc dùng: broadcaster normalize \"văn bản\").")
        try:
            text = _read_stdin()
        except UnicodeDecodeError:
            return ui.error(
                "Văn bản đưa vào không phải mã UTF-8.",
                "Lưu tệp với mã UTF-8 (Notepad: Lưu thành… → Mã hóa UTF-8) rồi thử lại.",
            )
    else:
        text = " ".join(args.text)

    spoken = normalize(text, abbreviations)
    sys.stdout.write(spoken if spoken.endswith("\n") else spoken + "\n")
    return 0

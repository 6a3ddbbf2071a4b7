"""Command line: parses arguments (in Vietnamese) and hands over to ``broadcaster.commands``.

Each subcommand lives in ``broadcaster/commands/<name>.py`` with ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Those modules import only the standard
library at top level, so ``broadcaster --help`` and a quick ``broadcaster say`` start fast;
heavy libraries (numpy, APScheduler, FastAPI…) are imported inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# (subcommand, module) in the order the help lists them
COMMANDS: list[tuple[str, str]] = [
    ("check", "check"),
    ("plan", "plan"),
    ("normalize", "normalize"),
    ("render", "render"),
    ("rehearse", "rehearse"),
    ("run", "run"),
    ("receive", "receive"),
    ("receiver", "receiver"),
    ("say", "say"),
    ("play", "play"),
    ("status", "status"),
    ("stop", "stop"),
    ("log", "log"),
    ("report", "report"),
    ("audit", "audit"),
    ("approve", "approve"),
    ("user", "user"),
    ("devices", "devices"),
    ("test-tone", "test_tone"),
]

_ARGPARSE_VI = {
    "usage: ": "Cách dùng: ",
    "the following arguments are required: %s": "thiếu tham số bắt buộc: %s",
    "unrecognized arguments: %s": "tham số không hiểu được: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": (
        "lựa chọn không hợp lệ: %(value)r (chọn một trong: %(choices)s)"
    ),
    "argument %(argument_name)s: %(message)s": "tham số %(argument_name)s: %(message)s",
    "expected one argument": "cần một giá trị",
    "invalid %(type)s value: %(value)r": "giá trị không hợp lệ: %(value)r",
    "positional arguments": "tham số",
    "options": "tùy chọn",
    "show this help message and exit": "hiện hướng dẫn này rồi thoát",
    "%(prog)s: error: %(message)s\n": "%(prog)s: lỗi: %(message)s\n",
    "ambiguous option: %(option)s could match %(matches)s": "tùy chọn mơ hồ: %(option)s có thể là %(matches)s",
    "not allowed with argument %s": "không dùng được cùng tham số %s",
}


def _translate_argparse() -> None:
    """argparse's own words (usage, errors) go through gettext; answer them in Vietnamese."""
    argparse._ = lambda s: _ARGPARSE_VI.get(s, s)  # type: ignore[attr-defined]
    argparse.ngettext = lambda s, p, n: _ARGPARSE_VI.get(s if n == 1 else p, s if n == 1 else p)  # type: ignore[attr-defined]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # noqa: D102 - exit code 2 like argparse, Vietnamese text
        self.print_usage(sys.stderr)
        self.exit(2, f"Lỗi: {message}\n  → Gõ '{self.prog} --help' để xem hướng dẫn.\n")


def _chosen_command(argv: list[str]) -> str | None:
    """The subcommand named on the command line (its module is the only one imported)."""
    names = {name for name, _ in COMMANDS}
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in names else None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv`` only the chosen subcommand's module is imported (fast start)."""
    _translate_argparse()
    parser = _Parser(
        prog="broadcaster",
        description=(
            "Loa xã — phát thanh tự động trên hệ thống loa truyền thanh xã: "
            "đọc văn bản tiếng Việt thành giọng nói và phát theo lịch (schedule.yaml)."
        ),
        epilog="Xem hướng dẫn từng lệnh: broadcaster LỆNH --help",
    )
    sub = parser.add_subparsers(dest="command", metavar="LỆNH", parser_class=_Parser)
    chosen = _chosen_command(argv) if argv is not None else None
    for name, module_name in COMMANDS:
        if chosen is not None and name != chosen:
            sub.add_parser(name)  # listed, not imported: `say` must start in milliseconds
            continue
        module = importlib.import_module(f"broadcaster.commands.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("Đã dừng theo yêu cầu (Ctrl+C).", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the operator gets a sentence, never a traceback
        if os.environ.get("LOA_XA_DEBUG"):
            raise
        print(
            f"Lỗi ngoài dự kiến ({type(exc).__name__}: {exc}).\n"
            "  → Đây là lỗi của chương trình, không phải của bạn: hãy gửi thông báo này cho người phụ trách kỹ thuật "
            "(chạy lại với biến môi trường LOA_XA_DEBUG=1 để có chi tiết).",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())

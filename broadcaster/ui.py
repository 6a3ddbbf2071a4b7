"""What the operator sees: one place for console output, errors and the default paths.

Operators are Vietnamese officials, not programmers: every message is Vietnamese, says what
went wrong and what to do next, and never shows a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from broadcaster.schedule.model import Schedule

SCHEDULE_ENV = "LOA_XA_SCHEDULE"


def default_schedule_path() -> Path:
    """``$LOA_XA_SCHEDULE`` or ``./schedule.yaml``."""
    return Path(os.environ.get(SCHEDULE_ENV, "schedule.yaml"))


def add_schedule_argument(parser) -> None:
    parser.add_argument(
        "--schedule",
        type=Path,
        default=None,
        metavar="ĐƯỜNG_DẪN",
        help=f"tệp lịch phát (mặc định: ${SCHEDULE_ENV} hoặc ./schedule.yaml)",
    )


def schedule_path(args) -> Path:
    return args.schedule if getattr(args, "schedule", None) else default_schedule_path()


def load_schedule_or_report(path: Path) -> Schedule | None:
    """The loaded schedule, or None after printing every error (and warning) with its line."""
    result = load_and_report(path)
    return result.schedule if result.ok else None


def load_and_report(path: Path) -> Any:
    """Load the schedule and print every diagnostic; the LoadResult (``.ok``, ``.schedule``…)."""
    from broadcaster.schedule.load import load_schedule

    result = load_schedule(path)
    print_diagnostics(result)
    return result


def print_diagnostics(result: Any, stream: TextIO | None = None) -> None:
    """Print errors and warnings as ``PATH:LINE:COL: …`` in file order, then a count with what to do."""
    stream = stream or sys.stderr
    rows = sorted(result.errors + result.warnings, key=lambda d: (d.line, d.col, d.severity))
    for d in rows:
        if d.severity == "warning":
            print(f"{d.path}:{d.line}:{d.col}: cảnh báo: {d.message}", file=stream)
        else:
            print(str(d), file=stream)
    if result.errors:
        print(
            f"Lịch phát có {len(result.errors)} lỗi"
            + (f" và {len(result.warnings)} cảnh báo" if result.warnings else "")
            + ".\n  → Sửa các dòng trên rồi chạy lại 'broadcaster check'.",
            file=stream,
        )


def error(message: str, hint: str | None = None) -> int:
    """Print ``Lỗi: message`` (and what to do next) to stderr; return exit code 1."""
    print(f"Lỗi: {message}", file=sys.stderr)
    if hint:
        print(f"  → {hint}", file=sys.stderr)
    return 1


def warn(message: str) -> None:
    print(f"Cảnh báo: {message}", file=sys.stderr)


def info(message: str) -> None:
    print(message, file=sys.stderr)

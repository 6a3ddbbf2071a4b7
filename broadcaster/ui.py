"""What the operator sees: one place for console output, errors and the default paths.

Operators are Vietnamese officials, not programmers: every message is Vietnamese, says what
went wrong and what to do next, and never shows a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

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

"""The as-run log: what actually aired (``store``), the report counted from it (``report``) and
its text/CSV forms (``export``); the DOCX document is in ``broadcaster.asrun.docx`` (imported
on demand: it needs python-docx and matplotlib).

Callers import from here: ``from broadcaster.asrun import AsRunLog, final_outcomes, …``.
"""

from __future__ import annotations

from broadcaster.asrun.export import (
    day_table,
    heading,
    render_text,
    row_problem,
    scripts_csv_path,
    summary_lines,
    write_csv,
)
from broadcaster.asrun.report import (
    DayStats,
    OutcomeCounts,
    Report,
    ScriptStats,
    build_report,
    count_outcomes,
    final_outcomes,
    item_label_vi,
    outcome_summary,
    tally,
    today_counts,
)
from broadcaster.asrun.row import DEFAULT_TZ, AsRunRow
from broadcaster.asrun.schema import SCHEMA_VERSION
from broadcaster.asrun.store import LOG_FILENAME, RECOVER_ERROR, AsRunError, AsRunLog, log_path
from broadcaster.fmt import parse_day
from broadcaster.records import OUTCOME_VI, SETTLED_OUTCOMES, Outcome, Source

# Plain-string views kept for callers written before the enums (status.py, older scripts).
STATUSES: tuple[str, ...] = tuple(o.value for o in Outcome)
SETTLED_STATUSES: tuple[str, ...] = tuple(o.value for o in Outcome if o in SETTLED_OUTCOMES)
SOURCES: tuple[str, ...] = tuple(s.value for s in Source)
STATUS_VI: dict[str, str] = {o.value: vi for o, vi in OUTCOME_VI.items()}
SOURCE_VI: dict[str, str] = {s.value: s.vi for s in Source}

__all__ = [
    "DEFAULT_TZ",
    "LOG_FILENAME",
    "RECOVER_ERROR",
    "SCHEMA_VERSION",
    "SETTLED_STATUSES",
    "SOURCES",
    "SOURCE_VI",
    "STATUSES",
    "STATUS_VI",
    "AsRunError",
    "AsRunLog",
    "AsRunRow",
    "DayStats",
    "OutcomeCounts",
    "Report",
    "ScriptStats",
    "build_report",
    "count_outcomes",
    "day_table",
    "final_outcomes",
    "heading",
    "item_label_vi",
    "log_path",
    "outcome_summary",
    "parse_day",
    "render_text",
    "row_problem",
    "scripts_csv_path",
    "summary_lines",
    "tally",
    "today_counts",
    "write_csv",
]

"""The report and the log rows in words: the text report, the CSV files, a row's reason.

One convention per audience (see :mod:`broadcaster.fmt`):

* **people** — the text report, ``log``, the DOCX: days as ``21/04/2026``, numbers with a
  decimal comma (``2,7`` phút);
* **machines** — the CSV files (and ``--json``): ISO dates (``2026-04-21``) and a decimal point
  (``2.7``), so spreadsheets and scripts read them without guessing the locale.

Every figure comes from :func:`broadcaster.asrun.report.build_report`; nothing here counts.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

from broadcaster import fmt
from broadcaster.asrun.report import SUMMARY_ORDER, DayStats, Report, item_label_vi, outcome_summary
from broadcaster.asrun.row import AsRunRow
from broadcaster.records import Outcome

NA = "—"


def heading(outcome: Outcome) -> str:
    """A column heading for an outcome: ``Đã phát``, ``Chưa duyệt``…"""
    return outcome.vi[:1].upper() + outcome.vi[1:]


#: (column heading, value) for one day, in the CSV's order; ``None`` = unknown (no plan)
Column = tuple[str, Callable[[DayStats, bool], "int | None"]]


def _plan(name: str) -> Callable[[DayStats, bool], int | None]:
    return lambda d, known: int(getattr(d, name)) if known else None


def _sched(o: Outcome) -> Callable[[DayStats, bool], int | None]:
    return lambda d, known: d.counts.schedule[o]


def _adhoc(o: Outcome) -> Callable[[DayStats, bool], int | None]:
    return lambda d, known: d.counts.adhoc[o]


DAY_COLUMNS: list[Column] = [
    ("Dự kiến", _plan("planned")),
    *((heading(o), _sched(o)) for o in SUMMARY_ORDER),
    ("Không có bản ghi", _plan("no_record")),
    ("Chưa đến giờ", _plan("upcoming")),
    ("Ngoài lịch", lambda d, known: d.unplanned),
    ("Phát ngay", _adhoc(Outcome.PLAYED)),
    *((f"Phát ngay {o.vi}", _adhoc(o)) for o in SUMMARY_ORDER if o is not Outcome.PLAYED),
]
#: the columns the text table always shows; the others only when the period has any
_TEXT_ALWAYS = {"Dự kiến", "Đã phát", "Bị ngắt", "Lỗi", "Bỏ lỡ", "Chưa duyệt", "Không có bản ghi", "Phát ngay"}


def summary_lines(report: Report) -> list[tuple[str, str]]:
    """The period's figures as (what, how many) — the same lines in the text report and the DOCX."""
    t = report.total
    known = report.plan_available
    lines = [
        ("Số buổi phát theo lịch (dự kiến)", str(t.planned) if known else NA),
        ("Đã phát", str(t.played)),
        ("Bị ngắt giữa chừng (không phát lại)", str(t.interrupted)),
        ("Lỗi, không phát được", str(t.failed)),
        ("Bỏ lỡ (quá giờ)", str(t.missed)),
        ("Chưa duyệt, không được phát", str(t.unapproved)),
    ]
    if t.skipped:
        lines.append(("Bỏ qua theo lệnh", str(t.skipped)))
    if known:
        lines.append(("Không có bản ghi (đã qua giờ nhưng nhật ký không ghi nhận)", str(t.no_record)))
        if t.upcoming:
            lines.append(("Chưa đến giờ phát", str(t.upcoming)))
    if t.on_air:
        lines.append(("Đang phát khi lập báo cáo", str(t.on_air)))
    adhoc = sum(t.counts.adhoc.values())
    lines.append(("Phát ngay (ngoài lịch)", f"{adhoc} lượt ({outcome_summary(t.counts.adhoc)})" if adhoc else "0"))
    lines.append(("Mọi buổi phát theo kết quả (lịch và phát ngay)", outcome_summary(t.counts.total()) or "0"))
    lines.append(("Tổng thời lượng phát", f"{fmt.minutes(t.seconds_aired)} phút"))
    return lines


def summary_notes(report: Report) -> list[str]:
    """Sentences that explain the figures (a changed schedule, an unreadable one)."""
    notes = []
    if report.total.unplanned:
        notes.append(
            f"{report.total.unplanned} buổi phát theo lịch có trong nhật ký nhưng không còn trong lịch hiện tại "
            "(lịch đã được sửa); đã tính vào các cột kết quả."
        )
    if not report.plan_available:
        notes.append("Không đọc được lịch phát nên không tính được số buổi dự kiến.")
    return notes


def text_day_columns(report: Report) -> list[Column]:
    """The per-day columns a person needs: the main ones, plus any other the period has."""
    return [c for c in DAY_COLUMNS if c[0] in _TEXT_ALWAYS or c[1](report.total, True)]


def day_table(report: Report, names: Sequence[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """Per-day table for people (header, body with a ``Tổng`` row): dd/mm/yyyy and decimal commas.

    ``names``: the columns to show (headings of :data:`DAY_COLUMNS`); default: :func:`text_day_columns`.
    """
    cols = text_day_columns(report) if names is None else [c for c in DAY_COLUMNS if c[0] in names]
    header = ["Ngày", *(name for name, _ in cols), "Số phút phát"]
    body = []
    for d in [*report.days, report.total]:
        values = [get(d, report.plan_available) for _, get in cols]
        body.append(
            [
                fmt.day(d.day) if d.day else "Tổng",
                *(NA if v is None else str(v) for v in values),
                fmt.minutes(d.seconds_aired),
            ]
        )
    return header, body


def script_table(report: Report) -> tuple[list[str], list[list[str]]]:
    """Per-script table for people."""
    header = ["Nội dung", "Dự kiến", "Theo lịch", "Phát ngay", "Tổng số lần phát"]
    body = [
        [
            item_label_vi(s.label),
            str(s.planned) if report.plan_available else NA,
            str(s.played_schedule),
            str(s.played_adhoc),
            str(s.played),
        ]
        for s in report.scripts
    ]
    return header, body


def _text_table(header: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        out = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return [line(header), sep, *(line(r) for r in body)]


def render_text(report: Report) -> str:
    """Vietnamese plain-text/markdown block, ready to paste into the commune's report."""
    lines = ["BÁO CÁO KẾT QUẢ PHÁT THANH TRÊN HỆ THỐNG LOA TRUYỀN THANH XÃ"]
    if report.campaign:
        lines.append(f"Chương trình: {report.campaign}")
    lines.append(f"Thời gian: từ ngày {fmt.day(report.start)} đến ngày {fmt.day(report.end)}")
    if report.generated_at:
        made = report.generated_at.astimezone(report.tz)
        lines.append(f"Lập lúc: {fmt.clock(made)} ngày {fmt.day(made)}")
    lines += ["", "1. Tổng hợp"]
    lines += [f"- {what}: {value}" for what, value in summary_lines(report)]
    lines += [f"- Ghi chú: {note[:1].lower()}{note[1:]}" for note in summary_notes(report)]
    lines += ["", "2. Theo ngày", *_text_table(*day_table(report))]
    lines += ["", "3. Theo nội dung (số lần phát)"]
    if report.scripts:
        lines.extend(_text_table(*script_table(report)))
    else:
        lines.append("(không có nội dung nào trong khoảng thời gian này)")
    return "\n".join(lines) + "\n"


def scripts_csv_path(path: Path) -> Path:
    """The per-script CSV written next to the per-day one: ``bao-cao.csv`` → ``bao-cao-kich-ban.csv``."""
    path = Path(path)
    return path.with_name(f"{path.stem}-kich-ban{path.suffix or '.csv'}")


def write_csv(report: Report, path: Path) -> tuple[Path, Path]:
    """Write the per-day CSV (one row a day + a total row) and the per-script CSV; UTF-8 with BOM.

    For machines: ISO dates (``2026-04-21``), decimal point (``29.5``), every column always
    present; an unknown figure (no readable schedule) is an empty cell.
    """
    path = Path(path)
    scripts_path = scripts_csv_path(path)
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Ngày", *(name for name, _ in DAY_COLUMNS), "Số phút phát"])
        for d in [*report.days, report.total]:
            values = [get(d, report.plan_available) for _, get in DAY_COLUMNS]
            w.writerow(
                [
                    d.day.isoformat() if d.day else "Tổng",
                    *("" if v is None else v for v in values),
                    f"{d.minutes_aired:.1f}",
                ]
            )
    with open(scripts_path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Nội dung", "Mã", "Dự kiến", "Đã phát theo lịch", "Phát ngay", "Tổng số lần phát"])
        for s in report.scripts:
            w.writerow(
                [
                    item_label_vi(s.label),
                    s.label,
                    s.planned if report.plan_available else "",
                    s.played_schedule,
                    s.played_adhoc,
                    s.played,
                ]
            )
    return path, scripts_path


def row_problem(row: AsRunRow) -> str:
    """Why a row did not simply play, said once: error, note, and who or what cut it.

    The playout worker used to put the emergency's title both in ``error`` and in ``by``;
    ``by`` is shown only when the error does not already say it.
    """
    parts = [x for x in (row.error, row.note) if x]
    if row.by and not any(row.by in p for p in parts):
        parts.append(f"người ra lệnh: {row.by}")
    return "; ".join(parts)

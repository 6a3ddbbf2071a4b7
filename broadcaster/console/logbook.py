"""Nhật ký: the as-run log with filters, the report's figures for the period, per-day series, CSV.

The figures are the report's own (:func:`broadcaster.asrun.build_report` and
:func:`~broadcaster.asrun.summary_lines`), so the console, ``broadcaster report`` and the DOCX
never disagree. Filters (slot, outcome, zone) narrow the rows listed; the figures always cover
the whole period, as the report to the Sở does.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from broadcaster import fmt
from broadcaster.asrun import AsRunRow, build_report, row_problem, summary_lines
from broadcaster.console.auth import ConsoleDenied, controller_of, require
from broadcaster.records import Outcome
from broadcaster.users import User

MAX_DAYS = 92
router = APIRouter()


def _period(controller: Any, start: str | None, end: str | None) -> tuple[date, date]:
    """The chosen days (ISO or dd/mm/yyyy), default the last 7 days; refused when reversed or too long."""
    tz = controller.schedule.current.campaign.timezone
    today = datetime.now(tz).date()
    try:
        first = fmt.parse_day(start) if start else today - timedelta(days=6)
        last = fmt.parse_day(end) if end else today
    except ValueError:
        raise ConsoleDenied(400, "Ngày không hợp lệ: chọn ngày trong lịch (ví dụ 21/04/2026).") from None
    if first > last:
        raise ConsoleDenied(400, "Ngày bắt đầu sau ngày kết thúc: hãy đổi lại.")
    if (last - first).days >= MAX_DAYS:
        raise ConsoleDenied(400, f"Chọn tối đa {MAX_DAYS} ngày mỗi lần xem.")
    return first, last


def _rows(controller: Any, first: date, last: date) -> list[AsRunRow]:
    rows: list[AsRunRow] = controller.log_rows.rows(start=first, end=last)
    return rows


def _row_json(row: AsRunRow, tz: Any) -> dict[str, Any]:
    at = row.at.astimezone(tz) if row.at else None
    return {
        "id": row.id,
        "at": at.isoformat() if at else None,
        "time": at.strftime("%H:%M:%S %d/%m/%Y") if at else "",
        "source": str(row.source),
        "source_vi": row.source.vi,
        "slot": row.slot,
        "title": row.title,
        "items": row.items,
        "priority": row.priority,
        "status": str(row.status),
        "status_vi": row.status.vi,
        "duration_s": row.duration_s,
        "problem": row_problem(row),
        "zone": row.zone,
        "by_user": row.by_user,
    }


def _matches(row: AsRunRow, slot: str | None, outcome: str | None, zone: str | None) -> bool:
    return (
        (not slot or row.slot == slot)
        and (not outcome or str(row.status) == outcome)
        and (not zone or (row.zone or "") == zone)
    )


@router.get("/console/api/nhat-ky", summary="Nhật ký phát và số liệu báo cáo")
def logbook(
    request: Request,
    start: str | None = Query(None, alias="tu"),
    end: str | None = Query(None, alias="den"),
    slot: str | None = Query(None, alias="buoi", max_length=200),
    outcome: str | None = Query(None, alias="ket_qua", max_length=40),
    zone: str | None = Query(None, alias="cum", max_length=200),
    _: User = Depends(require()),
) -> dict[str, Any]:
    """Rows of the period (filtered), the report's figures and a per-day, per-outcome series."""
    controller = controller_of(request)
    first, last = _period(controller, start, end)
    tz = controller.schedule.current.campaign.timezone
    rows = _rows(controller, first, last)
    report = _report(controller, rows, first, last)
    series = [
        {
            "day": d.day.isoformat() if d.day else "",
            "label": d.day.strftime("%d/%m") if d.day else "",
            "counts": {str(o): n for o, n in d.counts.total().items() if n},
        }
        for d in report.days
    ]
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "rows": [_row_json(r, tz) for r in rows if _matches(r, slot, outcome, zone)],
        "figures": [{"what": what, "value": value} for what, value in summary_lines(report)],
        "series": series,
        "slots": sorted({r.slot for r in rows if r.slot}),
        "zones": sorted({r.zone for r in rows if r.zone}),
        "outcomes": [{"value": str(o), "vi": o.vi} for o in Outcome],
    }


def _report(controller: Any, rows: list[AsRunRow], first: date, last: date) -> Any:
    from broadcaster.schedule.plan import plan_broadcasts

    schedule = controller.schedule.current
    planned = plan_broadcasts(schedule, first, last)
    return build_report(planned, rows, first, last, tz=schedule.campaign.timezone, campaign=schedule.campaign.name)


@router.get("/console/api/nhat-ky.csv", summary="Tải nhật ký phát (CSV)")
def logbook_csv(
    request: Request,
    start: str | None = Query(None, alias="tu"),
    end: str | None = Query(None, alias="den"),
    _: User = Depends(require()),
) -> Response:
    """Every row of the period as CSV (UTF-8 with BOM, so Excel shows Vietnamese correctly)."""
    controller = controller_of(request)
    first, last = _period(controller, start, end)
    tz = controller.schedule.current.campaign.timezone
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(
        [
            "Thời gian",
            "Nguồn",
            "Buổi",
            "Tiêu đề",
            "Nội dung",
            "Mức",
            "Kết quả",
            "Thời lượng (giây)",
            "Cụm loa",
            "Người yêu cầu",
            "Ghi chú",
        ]
    )
    for row in _rows(controller, first, last):
        at = row.at.astimezone(tz).isoformat(timespec="seconds") if row.at else ""
        w.writerow(
            [
                at,
                row.source.vi,
                row.slot or "",
                row.title,
                " | ".join(row.items),
                row.priority,
                row.status.vi,
                "" if row.duration_s is None else f"{row.duration_s:.1f}",
                row.zone or "",
                row.by_user or "",
                row_problem(row),
            ]
        )
    name = f"nhat-ky-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )

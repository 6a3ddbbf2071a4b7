"""Console routes for the "Lịch phát" (schedule) and "Bài đọc" (texts) pages.

The schedule file stays the source of truth: every edit goes through
:func:`broadcaster.schedule.edit.save_slot` (validated by the daemon's own loader, versioned,
written atomically, audited) and the daemon's file watcher reloads it like a hand edit. The
timeline is what :func:`broadcaster.schedule.plan.plan_broadcasts` plans — no second planner.
Roles are checked here, on the server: anyone logged in may look, operators and admins may
edit, only admins may restore an old version.

Texts are bounded before any work: a script holds at most :data:`MAX_SCRIPT_CHARS` characters
(its reading too), "Nghe thử" renders at most :data:`MAX_PREVIEW_CHARS` (413 beyond). The
reading and the rendering run on the console's low-priority workers
(:mod:`broadcaster.console.workers`: two jobs station-wide, one per user, 429 "đang bận" beyond).
"""

from __future__ import annotations

import difflib
import io
import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from broadcaster import fmt
from broadcaster.console.auth import ConsoleDenied, actor_of, console_state, controller_of, require, where_of
from broadcaster.console.workers import heavy_work
from broadcaster.fsutil import UnsafePath, atomic_file, read_bytes_inside
from broadcaster.layout import Layout
from broadcaster.schedule.edit import (
    EditError,
    SaveResult,
    SlotChanges,
    UnknownSlot,
    read_text,
    restore,
    save_slot,
    slot_form,
)
from broadcaster.schedule.load import load_schedule
from broadcaster.schedule.model import Schedule
from broadcaster.schedule.plan import plan_broadcasts
from broadcaster.schedule.versions import VersionStore, text_sha256
from broadcaster.users import Role, User

router = APIRouter()

EDITORS = (Role.ADMIN, Role.OPERATOR)
WEEKDAY_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
SCRIPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
#: a script (saved, and its reading shown) — far more than a 45-minute session reads
MAX_SCRIPT_CHARS = 20_000
#: "Nghe thử" (rendering costs far more than reading) and a text item of the slot form
MAX_PREVIEW_CHARS = 5_000
#: a backstop for the body models: past it the request is not even read into a model (422)
MAX_BODY_CHARS = 200_000
SCRIPT_STALE = "Bài đọc vừa được sửa ở nơi khác — tải lại trang rồi sửa lại"
_STATUS = {"saved": 200, "unchanged": 200, "invalid": 400, "stale": 409}


def _schedule_path(request: Request) -> Path:
    return Path(controller_of(request).schedule.current.path)


def _layout(request: Request) -> Layout:
    return console_state(request).layout


def _answer(result: SaveResult) -> JSONResponse:
    body = result.to_json()
    if not result.ok:
        body["error"] = result.message  # app.js shows ``error`` for refusals
    return JSONResponse(body, status_code=_STATUS.get(result.status, 400))


# -- the timeline -------------------------------------------------------------------------------


def _current_schedule(request: Request) -> tuple[Schedule, list[str], list[str]]:
    """The schedule on disk (what the daemon will load); the daemon's last good one if the file is broken."""
    result = load_schedule(_schedule_path(request))
    errors = [f"dòng {d.line}: {d.message}" for d in result.errors]
    warnings = [f"dòng {d.line}: {d.message}" for d in result.warnings]
    schedule = result.schedule if result.schedule is not None else controller_of(request).schedule.current
    return schedule, errors, warnings


def _day_label(d: date) -> str:
    return f"{WEEKDAY_VI[d.weekday()]} {fmt.day(d)}"


def timeline(schedule: Schedule, first: date, days: int, now: datetime) -> list[dict[str, Any]]:
    """Every airing of every slot (disabled ones too, marked) for ``days`` days from ``first``."""
    enabled = {s.name: s.enabled for s in schedule.slots}
    every_slot = replace(schedule, slots=tuple(replace(s, enabled=True) for s in schedule.slots))
    last = first + timedelta(days=days - 1)
    by_day: dict[date, list[dict[str, Any]]] = {first + timedelta(days=n): [] for n in range(days)}
    for b in plan_broadcasts(every_slot, first, last):
        by_day.setdefault(b.at.date(), []).append(
            {
                "slot": b.slot,
                "at": b.at.isoformat(),
                "time": fmt.clock(b.at, seconds=bool(b.at.second)),
                "enabled": enabled.get(b.slot, True),
                "priority": b.priority.label,
                "priority_vi": b.priority.vi,
                "items": [item.label for item in b.items],
                "past": b.at < now,
            }
        )
    today, campaign = now.date(), schedule.campaign
    return [
        {
            "date": d.isoformat(),
            "label": _day_label(d),
            "today": d == today,
            "in_campaign": campaign.start <= d <= campaign.end,
            "broadcasts": rows,
        }
        for d, rows in sorted(by_day.items())
    ]


@router.get("/console/api/schedule/timeline")
def get_timeline(
    request: Request, start: str | None = None, days: int = 7, user: User = Depends(require())
) -> dict[str, Any]:
    """The campaign as a day/week timeline, with the base hash a form must send back."""
    schedule, errors, warnings = _current_schedule(request)
    tz = schedule.campaign.timezone
    now = datetime.now(tz)
    try:
        first = (
            date.fromisoformat(start) if start else min(max(now.date(), schedule.campaign.start), schedule.campaign.end)
        )
    except ValueError:
        raise ConsoleDenied(400, f"Ngày '{start}' không hợp lệ — dùng dạng NĂM-THÁNG-NGÀY, ví dụ 2026-04-21.") from None
    days = max(1, min(days, 31))
    text = read_text(_schedule_path(request))
    campaign = schedule.campaign
    return {
        "campaign": {
            "name": campaign.name,
            "start": campaign.start.isoformat(),
            "end": campaign.end.isoformat(),
            "label": f"{fmt.day(campaign.start)} → {fmt.day(campaign.end)}",
        },
        "base": text_sha256(text),
        "start": first.isoformat(),
        "days": timeline(schedule, first, days, now),
        "slots": [
            {"name": s.name, "enabled": s.enabled, "times": [fmt.clock(t) for t in s.times], "line": s.line}
            for s in schedule.slots
        ],
        "errors": errors,
        "warnings": warnings,
        "reload": controller_of(request).schedule.last_reload,
        "can_edit": user.role in EDITORS,
        "can_restore": user.role == Role.ADMIN,
        "scripts": _script_names(_layout(request)),
    }


# -- one slot ----------------------------------------------------------------------------------


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(..., max_length=20)
    value: str = Field(..., max_length=MAX_PREVIEW_CHARS)


class SlotEdit(BaseModel):
    """A slot form: ``None`` leaves a field as it is; ``days``/``dates`` ``[]`` = every day."""

    model_config = ConfigDict(extra="forbid")
    base: str = Field(..., max_length=64)
    enabled: bool | None = None
    times: list[str] | None = Field(None, max_length=48)
    days: list[str] | None = Field(None, max_length=7)
    dates: list[str] | None = Field(None, max_length=400)
    items: list[ItemIn] | None = Field(None, max_length=50)


@router.get("/console/api/schedule/slots/{name}")
def get_slot(name: str, request: Request, user: User = Depends(require())) -> dict[str, Any]:
    """One slot's form data as written in the file, with the base hash to send back on save."""
    text = read_text(_schedule_path(request))
    try:
        form = slot_form(text, name)
    except EditError as exc:
        raise ConsoleDenied(404 if isinstance(exc, UnknownSlot) else 400, str(exc)) from None
    return {"form": form, "base": text_sha256(text), "can_edit": user.role in EDITORS}


@router.post("/console/api/schedule/slots/{name}")
def post_slot(name: str, body: SlotEdit, request: Request, user: User = Depends(require(*EDITORS))) -> JSONResponse:
    """Save a slot edit: validated, versioned, atomic; 400 with the loader's lines, 409 when stale."""
    changes = SlotChanges(
        enabled=body.enabled,
        times=None if body.times is None else tuple(body.times),
        days=None if body.days is None else tuple(body.days),
        dates=None if body.dates is None else tuple(body.dates),
        items=None if body.items is None else tuple((i.kind, i.value) for i in body.items),
    )
    result = save_slot(
        _schedule_path(request),
        name,
        changes,
        base=body.base,
        who=user.name,
        where=where_of(request),
        layout=_layout(request),
    )
    return _answer(result)


# -- versions ----------------------------------------------------------------------------------


@router.get("/console/api/schedule/versions")
def get_versions(request: Request, user: User = Depends(require())) -> dict[str, Any]:
    """Saved versions, newest first (who, where, when, what changed)."""
    versions = VersionStore.of(_layout(request)).versions()
    return {"versions": [v.to_json() for v in versions[:200]], "can_restore": user.role == Role.ADMIN}


@router.post("/console/api/schedule/versions/{version_id}/restore")
def post_restore(version_id: int, request: Request, user: User = Depends(require(Role.ADMIN))) -> JSONResponse:
    """Bring back a version (admins): validated first, saved as a new version."""
    result = restore(
        _schedule_path(request), version_id, who=user.name, where=where_of(request), layout=_layout(request)
    )
    return _answer(result)


# -- bài đọc (scripts) ------------------------------------------------------------------------


def _script_names(layout: Layout) -> list[str]:
    folder = layout.scripts_dir
    return sorted(p.stem for p in folder.glob("*.txt") if SCRIPT_NAME.match(p.stem)) if folder.is_dir() else []


def _script_path(layout: Layout, name: str) -> Path:
    """The file of script ``name``; anything that is not a plain name inside scripts_vi/ is refused."""
    if not SCRIPT_NAME.match(name):
        raise ConsoleDenied(
            400, f"Tên bài đọc '{name[:80]}' không hợp lệ — chỉ dùng chữ không dấu, số và dấu '-', ví dụ: tin-sang."
        )
    folder = layout.scripts_dir.resolve()
    path = (folder / f"{name}.txt").resolve()
    if path.parent != folder:  # a symlink pointing elsewhere
        raise ConsoleDenied(400, f"Bài đọc '{name}' nằm ngoài thư mục scripts_vi/ — không mở được.")
    return path


def _too_long(text: str, limit: int, what: str) -> None:
    """Refuse (413) a text longer than ``limit`` characters, before any work is done on it."""
    if len(text) > limit:
        raise ConsoleDenied(
            413, f"{what} quá dài ({len(text)} ký tự, tối đa {limit}) — hãy chia thành nhiều bài ngắn hơn."
        )


def _analysis(abbreviations: Any, text: str) -> dict[str, Any]:
    """The reading and its warnings (on a console worker thread)."""
    from broadcaster.speech.normalize import analyze

    analysis = analyze(text, abbreviations)
    warnings = [{"line": w.line, "col": w.col, "message": w.message} for w in analysis.warnings]
    return {"reading": analysis.spoken, "warnings": warnings}


def _reading(request: Request, user: User, text: str) -> dict[str, Any]:
    """The reading of a script being opened or saved; when the workers are busy, a note instead (no error)."""
    if len(text) > MAX_SCRIPT_CHARS:
        note = (
            f"Bài dài {len(text)} ký tự (tối đa {MAX_SCRIPT_CHARS}) nên không hiện cách đọc — hãy chia thành nhiều bài."
        )
        return {"reading": "", "warnings": [{"line": 1, "col": 1, "message": note}]}
    try:
        return heavy_work(request).run(user.name, _analysis, controller_of(request).speech.abbreviations, text)
    except ConsoleDenied as exc:
        if exc.status != 429:
            raise
        return {"reading": f"({exc.message})", "warnings": []}


def _used_by(schedule: Schedule) -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for slot in schedule.slots:
        for item in slot.play:
            if item.kind.value == "script":
                used.setdefault(item.value, []).append(slot.name)
    return used


@router.get("/console/api/scripts")
def list_scripts(request: Request, user: User = Depends(require())) -> dict[str, Any]:
    """Every script of scripts_vi/ with its size and the slots that read it."""
    layout = _layout(request)
    used = _used_by(controller_of(request).schedule.current)
    rows = []
    for name in _script_names(layout):
        stat = layout.script(name).stat()
        rows.append({"name": name, "chars": stat.st_size, "modified": stat.st_mtime, "used_by": used.get(name, [])})
    return {"scripts": rows, "can_edit": user.role in EDITORS}


@router.get("/console/api/scripts/{name}")
def get_script(name: str, request: Request, user: User = Depends(require())) -> dict[str, Any]:
    """A script's text, its reading as it will be spoken, and the base hash for saving."""
    _script_path(_layout(request), name)  # a bad name or a link out of scripts_vi/: refused here
    try:
        text = read_bytes_inside(_layout(request).base_dir, _layout(request).script(name)).decode("utf-8-sig")
    except UnsafePath as exc:
        raise ConsoleDenied(400, str(exc)) from None
    except FileNotFoundError:
        raise ConsoleDenied(404, f"Không có bài đọc '{name}' trong scripts_vi/ — tải lại danh sách.") from None
    except (OSError, UnicodeDecodeError):
        raise ConsoleDenied(
            400, f"Tệp bài đọc '{name}' không phải văn bản UTF-8 — lưu lại tệp bằng mã UTF-8."
        ) from None
    return {
        "name": name,
        "text": text,
        "base": text_sha256(text),
        "can_edit": user.role in EDITORS,
        **_reading(request, user, text),
    }


class ScriptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(..., max_length=MAX_BODY_CHARS)
    base: str | None = Field(None, max_length=64, description="SHA-256 of the text the editor started from; none = new")


@router.put("/console/api/scripts/{name}")
def put_script(
    name: str, body: ScriptBody, request: Request, user: User = Depends(require(*EDITORS))
) -> dict[str, Any]:
    """Save a script (atomic write, audited); refused when it changed since ``base`` or is empty."""
    path = _script_path(_layout(request), name)
    _too_long(body.text, MAX_SCRIPT_CHARS, "Bài đọc")
    if not body.text.strip():
        raise ConsoleDenied(400, "Bài đọc trống — hãy viết nội dung cần đọc trước khi lưu.")
    exists = path.is_file()
    try:  # never through a symlink: a link in scripts_vi/ is neither read nor written through
        raw = read_bytes_inside(_layout(request).base_dir, _layout(request).script(name)) if exists else b""
    except UnsafePath as exc:
        raise ConsoleDenied(400, str(exc)) from None
    old = raw.decode("utf-8-sig", errors="replace")
    if exists and text_sha256(old) != (body.base or ""):
        raise ConsoleDenied(409, SCRIPT_STALE if body.base else f"Đã có bài đọc '{name}' — chọn tên khác.")
    text = body.text.replace("\r\n", "\n")
    text = text if text.endswith("\n") else text + "\n"
    with atomic_file(path, "wb") as fh:
        fh.write(text.encode("utf-8"))
    diff = difflib.unified_diff(old.splitlines(), text.splitlines(), "trước", "sau", lineterm="", n=1)
    controller_of(request).audit.record(
        actor_of(request, user),
        "script_edit",
        {"script": name, "created": not exists, "sha256": text_sha256(text), "diff": list(diff)[:200]},
    )
    return {"ok": True, "name": name, "base": text_sha256(text), "created": not exists, **_reading(request, user, text)}


class TextBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(..., max_length=MAX_BODY_CHARS)


@router.post("/console/api/scripts/reading")
async def post_reading(body: TextBody, request: Request, user: User = Depends(require())) -> dict[str, Any]:
    """The text as the speech engines will read it (numbers, dates, abbreviations spelled out)."""
    _too_long(body.text, MAX_SCRIPT_CHARS, "Bài đọc")
    abbreviations = controller_of(request).speech.abbreviations
    return await heavy_work(request).run_async(user.name, _analysis, abbreviations, body.text)


@router.post("/console/api/scripts/preview")
async def post_preview(body: TextBody, request: Request, user: User = Depends(require(*EDITORS))) -> Response:
    """Render the text with the station's voice and return it as WAV, to listen before saving."""
    from broadcaster.speech.render import RenderError

    if not body.text.strip():
        raise ConsoleDenied(400, "Chưa có nội dung để nghe thử — hãy viết bài đọc trước.")
    if len(body.text) > MAX_PREVIEW_CHARS:
        raise ConsoleDenied(
            413,
            f"Bài quá dài để nghe thử ({len(body.text)} ký tự, tối đa {MAX_PREVIEW_CHARS}) — chọn một đoạn ngắn hơn.",
        )
    speech = controller_of(request).speech
    try:
        wav = await heavy_work(request).run_async(user.name, _render_wav, speech, body.text)
    except RenderError as exc:
        raise ConsoleDenied(
            503, f"Không tạo được giọng đọc: {exc}. Kiểm tra mạng hoặc giọng espeak rồi thử lại."
        ) from None
    return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})


def _render_wav(speech: Any, text: str) -> bytes:
    """The text in the station's voice as WAV bytes (on a console worker thread)."""
    from broadcaster.speech.audio import RATE

    return _wav_bytes(speech.render(text).samples, RATE)


def _wav_bytes(samples: Any, rate: int) -> bytes:
    import numpy as np
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0), rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()

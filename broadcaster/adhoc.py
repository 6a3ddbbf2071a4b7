"""Ad-hoc announcements ("phát ngay"): turn an operator's request into a playout Request.

Shared by the daemon's control API and by ``say``/``play`` when no daemon runs, so both
paths accept and refuse exactly the same things with exactly the same words: the API's body
model carries no limits of its own, :func:`make_request` is the only judge.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

from broadcaster import audiofile
from broadcaster.fsutil import UnsafePath, check_inside
from broadcaster.layout import SCRIPT_NAME, Layout
from broadcaster.playout.player import Request
from broadcaster.records import Outcome, Source
from broadcaster.schedule.model import Item, ItemKind, Priority, Schedule

MAX_TEXT_CHARS = 5000
MAX_REPEAT = 5
DIRECT_BY = "dòng lệnh (không có phần mềm chạy nền)"


class AdhocRefused(Exception):
    """The request cannot air; ``str()`` is a Vietnamese message for the operator."""


def resolve_allowed_audio(layout: Layout, given: str) -> Path:
    """A decodable audio file inside ``audio/`` or ``scripts_vi/``, or AdhocRefused.

    The file is probed here, so a request that would fail on air is refused before the
    chime goes out.
    """
    if not given or "\x00" in given:
        raise AdhocRefused("Đường dẫn tệp âm thanh không hợp lệ.")
    raw = Path(given)
    path = (raw if raw.is_absolute() else layout.base_dir / raw).resolve()
    if not any(root.resolve() in path.parents for root in layout.playable_roots):
        raise AdhocRefused(
            "Chỉ được phát tệp nằm trong thư mục audio/ hoặc scripts_vi/ của Loa xã. "
            "Hãy chép tệp vào thư mục audio/ rồi phát lại."
        )
    try:
        audiofile.probe(path)
    except audiofile.AudioFileError as exc:
        raise AdhocRefused(str(exc)) from None
    return path


def _text_item(text: str) -> tuple[Item, str]:
    text = text.strip()
    if not text:
        raise AdhocRefused("Nội dung thông báo đang trống. Hãy nhập văn bản cần đọc.")
    if len(text) > MAX_TEXT_CHARS:
        raise AdhocRefused(f"Thông báo quá dài ({len(text)} ký tự, tối đa {MAX_TEXT_CHARS}). Hãy chia nhỏ.")
    item = Item(ItemKind.TEXT, text)
    return item, "Phát ngay: " + item.label.removeprefix("text:")


def _script_item(layout: Layout, script: str) -> tuple[Item, str]:
    name = script.strip().removesuffix(".txt")
    path = layout.script(name) if SCRIPT_NAME.match(name) else None
    if path is None or not path.is_file():
        raise AdhocRefused(f"Không có bài đọc '{script}' trong scripts_vi/. Xem tên các tệp .txt trong thư mục đó.")
    try:
        check_inside(layout.base_dir, path)  # a symlink (to state/api-token…) is never read out on air
    except UnsafePath as exc:
        raise AdhocRefused(str(exc)) from None
    return Item(ItemKind.SCRIPT, name, path), f"Phát ngay: {name}"


def make_request(
    schedule: Schedule,
    *,
    text: str | None = None,
    script: str | None = None,
    audio: str | None = None,
    priority: str = "normal",
    repeat: int = 1,
    chime: bool = True,
    by: str | None = None,
    zones: list[str] | tuple[str, ...] | None = None,
) -> Request:
    """Validate one announcement (exactly one of text, script, audio) into a Request.

    ``zones`` names the loudspeaker clusters; None or empty = every zone.
    """
    given = [v for v in (text, script, audio) if v is not None]
    if len(given) != 1:
        raise AdhocRefused("Cần đúng một trong: văn bản (text), tên bài đọc (script) hoặc tệp âm thanh (audio).")
    try:
        level = Priority.parse(priority)
    except ValueError:
        raise AdhocRefused(
            "Mức ưu tiên chỉ nhận normal (thông thường), priority (ưu tiên) hoặc emergency (khẩn cấp)."
        ) from None
    if not 1 <= repeat <= MAX_REPEAT:
        raise AdhocRefused(f"Số lần đọc phải từ 1 đến {MAX_REPEAT}.")
    chosen = check_zones(schedule, zones)
    layout = Layout.of(schedule)
    if text is not None:
        item, title = _text_item(text)
    elif script is not None:
        item, title = _script_item(layout, script)
    else:
        path = resolve_allowed_audio(layout, audio or "")
        item, title = Item(ItemKind.AUDIO, audio or "", path), f"Phát ngay: {path.name}"
    return Request(
        key=f"adhoc:{uuid.uuid4().hex[:12]}",
        title=title,
        items=(item,),
        priority=level,
        source=Source.ADHOC,
        repeat=repeat,
        gap_seconds=schedule.defaults.gap_seconds,
        chime=schedule.defaults.chime if chime else None,
        by=by or "người vận hành",
        # An emergency never waits on the network: the offline voice speaks at once.
        offline=level is Priority.EMERGENCY,
        zones=chosen,
    )


def check_zones(schedule: Schedule, zones: list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The zones asked for, checked against the schedule's; None = all."""
    if not zones:
        return None
    known = list(schedule.zones)
    if not known:
        raise AdhocRefused("Lịch chưa khai báo vùng loa nào ('zones:'): bỏ lựa chọn vùng để phát ở loa chính.")
    unknown = [z for z in zones if z not in schedule.zones]
    if unknown:
        raise AdhocRefused(f"Không có vùng {', '.join(unknown)}. Các vùng trong lịch: {', '.join(known)}.")
    return tuple(dict.fromkeys(zones))


def adhoc_action(request: Request) -> str:
    """The audit trail's action for an announcement: ``say`` for speech, ``play`` for a recording."""
    return "play" if request.items[0].kind is ItemKind.AUDIO else "say"


def adhoc_detail(request: Request) -> dict[str, Any]:
    """What the audit trail keeps of an announcement."""
    item = request.items[0]
    detail: dict[str, Any] = {
        "key": request.key,
        "priority": request.priority.label,
        str(item.kind): item.value,
        "repeat": request.repeat,
    }
    if request.zones:
        detail["zones"] = list(request.zones)
    return detail


def play_direct(schedule: Schedule, body: dict[str, Any], output: str | int | None = None) -> dict[str, Any]:
    """Play one announcement from this process (no daemon running), logged like any other.

    Returns the player's result (``status``, ``error``, ``seconds``); raises AdhocRefused
    before anything airs when the request or the station cannot be used.
    """
    from broadcaster.events import BroadcastEnded
    from broadcaster.station import Station, StationError, zone_outputs

    request = make_request(schedule, by=DIRECT_BY, **body)
    if isinstance(output, str) and output.isdigit():
        output = int(output)
    outputs = zone_outputs(schedule, output)
    if request.zones:
        outputs = {name: spec for name, spec in outputs.items() if name in request.zones}
    finished = threading.Semaphore(0)
    station = Station(schedule, outputs=outputs)
    station.events.subscribe(lambda _ended: finished.release(), BroadcastEnded)
    try:
        station.open()
    except StationError as exc:
        raise AdhocRefused(str(exc)) from None
    station.audit(who=DIRECT_BY, where="cli", action=adhoc_action(request), detail=adhoc_detail(request))
    try:
        for player in station.players.values():
            player.submit(request)
        for _ in station.players:  # every zone's player says once when its broadcast has ended
            finished.acquire()
        results = [p.last_result for p in station.players.values() if p.last_result]
    finally:
        station.close()
    failed = [r for r in results if r.get("status") != Outcome.PLAYED]
    return (failed or results or [{"status": Outcome.FAILED, "error": "không rõ", "seconds": 0.0}])[0]

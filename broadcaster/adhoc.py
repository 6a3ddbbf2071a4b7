"""Ad-hoc announcements ("phát ngay"): turn an operator's request into a playout Request.

Shared by the daemon's control API and by ``say``/``play`` when no daemon runs, so both
paths accept and refuse exactly the same things.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from broadcaster.playout.player import Request
from broadcaster.schedule.model import Item, ItemKind, Priority, Schedule

AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg"}
SCRIPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
MAX_TEXT_CHARS = 5000


class AdhocRefused(Exception):
    """The request cannot air; ``str()`` is a Vietnamese message for the operator."""


def resolve_allowed_audio(base: Path, given: str) -> Path:
    """An audio file inside the project's ``audio/`` or ``scripts_vi/``, or AdhocRefused."""
    if not given or "\x00" in given:
        raise AdhocRefused("Đường dẫn tệp âm thanh không hợp lệ.")
    allowed = [(base / "audio").resolve(), (base / "scripts_vi").resolve()]
    raw = Path(given)
    path = (raw if raw.is_absolute() else base / raw).resolve()
    if not any(root in path.parents for root in allowed):
        raise AdhocRefused("Chỉ được phát tệp nằm trong thư mục audio/ hoặc scripts_vi/ của Loa xã.")
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        raise AdhocRefused("Chỉ phát được tệp âm thanh .wav, .mp3, .flac hoặc .ogg.")
    if not path.is_file():
        raise AdhocRefused(f"Không tìm thấy tệp âm thanh '{given}'.")
    return path


def make_request(schedule: Schedule, *, text: str | None = None, script: str | None = None,
                 audio: str | None = None, priority: str = "normal", repeat: int = 1, chime: bool = True,
                 by: str | None = None) -> Request:
    """Validate one announcement (exactly one of text, script, audio) into a Request."""
    given = [v for v in (text, script, audio) if v is not None]
    if len(given) != 1:
        raise AdhocRefused("Cần đúng một trong: text (văn bản), script (tên kịch bản) hoặc audio (tệp âm thanh).")
    try:
        level = Priority.parse(priority)
    except ValueError:
        raise AdhocRefused("Mức ưu tiên chỉ nhận normal, priority hoặc emergency.") from None
    if not 1 <= repeat <= 5:
        raise AdhocRefused("Số lần đọc phải từ 1 đến 5.")
    base = schedule.base_dir
    if text is not None:
        text = text.strip()
        if not text:
            raise AdhocRefused("Nội dung thông báo đang trống. Hãy nhập văn bản cần đọc.")
        if len(text) > MAX_TEXT_CHARS:
            raise AdhocRefused(f"Thông báo quá dài ({len(text)} ký tự, tối đa {MAX_TEXT_CHARS}). Hãy chia nhỏ.")
        item = Item(ItemKind.TEXT, text)
        title = "Phát ngay: " + item.label.removeprefix("text:")
    elif script is not None:
        name = script.strip().removesuffix(".txt")
        path = base / "scripts_vi" / f"{name}.txt"
        if not SCRIPT_NAME.match(name) or not path.is_file():
            raise AdhocRefused(f"Không có kịch bản '{script}' trong scripts_vi/. Xem tên các tệp .txt trong thư mục đó.")
        item, title = Item(ItemKind.SCRIPT, name, path), f"Phát ngay: {name}"
    else:
        path = resolve_allowed_audio(base, audio)
        item, title = Item(ItemKind.AUDIO, audio, path), f"Phát ngay: {path.name}"
    return Request(
        key=f"adhoc:{uuid.uuid4().hex[:12]}",
        title=title,
        items=(item,),
        priority=level,
        source="adhoc",
        repeat=repeat,
        gap_seconds=schedule.defaults.gap_seconds,
        chime=schedule.defaults.chime if chime else None,
        by=by or "người vận hành",
        # An emergency never waits on the network: the offline voice speaks at once.
        offline=level is Priority.EMERGENCY,
    )


class DirectPlayout:
    """Play one announcement from this process (no daemon running), logged like any other."""

    def __init__(self, schedule_path: Path, output=None) -> None:
        from broadcaster.schedule.load import load_schedule

        result = load_schedule(schedule_path)
        if not result.ok:
            raise AdhocRefused("lịch phát có lỗi:\n" + "\n".join(str(d) for d in result.errors))
        self.schedule = result.schedule
        if isinstance(output, str) and output.isdigit():
            output = int(output)
        self.output = output if output is not None else self.schedule.output.device

    def play(self, body: dict) -> dict:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        from broadcaster.asrun import AsRunLog
        from broadcaster.playout.player import Player
        from broadcaster.playout.sinks import open_sink
        from broadcaster.programme import build_programme
        from broadcaster.speech.render import renderer_for

        request = make_request(self.schedule, by="dòng lệnh (không có phần mềm chạy nền)", **body)
        try:
            renderer = renderer_for(self.schedule)
        except ValueError as exc:
            raise AdhocRefused(str(exc)) from None
        done = threading.Event()
        executor = ThreadPoolExecutor(max_workers=2)
        asrun = AsRunLog(self.schedule.state_path / "asrun.sqlite3")

        def build(req: Request):
            return build_programme(req.items, renderer=renderer, chime=req.chime, repeat=req.repeat,
                                   gap_seconds=req.gap_seconds, title=req.title, executor=executor,
                                   offline=req.offline, deadline=1.5)

        def on_event(kind: str, _data: dict) -> None:
            if kind not in ("started",):
                done.set()

        player = Player(sink=open_sink(self.output), asrun=asrun, build_programme=build, on_event=on_event)
        player.start()
        try:
            player.submit(request)
            done.wait()
        finally:
            player.shutdown()
            executor.shutdown(wait=False, cancel_futures=True)
            asrun.close()
        return player.last_result or {"status": "failed", "error": "không rõ", "seconds": 0.0}

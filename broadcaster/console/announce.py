"""Phát ngay: the reading of a text, a listen-first render, scripts, phone recordings, sending.

Recordings arrive in pieces (:data:`CHUNK_BYTES` each, under the API's body limit) so a long
phone recording never needs one huge request; the pieces are appended in order to a hidden
``.part`` file in ``audio/uploads/`` and, when the last one arrives, the file gets a safe name
(time + random, the original's suffix) and is probed: a file that is not audio this station can
decode is deleted and refused with the probe's Vietnamese message, before anyone presses "Phát".
"""

from __future__ import annotations

import io
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from broadcaster import audiofile, uploads
from broadcaster.console.auth import ConsoleDenied, actor_of, controller_of, require
from broadcaster.console.workers import heavy_work
from broadcaster.contract import Announcement, ControlError
from broadcaster.fsutil import UnsafePath, read_text_inside
from broadcaster.layout import SCRIPT_NAME
from broadcaster.users import Role, User

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
CHUNK_BYTES = 192 * 1024  # below the control API's 256 KB body limit
MAX_PREVIEW_CHARS = 5000
UPLOAD_ID = re.compile(r"^[a-f0-9]{16,64}$")

router = APIRouter()
SENDERS = (Role.ADMIN, Role.OPERATOR)


class TextBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: str | None = Field(None, max_length=MAX_PREVIEW_CHARS * 4)
    script: str | None = Field(None, max_length=200)


class SendBody(BaseModel):
    """What the Phát ngay form sends; ``by`` is always the logged-in user, never the form's."""

    model_config = ConfigDict(extra="ignore")
    text: str | None = None
    script: str | None = None
    audio: str | None = None
    priority: str = "normal"
    repeat: int = 1
    chime: bool = True
    zones: list[str] | None = None


def _text_of(request: Request, body: TextBody) -> str:
    """The words to read: the given text, or a script's file (refused in Vietnamese if missing)."""
    if body.script:
        name = body.script.strip().removesuffix(".txt")
        path = controller_of(request).layout.script(name) if SCRIPT_NAME.match(name) else None
        if path is None or not path.is_file():
            raise ConsoleDenied(404, f"Không có bài đọc '{body.script}'. Chọn một bài trong danh sách.")
        try:
            return read_text_inside(controller_of(request).layout.base_dir, path)  # never through a symlink
        except UnsafePath as exc:
            raise ConsoleDenied(400, str(exc)) from None
        except (OSError, UnicodeDecodeError):
            raise ConsoleDenied(400, f"Không đọc được bài '{name}': hãy lưu lại tệp với mã UTF-8.") from None
    text = (body.text or "").strip()
    if not text:
        raise ConsoleDenied(400, "Chưa có nội dung. Hãy nhập văn bản cần đọc.")
    if len(text) > MAX_PREVIEW_CHARS:
        raise ConsoleDenied(400, f"Thông báo quá dài ({len(text)} ký tự, tối đa {MAX_PREVIEW_CHARS}). Hãy chia nhỏ.")
    return text


@router.get("/console/api/bai-doc-san", summary="Các bài đọc có sẵn (để phát ngay)")
def scripts(request: Request, _: User = Depends(require(*SENDERS))) -> dict[str, Any]:
    folder: Path = controller_of(request).layout.scripts_dir
    names = sorted(p.stem for p in folder.glob("*.txt") if p.is_file()) if folder.is_dir() else []
    return {"scripts": names}


@router.post("/console/api/cach-doc", summary="Văn bản sẽ được đọc như thế nào")
def reading(body: TextBody, request: Request, user: User = Depends(require(*SENDERS))) -> dict[str, Any]:
    """The normalized reading, exactly what the voices receive (numbers, dates, abbreviations spelled)."""
    text = _text_of(request, body)
    spoken = heavy_work(request).run(user.name, controller_of(request).speech.spoken_text, text)
    return {"reading": spoken, "chars": len(text)}


@router.post("/console/api/nghe-thu", summary="Nghe thử (âm thanh WAV của bản đọc)")
async def listen(body: TextBody, request: Request, user: User = Depends(require(*SENDERS))) -> Response:
    """The rendered speech as WAV, from the same cache the broadcast will use."""
    text = _text_of(request, body)
    renderer = controller_of(request).speech
    try:
        # the console's bounded, low-priority pool: previews never take the playout's cores
        wav = await heavy_work(request).run_async(user.name, _render_wav, renderer, text)
    except ConsoleDenied:
        raise
    except Exception as exc:  # noqa: BLE001 - RenderError and engine failures: say why, never a 500
        raise ConsoleDenied(503, f"Chưa tạo được giọng đọc: {exc}. Kiểm tra giọng đọc ở trang Tổng quan.") from None
    return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})


def _render_wav(renderer: Any, text: str) -> bytes:
    import soundfile as sf

    from broadcaster.speech.audio import RATE

    rendered = renderer.render(text)
    out = io.BytesIO()
    sf.write(out, rendered.samples, RATE, format="WAV", subtype="PCM_16")
    return out.getvalue()


class _Uploads:
    """Pieces received so far per upload id (in memory: an unfinished upload does not survive a restart)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next_part: dict[str, tuple[int, int, float]] = {}  # id → (next part, bytes so far, started)

    def accept(self, upload_id: str, part: int, size: int) -> None:
        with self.lock:
            for key, (_, _, started) in list(self.next_part.items()):
                if time.time() - started > 3600:  # abandoned uploads: forget after an hour
                    del self.next_part[key]
            expected, total, started = self.next_part.get(upload_id, (0, 0, time.time()))
            if part != expected:
                raise ConsoleDenied(409, "Tải lên bị gián đoạn (thiếu một phần). Hãy chọn lại tệp và tải lên lần nữa.")
            if total + size > MAX_UPLOAD_BYTES:
                self.next_part.pop(upload_id, None)
                raise ConsoleDenied(
                    413, f"Tệp quá lớn (tối đa {MAX_UPLOAD_BYTES // (1024 * 1024)} MB). Hãy ghi âm ngắn hơn."
                )
            self.next_part[upload_id] = (part + 1, total + size, started)

    def finish(self, upload_id: str) -> None:
        with self.lock:
            self.next_part.pop(upload_id, None)


_uploads = _Uploads()


@router.post("/console/api/tai-len", summary="Tải lên tệp ghi âm (từng phần)")
async def upload(
    request: Request,
    id: str = Query(..., description="mã tải lên do trình duyệt tạo (16–64 chữ số hex)"),
    part: int = Query(0, ge=0, le=10_000),
    last: bool = Query(False),
    name: str = Query("ghi-am.webm", max_length=200),
    user: User = Depends(require(*SENDERS)),
) -> dict[str, Any]:
    """Append one piece; on the last one, name the file safely and probe it."""
    if not UPLOAD_ID.match(id):
        raise ConsoleDenied(400, "Mã tải lên không hợp lệ. Hãy tải lại trang rồi thử lại.")
    suffix = Path(name).suffix.lower()
    if suffix not in audiofile.AUDIO_SUFFIXES:
        raise ConsoleDenied(415, f"'{Path(name).name}' không phải tệp âm thanh. Chỉ nhận: {audiofile.SUFFIXES_TEXT}.")
    layout = controller_of(request).layout
    folder: Path = layout.uploads_dir
    try:
        data = await request.body()
        _uploads.accept(id, part, len(data))
        partial = uploads.write_part(layout, id, part, data)  # O_NOFOLLOW, the quota, stale pieces swept
    except BaseException as exc:  # too big, out of order, the client gone, a link, the quota: no .part left
        _uploads.finish(id)
        uploads.discard(layout, id)
        if isinstance(exc, uploads.UploadRefused):
            raise ConsoleDenied(exc.status, exc.message) from None
        raise
    if not last:
        return {"received": part}
    _uploads.finish(id)
    final = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{user.name}-{secrets.token_hex(3)}{suffix}"
    partial.rename(final)
    try:
        info = await run_in_threadpool(audiofile.probe, final)
    except audiofile.AudioFileError as exc:
        final.unlink(missing_ok=True)
        raise ConsoleDenied(400, str(exc)) from None
    base: Path = controller_of(request).layout.base_dir
    detail = {"audio": final.relative_to(base).as_posix(), "seconds": round(info.seconds, 1), "name": Path(name).name}
    await run_in_threadpool(controller_of(request).audit.record, actor_of(request, user), "upload", detail)
    return {
        "audio": final.relative_to(base).as_posix(),
        "seconds": round(info.seconds, 1),
        "message": f"Đã nhận tệp ghi âm ({info.seconds:.0f} giây). Bấm «Phát» để phát.",
    }


@router.post("/console/api/phat-ngay", summary="Phát ngay (từ bảng điều khiển)")
def send(body: SendBody, request: Request, user: User = Depends(require(*SENDERS))) -> dict[str, Any]:
    """Forward to the daemon's one judge of announcements, signed with the logged-in user's name."""
    fields = body.model_dump()
    if not fields.get("zones"):
        fields.pop("zones")  # all zones (of the user's scope): also works with a daemon that has none
    try:
        a = Announcement(**fields, by=user.name)
        accepted = controller_of(request).announce(a, actor_of(request, user))
    except ControlError as exc:
        raise ConsoleDenied(exc.status, exc.message) from None
    except ValueError as exc:
        raise ConsoleDenied(400, f"Yêu cầu không hợp lệ: {exc}") from None
    result: dict[str, Any] = accepted.model_dump()
    return result

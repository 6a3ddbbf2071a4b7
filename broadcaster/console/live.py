"""Tổng quan: the daemon's status as JSON and as a live stream (server-sent events), stop and cancel.

The stream looks at the status about once a second and pushes a ``status`` event only when
something an operator sees has changed (a comment line keeps the connection alive otherwise).
Every stream and poll of one zone scope shares one snapshot per second
(:class:`~broadcaster.console.workers.StatusCache`), so many open pages cost what one does; a
session may hold :data:`~broadcaster.console.workers.STREAMS_PER_SESSION` streams and the station
:data:`~broadcaster.console.workers.STREAMS_TOTAL` (429 beyond). Each stream ends after
:data:`STREAM_SECONDS`; the browser's EventSource reconnects by itself within a second, which
re-checks the session — a disabled user stops receiving — and lets the daemon shut down without
waiting on open browsers for long.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from broadcaster.console.auth import ConsoleDenied, actor_of, controller_of, require
from broadcaster.console.workers import StatusCache, session_key, status_cache, stream_slots
from broadcaster.contract import Actor, ControlError, Controller, StopRequest
from broadcaster.users import Role, User

STREAM_SECONDS = 60.0
POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
STATUS_FAILED = "Không đọc được trạng thái lúc này — trang sẽ tự thử lại sau vài giây."

log = logging.getLogger("broadcaster.console")
router = APIRouter()


def status_payload(controller: Controller, actor: Actor | None = None) -> dict[str, Any]:
    """The status snapshot as the actor may see it, as JSON, plus the server's clock (for progress bars)."""
    snap = controller.status(actor)
    data: dict[str, Any] = snap.model_dump(mode="json")
    data.setdefault("zones", getattr(snap, "zones", None) or [])
    data["server_time"] = time.time()
    return data


def _fingerprint(data: dict[str, Any]) -> str:
    """What changes the page: everything but the clocks that tick every second."""
    return json.dumps({k: v for k, v in data.items() if k not in ("server_time", "uptime_s")}, sort_keys=True)


def shared_status(cache: StatusCache, controller: Controller, actor: Actor) -> dict[str, Any]:
    """The snapshot of the actor's zone scope, made at most once a second for everyone with that scope."""
    data: dict[str, Any] = cache.get(actor.zones, lambda: status_payload(controller, actor))
    return data


@router.get("/console/api/trang-thai", summary="Trạng thái (bảng điều khiển)")
def status(request: Request, user: User = Depends(require())) -> dict[str, Any]:
    return shared_status(status_cache(request), controller_of(request), actor_of(request, user))


class _CountedStream(StreamingResponse):
    """A stream that gives its slot back however it ends (finished, client gone, server stopping)."""

    def __init__(self, content: AsyncIterator[str], release: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


async def _next_status(request: Request, controller: Controller, actor: Actor) -> dict[str, Any]:
    cache = status_cache(request)
    data = cache.fresh(actor.zones)
    if data is not None:  # the usual case: another stream made it this second
        return dict(data)
    try:
        return dict(await run_in_threadpool(shared_status, cache, controller, actor))
    except Exception:  # noqa: BLE001 - the page shows it and keeps the connection
        log.exception("console stream: status snapshot failed")
        return {"error": STATUS_FAILED}


@router.get("/console/api/su-kien", summary="Trạng thái trực tiếp (server-sent events)")
async def events(request: Request, user: User = Depends(require())) -> StreamingResponse:
    controller, actor = controller_of(request), actor_of(request, user)
    release = stream_slots(request).acquire(session_key(request))  # 429 past the caps

    async def stream() -> AsyncIterator[str]:
        yield f"retry: {int(POLL_SECONDS * 1000)}\n\n"
        started = last_sent = time.monotonic()
        last = ""
        while time.monotonic() - started < STREAM_SECONDS:
            if await request.is_disconnected():
                return
            data = await _next_status(request, controller, actor)
            mark = _fingerprint(data)
            if mark != last:
                last, last_sent = mark, time.monotonic()
                yield "event: status\ndata: " + json.dumps(data, ensure_ascii=False) + "\n\n"
            elif time.monotonic() - last_sent > KEEPALIVE_SECONDS:
                last_sent = time.monotonic()
                yield ": còn kết nối\n\n"
            await asyncio.sleep(POLL_SECONDS)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return _CountedStream(stream(), release, media_type="text/event-stream", headers=headers)


@router.post("/console/api/dung", summary="Dừng bản tin đang phát")
def stop(
    request: Request,
    body: StopRequest | None = None,
    user: User = Depends(require(Role.ADMIN, Role.OPERATOR, Role.APPROVER)),
) -> dict[str, Any]:
    """Cut what airs in the zones asked for (none or null = every zone the user may reach)."""
    try:
        stopped = controller_of(request).cut(actor_of(request, user), body.zones if body else None)
    except ControlError as exc:
        raise ConsoleDenied(exc.status, exc.message) from None
    return stopped.model_dump()


@router.delete("/console/api/hang-cho/{request_id}", summary="Hủy một bản tin đang chờ")
def cancel(
    request_id: int, request: Request, user: User = Depends(require(Role.ADMIN, Role.OPERATOR))
) -> dict[str, Any]:
    cancelled = None
    if 0 < request_id < 2**62:
        cancelled = controller_of(request).cancel(request_id, actor_of(request, user))
    if cancelled is None:
        raise ConsoleDenied(404, "Không có bản tin này trong hàng chờ (có thể đã phát xong). Trang sẽ tự cập nhật.")
    return {"cancelled": cancelled, "message": f"Đã hủy: {cancelled.get('title')}."}

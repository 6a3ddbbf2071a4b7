"""Control API: HTTP + JSON on loopback, bearer token, Vietnamese errors, never a 500.

The API only validates and forwards to the daemon's controller; the playout worker stays
the only thing that touches the sound card. The station's token (``state/api-token``) opens
every route; a receiver's own token (``broadcaster receiver add``) only its heartbeat. The
OpenAPI description is at ``/openapi.json``, with the station's token; no Swagger UI page
is served (it would load its script from the Internet).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from broadcaster.contract import Accepted, Actor, Announcement, ControlError, Controller, Stopped, StopRequest
from broadcaster.daemon.ratelimit import RateLimit
from broadcaster.snapshot import StatusSnapshot

log = logging.getLogger("broadcaster.api")

#: far above the longest accepted announcement (5 000 characters, ≤ 4 bytes each), so an over-long
#: text reaches the one judge of announcements and gets its message ("Thông báo quá dài …")
MAX_BODY_BYTES = 256 * 1024


#: the contract's refusal, under the name the API's callers know
ApiError = ControlError

#: who the station's token speaks for (the ``by`` field may name a person)
TOKEN_ACTOR = "người vận hành"


def _clipped(limit: int) -> BeforeValidator:
    """Free text from a box is cut to ``limit`` characters, never refused (a long error must not lose the box)."""
    return BeforeValidator(lambda v: v[:limit] if isinstance(v, str) else v)


Text40 = Annotated[str, _clipped(40)]
Text200 = Annotated[str, _clipped(200)]
Text500 = Annotated[str, _clipped(500)]
Text1000 = Annotated[str, _clipped(1000)]

#: proofs in one heartbeat (a receiver keeps and sends its newest 20: ``proof/stream.py`` KEEP_RESULTS)
MAX_PROOFS = 32
#: dead-air spans in one proof (a piece is 60 s and a span at least ~3 s)
MAX_DEAD_AIR = 40


class DeadAirSpan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at_s: float
    seconds: float
    kind: Text40 = "silence"


class ProofPiece(BaseModel):
    """One result of a receiver's monitor, as ``StreamProver`` sends it (``Proof.to_dict()`` and its piece)."""

    model_config = ConfigDict(extra="forbid")

    started_at: str = Field(..., max_length=40, description="Giờ bắt đầu của đoạn phát (ISO 8601)")
    seconds: float | None = None
    piece: int = Field(0, ge=0, le=100_000)
    heard: bool | None = None
    delay_ms: float | None = None
    level_db: float | None = None
    dead_air: list[DeadAirSpan] = Field(default_factory=list, max_length=MAX_DEAD_AIR)
    confidence: float | None = None
    method: Text200 | None = None
    note: Text1000 | None = None


class MonitorState(BaseModel):
    """The receiver's own monitor (``StreamProver.describe()``)."""

    model_config = ConfigDict(extra="forbid")

    method: Text200 | None = None
    recording: bool = False
    error: Text500 | None = None


class Heartbeat(BaseModel):
    """What a receiver box (``broadcaster receive``, ``Receiver.snapshot()``) reports every few seconds."""

    model_config = ConfigDict(extra="forbid")

    receiver: str = Field(..., max_length=80, description="Tên máy thu (mặc định: tên máy)")
    url: str = Field(..., max_length=300, description="Địa chỉ điểm phát Icecast máy thu đang nghe")
    state: Literal["playing", "connecting", "down"] = "playing"
    buffer_ms: float | None = None
    last_error: Text500 | None = None
    connected_since: Text40 | None = None
    bytes_received: int | None = None
    reconnects: int | None = None
    sent_at: Text40 | None = None
    monitor: MonitorState | None = None
    proofs: list[ProofPiece] = Field(default_factory=list, max_length=MAX_PROOFS)


class ErrorBody(BaseModel):
    error: str


class _BodyLimit:
    """Pure ASGI middleware: refuse bodies over the limit, even chunked ones, before parsing."""

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = True
                if too_big:
                    return await _too_large(send)
        received = 0

        async def limited():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(send)


class _BodyTooLarge(Exception):
    pass


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _too_large(send) -> None:
    response = JSONResponse(
        {"error": f"Yêu cầu quá lớn (tối đa {MAX_BODY_BYTES // 1024} KB). Thông báo tối đa 5000 ký tự: hãy chia nhỏ."},
        status_code=413,
    )
    await response({"type": "http"}, _no_body, send)


def create_app(controller: Controller, token: str, rate_limit: RateLimit | None = None) -> FastAPI:
    """The control API alone (the daemon's composition root mounts the console beside it)."""
    app = FastAPI(
        title="Loa xã — API điều khiển",
        version="1",
        description="Điều khiển phần mềm phát thanh Loa xã đang chạy: phát ngay, dừng, trạng thái. "
        "Mọi yêu cầu cần tiêu đề 'Authorization: Bearer <mã trong state/api-token>'; "
        "máy thu dùng mã riêng (broadcaster receiver add), chỉ để báo tình trạng.",
        openapi_url=None,  # served below, behind the token
        docs_url=None,
        redoc_url=None,
    )
    expected = token.encode()
    _install_error_handlers(app)
    _add_routes(app, controller, _bearer_check(expected, controller))
    _add_heartbeat(app, controller, expected)

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(_bearer_check(expected, controller))])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    app.add_middleware(_BodyLimit, limit=MAX_BODY_BYTES)
    # outermost: a runaway client is turned away before any parsing or authentication work
    limit = rate_limit or RateLimit()
    limit.token = expected
    app.add_middleware(RateLimit.Middleware, limit=limit)
    return app


ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (400, 401, 403, 413, 422, 429)}


def _add_routes(app: FastAPI, controller: Controller, authorised: Callable[..., None]) -> None:
    guarded = [Depends(authorised)]

    @app.get("/api/status", response_model=StatusSnapshot, dependencies=guarded, responses=ERRORS, summary="Trạng thái")
    def status() -> StatusSnapshot:
        return controller.status()

    @app.post(
        "/api/announcements",
        status_code=202,
        response_model=Accepted,
        dependencies=guarded,
        responses=ERRORS,
        summary="Phát ngay một thông báo",
    )
    def announce(body: Announcement, request: Request) -> Accepted:
        return controller.announce(body, _actor(request))

    @app.post(
        "/api/stop", response_model=Stopped, dependencies=guarded, responses=ERRORS, summary="Dừng bản tin đang phát"
    )
    def stop(request: Request, body: StopRequest | None = None) -> Stopped:
        return controller.cut(_actor(request), body.zones if body else None)

    @app.delete(
        "/api/queue/{request_id}",
        dependencies=guarded,
        responses={**ERRORS, 404: {"model": ErrorBody}},
        summary="Hủy một bản tin đang chờ",
    )
    def cancel(request_id: int, request: Request) -> dict:
        if not 0 < request_id < 2**62:
            raise ApiError(404, "Không có bản tin này trong hàng chờ.")
        cancelled = controller.cancel(request_id, _actor(request))
        if cancelled is None:
            raise ApiError(404, "Không có bản tin này trong hàng chờ (có thể đã phát xong).")
        return {"cancelled": cancelled}

    @app.get("/metrics", dependencies=guarded, responses=ERRORS, summary="Số đo cho Prometheus")
    def metrics() -> Response:
        body, content_type = controller.metrics_text()
        return Response(body, media_type=content_type)


def _add_heartbeat(app: FastAPI, controller: Controller, expected: bytes) -> None:
    """The receivers' route: the station's token, or a receiver's own token (for its name and zone only)."""
    bearer = HTTPBearer(auto_error=False)

    def sender(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str | None:
        """The registered receiver whose token came (None: the station's token); 401 for any other."""
        given = creds.credentials if creds else ""
        if secrets.compare_digest(given.encode(), expected):
            return None
        name = controller.receiver_for_token(given) if given else None
        if name is None:
            raise ApiError(
                401,
                "Thiếu hoặc sai mã truy cập của máy thu. Trên trạm chạy 'broadcaster receiver add TÊN --zone VÙNG', "
                "ghi mã vào tệp trên máy thu và dùng --token-file.",
            )
        return name

    @app.post("/api/receivers/heartbeat", responses=ERRORS, summary="Cụm loa (máy thu) báo tình trạng")
    def receiver_heartbeat(body: Heartbeat, request: Request, receiver: str | None = Depends(sender)) -> dict:
        address = request.client.host if request.client else None
        return controller.receiver_heartbeat(body.model_dump(), address, receiver)


def _bearer_check(expected: bytes, controller: Controller) -> Callable[..., None]:
    """The dependency every other route uses: the state folder's token, compared in constant time.

    A receiver's own token is refused here (403: it is good only for the receiver's heartbeat).
    """
    bearer = HTTPBearer(auto_error=False)

    def authorised(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        given = creds.credentials if creds else ""
        if secrets.compare_digest(given.encode(), expected):
            return
        receiver = controller.receiver_for_token(given) if given else None
        if receiver is not None:
            raise ApiError(
                403,
                f"Mã này là mã riêng của máy thu '{receiver}': chỉ dùng để máy thu báo tình trạng, "
                "không điều khiển được trạm. Dùng lệnh 'broadcaster' trên máy trạm.",
            )
        raise ApiError(
            401, "Thiếu hoặc sai mã truy cập. Dùng lệnh 'broadcaster' trên máy này (mã nằm trong state/api-token)."
        )

    return authorised


def _actor(request: Request) -> Actor:
    """The station token's holder, from where (for the audit trail: ``api 127.0.0.1``)."""
    where = f"api {request.client.host}" if request.client else "api"
    return Actor(name=TOKEN_ACTOR, where=where, role="token")


def _install_error_handlers(app: FastAPI) -> None:
    """Every refusal as ``{"error": "<Vietnamese>"}``; never a bare 500 page."""

    @app.exception_handler(ControlError)
    async def _api_error(_: Request, exc: ControlError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors()[:5]:
            where = ".".join(FIELD_VI.get(str(p), str(p)) for p in e.get("loc", ()) if p != "body") or "nội dung"
            parts.append(f"{where}: {_vi_validation(e)}")
        return JSONResponse({"error": "Yêu cầu không hợp lệ — " + "; ".join(parts)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        messages = {404: "Không có đường dẫn này.", 405: "Phương thức không được hỗ trợ."}
        return JSONResponse({"error": messages.get(exc.status_code, str(exc.detail))}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception):  # pragma: no cover - last line of defence
        log.exception("lỗi API không lường trước")
        # never the exception's text: it may name files of the state folder
        return JSONResponse(
            {"error": "Lỗi nội bộ của phần mềm Loa xã; chi tiết đã ghi vào nhật ký (journalctl -u loa-xa). Thử lại."},
            status_code=500,
        )


FIELD_VI = {
    "text": "nội dung (text)",
    "script": "bài đọc (script)",
    "audio": "tệp âm thanh (audio)",
    "priority": "mức ưu tiên (priority)",
    "repeat": "số lần đọc (repeat)",
    "chime": "nhạc hiệu (chime)",
    "by": "người yêu cầu (by)",
}


def _vi_validation(error: dict) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "string_too_long":
        return f"quá dài (tối đa {ctx.get('max_length')} ký tự)"
    if kind == "extra_forbidden":
        return "trường không được hỗ trợ"
    if kind == "literal_error":
        return "chỉ nhận normal, priority hoặc emergency"
    if kind in ("greater_than_equal", "less_than_equal"):
        return "ngoài khoảng cho phép (1–5)"
    if kind.startswith("int") or kind.startswith("bool") or kind.startswith("string_type"):
        return "sai kiểu dữ liệu"
    if kind == "missing":
        return "thiếu"
    if kind in ("json_invalid", "model_attributes_type", "dict_type"):
        return "không phải JSON hợp lệ"
    return "không hợp lệ"

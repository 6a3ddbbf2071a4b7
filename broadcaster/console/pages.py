"""The console's pages (HTML shells served to allowed roles) and logging in and out.

Each page is ``static/pages/<slug>.html``: a ``<main id="page">`` filled by ``static/<slug>.js``,
which loads ``app.js`` first. This module decides who may open which page (:data:`PAGES`) — the
navigation shown by ``app.js`` comes from the same table via ``/console/api/toi`` — and handles
the login form: passwords checked by the user store (argon2id), every attempt counted by the
throttle *before* its check (per client and name, per client, per name — see
:mod:`broadcaster.console.sessions`), every failure written to the audit trail. An empty name or
password is a failure without any check; when both password slots stay busy for
:data:`LOGIN_SLOT_WAIT` seconds the login is answered 429 without a check (and not counted).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from broadcaster import audit
from broadcaster.console.auth import (
    COOKIE,
    LOGIN_PAGE,
    ConsoleDenied,
    client_of,
    console_state,
    current_login,
    is_https,
    refuse,
    require,
    where_of,
)
from broadcaster.console.sessions import MAX_AGE_SECONDS
from broadcaster.users import BUSY, Role, User, release_password_slot, take_password_slot

STATIC_DIR = Path(__file__).parent / "static"
PAGES_DIR = STATIC_DIR / "pages"
HOME = "/console/tong-quan"
#: how long a login waits for a free password slot before it is refused (429)
LOGIN_SLOT_WAIT = 0.2
BUSY_RETRY_SECONDS = 3


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    roles: tuple[Role, ...] = ()  # empty: every logged-in user

    def allows(self, role: Role) -> bool:
        return not self.roles or role in self.roles


#: every page of the console, in navigation order
PAGES: tuple[Page, ...] = (
    Page("tong-quan", "Tổng quan"),
    Page("phat-ngay", "Phát ngay", (Role.ADMIN, Role.OPERATOR)),
    Page("lich-phat", "Lịch phát"),
    Page("bai-doc", "Bài đọc"),
    Page("nhat-ky", "Nhật ký"),
    Page("duyet", "Duyệt", (Role.ADMIN, Role.APPROVER)),
    Page("nguoi-dung", "Người dùng", (Role.ADMIN,)),
)
PAGE_BY_SLUG = {p.slug: p for p in PAGES}

router = APIRouter()


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field("", max_length=200)
    password: str = Field("", max_length=2000)


def message_page(title: str, message: str, status: int) -> HTMLResponse:
    """A small self-contained page for refusals (wrong role, unknown page)."""
    body = (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{html.escape(title)} — Loa xã</title><link rel="stylesheet" href="/console/static/app.css">'
        f'</head><body><main id="page" class="narrow"><h1>{html.escape(title)}</h1>'
        f'<p class="notice warn">{html.escape(message)}</p>'
        f'<p><a class="button" href="{HOME}">Về trang Tổng quan</a></p></main></body></html>'
    )
    return HTMLResponse(body, status_code=status)


@router.get("/console", include_in_schema=False)
@router.get("/console/", include_in_schema=False)
def console_root(request: Request) -> RedirectResponse:
    """Logged in: the overview; otherwise the login page."""
    return RedirectResponse(HOME if current_login(request) else LOGIN_PAGE, status_code=303)


@router.get("/console/dang-nhap", include_in_schema=False)
def login_page(request: Request) -> Response:
    if current_login(request):
        return RedirectResponse(HOME, status_code=303)
    return FileResponse(PAGES_DIR / "dang-nhap.html", headers={"Cache-Control": "no-store"})


@router.get("/console/{slug}", include_in_schema=False)
def page(slug: str, request: Request) -> Response:
    """A page's HTML shell, only for logged-in users whose role the page allows."""
    spec = PAGE_BY_SLUG.get(slug)
    if spec is None:
        return message_page("Không có trang này", "Đường dẫn không đúng. Hãy chọn trang trong thanh menu.", 404)
    login = current_login(request)
    if login is None:
        raise ConsoleDenied(401, "")
    if not spec.allows(login.user.role):
        raise refuse(
            request,
            login.user,
            403,
            f"Tài khoản '{login.user.name}' ({login.user.role.vi}) không được mở trang {spec.title}. "
            "Hãy nhờ người quản trị nếu bạn cần quyền này.",
            f"vai trò {login.user.role.vi}",
        )
    path = PAGES_DIR / f"{slug}.html"
    if not path.is_file():
        return message_page(spec.title, "Trang này đang được xây dựng. Hãy quay lại sau.", 200)
    return FileResponse(path, headers={"Cache-Control": "no-store"})


def me_payload(user: User, csrf: str) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role.value,
        "role_vi": user.role.vi,
        "csrf": csrf,
        "pages": [{"slug": p.slug, "title": p.title} for p in PAGES if p.allows(user.role)],
    }


@router.get("/console/api/toi", summary="Người đang đăng nhập (bảng điều khiển)")
def me(request: Request, user: User = Depends(require())) -> dict[str, Any]:
    """Who is logged in, their CSRF token and the pages they may open (the navigation)."""
    login = current_login(request)
    assert login is not None  # require() has just checked
    return me_payload(user, login.session.csrf)


@router.post("/console/api/dang-nhap", summary="Đăng nhập bảng điều khiển")
async def login(body: LoginBody, request: Request) -> Response:
    """Check the password; on success set the session cookie. Attempts are throttled, failures audited.

    Async so that a login waiting for a password slot holds no worker thread: the rest of the
    daemon (``/api/status``, the console's pages) keeps its threads during a login flood.
    """
    state = console_state(request)
    client = client_of(request)
    name = body.name.strip().lower()
    wait = state.throttle.reserve(client, name)  # counted as a failure until the check says otherwise
    if wait > 0:
        return _too_many(wait)
    user = None
    if name and body.password:  # an empty one fails without costing an argon2 check
        if not await take_password_slot(LOGIN_SLOT_WAIT):
            state.throttle.cancel(client, name)
            return JSONResponse({"error": BUSY}, status_code=429, headers={"Retry-After": str(BUSY_RETRY_SECONDS)})
        try:
            user = await run_in_threadpool(state.users.authenticate, name, body.password, slot_taken=True)
        finally:
            release_password_slot()
    log, where = state.layout.audit_log, where_of(request)
    if user is None:
        await run_in_threadpool(audit.append, log, who=name[:64] or "?", where=where, action="login_failed")
        return JSONResponse(
            {"error": "Sai tên đăng nhập hoặc mật khẩu (hoặc tài khoản đã bị khoá). Kiểm tra lại rồi thử lần nữa."},
            status_code=401,
        )
    state.throttle.succeeded(client, name)
    sid, session = await run_in_threadpool(state.sessions.create, user.name, client)
    await run_in_threadpool(audit.append, log, who=user.name, where=where, action="login")
    response = JSONResponse(me_payload(user, session.csrf))
    response.set_cookie(
        COOKIE,
        sid,
        max_age=int(MAX_AGE_SECONDS),  # the server also ends it after IDLE_SECONDS without a request
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    return response


@router.post("/console/api/dang-xuat", summary="Đăng xuất")
def logout(request: Request, user: User = Depends(require())) -> Response:
    state = console_state(request)
    state.sessions.delete(request.cookies.get(COOKIE))
    audit.append(state.layout.audit_log, who=user.name, where=where_of(request), action="logout")
    response = JSONResponse({"ok": True, "message": "Đã đăng xuất."})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _too_many(wait: float) -> JSONResponse:
    seconds = max(1, math.ceil(wait))
    pretty = f"{seconds} giây" if seconds < 120 else f"{math.ceil(seconds / 60)} phút"
    return JSONResponse(
        {
            "error": f"Đăng nhập sai quá nhiều lần. Hãy chờ {pretty} rồi thử lại, "
            "hoặc nhờ người quản trị đặt lại mật khẩu."
        },
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )

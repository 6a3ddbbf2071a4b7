"""The console's pages (HTML shells served to allowed roles) and logging in and out.

Each page is ``static/pages/<slug>.html``: a ``<main id="page">`` filled by ``static/<slug>.js``,
which loads ``app.js`` first. This module decides who may open which page (:data:`PAGES`) — the
navigation shown by ``app.js`` comes from the same table via ``/console/api/toi`` — and handles
the login form: passwords checked by the user store (argon2id), failures throttled per client
address and per name, every attempt written to the audit trail.
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

from broadcaster import audit
from broadcaster.console.auth import (
    COOKIE,
    LOGIN_PAGE,
    ConsoleDenied,
    console_state,
    current_login,
    is_https,
    require,
    where_of,
)
from broadcaster.console.sessions import IDLE_SECONDS
from broadcaster.users import Role, User

STATIC_DIR = Path(__file__).parent / "static"
PAGES_DIR = STATIC_DIR / "pages"
HOME = "/console/tong-quan"


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
        raise ConsoleDenied(
            403,
            f"Tài khoản '{login.user.name}' ({login.user.role.vi}) không được mở trang {spec.title}. "
            "Hãy nhờ người quản trị nếu bạn cần quyền này.",
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
def login(body: LoginBody, request: Request) -> Response:
    """Check the password; on success set the session cookie. Failures are throttled and audited."""
    state = console_state(request)
    client = request.client.host if request.client else "?"
    where = where_of(request)
    name = body.name.strip().lower()
    wait = state.throttle.wait(client, name)
    if wait > 0:
        return _too_many(wait)
    user = state.users.authenticate(name, body.password) if name and body.password else None
    if user is None:
        state.throttle.failed(client, name)
        audit.append(state.layout.audit_log, who=name[:64] or "?", where=where, action="login_failed")
        return JSONResponse(
            {"error": "Sai tên đăng nhập hoặc mật khẩu (hoặc tài khoản đã bị khoá). Kiểm tra lại rồi thử lần nữa."},
            status_code=401,
        )
    state.throttle.succeeded(client, name)
    sid, session = state.sessions.create(user.name, client)
    audit.append(state.layout.audit_log, who=user.name, where=where, action="login")
    response = JSONResponse(me_payload(user, session.csrf))
    response.set_cookie(
        COOKIE,
        sid,
        max_age=int(IDLE_SECONDS),
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

"""Who is asking: the console's session cookie, roles and CSRF, checked on the server for every route.

Use :func:`require` as a FastAPI dependency on every console route::

    @router.post("/console/api/thing")
    def thing(user: User = Depends(require(Role.ADMIN, Role.OPERATOR))) -> dict: ...

* no valid session → 401 ``{"error": …}`` for ``/console/api/*``, a redirect to the login page otherwise;
* a role not in ``roles`` (when roles are given) → 403 with a Vietnamese message;
* POST/PUT/PATCH/DELETE also need the header ``X-CSRF-Token`` equal to the session's token (403).

Every 403 is written to the audit trail (``refused``: who, where, the route, why).

The user is read again from the user store on every request, and a session older than the
user's last change (password, role, disabled or enabled — ``updated_at``, whoever made it: the
console or ``broadcaster user``) is refused and deleted, so such a change logs the user out at
their next click, even when the change could not delete the sessions itself.

The client of a request (:func:`client_of`, for the login throttle and the audit trail) is
``request.client``: behind a proxy listed in ``api.trusted_proxies`` the listener's edge
(``daemon/edge.py``) has already put the browser's address there.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from broadcaster import audit
from broadcaster.console.sessions import LoginThrottle, Session, SessionStore
from broadcaster.contract import Actor, Controller
from broadcaster.layout import Layout
from broadcaster.users import Role, User, UserStore

COOKIE = "loa_xa_session"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PAGE = "/console/dang-nhap"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

EXPIRED = "Phiên làm việc hết hạn hoặc trang đã cũ. Hãy tải lại trang (F5) rồi thử lại."
NOT_LOGGED_IN = "Bạn chưa đăng nhập hoặc phiên đã hết hạn. Hãy đăng nhập lại."


class ConsoleDenied(Exception):
    """A refused console request; rendered as JSON for the API, a redirect or page for pages."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ConsoleState:
    """What every console route needs, kept on ``app.state.console``."""

    controller: Controller
    layout: Layout
    users: UserStore
    sessions: SessionStore
    throttle: LoginThrottle = field(default_factory=LoginThrottle)


@dataclass(frozen=True)
class Login:
    """The user of this request with their session (for routes needing the CSRF token or session)."""

    user: User
    session: Session
    session_id: str


def console_state(request: Request) -> ConsoleState:
    """The console's shared state (set by ``mount_console``)."""
    state: ConsoleState = request.app.state.console
    return state


def controller_of(request: Request) -> Controller:
    """The running station, through the control contract only."""
    return console_state(request).controller


def actor_of(request: Request, user: User) -> Actor:
    """The logged-in user as the contract's actor: name, where from, role (and zones, when scoped)."""
    zones = getattr(user, "zones", None)
    return Actor(
        name=user.name,
        where=where_of(request),
        role=str(user.role),
        zones=frozenset(zones) if zones else None,
    )


def client_of(request: Request) -> str:
    """The browser's address (behind a trusted proxy, the one the proxy saw: see daemon/edge.py)."""
    return request.client.host if request.client else "?"


def where_of(request: Request) -> str:
    """Where an action came from, for the audit trail: ``console 127.0.0.1``."""
    client = client_of(request)
    return f"console {client}" if client != "?" else "console"


def current_login(request: Request) -> Login | None:
    """The logged-in, still active user of this request, or None."""
    state = console_state(request)
    sid = request.cookies.get(COOKIE)
    session = state.sessions.get(sid)
    if session is None or sid is None:
        return None
    user = state.users.get(session.user_name)
    if user is None or not user.active:
        return None
    if session.created_at < user.updated_at.timestamp():  # password, role or state changed since the login
        state.sessions.delete(sid)
        return None
    return Login(user=user, session=session, session_id=sid)


def refuse(request: Request, user: User, status: int, message: str, reason: str) -> ConsoleDenied:
    """A refusal of a logged-in user, written to the audit trail first (raise what it returns)."""
    audit.append(
        console_state(request).layout.audit_log,
        who=user.name,
        where=where_of(request),
        action="refused",
        detail={"method": request.method, "path": request.url.path[:200], "reason": reason},
    )
    return ConsoleDenied(status, message)


def role_names(roles: tuple[Role, ...]) -> str:
    return ", ".join(r.vi for r in roles)


def require(*roles: str) -> Callable[[Request], User]:
    """A dependency returning the logged-in User; refuses other roles and unsafe requests without CSRF."""
    allowed = tuple(Role(r) for r in roles)

    def dependency(request: Request) -> User:
        login = current_login(request)
        if login is None:
            raise ConsoleDenied(401, NOT_LOGGED_IN)
        if allowed and login.user.role not in allowed:
            raise refuse(
                request,
                login.user,
                403,
                f"Tài khoản '{login.user.name}' ({login.user.role.vi}) không được làm việc này. "
                f"Chỉ {role_names(allowed)} được phép; hãy nhờ người quản trị nếu cần.",
                f"vai trò {login.user.role.vi}",
            )
        if request.method in UNSAFE_METHODS:
            given = request.headers.get(CSRF_HEADER, "")
            if not secrets.compare_digest(given.encode(), login.session.csrf.encode()):
                raise refuse(request, login.user, 403, EXPIRED, "thiếu hoặc sai mã chống giả mạo (CSRF)")
        return login.user

    return dependency


def is_https(request: Request) -> bool:
    """True when the browser used HTTPS: directly, or through a proxy listed in ``api.trusted_proxies``.

    The listener's edge (``daemon/edge.py``) sets the scheme from X-Forwarded-Proto for those
    proxies only and removes the header from every other peer, so the scheme is all we read.
    """
    return request.url.scheme == "https"

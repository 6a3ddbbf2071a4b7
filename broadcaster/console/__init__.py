"""The operator's web console (Vietnamese), served by the daemon's FastAPI app under ``/console``.

CONTRACT (stable; other console modules rely on it):

* ``mount_console(app, controller)`` — called once by the daemon's composition root
  (``daemon/web.py``), beside the control API; ``controller`` is a
  :class:`broadcaster.contract.Controller`, the only way into the station (no daemon imports).
* ``broadcaster.console.auth.require(*roles)`` — FastAPI dependency returning the logged-in
  ``broadcaster.users.User``; roles are ``Role`` values (``admin``, ``operator``, ``approver``,
  ``viewer``), none = any logged-in user. Not logged in: 401 ``{"error": …}`` under
  ``/console/api/``, a redirect to ``/console/dang-nhap`` for pages. Wrong role: 403 (Vietnamese).
  POST/PUT/PATCH/DELETE also need ``X-CSRF-Token`` = the session's token, else 403 "Phiên làm việc hết hạn…".
  Raise ``auth.ConsoleDenied(status, message)`` for any other refusal: it renders the same way.
* ``auth.controller_of(request)`` → the controller; ``auth.actor_of(request, user)`` → the
  contract's ``Actor`` for every call (who, ``"console <ip>"``, role, zones).
* JSON routes live under ``/console/api/``; pages are ``/console/<slug>`` served by
  ``pages.page`` from ``static/pages/<slug>.html`` for the roles in ``pages.PAGES``.
* A page's HTML contains ``<main id="page">`` and loads ``/console/static/app.js`` then
  ``/console/static/<slug>.js``. ``app.js`` gives ``api(method, url, body)`` (JSON; adds the CSRF
  header; throws an Error whose message is the server's Vietnamese ``error``, already shown in
  the page's message area), ``nav()`` (draws the navigation; called by app.js itself on load),
  ``me()`` (a promise of the logged-in user), ``toast(text, kind)``, ``el(tag, attrs, ...children)``.
* Security: sessions in ``state/sessions.sqlite3`` (SHA-256 of the id only; 8 h idle, 12 h at
  most; survive restarts); cookie ``loa_xa_session`` HttpOnly + SameSite=Strict, ``Secure`` when
  the request is HTTPS — directly, or through a proxy listed in ``api.trusted_proxies`` (the
  listener's edge sets the scheme). The console listens where
  the control API does (loopback unless ``--allow-remote``).
* Load: heavy work (readings, "Nghe thử") goes through ``workers.heavy_work(request)`` (bounded,
  low-priority threads, 429 "đang bận"); live streams are capped per session and in total.
* Errors: a console route never answers with a traceback, an exception's text or a file path.
  An unexpected exception is logged and answered with a generic Vietnamese 500; a state database
  that is locked or broken (``StateError``, ``sqlite3.Error``) with a 503 "thử lại sau giây lát";
  a ``ConsoleDenied`` whose message names an absolute path is logged and answered the same way.
"""

from __future__ import annotations

import inspect
import logging
import re
import sqlite3

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from broadcaster.console import workers
from broadcaster.console.auth import LOGIN_PAGE, ConsoleDenied, ConsoleState
from broadcaster.console.sessions import SessionStore
from broadcaster.contract import Controller
from broadcaster.users import StateError, UserStore

log = logging.getLogger("broadcaster.console")

CONSOLE_PREFIX = "/console"
INTERNAL = (
    "Loa xã gặp lỗi không lường trước khi làm việc này — thử lại sau giây lát; nếu vẫn lỗi, "
    "báo người quản trị xem nhật ký của máy phát (journalctl -u loa-xa)."
)
STATE_BUSY = "Dữ liệu của Loa xã đang bận — thử lại sau giây lát. Nếu vẫn lỗi, báo người quản trị."
#: an absolute file path inside a message (``/home/…/state/x``), never a date (``21/4``) or a URL
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~])/(?:[^\s/'\"]+/)+")


def mount_console(app: FastAPI, controller: Controller) -> None:
    """Add the console's routes, static files and refusal handler to the station's app."""
    from broadcaster.console import announce, approvals, live, logbook, pages, people, schedule_pages

    layout = controller.layout
    app.state.console = ConsoleState(
        controller=controller,
        layout=layout,
        users=UserStore(layout.users_db),
        sessions=SessionStore(layout.sessions_db),
    )
    app.add_exception_handler(ConsoleDenied, _denied)  # type: ignore[arg-type]
    _install_error_handlers(app)
    workers.install(app)
    app.mount("/console/static", StaticFiles(directory=pages.STATIC_DIR), name="console-static")
    for module in (live, announce, logbook, people, approvals):
        app.include_router(module.router)
    app.include_router(schedule_pages.router)
    app.include_router(pages.router)  # last: its /console/{slug} must not shadow other routes


async def _denied(request: Request, exc: ConsoleDenied) -> Response:
    from broadcaster.console.pages import message_page

    status, message = exc.status, exc.message
    if _ABSOLUTE_PATH.search(message):  # e.g. a state database's error passed on as it was
        log.warning("console %s %s refused: %s", request.method, request.url.path, message)
        busy = status >= 500 or "locked" in message or "khoá" in message
        status, message = (503, STATE_BUSY) if busy else (status, INTERNAL)
    if request.url.path.startswith("/console/api/") or request.method != "GET":
        return JSONResponse({"error": message}, status_code=status)
    if status == 401:
        return RedirectResponse(f"{LOGIN_PAGE}?tiep={request.url.path}", status_code=303)
    return message_page("Không có quyền" if status < 500 else "Chưa làm được", message, status)


def _install_error_handlers(app: FastAPI) -> None:
    """Console routes: no exception text, traceback or path ever reaches the browser.

    The handlers are the app's (FastAPI has no per-router ones): a request outside ``/console``
    goes on to the handler that was there before (the control API's), unchanged.
    """
    before = app.exception_handlers.get(Exception)

    async def elsewhere(request: Request, exc: Exception) -> Response:
        if before is None:
            raise exc
        answer = before(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    async def state_busy(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(CONSOLE_PREFIX):
            return await elsewhere(request, exc)
        log.warning("console %s %s: state database unavailable: %s", request.method, request.url.path, exc)
        return _failure(request, 503, STATE_BUSY)

    async def unexpected(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(CONSOLE_PREFIX):
            return await elsewhere(request, exc)
        log.error("console %s %s failed", request.method, request.url.path, exc_info=exc)
        return _failure(request, 500, INTERNAL)

    if app.exception_handlers.get(RequestValidationError) in (None, request_validation_exception_handler):
        app.add_exception_handler(RequestValidationError, _invalid)  # FastAPI's own echoes the input
    app.add_exception_handler(StateError, state_busy)
    app.add_exception_handler(sqlite3.Error, state_busy)
    app.add_exception_handler(Exception, unexpected)


async def _invalid(request: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    fields = sorted({str(e["loc"][-1]) for e in errors[:5] if e.get("loc") and e["loc"][-1] != "body"})
    what = "quá dài" if any(e.get("type") == "string_too_long" for e in errors) else "không hợp lệ"
    where = f" ({', '.join(fields)})" if fields else ""
    message = f"Yêu cầu {what}{where} — tải lại trang (F5) rồi thử lại; nếu vẫn lỗi, báo người quản trị."
    return JSONResponse({"error": message}, status_code=422)


def _failure(request: Request, status: int, message: str) -> Response:
    from broadcaster.console.pages import message_page

    if request.url.path.startswith("/console/api/") or request.method != "GET":
        return JSONResponse({"error": message}, status_code=status, headers={"Retry-After": "2"})
    return message_page("Chưa làm được", message, status)

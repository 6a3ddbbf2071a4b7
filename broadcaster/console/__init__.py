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
* Security: sessions in ``state/sessions.sqlite3`` (SHA-256 of the id only; 8 h idle expiry;
  survive restarts); cookie ``loa_xa_session`` HttpOnly + SameSite=Strict, ``Secure`` when the
  request is HTTPS — directly, or through a reverse proxy's ``X-Forwarded-Proto: https`` only if
  ``LOA_XA_CONSOLE_TRUST_PROXY=1`` is set in the daemon's environment. The console listens where
  the control API does (loopback unless ``--allow-remote``).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from broadcaster.console.auth import LOGIN_PAGE, ConsoleDenied, ConsoleState
from broadcaster.console.sessions import SessionStore
from broadcaster.contract import Controller
from broadcaster.users import UserStore


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
    app.mount("/console/static", StaticFiles(directory=pages.STATIC_DIR), name="console-static")
    for module in (live, announce, logbook, people, approvals):
        app.include_router(module.router)
    app.include_router(schedule_pages.router)
    app.include_router(pages.router)  # last: its /console/{slug} must not shadow other routes


async def _denied(request: Request, exc: ConsoleDenied) -> Response:
    from broadcaster.console.pages import message_page

    if request.url.path.startswith("/console/api/") or request.method != "GET":
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    if exc.status == 401:
        return RedirectResponse(f"{LOGIN_PAGE}?tiep={request.url.path}", status_code=303)
    return message_page("Không có quyền", exc.message, exc.status)

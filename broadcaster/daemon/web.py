"""The control listener's app: the API and the console mounted side by side on one contract.

Neither knows the other: the API (``daemon/api.py``) and the console (``broadcaster.console``)
each take a :class:`~broadcaster.contract.Controller`; only this composition mounts both, and
``/`` leads a person who opens the station's address to the console (its login page when not
logged in).

The console is its own FastAPI app behind one route of the API app (``/console…``, the path
unchanged), so every request still passes the API app's guards (body limit, rate limit) while
the console keeps its own state and refusal handlers. It can be built in the background
(``console_in_background``): its forty routes cost a noticeable part of the daemon's start, and
nothing needs them before someone opens a page — a request that arrives first waits for it.

Around everything, outermost, the edge (``daemon/edge.py``: Host names, trusted proxies, framing
headers), before the rate limit that ``create_app`` adds, so that limit sees the real client.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, NoMatchFound

from broadcaster.contract import Controller
from broadcaster.daemon.api import create_app
from broadcaster.daemon.edge import Edge, EdgeRules

log = logging.getLogger("broadcaster.daemon")

CONSOLE_HOME = "/console/"
CONSOLE_PREFIX = "/console"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def control_app(
    controller: Controller, token: str, *, console_in_background: bool = False, rules: EdgeRules | None = None
) -> FastAPI:
    """API + console for the running station (loopback or LAN); ``rules`` from the schedule's ``api``."""
    app = create_app(controller, token)
    console = ConsoleRoute(controller)
    app.router.routes.append(console)
    if console_in_background:
        threading.Thread(target=console.build, name="console-build", daemon=True).start()
    else:
        console.build()

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(CONSOLE_HOME, status_code=303)

    # Starlette puts the middleware added last outside the others: the edge runs first
    app.add_middleware(Edge, rules=rules or EdgeRules())
    return app


def console_app(controller: Controller) -> FastAPI:
    """The web console as its own app (routes under ``/console``; no API documentation of its own)."""
    from broadcaster.console import mount_console

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {404: "Không có trang hoặc đường dẫn này.", 405: "Phương thức không được hỗ trợ."}
        return JSONResponse({"error": messages.get(exc.status_code, str(exc.detail))}, status_code=exc.status_code)

    mount_console(app, controller)
    return app


class ConsoleRoute(BaseRoute):
    """``/console`` and everything under it, handed whole to the console app (built once)."""

    def __init__(self, controller: Controller) -> None:
        self._controller = controller
        self._app: FastAPI | None = None
        self._lock = threading.Lock()

    def build(self) -> FastAPI:
        """The console app, built on first use (any thread; the others wait for it)."""
        with self._lock:
            if self._app is None:
                self._app = console_app(self._controller)
            return self._app

    @property
    def routes(self) -> list[BaseRoute]:
        """The console's own routes (for tools that list every route of the listener)."""
        return list(self.build().routes)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and (path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app
        if app is None:  # still building in the background: wait off the event loop
            from starlette.concurrency import run_in_threadpool

            app = await run_in_threadpool(self.build)
        await app(scope, receive, send)

"""The control listener's app: the API and the console mounted side by side on one contract.

Neither knows the other: the API (``daemon/api.py``) and the console (``broadcaster.console``)
each take a :class:`~broadcaster.contract.Controller`; only this composition mounts both, and
``/`` leads a person who opens the station's address to the console (its login page when not
logged in).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from broadcaster.console import mount_console
from broadcaster.contract import Controller
from broadcaster.daemon.api import create_app

CONSOLE_HOME = "/console/"


def control_app(controller: Controller, token: str) -> FastAPI:
    """API + console for the running station (loopback or LAN)."""
    app = create_app(controller, token)
    mount_console(app, controller)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(CONSOLE_HOME, status_code=303)

    return app

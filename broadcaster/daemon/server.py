"""The control API's HTTP server (uvicorn in a thread), started and stopped by the daemon."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.daemon import state

if TYPE_CHECKING:
    import uvicorn

    from broadcaster.contract import Controller

log = logging.getLogger("broadcaster.daemon")

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ServerError(Exception):
    """The API cannot listen; ``str()`` says why and what to do (Vietnamese)."""


class ApiServer:
    """uvicorn serving the control listener (API and console) on its own thread."""

    def __init__(self, controller: Controller, state_dir: Path, host: str, port: int, *, allow_remote: bool) -> None:
        if host not in LOOPBACK and not allow_remote:
            raise ServerError(
                f"API điều khiển chỉ được mở trên máy này (127.0.0.1), không phải '{host}'. "
                "Nếu thật sự cần, chạy lại với --allow-remote (không khuyến khích)."
            )
        if host not in LOOPBACK:
            log.warning("CẢNH BÁO: API điều khiển mở trên %s — máy khác trong mạng có thể gửi lệnh nếu có mã.", host)
        self.controller, self.state_dir, self.host, self.port = controller, state_dir, host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Listen; return the bound port (``port: 0`` picks a free one)."""
        import uvicorn

        from broadcaster.daemon.web import control_app

        state_dir = self.state_dir
        token = state.ensure_token(state_dir)
        config = uvicorn.Config(
            control_app(self.controller, token, console_in_background=True),
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        server = self._server = uvicorn.Server(config)
        thread = self._thread = threading.Thread(target=server.run, name="api", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise ServerError(
                    f"Không mở được API điều khiển ở {self.host}:{self.port} (cổng đang bị chương trình khác "
                    "dùng?). Đổi 'api: port:' trong schedule.yaml hoặc dùng --port."
                )
            time.sleep(0.01)
        port: int = server.servers[0].sockets[0].getsockname()[1]
        state.write_daemon_info(state_dir, self.host, port)
        log.info("API điều khiển: http://%s:%d (mã truy cập trong %s)", self.host, port, state_dir / state.TOKEN_FILE)
        return port

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        state.clear_daemon_info(self.state_dir)

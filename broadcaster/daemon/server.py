"""The control API's HTTP server (uvicorn in a thread), started and stopped by the daemon.

Playout must never depend on how many sockets the listener holds. At start the soft limit of
open files is raised to the hard one, and the listener may hold at most :func:`connection_cap`
connections — far below that limit, leaving :data:`RESERVED_FDS` for playout, SQLite, the sound
card, Icecast sources and speech — with a bounded time to send a request
(``daemon/listener.py``). uvicorn logs through the station's handler, where a line repeated
over and over is held back (``broadcaster/logfilter.py``).
"""

from __future__ import annotations

import logging
import resource
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
#: open files kept for everything but the listener's sockets
RESERVED_FDS = 256
#: at most this many listener connections, whatever the limit (a commune station needs a few dozen)
MAX_CONNECTIONS = 256
#: the kernel's queue of connections not yet accepted, and how many asyncio accepts in one go
BACKLOG = 64
KEEP_ALIVE_S = 5
MAX_HEADER_BYTES = 16 * 1024


def raise_fd_limit() -> int:
    """Raise the soft limit of open files to the hard one (systemd gives services 1024); the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            log.warning("Không nâng được giới hạn số tệp mở (%d); đặt LimitNOFILE= trong tệp dịch vụ systemd.", soft)
    return int(soft) if soft != resource.RLIM_INFINITY else 1 << 20


def connection_cap(fd_limit: int) -> int:
    """How many connections the listener may hold under ``fd_limit`` open files.

    Half of what is left after the reserve, at most MAX_CONNECTIONS: asyncio may have up to three
    batches of BACKLOG sockets accepted or closing beyond the cap at any moment.
    """
    return max(8, min(MAX_CONNECTIONS, (fd_limit - RESERVED_FDS - 3 * BACKLOG) // 2))


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

        state_dir = self.state_dir
        token = state.ensure_token(state_dir)
        server = self._server = uvicorn.Server(self._config(token))
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

    def _config(self, token: str) -> uvicorn.Config:
        import uvicorn

        from broadcaster import logfilter
        from broadcaster.daemon.edge import EdgeRules
        from broadcaster.daemon.listener import Gate, protocol_class
        from broadcaster.daemon.web import control_app

        logfilter.install()  # uvicorn and asyncio log through the station's handler (log_config=None)
        api = self.controller.schedule.current.api
        rules = EdgeRules.of(self.host, api.trusted_proxies, api.allowed_hosts)
        cap = connection_cap(raise_fd_limit())
        return uvicorn.Config(
            control_app(self.controller, token, console_in_background=True, rules=rules),
            host=self.host,
            port=self.port,
            http=protocol_class(Gate(cap)),
            # a backstop only: the gate keeps connections at the cap; uvicorn's count also holds closing ones
            limit_concurrency=2 * cap,
            backlog=BACKLOG,
            timeout_keep_alive=KEEP_ALIVE_S,
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            proxy_headers=False,  # X-Forwarded-* only from api.trusted_proxies, by the edge (daemon/edge.py)
            log_config=None,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        state.clear_daemon_info(self.state_dir)

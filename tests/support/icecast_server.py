"""A real, private Icecast server on loopback for tests and benchmarks.

``IcecastServer`` writes its config with the project's own generator
(:func:`broadcaster.zones.server.icecast_config`) into a temp folder, runs Debian's ``icecast2``
on 127.0.0.1 at a free port and stops it by PID. ``kill()`` simulates a crash; ``start()``
again brings it back on the same port.

Usage::

    with IcecastServer(mounts=["thon-dong"]) as ice:
        url = ice.url("thon-dong")           # http://127.0.0.1:PORT/thon-dong
        ... stream to it with ice.source_password ...
        assert ice.listeners("thon-dong") == 1

As root, icecast2 drops to the ``icecast2`` user (``<changeowner>``), which clears the kernel's
parent-death signal; so a small keeper process kills the server if the test process dies.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import weakref
import xml.etree.ElementTree as ET
from pathlib import Path

from broadcaster.zones.server import ICECAST_USER, RelayMaster, icecast_config, mount_path, prepare_dirs

ADMIN_USER = "admin"
START_TIMEOUT_S = 10.0

_live: weakref.WeakSet[IcecastServer] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_live):
        server.close()


def icecast_available() -> str | None:
    """Why a private icecast2 cannot run here, or None when it can."""
    if shutil.which("icecast2") is None:
        return "'icecast2' is not installed (apt-get install icecast2)"
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam(ICECAST_USER)
        except KeyError:
            return f"running as root but there is no '{ICECAST_USER}' user to drop to (reinstall icecast2)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class IcecastServer:
    """A private icecast2 on 127.0.0.1 (free port, temp dir); a context manager."""

    def __init__(
        self,
        *,
        source_password: str = "hackme-test",
        burst_size: int = 0,
        mounts: list[str] | None = None,
        relay_password: str | None = None,
        relay_master: RelayMaster | None = None,
    ) -> None:
        self.source_password = source_password
        self.relay_password = relay_password  # lets other servers relay this one (as district servers)
        self.relay_master = relay_master  # this server relays every mount of that one
        self.admin_password = "admin-" + os.urandom(6).hex()
        self.burst_size = burst_size
        self.mounts = list(mounts or [])
        self.port = _free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="loa-icecast-"))
        self._dir.chmod(0o755)  # icecast2 (after dropping root) must reach its log dir inside
        self.log_dir = self._dir / "log"
        self.pid_file = self._dir / "run" / "icecast.pid"
        self.config_path = self._dir / "icecast.xml"
        self.stdout_path = self._dir / "stdout.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._keeper: subprocess.Popen[bytes] | None = None
        _live.add(self)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> IcecastServer:
        """Start icecast2; return once its port answers (raises with the log tail if it does not)."""
        if self.running:
            return self
        run_as_root = os.geteuid() == 0
        prepare_dirs(self.log_dir, self.pid_file, run_as_root)
        self.config_path.write_text(
            icecast_config(
                port=self.port,
                source_password=self.source_password,
                admin_password=self.admin_password,
                mounts=self.mounts,
                log_dir=self.log_dir,
                pid_file=self.pid_file,
                burst_size=self.burst_size,
                run_as_root=run_as_root,
                relay_password=self.relay_password,
                relay_master=self.relay_master,
            ),
            encoding="utf-8",
        )
        with open(self.stdout_path, "ab") as out:
            self._proc = subprocess.Popen(
                ["icecast2", "-c", str(self.config_path)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._start_keeper(self._proc.pid)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"icecast2 exited with {self._proc.returncode}:\n{self.log_tail()}")
            if self._answers():
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"icecast2 did not answer on port {self.port} in {START_TIMEOUT_S} s:\n{self.log_tail()}")

    def _start_keeper(self, pid: int) -> None:
        """A shell loop that SIGKILLs icecast2 once this process is gone (pdeathsig does not survive setuid)."""
        alive = f"kill -0 {os.getpid()} 2>/dev/null && kill -0 {pid} 2>/dev/null"
        script = f"while {alive}; do sleep 1; done; kill -9 {pid}"
        self._keeper = subprocess.Popen(
            ["sh", "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    @property
    def pid(self) -> int | None:
        """The running server's PID, None when it is not running."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def kill(self) -> None:
        """SIGKILL the server by PID (a crash); ``start()`` brings it back on the same port."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        keeper, self._keeper = self._keeper, None
        if keeper is not None and keeper.poll() is None:
            os.kill(keeper.pid, signal.SIGKILL)
            keeper.wait(timeout=5)

    def close(self) -> None:
        """Stop the server and remove its temp folder."""
        self.kill()
        shutil.rmtree(self._dir, ignore_errors=True)
        _live.discard(self)

    def __enter__(self) -> IcecastServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what clients need -------------------------------------------------------------------
    def url(self, mount: str) -> str:
        """``http://127.0.0.1:PORT/mount`` (no credentials)."""
        return f"http://127.0.0.1:{self.port}{mount_path(mount)}"

    def admin(self, path: str, timeout: float = 3.0) -> bytes:
        """GET an admin page (``/admin/stats`` …) with the admin credentials."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        token = base64.b64encode(f"{ADMIN_USER}:{self.admin_password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return bytes(resp.read())

    def listeners(self, mount: str) -> int:
        """Listeners on ``mount`` now, from the admin stats (0 when the mount has no source)."""
        root = ET.fromstring(self.admin("/admin/stats"))
        for source in root.iter("source"):
            if source.get("mount") == mount_path(mount):
                return int(source.findtext("listeners") or 0)
        return 0

    def sources(self) -> list[str]:
        """Mounts that have a source connected now."""
        root = ET.fromstring(self.admin("/admin/stats"))
        return [str(s.get("mount")) for s in root.iter("source")]

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of icecast's error log and stdout (for failure messages)."""
        parts = []
        for path in (self.log_dir / "error.log", self.stdout_path):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            parts.append(f"--- {path.name}\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts) or "(no icecast log)"

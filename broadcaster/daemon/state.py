"""Files the daemon keeps in the state directory, shared with the CLI.

* ``api-token`` — bearer token for the control API, mode 0600, created on first start.
* ``daemon.json`` — where the running daemon listens (host, port, pid); removed on clean stop.
* ``alive`` — last heartbeat time, so a restart knows which broadcasts passed while it was down.

Everything here is the owner's only: :func:`private_files` (at daemon start) sets the umask to
0077 — so every file the daemon makes (SQLite databases and their -wal/-shm, alerts.json,
uploads, the audit files) is 0600 and every folder 0700 — tightens a ``state/`` and
``audio/uploads/`` left wider by an older release or a CLI run, and sweeps stale upload pieces.

Only the standard library here: the CLI imports this on its fast path.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
import time
from pathlib import Path

from broadcaster.fsutil import atomic_file
from broadcaster.layout import ALIVE_FILE, DAEMON_FILE, TOKEN_FILE, Layout  # noqa: F401 - one spelling of the names
from broadcaster.uploads import sweep_parts

log = logging.getLogger("broadcaster.daemon")
PRIVATE_UMASK = 0o077
MAX_TIGHTENED = 100_000  # files and folders looked at under one folder (a bound, not a limit anyone meets)


def _tighten(folder: Path) -> list[str]:
    """chmod go-rwx the folder and everything below it (links are left alone); what was changed."""
    if folder.is_symlink() or not folder.is_dir():
        return []
    changed: list[str] = []
    seen = 0
    for here, dirs, files in os.walk(folder):  # never into a linked folder
        for name in [""] + dirs + files:
            seen += 1
            path = os.path.join(here, name) if name else here
            try:
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
                    continue
                os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
                changed.append(os.path.relpath(path, folder.parent))
            except OSError as exc:
                log.warning("Không khoá được quyền của '%s' (%s): hãy chạy 'chmod go-rwx %s'.", path, exc, path)
        if seen > MAX_TIGHTENED:
            break
    return changed


def private_files(schedule_path: Path) -> None:
    """At daemon start: umask 0077, ``state/`` and ``audio/uploads/`` the owner's only, stale pieces swept."""
    os.umask(PRIVATE_UMASK)
    layout = Layout.locate(Path(schedule_path))
    changed = _tighten(layout.state_dir) + _tighten(layout.uploads_dir)
    if changed:
        log.warning(
            "Đã khoá quyền %d tệp/thư mục để chỉ chủ sở hữu đọc được (trước đó người khác trên máy đọc được): %s%s",
            len(changed),
            ", ".join(changed[:8]),
            "…" if len(changed) > 8 else "",
        )
    for name in sweep_parts(layout.uploads_dir):
        log.info("Đã xoá phần tải lên dở dang cũ: %s", layout.uploads_dir / name)


def _atomic_write(path: Path, text: str, mode: int = 0o600) -> None:
    with atomic_file(path, "w", perms=mode) as fh:
        fh.write(text)


def ensure_token(state_dir: Path) -> str:
    """Return the API token, creating it (mode 0600) on first use."""
    path = state_dir / TOKEN_FILE
    if path.exists():
        token = path.read_text().strip()
        if token:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
            return token
    token = secrets.token_urlsafe(32)
    _atomic_write(path, token + "\n", 0o600)
    return token


def read_token(state_dir: Path) -> str | None:
    try:
        return (state_dir / TOKEN_FILE).read_text().strip() or None
    except OSError:
        return None


def write_daemon_info(state_dir: Path, host: str, port: int) -> None:
    _atomic_write(state_dir / DAEMON_FILE, json.dumps({"host": host, "port": port, "pid": os.getpid()}))


def read_daemon_info(state_dir: Path) -> dict | None:
    try:
        return json.loads((state_dir / DAEMON_FILE).read_text())
    except (OSError, ValueError):
        return None


def clear_daemon_info(state_dir: Path) -> None:
    try:
        info = read_daemon_info(state_dir)
        if info and info.get("pid") == os.getpid():
            (state_dir / DAEMON_FILE).unlink()
    except OSError:
        pass


def touch_alive(state_dir: Path, now: float | None = None) -> None:
    _atomic_write(state_dir / ALIVE_FILE, f"{now if now is not None else time.time():.3f}\n")


def last_alive(state_dir: Path) -> float | None:
    try:
        return float((state_dir / ALIVE_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


OUTPUTS_FILE = "outputs.json"


def write_outputs(state_dir: Path, zones: list[str | None]) -> None:
    """The zones this daemon plays to ("" for a zoneless station's one output), for the next catch-up."""
    _atomic_write(state_dir / OUTPUTS_FILE, json.dumps(sorted(z or "" for z in zones), ensure_ascii=False) + "\n")


def read_outputs(state_dir: Path) -> set[str] | None:
    """The zones the previous daemon played to, or None when it did not say (an older release)."""
    try:
        value = json.loads((state_dir / OUTPUTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {str(z) for z in value} if isinstance(value, list) else None

"""One station per state folder, one station per sound card: a second ``broadcaster run`` is refused.

Two daemons on one station would both fire every slot (it airs twice, over itself) and the
second one's start would mark the first one's broadcast on air as interrupted; two daemons on
one sound card play over each other. Each holds an exclusive ``flock`` for its lifetime: the
kernel releases it when the process ends, however it ends (a SIGKILL or a power cut leaves no
stale lock to clean up by hand).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from broadcaster import fmt

STATION_LOCK = "daemon.lock"
#: what tells one sound server from another on the same machine
SOUND_SERVER_ENV = ("PULSE_SERVER", "PULSE_RUNTIME_PATH", "PIPEWIRE_REMOTE", "XDG_RUNTIME_DIR")


class AlreadyRunning(Exception):
    """Another daemon holds the lock; the message (Vietnamese) says which and what to do."""


def hold_station(stack: ExitStack, state_dir: Path) -> None:
    """Lock the station's state folder for this process (released when ``stack`` closes or we exit)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    holder = _lock(stack, state_dir / STATION_LOCK, {"state": str(state_dir)})
    if holder is not None:
        raise AlreadyRunning(
            f"Loa xã ĐANG CHẠY cho đài này rồi ({_who(holder)}, thư mục {state_dir}): không chạy thêm lần nữa, "
            "nếu không mỗi bản tin sẽ phát hai lần chồng lên nhau. Xem 'broadcaster status'; muốn chạy lại "
            "thì dừng tiến trình cũ trước ('sudo systemctl stop loa-xa' hoặc Ctrl+C ở cửa sổ đang chạy)."
        )


def hold_cards(stack: ExitStack, players: Iterable[Any], state_dir: Path) -> None:
    """Lock every sound card this station plays on, machine-wide (per sound server)."""
    for player in players:
        out = player.sink.describe()
        if out.get("kind") != "sounddevice" or out.get("index") is None:
            continue  # a practice output, a stream, or a card not found yet: nothing to share
        card = str(out.get("name") or out.get("device"))
        # the same card name on another sound server (PulseAudio/PipeWire instance) is another card
        server = "|".join(os.environ.get(k, "") for k in SOUND_SERVER_ENV)
        digest = hashlib.sha256(f"{server}|{card}".encode()).hexdigest()[:16]
        holder = _lock(stack, _card_dir() / f"card-{digest}.lock", {"card": card, "state": str(state_dir)})
        if holder is not None:
            raise AlreadyRunning(
                f"Card âm thanh '{card}' đang được một Loa xã khác dùng ({_who(holder)}, đài {holder.get('state')}): "
                "hai đài phát chung một card sẽ phát chồng lên nhau. Dừng đài kia trước, hoặc chọn card khác "
                "bằng 'output: device:' trong lịch hoặc --output ('broadcaster devices' liệt kê các card)."
            )


def _card_dir() -> Path:
    """Where card locks live: shared by every process of this user that talks to the same sound server."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime and os.path.isdir(runtime) else Path(tempfile.gettempdir())
    folder = base / "loa-xa"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _lock(stack: ExitStack, path: Path, info: dict[str, Any]) -> dict[str, Any] | None:
    """Take ``path``'s lock and write who holds it; None when taken, else what the holder wrote."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read(fd)
        os.close(fd)
        return holder
    stack.callback(os.close, fd)  # closing the descriptor releases the lock
    text = json.dumps({**info, "pid": os.getpid(), "since": time.time()}, ensure_ascii=False)
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode(), 0)
    return None


def _read(fd: int) -> dict[str, Any]:
    try:
        value = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _who(holder: dict[str, Any]) -> str:
    pid = holder.get("pid")
    since = holder.get("since")
    when = f", từ {fmt.station_time(float(since)).strftime('%H:%M %d/%m/%Y')}" if isinstance(since, int | float) else ""
    return f"tiến trình {pid}{when}" if pid else "một tiến trình khác"

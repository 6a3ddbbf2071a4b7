"""The receiver boxes a station has registered, each with its own token (``state/receivers.json``).

A receiver's token is good only for its own heartbeat, for its own name and its own zone's
mount (checked by the daemon, ``daemon/receiving.py``): a stolen box cannot speak for the
station. The file is 0600 and keeps only a SHA-256 of each token; the token itself is shown
once, by ``broadcaster receiver add``. The daemon reads the file again whenever it changes, so
adding or removing a receiver needs no restart.

Also here: :func:`read_token_file`, how ``broadcaster receive --token-file`` reads the token on
the box. Standard library only (``broadcaster receive`` and the CLI's fast path use it).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from broadcaster.fsutil import atomic_file

#: receivers a station may register (a commune has tens of clusters)
MAX_RECEIVERS = 200
#: a receiver's name: what ``broadcaster receive --name`` sends (a host name fits)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
#: every receiver token starts so (an operator tells it from the station's token at a glance)
TOKEN_PREFIX = "loa-rx-"
ADD_HINT = "broadcaster receiver add TÊN --zone VÙNG"
_UNSEEN = (-1, -1, -1)  # a file signature no file has: read again
Signature = tuple[int, int, int]  # inode, mtime, size: a rename over the file is always seen


class ReceiverStoreError(ValueError):
    """A refused change or an unreadable file; ``str()`` is Vietnamese and says what to do."""


@dataclass(frozen=True)
class Registered:
    """One registered receiver: its name, its zone and the SHA-256 of its token."""

    name: str
    zone: str
    token_sha256: str
    added_at: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> str:
    name = name.strip()
    if not NAME.match(name):
        raise ReceiverStoreError(
            f"Tên máy thu '{name}' không dùng được: chỉ chữ không dấu, số, '.', '_' và '-', "
            "tối đa 80 ký tự, không dấu cách (ví dụ: cum-loa-thon-dong)."
        )
    return name


class ReceiverStore:
    """``state/receivers.json``: read (cached until the file changes) by the daemon, written by the CLI."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: Signature | None = _UNSEEN
        self._receivers: tuple[Registered, ...] = ()
        self._by_hash: dict[str, Registered] = {}
        self._problem: str | None = None

    # -- reading (the daemon, any thread) -------------------------------------------------------
    def all(self) -> tuple[Registered, ...]:
        """Every registered receiver; raises :class:`ReceiverStoreError` when the file is unreadable."""
        self._refresh()
        if self._problem:
            raise ReceiverStoreError(self._problem)
        return self._receivers

    def in_use(self) -> bool:
        """Whether receivers are registered (an unreadable file counts: the station token stays refused)."""
        self._refresh()
        return bool(self._problem or self._receivers)

    def by_token(self, token: str) -> Registered | None:
        """The receiver whose own token ``token`` is (None when none, or the file cannot be read)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        self._refresh()
        wanted = token_hash(token)
        found = self._by_hash.get(wanted)
        if found is None or not secrets.compare_digest(found.token_sha256, wanted):
            return None
        return found

    def get(self, name: str) -> Registered | None:
        return next((r for r in self.all() if r.name == name), None)

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
            signature: Signature | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            signature = None
        except OSError as exc:
            self._set((), f"Không đọc được '{self.path}': {exc.strerror}.", _UNSEEN)
            return
        with self._lock:
            if signature == self._seen:
                return
        if signature is None:
            self._set((), None, None)
            return
        try:
            self._set(self._read(), None, signature)
        except ReceiverStoreError as exc:
            self._set((), str(exc), signature)

    def _set(
        self, receivers: tuple[Registered, ...], problem: str | None, signature: tuple[int, int, int] | None
    ) -> None:
        with self._lock:
            self._receivers, self._problem, self._seen = receivers, problem, signature
            self._by_hash = {r.token_sha256: r for r in receivers}

    def _read(self) -> tuple[Registered, ...]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            rows = data["receivers"]
            return tuple(
                Registered(str(r["name"]), str(r["zone"]), str(r["token_sha256"]), str(r.get("added_at") or ""))
                for r in rows[:MAX_RECEIVERS]
            )
        except FileNotFoundError:
            return ()
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise ReceiverStoreError(
                f"Tệp máy thu '{self.path}' bị hỏng hoặc không đọc được ({exc}). Không máy thu nào báo về được "
                f"cho tới khi sửa: xoá tệp rồi cấp lại mã cho từng máy thu ({ADD_HINT})."
            ) from None

    # -- writing (``broadcaster receiver``) ------------------------------------------------------
    def add(self, name: str, zone: str) -> tuple[Registered, str]:
        """Register ``name`` for ``zone``; returns it and its new token (shown once, never stored)."""
        name = check_name(name)
        with self._writing() as receivers:
            if any(r.name == name for r in receivers):
                raise ReceiverStoreError(
                    f"Đã có máy thu '{name}'. Muốn cấp mã mới: broadcaster receiver remove {name}, rồi thêm lại."
                )
            if len(receivers) >= MAX_RECEIVERS:
                raise ReceiverStoreError(
                    f"Trạm đã có {MAX_RECEIVERS} máy thu, không thêm được nữa. Xoá máy thu không dùng: "
                    "broadcaster receiver remove TÊN."
                )
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            added = Registered(name, zone, token_hash(token), datetime.now(UTC).isoformat(timespec="seconds"))
            receivers.append(added)
        return added, token

    def remove(self, name: str) -> Registered:
        with self._writing() as receivers:
            gone = next((r for r in receivers if r.name == name), None)
            if gone is None:
                raise ReceiverStoreError(f"Không có máy thu '{name}'. Xem danh sách: broadcaster receiver list")
            receivers.remove(gone)
        return gone

    @contextmanager
    def _writing(self) -> Iterator[list[Registered]]:
        """The list to change, under a lock; written whole (0600, then renamed) when the block succeeds."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            receivers = list(self._read())
            yield receivers
            body = {"version": 1, "receivers": [asdict(r) for r in receivers]}
            with atomic_file(self.path, "w", perms=0o600, encoding="utf-8") as f:
                json.dump(body, f, ensure_ascii=False, indent=1)
                f.write("\n")
        finally:
            os.close(fd)


def read_token_file(path: Path) -> str:
    """The token in a 0600 file (its first line); :class:`ReceiverStoreError` says what is wrong."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ReceiverStoreError(
            f"Không có tệp mã truy cập '{path}'. Trên máy trạm chạy '{ADD_HINT}', ghi mã được in ra vào tệp "
            f"này rồi chạy: chmod 600 {path}"
        ) from None
    except OSError as exc:
        raise ReceiverStoreError(f"Không đọc được tệp mã truy cập '{path}' ({exc.strerror}).") from None
    if not stat.S_ISREG(st.st_mode):
        raise ReceiverStoreError(f"'{path}' không phải một tệp: --token-file cần tệp chứa mã truy cập.")
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ReceiverStoreError(
            f"Tệp mã truy cập '{path}' đang cho người khác đọc được (quyền {stat.filemode(st.st_mode)}). "
            f"Hãy chạy: chmod 600 {path}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "không phải văn bản"
        raise ReceiverStoreError(
            f"Không đọc được tệp mã truy cập '{path}' ({why}): chạy máy thu bằng tài khoản sở hữu tệp."
        ) from None
    token = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not token:
        raise ReceiverStoreError(
            f"Tệp mã truy cập '{path}' đang trống: ghi vào đó mã in ra bởi '{ADD_HINT}' trên máy trạm."
        )
    return token

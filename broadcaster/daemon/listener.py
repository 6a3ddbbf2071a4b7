"""The control listener's connections: how many may be open, and how long one may take to ask.

uvicorn alone accepts every connection and waits for a request's headers for ever, so a few
hundred slow clients hold every file descriptor the process has — and then playout cannot
open the files it writes (an attack review took a station off air that way). uvicorn's own
``limit_concurrency`` does not help: it answers 503 only once a request has fully arrived.

:class:`Gate` counts one server's open connections, and :func:`protocol_class` gives uvicorn an
h11 protocol that keeps to it:

* a connection must deliver its request headers within ``header_timeout_s`` of opening (or of
  its previous response), and a request body within ``body_timeout_s`` of its headers; else it
  is closed;
* at the cap, a new connection makes room by closing the one that has waited longest without
  a request — a slow client — so a client that sends its request at once (the operator, the
  console, a receiver) is served however many slow ones there are, even from the same address;
* when every open connection is busy with a request, a new one is answered 503 and closed.

Everything here runs on the listener's event loop thread (no locks). This module imports
uvicorn: the server imports it only when it starts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("broadcaster.daemon")

HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 60.0
REPORT_EVERY_S = 60.0
_BUSY_TEXT = "Trạm đang bận: quá nhiều kết nối cùng lúc. Chờ vài giây rồi thử lại.".encode()
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"retry-after: 5\r\ncontent-length: " + str(len(_BUSY_TEXT)).encode() + b"\r\n\r\n" + _BUSY_TEXT
)


@dataclass
class Gate:
    """The open connections of one listener and the ones among them waiting for a request."""

    cap: int
    header_timeout_s: float = HEADER_TIMEOUT_S
    body_timeout_s: float = BODY_TIMEOUT_S
    clock: Any = time.monotonic
    open: set[Any] = field(default_factory=set)
    #: waiting for a request (just opened, or idle after a response), oldest first
    waiting: dict[Any, None] = field(default_factory=dict)
    closed_slow: int = 0
    refused: int = 0
    _reported_at: float = float("-inf")

    def admit(self, conn: Any) -> bool:
        """Count a new connection, making room if needed; False when every open one is busy."""
        if len(self.open) >= self.cap:
            if not self.waiting:
                self.refused += 1
                self.report()
                return False
            oldest = next(iter(self.waiting))
            self.close_slow(oldest)
        self.open.add(conn)
        return True

    def close_slow(self, conn: Any) -> None:
        self.forget(conn)
        self.closed_slow += 1
        conn.transport.close()
        self.report()

    def forget(self, conn: Any) -> None:
        self.open.discard(conn)
        self.waiting.pop(conn, None)

    def report(self) -> None:
        """One warning a minute at most, with what was closed or refused since the last one."""
        now = self.clock()
        if now - self._reported_at < REPORT_EVERY_S:
            return
        self._reported_at = now
        log.warning(
            "API điều khiển: đã đóng %d kết nối chậm (không gửi xong yêu cầu) và từ chối %d kết nối mới "
            "(giới hạn %d kết nối). Có thể một chương trình đang mở rất nhiều kết nối tới trạm; phát thanh "
            "không bị ảnh hưởng. Nếu kéo dài, tìm máy đó trong mạng và tắt nó.",
            self.closed_slow,
            self.refused,
            self.cap,
        )
        self.closed_slow = self.refused = 0


class GatedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol under a :class:`Gate` (one subclass per server: :func:`protocol_class`)."""

    gate: ClassVar[Gate]
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.gate.admit(self):
            transport.write(BUSY_RESPONSE)
            transport.close()
            return
        self._await_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self.gate.forget(self)
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        super().data_received(data)
        self._after_events(cycle)

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()  # may go on to a pipelined request
        if self.cycle is cycle and not self.transport.is_closing():
            self._await_request()
        else:
            self._after_events(cycle)

    def _await_request(self) -> None:
        """From now on waiting for a request's headers: evictable, and on the header clock."""
        gate = self.gate
        if self in gate.open:
            gate.waiting.pop(self, None)
            gate.waiting[self] = None  # newest last
            self._arm(gate.header_timeout_s)

    def _after_events(self, before: Any) -> None:
        if self.cycle is before or self not in self.gate.open:
            return
        self.gate.waiting.pop(self, None)  # a request arrived: busy, not evictable
        if self.conn.their_state is h11.SEND_BODY:
            self._arm(self.gate.body_timeout_s)
        else:
            self._disarm()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self not in self.gate.open:
            return
        if self in self.gate.waiting or self.conn.their_state is h11.SEND_BODY:
            self.gate.close_slow(self)


def protocol_class(gate: Gate) -> type[GatedH11Protocol]:
    """An h11 protocol class for uvicorn's ``Config(http=...)``, keeping to ``gate``."""
    return type("GatedH11Protocol", (GatedH11Protocol,), {"gate": gate})

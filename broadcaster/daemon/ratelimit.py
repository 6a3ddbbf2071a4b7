"""Per-client rate limits for the control API, so a runaway script cannot starve playout.

Token buckets keyed by (client address, kind of request). Kinds are counted apart so that a
script hammering ``/api/status`` or sending requests without the token never uses up what the
operator's ``say``/``stop`` needs:

* ``read``  — authorised GETs (status pages poll these);
* ``write`` — authorised POST/DELETE (say, play, stop, cancel);
* ``console`` — requests carrying the web console's session cookie (pages, live status, actions;
  each route still checks the session itself — the cookie only picks the bucket);
* ``anon``  — anything without the right token (small: nothing legitimate sends these).

The check runs in a pure ASGI middleware before routing, parsing or authentication, so a
refused request costs microseconds. Refusals answer 429 in Vietnamese with ``Retry-After``.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

#: (sustained requests per second, burst) per client and kind
DEFAULT_RATES: dict[str, tuple[float, float]] = {
    "read": (50.0, 100.0),
    "write": (10.0, 30.0),
    "console": (20.0, 120.0),
    "anon": (5.0, 20.0),
}
CONSOLE_COOKIE = b"loa_xa_session="  # the console's session cookie (broadcaster.console.auth.COOKIE)
_MAX_CLIENTS = 4096  # bound the table: a flood from many addresses cannot grow memory without end


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimit:
    """Token buckets; :meth:`take` says how long to wait (0 = allowed)."""

    rates: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_RATES))
    token: bytes | None = None  # the API token, to tell authorised requests from others
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    refused: int = 0

    def take(self, client: str, kind: str) -> float:
        """0.0 when a request may pass now, else the seconds until one may."""
        rate, burst = self.rates[kind]
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get((client, kind))
            if bucket is None:
                if len(self._buckets) >= _MAX_CLIENTS:
                    self._buckets.clear()
                bucket = self._buckets[(client, kind)] = _Bucket(burst, now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            self.refused += 1
            return (1.0 - bucket.tokens) / rate

    def kind_of(self, scope: Scope) -> str:
        authorised = False
        if self.token is not None:
            for name, value in scope.get("headers", ()):
                if name == b"authorization":
                    authorised = secrets.compare_digest(value, b"Bearer " + self.token)
                    break
        if not authorised:
            cookies = b"".join(v for n, v in scope.get("headers", ()) if n == b"cookie")
            return "console" if CONSOLE_COOKIE in cookies else "anon"
        return "read" if scope.get("method") in ("GET", "HEAD") else "write"

    class Middleware:
        def __init__(self, app: ASGIApp, limit: RateLimit) -> None:
            self.app = app
            self.limit = limit

        async def __call__(
            self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
        ) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            client = (scope.get("client") or ("?", 0))[0]
            wait = self.limit.take(client, self.limit.kind_of(scope))
            if wait <= 0:
                await self.app(scope, receive, send)
                return
            seconds = max(1, math.ceil(wait))
            response = JSONResponse(
                {
                    "error": f"Quá nhiều yêu cầu từ {client} trong thời gian ngắn: chờ {seconds} giây rồi thử lại. "
                    "Nếu một chương trình đang gửi liên tục, hãy dừng nó."
                },
                status_code=429,
                headers={"Retry-After": str(seconds)},
            )
            await response(scope, receive, send)

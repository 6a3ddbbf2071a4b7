"""The control listener's edge: the outermost ASGI layer, before the rate limit, the API and the console.

Three rules, each cheap enough to run on every request before any other work:

* **Host names** (DNS rebinding). A page on ``evil.example`` whose name is re-pointed at
  127.0.0.1 reaches the loopback console *as the same origin*. Such a request carries
  ``Host: evil.example``, so only these names are served: an IP address (a page cannot be
  served from the station's own address and port), ``localhost``, the address the listener is
  configured on (``api.host`` or ``--host``) and the names in ``api.allowed_hosts``. Others get
  421 with what to do, in Vietnamese.
* **Proxies.** ``X-Forwarded-For``/``X-Forwarded-Proto`` are believed only from a peer listed in
  ``api.trusted_proxies`` (none by default): then ``scope["client"]`` becomes the client the
  proxy saw (the right-most address that is not itself a trusted proxy) and ``scope["scheme"]``
  the scheme it saw, so the rate limit, the login throttle, the audit trail's ``console <ip>``
  and the console's ``Secure`` cookie all see the real client. From any other peer those
  headers are removed, so nothing downstream can be fooled by them.
* **Framing and sniffing.** Every response says ``X-Frame-Options: DENY``,
  ``Content-Security-Policy: frame-ancestors 'none'`` (added to a policy the response already
  has), ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin`` (unless the
  response chose its own), so no other site — Icecast's own page on another port included —
  can show the console in a frame with the operator's session.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK_NAMES = frozenset({"localhost"})
#: the headers a proxy sets; removed from requests of every other peer
FORWARDED = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-real-ip", b"forwarded"})
#: set on every response (replacing what the app said)
FORCED = ((b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"))
#: set on every response that does not say otherwise
DEFAULTED = ((b"referrer-policy", b"same-origin"),)
CSP = b"content-security-policy"
NO_FRAMING = b"frame-ancestors 'none'"


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address from ``1.2.3.4``, ``1.2.3.4:80``, ``::1`` or ``[::1]:80``; None if it is not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def host_name(header: str) -> str:
    """The name in a Host header, lower case, without port or trailing dot (``[::1]:8686`` → ``::1``)."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


@dataclass(frozen=True)
class EdgeRules:
    """Which peers are proxies and which Host names are the station's."""

    trusted_proxies: tuple[Network, ...] = ()
    #: lower case, without trailing dot
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def of(cls, host: str, trusted_proxies: Iterable[str] = (), allowed_hosts: Iterable[str] = ()) -> EdgeRules:
        """From the schedule's ``api`` section (already checked) and the address the listener is on."""
        names = {host_name(name) for name in (host, *allowed_hosts) if name.strip()}
        return cls(tuple(ipaddress.ip_network(p.strip(), strict=False) for p in trusted_proxies), frozenset(names))

    def is_proxy(self, peer: str) -> bool:
        address = _address(peer)
        return address is not None and any(address in network for network in self.trusted_proxies)

    def host_allowed(self, header: str | None) -> bool:
        """True for no Host (not a browser), an IP address, localhost and the configured names."""
        if not header or not header.strip():
            return True
        name = host_name(header)
        return name in LOOPBACK_NAMES or name in self.allowed_hosts or _address(name) is not None

    def client_behind(self, forwarded_for: str) -> str | None:
        """The client a chain of trusted proxies saw: the right-most entry that is not a trusted proxy."""
        entries = [entry for entry in forwarded_for.split(",") if entry.strip()]
        found: str | None = None
        for entry in reversed(entries):
            address = _address(entry)
            if address is None:
                return found  # a garbled entry: trust nothing further left
            found = str(address)
            if not any(address in network for network in self.trusted_proxies):
                break
        return found


def _with_edge_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    forced = {name for name, _ in FORCED}
    out = [(name, value) for name, value in headers if name.lower() not in forced]
    out += FORCED
    present = {name.lower() for name, _ in out}
    out += [(name, value) for name, value in DEFAULTED if name not in present]
    if CSP not in present:
        return [*out, (CSP, NO_FRAMING)]
    return [
        (name, value + b"; " + NO_FRAMING if name.lower() == CSP and b"frame-ancestors" not in value else value)
        for name, value in out
    ]


class Edge:
    """Pure ASGI middleware applying :class:`EdgeRules`; wrap the whole app with it (outermost)."""

    def __init__(self, app: ASGIApp, rules: EdgeRules | None = None) -> None:
        self.app = app
        self.rules = rules or EdgeRules()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope = self._forwarded(dict(scope))
        host = next((v.decode("latin-1") for n, v in scope.get("headers", ()) if n == b"host"), None)

        async def send_with_edge_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _with_edge_headers(message.get("headers", ()))}
            await send(message)

        if self.rules.host_allowed(host):
            await self.app(scope, receive, send_with_edge_headers)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await _refuse_host(scope, host or "", send_with_edge_headers)

    def _forwarded(self, scope: Scope) -> Scope:
        """The scope as the client behind a trusted proxy made it; forwarding headers dropped otherwise."""
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers", ()))
        peer = scope.get("client")
        if not (peer and self.rules.is_proxy(str(peer[0]))):
            scope["headers"] = [(n, v) for n, v in headers if n not in FORWARDED]
            return scope
        chain = ",".join(v.decode("latin-1") for n, v in headers if n == b"x-forwarded-for")
        client = self.rules.client_behind(chain) if chain else None
        if client is not None:
            scope["client"] = (client, 0)
        protos = [v.decode("latin-1") for n, v in headers if n == b"x-forwarded-proto"]
        proto = ",".join(protos).split(",")[-1].strip().lower() if protos else ""
        if proto in ("http", "https"):
            scope["scheme"] = proto if scope["type"] == "http" else proto.replace("http", "ws")
        return scope


async def _refuse_host(scope: Scope, host: str, send: Send) -> None:
    name = host_name(host)[:80].encode("ascii", "replace").decode()
    port = (scope.get("server") or ("", 8686))[1]
    body = json.dumps(
        {
            "error": f"Trạm không nhận tên '{name}' (để chặn trang web lạ mượn tên này đọc bảng điều khiển). "
            f"Mở bằng địa chỉ IP của trạm, ví dụ http://127.0.0.1:{port}/console, hoặc nếu đây đúng là tên "
            "của trạm thì thêm nó vào 'api: allowed_hosts: [...]' trong schedule.yaml rồi khởi động lại phần mềm."
        },
        ensure_ascii=False,
    ).encode()
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 421, "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""Value types of zones (loudspeaker clusters) and relays: the ``zones:`` map, a slot's zone list, stream URLs.

A commune's loudspeakers are clusters ("cụm loa"), one or more per thôn. Each zone has one
output: the local sound card (``device:``, as ``output.device``) or an Icecast mount
(``icecast: http://HOST:PORT/MOUNT``) that receiver boxes at the cluster play. The source
password never appears here: it comes from ``LOA_XA_ICECAST_PASSWORD`` or ``state/icecast-password``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from broadcaster.schedule.diagnostics import INVALID, Invalid, did_you_mean
from broadcaster.schedule.schema import Where, read_object
from broadcaster.schedule.types import Context, Name, Text, ValueType, entries, is_mapping, is_null, is_scalar

if TYPE_CHECKING:
    from yaml.nodes import Node

#: a zone name: lowercase letters, digits and dashes (it names files, mounts and metrics labels)
ZONE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


class StreamUrl(ValueType[str]):
    """An ``http(s)://HOST[:PORT]/PATH`` URL; ``mount=True`` also needs a path (the Icecast mount)."""

    def __init__(self, *, mount: bool = False) -> None:
        self.mount = mount

    def parse(self, ctx: Context, node: Node, name: Name) -> str | Invalid:
        raw = Text().parse(ctx, node, name)
        if isinstance(raw, Invalid):
            return raw
        url = raw.strip()
        parts = urlsplit(url)
        example = "http://127.0.0.1:8000/thon-dong" if self.mount else "http://dai-tinh.vn:8000/kenh1"
        try:
            port_ok = parts.port is None or 0 < parts.port < 65536
        except ValueError:
            port_ok = False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            return ctx.reporter.error(node, f"địa chỉ '{url}' ({name.what}) không hợp lệ — ví dụ đúng: {example}")
        if parts.username or parts.password:
            return ctx.reporter.error(
                node,
                f"không ghi mật khẩu trong địa chỉ ({name.what}) — mật khẩu nguồn Icecast đặt trong biến môi trường "
                "LOA_XA_ICECAST_PASSWORD hoặc tệp state/icecast-password",
            )
        if self.mount and parts.path.strip("/") == "":
            return ctx.reporter.error(node, f"địa chỉ '{url}' ({name.what}) thiếu tên điểm phát — ví dụ: {example}")
        return url


class TextList(ValueType[tuple[str, ...]]):
    """A list of words: a command's argv (``[/usr/local/bin/relay, "on"]``) or e-mail addresses."""

    def __init__(self, *, email: bool = False) -> None:
        self.email = email

    def parse(self, ctx: Context, node: Node, name: Name) -> tuple[str, ...] | Invalid:
        items = entries(ctx, node, name.what)
        if isinstance(items, Invalid):
            return items
        if not items:
            return ctx.reporter.error(node, f"{name.what} trống — bỏ khóa '{name.key}' nếu không dùng")
        out: list[str] = []
        for entry in items:
            word = Text().read(ctx, entry, name.what)
            if isinstance(word, Invalid):
                return word
            if self.email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", word.strip()):
                return ctx.reporter.error(entry, f"'{word}' không phải địa chỉ thư điện tử ({name.what})")
            out.append(word.strip() if self.email else word)
        return tuple(out)


class HasMount(Protocol):
    """What :class:`ZoneMap` reads of a zone section: its Icecast mount, if any."""

    @property
    def icecast(self) -> str | None: ...


Z = TypeVar("Z", bound=HasMount)


class ZoneMap(ValueType[dict[str, Z]]):
    """``zones``: name → one ``zone`` section each (``ZoneMap(Zone)``); names are unique, mounts are not shared."""

    def __init__(self, zone: type[Z]) -> None:
        self.zone = zone

    def parse(self, ctx: Context, node: Node, name: Name) -> dict[str, Z] | Invalid:
        if is_null(node):
            return {}
        if not is_mapping(node):
            return ctx.reporter.error(node, "zones phải là danh sách 'tên-vùng: {device: …}' hoặc '{icecast: …}'")
        zones: dict[str, Z] = {}
        mounts: dict[str, str] = {}
        bad = False
        for key_node, value in node.value:
            zone_name = str(key_node.value).strip() if is_scalar(key_node) else ""
            if not ZONE_NAME.fullmatch(zone_name):
                ctx.reporter.error(
                    key_node,
                    f"tên vùng '{zone_name}' không hợp lệ — chỉ dùng chữ thường không dấu, số và '-', ví dụ: thon-dong",
                )
                bad = True
                continue
            if zone_name in zones:
                ctx.reporter.error(key_node, f"vùng '{zone_name}' bị khai báo hai lần — xóa một trong hai")
                bad = True
                continue
            at = Where(f"vùng '{zone_name}'", _named(zone_name), dotted=False, anchor=key_node)
            zone, found = read_object(ctx, value, self.zone, at, name=zone_name)
            if isinstance(zone, Invalid):
                bad = True
                continue
            if zone.icecast:
                mount = zone.icecast.rstrip("/")
                if mount in mounts:
                    ctx.reporter.error(
                        found["icecast"][1],
                        f"vùng '{zone_name}' dùng chung điểm phát với vùng '{mounts[mount]}' — mỗi vùng một điểm phát",
                    )
                    bad = True
                    continue
                mounts[mount] = zone_name
            zones[zone_name] = zone
        return INVALID if bad else zones


def _named(zone_name: str) -> Callable[[dict[str, Any]], str]:
    return lambda _values: f"vùng '{zone_name}'"


class ZoneNames(ValueType[tuple[str, ...]]):
    """A slot's ``zones``: names declared in the top-level ``zones:`` map."""

    def parse(self, ctx: Context, node: Node, name: Name) -> tuple[str, ...] | Invalid:
        items = entries(ctx, node, name.what)
        if isinstance(items, Invalid):
            return items
        declared = ctx.top.get("zones")
        if isinstance(declared, Invalid):
            return INVALID  # the map's own errors are reported already
        if not declared:
            return ctx.reporter.error(
                node, f"{name.what}: lịch chưa khai báo vùng nào — thêm mục 'zones:' ở đầu tệp hoặc bỏ khóa này"
            )
        if not items:
            return ctx.reporter.error(node, f"{name.what} trống — bỏ khóa 'zones' để phát ở mọi vùng")
        out: list[str] = []
        bad = False
        for entry in items:
            raw = Text().read(ctx, entry, name.what)
            if isinstance(raw, Invalid):
                bad = True
                continue
            zone = raw.strip()
            if zone not in declared:
                known = ", ".join(declared)
                ctx.reporter.error(
                    entry,
                    f"vùng '{zone}' ({name.what}) chưa khai báo trong 'zones:'"
                    f"{did_you_mean(zone, tuple(declared))} (các vùng: {known})",
                )
                bad = True
            elif zone not in out:
                out.append(zone)
        return INVALID if bad else tuple(out)

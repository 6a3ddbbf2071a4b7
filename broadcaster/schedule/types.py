"""Value types of the schedule schema: each reads one YAML node's raw text and reports in Vietnamese.

A type's :meth:`ValueType.parse` returns the value or :data:`INVALID` after reporting the
problem at the node's line and column. Types read the raw scalar text themselves (never
PyYAML's YAML 1.1 resolution), so ``06:00`` is a time, ``off`` is false only where a boolean is
asked for, and ``2026-02-30`` is a clear message instead of a crash.

This module imports no YAML library (nodes are told apart by their ``id``), so importing the
model — which declares its fields with these types — stays cheap for the CLI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeGuard, TypeVar, cast

from broadcaster.layout import Layout
from broadcaster.schedule.diagnostics import INVALID, Invalid, Reporter, did_you_mean
from broadcaster.schedule.estimate import audio_seconds

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
#: engine names the speech layer knows; an unknown one is a warning (the chain falls back)
KNOWN_ENGINES = ("gtts", "espeak")

_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "yes", "on", "có", "bật"}
_FALSE = {"false", "no", "off", "không", "tắt"}
_INT = re.compile(r"[+-]?\d+")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DMY_DATE = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})")
DAY_HINT = "viết NGÀY/THÁNG/NĂM hoặc NĂM-THÁNG-NGÀY, ví dụ 21/04/2026 hoặc 2026-04-21"


# -- nodes ---------------------------------------------------------------------------


def _kind(node: Node) -> str:
    """``scalar``, ``sequence`` or ``mapping`` (PyYAML's node ``id``; no yaml import needed)."""
    return str(getattr(node, "id", ""))


def is_scalar(node: Node) -> TypeGuard[ScalarNode]:
    """A single value (not a list or a mapping)."""
    return _kind(node) == "scalar"


def is_sequence(node: Node) -> TypeGuard[SequenceNode]:
    """A list."""
    return _kind(node) == "sequence"


def is_mapping(node: Node) -> TypeGuard[MappingNode]:
    """A group of ``key: value``."""
    return _kind(node) == "mapping"


def is_null(node: Node) -> bool:
    """An empty value (``key:``, ``~``, ``null``) — not a quoted empty string."""
    return is_plain(node) and node.value in _NULLS


def is_plain(node: Node) -> TypeGuard[ScalarNode]:
    """A scalar written without quotes (PyYAML says style None, libyaml says '')."""
    return is_scalar(node) and not node.style


def describe(node: Node) -> str:
    """What the operator wrote, in words, for "must be X, not Y" messages."""
    if is_mapping(node):
        return "một nhóm khóa"
    if is_sequence(node):
        return "một danh sách"
    if is_null(node):
        return "giá trị trống"
    return f"'{node.value}'"


def parse_time(raw: str) -> time | None:
    """``06:30`` / ``6:30:15`` → time, or None when the text is not a valid time of day."""
    m = _TIME.fullmatch(raw.strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3] or 0) > 59:
        return None
    return time(int(m[1]), int(m[2]), int(m[3] or 0))


# -- context and naming --------------------------------------------------------------


@dataclass
class Context:
    """What a type may need besides its node: where to report, the schedule folder, the top level."""

    reporter: Reporter
    base: Path
    #: top-level values parsed so far (``campaign``, ``defaults``…), for inheritance and cross-checks
    top: dict[str, Any] = field(default_factory=dict)
    #: each valid slot with its keys' nodes, for the policy warnings that point into the slot
    slots: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class Name:
    """How a value is named in messages: ``policy.earliest`` or ``repeat của buổi phát 'sang'``."""

    key: str
    owner: str  # "policy", "buổi phát 'sang'"
    dotted: bool = True
    key_node: Node | None = None

    @property
    def what(self) -> str:
        if not self.owner:
            return self.key
        return f"{self.owner}.{self.key}" if self.dotted else f"{self.key} của {self.owner}"


class ValueType(Generic[T]):
    """Reads one node into a ``T``; reports and returns INVALID when it cannot."""

    def parse(self, ctx: Context, node: Node, name: Name) -> T | Invalid:
        raise NotImplementedError


class Nullable(ValueType[T | U]):
    """An empty value means ``when_null`` (e.g. ``chime:`` = no chime); otherwise ``inner``."""

    def __init__(self, inner: ValueType[T], when_null: U) -> None:
        self.inner, self.when_null = inner, when_null

    def parse(self, ctx: Context, node: Node, name: Name) -> T | U | Invalid:
        return self.when_null if is_null(node) else self.inner.parse(ctx, node, name)


def scalar(ctx: Context, node: Node, what: str) -> str | Invalid:
    """The raw text of a single value."""
    if not is_scalar(node):
        return ctx.reporter.error(node, f"{what} phải là một giá trị đơn, không phải {describe(node)}")
    return cast(str, node.value)


def entries(ctx: Context, node: Node, what: str, allow_scalar: bool = True) -> list[Node] | Invalid:
    """Items of a list; a single value counts as a list of one when ``allow_scalar``."""
    if is_sequence(node):
        return list(node.value)
    if allow_scalar and is_scalar(node) and not is_null(node):
        return [node]
    return ctx.reporter.error(node, f"{what} phải là một danh sách, ví dụ [a, b], không phải {describe(node)}")


# -- scalars -------------------------------------------------------------------------


class Text(ValueType[str]):
    """Text, stripped; empty is an error unless ``allow_empty``."""

    def __init__(self, allow_empty: bool = False) -> None:
        self.allow_empty = allow_empty

    def parse(self, ctx: Context, node: Node, name: Name) -> str | Invalid:
        return self.read(ctx, node, name.what)

    def read(self, ctx: Context, node: Node, what: str) -> str | Invalid:
        """The stripped text of ``node``, named ``what`` in messages."""
        empty = f"{what} đang để trống — hãy điền giá trị"
        if is_null(node):
            return "" if self.allow_empty else ctx.reporter.error(node, empty)
        raw = scalar(ctx, node, what)
        if isinstance(raw, Invalid):
            return raw
        if not raw.strip() and not self.allow_empty:
            return ctx.reporter.error(node, empty)
        return raw.strip()


class Integer(ValueType[int]):
    """A whole number within ``minimum``..``maximum``."""

    def __init__(self, minimum: int | None = None, maximum: int | None = None) -> None:
        self.minimum, self.maximum = minimum, maximum

    def parse(self, ctx: Context, node: Node, name: Name) -> int | Invalid:
        raw = scalar(ctx, node, name.what)
        if isinstance(raw, Invalid):
            return raw
        text = raw.strip().replace("_", "")
        if not _INT.fullmatch(text):
            return ctx.reporter.error(node, f"{name.what} phải là số nguyên (ví dụ 2), không phải '{raw}'")
        value = int(text)
        low, high = self.minimum, self.maximum
        if low is not None and value < low or high is not None and value > high:
            bounds = f"từ {low} đến {high}" if high is not None else f"ít nhất {low}"
            return ctx.reporter.error(node, f"{name.what} phải {bounds}, không phải {value}")
        return value


class Number(ValueType[float]):
    """A number (``2.5`` or ``2,5``) at least ``minimum`` (or above it when ``strict``)."""

    def __init__(self, minimum: float = 0.0, strict: bool = False) -> None:
        self.minimum, self.strict = minimum, strict

    def parse(self, ctx: Context, node: Node, name: Name) -> float | Invalid:
        raw = scalar(ctx, node, name.what)
        if isinstance(raw, Invalid):
            return raw
        text = raw.strip().replace("_", "").replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if value != value or value in (float("inf"), float("-inf")):
            return ctx.reporter.error(node, f"{name.what} phải là một số (ví dụ 3 hoặc 2.5), không phải '{raw}'")
        if value < self.minimum or (self.strict and value == self.minimum):
            sign = "lớn hơn" if self.strict else "ít nhất"
            return ctx.reporter.error(node, f"{name.what} phải {sign} {self.minimum:g}, không phải {value:g}")
        return value


class Boolean(ValueType[bool]):
    """``true``/``false`` (also yes/no, on/off, có/không, bật/tắt)."""

    def parse(self, ctx: Context, node: Node, name: Name) -> bool | Invalid:
        raw = scalar(ctx, node, name.what)
        if isinstance(raw, Invalid):
            return raw
        text = raw.strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        return ctx.reporter.error(node, f"{name.what} phải là true (bật) hoặc false (tắt), không phải '{raw}'")


class TimeOfDay(ValueType[time]):
    """``HH:MM`` or ``HH:MM:SS``."""

    def parse(self, ctx: Context, node: Node, name: Name) -> time | Invalid:
        return self.read(ctx, node, name.what)

    def read(self, ctx: Context, node: Node, what: str) -> time | Invalid:
        """The time of ``node``, named ``what`` in messages."""
        raw = scalar(ctx, node, what)
        if isinstance(raw, Invalid):
            return raw
        if not _TIME.fullmatch(raw.strip()):
            return ctx.reporter.error(
                node, f"'{raw}' không đúng dạng giờ ({what}) — viết HH:MM trong ngoặc kép, ví dụ \"06:30\""
            )
        value = parse_time(raw)
        if value is None:
            return ctx.reporter.error(
                node, f"giờ '{raw}' không tồn tại ({what}) — giờ từ 00 đến 23, phút và giây từ 00 đến 59"
            )
        return value


class Day(ValueType[date]):
    """A day as operators write it: ``21/04/2026``, ``21.4.2026`` or ``2026-04-21``."""

    def parse(self, ctx: Context, node: Node, name: Name) -> date | Invalid:
        return self.read(ctx, node, name.what)

    def read(self, ctx: Context, node: Node, what: str) -> date | Invalid:
        """The day of ``node``, named ``what`` in messages."""
        raw = scalar(ctx, node, what)
        if isinstance(raw, Invalid):
            return raw
        text = raw.strip()
        iso, dmy = _ISO_DATE.fullmatch(text), _DMY_DATE.fullmatch(text)
        if iso:
            y, mo, d = int(iso[1]), int(iso[2]), int(iso[3])
        elif dmy:
            d, mo, y = int(dmy[1]), int(dmy[2]), int(dmy[3])
        else:
            return ctx.reporter.error(node, f"'{raw}' không đúng dạng ngày ({what}) — {DAY_HINT}")
        if not 1 <= y <= 9999:
            return ctx.reporter.error(node, f"năm trong '{raw}' không hợp lệ ({what}) — {DAY_HINT}")
        if not 1 <= mo <= 12:
            return ctx.reporter.error(node, f"ngày '{raw}' không tồn tại ({what}) — tháng phải từ 1 đến 12")
        import calendar

        last = calendar.monthrange(y, mo)[1]
        if not 1 <= d <= last:
            return ctx.reporter.error(
                node, f"ngày '{raw}' không tồn tại ({what}) — tháng {mo} năm {y} chỉ có {last} ngày"
            )
        return date(y, mo, d)


class Timezone(ValueType["ZoneInfo"]):
    """An IANA time zone name such as ``Asia/Ho_Chi_Minh``."""

    def parse(self, ctx: Context, node: Node, name: Name) -> ZoneInfo | Invalid:
        import zoneinfo

        raw = Text().parse(ctx, node, name)
        if isinstance(raw, Invalid):
            return raw
        try:
            if ".." in raw or raw.startswith("/"):
                raise ValueError(raw)
            return zoneinfo.ZoneInfo(raw)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            import difflib

            close = difflib.get_close_matches(raw, sorted(zoneinfo.available_timezones()), n=1, cutoff=0.6)
            hint = f" — có phải ý bạn là '{close[0]}'?" if close else f" — ở Việt Nam dùng '{DEFAULT_TIMEZONE}'"
            return ctx.reporter.error(node, f"múi giờ '{raw}' không tồn tại{hint}")


class FilePath(ValueType[Path]):
    """A path; a relative one is taken from the schedule's folder."""

    def parse(self, ctx: Context, node: Node, name: Name) -> Path | Invalid:
        raw = Text().parse(ctx, node, name)
        if isinstance(raw, Invalid):
            return raw
        path = Path(raw).expanduser()
        return path if path.is_absolute() else ctx.base / path


def inside_playable(base: Path, path: Path) -> bool:
    """Whether ``path`` (``..`` and symlinks resolved) lies in the station's ``audio/`` or ``scripts_vi/``.

    The one rule for what may air, shared with ``play``/``phát ngay`` (``broadcaster.adhoc``).
    """
    resolved = path.resolve()
    return any(resolved.is_relative_to(root.resolve()) for root in Layout.at(base).playable_roots)


class AudioFile(ValueType[Path]):
    """An existing, readable audio file (WAV or MP3) inside the station's ``audio/`` or ``scripts_vi/``.

    A path outside them is refused before the file is looked at, with one message whether or not
    it exists, so the schedule (or the console's editor) cannot be used to probe the machine.
    """

    def parse(self, ctx: Context, node: Node, name: Name) -> Path | Invalid:
        path = FilePath().parse(ctx, node, name)
        if isinstance(path, Invalid):
            return path
        if not inside_playable(ctx.base, path):
            return ctx.reporter.error(
                node,
                f"tệp âm thanh '{node.value}' ({name.what}) phải nằm trong thư mục audio/ hoặc scripts_vi/ "
                "của đài — chép tệp vào thư mục audio/ rồi ghi 'audio/tên-tệp.wav'",
            )
        if not path.is_file():
            shown = _relative(ctx.base, path)
            return ctx.reporter.error(
                node, f"không tìm thấy tệp âm thanh '{node.value}' ({name.what}; tìm tại {shown})"
            )
        if audio_seconds(path) <= 0:
            return ctx.reporter.error(
                node,
                f"không đọc được tệp âm thanh '{node.value}' ({name.what}) — tệp hỏng hoặc định dạng không hỗ trợ "
                "(dùng WAV hoặc MP3)",
            )
        return path


def _relative(base: Path, path: Path) -> str:
    """``path`` as seen from the station's folder (``audio/x.wav``), never the machine's full path."""
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.name


class Device(ValueType["str | int | None"]):
    """A sound card: its number (unquoted digits) or part of its name; empty = system default."""

    def parse(self, ctx: Context, node: Node, name: Name) -> str | int | None | Invalid:
        if is_null(node):
            return None
        raw = scalar(ctx, node, name.what)
        if isinstance(raw, Invalid):
            return raw
        if is_plain(node) and _INT.fullmatch(raw.strip()):
            return int(raw)
        return raw.strip()


class Voices(ValueType[tuple[str, ...]]):
    """The engine chain, e.g. ``[gtts, espeak]``; an unknown engine is a warning."""

    def parse(self, ctx: Context, node: Node, name: Name) -> tuple[str, ...] | Invalid:
        items = entries(ctx, node, name.what)
        if isinstance(items, Invalid):
            return items
        if not items:
            return ctx.reporter.error(node, f"{name.what} trống — ghi ít nhất một giọng đọc, ví dụ [gtts, espeak]")
        specs: list[str] = []
        for entry in items:
            spec = Text().read(ctx, entry, name.what)
            if isinstance(spec, Invalid):
                continue
            engine = spec.split(":", 1)[0].strip().lower()
            if engine not in KNOWN_ENGINES:
                ctx.reporter.warning(entry, f"giọng đọc '{spec}' không rõ{did_you_mean(engine, KNOWN_ENGINES)}")
            specs.append(spec)
        return tuple(specs) if len(specs) == len(items) else INVALID


__all__ = [
    "AudioFile",
    "Boolean",
    "Context",
    "Day",
    "Device",
    "FilePath",
    "Integer",
    "Name",
    "Nullable",
    "Number",
    "Text",
    "TimeOfDay",
    "Timezone",
    "ValueType",
    "Voices",
]

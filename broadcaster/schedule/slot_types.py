"""Value types only a slot uses: air times, weekdays, dates, priority and the play list."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from typing import TYPE_CHECKING, Protocol

from broadcaster import fmt, layout
from broadcaster.schedule.diagnostics import INVALID, Invalid, did_you_mean
from broadcaster.schedule.schema import read_keys
from broadcaster.schedule.types import (
    AudioFile,
    Context,
    Day,
    Name,
    Number,
    Text,
    TimeOfDay,
    ValueType,
    entries,
    is_null,
    is_scalar,
    is_sequence,
)
from broadcaster.schedule.values import Item, ItemKind, Priority
from broadcaster.schedule.zone_types import StreamUrl

if TYPE_CHECKING:
    from yaml.nodes import Node

SCRIPTS_DIR = layout.SCRIPTS_DIR

_WEEKDAY_NAMES = [
    ("mon", "monday", "t2", "thu2", "thứ 2", "thứ hai"),
    ("tue", "tuesday", "t3", "thu3", "thứ 3", "thứ ba"),
    ("wed", "wednesday", "t4", "thu4", "thứ 4", "thứ tư"),
    ("thu", "thursday", "t5", "thu5", "thứ 5", "thứ năm"),
    ("fri", "friday", "t6", "thu6", "thứ 6", "thứ sáu"),
    ("sat", "saturday", "t7", "thu7", "thứ 7", "thứ bảy"),
    ("sun", "sunday", "cn", "chủ nhật"),
]
WEEKDAYS: dict[str, int] = {n: i for i, names in enumerate(_WEEKDAY_NAMES) for n in names}
_EMERGENCY = {"emergency", "khẩn cấp"}


def _words(text: str) -> str:
    return " ".join(text.strip().lower().split())


class Times(ValueType[tuple[time, ...]]):
    """``at``: one time or a list of times; a repeated time is a warning."""

    def parse(self, ctx: Context, node: Node, name: Name) -> tuple[time, ...] | Invalid:
        items = [] if is_null(node) else entries(ctx, node, name.what)
        if isinstance(items, Invalid):
            return items
        if not items:
            return ctx.reporter.error(node, f'{name.what} trống — ghi ít nhất một giờ phát, ví dụ "06:30"')
        out: list[time] = []
        bad = False
        for entry in items:
            t = TimeOfDay().read(ctx, entry, f"giờ phát của {name.owner}")
            if isinstance(t, Invalid):
                bad = True
            elif t in out:
                ctx.reporter.warning(
                    entry,
                    f"giờ {fmt.clock(t, seconds=bool(t.second))} của {name.owner} bị ghi hai lần — chỉ phát một lần",
                )
            else:
                out.append(t)
        return INVALID if bad else tuple(out)


class Weekdays(ValueType[frozenset[int]]):
    """``days``: weekday names (English or Vietnamese), 0 = Monday."""

    def parse(self, ctx: Context, node: Node, name: Name) -> frozenset[int] | Invalid:
        items = entries(ctx, node, name.what)
        if isinstance(items, Invalid):
            return items
        if not items:
            return ctx.reporter.error(node, f"{name.what} trống — bỏ khóa 'days' nếu muốn phát mọi ngày")
        out: set[int] = set()
        bad = False
        for entry in items:
            raw = Text().read(ctx, entry, f"ngày trong tuần của {name.owner}")
            if isinstance(raw, Invalid) or _words(raw) not in WEEKDAYS:
                if not isinstance(raw, Invalid):
                    hint = did_you_mean(_words(raw), ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
                    ctx.reporter.error(entry, f"'{raw}' không phải tên ngày trong tuần ({name.what}){hint}")
                bad = True
                continue
            out.add(WEEKDAYS[_words(raw)])
        return INVALID if bad else frozenset(out)


class Window(Protocol):
    """What :class:`Dates` reads of the campaign section: its first and last day."""

    @property
    def start(self) -> date: ...

    @property
    def end(self) -> date: ...


class Dates(ValueType[frozenset[date]]):
    """``dates``/``skip_dates``: days; given the campaign section's class, warns about days outside the campaign."""

    def __init__(self, *, nonempty: bool, campaign: type[Window] | None = None) -> None:
        self.nonempty, self.campaign = nonempty, campaign

    def parse(self, ctx: Context, node: Node, name: Name) -> frozenset[date] | Invalid:
        items = entries(ctx, node, name.what)
        if isinstance(items, Invalid):
            return items
        top = ctx.top.get("campaign")
        campaign = top if self.campaign is not None and isinstance(top, self.campaign) else None
        out: set[date] = set()
        bad = False
        for entry in items:
            d = Day().read(ctx, entry, name.what)
            if isinstance(d, Invalid):
                bad = True
                continue
            if campaign is not None and not campaign.start <= d <= campaign.end:
                ctx.reporter.warning(
                    entry,
                    f"ngày {fmt.day(d)} ({name.what}) nằm ngoài thời gian chiến dịch "
                    f"{fmt.day(campaign.start)} → {fmt.day(campaign.end)} — sẽ không phát",
                )
            out.add(d)
        if bad:
            return INVALID
        if self.nonempty and not out:
            return ctx.reporter.error(node, f"{name.what} trống — bỏ khóa '{name.key}' nếu muốn phát mọi ngày")
        return frozenset(out)


class PriorityLevel(ValueType[Priority]):
    """``normal`` or ``priority`` (Vietnamese names too); ``emergency`` is refused with the way to do it."""

    def parse(self, ctx: Context, node: Node, name: Name) -> Priority | Invalid:
        raw = Text().parse(ctx, node, name)
        if isinstance(raw, Invalid):
            return raw
        key = _words(raw)
        if key in ("normal", "thông thường"):
            return Priority.NORMAL
        if key in ("priority", "ưu tiên"):
            return Priority.PRIORITY
        if key in _EMERGENCY:
            return ctx.reporter.error(
                node,
                f"mức 'emergency' (khẩn cấp) không dùng trong lịch cố định ({name.owner}) — tin khẩn cấp phát ngay "
                "bằng lệnh 'broadcaster say' hoặc 'broadcaster play'; trong lịch dùng normal hoặc priority",
            )
        return ctx.reporter.error(
            node, f"priority '{raw}' của {name.owner} không hợp lệ{did_you_mean(key, ('normal', 'priority'))}"
        )


class Play(ValueType[tuple[Item, ...]]):
    """``play``: a list of ``- script: slug``, ``- text: "…"`` or ``- audio: file``."""

    def parse(self, ctx: Context, node: Node, name: Name) -> tuple[Item, ...] | Invalid:
        if is_null(node) or (is_sequence(node) and not node.value):
            return ctx.reporter.error(node, f"{name.what} trống — thêm ít nhất một mục (script, text hoặc audio)")
        items = entries(ctx, node, name.what, allow_scalar=False)
        if isinstance(items, Invalid):
            return items
        built: list[Item] = []
        for n, entry in enumerate(items, 1):
            item = self.item(ctx, entry, f"mục {n} trong {name.what}")
            if not isinstance(item, Invalid):
                built.append(item)
        return tuple(built) if len(built) == len(items) else INVALID

    def item(self, ctx: Context, node: Node, what: str) -> Item | Invalid:
        """One entry of the list: exactly one of script, text, audio."""
        if is_scalar(node) and not is_null(node):
            return ctx.reporter.error(
                node, f"{what} cần ghi rõ loại: '- script: {node.value}', '- text: \"...\"' hoặc '- audio: tep.wav'"
            )
        found = read_keys(ctx, node, what, ("script", "text", "audio", "relay", "minutes", "fallback"))
        if found is None:
            return INVALID
        if "relay" in found or "minutes" in found or "fallback" in found:
            return relay(ctx, node, found, what)
        if len(found) != 1:
            if found:
                return ctx.reporter.error(
                    node, f"{what} chỉ được có một trong 'script', 'text', 'audio' — tách thành các mục riêng"
                )
            if not node.value:
                return ctx.reporter.error(node, f"{what} trống — ghi 'script:', 'text:' hoặc 'audio:'")
            return INVALID  # unknown key already reported
        kind, (_, value) = next(iter(found.items()))
        if kind == "text":
            text = Text().read(ctx, value, what)
            return text if isinstance(text, Invalid) else Item(ItemKind.TEXT, text)
        if kind == "audio":
            path = AudioFile().parse(ctx, value, Name(what, ""))
            return path if isinstance(path, Invalid) else Item(ItemKind.AUDIO, str(value.value).strip(), path)
        return script(ctx, value, what)


def relay(ctx: Context, node: Node, found: Mapping[str, tuple[Node, Node]], what: str) -> Item | Invalid:
    """``- relay: URL`` with ``minutes: N`` and an optional ``fallback: SCRIPT`` (tiếp sóng đài cấp trên)."""
    example = "'- relay: http://…/kenh1' với 'minutes: 30'"
    if "relay" not in found:
        return ctx.reporter.error(node, f"{what}: 'minutes' và 'fallback' chỉ dùng cho mục tiếp sóng ({example})")
    if set(found) & {"script", "text", "audio"}:
        return ctx.reporter.error(
            node, f"{what}: mục tiếp sóng 'relay' không đi cùng 'script', 'text' hay 'audio' — tách thành mục riêng"
        )
    if "minutes" not in found:
        return ctx.reporter.error(node, f"{what}: tiếp sóng cần thời lượng, ví dụ {example}")
    url = StreamUrl().parse(ctx, found["relay"][1], Name("relay", what, False))
    minutes = Number(0.0, strict=True).parse(ctx, found["minutes"][1], Name("minutes", what, False))
    fallback: Item | Invalid | None = None
    if "fallback" in found:
        fallback = script(ctx, found["fallback"][1], f"bài thay thế của {what}")
    if isinstance(url, Invalid) or isinstance(minutes, Invalid) or isinstance(fallback, Invalid):
        return INVALID
    if minutes > 24 * 60:
        return ctx.reporter.error(found["minutes"][1], f"{what}: tiếp sóng tối đa 1440 phút (24 giờ)")
    return Item(ItemKind.RELAY, url, seconds=minutes * 60, fallback=fallback)


def script(ctx: Context, node: Node, what: str) -> Item | Invalid:
    """A script of ``scripts_vi/``: it must exist, be UTF-8 and not be empty."""
    slug = Text().read(ctx, node, what)
    if isinstance(slug, Invalid):
        return slug
    slug = slug.removesuffix(".txt")
    if "/" in slug or "\\" in slug or slug.startswith("."):
        return ctx.reporter.error(
            node, f"tên kịch bản '{slug}' chỉ là tên tệp trong {SCRIPTS_DIR}/, không có '/' (ví dụ: khau-hieu)"
        )
    scripts = ctx.base / SCRIPTS_DIR
    path, shown = scripts / f"{slug}.txt", f"{SCRIPTS_DIR}/{slug}.txt"
    if not path.is_file():
        import difflib

        existing = sorted(p.stem for p in scripts.glob("*.txt")) if scripts.is_dir() else []
        close = difflib.get_close_matches(slug, existing, n=1, cutoff=0.6)
        hint = f" — có phải ý bạn là '{close[0]}'?" if close else f" — hãy tạo tệp {shown}"
        return ctx.reporter.error(node, f"không tìm thấy kịch bản '{slug}' ({shown}){hint}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ctx.reporter.error(node, f"không đọc được kịch bản {shown}: {exc.strerror or exc}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return ctx.reporter.error(
            node,
            f"kịch bản {shown} không phải mã UTF-8 (lỗi ở dòng {line} của tệp) — "
            "mở bằng trình soạn thảo và lưu lại với mã hóa UTF-8",
        )
    if not text.strip():
        return ctx.reporter.error(node, f"kịch bản {shown} trống — hãy viết nội dung cần đọc")
    return Item(ItemKind.SCRIPT, slug, path)

"""Load ``schedule.yaml`` into a :class:`Schedule`, collecting every problem with its line and column.

We work from ``yaml.compose()`` nodes rather than ``yaml.safe_load()``: nodes keep a mark
for every key and value, duplicate keys are still visible, and we interpret each scalar's
raw text ourselves, so YAML 1.1 surprises (``06:00`` read as the integer 360, ``off`` as
False, ``2026-02-30`` crashing the constructor) cannot reach the operator.
"""

from __future__ import annotations

import calendar
import difflib
import re
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any, Callable, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from broadcaster.schedule.model import (
    Api,
    Campaign,
    Defaults,
    Item,
    ItemKind,
    Output,
    Policy,
    Priority,
    Schedule,
    Slot,
)

SCRIPTS_DIR = "scripts_vi"
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
#: engine names the speech layer knows; an unknown one is a warning (the chain falls back)
KNOWN_ENGINES = ("gtts", "espeak")


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a schedule file; ``str()`` gives ``PATH:LINE:COL: message`` (1-based)."""

    path: Path
    line: int
    col: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


@dataclass
class LoadResult:
    """The schedule (None when there is any error) and every diagnostic found."""

    schedule: Schedule | None
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.schedule is not None


class _Invalid:
    """Marks a value already reported as an error; building goes on to find the next one."""

    def __repr__(self) -> str:
        return "<invalid>"


INVALID: Any = _Invalid()

_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "yes", "on", "có", "bật"}
_FALSE = {"false", "no", "off", "không", "tắt"}
_INT = re.compile(r"[+-]?\d+")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_VN_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")

_WEEKDAYS: dict[str, int] = {}
for _i, _names in enumerate(
    [
        ("mon", "monday", "t2", "thu2", "thứ 2", "thứ hai"),
        ("tue", "tuesday", "t3", "thu3", "thứ 3", "thứ ba"),
        ("wed", "wednesday", "t4", "thu4", "thứ 4", "thứ tư"),
        ("thu", "thursday", "t5", "thu5", "thứ 5", "thứ năm"),
        ("fri", "friday", "t6", "thu6", "thứ 6", "thứ sáu"),
        ("sat", "saturday", "t7", "thu7", "thứ 7", "thứ bảy"),
        ("sun", "sunday", "cn", "chủ nhật"),
    ]
):
    for _n in _names:
        _WEEKDAYS[_n] = _i

_PRIORITIES = {
    "normal": Priority.NORMAL,
    "thông thường": Priority.NORMAL,
    "priority": Priority.PRIORITY,
    "ưu tiên": Priority.PRIORITY,
}
_EMERGENCY = {"emergency", "khẩn cấp"}

# YAML syntax problems PyYAML reports, in the operator's words
_YAML_PROBLEMS: list[tuple[str, str]] = [
    ("found character '\\t'", "có ký tự Tab — YAML chỉ cho thụt lề bằng dấu cách; hãy thay Tab bằng dấu cách"),
    ("tab character", "có ký tự Tab — YAML chỉ cho thụt lề bằng dấu cách; hãy thay Tab bằng dấu cách"),
    (
        "mapping values are not allowed here",
        "dấu ':' không đúng chỗ — thường do thụt lề sai so với dòng trên, "
        "hoặc giá trị có dấu ':' cần đặt trong ngoặc kép",
    ),
    ("could not find expected ':'", "thiếu dấu ':' sau tên khóa (hoặc thụt lề sai)"),
    ("expected <block end>", "thụt lề không khớp với các dòng phía trên — kiểm tra số dấu cách đầu dòng"),
    ("did not find expected key", "thụt lề không khớp với các dòng phía trên — kiểm tra số dấu cách đầu dòng"),
    ("did not find expected '-' indicator", "mục danh sách thụt lề không khớp — mỗi mục bắt đầu bằng '- ' thẳng cột"),
    ("expected ',' or ']'", "danh sách [...] chưa đóng hoặc thiếu dấu phẩy giữa các phần tử"),
    ("expected ',' or '}'", "khối {...} chưa đóng hoặc thiếu dấu phẩy giữa các phần tử"),
    ("found undefined alias", "tham chiếu '*' tới một neo '&' chưa được định nghĩa"),
    ("found unknown escape character", "ký tự thoát '\\' không hợp lệ trong chuỗi ngoặc kép — dùng ngoặc đơn '...' thay vì ngoặc kép"),
    ("but found another document", "tệp chứa nhiều tài liệu YAML (dòng '---') — chỉ giữ một"),
    ("found character '%'", "dòng bắt đầu bằng '%' — đặt giá trị trong ngoặc kép"),
    ("found character '@'", "giá trị bắt đầu bằng '@' — đặt giá trị trong ngoặc kép"),
    ("found character '`'", "giá trị bắt đầu bằng '`' — đặt giá trị trong ngoặc kép"),
]


def _did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if close:
        return f" — có phải ý bạn là '{close[0]}'?"
    return " — các giá trị hợp lệ: " + ", ".join(choices)


def _fmt_time(t: time) -> str:
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


def _fmt_minutes(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} phút {s:02d} giây"


class _Builder:
    """Walks the composed YAML tree, checks it and builds the model, noting every problem."""

    def __init__(self, path: Path, shown: Path) -> None:
        self.path = path  # absolute, for resolving relative paths
        self.shown = shown  # as the operator wrote it, for messages
        self.base = path.parent
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self._script_cache: dict[Path, str | None] = {}

    # -- diagnostics -----------------------------------------------------------------

    def error(self, where: Node | yaml.Mark | None, message: str) -> Any:
        self.errors.append(self._diag(where, message, "error"))
        return INVALID

    def warning(self, where: Node | yaml.Mark | None, message: str) -> None:
        self.warnings.append(self._diag(where, message, "warning"))

    def _diag(self, where, message: str, severity) -> Diagnostic:
        mark = getattr(where, "start_mark", where)
        line = mark.line + 1 if mark is not None else 1
        col = mark.column + 1 if mark is not None else 1
        return Diagnostic(self.shown, line, col, message, severity)

    # -- structure -------------------------------------------------------------------

    def mapping(
        self,
        node: Node,
        where: str,
        allowed: tuple[str, ...],
        required: tuple[str, ...] = (),
        anchor: Node | None = None,
        allow_null: bool = False,
    ) -> dict[str, tuple[ScalarNode, Node]] | None:
        """Keys of a mapping node; reports non-mappings, duplicate, unknown and missing keys."""
        if allow_null and _is_null(node):
            return {}
        if not isinstance(node, MappingNode):
            self.error(node, f"{where} phải là một nhóm 'khóa: giá trị' (mapping), không phải {self.describe(node)}")
            return None
        found: dict[str, tuple[ScalarNode, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.error(key_node, f"tên khóa trong {where} phải là một chữ đơn giản")
                continue
            key = key_node.value
            if key == "<<":
                self.error(key_node, "không hỗ trợ gộp khóa '<<' — hãy viết đầy đủ các khóa")
                continue
            if key in found:
                first = found[key][0].start_mark.line + 1
                self.error(key_node, f"khóa '{key}' bị lặp lại trong {where} (đã có ở dòng {first}) — xóa một trong hai")
                continue
            found[key] = (key_node, value_node)
            if key not in allowed:
                self.error(key_node, f"khóa '{key}' không hợp lệ trong {where}{_did_you_mean(key, allowed)}")
        for key in required:
            if key not in found:
                self.error(anchor or node, f"{where} thiếu khóa bắt buộc '{key}'")
        return {k: v for k, v in found.items() if k in allowed}

    @staticmethod
    def describe(node: Node) -> str:
        if isinstance(node, MappingNode):
            return "một nhóm khóa"
        if isinstance(node, SequenceNode):
            return "một danh sách"
        if _is_null(node):
            return "giá trị trống"
        return f"'{node.value}'"

    def scalar(self, node: Node, what: str) -> str | Any:
        if not isinstance(node, ScalarNode):
            return self.error(node, f"{what} phải là một giá trị đơn, không phải {self.describe(node)}")
        return node.value

    def string(self, node: Node, what: str, allow_empty: bool = False) -> str | Any:
        if isinstance(node, ScalarNode) and _is_null(node):
            if allow_empty:
                return ""
            return self.error(node, f"{what} đang để trống — hãy điền giá trị")
        raw = self.scalar(node, what)
        if raw is INVALID:
            return raw
        if not raw.strip() and not allow_empty:
            return self.error(node, f"{what} đang để trống — hãy điền giá trị")
        return raw

    def integer(self, node: Node, what: str, minimum: int | None = None, maximum: int | None = None) -> int | Any:
        raw = self.scalar(node, what)
        if raw is INVALID:
            return raw
        text = raw.strip().replace("_", "")
        if not _INT.fullmatch(text):
            return self.error(node, f"{what} phải là số nguyên (ví dụ 2), không phải '{raw}'")
        value = int(text)
        if minimum is not None and value < minimum or maximum is not None and value > maximum:
            bounds = f"từ {minimum} đến {maximum}" if maximum is not None else f"ít nhất {minimum}"
            return self.error(node, f"{what} phải {bounds}, không phải {value}")
        return value

    def number(self, node: Node, what: str, minimum: float = 0.0, strict: bool = False) -> float | Any:
        raw = self.scalar(node, what)
        if raw is INVALID:
            return raw
        text = raw.strip().replace("_", "").replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or value != value or value in (float("inf"), float("-inf")) or not text:
            return self.error(node, f"{what} phải là một số (ví dụ 3 hoặc 2.5), không phải '{raw}'")
        if value < minimum or (strict and value == minimum):
            sign = "lớn hơn" if strict else "ít nhất"
            return self.error(node, f"{what} phải {sign} {minimum:g}, không phải {value:g}")
        return value

    def boolean(self, node: Node, what: str) -> bool | Any:
        raw = self.scalar(node, what)
        if raw is INVALID:
            return raw
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return self.error(node, f"{what} phải là true (bật) hoặc false (tắt), không phải '{raw}'")

    def time_of_day(self, node: Node, what: str) -> time | Any:
        raw = self.scalar(node, what)
        if raw is INVALID:
            return raw
        m = _TIME.fullmatch(raw.strip())
        if not m:
            return self.error(node, f"'{raw}' không đúng dạng giờ ({what}) — viết HH:MM trong ngoặc kép, ví dụ \"06:30\"")
        h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
        if h > 23 or mi > 59 or s > 59:
            return self.error(node, f"giờ '{raw}' không tồn tại ({what}) — giờ từ 00 đến 23, phút và giây từ 00 đến 59")
        return time(h, mi, s)

    def day(self, node: Node, what: str) -> date | Any:
        raw = self.scalar(node, what)
        if raw is INVALID:
            return raw
        text = raw.strip()
        m = _ISO_DATE.fullmatch(text)
        if m:
            y, mo, d = int(m[1]), int(m[2]), int(m[3])
        else:
            m = _VN_DATE.fullmatch(text)
            if not m:
                return self.error(node, f"'{raw}' không đúng dạng ngày ({what}) — viết NĂM-THÁNG-NGÀY, ví dụ 2026-04-21")
            d, mo, y = int(m[1]), int(m[2]), int(m[3])
        if not 1 <= y <= 9999:
            return self.error(node, f"năm trong '{raw}' không hợp lệ ({what}) — viết NĂM-THÁNG-NGÀY, ví dụ 2026-04-21")
        if not 1 <= mo <= 12:
            return self.error(node, f"ngày '{raw}' không tồn tại ({what}) — tháng phải từ 1 đến 12")
        last = calendar.monthrange(y, mo)[1]
        if not 1 <= d <= last:
            return self.error(node, f"ngày '{raw}' không tồn tại ({what}) — tháng {mo} năm {y} chỉ có {last} ngày")
        return date(y, mo, d)

    def sequence(self, node: Node, what: str, allow_scalar: bool = True) -> list[Node] | Any:
        """Items of a list; a single scalar counts as a list of one when ``allow_scalar``."""
        if isinstance(node, SequenceNode):
            return list(node.value)
        if allow_scalar and isinstance(node, ScalarNode) and not _is_null(node):
            return [node]
        return self.error(node, f"{what} phải là một danh sách, ví dụ [a, b], không phải {self.describe(node)}")

    def file_path(self, node: Node, what: str) -> Path | Any:
        raw = self.string(node, what)
        if raw is INVALID:
            return raw
        p = Path(raw.strip()).expanduser()
        return p if p.is_absolute() else self.base / p

    def audio_file(self, node: Node, what: str) -> Path | Any:
        path = self.file_path(node, what)
        if path is INVALID:
            return path
        if not path.is_file():
            return self.error(node, f"không tìm thấy tệp âm thanh '{node.value}' ({what}; tìm tại {path})")
        from broadcaster.schedule.estimate import audio_seconds

        if audio_seconds(path) <= 0:
            return self.error(
                node, f"không đọc được tệp âm thanh '{node.value}' ({what}) — tệp hỏng hoặc định dạng không hỗ trợ (dùng WAV hoặc MP3)"
            )
        return path

    # -- sections --------------------------------------------------------------------

    def build(self, root: Node) -> Schedule | None:
        top = self.mapping(
            root,
            "tệp lịch",
            ("campaign", "policy", "defaults", "output", "api", "state_dir", "slots"),
            ("campaign", "slots"),
        )
        if top is None:
            return None
        campaign = self.campaign(top["campaign"][1], top["campaign"][0]) if "campaign" in top else INVALID
        policy = self.policy(top["policy"][1]) if "policy" in top else Policy()
        defaults = self.defaults(top["defaults"][1]) if "defaults" in top else Defaults()
        output = self.output(top["output"][1]) if "output" in top else Output()
        api = self.api(top["api"][1]) if "api" in top else Api()
        state_dir = None
        if "state_dir" in top:
            state_dir = self.file_path(top["state_dir"][1], "state_dir")
        slots: list[Slot] = []
        slot_nodes: list[tuple[Slot, dict]] = []
        if "slots" in top:
            slot_nodes = self.slots(top["slots"][1], defaults if defaults is not INVALID else Defaults(), campaign)
            slots = [s for s, _ in slot_nodes]
        if self.errors:
            return None
        schedule = Schedule(
            path=self.path,
            campaign=campaign,
            slots=tuple(slots),
            policy=policy,
            defaults=defaults,
            output=output,
            api=api,
            state_dir=state_dir,
        )
        self.check_policy(schedule, slot_nodes)
        return schedule

    def campaign(self, node: Node, key: Node) -> Campaign | Any:
        m = self.mapping(node, "campaign", ("name", "start", "end", "timezone"), ("name", "start", "end"), anchor=key)
        if m is None:
            return INVALID
        name = self.string(m["name"][1], "campaign.name") if "name" in m else INVALID
        start = self.day(m["start"][1], "campaign.start") if "start" in m else INVALID
        end = self.day(m["end"][1], "campaign.end") if "end" in m else INVALID
        if isinstance(start, date) and isinstance(end, date) and end < start:
            self.error(
                m["end"][1],
                f"ngày kết thúc {end.isoformat()} trước ngày bắt đầu {start.isoformat()} — kiểm tra lại campaign.start và campaign.end",
            )
            end = INVALID
        tz = self.timezone(m["timezone"][1]) if "timezone" in m else ZoneInfo(DEFAULT_TIMEZONE)
        if INVALID in (name, start, end, tz):
            return INVALID
        return Campaign(name=name.strip(), start=start, end=end, timezone=tz)

    def timezone(self, node: Node) -> ZoneInfo | Any:
        raw = self.string(node, "campaign.timezone")
        if raw is INVALID:
            return raw
        name = raw.strip()
        try:
            if ".." in name or name.startswith("/"):
                raise ValueError(name)
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            import zoneinfo

            close = difflib.get_close_matches(name, sorted(zoneinfo.available_timezones()), n=1, cutoff=0.6)
            hint = f" — có phải ý bạn là '{close[0]}'?" if close else f" — ở Việt Nam dùng '{DEFAULT_TIMEZONE}'"
            return self.error(node, f"múi giờ '{name}' không tồn tại{hint}")

    def policy(self, node: Node) -> Policy | Any:
        m = self.mapping(node, "policy", allow_null=True, allowed=("earliest", "latest", "max_session_minutes"))
        if m is None:
            return INVALID
        base = Policy()
        earliest = self.time_of_day(m["earliest"][1], "policy.earliest") if "earliest" in m else base.earliest
        latest = self.time_of_day(m["latest"][1], "policy.latest") if "latest" in m else base.latest
        maximum = (
            self.number(m["max_session_minutes"][1], "policy.max_session_minutes", 0.0, strict=True)
            if "max_session_minutes" in m
            else base.max_session_minutes
        )
        if isinstance(earliest, time) and isinstance(latest, time) and latest < earliest:
            self.error(m["latest"][1], f"policy.latest ({_fmt_time(latest)}) sớm hơn policy.earliest ({_fmt_time(earliest)})")
            return INVALID
        if INVALID in (earliest, latest, maximum):
            return INVALID
        return Policy(earliest=earliest, latest=latest, max_session_minutes=maximum)

    def defaults(self, node: Node) -> Defaults | Any:
        m = self.mapping(node, "defaults", allow_null=True, allowed=("chime", "repeat", "gap_seconds", "voice"))
        if m is None:
            return INVALID
        base = Defaults()
        chime = base.chime
        if "chime" in m:
            chime = None if _is_null(m["chime"][1]) else self.audio_file(m["chime"][1], "defaults.chime")
        repeat = self.integer(m["repeat"][1], "defaults.repeat", 1, 20) if "repeat" in m else base.repeat
        gap = self.number(m["gap_seconds"][1], "defaults.gap_seconds") if "gap_seconds" in m else base.gap_seconds
        voice = self.voice(m["voice"][1]) if "voice" in m else base.voice
        if INVALID in (chime, repeat, gap, voice):
            return INVALID
        return Defaults(chime=chime, repeat=repeat, gap_seconds=gap, voice=voice)

    def voice(self, node: Node) -> tuple[str, ...] | Any:
        entries = self.sequence(node, "defaults.voice")
        if entries is INVALID:
            return entries
        if not entries:
            return self.error(node, "defaults.voice trống — ghi ít nhất một giọng đọc, ví dụ [gtts, espeak]")
        specs: list[str] = []
        for entry in entries:
            spec = self.string(entry, "defaults.voice")
            if spec is INVALID:
                continue
            spec = spec.strip()
            engine = spec.split(":", 1)[0].strip().lower()
            if engine not in KNOWN_ENGINES:
                self.warning(entry, f"giọng đọc '{spec}' không rõ{_did_you_mean(engine, KNOWN_ENGINES)}")
            specs.append(spec)
        if len(specs) != len(entries):
            return INVALID
        return tuple(specs)

    def output(self, node: Node) -> Output | Any:
        m = self.mapping(node, "output", allow_null=True, allowed=("device", "grace_minutes"))
        if m is None:
            return INVALID
        device: Any = None
        if "device" in m:
            dnode = m["device"][1]
            if _is_null(dnode):
                device = None
            else:
                raw = self.scalar(dnode, "output.device")
                if raw is not INVALID and dnode.style is None and _INT.fullmatch(raw.strip()):
                    device = int(raw)
                else:
                    device = raw if raw is INVALID else raw.strip()
        grace = self.number(m["grace_minutes"][1], "output.grace_minutes") if "grace_minutes" in m else Output().grace_minutes
        if INVALID in (device, grace):
            return INVALID
        return Output(device=device, grace_minutes=grace)

    def api(self, node: Node) -> Api | Any:
        m = self.mapping(node, "api", allow_null=True, allowed=("host", "port"))
        if m is None:
            return INVALID
        host = self.string(m["host"][1], "api.host") if "host" in m else Api().host
        port = self.integer(m["port"][1], "api.port", 1, 65535) if "port" in m else Api().port
        if INVALID in (host, port):
            return INVALID
        return Api(host=host.strip(), port=port)

    # -- slots -----------------------------------------------------------------------

    SLOT_KEYS = (
        "name", "at", "days", "dates", "skip_dates", "priority", "enabled",
        "repeat", "gap_seconds", "chime", "play",
    )  # fmt: skip

    def slots(self, node: Node, defaults: Defaults, campaign: Campaign | Any) -> list[tuple[Slot, dict]]:
        entries = self.sequence(node, "slots", allow_scalar=False)
        if entries is INVALID:
            return []
        if not entries:
            self.warning(node, "danh sách slots trống — chưa có buổi phát nào được lên lịch")
        built: list[tuple[Slot, dict]] = []
        names: dict[str, int] = {}
        for index, entry in enumerate(entries, 1):
            slot, m = self.slot(entry, index, defaults, campaign)
            if m is not None and "name" in m and isinstance(slot, Slot):
                if slot.name in names:
                    self.error(
                        m["name"][1],
                        f"tên buổi phát '{slot.name}' bị trùng (đã dùng ở dòng {names[slot.name]}) — mỗi buổi cần một tên riêng",
                    )
                else:
                    names[slot.name] = m["name"][1].start_mark.line + 1
            if isinstance(slot, Slot):
                built.append((slot, m))
        return built

    def slot(self, node: Node, index: int, defaults: Defaults, campaign: Campaign | Any) -> tuple[Slot | Any, dict | None]:
        m = self.mapping(node, f"buổi phát thứ {index}", self.SLOT_KEYS, ("name", "at", "play"))
        if m is None:
            return INVALID, None
        name = self.string(m["name"][1], "name của buổi phát") if "name" in m else INVALID
        name = name.strip() if isinstance(name, str) else INVALID
        label = f"buổi phát '{name}'" if isinstance(name, str) else f"buổi phát thứ {index}"
        times = self.times(m["at"][1], label) if "at" in m else INVALID
        days = self.weekdays(m["days"][1], label) if "days" in m and not _is_null(m["days"][1]) else None
        dates = None
        if "dates" in m and not _is_null(m["dates"][1]):
            dates = self.dates(m["dates"][1], f"dates của {label}", campaign, warn_outside=True)
            if isinstance(dates, frozenset) and not dates:
                dates = self.error(m["dates"][1], f"dates của {label} trống — bỏ khóa 'dates' nếu muốn phát mọi ngày")
        skip = frozenset()
        if "skip_dates" in m and not _is_null(m["skip_dates"][1]):
            skip = self.dates(m["skip_dates"][1], f"skip_dates của {label}", campaign, warn_outside=False)
        priority = self.priority(m["priority"][1], label) if "priority" in m else Priority.NORMAL
        enabled = self.boolean(m["enabled"][1], f"enabled của {label}") if "enabled" in m else True
        repeat = self.integer(m["repeat"][1], f"repeat của {label}", 1, 20) if "repeat" in m else defaults.repeat
        gap = self.number(m["gap_seconds"][1], f"gap_seconds của {label}") if "gap_seconds" in m else defaults.gap_seconds
        chime = defaults.chime
        if "chime" in m:
            chime = None if _is_null(m["chime"][1]) else self.audio_file(m["chime"][1], f"chime của {label}")
        play = self.play(m["play"][1], label) if "play" in m else INVALID
        values = (name, times, days, dates, skip, priority, enabled, repeat, gap, chime, play)
        if any(v is INVALID for v in values):
            return INVALID, m
        return (
            Slot(
                name=name,
                times=times,
                play=play,
                days=days,
                dates=dates,
                skip_dates=skip,
                priority=priority,
                enabled=enabled,
                repeat=repeat,
                gap_seconds=gap,
                chime=chime,
                line=node.start_mark.line + 1,
            ),
            m,
        )

    def times(self, node: Node, label: str) -> tuple[time, ...] | Any:
        entries = [] if _is_null(node) else self.sequence(node, f"at của {label}")
        if entries is INVALID:
            return entries
        if not entries:
            return self.error(node, f"at của {label} trống — ghi ít nhất một giờ phát, ví dụ \"06:30\"")
        out: list[time] = []
        bad = False
        for entry in entries:
            t = self.time_of_day(entry, f"giờ phát của {label}")
            if t is INVALID:
                bad = True
            elif t in out:
                self.warning(entry, f"giờ {_fmt_time(t)} của {label} bị ghi hai lần — chỉ phát một lần")
            else:
                out.append(t)
        return INVALID if bad else tuple(out)

    def weekdays(self, node: Node, label: str) -> frozenset[int] | Any:
        entries = self.sequence(node, f"days của {label}")
        if entries is INVALID:
            return entries
        if not entries:
            return self.error(node, f"days của {label} trống — bỏ khóa 'days' nếu muốn phát mọi ngày")
        out: set[int] = set()
        bad = False
        for entry in entries:
            raw = self.string(entry, f"ngày trong tuần của {label}")
            if raw is INVALID:
                bad = True
                continue
            key = " ".join(raw.strip().lower().split())
            if key not in _WEEKDAYS:
                hint = _did_you_mean(key, ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
                self.error(entry, f"'{raw}' không phải tên ngày trong tuần (days của {label}){hint}")
                bad = True
                continue
            out.add(_WEEKDAYS[key])
        return INVALID if bad else frozenset(out)

    def dates(self, node: Node, what: str, campaign: Campaign | Any, warn_outside: bool) -> frozenset[date] | Any:
        entries = self.sequence(node, what)
        if entries is INVALID:
            return entries
        out: set[date] = set()
        bad = False
        for entry in entries:
            d = self.day(entry, what)
            if d is INVALID:
                bad = True
                continue
            if warn_outside and isinstance(campaign, Campaign) and not campaign.start <= d <= campaign.end:
                self.warning(
                    entry,
                    f"ngày {d.isoformat()} ({what}) nằm ngoài thời gian chiến dịch "
                    f"{campaign.start.isoformat()} → {campaign.end.isoformat()} — sẽ không phát",
                )
            out.add(d)
        return INVALID if bad else frozenset(out)

    def priority(self, node: Node, label: str) -> Priority | Any:
        raw = self.string(node, f"priority của {label}")
        if raw is INVALID:
            return raw
        key = " ".join(raw.strip().lower().split())
        if key in _PRIORITIES:
            return _PRIORITIES[key]
        if key in _EMERGENCY:
            return self.error(
                node,
                f"mức 'emergency' (khẩn cấp) không dùng trong lịch cố định ({label}) — tin khẩn cấp phát ngay "
                "bằng lệnh 'broadcaster say' hoặc 'broadcaster play'; trong lịch dùng normal hoặc priority",
            )
        return self.error(node, f"priority '{raw}' của {label} không hợp lệ{_did_you_mean(key, ('normal', 'priority'))}")

    def play(self, node: Node, label: str) -> tuple[Item, ...] | Any:
        if _is_null(node) or (isinstance(node, SequenceNode) and not node.value):
            return self.error(node, f"play của {label} trống — thêm ít nhất một mục (script, text hoặc audio)")
        entries = self.sequence(node, f"play của {label}", allow_scalar=False)
        if entries is INVALID:
            return entries
        items: list[Item] = []
        for n, entry in enumerate(entries, 1):
            item = self.item(entry, f"mục {n} trong play của {label}")
            if item is not INVALID:
                items.append(item)
        return tuple(items) if len(items) == len(entries) else INVALID

    def item(self, node: Node, what: str) -> Item | Any:
        if isinstance(node, ScalarNode):
            return self.error(
                node,
                f"{what} cần ghi rõ loại: '- script: {node.value}', '- text: \"...\"' hoặc '- audio: tep.wav'",
            )
        m = self.mapping(node, what, ("script", "text", "audio"))
        if m is None:
            return INVALID
        if len(m) != 1:
            if not m:
                if not node.value:
                    return self.error(node, f"{what} trống — ghi 'script:', 'text:' hoặc 'audio:'")
                return INVALID  # unknown key already reported
            return self.error(node, f"{what} chỉ được có một trong 'script', 'text', 'audio' — tách thành các mục riêng")
        kind, (key_node, value_node) = next(iter(m.items()))
        if kind == "text":
            text = self.string(value_node, what)
            if text is INVALID:
                return text
            return Item(ItemKind.TEXT, text.strip())
        if kind == "audio":
            path = self.audio_file(value_node, what)
            if path is INVALID:
                return path
            return Item(ItemKind.AUDIO, value_node.value.strip(), path)
        return self.script(value_node, what)

    def script(self, node: Node, what: str) -> Item | Any:
        slug = self.string(node, what)
        if slug is INVALID:
            return slug
        slug = slug.strip()
        if slug.endswith(".txt"):
            slug = slug[: -len(".txt")]
        if "/" in slug or "\\" in slug or slug.startswith("."):
            return self.error(node, f"tên kịch bản '{slug}' chỉ là tên tệp trong {SCRIPTS_DIR}/, không có '/' (ví dụ: khau-hieu)")
        scripts = self.base / SCRIPTS_DIR
        path = scripts / f"{slug}.txt"
        if not path.is_file():
            existing = sorted(p.stem for p in scripts.glob("*.txt")) if scripts.is_dir() else []
            close = difflib.get_close_matches(slug, existing, n=1, cutoff=0.6)
            hint = f" — có phải ý bạn là '{close[0]}'?" if close else f" — hãy tạo tệp {SCRIPTS_DIR}/{slug}.txt"
            return self.error(node, f"không tìm thấy kịch bản '{slug}' ({SCRIPTS_DIR}/{slug}.txt){hint}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            return self.error(node, f"không đọc được kịch bản {SCRIPTS_DIR}/{slug}.txt: {exc.strerror or exc}")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            return self.error(
                node,
                f"kịch bản {SCRIPTS_DIR}/{slug}.txt không phải mã UTF-8 (lỗi ở dòng {line} của tệp) — "
                "mở bằng trình soạn thảo và lưu lại với mã hóa UTF-8",
            )
        if not text.strip():
            return self.error(node, f"kịch bản {SCRIPTS_DIR}/{slug}.txt trống — hãy viết nội dung cần đọc")
        return Item(ItemKind.SCRIPT, slug, path)

    # -- policy ----------------------------------------------------------------------

    def check_policy(self, schedule: Schedule, slot_nodes: list[tuple[Slot, dict]]) -> None:
        """Warn about slots outside the allowed hours, over-long sessions and slots that never air."""
        from broadcaster.schedule.estimate import estimate_session_seconds
        from broadcaster.schedule.plan import slot_dates

        policy, campaign = schedule.policy, schedule.campaign
        for slot, m in slot_nodes:
            if not slot.enabled:
                continue
            seconds = estimate_session_seconds(slot.play, slot.repeat, slot.gap_seconds, slot.chime)
            limit = policy.max_session_minutes * 60
            if seconds > limit:
                self.warning(
                    m["play"][0],
                    f"buổi phát '{slot.name}' dài khoảng {_fmt_minutes(seconds)} (lặp {slot.repeat} lần), "
                    f"vượt giới hạn {policy.max_session_minutes:g} phút mỗi buổi — bớt nội dung hoặc giảm repeat",
                )
            at_node = m["at"][1]
            time_nodes = at_node.value if isinstance(at_node, SequenceNode) else [at_node]
            by_time = {}
            for n in time_nodes:
                mt = _TIME.fullmatch(n.value.strip()) if isinstance(n, ScalarNode) else None
                if mt:
                    by_time.setdefault(time(int(mt[1]), int(mt[2]), int(mt[3] or 0)), n)
            for t in slot.times:
                where = by_time.get(t, at_node)
                if t < policy.earliest:
                    self.warning(
                        where,
                        f"buổi phát '{slot.name}' lúc {_fmt_time(t)} sớm hơn giờ cho phép ({_fmt_time(policy.earliest)}) — dễ làm phiền bà con",
                    )
                elif t > policy.latest:
                    self.warning(
                        where,
                        f"buổi phát '{slot.name}' lúc {_fmt_time(t)} muộn hơn giờ cho phép ({_fmt_time(policy.latest)})",
                    )
                else:
                    end_s = t.hour * 3600 + t.minute * 60 + t.second + seconds
                    latest_s = policy.latest.hour * 3600 + policy.latest.minute * 60 + policy.latest.second
                    if end_s > latest_s:
                        h, rest = divmod(int(end_s), 3600)
                        self.warning(
                            where,
                            f"buổi phát '{slot.name}' lúc {_fmt_time(t)} kết thúc khoảng {h % 24:02d}:{rest // 60:02d}, "
                            f"quá giờ cho phép ({_fmt_time(policy.latest)})",
                        )
            if next(slot_dates(slot, campaign.start, campaign.end), None) is None:
                self.warning(
                    m["name"][1],
                    f"buổi phát '{slot.name}' không có lần phát nào trong thời gian chiến dịch — kiểm tra days, dates, skip_dates",
                )


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.style is None and node.value in _NULLS


def _syntax_diagnostic(exc: yaml.YAMLError, shown: Path, text: str) -> Diagnostic:
    """A PyYAML syntax error, pointed at the most useful place and explained in Vietnamese."""
    problem = getattr(exc, "problem", None) or ""
    context = getattr(exc, "context", None) or ""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    message = None
    if "quoted scalar" in context and "end of stream" in problem:
        # the end of the file is useless to the operator; the opening quote is where to look
        mark = exc.context_mark
        message = "chuỗi mở ngoặc ở đây chưa được đóng — thêm dấu ngoặc đóng ở cuối chuỗi"
    elif "quoted scalar" in context:
        mark = exc.context_mark
        message = f"chuỗi trong ngoặc ở đây viết sai ({problem})"
    else:
        for needle, vi in _YAML_PROBLEMS:
            if needle in problem or needle in context:
                message = vi
                break
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        return Diagnostic(shown, line, col, f"có ký tự điều khiển không hợp lệ (mã {exc.character!r}) — xóa ký tự này", "error")
    if message is None:
        message = f"lỗi cú pháp YAML: {problem or exc}".rstrip()
        if context:
            message += f" ({context})"
    line = mark.line + 1 if mark is not None else 1
    col = mark.column + 1 if mark is not None else 1
    return Diagnostic(shown, line, col, message, "error")


def load_schedule(path: Path) -> LoadResult:
    """Read, check and build a schedule; never raises for bad input, every problem is in the result."""
    shown = Path(path)
    resolved = shown.expanduser().absolute()

    def fail(message: str, line: int = 1, col: int = 1) -> LoadResult:
        return LoadResult(None, [Diagnostic(shown, line, col, message, "error")], [])

    try:
        data = resolved.read_bytes()
    except FileNotFoundError:
        return fail("không tìm thấy tệp lịch phát — kiểm tra đường dẫn hoặc chỉ định bằng --schedule ĐƯỜNG_DẪN")
    except IsADirectoryError:
        return fail("đây là một thư mục, không phải tệp lịch — chỉ định tệp, ví dụ --schedule schedule.yaml")
    except OSError as exc:
        return fail(f"không đọc được tệp lịch phát: {exc.strerror or exc}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        return fail("tệp lịch không phải mã UTF-8 — mở bằng trình soạn thảo và lưu lại với mã hóa UTF-8", line, col)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return LoadResult(None, [_syntax_diagnostic(exc, shown, text)], [])
    if root is None or _is_null(root):
        return fail("tệp lịch trống — cần ít nhất 'campaign:' và 'slots:' (xem mẫu schedule.yaml)")

    builder = _Builder(resolved, shown)
    schedule = builder.build(root)
    key: Callable[[Diagnostic], tuple[int, int]] = lambda d: (d.line, d.col)  # noqa: E731
    errors = sorted(builder.errors, key=key)
    warnings = sorted(builder.warnings, key=key)
    return LoadResult(None if errors else schedule, errors, warnings)


def parse_day(text: str) -> date:
    """Parse a date as the operator types it: ``2026-04-21`` or ``21/04/2026`` (raises ValueError)."""
    text = text.strip()
    m = _ISO_DATE.fullmatch(text)
    if m:
        return date(int(m[1]), int(m[2]), int(m[3]))
    m = _VN_DATE.fullmatch(text)
    if m:
        return date(int(m[3]), int(m[2]), int(m[1]))
    raise ValueError(text)


__all__ = ["Diagnostic", "LoadResult", "load_schedule", "parse_day"]

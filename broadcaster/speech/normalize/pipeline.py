"""The passes in their order, and the three ways to run them: normalize, analyze, explain.

The order matters because earlier passes need the raw text: a web address before its dots
become "chấm" words, a phone number before its digits become a cardinal, a document number
before its code is taken for abbreviations, a date range before its dash becomes a pause.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import rules_dates as d
from . import rules_numbers as n
from . import rules_offices as o
from . import rules_text as t
from . import rules_web as w
from .context import Context
from .lexicon import Lexicon, builtin_abbreviations, builtin_pronunciations
from .tracker import Ambiguity, Span, Tracker

Rule = Callable[[re.Match[str], Context], "str | None"]
Pass = tuple[str, "re.Pattern[str] | Callable[[Context], re.Pattern[str] | None]", Rule]

#: rule id → what an operator reads in ``broadcaster normalize --explain``
RULE_LABELS = {
    "markdown": "bỏ dấu định dạng", "line": "đầu dòng, mục, gạch đầu dòng", "end-mark": "dấu kết thúc văn bản",
    "email": "thư điện tử", "url": "địa chỉ trang web", "pronunciation": "cách đọc (danh sách cách đọc)",
    "phone": "số điện thoại", "service-number": "số dịch vụ khẩn cấp", "document-number": "số văn bản",
    "km-marker": "cây số trên đường", "district": "quận, phường", "weekday": "thứ trong tuần",
    "money": "tiền (tr, tr.đ, k)", "code": "mã số", "road": "tên đường", "chain": "dãy số",
    "abbreviation": "chữ viết tắt", "standing": "Thường trực, Công an (theo từ đi sau)",
    "office": "tên cơ quan sau Bộ, Sở, Phòng, Ban, Trạm", "unit": "đơn vị đo", "per": "trên mỗi (/)",
    "roman": "số La Mã", "date": "ngày tháng năm", "score": "tỷ số", "ratio": "tỷ lệ", "range": "khoảng (đến)",
    "date-range": "khoảng ngày", "month-year": "tháng năm", "fraction": "phân số", "day-month": "ngày tháng",
    "time": "giờ", "mung": "ngày mùng", "ordinal": "số thứ tự", "month": "tháng", "slash": "dấu gạch chéo",
    "number": "số", "pause": "ngắt nghỉ",
}  # fmt: skip

_FRACTION_SLASH = re.compile(r"(?<=\d)/(?=\d)")

PASSES: list[Pass] = [
    ("end-mark", t.SLASH_DOT_END, t.slash_dot_end),
    ("email", w.EMAIL, w.email),
    ("url", w.URL, w.url),
    ("pronunciation", lambda c: t.pronunciation_regex(c.pronunciations), t.pronunciation),
    ("phone", n.PHONE, n.phone),
    ("service-number", n.SERVICE, n.service),
    ("document-number", n.DOC, n.doc),
    ("code", n.CODE_DIGITS, n.code_digits),
    ("road", n.ROAD, n.road),
    ("km-marker", n.KM_MARKER, n.km_marker),
    ("district", n.DISTRICT, n.district),
    ("weekday", d.WEEKDAY_GROUP, d.weekdays),
    ("money", n.MONEY_SUFFIX, n.money_suffix),
    ("standing", o.STANDING, o.standing),
    ("office", o.OFFICE, o.office),
    ("abbreviation", lambda c: t.abbreviation_regex(c.abbreviations), t.abbreviation),
    ("unit", t.UNIT, t.unit),
    ("per", t.PER, t.per),
    ("roman", t.ROMAN_AFTER, t.roman_after),
    ("per", t.SLASH_BEFORE_NUMBER, lambda m, c: " trên "),
    ("date", d.DASH_DATE, d.dash_date),
    ("date", d.ISO_DATE, d.iso_date),
    ("chain", n.CHAIN, n.chain),
    ("score", n.SCORE, n.score),
    ("ratio", n.RATIO, n.ratio),
    ("range", d.RANGE, lambda m, c: " đến "),
    ("date-range", d.DATE_RANGE, d.date_range),
    ("date", d.DATE_FULL, d.date_full),
    ("month-year", d.MONTH_YEAR, d.month_year),
    ("fraction", d.FRACTION, d.fraction),
    ("day-month", d.DAY_MONTH, d.day_month),
    ("time", d.TIME_H, d.time_h),
    ("time", d.TIME_COLON, d.time_colon),
    ("time", d.TIME_WORDS, d.time_words),
    ("mung", d.NGAY_MUNG, d.ngay_mung),
    ("ordinal", d.ORDINAL, d.ordinal),
    ("month", d.MONTH, d.month),
    ("slash", _FRACTION_SLASH, lambda m, c: " trên "),
    ("number", n.NUMBER, n.number),
    ("pause", t.SPACED_DASH, t.pause),
    ("pause", t.TIGHT_DASH, lambda m, c: ", "),
    ("pause", t.HYPHEN, lambda m, c: " "),
    ("markdown", t.STRAY_STAR, lambda m, c: ""),
]


@dataclass(frozen=True)
class Analysis:
    """The spoken text, the span each rule produced, and the spans that read two ways."""

    text: str  # the input, NFC-normalized (span positions refer to it)
    spoken: str
    spans: list[Span]
    warnings: list[Ambiguity]


def _lists(
    abbreviations: Mapping[str, str] | None, pronunciations: Mapping[str, str] | None
) -> tuple[Mapping[str, str], Mapping[str, str]]:
    if pronunciations is None:
        pronunciations = abbreviations.pronunciations if isinstance(abbreviations, Lexicon) else None
    return (
        builtin_abbreviations() if abbreviations is None else abbreviations,
        builtin_pronunciations() if pronunciations is None else pronunciations,
    )


def _run(
    text: str, abbreviations: Mapping[str, str] | None, pronunciations: Mapping[str, str] | None, track: bool
) -> Tracker:
    abbreviations, pronunciations = _lists(abbreviations, pronunciations)
    tracker = Tracker(unicodedata.normalize("NFC", text), track=track)
    ctx = Context(abbreviations, pronunciations, tracker)
    tracker.sub(t.MD_EMPHASIS, lambda m: "", "markdown")
    tracker.apply(t.line_edits(tracker.text), "line")
    for rule, pattern, fn in PASSES:
        regex = pattern if isinstance(pattern, re.Pattern) else pattern(ctx)
        if regex is not None:
            tracker.sub(regex, lambda m, fn=fn: fn(m, ctx), rule)  # type: ignore[misc]
    tracker.apply([], "")  # collect the last pass's ambiguity notes
    return tracker


def normalize(
    text: str, abbreviations: Mapping[str, str] | None = None, pronunciations: Mapping[str, str] | None = None
) -> str:
    """Rewrite ``text`` as it will be spoken (no digits left).

    ``abbreviations=None`` uses the built-in list; a :class:`Lexicon` brings its pronunciations
    along; ``pronunciations=None`` otherwise means the built-in pronunciations. Never raises on
    any ``str``.
    """
    return _run(text, abbreviations, pronunciations, track=False).text


def analyze(
    text: str, abbreviations: Mapping[str, str] | None = None, pronunciations: Mapping[str, str] | None = None
) -> Analysis:
    """Like :func:`normalize`, also returning which rule produced each span and the ambiguous spans."""
    tracker = _run(text, abbreviations, pronunciations, track=True)
    return Analysis(tracker.source, tracker.text, tracker.spans(), tracker.ambiguities)

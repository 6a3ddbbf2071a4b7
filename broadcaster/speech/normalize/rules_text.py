"""Layout (headings, bullets, dashes), the reading lists, units and Roman numerals."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from .context import Context
from .numbers import LETTER_NAMES, number_to_words, ordinal_words, roman_to_int
from .tracker import Edit

PUNCT_END = ".,;:!?…"
_CLOSERS = "”’\"')]»"

MD_EMPHASIS = re.compile(r"\*{2,3}")
_MD_HEADING = re.compile(r"^([ \t]*)#{1,6}[ \t]+")
_BULLET = re.compile(r"^([ \t]*)[-–—•*+](?:[ \t]+|(?=[^\W\d_]))")
_HEADING = re.compile(
    r"^([ \t]*)(?:(?P<roman>[IVX]+)\.|(?P<num>\d{1,2}(?:\.\d{1,2})*)[.)]"
    r"|(?P<letter>[a-zđ])[.)]|(?P<upper>[A-ZĐ])[.)])[ \t]+"
)
SLASH_DOT_END = re.compile(r"\./\.")

UNITS = {
    "km/h": "ki lô mét trên giờ", "km2": "ki lô mét vuông", "km²": "ki lô mét vuông", "m/s": "mét trên giây",
    "m2": "mét vuông", "m²": "mét vuông", "m3": "mét khối", "m³": "mét khối",
    "km": "ki lô mét", "kg": "ki lô gam", "ha": "héc ta", "cm": "xăng ti mét", "mg": "mi li gam",
    "mm2": "mi li mét vuông", "mm²": "mi li mét vuông", "cm2": "xăng ti mét vuông", "cm²": "xăng ti mét vuông",
    "cm3": "xăng ti mét khối", "cm³": "xăng ti mét khối", "mg/l": "mi li gam trên lít", "kVA": "ki lô vôn ampe",
    "kV": "ki lô vôn", "MW": "mê ga oát", "Mbps": "mê ga bít trên giây", "mm": "mi li mét", "ml": "mi li lít",
    "m": "mét", "°C": "độ xê", "℃": "độ xê", "°": "độ",
    "kWh": "ki lô oát giờ", "kW": "ki lô oát", "đ": "đồng",
}  # fmt: skip
UNIT = re.compile(r"(?<=\d)[ \t]?(" + "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True)) + r")(?!\w)")
PER = re.compile(
    r"(?<=[^\W\d_]|%)/(người|hộ|ngày|tháng|năm|lần|suất|tấn|lít|kg|ha|m2|m²|m3|km|ca|buổi|con|bao|liều"
    r"|lượt|tuần|giờ|sào|cái|chiếc|kWh|giấy|trang|bản|hồ sơ|lớp|học sinh|em|cháu|xe|thửa|gói)(?!\w)"
)
# "1 kg/10 m2" → một ki lô gam trên mười mét vuông
SLASH_BEFORE_NUMBER = re.compile(r"(?<=[^\W\d_])/(?=\d)")
ROMAN_AFTER = re.compile(
    r"(?<!\w)(?P<kw>quý|khóa|khoá|thế kỷ|thế kỉ|lần thứ|thứ|đại hội|phần|chương|mục|giai đoạn|nhiệm kỳ|học kỳ|học kì"
    r"|kỳ|đợt|cấp|hạng|tuần|vòng|báo động)[ \t]+(?P<roman>[IVX]+)(?:/(?P<year>\d{4}))?(?![\w])",
    re.I,
)
SPACED_DASH = re.compile(r"[ \t]+[-–—•*][ \t]+")
TIGHT_DASH = re.compile(r"(?<=\w)[–—•](?=\w)")
HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")
STRAY_STAR = re.compile(r"\*")


def _heading_words(m: re.Match[str]) -> str | None:
    if m.group("roman"):
        value = roman_to_int(m.group("roman"))
        return number_to_words(value) if value else None
    if m.group("num"):
        return " chấm ".join(number_to_words(int(p)) for p in m.group("num").split("."))
    letter = (m.group("letter") or m.group("upper")).lower()
    return LETTER_NAMES.get(letter, letter)


def _line_edits(line: str, continues: bool) -> list[Edit]:
    """Markdown markers, bullets and heading numbers at the start of one line, as edits of the line."""
    consumed, prefix, marked = 0, "", False  # line[:consumed] is read as ``prefix``
    for pattern in (_MD_HEADING, _BULLET, _HEADING):
        m = pattern.match(prefix + line[consumed:])
        if not m:
            continue
        spoken = _heading_words(m) if pattern is _HEADING else ""
        if spoken is None:
            continue
        consumed += m.end() - len(prefix)
        prefix = m.group(1) + (f"{spoken}, " if pattern is _HEADING else "")
        marked = True
    edits: list[Edit] = []
    if not marked:
        return edits
    new = prefix + line[consumed:]
    body = new.rstrip()
    core = body.rstrip(_CLOSERS)
    period = not continues and bool(core) and core[-1] not in PUNCT_END
    if period and len(body) <= len(prefix):  # nothing after the marker: the period joins the prefix
        prefix, period = body + "." + prefix[len(body) :], False
    edits.append((0, consumed, prefix))
    if period:
        at = consumed + len(body) - len(prefix)
        edits.append((at, at, "."))
    return edits


def line_edits(text: str) -> list[Edit]:
    """Edits for every line: heading numbers read, bullets dropped, a period where a marked line ends."""
    lines = text.split("\n")
    starts_lower = [line.strip()[:1].islower() if line.strip() else None for line in lines]
    following: bool = False  # does the next non-blank line start in lower case?
    continues = [False] * len(lines)
    for i in range(len(lines) - 1, -1, -1):
        continues[i] = following
        if starts_lower[i] is not None:
            following = bool(starts_lower[i])
    edits: list[Edit] = []
    offset = 0
    for i, line in enumerate(lines):
        body = line[:-1] if line.endswith("\r") else line
        edits += [(offset + a, offset + b, s) for a, b, s in _line_edits(body, continues[i]) if (a, b, s) != (a, a, "")]
        offset += len(line) + 1
    return [e for e in edits if not (e[0] == e[1] and not e[2]) and text[e[0] : e[1]] != e[2]]


def slash_dot_end(m: re.Match[str], ctx: Context) -> str:
    """The "./." that closes an administrative document."""
    return "."


def _trie(keys: list[str], tail: str, space: str = " ") -> str:
    """One regex for many keys, sharing prefixes (a 200-way alternation is 10× slower).

    Longer keys are tried before a shorter key ending at the same place, so the longest key wins
    ("KH&CN" before "KH"); ``tail`` guards the end of keys that end with a word character.
    """
    Trie = dict[str, Any]
    root: Trie = {}
    for key in keys:
        node = root
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {"end": key}

    def build(node: Trie) -> str:
        alts = [(space if ch == " " else re.escape(ch)) + build(child) for ch, child in sorted(node.items()) if ch]
        if "" in node:
            alts.append(tail if re.match(r"\w", node[""]["end"][-1]) else "")
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return build(root)


def _keyed_regex(
    keys: tuple[str, ...], lead: str, tail: str, flags: int = 0, space: str = " "
) -> re.Pattern[str] | None:
    words = [k for k in keys if re.match(r"\w", k[0])]
    others = [k for k in keys if not re.match(r"\w", k[0])]
    parts = ([lead + _trie(words, tail, space)] if words else []) + ([_trie(others, tail, space)] if others else [])
    return re.compile("|".join(parts), flags) if parts else None


@lru_cache(maxsize=16)
def _abbreviation_regex(keys: tuple[str, ...]) -> re.Pattern[str] | None:
    return _keyed_regex(keys, r"(?<![\w&])", r"(?![\w&])")


def abbreviation_regex(abbreviations: Mapping[str, str]) -> re.Pattern[str] | None:
    """Whole-token, case-sensitive pattern of every abbreviation (cached per key set)."""
    return _abbreviation_regex(tuple(abbreviations))


def abbreviation(m: re.Match[str], ctx: Context) -> str:
    """UBND → Ủy ban nhân dân."""
    key = m.group(0)
    spoken = ctx.abbreviations[key]
    end = m.end()
    if not re.match(r"\w", key[-1]) and end < len(m.string) and m.string[end].isalnum():
        spoken += " "  # "KT.CHỦ TỊCH" → "ký thay CHỦ TỊCH"
    return spoken


@lru_cache(maxsize=16)
def _pronunciation_regex(keys: tuple[str, ...]) -> re.Pattern[str] | None:
    folded = tuple(sorted({" ".join(k.split()).lower() for k in keys if k.strip()}))
    return _keyed_regex(folded, r"(?<![\w@.])", r"(?![\w@])", re.I, space=r"[ \t]+")


@lru_cache(maxsize=16)
def _folded(items: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {" ".join(k.split()).casefold(): v for k, v in items}


def pronunciation_regex(pronunciations: Mapping[str, str]) -> re.Pattern[str] | None:
    """Whole-word, case-insensitive pattern of every pronunciation entry (cached per key set)."""
    return _pronunciation_regex(tuple(pronunciations))


def pronunciation(m: re.Match[str], ctx: Context) -> str | None:
    """Zalo → da lô; the operator's names and place names as they wrote them."""
    table = _folded(tuple(ctx.pronunciations.items()))
    return table.get(" ".join(m.group(0).split()).casefold())


def unit(m: re.Match[str], ctx: Context) -> str:
    """120 m2 → 120 mét vuông."""
    return " " + UNITS[m.group(1)]


def per(m: re.Match[str], ctx: Context) -> str:
    """đồng/người → đồng một người; đồng/kg → đồng một ki lô gam."""
    return " một " + UNITS.get(m.group(1), m.group(1))


def roman_after(m: re.Match[str], ctx: Context) -> str | None:
    """quý IV → quý bốn, thế kỷ XXI → thế kỷ hai mươi mốt, lần thứ XIII → lần thứ mười ba."""
    value = roman_to_int(m.group("roman").upper()) if m.group("roman").isupper() else None
    if not value:
        return None
    keyword = m.group("kw")
    spoken = ordinal_words(value) if keyword.lower().endswith("thứ") else number_to_words(value)
    out = f"{keyword} {spoken}"
    if m.group("year"):
        out += " năm " + number_to_words(int(m.group("year")))
    return out


def pause(m: re.Match[str], ctx: Context) -> str:
    """A dash or bullet between clauses: a comma, or just a space after punctuation."""
    i = m.start() - 1
    while i >= 0 and m.string[i].isspace():  # look back without copying the text (long texts, many dashes)
        i -= 1
    if i < 0 or m.string[i] in PUNCT_END + "(“‘\"'[":
        return " "
    return ", "

"""Vietnamese text normalizer: rewrites announcement text as a Northern commune announcer reads it.

Runs before every TTS engine. Engines stumble on digits, dates, document numbers, headings
and abbreviations ("I." read as a letter, "21/4" as a fraction, "-" as "gạch ngang"), so
everything is spelled out here in words. The passes run in a fixed order because earlier
ones need the raw digits (a phone number must be recognised before its digits become a
cardinal, a date range before its dash becomes a pause).

Reading conventions chosen (Northern, Hà Nam / Hải Phòng):
- "nghìn", "linh" for a zero tens digit (105 → một trăm linh năm), "không trăm" inside a
  larger number (2026 → hai nghìn không trăm hai mươi sáu), mốt/tư/lăm after "mươi".
- April is "tháng tư"; "thứ 1" is "thứ nhất", "thứ 4" is "thứ tư"; no "mùng/mồng".
- Headings "I.", "1.", "a)" at line start become "một,", "một,", "a,"; the line ends in a
  period so the engine pauses after it.
- Document numbers: "135/QĐ-UBND" → "số một trăm ba mươi lăm, Quyết định Ủy ban nhân dân".
- Phone numbers and other long digit strings are read digit by digit.
- Dashes and bullets become pauses (a comma), never words; a dash between two numbers,
  dates or times is a range and reads "đến".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

__all__ = [
    "DEFAULT_OPERATOR_FILE",
    "digits_to_words",
    "load_abbreviations",
    "normalize",
    "number_to_words",
]

DEFAULT_OPERATOR_FILE = Path("scripts_vi") / "abbreviations.yaml"

# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------

_DIGIT_WORDS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
# After "mươi" (tens ≥ 2) the units digit takes its spoken variant.
_AFTER_MUOI = {1: "mốt", 4: "tư", 5: "lăm"}


def _below_thousand(n: int, inner: bool) -> list[str]:
    """Words for 0 < n < 1000; ``inner`` when a higher group precedes (so 5 → không trăm linh năm)."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or inner:
        words += [_DIGIT_WORDS[hundreds], "trăm"]
    if tens == 0:
        if units:
            words += (["linh"] if words else []) + [_DIGIT_WORDS[units]]
    elif tens == 1:
        words.append("mười")
        if units:
            words.append("lăm" if units == 5 else _DIGIT_WORDS[units])
    else:
        words += [_DIGIT_WORDS[tens], "mươi"]
        if units:
            words.append(_AFTER_MUOI.get(units, _DIGIT_WORDS[units]))
    return words


def _below_billion(n: int, inner: bool) -> list[str]:
    millions, rest = divmod(n, 1_000_000)
    thousands, units = divmod(rest, 1000)
    words: list[str] = []
    for value, scale in ((millions, "triệu"), (thousands, "nghìn"), (units, "")):
        if value:
            words += _below_thousand(value, inner or bool(words))
            if scale:
                words.append(scale)
    return words


def number_to_words(n: int) -> str:
    """Read a non-negative integer as a Northern Vietnamese cardinal (2026 → hai nghìn không trăm hai mươi sáu)."""
    if n < 0:
        return "âm " + number_to_words(-n)
    if n == 0:
        return "không"
    billions, rest = divmod(n, 1_000_000_000)
    words: list[str] = []
    if billions:
        words += [number_to_words(billions), "tỷ"]
    if rest:
        words += _below_billion(rest, inner=bool(billions))
    return " ".join(words)


def digits_to_words(digits: str) -> str:
    """Read a digit string digit by digit (0912 → không chín một hai); other characters are dropped."""
    return " ".join(_DIGIT_WORDS[int(c)] for c in digits if c.isdigit())


def _int_words(raw: str) -> str:
    """An integer as written: long strings and codes with a leading zero digit by digit."""
    if len(raw) >= 8 or (raw[0] == "0" and len(raw) >= 4):
        return digits_to_words(raw)
    return number_to_words(int(raw))


def _fraction_words(raw: str) -> str:
    """Digits after the decimal mark: "5" → năm, "25" → hai mươi lăm, "05" → không năm."""
    if raw[0] == "0" or len(raw) > 2:
        return digits_to_words(raw)
    return number_to_words(int(raw))


def _month_words(month: int) -> str:
    return "tư" if month == 4 else number_to_words(month)


def _ordinal_words(n: int) -> str:
    return {1: "nhất", 4: "tư"}.get(n) or number_to_words(n)


_ROMAN_RE = re.compile(r"^(C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def _roman_to_int(s: str) -> int | None:
    if not s or not _ROMAN_RE.match(s):
        return None
    total = 0
    for i, ch in enumerate(s):
        value = _ROMAN_VALUES[ch]
        total += -value if i + 1 < len(s) and _ROMAN_VALUES[s[i + 1]] > value else value
    return total


# Vietnamese names of letters, for headings such as "b)".
_LETTER_NAMES = {
    "a": "a", "b": "bê", "c": "xê", "d": "dê", "đ": "đê", "e": "e", "f": "ép", "g": "giê",
    "h": "hát", "i": "i", "j": "gi", "k": "ca", "l": "lờ", "m": "mờ", "n": "nờ", "o": "o",
    "p": "pê", "q": "quy", "r": "rờ", "s": "ét", "t": "tê", "u": "u", "v": "vê", "w": "vê kép",
    "x": "ích", "y": "i dài", "z": "dét",
}  # fmt: skip

# ---------------------------------------------------------------------------
# Abbreviations
# ---------------------------------------------------------------------------


def _load_abbreviation_text(text: str, label: str) -> dict[str, str]:
    """Parse one abbreviation file; ValueError (Vietnamese, with file and line) when invalid."""
    import yaml  # lazy: keep `broadcaster --help` fast

    example = "Mỗi dòng có dạng  VIẾT_TẮT: cách đọc  (ví dụ  UBND: Ủy ban nhân dân)."
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", dòng {mark.line + 1}" if mark is not None else ""
        raise ValueError(
            f"Tệp từ viết tắt {label}{where}: sai cú pháp YAML (thường do thiếu dấu hai chấm, "
            f"thụt lề sai, hoặc ngoặc, ngoặc kép chưa đóng). Hãy sửa dòng đó hoặc dòng ngay trên. {example}"
        ) from None
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise ValueError(
            f"Tệp từ viết tắt {label}, dòng {node.start_mark.line + 1}: phải là danh sách "
            f"các cặp viết tắt và cách đọc. {example}"
        )
    result: dict[str, str] = {}
    str_tag = "tag:yaml.org,2002:str"
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag == str_tag and key_node.value):
            raise ValueError(
                f"Tệp từ viết tắt {label}, dòng {line}: từ viết tắt “{getattr(key_node, 'value', '')}” "
                f"phải là chữ; hãy đặt nó trong ngoặc kép, ví dụ  \"NO\": nông thôn. {example}"
            )
        if not (isinstance(value_node, yaml.ScalarNode) and value_node.tag == str_tag
                and value_node.value.strip()):
            raise ValueError(
                f"Tệp từ viết tắt {label}, dòng {value_node.start_mark.line + 1}: cách đọc của "
                f"“{key_node.value}” phải là một đoạn chữ (không để trống, không phải số hay danh sách). "
                f"{example}"
            )
        result[key_node.value] = " ".join(value_node.value.split())
    return result


@lru_cache(maxsize=1)
def _builtin_abbreviations() -> dict[str, str]:
    from importlib.resources import files

    resource = files("broadcaster.speech").joinpath("data/abbreviations.yaml")
    return _load_abbreviation_text(resource.read_text(encoding="utf-8"), "có sẵn (broadcaster/speech/data)")


def load_abbreviations(extra: Path | None = None) -> dict[str, str]:
    """Built-in abbreviations merged with the operator file ``extra`` (operator entries win)."""
    merged = dict(_builtin_abbreviations())
    if extra is not None:
        try:
            text = Path(extra).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ValueError(
                f"Không tìm thấy tệp từ viết tắt {extra}. Kiểm tra lại đường dẫn "
                f"(mẫu: {DEFAULT_OPERATOR_FILE})."
            ) from None
        except UnicodeDecodeError:
            raise ValueError(
                f"Tệp từ viết tắt {extra} không phải văn bản UTF-8; hãy lưu lại với mã UTF-8."
            ) from None
        except OSError as exc:
            raise ValueError(f"Không đọc được tệp từ viết tắt {extra}: {exc.strerror}.") from None
        merged.update(_load_abbreviation_text(text, str(extra)))
    return merged


@lru_cache(maxsize=16)
def _abbreviation_regex(keys: tuple[str, ...]) -> re.Pattern[str] | None:
    parts = []
    for key in sorted(keys, key=len, reverse=True):  # longest first: "KH&CN" before "KH"
        before = r"(?<![\w&])" if re.match(r"\w", key[0]) else ""
        after = r"(?![\w&])" if re.match(r"\w", key[-1]) else ""
        parts.append(before + re.escape(key) + after)
    return re.compile("|".join(parts)) if parts else None


def _expand_code(code: str, abbreviations: Mapping[str, str]) -> list[str]:
    """Expand a document code such as ``SKH-CN-QLCN`` segment by segment, longest known run first."""
    pieces = re.split(r"([-/])", code)
    segments, seps = pieces[0::2], pieces[1::2]
    words: list[str] = []
    i = 0
    while i < len(segments):
        for j in range(len(segments), i, -1):
            key = segments[i]
            for k in range(i + 1, j):
                key += seps[k - 1] + segments[k]
            if key in abbreviations:
                words.append(abbreviations[key])
                i = j
                break
        else:
            words.append(segments[i])
            i += 1
    return words


# ---------------------------------------------------------------------------
# Patterns (compiled once)
# ---------------------------------------------------------------------------

_PUNCT_END = ".,;:!?…"
_CLOSERS = "”’\"')]»"

_MD_HEADING = re.compile(r"^([ \t]*)#{1,6}[ \t]+")
_MD_EMPHASIS = re.compile(r"\*{2,3}")
_BULLET = re.compile(r"^([ \t]*)[-–—•*+](?:[ \t]+|(?=[^\W\d_]))")
_HEADING = re.compile(
    r"^([ \t]*)(?:(?P<roman>[IVX]+)\.|(?P<num>\d{1,2}(?:\.\d{1,2})*)[.)]"
    r"|(?P<letter>[a-zđ])[.)]|(?P<upper>[A-ZĐ])[.)])[ \t]+"
)
_SLASH_DOT_END = re.compile(r"\./\.")

_PHONE = re.compile(
    r"(?<![\w.,/])(?P<num>(?:\+84|\(0\d{2,4}\)|0\d{2,4})(?:[ .-]\d{2,4}){1,4}|1[89]00[ .]?\d{2,4}(?:[ .]\d{2,4})?)(?![\w])"
)
_DOC = re.compile(
    r"(?<![\w/.,])(?:(?P<num>\d{1,6})(?:/(?P<year>\d{4}))?[/-]|/)"
    r"(?P<code>[A-ZĐ]{2}[A-ZĐa-zđ&]*(?:[-/][A-ZĐ][A-ZĐa-zđ&]*)*)(?![\w&])"
)
_SO_BEFORE = re.compile(r"(?<!\w)số[ \t]*:?[ \t]*$", re.I)
_NGAY_BEFORE = re.compile(r"(?<!\w)(?:ngày|mùng|mồng)[ \t]*$", re.I)
_THANG_BEFORE = re.compile(r"(?<!\w)tháng[ \t]*$", re.I)
_QUARTER_BEFORE = re.compile(r"(?<!\w)(?:quý|kỳ)[ \t]*$", re.I)
# "lớp 6/1", "số nhà 12/3", "tổ 5/2": a label with a slash, not a date ("sáu trên một")
_LABEL_BEFORE = re.compile(r"(?<!\w)(?:lớp|tổ|khu|phòng|nhà|ngõ|ngách|hẻm|kiệt|căn|lô|thửa|tờ|tỷ số|tỉ số)[ \t]*$",
                           re.I)
# "trực 24/7", "phục vụ 24/7": round the clock, not the 24th of July
_ROUND_THE_CLOCK_BEFORE = re.compile(
    r"(?<!\w)(?:trực|túc trực|phục vụ|hoạt động|mở cửa|tiếp nhận|hỗ trợ|sẵn sàng|liên tục|suốt"
    r"|hotline|tổng đài|dây nóng)[ \t]*$", re.I)

_UNITS = {
    "km/h": "ki lô mét trên giờ", "km2": "ki lô mét vuông", "km²": "ki lô mét vuông",
    "m2": "mét vuông", "m²": "mét vuông", "m3": "mét khối", "m³": "mét khối",
    "km": "ki lô mét", "kg": "ki lô gam", "ha": "héc ta", "cm": "xăng ti mét",
    "mm": "mi li mét", "ml": "mi li lít", "m": "mét", "°C": "độ xê", "℃": "độ xê",
    "kWh": "ki lô oát giờ", "kW": "ki lô oát", "đ": "đồng",
}  # fmt: skip
_UNIT = re.compile(
    r"(?<=\d)[ \t]?(" + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True)) + r")(?!\w)"
)
_PER = re.compile(r"(?<=[^\W\d_])/(?=(?:người|hộ|ngày|tháng|năm|lần|suất|tấn|lít|kg|ha|ca|buổi)(?!\w))")

_ROMAN_AFTER = re.compile(
    r"(?<!\w)(?P<kw>quý|khóa|khoá|thế kỷ|thế kỉ|lần thứ|thứ|đại hội|phần|chương|mục|giai đoạn|nhiệm kỳ)"
    r"[ \t]+(?P<roman>[IVX]+)(?:/(?P<year>\d{4}))?(?![\w])",
    re.I,
)

_DASH_DATE = re.compile(r"(?<![\w/.,-])(\d{1,2})-(\d{1,2})-(\d{4})(?![\w/-])")
_ISO_DATE = re.compile(r"(?<![\w/.,-])(\d{4})-(\d{2})-(\d{2})(?![\w/-])")
_RANGE = re.compile(
    r"(?:(?<=\d)|(?<=\dh)|(?<=\d%)|(?<=\d giờ))[ \t]*[-–—][ \t]*(?=\d|(?:ngày|thứ|tháng|năm)[ \t]+\d)", re.I
)
_DATE_RANGE = re.compile(r"(?<![\w/.,])(\d{1,2}) đến (\d{1,2})[/.](\d{1,2})(?:[/.](\d{4}))?(?![\w/])")
_DATE_FULL = re.compile(r"(?<![\w/.,])(\d{1,2})([/.])(\d{1,2})\2(\d{4})(?![\w/])")
_MONTH_YEAR = re.compile(r"(?<![\w/.,])(\d{1,2})/(\d{4})(?![\w/])")
_DAY_MONTH = re.compile(r"(?<![\w/.,])(\d{1,2})/(\d{1,2})(?![\w/]|[.,]\d)")

_TIME_H = re.compile(r"(?<![\w:.,])(\d{1,2})(?:h(\d{2})?|g(\d{2}))(?:'|ph|p)?(?!\w)")
_TIME_COLON = re.compile(r"(?<![\w:.,])(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\w:]|[.,]\d)")
_TIME_WORDS = re.compile(r"(?<![\w.,])(\d{1,2})([ \t]+giờ[ \t]+)(\d{1,2})(?![\w.,])(?![ \t]*(?:phút|giây)(?!\w))")

_ORDINAL = re.compile(r"(?<!\w)(thứ)[ \t]+0*(\d{1,3})(?![\d])(?![.,]\d)", re.I)
_MONTH = re.compile(r"(?<!\w)(tháng)[ \t]+0?(\d{1,2})(?![\d])(?![.,]\d)", re.I)
_FRACTION_SLASH = re.compile(r"(?<=\d)/(?=\d)")

_NUMBER = re.compile(
    r"(?P<int>\d{1,3}(?:\.\d{3})+(?![\d])|\d{1,3}(?:,\d{3}){2,}(?![\d])|\d+)"
    r"(?:,(?P<frac>\d+)|\.(?P<dot>\d+))?(?P<pct>[ \t]?%)?"
)

_SPACED_DASH = re.compile(r"[ \t]+[-–—•*][ \t]+")
_TIGHT_DASH = re.compile(r"(?<=\w)[–—•](?=\w)")
_HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")
_STRAY_STAR = re.compile(r"\*")

# ---------------------------------------------------------------------------
# Passes
# ---------------------------------------------------------------------------


def _pad(m: re.Match[str], words: str) -> str:
    """Keep words apart from letters glued to the match (F0 → F không)."""
    s, start, end = m.string, m.start(), m.end()
    if start > 0 and s[start - 1].isalpha():
        words = " " + words
    if end < len(s) and s[end].isalnum():
        words += " "
    return words


def _before(m: re.Match[str], pattern: re.Pattern[str]) -> bool:
    return bool(pattern.search(m.string, max(0, m.start() - 12), m.start()))


def _line(line: str, continues: bool = False) -> str:
    """Markdown markers, bullets and heading numbers at the start of one line."""
    marked = False
    m = _MD_HEADING.match(line)
    if m:
        line, marked = m.group(1) + line[m.end():], True
    m = _BULLET.match(line)
    if m:
        line, marked = m.group(1) + line[m.end():], True
    m = _HEADING.match(line)
    if m:
        spoken = None
        if m.group("roman"):
            value = _roman_to_int(m.group("roman"))
            spoken = number_to_words(value) if value else None
        elif m.group("num"):
            spoken = " chấm ".join(number_to_words(int(p)) for p in m.group("num").split("."))
        else:
            letter = (m.group("letter") or m.group("upper")).lower()
            spoken = _LETTER_NAMES.get(letter, letter)
        if spoken:
            line, marked = f"{m.group(1)}{spoken}, {line[m.end():]}", True
    if marked and not continues:
        body = line.rstrip()
        core = body.rstrip(_CLOSERS)
        if core and core[-1] not in _PUNCT_END:
            line = body + "." + line[len(body):]
    return line


def _phone(m: re.Match[str]) -> str:
    raw = m.group("num")
    digits = re.sub(r"\D", "", raw)
    if not 8 <= len(digits) <= 13:
        return raw
    groups = [g for g in re.split(r"[ .-]", raw) if g]
    spoken = ", ".join(("cộng " if g.startswith("+") else "") + digits_to_words(g) for g in groups)
    return _pad(m, spoken)


def _doc(m: re.Match[str], abbreviations: Mapping[str, str]) -> str:
    words: list[str] = []
    if m.group("num"):
        if not _before(m, _SO_BEFORE):
            words.append("số")
        words.append(number_to_words(int(m.group("num"))))
        if m.group("year"):
            words += ["năm", number_to_words(int(m.group("year")))]
    code = _expand_code(m.group("code"), abbreviations)
    # "Quyết định số 135/QĐ-UBND": the text already named the kind of document
    before = _SO_BEFORE.sub("", m.string[max(0, m.start() - 40): m.start()]).rstrip().lower()
    if code:
        first = code[0].split()
        for size in range(len(first), 1, -1):  # two words at least: "Nghị định" of "Nghị định Chính phủ"
            kind = " ".join(first[:size]).lower()
            if before.endswith(kind) and (len(before) == len(kind) or not before[-len(kind) - 1].isalnum()):
                code = ([" ".join(first[size:])] if size < len(first) else []) + code[1:]
                break
    spoken = ", ".join(part for part in (" ".join(words), " ".join(code)) if part)
    rest = m.string[m.end():]
    if re.match(r"[ \t]+\w", rest):
        spoken += ","  # the code is a parenthesis: pause before the sentence goes on
    return _pad(m, spoken)


def _abbreviation(m: re.Match[str], abbreviations: Mapping[str, str]) -> str:
    key = m.group(0)
    spoken = abbreviations[key]
    end = m.end()
    if not re.match(r"\w", key[-1]) and end < len(m.string) and m.string[end].isalnum():
        spoken += " "  # "KT.CHỦ TỊCH" → "ký thay CHỦ TỊCH"
    return spoken


def _unit(m: re.Match[str]) -> str:
    return " " + _UNITS[m.group(1)]


def _roman_after(m: re.Match[str]) -> str:
    value = _roman_to_int(m.group("roman").upper()) if m.group("roman").isupper() else None
    if not value:
        return m.group(0)
    keyword = m.group("kw")
    spoken = _ordinal_words(value) if keyword.lower().endswith("thứ") else number_to_words(value)
    out = f"{keyword} {spoken}"
    if m.group("year"):
        out += " năm " + number_to_words(int(m.group("year")))
    return out


def _valid_date(day: int, month: int) -> bool:
    return 1 <= day <= 31 and 1 <= month <= 12


def _date_words(m: re.Match[str], day: int, month: int, year: int | None) -> str:
    words = [] if _before(m, _NGAY_BEFORE) else ["ngày"]
    words += [number_to_words(day), "tháng", _month_words(month)]
    if year is not None:
        words += ["năm", number_to_words(year)]
    return _pad(m, " ".join(words))


def _dash_date(m: re.Match[str]) -> str:
    day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    return _date_words(m, day, month, year) if _valid_date(day, month) else m.group(0)


def _iso_date(m: re.Match[str]) -> str:
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    return _date_words(m, day, month, year) if _valid_date(day, month) else m.group(0)


def _date_range(m: re.Match[str]) -> str:
    first, last, month = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (_valid_date(first, month) and _valid_date(last, month)):
        return m.group(0)
    lead = "" if _before(m, _NGAY_BEFORE) else "ngày "
    words = f"{lead}{number_to_words(first)} đến ngày {number_to_words(last)} tháng {_month_words(month)}"
    if m.group(4):
        words += " năm " + number_to_words(int(m.group(4)))
    return _pad(m, words)


def _date_full(m: re.Match[str]) -> str:
    day, month, year = int(m.group(1)), int(m.group(3)), int(m.group(4))
    return _date_words(m, day, month, year) if _valid_date(day, month) else m.group(0)


def _month_year(m: re.Match[str]) -> str:
    month, year = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        return m.group(0)
    if _before(m, _QUARTER_BEFORE):
        return _pad(m, f"{number_to_words(month)} năm {number_to_words(year)}")
    lead = "" if _before(m, _THANG_BEFORE) else "tháng "
    return _pad(m, f"{lead}{_month_words(month)} năm {number_to_words(year)}")


def _day_month(m: re.Match[str]) -> str:
    day, month = int(m.group(1)), int(m.group(2))
    if _before(m, _LABEL_BEFORE) or ((day, month) == (24, 7) and _before(m, _ROUND_THE_CLOCK_BEFORE)):
        return _pad(m, f"{number_to_words(day)} trên {number_to_words(month)}")
    return _date_words(m, day, month, None) if _valid_date(day, month) else m.group(0)


def _clock(hour: int, minute: int | None, second: int | None = None) -> str | None:
    if hour > 24 or (minute is not None and minute > 59) or (second is not None and second > 59):
        return None
    words = f"{number_to_words(hour)} giờ"
    if minute:
        words += f" {number_to_words(minute)} phút"
    if second:
        words += f" {number_to_words(second)} giây"
    return words


def _time_h(m: re.Match[str]) -> str:
    minute = m.group(2) or m.group(3)
    spoken = _clock(int(m.group(1)), int(minute) if minute else None)
    return _pad(m, spoken) if spoken else m.group(0)


def _time_colon(m: re.Match[str]) -> str:
    second = int(m.group(3)) if m.group(3) else None
    spoken = _clock(int(m.group(1)), int(m.group(2)), second)
    return _pad(m, spoken) if spoken else m.group(0)


def _time_words(m: re.Match[str]) -> str:
    hour, minute = int(m.group(1)), int(m.group(3))
    if hour > 24 or minute > 59:
        return m.group(0)
    return f"{number_to_words(hour)}{m.group(2)}{number_to_words(minute)} phút"


def _ordinal(m: re.Match[str]) -> str:
    return f"{m.group(1)} {_ordinal_words(int(m.group(2)))}"


def _month(m: re.Match[str]) -> str:
    month = int(m.group(2))
    return f"{m.group(1)} {_month_words(month)}" if 1 <= month <= 12 else m.group(0)


def _number(m: re.Match[str]) -> str:
    raw = m.group("int")
    if "." in raw or "," in raw:
        words = number_to_words(int(raw.replace(".", "").replace(",", "")))
    else:
        words = _int_words(raw)
    if m.group("frac"):
        words += " phẩy " + _fraction_words(m.group("frac"))
    elif m.group("dot"):
        words += " chấm " + _fraction_words(m.group("dot"))
    if m.group("pct"):
        words += " phần trăm"
    return _pad(m, words)


def _pause(m: re.Match[str]) -> str:
    """A dash or bullet between clauses: a comma, or just a space after punctuation."""
    before = m.string[: m.start()].rstrip()
    if not before or before[-1] in _PUNCT_END + "(“‘\"'[":
        return " "
    return ", "


def normalize(text: str, abbreviations: Mapping[str, str] | None = None) -> str:
    """Rewrite ``text`` as it will be spoken (no digits left); ``None`` uses the built-in abbreviations."""
    if abbreviations is None:
        abbreviations = _builtin_abbreviations()
    text = unicodedata.normalize("NFC", text)

    text = _MD_EMPHASIS.sub("", text)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        cr = line.endswith("\r")
        following = next((later.strip() for later in lines[i + 1:] if later.strip()), "")
        continues = following[:1].islower()  # a sentence broken across lines: no period
        lines[i] = _line(line[:-1] if cr else line, continues) + ("\r" if cr else "")
    text = "\n".join(lines)
    text = _SLASH_DOT_END.sub(".", text)

    text = _PHONE.sub(_phone, text)
    text = _DOC.sub(lambda m: _doc(m, abbreviations), text)
    regex = _abbreviation_regex(tuple(abbreviations))
    if regex is not None:
        text = regex.sub(lambda m: _abbreviation(m, abbreviations), text)
    text = _UNIT.sub(_unit, text)
    text = _PER.sub(" một ", text)
    text = _ROMAN_AFTER.sub(_roman_after, text)

    text = _DASH_DATE.sub(_dash_date, text)
    text = _ISO_DATE.sub(_iso_date, text)
    text = _RANGE.sub(" đến ", text)
    text = _DATE_RANGE.sub(_date_range, text)
    text = _DATE_FULL.sub(_date_full, text)
    text = _MONTH_YEAR.sub(_month_year, text)
    text = _DAY_MONTH.sub(_day_month, text)

    text = _TIME_H.sub(_time_h, text)
    text = _TIME_COLON.sub(_time_colon, text)
    text = _TIME_WORDS.sub(_time_words, text)
    text = _ORDINAL.sub(_ordinal, text)
    text = _MONTH.sub(_month, text)
    text = _FRACTION_SLASH.sub(" trên ", text)
    text = _NUMBER.sub(_number, text)

    text = _SPACED_DASH.sub(_pause, text)
    text = _TIGHT_DASH.sub(", ", text)
    text = _HYPHEN.sub(" ", text)
    text = _STRAY_STAR.sub("", text)
    return text

"""Numbers, digits, Roman numerals, letters and weekdays as a Northern announcer says them."""

from __future__ import annotations

import re

DIGIT_WORDS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
# After "mươi" (tens ≥ 2) the units digit takes its spoken variant.
_AFTER_MUOI = {1: "mốt", 4: "tư", 5: "lăm"}
#: Longer integers are read digit by digit: a cardinal of 16+ digits means nothing to a listener
#: (and Python refuses int() of more than 4 300 digits).
MAX_CARDINAL_DIGITS = 15


def _below_thousand(n: int, inner: bool) -> list[str]:
    """Words for 0 < n < 1000; ``inner`` when a higher group precedes (so 5 → không trăm linh năm)."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or inner:
        words += [DIGIT_WORDS[hundreds], "trăm"]
    if tens == 0:
        if units:
            words += (["linh"] if words else []) + [DIGIT_WORDS[units]]
    elif tens == 1:
        words.append("mười")
        if units:
            words.append("lăm" if units == 5 else DIGIT_WORDS[units])
    else:
        words += [DIGIT_WORDS[tens], "mươi"]
        if units:
            words.append(_AFTER_MUOI.get(units, DIGIT_WORDS[units]))
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
    return " ".join(DIGIT_WORDS[int(c)] for c in digits if "0" <= c <= "9")


def int_words(raw: str) -> str:
    """An integer as written: long strings and codes with a leading zero digit by digit."""
    if len(raw) >= 8 or (raw[0] == "0" and len(raw) >= 4):
        return digits_to_words(raw)
    return number_to_words(int(raw))


def grouped_words(raw: str) -> str:
    """An amount written with thousands separators (1.500.000); absurdly long ones digit by digit."""
    digits = raw.replace(".", "").replace(",", "")
    if len(digits.lstrip("0")) > MAX_CARDINAL_DIGITS:
        return digits_to_words(digits)
    return number_to_words(int(digits))


def fraction_words(raw: str) -> str:
    """Digits after the decimal mark: "5" → năm, "25" → hai mươi lăm, "05" → không năm."""
    if raw[0] == "0" or len(raw) > 2:
        return digits_to_words(raw)
    return number_to_words(int(raw))


def month_words(month: int) -> str:
    """April is "tư" in the North; other months are plain cardinals."""
    return "tư" if month == 4 else number_to_words(month)


def day_words(day: int) -> str:
    """Days 1–10 of a month take "mùng" (mùng năm); later days are plain cardinals."""
    return f"mùng {number_to_words(day)}" if 1 <= day <= 10 else number_to_words(day)


def ordinal_words(n: int) -> str:
    """After "thứ": 1 → nhất, 4 → tư, otherwise the cardinal."""
    return {1: "nhất", 4: "tư"}.get(n) or number_to_words(n)


_ROMAN_RE = re.compile(r"^(C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def roman_to_int(s: str) -> int | None:
    """Value of a well-formed Roman numeral below 400, else None."""
    if not s or not _ROMAN_RE.match(s):
        return None
    total = 0
    for i, ch in enumerate(s):
        value = _ROMAN_VALUES[ch]
        total += -value if i + 1 < len(s) and _ROMAN_VALUES[s[i + 1]] > value else value
    return total


# Vietnamese names of letters, for headings such as "b)".
LETTER_NAMES = {
    "a": "a", "b": "bê", "c": "xê", "d": "dê", "đ": "đê", "e": "e", "f": "ép", "g": "giê",
    "h": "hát", "i": "i", "j": "gi", "k": "ca", "l": "lờ", "m": "mờ", "n": "nờ", "o": "o",
    "p": "pê", "q": "quy", "r": "rờ", "s": "ét", "t": "tê", "u": "u", "v": "vê", "w": "vê kép",
    "x": "ích", "y": "i dài", "z": "dét",
}  # fmt: skip

# Latin letters spelled inside web addresses and codes, as announcers spell them ("vn" → vê en).
SPELLED_LETTERS = {
    "a": "a", "b": "bê", "c": "xê", "d": "đê", "e": "e", "f": "ép", "g": "gờ", "h": "hát",
    "i": "i", "j": "giây", "k": "ca", "l": "lờ", "m": "mờ", "n": "en", "o": "o", "p": "pê",
    "q": "quy", "r": "rờ", "s": "ét", "t": "tê", "u": "u", "v": "vê", "w": "vê kép", "x": "ích",
    "y": "i dài", "z": "dét",
}  # fmt: skip


def spell(word: str) -> str:
    """Spell a Latin word letter by letter, digits digit by digit (ubnd → u bê en đê)."""
    out = []
    for ch in word.lower():
        if "0" <= ch <= "9":
            out.append(DIGIT_WORDS[int(ch)])
        elif ch in SPELLED_LETTERS:
            out.append(SPELLED_LETTERS[ch])
    return " ".join(out)


#: T2…T7 and CN, read with the day's name capitalised as calendars print it.
WEEKDAYS = {
    "2": "thứ Hai",
    "3": "thứ Ba",
    "4": "thứ Tư",
    "5": "thứ Năm",
    "6": "thứ Sáu",
    "7": "thứ Bảy",
    "CN": "Chủ nhật",
}

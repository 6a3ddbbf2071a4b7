"""One home for what operators read and type: days, times, durations, numbers, slugs.

Conventions (one per audience):

* people (terminal, console, DOCX, warnings): ``21/04/2026``, ``14:05``, ``2,7`` (decimal comma),
  durations in words (``1 phút 11 giây``);
* machines (CSV, JSON): ISO 8601 dates/times and ``2.7`` (decimal point), so spreadsheets and
  scripts read them without locale guessing. CSV is for machines; the DOCX and text report are
  for people.

:func:`parse_day` accepts every form an operator types, everywhere a day is asked for.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})(?:[/.\-](\d{4}|\d{2}))?")

DAY_FORMS = "21/4/2026, 21.4.2026, 2026-04-21 hoặc 21/4"


def parse_day(text: str, *, default_year: int | None = None) -> date:
    """A day as operators type it: ``21/4/2026``, ``21.4.2026``, ``21-4-2026``, ``2026-04-21``,
    ``2026-4-21``, ``21/4/26`` and ``21/4`` (year: ``default_year`` or this year).

    Raises ValueError with a Vietnamese message naming the accepted forms.
    """
    value = (text or "").strip()
    try:
        m = _ISO.fullmatch(value)
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        m = _DMY.fullmatch(value)
        if m:
            year = int(m[3]) if m[3] else (default_year or date.today().year)
            if m[3] and len(m[3]) == 2:
                year += 2000
            return date(year, int(m[2]), int(m[1]))
    except ValueError:
        pass
    raise ValueError(f"ngày '{text}' không hợp lệ — viết dạng {DAY_FORMS}")


def day(d: date | datetime) -> str:
    """``21/04/2026``."""
    return d.strftime("%d/%m/%Y")


def clock(t: time | datetime, *, seconds: bool = False) -> str:
    """``06:30`` (or ``06:30:05``)."""
    return t.strftime("%H:%M:%S" if seconds else "%H:%M")


def decimal(value: float, places: int = 1) -> str:
    """A number for people: ``2,7`` (Vietnamese decimal comma)."""
    return f"{value:.{places}f}".replace(".", ",")


def minutes(seconds: float) -> str:
    """Seconds as minutes for people, one decimal: ``2,7``."""
    return decimal(seconds / 60.0)


def duration(seconds: float | None) -> str:
    """A duration in words: ``45 giây``, ``1 phút 11 giây``, ``2 giờ 5 phút``; ``—`` when unknown."""
    if seconds is None:
        return "—"
    total = int(round(max(0.0, seconds)))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} giờ {m} phút" if m else f"{h} giờ"
    if m:
        return f"{m} phút {s} giây" if s else f"{m} phút"
    return f"{s} giây"


def slugify(label: str, max_len: int = 40) -> str:
    """ASCII file-name part from any label: ``Phát ngay: Khẩn cấp!`` → ``phat-ngay-khan-cap``."""
    text = unicodedata.normalize("NFKD", label.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return slug[:max_len].rstrip("-") or "ban-tin"


def ellipsize(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters with ``…`` — never mid-word when a space is near."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space >= width * 2 // 3:
        cut = cut[:space]
    return cut.rstrip() + "…"

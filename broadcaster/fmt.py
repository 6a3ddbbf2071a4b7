"""One home for what operators read and type: days, times, durations, numbers, slugs.

Every instant shown to people (log lines, file names, ``user list``, alerts…) is in the
*station's* time zone, never the PC's: :func:`station_time` converts, :func:`set_station_zone`
sets the zone once per process (the daemon at start and on reload, a CLI command after it loaded
the schedule), :func:`station_zone_of` reads it from a schedule without loading it (fast path),
and :class:`StationFormatter` / :func:`station_log_handler` stamp log lines with it.

Conventions (one per audience):

* people (terminal, console, DOCX, warnings): ``21/04/2026``, ``14:05``, ``2,7`` (decimal comma),
  durations in words (``1 phút 11 giây``);
* machines (CSV, JSON): ISO 8601 dates/times and ``2.7`` (decimal point), so spreadsheets and
  scripts read them without locale guessing. CSV is for machines; the DOCX and text report are
  for people.

:func:`parse_day` accepts every form an operator types, everywhere a day is asked for.
"""

from __future__ import annotations

import logging
import re
import sys
import unicodedata
from datetime import date, datetime, time, tzinfo
from pathlib import Path
from typing import TextIO

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})(?:[/.\-](\d{4}|\d{2}))?")

DAY_FORMS = "21/4/2026, 21.4.2026, 2026-04-21 hoặc 21/4"

#: the station's zone when nothing set another one (``campaign.timezone``'s default)
DEFAULT_STATION_ZONE = "Asia/Ho_Chi_Minh"

_station_zone: tzinfo | None = None  # None: DEFAULT_STATION_ZONE, built on first use
_ZONE_LINE = re.compile(r"""[ \t]+timezone:[ \t]*(?:"([^"]*)"|'([^']*)'|([^#\s][^#]*?))[ \t]*(?:#.*)?$""")


def parse_day(text: str, *, default_year: int | None = None) -> date:
    """A day as operators type it: ``21/4/2026``, ``21.4.2026``, ``21-4-2026``, ``2026-04-21``,
    ``2026-4-21``, ``21/4/26`` and ``21/4`` (year: ``default_year`` or this year on the station's clock).

    Raises ValueError with a Vietnamese message naming the accepted forms.
    """
    value = (text or "").strip()
    try:
        m = _ISO.fullmatch(value)
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        m = _DMY.fullmatch(value)
        if m:
            year = int(m[3]) if m[3] else (default_year or station_time().year)
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


# -- the station's time zone --------------------------------------------------------------


def _zone(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo  # not at import time: the CLI's fast path does not need it

    return ZoneInfo(name)


def set_station_zone(tz: tzinfo | str | None) -> None:
    """Show every instant of this process in ``tz`` (an IANA name or a tzinfo); None: the default.

    Raises ``zoneinfo.ZoneInfoNotFoundError`` for an unknown name (the schedule loader reports
    those in Vietnamese before anything gets here).
    """
    global _station_zone
    _station_zone = _zone(tz) if isinstance(tz, str) else tz


def station_zone() -> tzinfo:
    """The station's time zone: the one set last, else ``Asia/Ho_Chi_Minh``."""
    global _station_zone
    if _station_zone is None:
        _station_zone = _zone(DEFAULT_STATION_ZONE)
    return _station_zone


def station_time(instant: datetime | float | None = None) -> datetime:
    """An instant on the station's clock: an aware datetime, epoch seconds, or now (None).

    A naive datetime is taken as this PC's local time, as :meth:`datetime.astimezone` does.
    """
    zone = station_zone()
    if instant is None:
        return datetime.now(zone)
    if isinstance(instant, datetime):
        return instant.astimezone(zone)
    return datetime.fromtimestamp(instant, zone)


def station_zone_of(schedule_path: Path) -> tzinfo:
    """The zone a schedule names (``campaign.timezone``) without loading it — for the CLI's fast path.

    Only the ``timezone:`` line of the block-style ``campaign:`` section is read; a missing or
    unreadable file, a flow-style section or an unknown name give the default (``broadcaster
    check`` reports a wrong one).
    """
    try:
        text = Path(schedule_path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    inside = False
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            inside = line.startswith("campaign:")
            continue
        m = _ZONE_LINE.match(line) if inside else None
        if m:
            try:
                return _zone(next(g for g in m.groups() if g is not None).strip())
            except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
                break
    return _zone(DEFAULT_STATION_ZONE)


class StationFormatter(logging.Formatter):
    """A log formatter whose ``%(asctime)s`` is station time (read at each line: a reload applies at once)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        t = datetime.fromtimestamp(record.created, station_zone())
        if datefmt:
            return t.strftime(datefmt)
        text = t.strftime(self.default_time_format)
        return self.default_msec_format % (text, record.msecs) if self.default_msec_format else text


def station_log_handler(format: str, datefmt: str | None = None, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing to ``stream`` (stderr) with station-time stamps, for ``logging.basicConfig(handlers=[…])``."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(StationFormatter(format, datefmt))
    return handler

"""Dates, date ranges, fractions written like dates, times of day and weekdays."""

from __future__ import annotations

import re

from .context import Context, before, pad, words_re
from .numbers import WEEKDAYS, day_words, month_words, number_to_words, ordinal_words

_MUNG_BEFORE = re.compile(r"(?<!\w)(?:mùng|mồng)[ \t]*$", re.I)
# "đêm 18/9", "chiều 22/9": the part of the day already introduces the date (no "ngày")
_PART_OF_DAY_BEFORE = re.compile(r"(?<!\w)(?:sáng|trưa|chiều|tối|đêm|rạng sáng)[ \t]*$", re.I)
_NGAY_BEFORE = re.compile(r"(?<!\w)ngày[ \t]*$", re.I)
_THANG_BEFORE = re.compile(r"(?<!\w)tháng[ \t]*$", re.I)
_QUARTER_BEFORE = re.compile(r"(?<!\w)(?:quý|kỳ)[ \t]*$", re.I)
# "lớp 6/1", "số nhà 12/3", "tổ 5/2", "tỷ lệ 1/500": a label or ratio with a slash, not a date
_LABEL_BEFORE = words_re(r"lớp|tổ|khu|phòng|nhà|ngõ|ngách|hẻm|kiệt|căn|lô|thửa|tờ|tỷ số|tỉ số|tỷ lệ|tỉ lệ")
# "trực 24/7", "phục vụ 24/7": round the clock, not the 24th of July
_ROUND_THE_CLOCK_BEFORE = words_re(
    r"trực|túc trực|phục vụ|hoạt động|mở cửa|tiếp nhận|hỗ trợ|sẵn sàng|liên tục"
    r"|suốt|hotline|tổng đài|dây nóng"
)
# what makes a bare "1/3" a date: "từ 1/3", "sáng 1/3", "thứ Hai 1/3", "7h30 1/3"
_DATE_BEFORE = re.compile(
    r"(?:(?<!\w)(?:ngày|mùng|mồng|từ|đến|tới|hôm|sáng|chiều|tối|trưa|đêm|lúc|hạn|trước|sau|vào|dịp|tết|nay"
    r"|thứ[ \t]+\w+|chủ nhật)|\d[hg:]\d*|\d[ \t]+giờ(?:[ \t]+\d+)?)[ \t]*,?[ \t]*\(?$",
    re.I,
)
_DATE_AFTER = re.compile(
    r"[ \t]*(?:,[ \t]*)?(?:\(?thứ\b|\(?chủ nhật|hằng năm|hàng năm|năm[ \t]+\d|đến[ \t]+(?:ngày[ \t]+)?\d)", re.I
)
# what makes "1/3" a fraction: "giảm 1/3", "1/2 số hộ"
_FRACTION_BEFORE = words_re(
    r"giảm|tăng|chiếm|khoảng|gần|hơn|còn|bằng|mất|đạt|thêm|tối đa|tối thiểu|ít nhất|chỉ"
    r"|hỗ trợ|miễn|miễn giảm|chi trả|trích|dành|quá|trên|dưới|được|vượt|gấp|trong đó|trong số|chừng"
)
_FRACTION_AFTER = re.compile(
    r"[ \t]+(?:số|diện tích|dân số|tổng|kinh phí|chi phí|giá|học phí|sản lượng|lượng|thời gian|quãng đường"
    r"|chiều dài|mức|lương|thu nhập|khối lượng|công suất|quỹ|ngân sách|dung tích|mặt bằng|phần|ngày|giờ|buổi"
    r"|tháng(?![ \t]+\d)|năm(?![ \t]+\d))(?!\w)",
    re.I,
)

DASH_DATE = re.compile(r"(?<![\w/.,-])(\d{1,2})-(\d{1,2})-(\d{4})(?![\w/-])")
ISO_DATE = re.compile(r"(?<![\w/.,-])(\d{4})-(\d{2})-(\d{2})(?![\w/-])")
RANGE = re.compile(
    r"(?:(?<=\d)|(?<=\dh)|(?<=\d%)|(?<=\d giờ))[ \t]*[-–—][ \t]*(?=\d|(?:ngày|thứ|tháng|năm)[ \t]+\d)", re.I
)
DATE_RANGE = re.compile(r"(?<![\w/.,])(\d{1,2}) đến (\d{1,2})[/.](\d{1,2})(?:[/.](\d{4}))?(?![\w/])")
DATE_FULL = re.compile(r"(?<![\w/.,])(\d{1,2})([/.])(\d{1,2})\2(\d{4})(?![\w/])")
MONTH_YEAR = re.compile(r"(?<![\w/.,])(\d{1,2})/(\d{4})(?![\w/])")
FRACTION = re.compile(r"(?<![\w/.,])(\d{1,3})/(\d{1,4})(?![\w/]|[.,]\d)")
DAY_MONTH = re.compile(r"(?<![\w/.,])(\d{1,2})/(\d{1,2})(?![\w/]|[.,]\d)")
NGAY_MUNG = re.compile(
    r"(?<!\w)(ngày)[ \t]+0?([1-9]|10)(?=[ \t]+(?:tháng|hằng tháng|hàng tháng)(?!\w)"
    r"|[ \t]*(?:[,.;:!?)]|\n|\Z))",
    re.I,
)

TIME_H = re.compile(r"(?<![\w:.,])(\d{1,2})(?:h(\d{2})?|g(\d{2}))(?:['’]|ph|p)?(?!\w)")
TIME_COLON = re.compile(r"(?<![\w:.,])(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\w:]|[.,]\d)")
TIME_WORDS = re.compile(r"(?<![\w.,])(\d{1,2})([ \t]+giờ[ \t]+)(\d{1,2})(['’]?)(?![\w.,])(?![ \t]*(?:phút|giây)(?!\w))")
ORDINAL = re.compile(r"(?<!\w)(thứ)[ \t]+0*(\d{1,3})(?![\d])(?![.,]\d)", re.I)
MONTH = re.compile(r"(?<!\w)(tháng)[ \t]+0?(\d{1,2})(?![\d])(?![.,]\d)", re.I)
WEEKDAY_GROUP = re.compile(
    r"(?<![\w/.])(?:T[2-7]|CN)(?:[ \t]*(?:[-–—,/&]|và|đến|tới)[ \t]*(?:T[2-7]|CN))*(?![\w/]|\.\d)"
)
_WEEKDAY_TOKEN = re.compile(r"T[2-7]|CN|[-–—]|đến|tới|và|[,/&]")
_CN_BEFORE = words_re(r"sáng|chiều|tối|trưa|đêm|ngày|vào|các|hôm|mỗi|hằng|hàng|từ|đến|nghỉ|trừ")
_CN_AFTER = re.compile(r"[ \t]*(?:tuần|hằng tuần|\(|,?[ \t]*(?:ngày|mùng)[ \t]*\d|\d{1,2}/\d)", re.I)


def _valid_date(day: int, month: int) -> bool:
    return 1 <= day <= 31 and 1 <= month <= 12


def date_words(m: re.Match[str], day: int, month: int, year: int | None) -> str:
    """``ngày mùng năm tháng mười hai [năm …]``, without repeating a "ngày"/"mùng" already written."""
    if before(m, _MUNG_BEFORE):
        words = [number_to_words(day)]
    elif before(m, _NGAY_BEFORE) or before(m, _PART_OF_DAY_BEFORE):
        words = [day_words(day)]
    else:
        words = ["ngày", day_words(day)]
    words += ["tháng", month_words(month)]
    if year is not None:
        words += ["năm", number_to_words(year)]
    return pad(m, " ".join(words))


def dash_date(m: re.Match[str], ctx: Context) -> str | None:
    """17-4-2026."""
    day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    return date_words(m, day, month, year) if _valid_date(day, month) else None


def iso_date(m: re.Match[str], ctx: Context) -> str | None:
    """2026-04-21."""
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    return date_words(m, day, month, year) if _valid_date(day, month) else None


def date_range(m: re.Match[str], ctx: Context) -> str | None:
    """17 đến 26/4 (the dash already read "đến")."""
    first, last, month = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (_valid_date(first, month) and _valid_date(last, month)):
        return None
    lead = "" if before(m, _NGAY_BEFORE) else "ngày "
    words = f"{lead}{day_words(first)} đến ngày {day_words(last)} tháng {month_words(month)}"
    if m.group(4):
        words += " năm " + number_to_words(int(m.group(4)))
    return pad(m, words)


def date_full(m: re.Match[str], ctx: Context) -> str | None:
    """21/4/2026, 21.4.2026."""
    day, month, year = int(m.group(1)), int(m.group(3)), int(m.group(4))
    return date_words(m, day, month, year) if _valid_date(day, month) else None


def month_year(m: re.Match[str], ctx: Context) -> str | None:
    """04/2026 → tháng tư năm …; quý 3/2026 → quý ba năm …."""
    month, year = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        return None
    if before(m, _QUARTER_BEFORE):
        return pad(m, f"{number_to_words(month)} năm {number_to_words(year)}")
    lead = "" if before(m, _THANG_BEFORE) else "tháng "
    return pad(m, f"{lead}{month_words(month)} năm {number_to_words(year)}")


def fraction(m: re.Match[str], ctx: Context) -> str | None:
    """ "giảm 1/3 diện tích" → một phần ba: a slash is a fraction when the words around say so."""
    top, bottom = int(m.group(1)), int(m.group(2))
    if not 0 < top < bottom or before(m, _LABEL_BEFORE):  # 24/24 is "round the clock", not a fraction
        return None
    if before(m, _FRACTION_BEFORE, 16) or _FRACTION_AFTER.match(m.string, m.end()):
        return pad(m, f"{number_to_words(top)} phần {number_to_words(bottom)}")
    return None


def day_month(m: re.Match[str], ctx: Context) -> str | None:
    """21/4 → a date; "lớp 6/1" → sáu trên một; a bare "1/3" is a date, flagged as ambiguous."""
    day, month = int(m.group(1)), int(m.group(2))
    if before(m, _LABEL_BEFORE, 16) or ((day, month) == (24, 7) and before(m, _ROUND_THE_CLOCK_BEFORE, 16)):
        return pad(m, f"{number_to_words(day)} trên {number_to_words(month)}")
    if not _valid_date(day, month):
        return None
    spoken = date_words(m, day, month, None)
    if day < month <= 10 and not (before(m, _DATE_BEFORE, 24) or _DATE_AFTER.match(m.string, m.end())):
        ctx.ambiguous(
            m,
            (spoken.strip(), f"{number_to_words(day)} phần {number_to_words(month)}"),
            f"viết “ngày {day}/{month}” nếu là ngày tháng, hoặc “{day} phần {month}” nếu là phân số.",
        )
    return spoken


def ngay_mung(m: re.Match[str], ctx: Context) -> str:
    """ "ngày 5 tháng 12" → ngày mùng năm tháng mười hai."""
    return f"{m.group(1)} {day_words(int(m.group(2)))}"


def _clock(hour: int, minute: int | None, second: int | None = None) -> str | None:
    if hour > 24 or (minute is not None and minute > 59) or (second is not None and second > 59):
        return None
    words = f"{number_to_words(hour)} giờ"
    if minute:
        words += f" {number_to_words(minute)} phút"
    if second:
        words += f" {number_to_words(second)} giây"
    return words


def time_h(m: re.Match[str], ctx: Context) -> str | None:
    """7h, 7h30, 7g30, 7h30'."""
    minute = m.group(2) or m.group(3)
    spoken = _clock(int(m.group(1)), int(minute) if minute else None)
    return pad(m, spoken) if spoken else None


def time_colon(m: re.Match[str], ctx: Context) -> str | None:
    """19:30, 19:30:15."""
    second = int(m.group(3)) if m.group(3) else None
    spoken = _clock(int(m.group(1)), int(m.group(2)), second)
    return pad(m, spoken) if spoken else None


def time_words(m: re.Match[str], ctx: Context) -> str | None:
    """ "7 giờ 30" and "7 giờ 30'" → bảy giờ ba mươi phút."""
    hour, minute = int(m.group(1)), int(m.group(3))
    if hour > 24 or minute > 59:
        return None
    return f"{number_to_words(hour)}{m.group(2)}{number_to_words(minute)} phút"


def ordinal(m: re.Match[str], ctx: Context) -> str:
    """thứ 4 → thứ tư, thứ 1 → thứ nhất."""
    return f"{m.group(1)} {ordinal_words(int(m.group(2)))}"


def month(m: re.Match[str], ctx: Context) -> str | None:
    """tháng 4 → tháng tư."""
    value = int(m.group(2))
    return f"{m.group(1)} {month_words(value)}" if 1 <= value <= 12 else None


def weekdays(m: re.Match[str], ctx: Context) -> str | None:
    """T2–T6 → thứ Hai đến thứ Sáu; "T7, CN" → thứ Bảy, Chủ nhật; a lone CN only where it means Sunday."""
    tokens = _WEEKDAY_TOKEN.findall(m.group(0))
    if tokens == ["CN"] and not (before(m, _CN_BEFORE, 16) or _CN_AFTER.match(m.string, m.end())):
        return None  # CN also means công nghệ, cá nhân, chi nhánh
    out = []
    for token in tokens:
        if token in ("-", "–", "—", "đến", "tới"):
            out.append(" đến ")
        elif token in (",", "/", "&"):
            out.append(", ")
        elif token == "và":
            out.append(" và ")
        else:
            out.append(WEEKDAYS[token.removeprefix("T")])
    return pad(m, "".join(out))

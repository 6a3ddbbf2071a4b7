"""Numbers that are not quantities (phones, service numbers, document numbers, road markers) and amounts."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .context import Context, before, clause_before, pad, words_re
from .numbers import digits_to_words, fraction_words, grouped_words, int_words, number_to_words

PHONE = re.compile(
    r"(?<![\w.,/])(?P<num>(?:\+84|\(0\d{2,4}\)|0\d{2,4})(?:[ .-]\d{2,4}){1,4}|1[89]00[ .]?\d{2,4}(?:[ .]\d{2,4})?"
    r"|\+84\d{9,10}|0[235789]\d{8,9}|1[89]00\d{4}(?:\d{2})?)(?![\w])"
)
# 113 police, 114 fire, 115 ambulance, 111 child protection, 112 rescue, 1022 the provinces' hotline
SERVICE = re.compile(r"(?<![\w.,/])(111|112|113|114|115|116|1022|1080)(?![\w/]|[.,]\d)")
_SERVICE_CONTEXT = re.compile(
    r"(?<!\w)(?:gọi|gọi điện|hotline|tổng đài|đường dây|điện thoại|đt|sđt|liên hệ|liên lạc|báo|bấm|quay|nhắn"
    r"|cấp cứu|cứu hỏa|cứu hoả|công an|cảnh sát|cứu nạn|cứu hộ|khẩn cấp|pccc|phòng cháy|trực ban|đầu số|số máy"
    r"|bảo vệ trẻ em|zalo)(?!\w)",
    re.I,
)
_SERVICE_NAME_AFTER = re.compile(
    r"[ \t]*[(:–-]?[ \t]*(?:công an|cảnh sát|cứu hỏa|cứu hoả|cấp cứu|cứu nạn|cứu hộ|pccc)", re.I
)
_COUNT_AFTER = re.compile(
    r"[ \t]*(?:hộ|người|nhân khẩu|gia đình|con|cái|chiếc|ha|héc|tấn|kg|m|km|triệu|nghìn|ngàn|tỷ|đồng|ngày|năm|tháng"
    r"|lần|học sinh|em|cháu|trường hợp|ca|liều|điểm|thôn|xã|phòng|suất|lượt|cuộc|xe|căn|thửa|bộ|%)(?!\w)",
    re.I,
)
DOC = re.compile(
    r"(?<![\w/.,])(?:(?P<num>\d{1,6})(?:/(?P<year>\d{4}))?[/-]|/)"
    r"(?P<code>[A-ZĐ]{2}[A-ZĐa-zđ&]*(?:[-/][A-ZĐ][A-ZĐa-zđ&]*)*)(?![\w&])"
)
_SO_BEFORE = re.compile(r"(?<!\w)số[ \t]*:?[ \t]*$", re.I)
#: Codes read only inside document numbers ("TU" alone is the start of "TU BỔ"; "BCT" alone may be
#: Bộ Chính trị, as an issuer of a state document it is the Ministry of Industry and Trade).
DOC_CODES = {
    "TU": "Tỉnh ủy", "HU": "Huyện ủy", "CĐ": "Công điện", "GM": "Giấy mời", "KL": "Kết luận", "QĐi": "Quy định",
    "CTr": "Chương trình", "BTV": "Ban Thường vụ", "TTLT": "Thông tư liên tịch", "QH": "Quốc hội",
    "BCT": "Bộ Công Thương", "BTP": "Bộ Tư pháp", "SCT": "Sở Công Thương", "STP": "Sở Tư pháp",
}  # fmt: skip
#: Document kinds: "Kế hoạch số 125/KH-UBND" reads "Kế hoạch số … của Ủy ban nhân dân".
_KINDS = (
    "Quyết định",
    "Kế hoạch",
    "Công văn",
    "Thông báo",
    "Nghị quyết",
    "Nghị định",
    "Thông tư liên tịch",
    "Thông tư",
    "Chỉ thị",
    "Báo cáo",
    "Tờ trình",
    "Hướng dẫn",
    "Công điện",
    "Giấy mời",
    "Kết luận",
    "Quy định",
    "Chương trình",
)
KM_MARKER = re.compile(r"(?<![\w.,])(?<!\d )[Kk]m[ \t]?(\d{1,4})(?:\+(\d{1,3}))?(?![\w])")
DISTRICT = re.compile(r"(?<![\w.])([QP])\.[ \t]?(\d{1,2})(?![\w]|[.,]\d)")
MONEY_SUFFIX = re.compile(
    r"(?<=\d)[ \t]?(tr\.?[ \t]?đ|trđ|tr|k)(?![\w])|(?<=triệu|nghìn)[ \t]?(đ)(?!\w)"
    r"|(?<=tỷ|tỉ)[ \t]?(đ)(?!\w)"
)
ROAD = re.compile(r"(?<![\w.])(QL|ĐT|TL|ĐH)\.?[ \t]?(?=\d{1,3}[A-Z]?(?![\w]|[.,]\d))")
_ROADS = {"QL": "Quốc lộ", "ĐT": "đường tỉnh", "TL": "tỉnh lộ", "ĐH": "đường huyện"}
CHAIN = re.compile(r"(?<![\w.,/-])\d{1,3}(?:-\d{1,3}){2,}(?![\w/]|-\d)")
CODE_DIGITS = re.compile(r"(?<![\w.,])\d{3,}(?:[ .]\d{3,})+(?![\w]|[.,]\d)")
_CODE_BEFORE = re.compile(
    r"(?<!\w)(?:mã|mã số|mã phòng|mã phòng họp|mật khẩu|số tài khoản|tài khoản|stk|id)"
    r"(?:[ \t]+\w+){0,2}[ \t]*:?[ \t]*$",
    re.I,
)
SCORE = re.compile(r"(?<![\w.,:/-])(\d{1,2})[ \t]*[-–:][ \t]*(\d{1,2})(?![\w:/]|[.,]\d)")
_SCORE_BEFORE = words_re(r"tỷ số|tỉ số|thắng|thua|hòa|hoà|chung cuộc|kết quả")
RATIO = re.compile(r"(?<![\w.,:/])(\d{1,4})[ \t]*:[ \t]*(\d{1,5})(?![\w:/]|[.,]\d)")
_RATIO_BEFORE = words_re(r"tỷ lệ|tỉ lệ|pha|theo tỷ lệ|bản đồ")
NUMBER = re.compile(
    r"(?P<int>\d{1,3}(?:\.\d{3})+(?![\d])|\d{1,3}(?:,\d{3}){2,}(?![\d])|\d+)"
    r"(?:,(?P<frac>\d+)|\.(?P<dot>\d+))?(?P<pct>[ \t]?[%‰])?"
)


def _phone_groups(digits: str) -> list[str]:
    """Split an unspaced phone number the way people say it (0912 345 678, 024 3825 1234)."""
    if digits.startswith(("024", "028")) and len(digits) == 11:
        return [digits[:3], digits[3:7], digits[7:]]
    if len(digits) == 11:
        return [digits[:4], digits[4:8], digits[8:]]
    if len(digits) == 8:
        return [digits[:4], digits[4:]]
    return [digits[:4], digits[4:7], digits[7:]]


def phone(m: re.Match[str], ctx: Context) -> str | None:
    """Phone numbers digit by digit, a pause between the groups people say."""
    raw = m.group("num")
    digits = re.sub(r"\D", "", raw)
    if not 8 <= len(digits) <= 13:
        return None
    if raw.startswith("+84") and raw[1:].isdigit():
        groups = ["+84", *[raw[i : i + 3] for i in range(3, len(raw), 3)]]
    elif raw.isdigit():
        groups = _phone_groups(raw)
    else:
        groups = [g for g in re.split(r"[ .-]", raw) if g]
    return pad(m, ", ".join(("cộng " if g.startswith("+") else "") + digits_to_words(g) for g in groups))


def service(m: re.Match[str], ctx: Context) -> str | None:
    """113, 114, 115, 1022… digit by digit when the words around are about calling; else a count."""
    raw = m.group(1)
    if _COUNT_AFTER.match(m.string, m.end()):
        return None
    if _SERVICE_CONTEXT.search(clause_before(m, 40)) or _SERVICE_NAME_AFTER.match(m.string, m.end()):
        return pad(m, digits_to_words(raw))
    ctx.ambiguous(
        m,
        (number_to_words(int(raw)), digits_to_words(raw)),
        f"viết “gọi {raw}” nếu là số điện thoại khẩn cấp, hoặc thêm đơn vị (“{raw} hộ”) nếu là số lượng.",
    )
    return None


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
            reading = abbreviations.get(key) or DOC_CODES.get(key)
            if reading:
                words.append(reading)
                i = j
                break
        else:
            words.append(segments[i])
            i += 1
    return words


def _split_kind(code: list[str]) -> tuple[str | None, list[str]]:
    """("Kế hoạch", ["Ủy ban nhân dân"]) from ["Kế hoạch", "Ủy ban nhân dân"]; ("Nghị định", ["Chính phủ"])."""
    if code:
        for kind in _KINDS:
            first = code[0]
            if first == kind or first.startswith(kind + " "):
                rest = first[len(kind) :].strip()
                return kind, ([rest] if rest else []) + code[1:]
    return None, code


_WORD = re.compile(r"\w[\w&]*")


def _words_before(m: re.Match[str], abbreviations: Mapping[str, str]) -> str:
    """The 40 characters before the number, abbreviations expanded ("Căn cứ TT" → căn cứ thông tư), lower-cased."""
    text = _SO_BEFORE.sub("", m.string[max(0, m.start() - 40) : m.start()])
    return _WORD.sub(lambda w: abbreviations.get(w.group(0), w.group(0)), text).rstrip().lower()


_ISSUER_AFTER = re.compile(r"[ \t]*,?[ \t]*(?:ngày[ \t]+[\d/.-]+[ \t]*,?[ \t]*)?của[ \t]+(\S+(?:[ \t]+\S+){0,4})")


def _issuer_repeated(m: re.Match[str], issuer: list[str], abbreviations: Mapping[str, str]) -> bool:
    """ "… 125/KH-UBND (ngày …) của UBND xã": the issuer is named right after, so it is not read twice."""
    follow = _ISSUER_AFTER.match(m.string, m.end())
    if not (issuer and follow):
        return False
    words = follow.group(1)
    expanded = " ".join(abbreviations.get(w.rstrip(",.;"), w) for w in words.split())
    return expanded.lower().startswith(issuer[0].lower())


def doc(m: re.Match[str], ctx: Context) -> str | None:
    """135/QĐ-UBND → Quyết định số một trăm ba mươi lăm của Ủy ban nhân dân."""
    number: list[str] = []
    has_so = before(m, _SO_BEFORE)
    if m.group("num"):
        number.append(number_to_words(int(m.group("num"))))
        if m.group("year"):
            number += ["năm", number_to_words(int(m.group("year")))]
    kind, issuer = _split_kind(_expand_code(m.group("code"), ctx.abbreviations))
    text_before = _words_before(m, ctx.abbreviations)
    # "Quyết định số 135/QĐ-UBND", "Thông báo kết luận số 45-TB/ĐU", "TT 39/2020/TT-BTTTT": the text
    # already named the kind (a "TT" written before the number is the circular, read by the list)
    named = kind is not None and re.search(rf"(?<!\w){kind.lower()}(?:[ \t]+\w+){{0,2}}$", text_before) is not None
    repeated = kind is not None and not (has_so and not named) and _issuer_repeated(m, issuer, ctx.abbreviations)
    if kind is None or (has_so and not named):  # "Công văn số 1456/SKH-CN-QLCN", "Số: 01/KH-UBND"
        code = ([kind] if kind else []) + issuer
        lead = " ".join(([] if has_so or not number else ["số"]) + number)
        spoken = ", ".join(part for part in (lead, " ".join(code)) if part)
    else:
        lead = " ".join(([] if named else [kind]) + ([] if has_so or not number else ["số"]) + number)
        spoken = lead + (" của " + " ".join(issuer) if issuer and not repeated else "")
    if re.match(r"[ \t]+\w", m.string[m.end() :]) and not repeated:
        spoken += ","  # the code is a parenthesis: pause before the sentence goes on
    return pad(m, spoken.strip())


def road(m: re.Match[str], ctx: Context) -> str:
    """QL1A, QL.10, ĐT.352 → Quốc lộ 1A, đường tỉnh 352 (the number is read later)."""
    return pad(m, _ROADS[m.group(1)])


def chain(m: re.Match[str], ctx: Context) -> str:
    """ "NPK 5-10-3": three numbers or more joined by dashes are a sequence, not a range."""
    return pad(m, " ".join(number_to_words(int(x)) for x in m.group(0).split("-")))


def code_digits(m: re.Match[str], ctx: Context) -> str | None:
    """ "mã phòng họp 823 4567 8901" → digit by digit, a pause between groups."""
    if not before(m, _CODE_BEFORE, 30):
        return None
    return pad(m, ", ".join(digits_to_words(g) for g in re.split(r"[ .]", m.group(0))))


def km_marker(m: re.Match[str], ctx: Context) -> str:
    """ "Km 12", "Km12+500" on a road → cây số mười hai (cộng năm trăm)."""
    spoken = "cây số " + number_to_words(int(m.group(1)))
    if m.group(2):
        spoken += " cộng " + number_to_words(int(m.group(2)))
    return pad(m, spoken)


def district(m: re.Match[str], ctx: Context) -> str:
    """Q.1 → quận một, P.5 → phường năm."""
    return pad(m, ("quận " if m.group(1) == "Q" else "phường ") + number_to_words(int(m.group(2))))


def money_suffix(m: re.Match[str], ctx: Context) -> str:
    """ "10 tr.đ" → 10 triệu đồng, "10tr" → 10 triệu, "50k" → 50 nghìn, "2 tỷ đ" → 2 tỷ đồng."""
    suffix = m.group(1)
    if suffix is None:
        return " đồng"
    if suffix == "k":
        return " nghìn"
    return " triệu đồng" if suffix.endswith("đ") else " triệu"


def score(m: re.Match[str], ctx: Context) -> str | None:
    """ "thắng 3-1", "tỷ số 2:1" → ba một."""
    if not before(m, _SCORE_BEFORE, 20):
        return None
    return pad(m, f"{number_to_words(int(m.group(1)))} {number_to_words(int(m.group(2)))}")


def ratio(m: re.Match[str], ctx: Context) -> str | None:
    """ "tỷ lệ 1:500" → một trên năm trăm."""
    if not before(m, _RATIO_BEFORE, 20) or int(m.group(2)) == 0:
        return None
    return pad(m, f"{number_to_words(int(m.group(1)))} trên {number_to_words(int(m.group(2)))}")


def number(m: re.Match[str], ctx: Context) -> str:
    """Cardinals, amounts with separators, decimals, percentages and per-mille."""
    raw = m.group("int")
    if "." in raw or "," in raw:
        words = grouped_words(raw)
    else:
        words = int_words(raw)
    if m.group("frac"):
        words += " phẩy " + fraction_words(m.group("frac"))
    elif m.group("dot"):
        words += " chấm " + fraction_words(m.group("dot"))
    if m.group("pct"):
        words += " phần nghìn" if m.group("pct").endswith("‰") else " phần trăm"
    return pad(m, words)

"""Offices and standing bodies: abbreviations whose meaning depends on the word beside them.

- "TT" before a Party committee, a people's council or committee, or the Fatherland Front
  ("TT Đảng ủy", "TT HĐND", "Phó Chủ tịch TT UBND", "Ban TT Ủy ban MTTQ") is *Thường trực*.
  Elsewhere it keeps the reading of the list ("Thông tư"): a circular is named in document
  references, and inside a document number ("39/2020/TT-BTTTT") the document-number rule has
  already read it as the document kind ("Thông tư số ba mươi chín năm … của Bộ Thông tin và
  Truyền thông"). "TT." stays "thị trấn" except right before those bodies ("TT.HĐND").
- "CA" before an administrative level ("CA xã", "CA huyện") is *Công an*; "ca" in lower case is
  a case or a shift ("1 ca mắc sởi") and is never touched.
- After a head word (Bộ, Sở, Phòng, Ban, Trạm) a short symbol names the office's field:
  "Sở TC" → Sở Tài chính, "Ban TC" → Ban Tổ chức, "Trạm YT" → Trạm Y tế. Alone these symbols mean
  too many things ("TC" is also tiêu chí, tổ chức, thể chất; "XD" xây dựng in "XD NTM") and are
  left to the lists.
- A listed abbreviation whose reading names an office ("BTTTT" → "Bộ Thông tin …") does not
  repeat the head word written before it: "Bộ BTTTT" → Bộ Thông tin và Truyền thông, and an
  operator's "VHTTDL: Bộ Văn hóa, …" still reads "Sở VHTTDL" as Sở Văn hóa, ….

The unambiguous long symbols (VHTTDL, KH&ĐT, LĐ-TB&XH, NN&PTNT, …) are plain entries of
``data/abbreviations.yaml``, written without a head word so that any head can precede them.
"""

from __future__ import annotations

import re

from .context import Context, pad

_BODIES = (
    r"Đảng[ \t]+(?:ủy|uỷ)|ĐU|HĐND|UBND|UBMTTQ|MTTQ|Hội[ \t]+đồng[ \t]+nhân[ \t]+dân|(?:Ủy|Uỷ)[ \t]+ban"
    r"|(?:Huyện|Tỉnh|Thành|Quận|Thị)[ \t]+(?:ủy|uỷ)"
)
_LEVELS = r"xã|phường|thị[ \t]+trấn|thị[ \t]+xã|huyện|quận|tỉnh|thành[ \t]+phố|TP"
#: "TT HĐND" → Thường trực; "CA xã" → Công an (the abbreviation is case-sensitive, what follows is not)
STANDING = re.compile(
    rf"(?<![\w&/.-])(?:(?P<tt>TT)(?:\.|(?=[ \t]))(?=[ \t]*(?i:{_BODIES})(?!\w))"
    rf"|CA(?=[ \t]+(?i:{_LEVELS})(?!\w)))"
)

_FIELDS = {
    "TC": "Tài chính",
    "XD": "Xây dựng",
    "YT": "Y tế",
    "NV": "Nội vụ",
    "TP": "Tư pháp",
    "GTVT": "Giao thông vận tải",  # "ngành GTVT" stays "giao thông vận tải" (the list)
}
#: head word → the symbols it turns into a field name
HEAD_SYMBOLS: dict[str, dict[str, str]] = {
    "Bộ": {**_FIELDS, "CA": "Công an", "QP": "Quốc phòng"},
    "Sở": _FIELDS,
    "Phòng": {**_FIELDS, "TC-KH": "Tài chính – Kế hoạch", "TCKH": "Tài chính – Kế hoạch"},
    "Ban": {"TC": "Tổ chức", "TG": "Tuyên giáo", "DV": "Dân vận"},
    "Trạm": {"YT": "Y tế"},
}
OFFICE = re.compile(
    r"(?<!\w)(?P<head>Bộ|Sở|Phòng|Ban|Trạm|BỘ|SỞ|PHÒNG|BAN|TRẠM)(?P<gap>[ \t]+)"
    r"(?P<symbol>[A-ZĐ][A-ZĐa-zđ]*(?:[-&][A-ZĐ][A-ZĐa-zđ]*)*)(?![\w&-])"
)


def standing(m: re.Match[str], ctx: Context) -> str:
    """TT HĐND → Thường trực Hội đồng nhân dân; CA xã → Công an xã."""
    return pad(m, "Thường trực" if m.group("tt") else "Công an")


def _without_head(reading: str | None) -> str | None:
    """ "Bộ Thông tin và Truyền thông" → "Thông tin và Truyền thông"; None unless it starts with a head word."""
    if reading:
        first, _, rest = reading.partition(" ")
        if first in HEAD_SYMBOLS and rest:
            return rest
    return None


def office(m: re.Match[str], ctx: Context) -> str | None:
    """Sở TC → Sở Tài chính, Ban TC → Ban Tổ chức, Bộ BTTTT → Bộ Thông tin và Truyền thông."""
    head, symbol = m.group("head"), m.group("symbol")
    name = HEAD_SYMBOLS[head.capitalize()].get(symbol) or _without_head(ctx.abbreviations.get(symbol))
    if name is None:
        return None  # "Sở KH&CN": the abbreviation pass reads the symbol
    return f"{head}{m.group('gap')}{name}"

"""Web addresses and e-mail, read the way Vietnamese announcers read them.

"dichvucong.gov.vn" → "dịch vụ công chấm gov chấm vê en"; "ubnd@hanam.gov.vn" →
"u bê en đê a còng hà nam chấm gov chấm vê en". A label is looked up in the pronunciation
lists (the operator can add "tenxa": "tên xã"), then in the table below; a label without
a vowel is spelled letter by letter; anything else is left for the voice to pronounce.
"""

from __future__ import annotations

import re

from .context import Context, pad
from .numbers import digits_to_words, spell

_TLD = r"(?:vn|com|net|org|gov|edu|info|io|int)"
EMAIL = re.compile(
    r"(?<![\w.@-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,6}(?![\w@])"
)
URL = re.compile(
    rf"(?<![\w.@/-])(?:https?://)?(?:[A-Za-z0-9-]+\.)+{_TLD}(?![\w-])(?:/[A-Za-z0-9._~%/?=&#-]*[A-Za-z0-9/])?",
    re.I,
)
#: How announcers say the common pieces of addresses.
WEB_WORDS = {
    "www": "vê kép vê kép vê kép", "gov": "gov", "vn": "vê en", "com": "com", "net": "nét", "org": "o rờ gờ",
    "edu": "e đu", "info": "in phô", "io": "i o", "int": "int", "gmail": "gờ meo", "yahoo": "da hu",
    "outlook": "ao lúc", "dichvucong": "dịch vụ công", "chinhphu": "chính phủ", "baochinhphu": "báo chính phủ",
    "baohiemxahoi": "bảo hiểm xã hội", "vneid": "vê en e ai đi", "facebook": "phây búc", "zalo": "da lô",
    "youtube": "diu túp", "hanoi": "hà nội", "haiphong": "hải phòng", "hanam": "hà nam", "xa": "xã",
    "ubnd": "u bê en đê", "tthc": "tê tê hát xê", "moh": "mờ o hát",
}  # fmt: skip
_SEPARATORS = {
    ".": "chấm",
    "@": "a còng",
    "-": "gạch ngang",
    "_": "gạch dưới",
    "/": "gạch chéo",
    "?": "chấm hỏi",
    "=": "bằng",
    "&": "và",
    "%": "phần trăm",
    "+": "cộng",
    "#": "thăng",
    "~": "ngã",
}
_PIECE = re.compile(r"[A-Za-z]+|\d+|[^A-Za-z\d]")


def _label(word: str, ctx: Context) -> str:
    lower = word.lower()
    for table in (ctx.pronunciations, WEB_WORDS):
        reading = table.get(word) or table.get(lower)
        if reading:
            return reading
    if word.isdigit():
        return digits_to_words(word)
    if not re.search(r"[aeiouy]", lower) or len(word) == 1:
        return spell(word)
    return lower


def _read(address: str, ctx: Context) -> str:
    words = []
    for piece in _PIECE.findall(address):
        words.append(_SEPARATORS.get(piece) or _label(piece, ctx))
    return " ".join(w for w in words if w)


def email(m: re.Match[str], ctx: Context) -> str:
    """ubnd.xa@gmail.com → u bê en đê chấm xã a còng gờ meo chấm com."""
    return pad(m, _read(m.group(0), ctx))


def url(m: re.Match[str], ctx: Context) -> str:
    """https://dichvucong.gov.vn/tra-cuu → dịch vụ công chấm gov chấm vê en gạch chéo tra gạch ngang cuu."""
    address = re.sub(r"^https?://", "", m.group(0), flags=re.I)
    return pad(m, _read(address, ctx))

"""Vietnamese text normalizer: rewrites announcement text as a Northern commune announcer reads it.

Runs before every TTS engine. Engines stumble on digits, dates, document numbers, headings,
abbreviations and foreign words, so everything is spelled out here in words, by a fixed
sequence of regex passes (``pipeline.PASSES``), each deciding from the words around a match.

Reading conventions chosen (Northern, Hà Nam / Hải Phòng):
- "nghìn", "linh" for a zero tens digit (105 → một trăm linh năm), "không trăm" inside a larger
  number, mốt/tư/lăm after "mươi"; April is "tháng tư"; days 1–10 take "mùng" (ngày mùng năm).
- "thứ 1" is "thứ nhất", "thứ 4" is "thứ tư"; T2…T7, CN are "thứ Hai"…"Chủ nhật".
- Headings "I.", "1.", "a)" at line start become "một,", "một,", "a,"; the line ends in a period.
- Document numbers: "Quyết định số 135/QĐ-UBND" → "Quyết định số một trăm ba mươi lăm của Ủy ban
  nhân dân"; a code with no document kind keeps the older "số …, <issuer>," reading.
- "TT" is "Thông tư" (the document kind, as in "39/2020/TT-BTTTT") except before Đảng ủy, HĐND,
  UBND, Huyện ủy, Tỉnh ủy…, where it is "Thường trực"; ministries' and departments' symbols are
  read as their names, the head word said once ("Sở VHTTDL" → Sở Văn hóa, Thể thao và Du lịch;
  "Sở TC" → Sở Tài chính, "Ban TC" → Ban Tổ chức): see ``rules_offices``.
- Phone numbers digit by digit in the groups people say; 113, 114, 115, 1022… digit by digit
  when the sentence is about calling.
- A slash is a date, a fraction ("giảm 1/3" → một phần ba), a label ("lớp 6/1" → sáu trên một)
  or a ratio, by the words around it; a bare "1/3" reads as a date and is reported by
  :func:`analyze` as ambiguous, with both readings. Writing "ngày 1/3" or "1 phần 3" settles it.
- Dashes and bullets become pauses (a comma), never words; between numbers, dates or times a
  dash is a range and reads "đến".

Public API: :func:`normalize` (text → spoken text), :func:`analyze` (also the rule behind each
span and the ambiguity warnings with positions), :func:`explain_rows`, the loaders
:func:`load_abbreviations` and :func:`load_lexicon`, and the number readers.
"""

from __future__ import annotations

from pathlib import Path

from .lexicon import (
    ABBREVIATIONS_FILE,
    PRONUNCIATIONS_FILE,
    Lexicon,
    LexiconIssue,
    load_abbreviations,
    load_lexicon,
    parse_entries,
)
from .numbers import digits_to_words, number_to_words
from .pipeline import RULE_LABELS, Analysis, analyze, normalize
from .tracker import Ambiguity, Span

__all__ = [
    "ABBREVIATIONS_FILE",
    "DEFAULT_OPERATOR_FILE",
    "PRONUNCIATIONS_FILE",
    "RULE_LABELS",
    "Ambiguity",
    "Analysis",
    "Lexicon",
    "LexiconIssue",
    "Span",
    "analyze",
    "digits_to_words",
    "explain_rows",
    "load_abbreviations",
    "load_lexicon",
    "normalize",
    "number_to_words",
    "parse_entries",
]

DEFAULT_OPERATOR_FILE = Path("scripts_vi") / ABBREVIATIONS_FILE


def explain_rows(analysis: Analysis) -> list[tuple[str, str, str]]:
    """(written span, spoken words, rules in Vietnamese) for each span a rule changed, in text order."""
    rows = []
    for span in analysis.spans:
        label = " + ".join(RULE_LABELS.get(r, r) for r in span.rules)
        rows.append((span.source, span.spoken, label))
    return rows

"""What rules share: the lexicon in use, the tracker, and small look-around helpers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .tracker import Tracker


@dataclass
class Context:
    """Everything a rule may consult besides its match."""

    abbreviations: Mapping[str, str]
    pronunciations: Mapping[str, str]
    tracker: Tracker

    def ambiguous(self, m: re.Match[str], readings: tuple[str, ...], hint: str) -> None:
        """Report that ``m`` could be read as any of ``readings`` (the first is used)."""
        self.tracker.ambiguous(m, readings, hint)


def pad(m: re.Match[str], words: str) -> str:
    """Keep words apart from letters glued to the match (F0 → F không)."""
    s, start, end = m.string, m.start(), m.end()
    if start > 0 and s[start - 1].isalpha():
        words = " " + words
    if end < len(s) and s[end].isalnum():
        words += " "
    return words


def before(m: re.Match[str], pattern: re.Pattern[str], window: int = 12) -> bool:
    """``pattern`` (anchored with ``$``) matches the ``window`` characters before the match."""
    return bool(pattern.search(m.string, max(0, m.start() - window), m.start()))


def after(m: re.Match[str], pattern: re.Pattern[str]) -> bool:
    """``pattern`` matches right after the match."""
    return bool(pattern.match(m.string, m.end()))


def clause_before(m: re.Match[str], window: int = 60) -> str:
    """The text of the same clause before the match (stops at . ! ? ; and line breaks), lower-cased."""
    text = m.string[max(0, m.start() - window) : m.start()]
    cut = max(text.rfind(ch) for ch in ".!?;\n")
    return text[cut + 1 :].lower()


def words_re(words: str, *, end: bool = True) -> re.Pattern[str]:
    """A case-insensitive pattern for any of ``words`` ("a|b c") as whole words, anchored at the end."""
    tail = r"[ \t]*:?[ \t]*$" if end else ""
    return re.compile(rf"(?<!\w)(?:{words}){tail}", re.I)

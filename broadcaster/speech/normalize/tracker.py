"""The text being rewritten, pass after pass, remembering which rule produced which words.

Every rule is a regex pass whose replacements are *edits* of the current text. In tracking
mode the text is a list of pieces, each either untouched input (aligned character by
character with the input) or the output of a rule together with the input span it came
from. A later edit that covers part of an earlier rule's output absorbs that whole piece, so
spans only ever grow and the final text is exactly what plain string rewriting gives.
Plain mode (used by :func:`normalize`) skips the bookkeeping.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Ambiguity", "Edit", "Span", "Tracker"]

Edit = tuple[int, int, str]  # start, end (in the current text), replacement


@dataclass(frozen=True)
class Span:
    """One spoken span: the input text it came from, what is said, and the rules that decided it."""

    start: int
    end: int
    source: str
    spoken: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Ambiguity:
    """A span that reads two ways when context does not decide; ``readings[0]`` is the one used."""

    start: int
    end: int
    line: int
    col: int
    source: str
    readings: tuple[str, ...]
    hint: str

    @property
    def message(self) -> str:
        """Vietnamese: what was read, the other way, and how to settle it in the text."""
        others = " hoặc ".join(f"“{r}”" for r in self.readings[1:])
        return f"“{self.source}” có thể đọc là “{self.readings[0]}” (đang dùng) hay {others}; {self.hint}"


@dataclass
class _Piece:
    text: str
    start: int  # span in the input
    end: int
    rules: tuple[str, ...] = ()  # empty: untouched input


@dataclass
class Tracker:
    """The current text; ``apply`` replaces non-overlapping spans, recording them when ``track``."""

    source: str
    track: bool = False
    text: str = ""
    pieces: list[_Piece] = field(default_factory=list)
    pending: list[tuple[int, int, tuple[str, ...], str]] = field(default_factory=list)
    ambiguities: list[Ambiguity] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.text = self.source
        self.pieces = [_Piece(self.source, 0, len(self.source))] if self.source else []

    # -- rewriting ----------------------------------------------------------------------

    def sub(self, pattern: re.Pattern[str], fn: Callable[[re.Match[str]], str | None], rule: str) -> None:
        """Replace each match of ``pattern`` by ``fn(match)``; None or the same text leaves it."""
        edits: list[Edit] = []
        for m in pattern.finditer(self.text):
            spoken = fn(m)
            if spoken is not None and spoken != m.group(0):
                edits.append((m.start(), m.end(), spoken))
        self.apply(edits, rule)

    def apply(self, edits: list[Edit], rule: str) -> None:
        """Apply sorted, non-overlapping edits made by ``rule``."""
        self._flush_ambiguities()
        if not edits:
            return
        if self.track:
            edits = self._widen(edits)
            self.pieces = self._tracked(edits, rule)
        out: list[str] = []
        last = 0
        for start, end, spoken in edits:
            out += [self.text[last:start], spoken]
            last = end
        out.append(self.text[last:])
        self.text = "".join(out)

    def _widen(self, edits: list[Edit]) -> list[Edit]:
        """Stretch edits over whole earlier-rule pieces they touch; merge edits that then meet."""
        bounds: list[tuple[int, int]] = []
        pos = 0
        for piece in self.pieces:
            if piece.rules and piece.text:
                bounds.append((pos, pos + len(piece.text)))
            pos += len(piece.text)
        groups: list[tuple[int, int, list[Edit]]] = []
        i = 0
        for edit in edits:
            lo, hi = edit[0], edit[1]
            while i < len(bounds) and bounds[i][1] <= lo:
                i += 1
            j = i
            while j < len(bounds) and bounds[j][0] < hi or (j < len(bounds) and lo == hi and bounds[j][0] < lo):
                if bounds[j][1] > lo:
                    lo, hi = min(lo, bounds[j][0]), max(hi, bounds[j][1])
                j += 1
            if groups and groups[-1][1] > lo:  # the widened edit meets the previous one
                g_lo, g_hi, members = groups.pop()
                groups.append((g_lo, max(g_hi, hi), [*members, edit]))
            else:
                groups.append((lo, hi, [edit]))
        out: list[Edit] = []
        for lo, hi, members in groups:
            parts, last = [], lo
            for start, end, spoken in members:
                parts += [self.text[last:start], spoken]
                last = end
            parts.append(self.text[last:hi])
            out.append((lo, hi, "".join(parts)))
        return out

    def _tracked(self, edits: list[Edit], rule: str) -> list[_Piece]:
        new: list[_Piece] = []
        queue = list(reversed(self.pieces))
        pos = 0  # current-text offset of queue[-1]
        for start, end, spoken in edits:
            while queue and pos + len(queue[-1].text) <= start:
                piece = queue.pop()
                new.append(piece)
                pos += len(piece.text)
            lo: int | None = None
            hi: int | None = None
            rules: tuple[str, ...] = ()
            while queue and pos < end:
                piece = queue.pop()
                p_end = pos + len(piece.text)
                if piece.rules:  # wholly inside the edit (widened)
                    a, b = piece.start, piece.end
                    rules += tuple(r for r in piece.rules if r not in rules)
                else:
                    if pos < start:
                        new.append(_Piece(piece.text[: start - pos], piece.start, piece.start + start - pos))
                    a = piece.start + max(start - pos, 0)
                    b = piece.start + min(end - pos, len(piece.text))
                    if p_end > end:
                        queue.append(_Piece(piece.text[end - pos :], piece.start + end - pos, piece.end))
                        p_end = end
                lo = a if lo is None else min(lo, a)
                hi = b if hi is None else max(hi, b)
                pos = p_end
            if lo is None or hi is None:
                lo = hi = new[-1].end if new else 0
            new.append(_Piece(spoken, lo, hi, rules + ((rule,) if rule not in rules else ())))
        new.extend(reversed(queue))
        return new

    # -- ambiguity ---------------------------------------------------------------------

    def ambiguous(self, m: re.Match[str], readings: tuple[str, ...], hint: str) -> None:
        """Note that the match just read could also be read otherwise (tracking mode only)."""
        if self.track:
            self.pending.append((m.start(), m.end(), readings, hint))

    def _flush_ambiguities(self) -> None:
        for start, end, readings, hint in self.pending:
            lo, hi = self._source_range(start, end)
            line = self.source.count("\n", 0, lo) + 1
            col = lo - (self.source.rfind("\n", 0, lo) + 1) + 1
            self.ambiguities.append(Ambiguity(lo, hi, line, col, self.source[lo:hi], readings, hint))
        self.pending.clear()

    def _source_range(self, start: int, end: int) -> tuple[int, int]:
        pos = 0
        lo = hi = None
        for piece in self.pieces:
            p_end = pos + len(piece.text)
            if p_end > start and pos < end:
                if piece.rules:
                    a, b = piece.start, piece.end
                else:
                    a, b = piece.start + max(start - pos, 0), piece.start + min(end - pos, len(piece.text))
                lo = a if lo is None else min(lo, a)
                hi = b if hi is None else max(hi, b)
            pos = p_end
        return (lo or 0, hi or 0) if lo is not None else (0, 0)

    # -- results -------------------------------------------------------------------------

    def spans(self) -> list[Span]:
        """Every span a rule produced, in text order (untouched input is left out)."""
        return [Span(p.start, p.end, self.source[p.start : p.end], p.text, p.rules) for p in self.pieces if p.rules]

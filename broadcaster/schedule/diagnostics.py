"""Problems found in a schedule file, each with the line and column the operator must look at.

:class:`Reporter` collects them while the file is read; nothing stops at the first problem.
A value already reported is replaced by :data:`INVALID` so that building goes on to find the
next problem without reporting the same one twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, Protocol, cast

if TYPE_CHECKING:
    from broadcaster.schedule.model import Schedule

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a schedule file; ``str()`` gives ``PATH:LINE:COL: message`` (1-based)."""

    path: Path
    line: int
    col: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


@dataclass
class LoadResult:
    """The schedule (None when there is any error) and every diagnostic found."""

    schedule: Schedule | None
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the schedule loaded without errors (warnings allowed)."""
        return not self.errors and self.schedule is not None


class Invalid:
    """The type of :data:`INVALID`: a value already reported as an error."""

    _instance: Invalid | None = None

    def __new__(cls) -> Invalid:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<invalid>"


INVALID: Final = Invalid()


class Marked(Protocol):
    """Anything with a 0-based ``line``/``column`` (a ``yaml.Mark``)."""

    @property
    def line(self) -> int: ...

    @property
    def column(self) -> int: ...


class HasMark(Protocol):
    """Anything with a ``start_mark`` (a YAML node or token)."""

    @property
    def start_mark(self) -> Marked: ...


class Reporter:
    """Collects errors and warnings for one file, in the columns of the file the operator sees.

    ``shifts`` undoes the repairs made for a second parse pass (a Tab widened into spaces): for
    a line, ``(column, added)`` pairs say that from ``column`` of the repaired text on, ``added``
    characters were not in the original.
    """

    def __init__(self, shown: Path, shifts: dict[int, list[tuple[int, int]]] | None = None) -> None:
        self.shown = shown
        self.shifts = shifts or {}
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []

    def error(self, where: HasMark | Marked | None, message: str) -> Invalid:
        """Note an error at ``where`` (a node, a mark or None for the top of the file)."""
        self.errors.append(self.at(where, message, "error"))
        return INVALID

    def warning(self, where: HasMark | Marked | None, message: str) -> None:
        """Note a warning at ``where``."""
        self.warnings.append(self.at(where, message, "warning"))

    def at(self, where: HasMark | Marked | None, message: str, severity: Severity = "error") -> Diagnostic:
        """A diagnostic at ``where``, with 1-based line and column of the original text."""
        mark = cast("Marked | None", getattr(where, "start_mark", where))
        if mark is None:
            return Diagnostic(self.shown, 1, 1, message, severity)
        column = mark.column
        for start, added in reversed(self.shifts.get(mark.line, [])):
            if column >= start + added:
                column -= added
            elif column > start:
                column = start
        return Diagnostic(self.shown, mark.line + 1, column + 1, message, severity)

    def result(self, schedule: Schedule | None) -> LoadResult:
        """Errors and warnings in file order; no schedule when there is any error."""
        errors = sorted(self.errors, key=lambda d: (d.line, d.col))
        warnings = sorted(self.warnings, key=lambda d: (d.line, d.col))
        return LoadResult(None if errors else schedule, errors, warnings)


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """`` — có phải ý bạn là 'x'?`` for the closest choice, else the list of valid ones."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if close:
        return f" — có phải ý bạn là '{close[0]}'?"
    return " — các giá trị hợp lệ: " + ", ".join(choices)

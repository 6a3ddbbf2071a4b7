"""Parse the YAML text into line-marked nodes, repairing what can be repaired to find every error.

We work from ``yaml.compose()`` nodes rather than ``yaml.safe_load()``: nodes keep a mark for
every key and value, duplicate keys are still visible, and the value types read each scalar's
raw text themselves, so YAML 1.1 surprises (``06:00`` read as the integer 360, ``off`` as
False, ``2026-02-30`` crashing the constructor) cannot reach the operator.

A syntax error normally ends parsing, which hid every other mistake behind one Tab. Two common
slips are therefore reported *and repaired* for another pass: a Tab becomes spaces (as wide as
makes the file parse further) and a quote left open is closed at the end of its line. Columns
reported afterwards are mapped back to the original text (see :class:`Reporter`).
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from yaml.nodes import Node

from broadcaster.schedule.diagnostics import INVALID, Invalid, Reporter

#: at most this many repairs before we give up and report what we have
MAX_REPAIRS = 50
#: how far past a repaired Tab the file must parse for that width to be chosen
_LOOKAHEAD_LINES = 3

TAB_MESSAGE = "có ký tự Tab — YAML chỉ cho thụt lề bằng dấu cách; hãy thay Tab bằng dấu cách"
INDENT_MESSAGE = "thụt lề không khớp với các dòng phía trên — kiểm tra số dấu cách đầu dòng"

# YAML syntax problems PyYAML reports, in the operator's words
_YAML_PROBLEMS: list[tuple[str, str]] = [
    (
        "mapping values are not allowed here",
        "dấu ':' không đúng chỗ — thường do thụt lề sai so với dòng trên, "
        "hoặc giá trị có dấu ':' cần đặt trong ngoặc kép",
    ),
    ("could not find expected ':'", "thiếu dấu ':' sau tên khóa (hoặc thụt lề sai)"),
    ("expected <block end>", INDENT_MESSAGE),
    ("did not find expected key", INDENT_MESSAGE),
    ("did not find expected '-' indicator", "mục danh sách thụt lề không khớp — mỗi mục bắt đầu bằng '- ' thẳng cột"),
    ("expected ',' or ']'", "danh sách [...] chưa đóng hoặc thiếu dấu phẩy giữa các phần tử"),
    ("expected ',' or '}'", "khối {...} chưa đóng hoặc thiếu dấu phẩy giữa các phần tử"),
    ("found undefined alias", "tham chiếu '*' tới một neo '&' chưa được định nghĩa"),
    (
        "found unknown escape character",
        "ký tự thoát '\\' không hợp lệ trong chuỗi ngoặc kép — dùng ngoặc đơn '...' thay vì ngoặc kép",
    ),
    ("but found another document", "tệp chứa nhiều tài liệu YAML (dòng '---') — chỉ giữ một"),
    ("found character '%'", "dòng bắt đầu bằng '%' — đặt giá trị trong ngoặc kép"),
    ("found character '@'", "giá trị bắt đầu bằng '@' — đặt giá trị trong ngoặc kép"),
    ("found character '`'", "giá trị bắt đầu bằng '`' — đặt giá trị trong ngoặc kép"),
]


@dataclass(frozen=True)
class _Position:
    """A 0-based place in the text being parsed (repaired text, not yet mapped back)."""

    line: int
    column: int
    index: int


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _index(text: str, line: int, column: int) -> int:
    return sum(len(row) + 1 for row in _lines(text)[:line]) + column


def _indent(row: str) -> int | None:
    stripped = row.lstrip(" ")
    return None if not stripped or stripped.startswith("#") else len(row) - len(stripped)


def _widths(text: str, at: _Position) -> list[int]:
    """Tab widths to try: those aligning the line with its neighbours first, then common ones."""
    rows = _lines(text)
    row = rows[at.line]
    lead = len(row) - len(row.lstrip(" \t"))
    wanted: list[int] = []
    if at.column < lead:
        before = next((i for i in map(_indent, reversed(rows[: at.line])) if i is not None), None)
        after = next((i for i in map(_indent, rows[at.line + 1 :]) if i is not None), None)
        wanted = [indent - (lead - 1) for indent in (before, after) if indent is not None]
    out: list[int] = []
    for width in [*wanted, 2, 4, 8, 1]:
        if width >= 1 and width not in out:
            out.append(width)
    return out


def _parses_past(text: str, line: int) -> bool:
    """True when ``text`` parses well past ``line`` (a few lines are enough to judge a Tab's width)."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if event.start_mark is not None and event.start_mark.line > line + _LOOKAHEAD_LINES:
                return True
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return mark is not None and mark.line > line
    except yaml.YAMLError:
        return False
    return True


def _widen_tab(text: str, at: _Position, reporter: Reporter) -> str:
    """Replace the Tab at ``at`` with the first width of spaces that lets parsing go on."""
    widths = _widths(text, at)
    chosen = widths[0]
    for width in widths:
        if _parses_past(text[: at.index] + " " * width + text[at.index + 1 :], at.line):
            chosen = width
            break
    reporter.shifts.setdefault(at.line, []).append((at.column, chosen - 1))
    return text[: at.index] + " " * chosen + text[at.index + 1 :]


def _open_quote(text: str, exc: yaml.MarkedYAMLError) -> yaml.Mark | None:
    """Where a quote that was never closed opened, if that is what this error really is.

    An unclosed ``"09:00`` runs on over the next lines until the next quote in the file closes
    it, and PyYAML complains there (an indentation error lines later). So: the error is on the
    line where a quoted value spanning several lines ended → blame that value's opening quote.
    """
    context, problem = exc.context or "", exc.problem or ""
    if "quoted scalar" in context and "end of stream" in problem:
        return exc.context_mark
    mark = exc.problem_mark
    if mark is None:
        return None
    opened: yaml.Mark | None = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index > mark.index:
                break
            if (
                isinstance(token, yaml.ScalarToken)
                and token.style in ('"', "'")
                and token.start_mark.line != token.end_mark.line
                and token.end_mark.line == mark.line
            ):
                opened = token.start_mark
    except yaml.YAMLError:
        pass
    return opened


def _quote_message(row: str, column: int) -> str:
    """What to do, with the operator's own value closed as the example when it is short."""
    quote = row[column : column + 1] or '"'
    name = "dấu ngoặc kép" if quote == '"' else "dấu ngoặc đơn"
    value = row[column:].rstrip()
    example = f": {value}{quote}" if len(value) <= 40 else f", ví dụ at: {quote}06:30{quote}"
    return f"{name} {quote} mở ở đây chưa được đóng — thêm {quote} ở cuối giá trị trên cùng dòng{example}"


def _close_quote(text: str, opened: yaml.Mark) -> str:
    """Close the quote at the end of its line (before a trailing ``\\r``)."""
    rows = _lines(text)
    row = rows[opened.line]
    quote = row[opened.column] if opened.column < len(row) else '"'
    body = row.rstrip("\r")
    rows[opened.line] = body + quote + row[len(body) :]
    return "\n".join(rows)


def _message(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or ""
    context = getattr(exc, "context", None) or ""
    if "'\\t'" in problem or "tab character" in problem:
        return TAB_MESSAGE
    for needle, vi in _YAML_PROBLEMS:
        if needle in problem or needle in context:
            return vi
    if "quoted scalar" in context:
        return f"chuỗi trong ngoặc ở đây viết sai ({problem})"
    message = f"lỗi cú pháp YAML: {problem or exc}".rstrip()
    return message + (f" ({context})" if context else "")


def _control_character(text: str, exc: yaml.reader.ReaderError, reporter: Reporter) -> str:
    before = text[: exc.position]
    line, column = before.count("\n"), len(before) - (before.rfind("\n") + 1)
    reporter.error(
        _Position(line, column, exc.position),
        f"có ký tự điều khiển không hợp lệ (mã {exc.character!r}) — xóa ký tự này",
    )
    return text[: exc.position] + " " + text[exc.position + 1 :]


def compose(text: str, reporter: Reporter) -> Node | None | Invalid:
    """The root node of ``text`` (None if the file holds no document).

    Every syntax error is reported; Tabs, open quotes and control characters are repaired so
    the rest of the file is still checked. INVALID when an error could not be repaired.
    """
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        # libyaml composes ten times faster; its error texts differ, so any error is redone below
        try:
            return yaml.compose(text, Loader=fast)
        except yaml.YAMLError:
            pass
    for _ in range(MAX_REPAIRS):
        try:
            return yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.reader.ReaderError as exc:
            text = _control_character(text, exc, reporter)
            continue
        except yaml.MarkedYAMLError as exc:
            repaired = _repair(text, exc, reporter)
        except yaml.YAMLError as exc:
            reporter.error(None, _message(exc))
            return INVALID
        if repaired is None:
            return INVALID
        text = repaired
    return INVALID


def _repair(text: str, exc: yaml.MarkedYAMLError, reporter: Reporter) -> str | None:
    """Report ``exc``; the text repaired for another pass, or None when it cannot be."""
    opened = _open_quote(text, exc)
    if opened is not None:
        reporter.error(opened, _quote_message(_lines(text)[opened.line], opened.column))
        return _close_quote(text, opened)
    mark = exc.problem_mark or exc.context_mark
    if mark is not None and _message(exc) == TAB_MESSAGE:
        at = _Position(mark.line, mark.column, _index(text, mark.line, mark.column))
        if text[at.index : at.index + 1] == "\t":
            reporter.error(at, TAB_MESSAGE)
            return _widen_tab(text, at, reporter)
    reporter.error(mark, _message(exc))
    return None

"""Edit one slot of ``schedule.yaml`` in place, keeping every other byte the operator wrote.

ruamel.yaml (round-trip mode) parses the file only to *locate* things: the slot, each key's
line and column, where each value ends. The edit itself splices new lines into the original
text, so comments, blank lines, key order, quoting and flow lists elsewhere stay exactly as they
were (a full re-dump would, for instance, turn ``device: null`` into ``device:``). After the
splice the new text is parsed again and compared with the intended data; any difference is a
refusal, never a silently damaged file.

:func:`save_slot` edits the file on disk and hands the text to :func:`save` (re-exported from
:mod:`broadcaster.schedule.versions`): validated with the very loader the daemon uses, every
version kept, written atomically, audited. Hand edits keep working: the file stays the truth.

Before ruamel builds anything, the text is looked over (:func:`_guard`): a file larger than
:data:`MAX_DOCUMENT_CHARS`, or one using YAML anchors ``&`` and aliases ``*`` (an "alias bomb"
expands a few lines into gigabytes), is refused with a Vietnamese message — such a file is
edited by hand, never here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent

from broadcaster.layout import Layout
from broadcaster.schedule.slot_types import WEEKDAYS
from broadcaster.schedule.versions import STALE_MESSAGE, SaveResult, read_text, restore, save, text_sha256

__all__ = [
    "STALE_MESSAGE",
    "EditError",
    "SaveResult",
    "SlotChanges",
    "UnknownSlot",
    "describe_changes",
    "edit_slot",
    "read_text",
    "restore",
    "save",
    "save_slot",
    "slot_form",
    "slot_names",
]

ITEM_KINDS = ("script", "text", "audio")
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "y", "n", "null"}
#: the largest schedule the editor opens (a year of slots is a few hundred kilobytes)
MAX_DOCUMENT_CHARS = 1_000_000
BY_HAND = "hãy sửa trực tiếp trong tệp schedule.yaml rồi tải lại trang"


class EditError(Exception):
    """The edit cannot be made; ``str()`` is a Vietnamese message that says what to do."""


class UnknownSlot(EditError):
    """No slot of that name in the file."""


@dataclass(frozen=True)
class SlotChanges:
    """What to change in one slot; ``None`` leaves a key as it is.

    ``days=()`` / ``dates=()`` remove the key (every day). Times, days and dates are written as
    given (quoted), so a wrong value is reported by the loader with its line.
    """

    enabled: bool | None = None
    times: tuple[str, ...] | None = None
    days: tuple[str, ...] | None = None
    dates: tuple[str, ...] | None = None
    items: tuple[tuple[str, str], ...] | None = None


# -- reading ----------------------------------------------------------------------------------


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    return y


def _guard(text: str) -> None:
    """Refuse, before anything is built from it, a text too large or using anchors and aliases."""
    if len(text) > MAX_DOCUMENT_CHARS:
        raise EditError(f"Tệp lịch quá lớn để sửa ở đây ({len(text)} ký tự, tối đa {MAX_DOCUMENT_CHARS}) — {BY_HAND}.")
    try:
        for event in _yaml().parse(StringIO(text)):  # events only: nothing is expanded or built
            if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
                raise EditError(
                    f"Tệp lịch dùng neo '&' hoặc tham chiếu '*' (dòng {event.start_mark.line + 1}) — trang này "
                    f"không sửa được tệp như vậy; viết đầy đủ từng giá trị thay cho tham chiếu, hoặc {BY_HAND}."
                )
    except YAMLError:
        return  # a syntax error: _parse reports it with its line


def _parse(text: str) -> CommentedMap:
    _guard(text)
    try:
        doc = _yaml().load(StringIO(text))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (dòng {mark.line + 1})" if mark is not None else ""
        raise EditError(
            f"Tệp lịch đang có lỗi cú pháp{where} — chạy 'broadcaster check', sửa tay trong tệp rồi tải lại trang."
        ) from None
    if not isinstance(doc, CommentedMap) or not isinstance(doc.get("slots"), CommentedSeq):
        raise EditError("Tệp lịch không có danh sách 'slots:' — chạy 'broadcaster check' để xem lỗi.")
    return doc


def _find(doc: CommentedMap, slot_id: str) -> tuple[int, CommentedMap]:
    for index, slot in enumerate(doc["slots"]):
        if isinstance(slot, CommentedMap) and str(slot.get("name")) == slot_id:
            return index, slot
    names = ", ".join(slot_names_of(doc)) or "(chưa có buổi nào)"
    raise UnknownSlot(f"Không có buổi phát '{slot_id}' trong lịch — các buổi hiện có: {names}. Tải lại trang.")


def slot_names_of(doc: CommentedMap) -> list[str]:
    """Names of the slots of a parsed document, in file order."""
    return [str(s.get("name")) for s in doc["slots"] if isinstance(s, CommentedMap) and "name" in s]


def slot_names(text: str) -> list[str]:
    """Names of the slots of a schedule text, in file order (raises :class:`EditError`)."""
    return slot_names_of(_parse(text))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _day_key(value: Any) -> str:
    word = " ".join(str(value).strip().lower().split())
    return DAY_KEYS[WEEKDAYS[word]] if word in WEEKDAYS else str(value)


def _form_of(slot: CommentedMap) -> dict[str, Any]:
    items = []
    for entry in _as_list(slot.get("play")):
        if isinstance(entry, dict) and len(entry) == 1:
            ((kind, value),) = entry.items()
            items.append({"kind": str(kind), "value": "" if value is None else str(value)})
    enabled = slot.get("enabled", True)
    return {
        "name": str(slot.get("name")),
        "enabled": enabled if isinstance(enabled, bool) else str(enabled).lower() not in ("false", "no", "off"),
        "times": [str(t) for t in _as_list(slot.get("at"))],
        "days": [_day_key(d) for d in _as_list(slot.get("days"))],
        "dates": [d.isoformat() if isinstance(d, date) else str(d) for d in _as_list(slot.get("dates"))],
        "items": items,
        "priority": str(slot.get("priority", "normal")),
        "line": slot.lc.line + 1,
    }


def slot_form(text: str, slot_id: str) -> dict[str, Any]:
    """The form data of one slot as written in the file (times, days, dates, items, enabled, line)."""
    _, slot = _find(_parse(text), slot_id)
    return _form_of(slot)


# -- rendering values -------------------------------------------------------------------------


def _quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


def _plain_or_quoted(value: str) -> str:
    return value if _PLAIN.match(value) and value.lower() not in _YAML_WORDS else _quoted(value)


def _flow(values: list[str]) -> str:
    return "[" + ", ".join(values) + "]"


def _render_scalar(key: str, changes: SlotChanges) -> str:
    if key == "enabled":
        return "true" if changes.enabled else "false"
    if key == "at":
        times = [_quoted(t.strip()) for t in changes.times or ()]
        return times[0] if len(times) == 1 else _flow(times)
    if key == "days":
        return _flow([_plain_or_quoted(_day_key(d)) for d in changes.days or ()])
    return _flow([d.strip() if _DATE.match(d.strip()) else _quoted(d) for d in changes.dates or ()])


def _render_items(items: tuple[tuple[str, str], ...], indent: int) -> list[str]:
    lines = []
    for kind, value in items:
        if kind not in ITEM_KINDS:
            raise EditError(
                f"Loại nội dung '{kind}' không hợp lệ — chọn bài đọc (script), văn bản (text) hoặc âm thanh."
            )
        shown = _quoted(value) if kind == "text" else _plain_or_quoted(value.strip())
        lines.append(" " * indent + f"- {kind}: {shown}\n")
    return lines


def _expected(changes: SlotChanges) -> dict[str, Any]:
    """The plain data the changed keys must parse back to (None = the key is gone)."""
    out: dict[str, Any] = {}
    if changes.enabled is not None:
        out["enabled"] = changes.enabled
    if changes.times is not None:
        times = [t.strip() for t in changes.times]
        out["at"] = times[0] if len(times) == 1 else times
    if changes.days is not None:
        out["days"] = [_day_key(d) for d in changes.days] or None
    if changes.dates is not None:
        dates = [date.fromisoformat(d.strip()) if _DATE.match(d.strip()) else d for d in changes.dates]
        out["dates"] = dates or None
    if changes.items is not None:
        out["play"] = [{k: (v if k == "text" else v.strip())} for k, v in changes.items]
    return out


# -- splicing ---------------------------------------------------------------------------------


@dataclass
class _Entry:
    key: str
    first: int  # 0-based line of the key
    col: int  # column of the key
    last: int  # last line of the value (trailing blank and comment lines excluded)


def _comment_at(line: str, start: int) -> str:
    """The ``# comment`` ending a one-line entry (outside quotes), or ''."""
    quote = ""
    i = start
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and line[i - 1] in " \t":
            return line[i:].rstrip("\n")
        i += 1
    return ""


def _filler(line: str, col: int) -> bool:
    """Blank or a comment no deeper than a list item of this mapping (it belongs to what follows)."""
    stripped = line.strip()
    return not stripped or (stripped.startswith("#") and len(line) - len(line.lstrip()) <= col + 2)


def _entries(doc: CommentedMap, index: int, slot: CommentedMap, lines: list[str]) -> list[_Entry]:
    slots: CommentedSeq = doc["slots"]
    if index + 1 < len(slots):
        end = slots.lc.item(index + 1)[0]
    else:
        keys = list(doc.keys())
        after = keys[keys.index("slots") + 1 :]
        end = doc.lc.key(after[0])[0] if after else len(lines)
    starts = [(str(k), *slot.lc.key(k)) for k in slot]
    entries: list[_Entry] = []
    for n, (key, first, col) in enumerate(starts):
        bound = starts[n + 1][1] if n + 1 < len(starts) else end
        if bound <= first:
            raise EditError(
                f"Buổi phát '{slot.get('name')}' viết gọn trên một dòng — không sửa được ở đây; "
                "hãy sửa trực tiếp trong tệp schedule.yaml."
            )
        last = bound - 1
        while last > first and _filler(lines[last], col):
            last -= 1
        entries.append(_Entry(key, first, col, last))
    return entries


def _item_indent(slot: CommentedMap, entry: _Entry) -> int:
    play = slot.get("play")
    if entry.key == "play" and isinstance(play, CommentedSeq) and play and not play.fa.flow_style():
        return max(int(play.lc.item(0)[1]) - 2, entry.col)
    return entry.col + 2


def _ops(
    slot: CommentedMap, entries: list[_Entry], lines: list[str], changes: SlotChanges
) -> list[tuple[int, int, list[str]]]:
    """(first, last, replacement lines) for every changed key; first > last means an insertion."""
    by_key = {e.key: e for e in entries}
    wanted = _expected(changes)
    col = entries[0].col
    ops: list[tuple[int, int, list[str]]] = []
    inserts: list[str] = []
    for key in ("at", "days", "dates", "enabled", "play"):
        if key not in wanted:
            continue
        entry = by_key.get(key)
        if key == "play":
            indent = (_item_indent(slot, entry) - entry.col) if entry else 2
            body = ["play:\n", *_render_items(changes.items or (), indent)]
        else:
            body = [f"{key}: {_render_scalar(key, changes)}\n"] if wanted[key] is not None else []
        if entry is None:
            inserts.extend(" " * col + line for line in body)
            continue
        prefix = lines[entry.first][: entry.col]
        if not body:  # remove the key; a key right after '- ' becomes null to keep the item
            body = [] if not prefix.strip() else [f"{key}: null\n"]
        comment = _comment_at(lines[entry.first], entry.col) if entry.first == entry.last else ""
        if body and comment:
            body[0] = body[0].rstrip("\n") + "  " + comment + "\n"
        rendered = [(prefix if i == 0 else " " * entry.col) + line for i, line in enumerate(body)]
        ops.append((entry.first, entry.last, rendered))
    if inserts:
        anchor = max((by_key[k] for k in ("name", "at", "days", "dates") if k in by_key), key=lambda e: e.last)
        ops.append((anchor.last + 1, anchor.last, inserts))
    return ops


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def edit_slot(text: str, slot_id: str, changes: SlotChanges) -> str:
    """``text`` with one slot changed (pure). Raises :class:`EditError` (Vietnamese) when it cannot be done."""
    if changes.times is not None and not changes.times:
        raise EditError("Cần ít nhất một giờ phát, ví dụ 06:30.")
    if changes.items is not None and not changes.items:
        raise EditError("Cần ít nhất một nội dung phát (bài đọc, văn bản hoặc tệp âm thanh).")
    if "\r\n" in text:  # a file saved on Windows keeps its line ends
        return edit_slot(text.replace("\r\n", "\n"), slot_id, changes).replace("\n", "\r\n")
    doc = _parse(text)
    index, slot = _find(doc, slot_id)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for first, last, new in sorted(_ops(slot, _entries(doc, index, slot, lines), lines, changes), reverse=True):
        lines[first : last + 1] = new
    result = "".join(lines)
    _check(doc, index, result, changes)
    return result


def _check(before: CommentedMap, index: int, result: str, changes: SlotChanges) -> None:
    """The spliced text must parse to the old data with exactly the intended changes."""
    want = _plain(before)
    slot = want["slots"][index]
    for key, value in _expected(changes).items():
        if value is None:
            slot.pop(key, None)
        else:
            slot[key] = value
    try:
        _guard(result)
        got = _plain(_yaml().load(StringIO(result)))
    except (YAMLError, EditError):
        got = None
    if isinstance(got, dict) and got.get("slots") and index < len(got["slots"]):
        got_slot = got["slots"][index]
        if got_slot.get("days", "") is None and "days" not in slot:  # written as 'days: null'
            got_slot.pop("days")
        if got_slot.get("dates", "") is None and "dates" not in slot:
            got_slot.pop("dates")
    if got != want:
        raise EditError(
            "Không sửa được buổi phát này một cách an toàn (cách viết trong tệp lạ) — "
            "hãy sửa trực tiếp trong tệp schedule.yaml rồi tải lại trang."
        )


# -- describing an edit -----------------------------------------------------------------------


def describe_changes(before: dict[str, Any], after: dict[str, Any]) -> str:
    """One Vietnamese line: what changed between two slot forms (for the version list and audit)."""
    parts: list[str] = []
    if before.get("enabled") != after.get("enabled"):
        parts.append("bật" if after.get("enabled") else "tắt")
    for key, label in (("times", "giờ"), ("days", "thứ"), ("dates", "ngày")):
        old, new = before.get(key) or [], after.get(key) or []
        if old != new:
            parts.append(f"{label} {', '.join(old) or 'mọi ngày'} → {', '.join(new) or 'mọi ngày'}")
    if before.get("items") != after.get("items"):
        parts.append(f"nội dung ({len(after.get('items') or [])} mục)")
    what = "; ".join(parts) or "không đổi gì"
    return f"buổi '{after.get('name') or before.get('name')}': {what}"


# -- saving one slot ---------------------------------------------------------------------------


def save_slot(
    path: Path, slot_id: str, changes: SlotChanges, *, base: str, who: str, where: str, layout: Layout
) -> SaveResult:
    """Edit one slot of the file on disk and :func:`save` it (refused when the file moved past ``base``)."""
    current = read_text(path)
    if text_sha256(current) != base:
        return SaveResult("stale", STALE_MESSAGE)
    try:
        new_text = edit_slot(current, slot_id, changes)
        reason = describe_changes(slot_form(current, slot_id), slot_form(new_text, slot_id))
    except EditError as exc:
        return SaveResult("invalid", str(exc))
    return save(path, new_text, who=who, where=where, layout=layout, base=base, reason=reason)

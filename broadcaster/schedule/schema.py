"""The schedule schema is declared on the model: each dataclass field says how YAML spells and checks it.

Why a field table on the dataclasses rather than pydantic models fed by the marked tree: every
message must be Vietnamese, name the key the way the operator wrote it and point at the exact
line and column of the offending *value*. Pydantic would give English error types to translate
and lose the marks between nodes and values; its coercions (``"1" → 1``, ``"yes" → True``) are
the very YAML 1.1 surprises the loader exists to refuse. A dataclass field with
``metadata=declare(Type())`` keeps the model the single typed description callers read, and makes
adding a key one line in ``model.py`` (à la Mopidy's ``config/schemas.py`` + ``config/types.py``).

:func:`read_object` is the one generic reader: unknown keys (with did-you-mean), duplicates,
missing required keys, each value through its declared type, absent keys from the dataclass
default (or inherited from ``defaults:``), then the model's own cross-field ``problems()``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from broadcaster.schedule.diagnostics import INVALID, Invalid, did_you_mean
from broadcaster.schedule.types import Context, Name, ValueType, describe, entries, is_mapping, is_null, is_scalar

if TYPE_CHECKING:
    from yaml.nodes import Node, ScalarNode

T = TypeVar("T")
Found = dict[str, tuple["ScalarNode", "Node"]]
_KEY = "schedule.yaml"


@dataclass(frozen=True)
class Decl:
    """How one dataclass field appears in YAML."""

    type: ValueType[Any]
    #: the YAML key when it differs from the attribute (``at`` for ``Slot.times``)
    key: str | None = None
    #: when absent, take this attribute of the top-level ``defaults:`` (slots inherit repeat, chime…)
    inherit: str | None = None
    #: read after the other keys, because its type reads them (``slots`` needs ``campaign`` and ``defaults``)
    late: bool = False


def declare(
    vtype: ValueType[Any], *, key: str | None = None, inherit: str | None = None, late: bool = False
) -> dict[str, Decl]:
    """Field metadata: ``x: int = field(default=2, metadata=declare(Integer(1, 20)))``."""
    return {_KEY: Decl(vtype, key, inherit, late)}


def declared(cls: type) -> list[tuple[str, Decl, dataclasses.Field[Any]]]:
    """``(yaml key, declaration, field)`` of a model class, late ones last."""
    rows = [
        (f.metadata[_KEY].key or f.name, f.metadata[_KEY], f) for f in dataclasses.fields(cls) if _KEY in f.metadata
    ]
    return sorted(rows, key=lambda row: row[1].late)


def _has_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def read_keys(
    ctx: Context,
    node: Node,
    where: str,
    allowed: tuple[str, ...],
    required: tuple[str, ...] = (),
    anchor: Node | None = None,
) -> Found | None:
    """The known keys of a mapping; reports non-mappings, duplicate, unknown and missing keys."""
    report = ctx.reporter
    if not is_mapping(node):
        report.error(node, f"{where} phải là một nhóm 'khóa: giá trị' (mapping), không phải {describe(node)}")
        return None
    found: Found = {}
    for key_node, _value in node.value:
        if not is_scalar(key_node):
            report.error(key_node, f"tên khóa trong {where} phải là một chữ đơn giản")
            continue
        key = key_node.value
        if key == "<<":
            report.error(key_node, "không hỗ trợ gộp khóa '<<' — hãy viết đầy đủ các khóa")
        elif key in found:
            first = found[key][0].start_mark.line + 1
            report.error(key_node, f"khóa '{key}' bị lặp lại trong {where} (đã có ở dòng {first}) — xóa một trong hai")
        else:
            found[key] = (key_node, _value)
            if key not in allowed:
                report.error(key_node, f"khóa '{key}' không hợp lệ trong {where}{did_you_mean(key, allowed)}")
    for key in required:
        if key not in found:
            report.error(anchor or node, f"{where} thiếu khóa bắt buộc '{key}'")
    return {k: v for k, v in found.items() if k in allowed}


@dataclass(frozen=True)
class Where:
    """How an object is named: in mapping messages (``where``) and in its values' names (``owner``)."""

    where: str
    #: the owner's name from the values read so far (a slot is named by its ``name``)
    owner: Callable[[dict[str, Any]], str]
    dotted: bool = True
    anchor: Node | None = None


def read_object(ctx: Context, node: Node, cls: type[T], at: Where, **extra: Any) -> tuple[T | Invalid, Found]:
    """Build ``cls`` from a mapping node through its declared fields; ``extra`` fills undeclared ones."""
    rows = declared(cls)
    required = tuple(key for key, _, f in rows if not _has_default(f))
    found = read_keys(ctx, node, at.where, tuple(key for key, _, _ in rows), required, at.anchor)
    if found is None:
        return INVALID, {}
    values: dict[str, Any] = {}
    for key, decl, f in rows:
        if key in found:
            key_node, value_node = found[key]
            name = Name(key, at.owner(values), at.dotted, key_node)
            values[f.name] = decl.type.parse(ctx, value_node, name)
        else:
            values[f.name] = _absent(ctx, decl, f)
        if at.where == TOP:
            ctx.top[key] = values[f.name]
    if any(isinstance(v, Invalid) for v in values.values()):
        return INVALID, found
    obj = cls(**values, **extra)
    problems: list[tuple[str, str]] = obj.problems() if hasattr(obj, "problems") else []
    for key, message in problems:
        ctx.reporter.error(found[key][1] if key in found else node, message)
    return (INVALID if problems else obj), found


def _absent(ctx: Context, decl: Decl, f: dataclasses.Field[Any]) -> Any:
    """The value of a key the file leaves out: inherited, the model default, or INVALID (reported)."""
    if decl.inherit is not None:
        defaults = ctx.top.get("defaults")
        if defaults is not None and not isinstance(defaults, Invalid):
            return getattr(defaults, decl.inherit)
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return INVALID  # a required key, reported as missing


#: ``where`` of the whole file; values read at this level are shared through ``Context.top``
TOP = "tệp lịch"


class Section(ValueType[T]):
    """A group of keys read into ``cls``; an empty group (``policy:``) means all defaults."""

    def __init__(self, cls: type[T], nullable: bool = True) -> None:
        self.cls, self.nullable = cls, nullable

    def parse(self, ctx: Context, node: Node, name: Name) -> T | Invalid:
        if self.nullable and is_null(node):
            return self.cls()
        at = Where(name.key, lambda _: name.key, anchor=name.key_node)
        return read_object(ctx, node, self.cls, at)[0]


class Named(Protocol):
    """What :class:`SlotList` reads of a slot section: its name."""

    @property
    def name(self) -> str: ...


S = TypeVar("S", bound=Named)


class SlotList(ValueType[tuple[S, ...]]):
    """``slots``: a list of ``slot`` sections (``SlotList(Slot)``); names must be unique.

    Remembers each slot's keys for later warnings.
    """

    def __init__(self, slot: type[S]) -> None:
        self.slot = slot

    def parse(self, ctx: Context, node: Node, name: Name) -> tuple[S, ...] | Invalid:
        items = entries(ctx, node, "slots", allow_scalar=False)
        if isinstance(items, Invalid):
            return items
        if not items:
            ctx.reporter.warning(node, "danh sách slots trống — chưa có buổi phát nào được lên lịch")
        names: dict[str, int] = {}
        bad = False
        for index, entry in enumerate(items, 1):
            at = Where(f"buổi phát thứ {index}", _slot_label(index), dotted=False)
            slot, found = read_object(ctx, entry, self.slot, at, line=entry.start_mark.line + 1)
            if isinstance(slot, Invalid):
                bad = True
                continue
            if slot.name in names:
                bad = True
                ctx.reporter.error(
                    found["name"][1],
                    f"tên buổi phát '{slot.name}' bị trùng (đã dùng ở dòng {names[slot.name]}) — "
                    "mỗi buổi cần một tên riêng",
                )
                continue
            names[slot.name] = found["name"][1].start_mark.line + 1
            ctx.slots.append((slot, found))
        return INVALID if bad else tuple(slot for slot, _ in ctx.slots)


def _slot_label(index: int) -> Callable[[dict[str, Any]], str]:
    def label(values: dict[str, Any]) -> str:
        name = values.get("name")
        return f"buổi phát '{name}'" if isinstance(name, str) else f"buổi phát thứ {index}"

    return label

"""The reading lists: abbreviations and pronunciations, built in and the operator's own.

Both files are YAML mappings ``"KEY": how to say it``. Abbreviations match whole tokens,
case-sensitively ("UBND", not "ubnd"); pronunciations match whole words case-insensitively
(names, place names, foreign words: "Zalo", "zalo" and "ZALO" all read "da lô").

:func:`parse_entries` never raises: it returns the good entries and one :class:`LexiconIssue`
per bad one, with its line, so ``broadcaster check`` can list every problem at once and the
daemon's hot reload keeps the good entries of a half-broken file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "ABBREVIATIONS_FILE",
    "PRONUNCIATIONS_FILE",
    "Lexicon",
    "LexiconIssue",
    "builtin_abbreviations",
    "builtin_pronunciations",
    "load_abbreviations",
    "load_lexicon",
    "parse_entries",
    "read_entries",
]

ABBREVIATIONS_FILE = "abbreviations.yaml"
PRONUNCIATIONS_FILE = "pronunciations.yaml"

Kind = Literal["abbreviations", "pronunciations"]
_TITLE = {"abbreviations": "Tệp từ viết tắt", "pronunciations": "Tệp cách đọc"}
_WHAT = {"abbreviations": "từ viết tắt", "pronunciations": "từ"}
_EXAMPLE = {
    "abbreviations": "Mỗi dòng có dạng  VIẾT_TẮT: cách đọc  (ví dụ  UBND: Ủy ban nhân dân).",
    "pronunciations": "Mỗi dòng có dạng  TỪ: cách đọc  (ví dụ  Zalo: da lô).",
}
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class LexiconIssue:
    """One bad entry; ``str()`` gives ``PATH:LINE:COL: message`` like a schedule error."""

    path: str
    line: int
    col: int
    message: str
    kind: Kind = "abbreviations"
    severity: Literal["error", "warning"] = "error"
    whole_file: bool = False  # the file itself could not be read: the message says it all

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"

    def sentence(self) -> str:
        """The same problem as one sentence (the form ``load_abbreviations`` raises)."""
        if self.whole_file:
            return self.message
        return f"{_TITLE[self.kind]} {self.path}, dòng {self.line}: {self.message}"


class Lexicon(dict[str, str]):
    """Abbreviations (the mapping itself) plus pronunciations and the problems found loading them.

    Being a ``dict`` of abbreviations, a Lexicon goes wherever ``abbreviations=`` is accepted
    (``normalize``, ``SpeechRenderer``), and the pronunciations travel with it.
    """

    def __init__(
        self, abbreviations: dict[str, str], pronunciations: dict[str, str], issues: list[LexiconIssue] | None = None
    ) -> None:
        super().__init__(abbreviations)
        self.pronunciations = dict(pronunciations)
        self.issues = list(issues or [])

    @property
    def errors(self) -> list[LexiconIssue]:
        """Bad entries (skipped when reading)."""
        return [i for i in self.issues if i.severity == "error"]


@dataclass
class _Parse:
    label: str
    kind: Kind
    entries: dict[str, str] = field(default_factory=dict)
    issues: list[LexiconIssue] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)

    def add(self, mark: Any, message: str, severity: Literal["error", "warning"] = "error") -> None:
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        self.issues.append(LexiconIssue(self.label, line, col, message, self.kind, severity))


def _entry(state: _Parse, key_node: Any, value_node: Any) -> None:
    import yaml

    example = _EXAMPLE[state.kind]
    what = _WHAT[state.kind]
    if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag == _STR_TAG and key_node.value.strip()):
        shown = getattr(key_node, "value", "")
        state.add(
            key_node.start_mark,
            f'{what} “{shown}” phải là chữ; hãy đặt nó trong ngoặc kép, ví dụ  "NO": nông thôn. {example}',
        )
        return
    key = key_node.value if state.kind == "abbreviations" else " ".join(key_node.value.split())
    if not (isinstance(value_node, yaml.ScalarNode) and value_node.tag == _STR_TAG and value_node.value.strip()):
        state.add(
            value_node.start_mark,
            f"cách đọc của “{key}” phải là một đoạn chữ (không để trống, không phải số hay danh sách). {example}",
        )
        return
    if not any(ch.isalnum() for ch in key):
        state.add(key_node.start_mark, f"“{key}” không có chữ cái nào nên không thể khớp với văn bản. {example}")
        return
    folded = key if state.kind == "abbreviations" else key.casefold()
    if folded in state.seen:
        state.add(
            key_node.start_mark,
            f"“{key}” đã có ở dòng {state.seen[folded]}; dòng này được dùng. Hãy xóa một trong hai dòng.",
            "warning",
        )
    state.seen[folded] = key_node.start_mark.line + 1
    state.entries[key] = " ".join(value_node.value.split())


def parse_entries(text: str, label: str, kind: Kind = "abbreviations") -> tuple[dict[str, str], list[LexiconIssue]]:
    """Parse one reading list: the good entries and every problem (Vietnamese, with line and column)."""
    import yaml  # lazy: keep `broadcaster --help` fast

    state = _Parse(label, kind)
    example = _EXAMPLE[kind]
    try:
        # LibYAML's parser when present (5–10× faster; the same nodes and marks for the messages)
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        state.add(
            getattr(exc, "problem_mark", None),
            "sai cú pháp YAML (thường do thiếu dấu hai chấm, thụt lề sai, hoặc ngoặc, ngoặc kép chưa đóng). "
            f"Hãy sửa dòng đó hoặc dòng ngay trên. {example}",
        )
        return {}, state.issues
    if node is None:
        return {}, []
    if not isinstance(node, yaml.MappingNode):
        state.add(node.start_mark, f"phải là danh sách các cặp {_WHAT[kind]} và cách đọc. {example}")
        return {}, state.issues
    for key_node, value_node in node.value:
        _entry(state, key_node, value_node)
    return state.entries, state.issues


def read_entries(path: Path, kind: Kind = "abbreviations") -> tuple[dict[str, str], list[LexiconIssue]]:
    """Read and parse one operator file; an unreadable file is one issue, never an exception."""
    title = _TITLE[kind]
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        message = f"Không tìm thấy {title.lower()} {path}. Kiểm tra lại đường dẫn (mẫu: scripts_vi/{kind}.yaml)."
    except UnicodeDecodeError:
        message = f"{title} {path} không phải văn bản UTF-8; hãy lưu lại với mã UTF-8."
    except OSError as exc:
        message = f"Không đọc được {title.lower()} {path}: {exc.strerror}."
    else:
        return parse_entries(text, str(path), kind)
    return {}, [LexiconIssue(str(path), 1, 1, message, kind, whole_file=True)]


@lru_cache(maxsize=2)
def _builtin(kind: Kind) -> dict[str, str]:
    from importlib.resources import files

    resource = files("broadcaster.speech").joinpath(f"data/{kind}.yaml")
    entries, issues = parse_entries(resource.read_text(encoding="utf-8"), "có sẵn (broadcaster/speech/data)", kind)
    errors = [i for i in issues if i.severity == "error"]
    if errors:  # a packaging mistake, caught by the tests
        raise ValueError(errors[0].sentence())
    return entries


def builtin_abbreviations() -> dict[str, str]:
    """The shipped abbreviations (a shared cached dict: do not modify)."""
    return _builtin("abbreviations")


def builtin_pronunciations() -> dict[str, str]:
    """The shipped pronunciations of foreign words common in notices (a shared cached dict)."""
    return _builtin("pronunciations")


def load_abbreviations(extra: Path | None = None) -> dict[str, str]:
    """Built-in abbreviations merged with the operator file ``extra`` (operator entries win).

    Raises ValueError (Vietnamese, with file and line) on the first bad entry.
    """
    merged = dict(builtin_abbreviations())
    if extra is not None:
        entries, issues = read_entries(Path(extra), "abbreviations")
        errors = [i for i in issues if i.severity == "error"]
        if errors:
            raise ValueError(errors[0].sentence())
        merged.update(entries)
    return merged


def load_lexicon(scripts_dir: Path | None = None) -> Lexicon:
    """Built-in lists plus ``scripts_dir``/abbreviations.yaml and pronunciations.yaml when present.

    Never raises: bad entries are skipped and listed in ``Lexicon.issues`` (a file with a YAML
    syntax error contributes nothing), so a broken edit never silences the good entries.
    """
    abbreviations = dict(builtin_abbreviations())
    pronunciations = dict(builtin_pronunciations())
    issues: list[LexiconIssue] = []
    if scripts_dir is not None:
        for kind, target in (("abbreviations", abbreviations), ("pronunciations", pronunciations)):
            path = Path(scripts_dir) / f"{kind}.yaml"
            if path.is_file():
                entries, found = read_entries(path, kind)  # type: ignore[arg-type]
                target.update(entries)
                issues += found
    return Lexicon(abbreviations, pronunciations, issues)

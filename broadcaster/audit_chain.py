"""The audit trail's chain and its check: hashes, MACs, the key, the anchor (see ``broadcaster/audit.py``).

:func:`check` reads ``audit.jsonl`` under a shared lock (an append in progress finishes first),
then ``audit-anchor`` and ``audit-key`` beside it, and names in Vietnamese every line that was
edited, inserted or removed, a chain rewritten without the key, the last lines cut off, the file
truncated or deleted, and a missing or edited anchor. Standard library only.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broadcaster.fsutil import read_bytes_inside
from broadcaster.layout import AUDIT_ANCHOR_FILE, AUDIT_KEY_FILE

GENESIS = "0" * 64
MISMATCH = "audit_mismatch"
REQUIRED = ("seq", "at", "who", "where", "action", "prev", "hash")


def key_path(log: Path) -> Path:
    """The HMAC key beside an audit file (``Layout.audit_key``)."""
    return Path(log).with_name(AUDIT_KEY_FILE)


def anchor_path(log: Path) -> Path:
    """The anchor beside an audit file (``Layout.audit_anchor``)."""
    return Path(log).with_name(AUDIT_ANCHOR_FILE)


def canonical(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _content(entry: dict[str, Any]) -> bytes:
    return canonical({k: v for k, v in entry.items() if k not in ("hash", "mac")}).encode("utf-8")


def entry_hash(entry: dict[str, Any]) -> str:
    """The hash an entry must carry: over its canonical JSON without ``hash`` (and ``mac``)."""
    return sha(_content(entry))


def entry_mac(key: bytes, entry: dict[str, Any]) -> str:
    """The MAC a keyed entry must carry: HMAC-SHA256 of the same bytes as :func:`entry_hash`."""
    return hmac.new(key, b"audit-line\n" + _content(entry), hashlib.sha256).hexdigest()


def anchor_mac(key: bytes, lines: int, last_mac: str) -> str:
    """The anchor's own MAC, over the line count and the last line's MAC."""
    return hmac.new(key, f"audit-anchor\n{lines}\n{last_mac}".encode(), hashlib.sha256).hexdigest()


def parse(raw: bytes) -> dict[str, Any] | None:
    """One line as a JSON object, or None."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Anchor:
    """What ``audit-anchor`` says: how many lines the log had and the last one's MAC."""

    lines: int
    last_mac: str
    mac: str

    def valid(self, key: bytes) -> bool:
        return hmac.compare_digest(self.mac, anchor_mac(key, self.lines, self.last_mac))


class BadAnchor(ValueError):
    """The anchor file exists but is not an anchor (edited by hand, or another file)."""


def read_anchor(path: Path) -> Anchor | None:
    """The anchor at ``path`` (never through a symlink); None when there is none; :class:`BadAnchor` else."""
    path = Path(path)
    try:
        data = json.loads(read_bytes_inside(path.parent, path.name))
        return Anchor(int(data["lines"]), str(data["last_mac"]), str(data["mac"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise BadAnchor(str(exc)) from None


def read_key(path: Path) -> bytes | None:
    """The audit key at ``path`` (never through a symlink); None when there is none."""
    path = Path(path)
    try:
        return read_bytes_inside(path.parent, path.name) or None
    except FileNotFoundError:
        return None


@dataclass
class Verdict:
    """What :func:`check` found; ``problems`` empty means intact."""

    problems: list[str] = field(default_factory=list)
    exists: bool = False
    lines: int = 0  # complete lines (a torn last piece is not counted)
    keyed: int = 0
    unkeyed: int = 0  # written before the key existed: chained by SHA-256 only ("trước khi có khóa")
    anchor: Anchor | None = None
    has_key: bool = False

    @property
    def intact(self) -> bool:
        return not self.problems


def _check_line(number: int, raw: bytes, data: dict[str, Any] | None, prev: str, seq: int) -> list[str]:
    """Problems of one line given the previous line's hash and the expected seq."""
    if data is None:
        return [f"dòng {number}: không đọc được (không phải JSON) — dòng bị sửa hoặc ghi dở"]
    problems = []
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        problems.append(f"dòng {number}: thiếu trường {', '.join(missing)}")
    if data.get("hash") != entry_hash(data):
        problems.append(f"dòng {number}: nội dung không khớp mã băm của chính nó — dòng này đã bị sửa")
    if data.get("prev") != prev:
        problems.append(f"dòng {number}: không nối với dòng trước (mã 'prev' sai) — có dòng bị sửa, xoá hoặc chèn")
    if data.get("seq") != seq:
        problems.append(f"dòng {number}: số thứ tự {data.get('seq')} thay vì {seq} — có dòng bị xoá hoặc chèn")
    return problems


class _Lines:
    """The lines one by one: SHA-256 chain and seq, then the MAC (a run of bad MACs is one problem)."""

    def __init__(self, key: bytes | None) -> None:
        self.key, self.prev, self.seq = key, GENESIS, 1
        self.problems: list[str] = []
        self.macs: list[str] = []
        self.keyed = self.unkeyed = 0
        self._bad: list[int] = []

    def feed(self, number: int, raw: bytes) -> None:
        data = parse(raw)
        found = _check_line(number, raw, data, self.prev, self.seq)
        mac = str(data.get("mac") or "") if data else ""
        self.macs.append(mac)
        bad_mac = False
        if data is not None and mac:
            self.keyed += 1
            edited = data.get("hash") != entry_hash(data)  # already said; the MAC would only repeat it
            bad_mac = self.key is not None and not edited and not hmac.compare_digest(mac, entry_mac(self.key, data))
        elif data is not None and self.keyed:
            found.append(
                f"dòng {number}: không có mã xác thực (mac) dù các dòng trước đã có — dòng được chèn "
                "hoặc viết lại mà không có khóa"
            )
        elif data is not None:
            self.unkeyed += 1
        if data is not None and data.get("action") == MISMATCH and not bad_mac:
            found.append(_mismatch_text(number, data))
        if bad_mac:
            self._bad.append(number)
        if found or not bad_mac:
            self.finish()
        self.problems += found
        self.prev = sha(raw)
        self.seq = data["seq"] + 1 if data and isinstance(data.get("seq"), int) else self.seq + 1

    def finish(self) -> None:
        """Report the run of lines whose MAC does not match the key, if one is open."""
        if not self._bad:
            return
        first, last = self._bad[0], self._bad[-1]
        where = f"dòng {first}" if first == last else f"dòng {first}–{last}"
        self.problems.append(
            f"{where}: mã xác thực không khớp khóa audit-key — chuỗi đã bị viết lại (mã băm SHA-256 ai cũng "
            "tính lại được, mã xác thực thì không nếu không có khóa) hoặc khóa bị thay"
        )
        self._bad = []


def _mismatch_text(number: int, data: dict[str, Any]) -> str:
    given = data.get("detail")
    detail: dict[str, Any] = given if isinstance(given, dict) else {}
    return (
        f"dòng {number}: lúc ghi dòng này ({data.get('at')}) phần mềm thấy nhật ký không khớp mốc: "
        f"{detail.get('reason', '?')} — trước thời điểm đó nhật ký đã bị cắt, xoá hoặc sửa"
    )


def _anchor_of(path: Path) -> tuple[Anchor | None, str | None]:
    try:
        return read_anchor(path), None
    except BadAnchor as exc:
        return None, str(exc)


def _anchor_problems(
    label: str, found: tuple[Anchor | None, str | None], key: bytes | None, v: Verdict, macs: list[str]
) -> list[str]:
    """What an anchor (the one beside the log, or a copy kept elsewhere) says about the file."""
    anchor, bad = found
    if bad is not None:
        return [f"{label} hỏng (không đọc được: {bad}) — bị sửa tay hoặc bị thay bằng tệp khác"]
    if anchor is None:
        if v.has_key or v.keyed:
            return [
                f"không có {label} trong khi đã có khóa và nhật ký có {v.lines} dòng — mốc bị xoá: "
                "không còn biết các dòng cuối có bị xoá hay không"
            ]
        return []
    if key is None:
        return []  # the missing key is reported once, above
    if not anchor.valid(key):
        return [f"{label} không khớp khóa audit-key — mốc bị sửa tay, là của đài khác, hoặc khóa bị thay"]
    if not v.exists:
        return [f"tệp nhật ký không còn (bị xoá) trong khi {label} ghi {anchor.lines} dòng"]
    if v.lines == 0:
        return [f"tệp nhật ký rỗng (bị cắt) trong khi {label} ghi {anchor.lines} dòng"]
    if anchor.lines > v.lines:
        return [
            f"{label} ghi {anchor.lines} dòng nhưng tệp chỉ còn {v.lines}: {anchor.lines - v.lines} dòng "
            "đã bị xoá ở cuối (hoặc tệp bị cắt)"
        ]
    if anchor.lines and macs[anchor.lines - 1] != anchor.last_mac:
        return [
            f"dòng {anchor.lines}: không phải dòng mà {label} ghi là dòng cuối — nhật ký bị viết lại, "
            "hoặc có dòng bị xoá/chèn"
        ]
    return []


def _read_lines(path: Path, v: Verdict, lines: _Lines) -> tuple[Anchor | None, str | None]:
    """Feed every line under a shared lock and read the anchor while holding it (a consistent pair)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return _anchor_of(anchor_path(path))
    v.exists = True
    with os.fdopen(fd, "rb") as fh:
        fcntl.flock(fh, fcntl.LOCK_SH)
        anchor = _anchor_of(anchor_path(path))
        for number, raw in enumerate(fh, 1):
            v.lines = number if raw.endswith(b"\n") else v.lines
            lines.feed(number, raw.rstrip(b"\n"))
    return anchor


def check(path: Path, copy: Path | None = None) -> Verdict:
    """Check the chain, the MACs and the anchor (and ``copy``, an anchor saved elsewhere)."""
    path, v = Path(path), Verdict()
    key_problem = None
    try:
        key = read_key(key_path(path))
    except OSError as exc:
        key, key_problem = None, f"không đọc được tệp khóa '{key_path(path)}': {exc}"
    v.has_key = key is not None
    lines = _Lines(key)
    found = _read_lines(path, v, lines)
    lines.finish()
    v.problems, v.keyed, v.unkeyed, v.anchor = lines.problems, lines.keyed, lines.unkeyed, found[0]
    if key_problem:
        v.problems.append(key_problem)
    elif key is None and v.keyed:
        v.problems.append(
            f"không có tệp khóa audit-key mà {v.keyed} dòng mang mã xác thực — khóa bị xoá: không kiểm được "
            "mã xác thực nữa"
        )
    v.problems += _anchor_problems("mốc audit-anchor", found, key, v, lines.macs)
    if copy is not None:
        saved = _anchor_of(Path(copy)) if Path(copy).is_file() else (None, "không có tệp này")
        v.problems += _anchor_problems(f"bản sao mốc '{copy}'", saved, key, v, lines.macs)
    return v

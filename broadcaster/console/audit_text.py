"""The audit trail in words, for the Người dùng page (served by :mod:`broadcaster.console.people`).

:func:`describe_entry` turns one entry of ``audit.jsonl`` (see :mod:`broadcaster.audit` for what
each action records) into what an operator reads: one Vietnamese sentence per action ("Sửa lịch:
giờ 06:00 → 06:30 ở buổi 'sang'"), the changed lines of an edit as short before/after pairs in
words ("số lần đọc: 1" → "số lần đọc: 2"), and apart what only a technician needs: ``technical``
(content hashes, request keys; folded on the page) and ``integrity`` (the entry's place in the
hash chain; a tooltip). Raw diffs and hashes are never the text; a password in a URL never shows.
"""

from __future__ import annotations

import re
from itertools import zip_longest
from typing import Any

from broadcaster import fmt
from broadcaster.users import Role, StateError

#: how many before/after pairs an entry shows, and how long one side may be
MAX_CHANGES = 8
MAX_SIDE = 110
MAX_TITLE = 80

PRIORITY_VI = {"normal": "thông thường", "priority": "ưu tiên", "emergency": "khẩn cấp"}
KIND_VI = {"script": "bài đọc", "text": "văn bản", "audio": "tệp âm thanh", "relay": "tiếp sóng"}
DAY_VI = {"mon": "T2", "tue": "T3", "wed": "T4", "thu": "T5", "fri": "T6", "sat": "T7", "sun": "CN"}

#: schedule.yaml's keys (and detail keys) as an operator names them
KEY_VI = {
    "name": "tên",
    "at": "giờ",
    "times": "giờ",
    "time": "giờ",
    "dates": "ngày",
    "days": "thứ",
    "repeat": "số lần đọc",
    "priority": "mức ưu tiên",
    "enabled": "bật",
    "play": "nội dung",
    "script": "bài đọc",
    "text": "văn bản",
    "audio": "tệp âm thanh",
    "relay": "tiếp sóng",
    "seconds": "số giây",
    "chime": "nhạc hiệu",
    "voice": "giọng đọc",
    "gap_seconds": "nghỉ giữa các lần đọc (giây)",
    "start": "bắt đầu",
    "end": "kết thúc",
    "timezone": "múi giờ",
    "zones": "vùng",
    "zone": "vùng",
    "earliest": "sớm nhất",
    "latest": "muộn nhất",
    "max_session_minutes": "buổi dài nhất (phút)",
    "require_approval": "cần duyệt",
    "device": "thiết bị",
    "icecast": "Icecast",
    "delay_ms": "trễ (ms)",
    "grace_minutes": "cho phép phát muộn (phút)",
    "monitor": "đầu nghe kiểm tra",
    "campaign": "chiến dịch",
    "slots": "các buổi phát",
    "defaults": "mặc định",
    "policy": "quy định",
    "output": "đầu ra",
    "title": "tiêu đề",
    "user": "người dùng",
    "role": "vai trò",
    "change": "thay đổi",
    "note": "ghi chú",
    "files": "tệp",
    "version": "phiên bản",
    "reason": "lý do",
    "restored": "khôi phục phiên bản",
    "created": "tạo mới",
    "scope": "phạm vi (vùng)",
    "cut": "đã dừng",
}
#: detail keys that are for technicians only (never the sentence)
TECHNICAL_KEYS = {
    "key": "mã bản tin",
    "sha256": "mã băm nội dung (SHA-256)",
    "id": "mã",
    "row_id": "mã dòng nhật ký phát",
}

_HEX_HASH = re.compile(r"\b[0-9a-f]{40,}\b")
_URL_USER = re.compile(r"(\w+://)[^/@\s]+@")
_SECRET_KEY = re.compile(r"(pass(word)?|mật khẩu|secret|token)", re.IGNORECASE)
_YAML_LINE = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)\s*:\s*(?P<value>.*)$")
_SLOT_NAME = re.compile(r"^-?\s*name\s*:\s*(?P<name>.+)$")
_REASON = re.compile(r"^buổi '(?P<slot>[^']*)': (?P<what>.*)$")


def _clean(text: Any, width: int = MAX_SIDE) -> str:
    """One line an operator may read: no password in a URL, no hash, cut short."""
    line = " ".join(str(text).split())
    line = _URL_USER.sub(r"\1***@", line)
    line = _HEX_HASH.sub("…", line)
    return fmt.ellipsize(line, width)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _yaml_value(key: str, value: str) -> str:
    """A YAML value in words: days as T2…CN, priorities and booleans in Vietnamese, quotes dropped."""
    value = _unquote(value.split(" #", 1)[0])
    if _SECRET_KEY.search(key):
        return "(đã ẩn)"
    if value.startswith("[") and value.endswith("]"):
        parts = [_unquote(p) for p in value[1:-1].split(",") if p.strip()]
        if key == "days":
            parts = [DAY_VI.get(p.lower(), p) for p in parts]
        return ", ".join(parts) if parts else "(trống)"
    if key == "priority":
        return PRIORITY_VI.get(value, value)
    if value.lower() in ("true", "yes"):
        return "có"
    if value.lower() in ("false", "no"):
        return "không"
    return value


def yaml_line_text(line: str) -> str:
    """One line of schedule.yaml as an operator reads it ("giờ: 06:30", "bài đọc: tin-sang")."""
    text = line.strip()
    if text.startswith("#"):
        return _clean("ghi chú: " + text.lstrip("# "))
    if text.startswith("- "):
        text = text[2:].strip()
    m = _YAML_LINE.match(text)
    if not m:
        return _clean(_unquote(text)) or "(dòng trống)"
    key, value = m["key"], m["value"]
    if key == "enabled":
        return "đang bật" if _yaml_value(key, value) == "có" else "đã tắt"
    label = KEY_VI.get(key, key)
    if not value.strip():
        return _clean(f"{label}:")
    return _clean(f"{label}: {_yaml_value(key, value)}")


def diff_changes(
    diff: Any, line_text: Any = None, *, track_slots: bool = False
) -> tuple[list[dict[str, str | None]], int]:
    """Before/after pairs of a unified diff (the audit's ``diff`` lines), at most :data:`MAX_CHANGES`.

    Returns ``(pairs, more)``: each pair is ``{"where", "before", "after"}`` (a side is None when
    a line was only added or only removed) and ``more`` counts the pairs left out. With
    ``track_slots`` the pairs of schedule.yaml name the slot they are in (``buổi 'sang'``)
    when the diff's context shows it.
    """
    show = line_text or (lambda raw: _clean(raw) or "(dòng trống)")
    if not isinstance(diff, list):
        return [], 0
    pairs: list[dict[str, str | None]] = []
    where: str | None = None
    before: list[str] = []
    after: list[str] = []

    def flush() -> None:
        for old, new in zip_longest(before, after):
            pairs.append(
                {
                    "where": where,
                    "before": None if old is None else show(old),
                    "after": None if new is None else show(new),
                }
            )
        before.clear()
        after.clear()

    for raw in diff:
        line = str(raw)
        if line.startswith(("--- ", "+++ ")):
            continue
        if line.startswith("@@"):
            flush()
            where = None
            continue
        body = line[1:]
        if line.startswith("-"):
            before.append(body)
        elif line.startswith("+"):
            after.append(body)
        else:
            flush()
        if track_slots and (m := _SLOT_NAME.match(body.strip())) and not line.startswith("+"):
            where = f"buổi '{_unquote(m['name'])}'"
    flush()
    pairs = [p for p in pairs if p["before"] != p["after"]]
    return pairs[:MAX_CHANGES], max(0, len(pairs) - MAX_CHANGES)


def _title(detail: dict[str, Any]) -> str:
    return _clean(detail.get("title") or detail.get("key") or "?", MAX_TITLE)


def _zones(value: Any) -> str:
    if isinstance(value, list | tuple) and value:
        return ", ".join(str(z) for z in value)
    return ""


def _announcement(action: str, d: dict[str, Any]) -> str:
    kind = next((k for k in ("text", "script", "audio", "relay") if k in d), None)
    if kind == "text":
        what = f"văn bản «{_clean(d['text'], MAX_TITLE)}»"
    elif kind is not None:
        what = f"{KIND_VI[kind]} '{_clean(d[kind], MAX_TITLE)}'"
    else:
        what = "tệp âm thanh" if action == "play" else "văn bản"
    extras = []
    priority = str(d.get("priority") or "normal")
    if priority != "normal":
        extras.append(f"mức {PRIORITY_VI.get(priority, priority)}")
    if isinstance(d.get("repeat"), int) and d["repeat"] > 1:
        extras.append(f"đọc {d['repeat']} lần")
    extras.append(f"vùng {_zones(d.get('zones'))}" if _zones(d.get("zones")) else "mọi vùng")
    return f"Phát ngay {what} ({', '.join(extras)})"


def _stop(d: Any) -> str:
    """``stop``: the cut broadcast(s) with their zones, or a press when nothing was on air."""
    dd: dict[str, Any] = d if isinstance(d, dict) else {}
    zones = _zones(dd.get("zones"))
    where = f" ở vùng {zones}" if zones else ""
    cut = dd.get("cut")
    if not isinstance(cut, list):
        cut = [dd] if dd.get("title") or dd.get("key") else []
    cut = [c if isinstance(c, dict) else {"title": c} for c in cut]
    if not cut:
        return f"Bấm Dừng{where} khi không có bản tin nào đang phát"
    parts = [f"«{_title(c)}»" + (f" (vùng {c['zone']})" if c.get("zone") else "") for c in cut[:5]]
    more = f" và {len(cut) - 5} bản tin khác" if len(cut) > 5 else ""
    return f"Dừng {', '.join(parts)}{more}" + ("" if any(c.get("zone") for c in cut) else where)


def _subject(d: dict[str, Any]) -> str:
    kind, name = str(d.get("kind") or ""), _clean(d.get("name") or "?", MAX_TITLE)
    if kind == "text":
        return f"văn bản «{name}»"
    return f"{KIND_VI.get(kind, 'nội dung')} '{name}'"


def _schedule_edit(d: dict[str, Any]) -> str:
    version = f" — phiên bản số {d['version']}" if d.get("version") else ""
    if d.get("restored"):
        return f"Khôi phục lịch về phiên bản số {d['restored']}{version}"
    reason = str(d.get("reason") or "")
    m = _REASON.match(reason)
    if m:
        return _clean(f"Sửa lịch: {m['what']} ở buổi '{m['slot']}'{version}", 200)
    if reason and reason != "sửa lịch":
        return _clean(f"Sửa lịch: {reason}{version}", 200)
    if "version" in d:
        return f"Sửa lịch{version}"
    return "Sửa trực tiếp tệp lịch (schedule.yaml) trên máy trạm"


def _generic(d: Any) -> str:
    if d is None or d == {} or d == "":
        return ""
    if not isinstance(d, dict):
        return _clean(d, 200)
    parts = []
    for k, v in d.items():
        if k in TECHNICAL_KEYS or k in ("diff", "hash", "prev", "mac"):
            continue
        if _SECRET_KEY.search(str(k)):
            continue
        if isinstance(v, bool):
            value = "có" if v else "không"
        elif isinstance(v, list | tuple):
            value = ", ".join(_clean(x, 40) for x in v[:10])
        elif isinstance(v, dict):
            value = ", ".join(f"{KEY_VI.get(str(a), a)}: {_clean(b, 40)}" for a, b in list(v.items())[:6])
        else:
            value = str(v)
        parts.append(f"{KEY_VI.get(str(k), k)}: {value}")
    return _clean("; ".join(parts), 200)


def _summary(action: str, d: Any) -> str:
    dd: dict[str, Any] = d if isinstance(d, dict) else {}
    if action in ("say", "play"):
        return _announcement(action, dd)
    if action == "stop":
        return _stop(d)
    if action == "cancel":
        return f"Hủy lượt chờ «{_title(dd)}»"
    if action == "schedule_edit":
        return _schedule_edit(dd)
    if action == "script_edit":
        if isinstance(dd.get("files"), list):
            names = ", ".join(str(f) for f in dd["files"][:10])
            return _clean(f"Sửa trực tiếp tệp bài đọc trên máy trạm: {names}", 200)
        name = _clean(dd.get("script") or "?", MAX_TITLE)
        return f"Tạo bài đọc mới '{name}'" if dd.get("created") else f"Sửa bài đọc '{name}'"
    if action in ("approve", "reject", "revoke"):
        verb = {"approve": "Duyệt", "reject": "Từ chối", "revoke": "Thu hồi duyệt"}[action]
        code = f" (mã {dd['code']})" if dd.get("code") else ""
        note = _clean(dd.get("note") or "", 120)
        tail = f" — {'lý do' if action == 'reject' else 'ghi chú'}: {note}" if note else ""
        return f"{verb} {_subject(dd)}{code}{tail}"
    if action == "review":
        return f"Đã xem lại bản tin khẩn cấp «{_title(dd)}»"
    if action == "user_change":
        user = _clean(dd.get("user") or "?", 64)
        if dd.get("change") == "add":
            role = str(dd.get("role") or "")
            try:
                role = Role.parse(role).vi
            except StateError:
                pass
            return f"Thêm người dùng '{user}' (vai trò: {role})"
        return _clean(f"Người dùng '{user}': {dd.get('change') or 'thay đổi'}", 200)
    if action == "audit_mismatch":
        why = _clean(dd.get("reason") or "không rõ lý do", 200)
        return f"CẢNH BÁO: nhật ký thao tác không khớp mốc — {why}. Giữ nguyên tệp, báo người phụ trách kỹ thuật."
    if action == "login_failed":
        return "Sai tên đăng nhập hoặc mật khẩu (hoặc tài khoản đã bị khoá)"
    if action in ("login", "logout") and not dd:
        return ""
    return _generic(d)


def _technical(d: Any) -> list[str]:
    """What only a technician needs from the detail (content hashes, request keys)."""
    if not isinstance(d, dict):
        return []
    return [f"{label}: {d[key]}" for key, label in TECHNICAL_KEYS.items() if d.get(key) not in (None, "")]


def _integrity(seq: int | None, entry_hash: str | None) -> str:
    """The entry's place in the hash chain (the page shows it as a tooltip)."""
    if seq is None:
        return ""
    tail = f", mã băm {entry_hash}" if entry_hash else ""
    return f"Thao tác số {seq} trong nhật ký{tail} — kiểm tra bằng lệnh 'broadcaster audit --verify'."


def describe_entry(
    action: str, detail: Any, *, seq: int | None = None, entry_hash: str | None = None
) -> dict[str, Any]:
    """One audit entry in words.

    ``summary`` (one sentence, '' when the action's name says it all), ``changes`` and
    ``more_changes`` (see :func:`diff_changes`), ``technical`` (hashes and keys of the detail,
    for a folded "Chi tiết kỹ thuật") and ``integrity`` (the entry's seq and hash, a tooltip).
    """
    changes: list[dict[str, str | None]] = []
    more = 0
    if isinstance(detail, dict) and isinstance(detail.get("diff"), list):
        if action == "schedule_edit":
            changes, more = diff_changes(detail["diff"], yaml_line_text, track_slots=True)
        else:
            changes, more = diff_changes(detail["diff"])
    return {
        "summary": _summary(action, detail),
        "changes": changes,
        "more_changes": more,
        "technical": _technical(detail),
        "integrity": _integrity(seq, entry_hash),
    }

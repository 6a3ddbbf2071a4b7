"""Content approval: what may air when ``policy.require_approval`` is on, and who approved it.

**The exact content is approved**, identified by a SHA-256 (:class:`Subject`):

* a script: its name and its UTF-8 text, normalized only where the reading cannot change (Unicode
  NFC, BOM, CRLF line ends, trailing spaces, runs of spaces, blank lines at the ends), so saving the
  file again in Notepad keeps the approval but an edited word — or a rename — voids it;
* a text (inline ``text:`` item or ad-hoc announcement): the same normalized text, so an approved
  text is approved wherever it is used;
* an audio file: its file name and its bytes (the leader listens before approving a recording;
  re-encoding or renaming needs a new approval). The chime is not content and is never checked.

Normal and priority broadcasts with an unapproved item are held (:func:`gate`); emergencies always
air and are flagged for review afterwards. Decisions are appended to ``approvals.sqlite3`` in the
state folder (the latest decision about a digest counts), so they survive restarts and reloads.
Every check reads the file again: nothing is cached, nothing needs invalidating when an approver
acts while the daemon runs. A file that cannot be read is not judged here: the broadcast fails
later with the real reason. The schedule-wide views (``approve --pending``, the warnings of
``check``) are in ``broadcaster/commands/approve.py``.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from broadcaster import fmt
from broadcaster.schedule.model import Item, ItemKind, Priority, Schedule
from broadcaster.users import StateError, parse_utc, state_db, utc_now, utc_text

APPROVALS_FILE = "approvals.sqlite3"
SCHEMA_VERSION = 1
CODE_LENGTH = 10  # digest prefix shown to people as the approval code

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY, digest TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    decision TEXT NOT NULL, by TEXT NOT NULL, at TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', content TEXT);
CREATE INDEX IF NOT EXISTS decisions_digest ON decisions (digest, id);
CREATE INDEX IF NOT EXISTS decisions_name ON decisions (kind, name, id);
CREATE TABLE IF NOT EXISTS waiting (
    digest TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, content TEXT, requested_by TEXT,
    first_at TEXT NOT NULL, last_at TEXT NOT NULL, times INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, title TEXT NOT NULL, items TEXT NOT NULL,
    content TEXT NOT NULL DEFAULT '', requested_by TEXT, aired_at TEXT NOT NULL, flagged_at TEXT NOT NULL,
    reviewed_by TEXT, reviewed_at TEXT, note TEXT);
"""


class ApprovalError(StateError):
    """A refused approval operation; ``str()`` is a Vietnamese message that says what to do."""


class Decision(enum.StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"

    @property
    def vi(self) -> str:
        return {Decision.APPROVED: "đã duyệt", Decision.REJECTED: "bị từ chối", Decision.REVOKED: "đã thu hồi"}[self]


# -- what is approved ----------------------------------------------------------------------

_SPACES = re.compile(r"[ \t\u00a0]+")


def normalize_content(text: str) -> str:
    """The text as far as approval is concerned: only changes that cannot alter the reading."""
    text = unicodedata.normalize("NFC", text.removeprefix("\ufeff"))
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "big") + p)  # length-prefixed: no two splits hash alike
    return h.hexdigest()


@dataclass(frozen=True)
class Subject:
    """One piece of content to approve: kind, name and the digest an approval is bound to."""

    kind: ItemKind
    name: str  # script slug, audio file name, or the text's short label
    digest: str
    content: str | None = None  # normalized words (None for audio)

    @property
    def code(self) -> str:
        """Short code people type (``approve --code``)."""
        return self.digest[:CODE_LENGTH]

    @property
    def label_vi(self) -> str:
        if self.kind is ItemKind.SCRIPT:
            return f"bài '{self.name}'"
        if self.kind is ItemKind.AUDIO:
            return f"tệp âm thanh '{self.name}'"
        return f"văn bản «{self.name}»"


def text_subject(text: str) -> Subject:
    """The subject of an inline or ad-hoc text."""
    content = normalize_content(text)
    return Subject(
        ItemKind.TEXT, fmt.ellipsize(" ".join(content.split()), 40), _sha(b"text", content.encode()), content
    )


def script_subject(name: str, raw: str) -> Subject:
    """The subject of script ``name`` whose file holds ``raw``."""
    content = normalize_content(raw)
    return Subject(ItemKind.SCRIPT, name, _sha(b"script", name.encode(), content.encode()), content)


def audio_subject(path: Path) -> Subject:
    """The subject of an audio file (name + bytes; raises OSError when unreadable)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return Subject(ItemKind.AUDIO, path.name, _sha(b"audio", path.name.encode(), h.digest()))


def subject_for(item: Item) -> Subject | None:
    """The subject of a playlist item, or None when its file cannot be read (not ours to judge)."""
    try:
        if item.kind is ItemKind.TEXT:
            return text_subject(item.value)
        if item.kind is ItemKind.RELAY or item.path is None:
            return None  # a relay is the upper-level station's own programme: not the commune's to approve
        if item.kind is ItemKind.SCRIPT:
            return script_subject(item.value, Path(item.path).read_text(encoding="utf-8"))
        return audio_subject(Path(item.path))
    except (OSError, UnicodeDecodeError):
        return None


# -- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One decision about one digest."""

    id: int
    digest: str
    kind: ItemKind
    name: str
    decision: Decision
    by: str
    at: datetime
    note: str = ""
    content: str | None = None

    def describe(self, tz: tzinfo | None = None) -> str:
        """``lan, 21/04/2026 08:00`` (+ the note)."""
        at = self.at.astimezone(tz)
        return f"{self.by}, {fmt.day(at)} {fmt.clock(at)}" + (f": {self.note}" if self.note else "")


@dataclass(frozen=True)
class Waiting:
    """An ad-hoc text (or script, recording) refused for lack of approval: the approver's queue."""

    subject: Subject
    requested_by: str | None
    first_at: datetime
    last_at: datetime
    times: int


@dataclass(frozen=True)
class Review:
    """An emergency that aired without approval, and (once done) its review."""

    id: int
    key: str
    title: str
    items: tuple[str, ...]
    content: str
    requested_by: str | None
    aired_at: datetime
    flagged_at: datetime
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    note: str | None = None


def _record(r: sqlite3.Row) -> Record:
    return Record(
        r["id"], r["digest"], ItemKind(r["kind"]), r["name"], Decision(r["decision"]), r["by"],
        datetime.fromisoformat(r["at"]), r["note"], r["content"],
    )  # fmt: skip


def _review(r: sqlite3.Row) -> Review:
    return Review(
        r["id"], r["key"], r["title"], tuple(json.loads(r["items"])), r["content"], r["requested_by"],
        datetime.fromisoformat(r["aired_at"]), datetime.fromisoformat(r["flagged_at"]), r["reviewed_by"],
        parse_utc(r["reviewed_at"]), r["note"],
    )  # fmt: skip


def _marks(n: int) -> str:
    return ",".join("?" * n)


class ApprovalStore:
    """Decisions, waiting texts and emergency reviews of one installation (``<state>/approvals.sqlite3``).

    Each call opens its own short connection: safe from any thread or process, always current.
    Reads of a missing file answer "nothing decided" without creating it.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def open(cls, state_dir: Path) -> ApprovalStore:
        """The store of this state folder (the file is created on the first write)."""
        return cls(Path(state_dir) / APPROVALS_FILE)

    def _db(self, *, write: bool) -> AbstractContextManager[sqlite3.Connection]:
        return state_db(self.path, _SCHEMA, SCHEMA_VERSION, create=write, what="tệp duyệt nội dung")

    def _read(self, sql: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
        try:
            with self._db(write=False) as conn:
                return list(conn.execute(sql, tuple(params)))
        except FileNotFoundError:
            return []

    # -- decisions --------------------------------------------------------------------
    def decide(self, subject: Subject, decision: Decision, by: str, note: str = "") -> Record:
        """Append a decision about ``subject`` (the latest decision about a digest counts)."""
        with self._db(write=True) as conn:
            cur = conn.execute(
                "INSERT INTO decisions (digest, kind, name, decision, by, at, note, content) VALUES (?,?,?,?,?,?,?,?)",
                (subject.digest, subject.kind.value, subject.name, decision.value, by, utc_text(utc_now()),
                 note.strip(), subject.content),
            )  # fmt: skip
            row = conn.execute("SELECT * FROM decisions WHERE id = ?", (cur.lastrowid,)).fetchone()
        return _record(row)

    def approve(self, subject: Subject, by: str, note: str = "") -> Record:
        return self.decide(subject, Decision.APPROVED, by, note)

    def reject(self, subject: Subject, by: str, note: str) -> Record:
        if not note.strip():
            raise ApprovalError('Khi từ chối cần ghi lý do (--note "…") để người soạn biết sửa gì.')
        return self.decide(subject, Decision.REJECTED, by, note)

    def revoke(self, kind: ItemKind, name: str, by: str, note: str = "") -> list[Record]:
        """Withdraw every standing approval of that script/audio/text name (any version); returns them."""
        standing = [r for r in self.latest_by_name(kind, name) if r.decision is Decision.APPROVED]
        for r in standing:
            self.decide(Subject(r.kind, r.name, r.digest, r.content), Decision.REVOKED, by, note)
        return standing

    def latest(self, digests: Iterable[str]) -> dict[str, Record]:
        """The latest decision about each digest that has one."""
        keys = sorted(set(digests))
        if not keys:
            return {}
        rows = self._read(
            f"SELECT * FROM decisions WHERE id IN (SELECT MAX(id) FROM decisions WHERE digest IN ({_marks(len(keys))})"
            " GROUP BY digest)",
            keys,
        )
        return {r["digest"]: _record(r) for r in rows}

    def latest_by_name(self, kind: ItemKind, name: str) -> list[Record]:
        """The latest decision about each version of that name, newest first."""
        rows = self._read(
            "SELECT * FROM decisions WHERE id IN (SELECT MAX(id) FROM decisions WHERE kind = ? AND name = ?"
            " GROUP BY digest) ORDER BY id DESC",
            (kind.value, name),
        )
        return [_record(r) for r in rows]

    # -- the approver's queue for ad-hoc requests ----------------------------------------
    def note_waiting(self, subject: Subject, requested_by: str | None = None) -> None:
        """Remember content refused for lack of approval, so ``approve --pending`` lists it."""
        now = utc_text(utc_now())
        with self._db(write=True) as conn:
            conn.execute(
                "INSERT INTO waiting (digest, kind, name, content, requested_by, first_at, last_at)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT (digest) DO UPDATE SET last_at = excluded.last_at,"
                " times = times + 1, requested_by = COALESCE(excluded.requested_by, requested_by)",
                (subject.digest, subject.kind.value, subject.name, subject.content, requested_by, now, now),
            )

    def waiting(self) -> list[Waiting]:
        """Refused content with no decision since it was last asked for, oldest first."""
        rows = self._read("SELECT * FROM waiting ORDER BY first_at")
        decided = self.latest(r["digest"] for r in rows)
        out = []
        for r in rows:
            last = datetime.fromisoformat(r["last_at"])
            d = decided.get(r["digest"])
            if d and (d.decision is Decision.APPROVED or d.at >= last):
                continue
            subject = Subject(ItemKind(r["kind"]), r["name"], r["digest"], r["content"])
            out.append(Waiting(subject, r["requested_by"], datetime.fromisoformat(r["first_at"]), last, r["times"]))
        return out

    # -- emergencies aired unapproved -------------------------------------------------------
    def flag_for_review(
        self, key: str, title: str, items: Sequence[Item], *, aired_at: datetime, requested_by: str | None = None
    ) -> int:
        """Record that an emergency aired without approval (once per broadcast key); returns its review id."""
        words = [s.content for s in map(subject_for, items) if s is not None and s.content]
        with self._db(write=True) as conn:
            conn.execute(
                "INSERT OR IGNORE INTO reviews (key, title, items, content, requested_by, aired_at, flagged_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (key, title, json.dumps([i.label for i in items], ensure_ascii=False), "\n\n".join(words),
                 requested_by, utc_text(aired_at), utc_text(utc_now())),
            )  # fmt: skip
            return int(conn.execute("SELECT id FROM reviews WHERE key = ?", (key,)).fetchone()[0])

    def reviews(self, *, pending_only: bool = False) -> list[Review]:
        """Flagged emergencies, oldest first (only those not yet reviewed with ``pending_only``)."""
        where = " WHERE reviewed_at IS NULL" if pending_only else ""
        return [_review(r) for r in self._read(f"SELECT * FROM reviews{where} ORDER BY id")]

    def pending_reviews(self) -> list[Review]:
        return self.reviews(pending_only=True)

    def record_review(self, review_id: int, by: str, note: str = "") -> Review:
        """Mark a flagged emergency as reviewed by ``by`` (ApprovalError if unknown or already done)."""
        with self._db(write=True) as conn:
            row = conn.execute("SELECT * FROM reviews WHERE id = ?", (review_id,)).fetchone()
            if row is None:
                raise ApprovalError(
                    f"Không có bản tin khẩn cấp số {review_id} cần xem lại. Xem: broadcaster approve --reviews"
                )
            if row["reviewed_at"]:
                raise ApprovalError(f"Bản tin khẩn cấp số {review_id} đã được {row['reviewed_by']} xem lại rồi.")
            conn.execute(
                "UPDATE reviews SET reviewed_by = ?, reviewed_at = ?, note = ? WHERE id = ?",
                (by, utc_text(utc_now()), note.strip(), review_id),
            )
            row = conn.execute("SELECT * FROM reviews WHERE id = ?", (review_id,)).fetchone()
        return _review(row)


# -- decisions about broadcasts ------------------------------------------------------------


def approval_required(schedule: Schedule) -> bool:
    """``policy.require_approval`` (False for schedules and models without the field)."""
    return bool(getattr(schedule.policy, "require_approval", False))


@dataclass(frozen=True)
class Unapproved:
    """An item that may not air yet, and why (Vietnamese, for logs, alerts and ``plan``)."""

    item: Item
    subject: Subject
    reason: str
    decision: Record | None = None  # the latest decision about this exact content, if any


@dataclass(frozen=True)
class Gate:
    """What to do with one broadcast: air it, hold it (``chưa duyệt``), or air and flag for review."""

    missing: list[Unapproved] = field(default_factory=list)
    emergency: bool = False

    @property
    def hold(self) -> bool:
        return bool(self.missing) and not self.emergency

    @property
    def review(self) -> bool:
        return bool(self.missing) and self.emergency

    @property
    def reason(self) -> str:
        """One sentence for the as-run row's error column and the alert."""
        return "; ".join(u.reason for u in self.missing)


def _reason(subject: Subject, decision: Record | None, earlier: Record | None, tz: tzinfo | None) -> str:
    if decision is not None and decision.decision is Decision.REJECTED:
        return f"{subject.label_vi} bị từ chối ({decision.describe(tz)}) — sửa nội dung rồi xin duyệt lại"
    if decision is not None and decision.decision is Decision.REVOKED:
        return f"{subject.label_vi} đã bị thu hồi duyệt ({decision.describe(tz)})"
    if earlier is not None:
        at = earlier.at.astimezone(tz)
        return f"{subject.label_vi} đã bị sửa sau lần duyệt ngày {fmt.day(at)} {fmt.clock(at)} — cần duyệt lại"
    return f"{subject.label_vi} chưa được duyệt"


def check_items(items: Sequence[Item], schedule: Schedule, store: ApprovalStore) -> list[Unapproved]:
    """Which items lack a standing approval (empty when the schedule does not require approval).

    Does not look at priority: :func:`gate` decides what that means for a broadcast.
    """
    if not approval_required(schedule):
        return []
    return find_unapproved(items, store, schedule.campaign.timezone)


def find_unapproved(items: Sequence[Item], store: ApprovalStore, tz: tzinfo | None = None) -> list[Unapproved]:
    """Which items lack a standing approval, whatever the policy (one entry per distinct content)."""
    subjects = [(i, s) for i in items if (s := subject_for(i)) is not None]
    decided = store.latest(s.digest for _, s in subjects)
    out: list[Unapproved] = []
    seen: set[str] = set()
    for item, subject in subjects:
        d = decided.get(subject.digest)
        if subject.digest in seen or (d is not None and d.decision is Decision.APPROVED):
            continue
        seen.add(subject.digest)
        earlier = None
        if d is None and subject.kind is not ItemKind.TEXT:
            earlier = next((r for r in store.latest_by_name(subject.kind, subject.name)
                            if r.decision is Decision.APPROVED), None)  # fmt: skip
        out.append(Unapproved(item, subject, _reason(subject, d, earlier, tz), d))
    return out


def gate(items: Sequence[Item], priority: Priority, schedule: Schedule, store: ApprovalStore) -> Gate:
    """The decision for one broadcast at fire time (emergencies are never held, only flagged)."""
    return Gate(check_items(items, schedule, store), emergency=priority >= Priority.EMERGENCY)

"""The as-run log: what actually aired, kept in SQLite, and the report built from it.

The commune proves what it broadcast with this record, so it is written honestly: a row is
inserted as ``started`` the moment a broadcast begins and updated when it ends. A crash or a
power cut therefore leaves a ``started`` row behind, which :meth:`AsRunLog.recover` turns into
``interrupted`` when the daemon starts again — nothing is silently rewritten as played.

Times are stored as UTC ISO 8601 strings with a fixed width (``2026-04-21T00:30:00.000+00:00``)
so that text order is time order; they are shown in the campaign time zone.

The report core (:func:`build_report`) is a pure function of the planned broadcasts and the
log rows; :func:`render_text` and :func:`write_csv` turn its result into what the commune
pastes into its report to the Sở KH&CN.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from broadcaster.schedule.model import Broadcast, Priority

STATUSES = ("started", "played", "interrupted", "failed", "missed", "skipped")
#: statuses after which a planned broadcast must not be aired again (a restart checks these)
SETTLED_STATUSES = ("played", "missed", "failed", "skipped")
SOURCES = ("schedule", "adhoc")

STATUS_VI = {
    "started": "đang phát",
    "played": "đã phát",
    "interrupted": "bị ngắt",
    "failed": "lỗi",
    "missed": "bỏ lỡ",
    "skipped": "bỏ qua",
}
SOURCE_VI = {"schedule": "lịch", "adhoc": "phát ngay"}

DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
LOG_FILENAME = "asrun.sqlite3"
SCHEMA_VERSION = 1
RECOVER_ERROR = "daemon dừng đột ngột (mất điện/khởi động lại?)"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS asrun (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT NOT NULL,
    planned_at  TEXT,
    started_at  TEXT,
    ended_at    TEXT,
    recorded_at TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('schedule', 'adhoc')),
    slot        TEXT,
    title       TEXT NOT NULL,
    items       TEXT NOT NULL DEFAULT '[]',
    priority    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN
                ('started', 'played', 'interrupted', 'failed', 'missed', 'skipped')),
    engines     TEXT NOT NULL DEFAULT '{}',
    duration_s  REAL,
    error       TEXT,
    by          TEXT,
    note        TEXT
);
CREATE INDEX IF NOT EXISTS asrun_key ON asrun (key);
CREATE INDEX IF NOT EXISTS asrun_at ON asrun (COALESCE(planned_at, started_at, recorded_at));
"""


class AsRunError(Exception):
    """The log file cannot be used; the message is Vietnamese and says what to do."""


def log_path(state_dir: Path) -> Path:
    """Where the as-run log lives inside a state directory."""
    return Path(state_dir) / LOG_FILENAME


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """True for "not a database" / "malformed", not for a lock or a permission problem."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    return type(exc) is sqlite3.DatabaseError


def _utc_text(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"thời điểm phải có múi giờ (aware datetime): {value!r}")
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _priority_text(priority: Priority | str) -> str:
    if isinstance(priority, Priority):
        return priority.label
    return Priority.parse(str(priority)).label


@dataclass(frozen=True)
class AsRunRow:
    """One line of the as-run log (times are aware datetimes in UTC)."""

    id: int
    key: str
    planned_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    source: str
    slot: str | None
    title: str
    items: list[str]
    priority: str
    status: str
    engines: dict[str, str]
    duration_s: float | None
    error: str | None
    by: str | None
    note: str | None
    recorded_at: datetime | None = None

    @property
    def at(self) -> datetime | None:
        """The instant that places the row on a day: planned time, else start, else when written."""
        return self.planned_at or self.started_at or self.recorded_at

    @property
    def aired_seconds(self) -> float:
        """Seconds actually on air: only played or interrupted rows count."""
        if self.status not in ("played", "interrupted"):
            return 0.0
        if self.duration_s is not None:
            return max(0.0, float(self.duration_s))
        if self.started_at and self.ended_at:
            return max(0.0, (self.ended_at - self.started_at).total_seconds())
        return 0.0

    def to_dict(self, tz: tzinfo | None = None) -> dict:
        """JSON-ready dict; times as ISO 8601 in ``tz`` (with offset)."""
        data = asdict(self)
        for name in ("planned_at", "started_at", "ended_at", "recorded_at"):
            value = data[name]
            data[name] = value.astimezone(tz or DEFAULT_TZ).isoformat() if value else None
        return data


class AsRunLog:
    """The as-run log file; safe to share between the playout thread and the API thread.

    One connection guarded by a lock serves every thread of a process; other processes
    (``broadcaster log`` while the daemon runs) coexist through WAL mode and a busy timeout.
    """

    def __init__(self, path: Path, *, clock: Callable[[], datetime] | None = None):
        self.path = Path(path)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        if self.path.exists() and not self.path.is_file():
            raise AsRunError(
                f"'{self.path}' không phải là tệp nhật ký phát (đó là một thư mục hoặc thiết bị).",
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we open transactions ourselves, so a write is committed
            # the moment the statement that makes it returns.
            self._conn = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._conn.row_factory = sqlite3.Row
            self._setup()
        except AsRunError:
            self.close()
            raise
        except sqlite3.DatabaseError as exc:
            self.close()
            if _is_corruption(exc):
                raise AsRunError(self._corrupt_message(exc)) from None
            raise AsRunError(
                f"Không mở được tệp nhật ký phát '{self.path}': {exc}. "
                "Kiểm tra quyền đọc/ghi tệp và thư mục trạng thái (state), hoặc thử lại sau ít giây."
            ) from None
        except OSError as exc:
            self.close()
            raise AsRunError(
                f"Không mở được tệp nhật ký phát '{self.path}': {exc.strerror or exc}. "
                "Kiểm tra quyền ghi vào thư mục trạng thái (state)."
            ) from None

    def _corrupt_message(self, exc: Exception) -> str:
        return (
            f"Tệp nhật ký phát '{self.path}' bị hỏng hoặc không phải cơ sở dữ liệu SQLite ({exc}). "
            f"Đừng xoá tệp này (đó là bằng chứng phát thanh): hãy chuyển nó sang chỗ khác, ví dụ "
            f"đổi tên thành '{self.path.name}.hong' (kèm các tệp -wal, -shm cùng tên nếu có), rồi chạy lại — chương trình sẽ tạo nhật ký mới."
        )

    def _setup(self) -> None:
        conn = self._conn
        assert conn is not None
        conn.execute("PRAGMA busy_timeout = 10000")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise AsRunError(
                f"Tệp nhật ký phát '{self.path}' được tạo bởi phiên bản Loa xã mới hơn "
                f"(lược đồ {version}, bản này hiểu đến {SCHEMA_VERSION}). "
                "Hãy cập nhật Loa xã, hoặc chuyển tệp sang chỗ khác để bắt đầu nhật ký mới."
            )
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise AsRunError(
                f"Không bật được chế độ WAL cho '{self.path}' (đang là {mode}). "
                "Hãy đặt thư mục trạng thái trên ổ đĩa cục bộ (không phải ổ mạng)."
            )
        # FULL: a power cut must not lose the row of a broadcast that already aired.
        conn.execute("PRAGMA synchronous = FULL")
        if version < SCHEMA_VERSION:
            # One transaction, so a second process opening the file meanwhile sees all or nothing.
            conn.executescript(
                "BEGIN IMMEDIATE;" + _SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )
        # A file with the right version but no table is damaged in a way worth naming.
        conn.execute("SELECT id FROM asrun LIMIT 1").fetchall()

    # -- writing ---------------------------------------------------------------------------

    def _now(self) -> str:
        return _utc_text(self._clock())

    def _execute(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        with self._lock:
            if self._conn is None:
                raise AsRunError(f"Nhật ký phát '{self.path}' đã đóng.")
            try:
                return self._conn.execute(sql, tuple(params))
            except sqlite3.DatabaseError as exc:
                if _is_corruption(exc):
                    raise AsRunError(self._corrupt_message(exc)) from None
                raise

    def _insert(self, *, key, planned_at, source, slot, title, items, priority, status,
                started_at=None, error=None, note=None) -> int:
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        now = self._now()
        cur = self._execute(
            "INSERT INTO asrun (key, planned_at, started_at, recorded_at, source, slot, title,"
            " items, priority, status, error, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                str(key),
                _utc_text(planned_at) if planned_at is not None else None,
                now if started_at else None,
                now,
                source,
                slot,
                str(title),
                json.dumps([str(i) for i in items], ensure_ascii=False),
                _priority_text(priority),
                status,
                error,
                note,
            ),
        )
        return int(cur.lastrowid)

    def begin(self, *, key: str, planned_at: datetime | None, source: str, slot: str | None,
              title: str, items: Iterable[str], priority: Priority | str) -> int:
        """Record that a broadcast starts now (status ``started``); return the row id."""
        return self._insert(key=key, planned_at=planned_at, source=source, slot=slot,
                            title=title, items=list(items), priority=priority,
                            status="started", started_at=True)

    def finish(self, row_id: int, status: str, *, engines: dict[str, str] | None = None,
               duration_s: float | None = None, error: str | None = None,
               by: str | None = None, note: str | None = None, started_at: datetime | None = None) -> None:
        """Close a started row with its final status; ``ended_at`` is now.

        ``started_at``: when the first sample was really heard, if known (the row is opened
        a little before, while the output is prepared).
        """
        if status not in STATUSES or status == "started":
            raise ValueError(f"finish() needs a final status, not {status!r}")
        cur = self._execute(
            "UPDATE asrun SET status=?, started_at=COALESCE(?, started_at), ended_at=?, engines=?, duration_s=?,"
            " error=COALESCE(?, error), by=COALESCE(?, by), note=COALESCE(?, note) WHERE id=?",
            (
                status,
                _utc_text(started_at) if started_at else None,
                self._now(),
                json.dumps(dict(engines or {}), ensure_ascii=False),
                None if duration_s is None else float(duration_s),
                error,
                by,
                note,
                int(row_id),
            ),
        )
        if cur.rowcount != 1:
            raise ValueError(f"no as-run row with id {row_id}")

    def record(self, *, key: str, planned_at: datetime | None, source: str, slot: str | None,
               title: str, items: Iterable[str], priority: Priority | str, status: str,
               error: str | None = None, note: str | None = None) -> int:
        """Record a broadcast that never started (missed, skipped, failed before start)."""
        if status in ("started", "played", "interrupted"):
            raise ValueError(f"record() is for broadcasts that never started, not {status!r}")
        return self._insert(key=key, planned_at=planned_at, source=source, slot=slot,
                            title=title, items=list(items), priority=priority, status=status,
                            error=error, note=note)

    def recover(self) -> int:
        """Mark every row left ``started`` by a crash as ``interrupted``; return how many."""
        cur = self._execute(
            "UPDATE asrun SET status='interrupted', error=COALESCE(error, ?) WHERE status='started'",
            (RECOVER_ERROR,),
        )
        return int(cur.rowcount)

    # -- reading ---------------------------------------------------------------------------

    def rows(self, *, day: date | None = None, start: date | None = None,
             end: date | None = None, tz: tzinfo | None = None) -> list[AsRunRow]:
        """Rows whose day (planned time, else start) in ``tz`` is in the range, in airing order."""
        tz = tz or DEFAULT_TZ
        if day is not None:
            start = end = day
        sql = "SELECT * FROM asrun"
        where, params = [], []
        at = "COALESCE(planned_at, started_at, recorded_at)"
        if start is not None:
            where.append(f"{at} >= ?")
            params.append(_utc_text(datetime.combine(start, datetime.min.time(), tz)))
        if end is not None:
            where.append(f"{at} < ?")
            params.append(_utc_text(datetime.combine(end + timedelta(days=1), datetime.min.time(), tz)))
        if where:
            sql += " WHERE " + " AND ".join(where)
        # what actually happened first comes first (a replay after an emergency sorts after it)
        sql += " ORDER BY COALESCE(started_at, planned_at, recorded_at), id"
        with self._lock:
            return [_row(r) for r in self._execute(sql, params).fetchall()]

    def settled_keys(self, keys: Iterable[str] | None = None) -> set[str]:
        """Keys that already have a final played/missed/failed/skipped row."""
        marks = ",".join("?" * len(SETTLED_STATUSES))
        base = f"SELECT DISTINCT key FROM asrun WHERE status IN ({marks})"
        if keys is None:
            with self._lock:
                return {r[0] for r in self._execute(base, SETTLED_STATUSES).fetchall()}
        wanted = list(dict.fromkeys(str(k) for k in keys))
        found: set[str] = set()
        # SQLite caps the number of bound parameters; ask in chunks.
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            sql = base + f" AND key IN ({','.join('?' * len(chunk))})"
            with self._lock:
                found.update(r[0] for r in self._execute(sql, (*SETTLED_STATUSES, *chunk)).fetchall())
        return found

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    def __enter__(self) -> "AsRunLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _row(r: sqlite3.Row) -> AsRunRow:
    return AsRunRow(
        id=int(r["id"]),
        key=r["key"],
        planned_at=_parse_time(r["planned_at"]),
        started_at=_parse_time(r["started_at"]),
        ended_at=_parse_time(r["ended_at"]),
        source=r["source"],
        slot=r["slot"],
        title=r["title"],
        items=list(json.loads(r["items"] or "[]")),
        priority=r["priority"],
        status=r["status"],
        engines=dict(json.loads(r["engines"] or "{}")),
        duration_s=r["duration_s"],
        error=r["error"],
        by=r["by"],
        note=r["note"],
        recorded_at=_parse_time(r["recorded_at"]),
    )


# -- operator input --------------------------------------------------------------------------

_DMY = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$")


def parse_day(text: str) -> date:
    """Parse ``2026-04-21`` or ``21/4/2026``; raise ValueError with a Vietnamese message."""
    value = (text or "").strip()
    try:
        m = _DMY.match(value)
        if m:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"ngày '{text}' không hợp lệ — viết dạng 2026-04-21 hoặc 21/4/2026"
        ) from None


# -- the report --------------------------------------------------------------------------------

# When one planned broadcast has several rows (interrupted by an emergency, then replayed),
# the best outcome stands for it: it counts once, as played if any attempt played.
_OUTCOME_RANK = {s: i for i, s in enumerate(("played", "started", "interrupted", "failed", "missed", "skipped"))}


def final_outcomes(rows: Iterable[AsRunRow]) -> dict[str, AsRunRow]:
    """Per broadcast key, the row that stands for it: its best outcome, the newest row on a tie.

    Keys keep the order of their first row.
    """
    def rank(r: AsRunRow) -> tuple[int, int]:
        return _OUTCOME_RANK.get(r.status, 99), -r.id

    best: dict[str, AsRunRow] = {}
    for r in rows:
        if r.key not in best or rank(r) < rank(best[r.key]):
            best[r.key] = r
    return best


@dataclass
class DayStats:
    """Counts for one day (or the whole period, for the total)."""

    day: date | None
    planned: int = 0
    played: int = 0
    interrupted: int = 0
    failed: int = 0
    missed: int = 0
    skipped: int = 0
    on_air: int = 0
    #: planned, time already passed, and not a single row in the log
    no_record: int = 0
    #: planned, time not yet come
    upcoming: int = 0
    #: schedule broadcasts in the log that the current schedule no longer plans
    unplanned: int = 0
    adhoc_played: int = 0
    adhoc_not_played: int = 0
    seconds_aired: float = 0.0

    @property
    def minutes_aired(self) -> float:
        return self.seconds_aired / 60.0

    def add(self, other: "DayStats") -> None:
        for name in ("planned", "played", "interrupted", "failed", "missed", "skipped", "on_air",
                     "no_record", "upcoming", "unplanned", "adhoc_played", "adhoc_not_played",
                     "seconds_aired"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class ScriptStats:
    """How often one item (script, text or audio) was planned and aired."""

    label: str
    planned: int = 0
    played_schedule: int = 0
    played_adhoc: int = 0

    @property
    def played(self) -> int:
        return self.played_schedule + self.played_adhoc


@dataclass
class Report:
    start: date
    end: date
    days: list[DayStats]
    total: DayStats
    scripts: list[ScriptStats]
    campaign: str = ""
    #: False when the schedule could not be read: planned counts are then unknown
    plan_available: bool = True
    generated_at: datetime | None = None
    tz: tzinfo = field(default=DEFAULT_TZ)


def _local_day(value: datetime, tz: tzinfo) -> date:
    return value.astimezone(tz).date()


def build_report(planned: list[Broadcast], rows: list[AsRunRow], start: date, end: date, *,
                 tz: tzinfo | None = None, now: datetime | None = None, campaign: str = "",
                 plan_available: bool = True) -> Report:
    """Count, per day and in total, what was planned and what the log says aired."""
    if start > end:
        raise ValueError("start after end")
    tz = tz or DEFAULT_TZ
    now = now or datetime.now(timezone.utc)
    days = {start + timedelta(days=i): DayStats(start + timedelta(days=i))
            for i in range((end - start).days + 1)}

    in_range = [r for r in rows if r.at is not None and _local_day(r.at, tz) in days]
    for r in in_range:
        days[_local_day(r.at, tz)].seconds_aired += r.aired_seconds
    outcomes = final_outcomes(in_range)

    scripts: dict[str, ScriptStats] = {}

    def script(label: str) -> ScriptStats:
        return scripts.setdefault(label, ScriptStats(label))

    planned_keys: set[str] = set()
    for b in sorted(planned, key=lambda b: b.at):
        day = _local_day(b.at, tz)
        if day not in days:
            continue
        stats = days[day]
        planned_keys.add(b.key)
        stats.planned += 1
        for item in b.items:
            script(item.label).planned += 1
        if b.key not in outcomes:
            if b.at <= now:
                stats.no_record += 1
            else:
                stats.upcoming += 1

    for key, best in outcomes.items():
        status = best.status
        stats = days[_local_day(best.at, tz)]
        if best.source == "adhoc":
            if status == "started":
                stats.on_air += 1
            elif status == "played":
                stats.adhoc_played += 1
                for label in best.items:
                    script(label).played_adhoc += 1
            else:
                stats.adhoc_not_played += 1
            continue
        if plan_available and key not in planned_keys:
            stats.unplanned += 1
        field_name = {"started": "on_air"}.get(status, status)
        setattr(stats, field_name, getattr(stats, field_name) + 1)
        if status == "played":
            for label in best.items:
                script(label).played_schedule += 1

    total = DayStats(None)
    for stats in days.values():
        total.add(stats)
    return Report(
        start=start,
        end=end,
        days=list(days.values()),
        total=total,
        scripts=list(scripts.values()),  # planned order first, then what only the log knows
        campaign=campaign,
        plan_available=plan_available,
        generated_at=now,
        tz=tz,
    )


def item_label_vi(label: str) -> str:
    """``script:chu-de`` → ``chu-de``; other kinds get a Vietnamese prefix."""
    kind, _, value = label.partition(":")
    if not value:
        return label
    return {"script": value, "text": f"văn bản: {value}", "audio": f"âm thanh: {value}"}.get(kind, label)


def _fmt_date(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def _fmt_minutes(seconds: float) -> str:
    return f"{seconds / 60.0:.1f}".replace(".", ",")


_DAY_COLUMNS = (
    ("planned", "Dự kiến"),
    ("played", "Đã phát"),
    ("interrupted", "Bị ngắt"),
    ("failed", "Lỗi"),
    ("missed", "Bỏ lỡ"),
    ("skipped", "Bỏ qua"),
    ("no_record", "Không có bản ghi"),
    ("upcoming", "Chưa đến giờ"),
    ("on_air", "Đang phát"),
    ("unplanned", "Ngoài lịch"),
    ("adhoc_played", "Phát ngay"),
    ("adhoc_not_played", "Phát ngay không thành"),
)


def _text_table(header: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        out = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return [line(header), sep, *(line(r) for r in body)]


def render_text(report: Report) -> str:
    """Vietnamese plain-text/markdown block, ready to paste into the commune's report."""
    t = report.total
    na = "—"
    lines = ["BÁO CÁO KẾT QUẢ PHÁT THANH TRÊN HỆ THỐNG LOA TRUYỀN THANH XÃ"]
    if report.campaign:
        lines.append(f"Chương trình: {report.campaign}")
    lines.append(f"Thời gian: từ ngày {_fmt_date(report.start)} đến ngày {_fmt_date(report.end)}")
    if report.generated_at:
        lines.append(f"Lập lúc: {report.generated_at.astimezone(report.tz).strftime('%H:%M ngày %d/%m/%Y')}")
    lines.append("")
    lines.append("1. Tổng hợp")
    planned = str(t.planned) if report.plan_available else na
    lines.append(f"- Số buổi phát theo lịch (dự kiến): {planned}")
    lines.append(f"- Đã phát: {t.played}")
    if t.interrupted:
        lines.append(f"- Bị ngắt giữa chừng: {t.interrupted}")
    lines.append(f"- Lỗi, không phát được: {t.failed}")
    lines.append(f"- Bỏ lỡ (quá giờ): {t.missed}")
    if t.skipped:
        lines.append(f"- Bỏ qua theo lệnh: {t.skipped}")
    if report.plan_available:
        lines.append(f"- Không có bản ghi (đã qua giờ nhưng nhật ký không ghi nhận): {t.no_record}")
        if t.upcoming:
            lines.append(f"- Chưa đến giờ phát: {t.upcoming}")
    if t.on_air:
        lines.append(f"- Đang phát khi lập báo cáo: {t.on_air}")
    adhoc = f"- Phát ngay (ngoài lịch, đã phát): {t.adhoc_played}"
    if t.adhoc_not_played:
        adhoc += f" (thêm {t.adhoc_not_played} lần không phát được)"
    lines.append(adhoc)
    lines.append(f"- Tổng thời lượng phát: {_fmt_minutes(t.seconds_aired)} phút")
    if t.unplanned:
        lines.append(
            f"- Ghi chú: {t.unplanned} buổi phát theo lịch có trong nhật ký nhưng không còn "
            "trong lịch hiện tại (lịch đã được sửa); đã tính vào các cột kết quả."
        )
    if not report.plan_available:
        lines.append("- Ghi chú: không đọc được lịch phát nên không tính được số buổi dự kiến.")

    lines.append("")
    lines.append("2. Theo ngày")
    cols = [c for c in _DAY_COLUMNS if c[0] in ("planned", "played", "interrupted", "failed", "missed",
                                                   "no_record", "adhoc_played")
            or getattr(t, c[0])]
    header = ["Ngày", *(name for _, name in cols), "Số phút phát"]
    body = []
    for d in [*report.days, t]:
        cells = [_fmt_date(d.day) if d.day else "Tổng"]
        for attr, _ in cols:
            cells.append(na if attr in ("planned", "no_record", "upcoming") and not report.plan_available
                         else str(getattr(d, attr)))
        cells.append(_fmt_minutes(d.seconds_aired))
        body.append(cells)
    lines.extend(_text_table(header, body))

    lines.append("")
    lines.append("3. Theo nội dung (số lần phát)")
    if report.scripts:
        header = ["Nội dung", "Dự kiến", "Theo lịch", "Phát ngay", "Tổng số lần phát"]
        body = [[item_label_vi(s.label), str(s.planned) if report.plan_available else na,
                 str(s.played_schedule), str(s.played_adhoc), str(s.played)] for s in report.scripts]
        lines.extend(_text_table(header, body))
    else:
        lines.append("(không có nội dung nào trong khoảng thời gian này)")
    return "\n".join(lines) + "\n"


def scripts_csv_path(path: Path) -> Path:
    """The per-script CSV written next to the per-day one: ``bao-cao.csv`` → ``bao-cao-kich-ban.csv``."""
    path = Path(path)
    return path.with_name(f"{path.stem}-kich-ban{path.suffix or '.csv'}")


def write_csv(report: Report, path: Path) -> tuple[Path, Path]:
    """Write the per-day CSV (one row a day + a total row) and the per-script CSV; UTF-8 with BOM."""
    path = Path(path)
    scripts_path = scripts_csv_path(path)
    na = ""
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Ngày", *(name for _, name in _DAY_COLUMNS), "Số phút phát"])
        for d in [*report.days, report.total]:
            cells: list = [d.day.isoformat() if d.day else "Tổng"]
            for attr, _ in _DAY_COLUMNS:
                unknown = attr in ("planned", "no_record", "upcoming") and not report.plan_available
                cells.append(na if unknown else getattr(d, attr))
            cells.append(round(d.minutes_aired, 1))
            w.writerow(cells)
    with open(scripts_path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Nội dung", "Mã", "Dự kiến", "Đã phát theo lịch", "Phát ngay", "Tổng số lần phát"])
        for s in report.scripts:
            w.writerow([item_label_vi(s.label), s.label, s.planned if report.plan_available else na,
                        s.played_schedule, s.played_adhoc, s.played])
    return path, scripts_path

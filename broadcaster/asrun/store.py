"""The as-run log file: what actually aired, kept in SQLite.

The commune proves what it broadcast with this record, so it is written honestly: a row is
inserted as ``started`` the moment a broadcast begins and updated when it ends. A crash or a
power cut therefore leaves a ``started`` row behind, which :meth:`AsRunLog.recover` turns into
``interrupted`` when the daemon starts again — nothing is silently rewritten as played.

Times are stored as UTC ISO 8601 strings with a fixed width (``2026-04-21T00:30:00.000+00:00``)
so that text order is time order; they are shown in the campaign time zone.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from types import TracebackType
from typing import Any, overload

from broadcaster.asrun.columns import (
    FINISH_SQL,
    INSERT_SQL,
    finish_values,
    finished_record,
    insert_values,
    request_record,
    request_side,
    utc_text,
)
from broadcaster.asrun.row import DEFAULT_TZ, AsRunRow, row_from_sql
from broadcaster.asrun.schema import SCHEMA_VERSION, create_statements, migrate_statements
from broadcaster.events import AiredRecord
from broadcaster.layout import ASRUN_FILE
from broadcaster.records import SETTLED_OUTCOMES, Outcome

__all__ = ["LOG_FILENAME", "RECOVER_ERROR", "AsRunError", "AsRunLog", "log_path", "utc_text"]

LOG_FILENAME = ASRUN_FILE  # one spelling, in layout.py
RECOVER_ERROR = "daemon dừng đột ngột (mất điện/khởi động lại?)"
#: outcomes a row can be written with by :meth:`AsRunLog.record` (the broadcast never started)
_NEVER_STARTED = frozenset(Outcome) - {Outcome.STARTED, Outcome.PLAYED, Outcome.INTERRUPTED}


class AsRunError(Exception):
    """The log file cannot be used; the message is Vietnamese and says what to do."""


def log_path(state_dir: Path) -> Path:
    """Where the as-run log lives inside a state directory."""
    return Path(state_dir) / LOG_FILENAME


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """True for "not a database" / "malformed", not for a lock or a permission problem."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    return type(exc) is sqlite3.DatabaseError


#: a receiver's programme starts this close to its row's start (or inside it) to belong to it
MATCH_S = 3.0


def _airing_at(row: sqlite3.Row, at: float) -> bool:
    """Whether ``row`` was on air (give or take ``MATCH_S``) at wall time ``at``."""
    start = datetime.fromisoformat(row["started_at"]).timestamp()
    end = datetime.fromisoformat(row["ended_at"]).timestamp() if row["ended_at"] else float("inf")
    return start - MATCH_S <= at <= end + MATCH_S


class AsRunLog:
    """The as-run log file; safe to share between the playout thread and the API thread.

    One connection guarded by a lock serves every thread of a process; other processes
    (``broadcaster log`` while the daemon runs) coexist through WAL mode and a busy timeout.
    """

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        if self.path.exists() and not self.path.is_file():
            raise AsRunError(f"'{self.path}' không phải là tệp nhật ký phát (đó là một thư mục hoặc thiết bị).")
        try:
            self._open()
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

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we open transactions ourselves, so a write is committed
        # the moment the statement that makes it returns.
        self._conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._setup(self._conn)

    def _corrupt_message(self, exc: Exception) -> str:
        return (
            f"Tệp nhật ký phát '{self.path}' bị hỏng hoặc không phải cơ sở dữ liệu SQLite ({exc}). "
            f"Đừng xoá tệp này (đó là bằng chứng phát thanh): hãy chuyển nó sang chỗ khác, ví dụ "
            f"đổi tên thành '{self.path.name}.hong' (kèm các tệp -wal, -shm cùng tên nếu có), "
            "rồi chạy lại — chương trình sẽ tạo nhật ký mới."
        )

    def _newer_message(self, version: int) -> str:
        return (
            f"Tệp nhật ký phát '{self.path}' được tạo bởi phiên bản Loa xã mới hơn "
            f"(lược đồ {version}, bản này hiểu đến {SCHEMA_VERSION}). "
            "Hãy cập nhật Loa xã, hoặc chuyển tệp sang chỗ khác để bắt đầu nhật ký mới."
        )

    def _setup(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA busy_timeout = 10000")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise AsRunError(self._newer_message(version))
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise AsRunError(
                f"Không bật được chế độ WAL cho '{self.path}' (đang là {mode}). "
                "Hãy đặt thư mục trạng thái trên ổ đĩa cục bộ (không phải ổ mạng)."
            )
        # FULL: a power cut must not lose the row of a broadcast that already aired.
        conn.execute("PRAGMA synchronous = FULL")
        if version < SCHEMA_VERSION:
            self._upgrade(conn)
        # A file with the right version but no table is damaged in a way worth naming.
        conn.execute("SELECT id FROM asrun LIMIT 1").fetchall()

    def _upgrade(self, conn: sqlite3.Connection) -> None:
        """Create or migrate the table in one transaction: another process sees all or nothing."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            # read again under the write lock: another process may have upgraded meanwhile
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            has_table = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='asrun'").fetchone()
            if version > SCHEMA_VERSION:
                raise AsRunError(self._newer_message(version))
            if version < SCHEMA_VERSION:
                steps = migrate_statements(version) if has_table else create_statements()
                for sql in steps:
                    conn.execute(sql)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- writing ---------------------------------------------------------------------------

    def _now(self) -> str:
        return utc_text(self._clock())

    def _execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            if self._conn is None:
                raise AsRunError(f"Nhật ký phát '{self.path}' đã đóng.")
            try:
                return self._conn.execute(sql, tuple(params))
            except sqlite3.DatabaseError as exc:
                if _is_corruption(exc):
                    raise AsRunError(self._corrupt_message(exc)) from None
                raise

    def _insert(self, record: AiredRecord, *, started: bool) -> int:
        cur = self._execute(INSERT_SQL, insert_values(record, self._now(), started=started))
        return int(cur.lastrowid or 0)

    @overload
    def begin(self, record: AiredRecord, /) -> int: ...

    @overload
    def begin(self, /, **columns: Any) -> int: ...

    def begin(self, record: AiredRecord | None = None, /, **columns: Any) -> int:
        """Record that ``record``'s broadcast starts now (status ``started``); return the row id.

        Only the request's side of the record is written (key … by_user); :meth:`finish` writes the rest.
        The keyword form ``begin(key=…, planned_at=…, source=…, slot=…, title=…, items=…, priority=…,
        zone=…, by_user=…)`` is kept for callers written before records.
        """
        if record is None:
            record = request_record(**columns)
        return self._insert(request_side(record), started=True)

    @overload
    def finish(self, row_id: int, record: AiredRecord, /) -> None: ...

    @overload
    def finish(self, row_id: int, status: Outcome | str, /, **columns: Any) -> None: ...

    def finish(self, row_id: int, record: AiredRecord | Outcome | str, /, **columns: Any) -> None:
        """Close a started row with the attempt's record (its outcome side); ``ended_at`` is now.

        ``record.started_at``: when the first sample was really heard, if known (the row is opened
        a little before, while the output is prepared); ``by``: what or who cut it (for
        ``interrupted``); ``heard``: the monitor or a receiver confirmed it. Optional values left
        ``None`` keep what the row already holds. The keyword form ``finish(row_id, status,
        engines=…, duration_s=…, error=…, …)`` is kept for callers written before records.
        """
        if not isinstance(record, AiredRecord):
            record = finished_record(record, **columns)
        if record.outcome is Outcome.STARTED:
            raise ValueError(f"finish() needs a final status, not {record.outcome!r}")
        cur = self._execute(FINISH_SQL, finish_values(row_id, record, self._now()))
        if cur.rowcount != 1:
            raise ValueError(f"no as-run row with id {row_id}")

    @overload
    def record(self, record: AiredRecord, /) -> int: ...

    @overload
    def record(self, /, **columns: Any) -> int: ...

    def record(self, record: AiredRecord | None = None, /, **columns: Any) -> int:
        """Record a broadcast that never started (missed, skipped, unapproved, failed before start).

        The keyword form ``record(key=…, …, status=…, error=…)`` (``**Player.row_fields(req)``) is
        kept for callers written before records.
        """
        if record is None:
            record = request_record(**columns)
        if record.outcome not in _NEVER_STARTED:
            raise ValueError(f"record() is for broadcasts that never started, not {record.outcome!r}")
        return self._insert(record, started=False)

    def receiver_proof(self, zone: str, receiver: str, piece: dict[str, Any]) -> dict[str, Any] | None:
        """Merge one receiver's proof of one programme (piece) into the zone's row that aired it.

        The row is the newest one of ``zone`` on air around the piece's start. A finished row whose
        receivers all did not hear it becomes ``not_heard`` (and back to ``played`` when another
        receiver's report says it was heard). Returns ``{id, key, title, status, was, heard,
        first_verdict}`` (``first_verdict``: the row had no verdict before this report),
        or None when no row matches (a programme the station did not log, e.g. before a restart).
        """
        from broadcaster.proof.receivers import merge_receiver_proof

        at = datetime.fromisoformat(str(piece["started_at"])).timestamp()
        for _ in range(3):  # the player may finish the row meanwhile: read again, never clobber it
            cur = self._execute(
                "SELECT id, key, title, status, started_at, ended_at, proof, error FROM asrun"
                " WHERE zone=? AND status IN ('started', 'played', 'not_heard') AND started_at IS NOT NULL"
                " ORDER BY id DESC LIMIT 50",
                (zone,),
            )
            row = next((r for r in cur.fetchall() if _airing_at(r, at)), None)
            if row is None:
                return None
            started = datetime.fromisoformat(row["started_at"]).timestamp()
            proof = merge_receiver_proof(json.loads(row["proof"]) if row["proof"] else None, receiver, piece, started)
            heard, was = proof["heard"], row["status"]
            status, error = was, row["error"]
            if was == Outcome.PLAYED and heard is False:
                status, error = Outcome.NOT_HEARD.value, f"Không cụm loa nào nghe thấy — {proof['note']}"
            elif was == Outcome.NOT_HEARD and heard is True:
                status, error = Outcome.PLAYED.value, None
            cur = self._execute(
                "UPDATE asrun SET proof=?, heard=?, status=?, error=? WHERE id=? AND status=?",
                (
                    json.dumps(proof, ensure_ascii=False),
                    None if heard is None else int(heard),
                    status,
                    error,
                    row["id"],
                    was,
                ),
            )
            if cur.rowcount:
                before = json.loads(row["proof"]).get("heard") if row["proof"] else None
                return {
                    "id": row["id"],
                    "key": row["key"],
                    "title": row["title"],
                    "status": status,
                    "was": was,
                    "heard": heard,
                    "first_verdict": before is None and heard is not None,
                }
        return None

    def recover(self) -> int:
        """Mark every row left ``started`` by a crash as ``interrupted``; return how many."""
        cur = self._execute(
            "UPDATE asrun SET status='interrupted', error=COALESCE(error, ?) WHERE status='started'",
            (RECOVER_ERROR,),
        )
        return int(cur.rowcount)

    # -- reading ---------------------------------------------------------------------------

    def rows(
        self, *, day: date | None = None, start: date | None = None, end: date | None = None, tz: tzinfo | None = None
    ) -> list[AsRunRow]:
        """Rows whose day (planned time, else start) in ``tz`` is in the range, in airing order."""
        tz = tz or DEFAULT_TZ
        if day is not None:
            start = end = day
        sql = "SELECT * FROM asrun"
        where: list[str] = []
        params: list[str] = []
        at = "COALESCE(planned_at, started_at, recorded_at)"
        if start is not None:
            where.append(f"{at} >= ?")
            params.append(utc_text(datetime.combine(start, datetime.min.time(), tz)))
        if end is not None:
            where.append(f"{at} < ?")
            params.append(utc_text(datetime.combine(end + timedelta(days=1), datetime.min.time(), tz)))
        if where:
            sql += " WHERE " + " AND ".join(where)
        # what actually happened first comes first (a replay after an emergency sorts after it)
        sql += " ORDER BY COALESCE(started_at, planned_at, recorded_at), id"
        with self._lock:
            return [row_from_sql(r) for r in self._execute(sql, params).fetchall()]

    def settled_keys(self, keys: Iterable[str] | None = None) -> set[str]:
        """Keys that already have a final row after which the broadcast must not air again."""
        settled = sorted(o.value for o in SETTLED_OUTCOMES)
        base = f"SELECT DISTINCT key FROM asrun WHERE status IN ({','.join('?' * len(settled))})"
        if keys is None:
            with self._lock:
                return {str(r[0]) for r in self._execute(base, settled).fetchall()}
        wanted = list(dict.fromkeys(str(k) for k in keys))
        found: set[str] = set()
        # SQLite caps the number of bound parameters; ask in chunks.
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            sql = base + f" AND key IN ({','.join('?' * len(chunk))})"
            with self._lock:
                found.update(str(r[0]) for r in self._execute(sql, (*settled, *chunk)).fetchall())
        return found

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    def __enter__(self) -> AsRunLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

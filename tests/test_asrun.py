"""The as-run log on a real SQLite file: round trips, crash recovery, concurrency, bad files.

Rows are written from :class:`~broadcaster.events.AiredRecord` values (what the player publishes);
the keyword forms older callers use are checked once, in ``test_the_keyword_forms_still_write_the_same_rows``.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from broadcaster.asrun import (
    RECOVER_ERROR,
    SCHEMA_VERSION,
    AsRunError,
    AsRunLog,
    parse_day,
)
from broadcaster.events import AiredRecord
from broadcaster.records import Outcome, Source
from broadcaster.schedule.model import Priority

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 4, day, hour, minute, tzinfo=VN)


def aired(key: str = "sang@2026-04-21T06:30:00+07:00", planned=None, **kw) -> AiredRecord:
    """The record of a morning slot's attempt; ``kw`` sets any other field."""
    args = dict(
        key=key,
        planned_at=planned or at(21, 6, 30),
        source=Source.SCHEDULE,
        slot="sang",
        title="Buổi sáng",
        items=("script:mo-dau", "script:chu-de"),
        priority=Priority.NORMAL.label,
    )
    args.update(kw)
    return AiredRecord(**args)


def begin(log: AsRunLog, key: str = "sang@2026-04-21T06:30:00+07:00", planned=None, **kw) -> int:
    return log.begin(aired(key, planned, **kw))


def ended(outcome: Outcome | str, **kw) -> AiredRecord:
    """The outcome side of a record (all :meth:`AsRunLog.finish` writes)."""
    return replace(aired(), outcome=Outcome(outcome), **kw)


def never_started(key: str, outcome: Outcome | str, **kw) -> AiredRecord:
    return aired(key, at(21, 7), slot="s", title="t", items=(), outcome=Outcome(outcome), **kw)


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "asrun.sqlite3"


def test_begin_finish_round_trip(log_file: Path):
    with AsRunLog(log_file) as log:
        row_id = begin(log)
        [row] = log.rows()
        assert row.status == "started" and row.started_at is not None and row.ended_at is None
        log.finish(
            row_id,
            ended(
                Outcome.PLAYED,
                engines={"script:mo-dau": "gtts", "script:chu-de": "espeak"},
                seconds=93.5,
                by="cán bộ A",
                note="ok",
            ),
        )
    # a fresh handle on the same file sees everything that was written
    with AsRunLog(log_file) as log:
        [row] = log.rows()
    assert row.id == row_id
    assert row.key == "sang@2026-04-21T06:30:00+07:00"
    assert row.planned_at == at(21, 6, 30)
    assert row.status == "played"
    assert row.source == "schedule" and row.slot == "sang" and row.title == "Buổi sáng"
    assert row.items == ["script:mo-dau", "script:chu-de"]
    assert row.priority == "normal"
    assert row.engines == {"script:mo-dau": "gtts", "script:chu-de": "espeak"}
    assert row.duration_s == 93.5 and row.by == "cán bộ A" and row.note == "ok"
    assert row.ended_at >= row.started_at
    assert row.planned_at.utcoffset() is not None
    d = row.to_dict(VN)
    assert d["planned_at"] == "2026-04-21T06:30:00+07:00"


def test_times_are_stored_as_utc_iso_with_offset(log_file: Path):
    with AsRunLog(log_file) as log:
        begin(log)
    raw = sqlite3.connect(log_file).execute("SELECT planned_at, started_at FROM asrun").fetchone()
    assert raw[0] == "2026-04-20T23:30:00.000+00:00"
    assert raw[1].endswith("+00:00")


def test_naive_planned_time_is_refused(log_file: Path):
    with AsRunLog(log_file) as log:
        with pytest.raises(ValueError):
            begin(log, planned=datetime(2026, 4, 21, 6, 30))


def test_wal_mode_and_schema_version(log_file: Path):
    AsRunLog(log_file).close()
    conn = sqlite3.connect(log_file)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_record_never_started_rows_and_invalid_statuses(log_file: Path):
    with AsRunLog(log_file) as log:
        rid = log.record(aired("k1", items=(), outcome=Outcome.MISSED, error="trễ 12 phút"))
        [row] = log.rows()
        assert row.id == rid and row.status == "missed" and row.started_at is None
        assert row.error == "trễ 12 phút" and row.items == []
        for outcome in (Outcome.PLAYED, Outcome.INTERRUPTED, Outcome.STARTED):
            with pytest.raises(ValueError):
                log.record(aired("k2", outcome=outcome))
        with pytest.raises(ValueError):
            log.finish(rid, ended(Outcome.STARTED))
        with pytest.raises(ValueError):
            log.finish(9999, ended(Outcome.PLAYED))
        with pytest.raises(ValueError):
            begin(log, source="radio")
        with pytest.raises(ValueError):
            begin(log, priority="gấp")


def test_crash_leaves_started_row_that_recover_marks_interrupted(log_file: Path):
    # a real process begins a broadcast and is killed mid-air, as a power cut would
    script = textwrap.dedent(f"""
        import sys, time
        from datetime import datetime
        from zoneinfo import ZoneInfo
        from broadcaster.asrun import AsRunLog
        log = AsRunLog({str(log_file)!r})
        log.begin(key="sang@x", planned_at=datetime(2026, 4, 21, 6, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")),
                  source="schedule", slot="sang", title="Buổi sáng", items=["script:mo-dau"], priority="normal")
        print("begun", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "begun"
    finally:
        proc.kill()
        proc.wait(timeout=10)
    with AsRunLog(log_file) as log:
        [row] = log.rows()
        assert row.status == "started"  # honest: it began and nobody knows how it ended
        assert "sang@x" not in log.settled_keys()
        assert log.recover() == 1
        assert log.recover() == 0
        [row] = log.rows()
    assert row.status == "interrupted"
    assert row.error == RECOVER_ERROR
    assert row.ended_at is None


def test_close_without_finish_then_recover(log_file: Path):
    log = AsRunLog(log_file)
    begin(log, key="a")
    done = begin(log, key="b")
    log.finish(done, ended(Outcome.PLAYED, seconds=10))
    log.close()
    with AsRunLog(log_file) as log:
        assert log.recover() == 1
        statuses = {r.key: r.status for r in log.rows()}
    assert statuses == {"a": "interrupted", "b": "played"}


def test_settled_keys(log_file: Path):
    with AsRunLog(log_file) as log:
        log.finish(begin(log, key="played"), ended(Outcome.PLAYED))
        log.finish(begin(log, key="interrupted"), ended(Outcome.INTERRUPTED))
        begin(log, key="on-air")
        for status in ("missed", "failed", "skipped"):
            log.record(never_started(status, status))
        assert log.settled_keys() == {"played", "missed", "failed", "skipped"}
        assert log.settled_keys(["played", "interrupted", "on-air", "unknown"]) == {"played"}
        many = [f"k{i}" for i in range(1200)] + ["failed"]
        assert log.settled_keys(many) == {"failed"}
        assert log.settled_keys([]) == set()


def test_rows_filter_by_local_day(log_file: Path):
    with AsRunLog(log_file) as log:
        # 00:30 on 21/4 in Vietnam is still 20/4 in UTC: the local day must win
        begin(log, key="early", planned=at(21, 0, 30))
        begin(log, key="late", planned=at(21, 23, 30))
        begin(log, key="next", planned=at(22, 6))
        assert [r.key for r in log.rows(day=date(2026, 4, 21), tz=VN)] == ["early", "late"]
        assert [r.key for r in log.rows(start=date(2026, 4, 21), end=date(2026, 4, 22))] == ["early", "late", "next"]
        assert [r.key for r in log.rows(start=date(2026, 4, 22))] == ["next"]
        assert len(log.rows()) == 3


def test_adhoc_row_is_placed_by_its_start(tmp_path: Path):
    now = [datetime(2026, 4, 21, 2, 0, tzinfo=UTC)]  # 09:00 in Vietnam
    with AsRunLog(tmp_path / "a.sqlite3", clock=lambda: now[0]) as log:
        record = AiredRecord(
            key="adhoc-1",
            title="Thông báo mất điện",
            priority="emergency",
            source=Source.ADHOC,
            items=("text:Thông báo mất điện",),
        )
        rid = log.begin(record)
        now[0] += timedelta(seconds=75)
        log.finish(rid, replace(record, outcome=Outcome.PLAYED))  # seconds not measured: the times tell
        [row] = log.rows(day=date(2026, 4, 21))
    assert row.planned_at is None and row.source == "adhoc" and row.priority == "emergency"
    assert row.aired_seconds == 75.0


def test_two_threads_share_one_log(log_file: Path):
    log = AsRunLog(log_file)
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            for i in range(40):
                rid = begin(log, key=f"{name}-{i}")
                log.finish(rid, ended(Outcome.PLAYED, seconds=1.0))
                log.rows(day=date(2026, 4, 21))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("playout", "api")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(log.settled_keys()) == 80
    log.close()


def test_two_connections_write_concurrently(log_file: Path):
    AsRunLog(log_file).close()
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            with AsRunLog(log_file) as log:
                for i in range(30):
                    log.finish(begin(log, key=f"{name}-{i}"), ended(Outcome.PLAYED))
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with AsRunLog(log_file) as log:
        rows = log.rows()
    assert len(rows) == 60 and {r.status for r in rows} == {"played"}


def test_not_a_database_gives_vietnamese_error_and_keeps_the_file(log_file: Path):
    log_file.parent.mkdir(parents=True)
    junk = b"day khong phai SQLite " * 200
    log_file.write_bytes(junk)
    with pytest.raises(AsRunError) as info:
        AsRunLog(log_file)
    message = str(info.value)
    assert "bị hỏng" in message and "chuyển nó sang chỗ khác" in message
    assert log_file.read_bytes() == junk


def test_newer_schema_is_refused(log_file: Path):
    AsRunLog(log_file).close()
    conn = sqlite3.connect(log_file)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(AsRunError, match="phiên bản Loa xã mới hơn"):
        AsRunLog(log_file)


def test_parse_day_is_the_shared_one():
    from broadcaster import fmt

    assert parse_day is fmt.parse_day  # one parser for log, report, plan and rehearse
    assert parse_day("2026-04-21") == date(2026, 4, 21)
    assert parse_day("21/4/2026") == date(2026, 4, 21)
    assert parse_day(" 01.05.2026 ") == date(2026, 5, 1)
    assert parse_day("2026-4-21") == date(2026, 4, 21)
    for bad in ("31/4/2026", "hôm qua", "", "2026-13-01"):
        with pytest.raises(ValueError, match="không hợp lệ"):
            parse_day(bad)


# -- schema 2: the unapproved outcome and the columns for zones, receivers, timing, users -------

# The table exactly as schema version 1 created it (asrun.py before the split).
V1_SCHEMA = """
CREATE TABLE asrun (
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
CREATE INDEX asrun_key ON asrun (key);
CREATE INDEX asrun_at ON asrun (COALESCE(planned_at, started_at, recorded_at));
PRAGMA user_version = 1;
"""


def make_v1_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    conn.execute("PRAGMA journal_mode = WAL")
    rows = [
        (
            7,
            "sang@x",
            "2026-04-20T23:30:00.000+00:00",
            "2026-04-20T23:30:00.100+00:00",
            "2026-04-20T23:31:00.000+00:00",
            "2026-04-20T23:30:00.000+00:00",
            "schedule",
            "sang",
            "Buổi sáng",
            '["script:mo-dau"]',
            "normal",
            "played",
            '{"script:mo-dau": "gtts"}',
            60.0,
            None,
            None,
            "ghi chú",
        ),
        (
            9,
            "adhoc-1",
            None,
            "2026-04-21T02:00:00.000+00:00",
            "2026-04-21T02:00:13.000+00:00",
            "2026-04-21T02:00:00.000+00:00",
            "adhoc",
            None,
            "Họp dân",
            '["text:Họp dân"]',
            "normal",
            "interrupted",
            "{}",
            13.0,
            "người vận hành dừng",
            "cán bộ A",
            None,
        ),
    ]
    conn.executemany("INSERT INTO asrun VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.commit()
    conn.close()


def test_version_1_file_is_migrated_and_keeps_its_rows(log_file: Path):
    make_v1_file(log_file)
    with pytest.raises(sqlite3.IntegrityError):  # the old CHECK refuses the new outcome
        with sqlite3.connect(log_file) as raw:
            raw.execute("UPDATE asrun SET status='unapproved' WHERE id=7")
    with AsRunLog(log_file) as log:
        old = log.rows()
        assert [(r.id, r.key, r.status, r.source) for r in old] == [
            (7, "sang@x", "played", "schedule"),
            (9, "adhoc-1", "interrupted", "adhoc"),
        ]
        assert old[0].engines == {"script:mo-dau": "gtts"} and old[0].note == "ghi chú"
        assert old[0].planned_at == at(21, 6, 30) and old[0].duration_s == 60.0
        assert old[1].error == "người vận hành dừng" and old[1].by == "cán bộ A"
        assert all(r.zone is None and r.heard is None and r.by_user is None for r in old)
        rid = log.record(never_started("k", Outcome.UNAPPROVED, error="chưa được duyệt"))
        assert rid > 9  # AUTOINCREMENT carried over: no id is ever reused
        assert log.settled_keys() == {"sang@x", "k"}
    conn = sqlite3.connect(log_file)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"asrun_key", "asrun_at"} <= indexes
    # a second opening does not migrate again
    AsRunLog(log_file).close()
    assert len(conn.execute("SELECT id FROM asrun").fetchall()) == 3


def test_new_columns_round_trip(log_file: Path):
    with AsRunLog(log_file) as log:
        record = AiredRecord(
            key="a",
            title="Họp dân",
            priority=Priority.PRIORITY.label,
            source=Source.ADHOC,
            items=("text:Họp dân",),
            zone="thon-1",
            by_user="lan",
        )
        rid = log.begin(record)
        log.finish(
            rid,
            replace(record, outcome=Outcome.PLAYED, heard=True, start_error_ms=-12.5, start_error_method="monitor"),
        )
        log.record(never_started("b", Outcome.UNAPPROVED, by_user="hệ thống", heard=False))
        a, b = sorted(log.rows(), key=lambda r: r.key)
    assert (a.zone, a.by_user, a.heard, a.start_error_ms, a.start_error_method) == (
        "thon-1",
        "lan",
        True,
        -12.5,
        "monitor",
    )
    assert a.status is Outcome.PLAYED and a.source is Source.ADHOC  # typed, and still equal to strings
    assert a.status == "played" and b.status is Outcome.UNAPPROVED and b.heard is False
    d = a.to_dict(VN)
    assert d["status"] == "played" and type(d["status"]) is str and d["heard"] is True
    assert d["by_user"] == "lan" and d["zone"] == "thon-1"


def test_a_finished_row_keeps_what_the_record_leaves_unsaid(log_file: Path):
    """begin() writes the request side, finish() the outcome side; a None there keeps what the row holds."""
    with AsRunLog(log_file) as log:
        rid = begin(log, zone="thon-2", by_user="lan", note="từ lúc bắt đầu")
        log.finish(rid, AiredRecord(key="", title="", outcome=Outcome.INTERRUPTED, seconds=1.23456, by="bí thư"))
        (row,) = log.rows()
    assert (row.zone, row.by_user, row.note, row.by) == ("thon-2", "lan", None, "bí thư")
    assert row.duration_s == 1.235 and row.key == "sang@2026-04-21T06:30:00+07:00" and row.engines == {}


def test_the_keyword_forms_still_write_the_same_rows(tmp_path: Path):
    """``begin(**columns)``, ``finish(id, status, …)`` and ``record(**Player.row_fields(req), status=…)``."""
    now = datetime(2026, 4, 21, 2, 0, tzinfo=UTC)
    columns = dict(
        key="sang@x",
        planned_at=at(21, 6, 30),
        source="schedule",
        slot="sang",
        title="Buổi sáng",
        items=["script:mo-dau"],
        priority=Priority.NORMAL,
        zone="thon-1",
    )
    proof = {"heard": True, "note": None}
    with (
        AsRunLog(tmp_path / "kw.sqlite3", clock=lambda: now) as kw,
        AsRunLog(tmp_path / "rec.sqlite3", clock=lambda: now) as rec,
    ):
        rid = kw.begin(**columns)
        kw.finish(rid, "played", engines=None, duration_s=60.0, heard=True, proof=proof, error=None)
        kw.record(**columns, status="missed", error="trễ")
        record = AiredRecord(
            key="sang@x",
            title="Buổi sáng",
            slot="sang",
            zone="thon-1",
            planned_at=at(21, 6, 30),
            items=("script:mo-dau",),
        )
        rid = rec.begin(record)
        rec.finish(rid, replace(record, outcome=Outcome.PLAYED, seconds=60.0, heard=True, proof=proof))
        rec.record(replace(record, outcome=Outcome.MISSED, error="trễ"))
        assert kw.rows() == rec.rows()
        with pytest.raises(ValueError):
            kw.record(**columns, status="played")
        with pytest.raises(ValueError):
            kw.finish(rid, "started")
        with pytest.raises(ValueError):
            kw.begin(**{**columns, "source": "radio"})


def test_version_2_file_is_migrated_keeping_zones_and_takes_not_heard_with_proof(log_file: Path):
    """A v2 log (zones, heard, measured start) becomes v3: rows kept, 'not_heard' and proof storable."""
    from broadcaster.asrun.schema import _COLUMNS

    v2_columns = _COLUMNS.replace(",\n    proof       TEXT", "").replace(", 'not_heard'", "")
    assert "proof" not in v2_columns and "not_heard" not in v2_columns
    log_file.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(log_file)
    conn.execute(f"CREATE TABLE asrun ({v2_columns})")
    conn.execute(
        "INSERT INTO asrun (id, key, recorded_at, source, title, priority, status, zone, heard, start_error_ms,"
        " start_error_method, by_user) VALUES (4, 'sang@x', '2026-04-21T00:00:00+00:00', 'schedule', 'Sáng',"
        " 'normal', 'played', 'thon-dong', 1, 3.5, 'monitor', NULL)"
    )
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with AsRunLog(log_file) as log:
        (old,) = log.rows()
        assert (old.id, old.zone, old.heard, old.start_error_ms, old.proof) == (4, "thon-dong", True, 3.5, None)
        rid = log.begin(never_started("k", Outcome.STARTED, zone="thon-doai"))
        proof = {"heard": False, "delay_ms": None, "dead_air": [], "note": "không nghe thấy"}
        log.finish(rid, ended(Outcome.NOT_HEARD, heard=False, proof=proof, error="không nghe thấy"))
        row = [r for r in log.rows() if r.id == rid][0]
        assert (row.status, row.heard, row.proof, row.zone) == ("not_heard", False, proof, "thon-doai")
        assert row.aired_seconds == 0.0  # never counted as aired

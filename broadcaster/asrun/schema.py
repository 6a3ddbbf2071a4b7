"""The as-run table's schema and its migrations (``PRAGMA user_version`` numbers them).

Version 1: the first table. Version 2: the ``unapproved`` outcome (content approval) and
nullable columns for what comes next — ``zone`` (several outputs), ``heard`` (a receiver
confirmed it), ``start_error_ms`` / ``start_error_method`` (measured start offset) and
``by_user`` (who asked for an ad-hoc broadcast). SQLite cannot change a CHECK constraint in
place, so version 1 is copied into a new table; every existing row is kept as it was.
Version 3: the ``not_heard`` outcome (sent, but the monitor did not hear it) and ``proof``, the
monitor's findings as JSON (delay, level, dead-air spans); versions 1 and 2 are copied likewise.
"""

from __future__ import annotations

from broadcaster.records import Outcome, Source

SCHEMA_VERSION = 3


def _quoted(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


_COLUMNS = f"""
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT NOT NULL,
    planned_at  TEXT,
    started_at  TEXT,
    ended_at    TEXT,
    recorded_at TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ({_quoted([s.value for s in Source])})),
    slot        TEXT,
    title       TEXT NOT NULL,
    items       TEXT NOT NULL DEFAULT '[]',
    priority    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ({_quoted([o.value for o in Outcome])})),
    engines     TEXT NOT NULL DEFAULT '{{}}',
    duration_s  REAL,
    error       TEXT,
    by          TEXT,
    note        TEXT,
    zone        TEXT,
    heard       INTEGER CHECK (heard IN (0, 1)),
    start_error_ms     REAL,
    start_error_method TEXT,
    by_user     TEXT,
    proof       TEXT
"""

#: the columns version 1 had, in order (what a migration copies)
_V1_COLUMNS = (
    "id, key, planned_at, started_at, ended_at, recorded_at, source, slot, title, items, priority,"
    " status, engines, duration_s, error, by, note"
)

#: the columns version 2 had
_V2_COLUMNS = _V1_COLUMNS + ", zone, heard, start_error_ms, start_error_method, by_user"

_INDEXES = [
    "CREATE INDEX IF NOT EXISTS asrun_key ON asrun (key)",
    "CREATE INDEX IF NOT EXISTS asrun_at ON asrun (COALESCE(planned_at, started_at, recorded_at))",
]


def create_statements() -> list[str]:
    """SQL that creates the current table in an empty database."""
    return [f"CREATE TABLE IF NOT EXISTS asrun ({_COLUMNS})", *_INDEXES]


def migrate_statements(version: int) -> list[str]:
    """SQL that brings a table of ``version`` to :data:`SCHEMA_VERSION`, keeping every row."""
    if version not in (0, 1, 2):
        raise ValueError(f"no migration from as-run schema {version}")
    # version 0 with a table: written by a build that forgot user_version; it has v1's columns
    columns = _V2_COLUMNS if version == 2 else _V1_COLUMNS
    return [
        f"CREATE TABLE asrun_new ({_COLUMNS})",
        f"INSERT INTO asrun_new ({columns}) SELECT {columns} FROM asrun",
        "DROP TABLE asrun",
        "ALTER TABLE asrun_new RENAME TO asrun",
        *_INDEXES,
    ]

"""Where every file of a station lives, derived once from the schedule.

A station is a folder holding ``schedule.yaml``; everything else is found from there:

* ``scripts_vi/`` — the texts, ``abbreviations.yaml`` and ``pronunciations.yaml``;
* ``audio/`` — chimes and recordings, ``audio/cache/`` (rendered speech), ``audio/rehearsal/``;
* the state folder (``state_dir:`` in the schedule, default ``state/``) — the as-run log, the API
  token, the running daemon's address, the heartbeat, users, approvals and the audit trail.

Only the standard library here: the CLI's fast path (``say``) uses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

SCRIPTS_DIR = "scripts_vi"
AUDIO_DIR = "audio"
DEFAULT_STATE_DIR = "state"
ASRUN_FILE = "asrun.sqlite3"
TOKEN_FILE = "api-token"
DAEMON_FILE = "daemon.json"
ALIVE_FILE = "alive"
AUDIT_KEY_FILE = "audit-key"
AUDIT_ANCHOR_FILE = "audit-anchor"

#: a script's name (``scripts_vi/<name>.txt``): letters, digits, ``-`` and ``_``, no path
SCRIPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")

_STATE_DIR_LINE = re.compile(r"""^state_dir:[ \t]*(?:"([^"]*)"|'([^']*)'|([^#\s][^#]*?))?[ \t]*(?:#.*)?$""", re.M)


class _HasPaths(Protocol):
    @property
    def base_dir(self) -> Path: ...

    @property
    def state_path(self) -> Path: ...


@dataclass(frozen=True)
class Layout:
    """Every path of one station. Build it with :meth:`of` (a loaded schedule) or :meth:`locate`."""

    base_dir: Path
    state_dir: Path

    @classmethod
    def of(cls, schedule: _HasPaths) -> Layout:
        """The layout of a loaded schedule."""
        return cls(Path(schedule.base_dir), Path(schedule.state_path))

    @classmethod
    def at(cls, base_dir: Path) -> Layout:
        """The default layout of a station folder (for the texts; ``state_dir:`` is not read)."""
        return cls(Path(base_dir), Path(base_dir) / DEFAULT_STATE_DIR)

    @classmethod
    def locate(cls, schedule_path: Path) -> Layout:
        """The layout of a schedule file without loading it — for the CLI's fast path.

        Only the top-level ``state_dir:`` line is read (the loader accepts a plain string
        there and nothing else); a broken or missing file still has the default layout.
        """
        base = schedule_path.resolve().parent
        try:
            text = schedule_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        m = _STATE_DIR_LINE.search(text)
        configured = next((g for g in m.groups() if g), "").strip() if m else ""
        if configured:
            p = Path(configured)
            return cls(base, p if p.is_absolute() else base / p)
        return cls(base, base / DEFAULT_STATE_DIR)

    # -- the texts ------------------------------------------------------------------------
    @property
    def scripts_dir(self) -> Path:
        return self.base_dir / SCRIPTS_DIR

    def script(self, name: str) -> Path:
        return self.scripts_dir / f"{name}.txt"

    @property
    def abbreviations(self) -> Path:
        return self.scripts_dir / "abbreviations.yaml"

    @property
    def pronunciations(self) -> Path:
        return self.scripts_dir / "pronunciations.yaml"

    # -- audio ----------------------------------------------------------------------------
    @property
    def audio_dir(self) -> Path:
        return self.base_dir / AUDIO_DIR

    @property
    def cache_dir(self) -> Path:
        return self.audio_dir / "cache"

    @property
    def rehearsal_dir(self) -> Path:
        return self.audio_dir / "rehearsal"

    @property
    def uploads_dir(self) -> Path:
        """Recordings sent from a phone or the console (decoded copies live beside them)."""
        return self.audio_dir / "uploads"

    @property
    def playable_roots(self) -> tuple[Path, ...]:
        """Folders whose audio files ``play`` may air (nothing outside them)."""
        return (self.audio_dir, self.scripts_dir)

    # -- state ----------------------------------------------------------------------------
    @property
    def asrun_db(self) -> Path:
        return self.state_dir / ASRUN_FILE

    @property
    def token_file(self) -> Path:
        return self.state_dir / TOKEN_FILE

    @property
    def daemon_file(self) -> Path:
        return self.state_dir / DAEMON_FILE

    @property
    def alive_file(self) -> Path:
        return self.state_dir / ALIVE_FILE

    @property
    def users_db(self) -> Path:
        return self.state_dir / "users.sqlite3"

    @property
    def approvals_db(self) -> Path:
        return self.state_dir / "approvals.sqlite3"

    @property
    def receivers_file(self) -> Path:
        """The registered receiver boxes and the SHA-256 of each one's own token (0600)."""
        return self.state_dir / "receivers.json"

    @property
    def audit_log(self) -> Path:
        return self.state_dir / "audit.jsonl"

    @property
    def audit_key(self) -> Path:
        """The audit trail's HMAC key (0600), kept apart from the log: see ``broadcaster/audit.py``."""
        return self.state_dir / AUDIT_KEY_FILE

    @property
    def audit_anchor(self) -> Path:
        """The audit trail's anchor (0600): line count and last line's MAC, rewritten at every append."""
        return self.state_dir / AUDIT_ANCHOR_FILE

    @property
    def schedule_versions_dir(self) -> Path:
        """Every saved version of schedule.yaml, with who saved it (the console keeps them)."""
        return self.state_dir / "schedule-versions"

    @property
    def icecast_password_file(self) -> Path:
        """The Icecast source password (0600), when not given by LOA_XA_ICECAST_PASSWORD."""
        return self.state_dir / "icecast-password"

    @property
    def sessions_db(self) -> Path:
        """The web console's login sessions."""
        return self.state_dir / "sessions.sqlite3"

    @property
    def report_settings(self) -> Path:
        """Names and signer of the report to the Sở (``report.yaml`` beside the schedule)."""
        return self.base_dir / "report.yaml"

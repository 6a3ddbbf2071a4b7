"""The daemon's reload component: watch the schedule and scripts, load, apply or refuse, audit.

:class:`ScheduleHolder` is the one place the current schedule lives (the contract's
``ScheduleView``); the reloader replaces it only with a schedule that loaded cleanly, and the
old one keeps airing otherwise.
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from broadcaster import fmt
from broadcaster.daemon.alerting import Watch
from broadcaster.daemon.jobs import JobDiff
from broadcaster.daemon.watch import ScheduleWatcher
from broadcaster.schedule.load import load_schedule
from broadcaster.schedule.model import Output, Schedule
from broadcaster.station import MAIN_OUTPUT, Station, StationError

log = logging.getLogger("broadcaster.daemon")

RESTART_ONLY = ("api", "state_path", "zones", "alerts", "power")


class ScheduleHolder:
    """The schedule the station runs now, its file, and what the last (re)load said."""

    def __init__(self, path: Path, schedule: Schedule) -> None:
        self._path = path
        self.lock = threading.RLock()
        self._current = schedule
        self.text = read_text(path)
        self._last_reload: dict[str, Any] = {}

    @property
    def current(self) -> Schedule:
        return self._current

    @property
    def path(self) -> Path:
        return self._path

    @property
    def last_reload(self) -> dict[str, Any]:
        return self._last_reload

    def replace(self, schedule: Schedule) -> Schedule:
        """Install ``schedule``; returns the one it replaced."""
        with self.lock:
            old, self._current = self._current, schedule
        fmt.set_station_zone(schedule.campaign.timezone)
        return old

    def reloaded(self, ok: bool, message: str, errors: list[str] | None = None) -> None:
        entry: dict[str, Any] = {"ok": ok, "at": now_iso(), "message": message}
        if errors is not None:
            entry["errors"] = errors
        self._last_reload = entry


class Reloader:
    """Hot reload: a changed schedule or script applies without a restart, a broken one is refused."""

    def __init__(
        self,
        holder: ScheduleHolder,
        station: Station,
        watch: Watch,
        *,
        resync: Callable[[], JobDiff],
        set_grace: Callable[[float], None],
        after: Callable[[], None],
        output_override: str | int | None,
        grace_override: float | None,
        saved_here: Callable[[str, str], bool] = lambda name, sha: False,
    ) -> None:
        self._holder = holder
        self._station = station
        self._watch = watch
        self._resync = resync
        self._set_grace = set_grace
        self._after = after  # pre-render, log the next broadcast
        self._output_override = output_override
        self._grace_override = grace_override
        self._saved_here = saved_here

    def open(self, stack: ExitStack) -> None:
        watcher = ScheduleWatcher(self._holder.path, self._station.layout.scripts_dir, self.files_changed)
        watcher.start()
        stack.callback(watcher.stop)

    def files_changed(self, paths: set[Path]) -> None:
        names = {p.name for p in paths}
        shown = ", ".join(sorted(names))
        result = load_schedule(self._holder.path)
        if not result.ok or result.schedule is None:
            errors = [str(d) for d in result.errors]
            for e in errors:
                log.error("%s", e)
            log.error("Sửa đổi (%s) bị TỪ CHỐI: lịch cũ vẫn tiếp tục phát. Sửa các lỗi trên rồi lưu lại.", shown)
            self._watch.reload_result(False, f"sửa đổi ({shown}) bị từ chối: {errors[0] if errors else ''}")
            self._holder.reloaded(False, "sửa đổi bị từ chối, lịch cũ vẫn phát", errors)
            return
        for w in result.warnings:
            log.warning("%s", w)
        with self._holder.lock:
            old = self._holder.replace(result.schedule)
            new = result.schedule
            self._station.reload_speech(new, names)
            if not old.zones and not new.zones:
                self._apply_output(old.output, new.output)
            if any(getattr(old, k) != getattr(new, k) for k in RESTART_ONLY):
                log.warning(
                    "Thay đổi 'api', 'state_dir', 'zones', 'alerts' hoặc 'power' chỉ có hiệu lực sau khi khởi động lại."
                )
            diff = self._resync()
        self._holder.reloaded(True, f"đã nạp lại ({shown}): {diff}")
        self._watch.reload_result(True, "")
        self._audit_edits(paths)
        log.info("Đã nạp lại lịch (%s): %s.", shown, diff)
        self._after()

    def _audit_edits(self, paths: set[Path]) -> None:
        """An edit made by hand in the files, in the audit trail: the schedule with its diff."""
        from broadcaster.schedule.versions import VersionStore

        text = read_text(self._holder.path)
        if text != self._holder.text:
            if not VersionStore.of(self._station.layout).saved_here(text):  # console saves audit themselves
                diff = difflib.unified_diff(
                    self._holder.text.splitlines(), text.splitlines(), "trước", "sau", lineterm="", n=1
                )
                self._station.audit(
                    who="sửa trực tiếp trong tệp",
                    where="tệp lịch",
                    action="schedule_edit",
                    detail={"diff": list(diff)[:200]},
                )
            self._holder.text = text
        scripts = sorted(
            p.name
            for p in paths
            if p.parent == self._station.layout.scripts_dir and not self._saved_through_contract(p)
        )
        if scripts:
            self._station.audit(
                who="sửa trực tiếp trong tệp", where="scripts_vi", action="script_edit", detail={"files": scripts}
            )

    def _saved_through_contract(self, path: Path) -> bool:
        """A script the console saved is audited there, with who saved it: not again as a hand edit."""
        from broadcaster.schedule.versions import text_sha256

        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return False
        return self._saved_here(path.name, text_sha256(text))

    def _apply_output(self, old: Output, new: Output) -> None:
        """A changed ``output`` applies without a restart (unless the command line chose it)."""
        player = self._station.player
        device_changed = new.device != old.device
        if device_changed and self._output_override is not None:
            log.warning(
                "Đầu ra đã được chọn bằng --output khi khởi động (%s): bỏ qua 'output.device' trong lịch.",
                self._output_override,
            )
            device_changed = False
        if device_changed or (new.monitor, new.dead_air_seconds) != (old.monitor, old.dead_air_seconds):
            spec = self._output_override if self._output_override is not None else new.device
            try:
                sink = self._station.open_output(MAIN_OUTPUT, spec)
            except StationError as exc:
                log.error("Không đổi được đầu ra âm thanh: %s. Vẫn dùng đầu ra cũ (%s).", exc, player.sink.name)
            else:
                player.use_sink(sink)
                heard = f", đầu nghe kiểm tra {new.monitor}" if new.monitor else ""
                log.info("Đổi đầu ra âm thanh: %s%s (áp dụng từ lượt phát tiếp theo).", sink.name, heard)
        if new.grace_minutes != old.grace_minutes:
            if self._grace_override is not None:
                log.warning(
                    "Thời gian cho phép phát muộn đã được chọn khi khởi động (%g phút): bỏ qua "
                    "'output.grace_minutes' trong lịch.",
                    self._grace_override,
                )
            else:
                self._set_grace(new.grace_minutes * 60)
                log.info("Đổi thời gian cho phép phát muộn: %g phút.", new.grace_minutes)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def now_iso() -> str:
    return datetime.now(UTC).astimezone(fmt.station_zone()).isoformat(timespec="seconds")

"""The daemon: the composition root that opens the station's components on one ExitStack.

Order: schedule → the one-station lock → watch (alerts, metrics, power) → station (renderer,
render pool, as-run log recovered, players) → receivers → scheduling (catch up, jobs) →
reload (file watcher) → the control listener (API and console side by side) → background
pre-render. Each component registers its own close on the stack as it opens, so a part that
fails to open leaves nothing half-started, and :meth:`Daemon.stop` closes them newest first.

The daemon implements :class:`broadcaster.contract.Controller` by delegating to its
components; no caller reaches past that contract.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from broadcaster import fmt
from broadcaster.contract import Accepted, Actor, Announcement, Stopped
from broadcaster.daemon import single, state
from broadcaster.daemon.alerting import Watch
from broadcaster.daemon.control import Announcements, StationAudit
from broadcaster.daemon.receiving import Receiving
from broadcaster.daemon.reload import Reloader, ScheduleHolder
from broadcaster.daemon.scheduling import Scheduling
from broadcaster.daemon.server import ApiServer, ServerError
from broadcaster.daemon.status import StatusSources, snapshot
from broadcaster.schedule.load import load_schedule
from broadcaster.snapshot import StatusSnapshot
from broadcaster.station import Station, StationError, zone_outputs

if TYPE_CHECKING:
    from broadcaster.asrun.row import AsRunRow
    from broadcaster.layout import Layout
    from broadcaster.speech.render import SpeechRenderer

log = logging.getLogger("broadcaster.daemon")

#: the background pre-render's nice value: below announcements and playout, above nothing else
PRERENDER_NICE = 10


class StartError(Exception):
    """The daemon cannot start; the message (Vietnamese) says why and what to do."""


@dataclass
class DaemonOptions:
    schedule_path: Path
    output: str | int | None = None  # overrides schedule.output.device
    api_host: str | None = None
    api_port: int | None = None
    allow_remote: bool = False
    grace_minutes: float | None = None
    lead_seconds: float = 3.0
    heartbeat_minutes: float = 5.0
    prerender: bool = True


class Daemon:
    """The running station."""

    log = log

    def __init__(self, options: DaemonOptions) -> None:
        self.options = options
        self.started_at = time.time()
        self._stack = ExitStack()
        self.api_port: int | None = None

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        """Open every component; raise StartError (everything opened so far is closed again)."""
        with ExitStack() as stack:
            try:
                self._open(stack)
            except (StationError, ServerError, single.AlreadyRunning) as exc:
                raise StartError(str(exc)) from None
            self._stack = stack.pop_all()
        log.info(
            "Loa xã sẵn sàng: %s; đầu ra %s; %s.",
            self.holder.current.campaign.name,
            self.station.player.sink.name,
            self.scheduling.next_text(),
        )
        if self.options.prerender:
            self._prerender_in_background()

    def _open(self, stack: ExitStack) -> None:
        opts = self.options
        # The control listener's libraries (FastAPI, pydantic's models, uvicorn) load on another
        # thread while this one opens the station: much of opening the sound card and the logs
        # waits on C code and the disk, so the two overlap (the listener starts last, below).
        web = threading.Thread(target=_import_listener, name="import-listener", daemon=True)
        web.start()
        self.holder = self._load(opts.schedule_path)
        schedule = self.holder.current
        single.hold_station(stack, schedule.state_path)  # before the as-run log is touched
        grace_minutes = opts.grace_minutes if opts.grace_minutes is not None else schedule.output.grace_minutes
        self.watch = Watch(schedule)
        stack.callback(self.watch.close)
        self.station = stack.enter_context(
            Station(
                schedule,
                outputs=zone_outputs(schedule, opts.output),
                grace_seconds=grace_minutes * 60,
                on_alert=self.watch.hub.raise_alert,
            )
        )
        self.watch.attach(self.station.events)
        single.hold_cards(stack, self.station.players.values(), self.station.layout.state_dir)
        assert self.station.asrun is not None  # a station with outputs has its log
        recovered = self.station.asrun.recover()
        if recovered:
            log.warning("Lần chạy trước dừng đột ngột: %d lượt phát đang dở được ghi là 'bị ngắt'.", recovered)
        self.receiving = Receiving(self.holder, self.station, self.watch)
        self.announcements = Announcements(self.holder, self.station, self.watch)
        self.scheduling = Scheduling(self.holder, self.station, self.watch, lead_seconds=opts.lead_seconds)
        diff = self.scheduling.open(stack)
        self._status_sources = StatusSources(
            self.holder, self.station, self.watch, self.scheduling, self.receiving.receivers, self.started_at
        )
        self.scheduling.every(opts.heartbeat_minutes * 60, self._heartbeat, "heartbeat")
        self.scheduling.every(5, self._check, "watch")
        state_dir = self.station.layout.state_dir
        state.touch_alive(state_dir)
        stack.callback(state.touch_alive, state_dir)  # closed last-but-one: the time we stopped
        self.holder.reloaded(True, f"nạp lịch lúc khởi động: {diff}")
        self._reloader().open(stack)
        self._serve(stack)
        self._say_window()

    def _load(self, path: Path) -> ScheduleHolder:
        result = load_schedule(path)
        if result.schedule is None:
            raise StartError("\n".join(str(d) for d in result.errors))
        for w in result.warnings:
            log.warning("%s", w)
        holder = ScheduleHolder(path, result.schedule)
        fmt.set_station_zone(result.schedule.campaign.timezone)
        return holder

    def _reloader(self) -> Reloader:
        def set_grace(seconds: float) -> None:
            self.station.set_grace(seconds)
            self.scheduling.set_misfire_grace(self.station.grace_seconds)

        def after() -> None:
            text = self.scheduling.next_text()
            log.info("%s.", text[:1].upper() + text[1:])
            if self.options.prerender:
                self._prerender_in_background()

        return Reloader(
            self.holder,
            self.station,
            self.watch,
            resync=self.scheduling.resync,
            set_grace=set_grace,
            after=after,
            output_override=self.options.output,
            grace_override=self.options.grace_minutes,
            saved_here=self.announcements.audit.saved_here,
        )

    def _serve(self, stack: ExitStack) -> None:
        """The control listener: the API and the console side by side (``daemon/web.py``)."""
        opts, schedule = self.options, self.holder.current
        server = ApiServer(
            self,
            self.station.layout.state_dir,
            opts.api_host or schedule.api.host,
            opts.api_port if opts.api_port is not None else schedule.api.port,
            allow_remote=opts.allow_remote,
        )
        stack.callback(server.stop)
        self.api_port = server.start()

    def stop(self) -> None:
        """Close every opened part, newest first; a failing close does not stop the others."""
        log.info("Đang dừng Loa xã…")
        try:
            self._stack.close()
        except Exception:  # noqa: BLE001 - ExitStack already ran every other close
            log.exception("lỗi khi dừng")
        log.info("Loa xã đã dừng.")

    # -- periodic jobs ----------------------------------------------------------------
    def _check(self) -> None:
        """Every few seconds: raise or resolve the alerts that status shows (never on the playout path)."""
        try:
            self.watch.check(self.status().model_dump())
            stats = self.station.renderer.stats
            self.watch.metrics.render_cache_totals(stats.from_cache, stats.synthesized + stats.fallback)
        except Exception:  # noqa: BLE001 - watching must not stop the daemon
            log.exception("lỗi khi kiểm tra cảnh báo")

    def _heartbeat(self) -> None:
        state.touch_alive(self.station.layout.state_dir)
        players = self.station.players.values()
        on_air = [f"{p.zone + ': ' if p.zone else ''}{now['title']}" for p in players if (now := p.now_playing())]
        log.info(
            "Nhịp tim: đang chạy %s; %s; hàng chờ %d; %s.",
            fmt.duration(time.time() - self.started_at),
            f"đang phát {', '.join(on_air)}" if on_air else "không phát",
            sum(len(p.queued()) for p in players),
            self.scheduling.next_text(),
        )
        self.receiving.log_lost()

    def _prerender_in_background(self) -> None:
        schedule = self.holder.current

        def prerender() -> None:
            # Lower this thread's CPU priority (Linux: per thread; the espeak-ng it starts inherits
            # it): an announcement made while the start-up pre-render runs must not wait on it.
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PRERENDER_NICE)
            except (OSError, AttributeError):
                pass
            self.station.prerender(schedule)

        threading.Thread(target=prerender, name="prerender", daemon=True).start()

    # -- the control contract ---------------------------------------------------------
    @property
    def layout(self) -> Layout:
        return self.station.layout

    @property
    def speech(self) -> SpeechRenderer:
        return self.station.renderer  # replaced on a reload that changes the voice: read it each time

    @property
    def log_rows(self) -> _LogRows:
        return _LogRows(self)

    @property
    def schedule(self) -> ScheduleHolder:
        return self.holder

    @property
    def audit(self) -> StationAudit:
        return self.announcements.audit

    def status(self, actor: Actor | None = None) -> StatusSnapshot:
        return snapshot(self._status_sources, actor)

    def announce(self, a: Announcement, actor: Actor) -> Accepted:
        return self.announcements.announce(a, actor)

    def cut(self, actor: Actor, zones: Sequence[str] | None = None) -> Stopped:
        return self.announcements.cut(actor, zones)

    def cancel(self, request_id: int, actor: Actor) -> dict[str, Any] | None:
        return self.announcements.cancel(request_id, actor)

    def receiver_heartbeat(
        self, body: dict[str, Any], address: str | None = None, receiver: str | None = None
    ) -> dict[str, Any]:
        return self.receiving.heartbeat(body, address, receiver)

    def receiver_for_token(self, token: str) -> str | None:
        return self.receiving.receiver_for_token(token)

    def metrics_text(self) -> tuple[bytes, str]:
        """Prometheus' text format (``GET /metrics``)."""
        return self.watch.metrics.render()

    # -- messages ---------------------------------------------------------------------
    def _say_window(self) -> None:
        c = self.holder.current.campaign
        today = fmt.station_time().date()
        if today < c.start:
            log.warning(
                "Chưa đến thời gian chiến dịch (bắt đầu %s): đang chờ; vẫn nhận lệnh phát ngay.", fmt.day(c.start)
            )
        elif today > c.end:
            log.warning(
                "Chiến dịch đã kết thúc ngày %s: không còn lượt phát theo lịch; vẫn nhận lệnh phát ngay.",
                fmt.day(c.end),
            )


def _import_listener() -> None:
    try:
        import uvicorn  # noqa: F401

        import broadcaster.daemon.web  # noqa: F401
    except Exception:  # noqa: BLE001 - imported again (and reported) where it is used
        pass


class _LogRows:
    """The contract's log rows: the as-run log in the station's timezone."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    def rows(self, *, start: date | None = None, end: date | None = None, day: date | None = None) -> list[AsRunRow]:
        asrun = self._daemon.station.asrun
        assert asrun is not None
        rows: list[AsRunRow] = asrun.rows(
            start=start, end=end, day=day, tz=self._daemon.holder.current.campaign.timezone
        )
        return rows

"""The daemon's lifecycle: open the parts in order on one ExitStack, close them in reverse.

Order: schedule → station (renderer, render pool, as-run log recovered, players) → catch up on
what passed while we were down → scheduler jobs → file watcher → control API → background
pre-render. Every part registers its own close on the stack as it opens, so a part that fails
to open leaves nothing half-started and :meth:`Daemon.stop` needs no knowledge of what opened.
"""

from __future__ import annotations

import difflib
import logging
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from broadcaster import fmt
from broadcaster.adhoc import AdhocRefused, adhoc_action, adhoc_detail, make_request
from broadcaster.daemon import state, zones
from broadcaster.daemon.alerting import Watch
from broadcaster.daemon.api import Accepted, Announcement, ApiError
from broadcaster.daemon.catchup import catch_up
from broadcaster.daemon.jobs import JobSync
from broadcaster.daemon.server import ApiServer, ServerError
from broadcaster.daemon.snapshot import StatusSnapshot
from broadcaster.daemon.status import output_missing, snapshot
from broadcaster.daemon.watch import ScheduleWatcher
from broadcaster.daemon.zones import Receivers
from broadcaster.playout.player import Player, Request
from broadcaster.records import Outcome, Source
from broadcaster.schedule.load import load_schedule
from broadcaster.schedule.model import Broadcast, Output, Priority, Schedule
from broadcaster.station import MAIN_OUTPUT, Station, StationError, zone_outputs

log = logging.getLogger("broadcaster.daemon")


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
    log = log

    def __init__(self, options: DaemonOptions) -> None:
        self.options = options
        self.started_at = time.time()
        self.last_reload: dict[str, Any] = {}
        self._fired: set[str] = set()
        self._lock = threading.RLock()
        self._stack = ExitStack()
        self.api_port: int | None = None

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        """Open every part; raise StartError (everything opened so far is closed again)."""
        with ExitStack() as stack:
            try:
                self._open(stack)
            except (StationError, ServerError) as exc:
                raise StartError(str(exc)) from None
            self._stack = stack.pop_all()
        log.info(
            "Loa xã sẵn sàng: %s; đầu ra %s; %s.",
            self.schedule.campaign.name,
            self.station.player.sink.name,
            self._next_text(),
        )
        if self.options.prerender:
            self._prerender_in_background()

    def _open(self, stack: ExitStack) -> None:
        opts = self.options
        result = load_schedule(opts.schedule_path)
        if result.schedule is None:
            raise StartError("\n".join(str(d) for d in result.errors))
        for w in result.warnings:
            log.warning("%s", w)
        self.schedule: Schedule = result.schedule
        self._schedule_text = _read_text(opts.schedule_path)
        grace_minutes = opts.grace_minutes if opts.grace_minutes is not None else self.schedule.output.grace_minutes
        self.watch = Watch(self.schedule)
        stack.callback(self.watch.close)
        self.station = stack.enter_context(
            Station(
                self.schedule,
                outputs=zone_outputs(self.schedule, opts.output),
                grace_seconds=grace_minutes * 60,
                on_event=self.watch.on_player_event,
                on_alert=self.watch.hub.raise_alert,
            )
        )
        self.receivers = Receivers()
        state_dir = self.station.layout.state_dir
        assert self.station.asrun is not None  # a station with outputs has its log
        recovered = self.station.asrun.recover()
        if recovered:
            log.warning("Lần chạy trước dừng đột ngột: %d lượt phát đang dở được ghi là 'bị ngắt'.", recovered)
        self.scheduler = BackgroundScheduler(
            timezone=self.schedule.campaign.timezone,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(self.station.grace_seconds) or 1,
            },
        )
        power = self.watch.power.config
        self.jobs = JobSync(
            self.scheduler,
            self._fire,
            lead_seconds=opts.lead_seconds,
            misfire_grace_seconds=self.station.grace_seconds,
            prepare=self._prepare if power.enabled else None,
            prepare_seconds=power.lead_seconds,
        )
        self._catch_up()
        diff = self.jobs.sync(self.schedule, datetime.now(UTC), skip=self._fired.__contains__)
        self.scheduler.add_job(self._extend_horizon, "interval", minutes=30, id="horizon", coalesce=True)
        self.scheduler.add_job(self._heartbeat, "interval", minutes=opts.heartbeat_minutes, id="heartbeat")
        self.scheduler.add_job(state.touch_alive, "interval", seconds=30, id="alive", args=[state_dir])
        self.scheduler.add_job(self._check, "interval", seconds=5, id="watch", coalesce=True)
        self.scheduler.start()
        stack.callback(self.scheduler.shutdown, wait=False)
        state.touch_alive(state_dir)
        stack.callback(state.touch_alive, state_dir)  # closed last-but-one: the time we stopped
        self.last_reload = {"ok": True, "at": _now_iso(), "message": f"nạp lịch lúc khởi động: {diff}"}
        watcher = ScheduleWatcher(opts.schedule_path, self.station.layout.scripts_dir, self._on_files_changed)
        watcher.start()
        stack.callback(watcher.stop)
        server = ApiServer(
            self,
            opts.api_host or self.schedule.api.host,
            opts.api_port if opts.api_port is not None else self.schedule.api.port,
            allow_remote=opts.allow_remote,
        )
        stack.callback(server.stop)
        self.api_port = server.start()
        self._say_window()

    def stop(self) -> None:
        """Close every opened part, newest first; a failing close does not stop the others."""
        log.info("Đang dừng Loa xã…")
        try:
            self._stack.close()
        except Exception:  # noqa: BLE001 - ExitStack already ran every other close
            log.exception("lỗi khi dừng")
        log.info("Loa xã đã dừng.")

    # -- scheduling -------------------------------------------------------------------
    def _fire(self, b: Broadcast) -> None:
        """APScheduler job: tiny on purpose — it only enqueues."""
        with self._lock:
            if b.key in self._fired:
                return
            self._fired.add(b.key)
        zones.submit(self.station.players, _request_for(b))

    def _prepare(self, b: Broadcast) -> None:
        """APScheduler job, ``power.lead_seconds`` ahead: the amplifier on for the broadcast's zones."""
        self.watch.scheduled_soon(b.at.timestamp(), len(zones.targets(self.station.players, b.zones)))

    def _check(self) -> None:
        """Every few seconds: raise or resolve the alerts that status shows (never on the playout path)."""
        try:
            self.watch.check(self.status().model_dump())
            stats = self.station.renderer.stats
            self.watch.metrics.render_cache_totals(stats.from_cache, stats.synthesized + stats.fallback)
        except Exception:  # noqa: BLE001 - watching must not stop the daemon
            log.exception("lỗi khi kiểm tra cảnh báo")

    def _catch_up(self) -> None:
        """Broadcasts that passed while the daemon was down: late start within grace, else ``missed``."""
        for b in catch_up(self.schedule, self.station, _request_for):
            with self._lock:
                self._fired.add(b.key)

    def _extend_horizon(self) -> None:
        with self._lock:
            self.jobs.sync(self.schedule, datetime.now(UTC), skip=self._fired.__contains__)

    def _heartbeat(self) -> None:
        state.touch_alive(self.station.layout.state_dir)
        players = self.station.players.values()
        on_air = [f"{p.zone + ': ' if p.zone else ''}{now['title']}" for p in players if (now := p.now_playing())]
        log.info(
            "Nhịp tim: đang chạy %s; %s; hàng chờ %d; %s.",
            fmt.duration(time.time() - self.started_at),
            f"đang phát {', '.join(on_air)}" if on_air else "không phát",
            sum(len(p.queued()) for p in players),
            self._next_text(),
        )
        for r in self.receivers.lost():
            log.warning("Cụm loa %s (vùng %s): %s.", r["name"], r["zone"] or "?", r["state_vi"])

    # -- hot reload -------------------------------------------------------------------
    def _on_files_changed(self, paths: set[Path]) -> None:
        names = {p.name for p in paths}
        shown = ", ".join(sorted(names))
        result = load_schedule(self.options.schedule_path)
        if not result.ok:
            errors = [str(d) for d in result.errors]
            for e in errors:
                log.error("%s", e)
            log.error("Sửa đổi (%s) bị TỪ CHỐI: lịch cũ vẫn tiếp tục phát. Sửa các lỗi trên rồi lưu lại.", shown)
            self.watch.reload_result(False, f"sửa đổi ({shown}) bị từ chối: {errors[0] if errors else ''}")
            self.last_reload = {
                "ok": False,
                "at": _now_iso(),
                "errors": errors,
                "message": "sửa đổi bị từ chối, lịch cũ vẫn phát",
            }
            return
        for w in result.warnings:
            log.warning("%s", w)
        assert result.schedule is not None  # result.ok
        with self._lock:
            old, self.schedule = self.schedule, result.schedule
            self.station.reload_speech(self.schedule, names)
            if not old.zones and not self.schedule.zones:
                self._apply_output(old.output, self.schedule.output)
            new = self.schedule
            if (old.api, old.state_path, old.zones, old.alerts, old.power) != (
                new.api,
                new.state_path,
                new.zones,
                new.alerts,
                new.power,
            ):
                log.warning(
                    "Thay đổi 'api', 'state_dir', 'zones', 'alerts' hoặc 'power' chỉ có hiệu lực sau khi khởi động lại."
                )
            diff = self.jobs.sync(self.schedule, datetime.now(UTC), skip=self._fired.__contains__)
        self.last_reload = {"ok": True, "at": _now_iso(), "message": f"đã nạp lại ({shown}): {diff}"}
        self.watch.reload_result(True, "")
        self._audit_edits(paths)
        log.info("Đã nạp lại lịch (%s): %s. %s.", shown, diff, self._next_text())
        if self.options.prerender:
            self._prerender_in_background()

    def _prerender_in_background(self) -> None:
        schedule = self.schedule
        threading.Thread(target=self.station.prerender, args=(schedule,), name="prerender", daemon=True).start()

    def _audit_edits(self, paths: set[Path]) -> None:
        """An edit made by hand in the files, in the audit trail: the schedule with its diff."""
        from broadcaster.schedule.versions import VersionStore

        text = _read_text(self.options.schedule_path)
        if text != self._schedule_text:
            if not VersionStore.of(self.station.layout).saved_here(text):  # console saves audit themselves
                diff = difflib.unified_diff(
                    self._schedule_text.splitlines(), text.splitlines(), "trước", "sau", lineterm="", n=1
                )
                self.station.audit(
                    who="sửa trực tiếp trong tệp",
                    where="tệp lịch",
                    action="schedule_edit",
                    detail={"diff": list(diff)[:200]},
                )
            self._schedule_text = text
        scripts = sorted(p.name for p in paths if p.parent == self.station.layout.scripts_dir)
        if scripts:
            self.station.audit(
                who="sửa trực tiếp trong tệp", where="scripts_vi", action="script_edit", detail={"files": scripts}
            )

    def _apply_output(self, old: Output, new: Output) -> None:
        """A changed ``output`` applies without a restart (unless the command line chose it)."""
        opts, player = self.options, self.station.player
        device_changed = new.device != old.device
        if device_changed and opts.output is not None:
            log.warning(
                "Đầu ra đã được chọn bằng --output khi khởi động (%s): bỏ qua 'output.device' trong lịch.",
                opts.output,
            )
            device_changed = False
        if device_changed or (new.monitor, new.dead_air_seconds) != (old.monitor, old.dead_air_seconds):
            spec = opts.output if opts.output is not None else new.device
            try:
                sink = self.station.open_output(MAIN_OUTPUT, spec)
            except StationError as exc:
                log.error("Không đổi được đầu ra âm thanh: %s. Vẫn dùng đầu ra cũ (%s).", exc, player.sink.name)
            else:
                player.use_sink(sink)
                heard = f", đầu nghe kiểm tra {new.monitor}" if new.monitor else ""
                log.info("Đổi đầu ra âm thanh: %s%s (áp dụng từ lượt phát tiếp theo).", sink.name, heard)
        if new.grace_minutes != old.grace_minutes:
            if opts.grace_minutes is not None:
                log.warning(
                    "Thời gian cho phép phát muộn đã được chọn khi khởi động (%g phút): bỏ qua "
                    "'output.grace_minutes' trong lịch.",
                    opts.grace_minutes,
                )
            else:
                self.station.set_grace(new.grace_minutes * 60)
                self.jobs.set_misfire_grace(self.station.grace_seconds)
                log.info("Đổi thời gian cho phép phát muộn: %g phút.", new.grace_minutes)

    # -- control API ------------------------------------------------------------------
    def announce(self, a: Announcement, where: str = "api") -> Accepted:
        try:
            req = make_request(self.schedule, **a.model_dump())  # the body's fields are its arguments
        except AdhocRefused as exc:
            raise ApiError(400, str(exc)) from None
        held = self.station.admit(req)
        if held is not None:
            self._log_unapproved(req, held)
            raise ApiError(403, f"Chưa phát: {held}. Người duyệt xem bằng 'broadcaster approve --pending'.")
        self.station.audit(
            who=req.by or "người vận hành", where=where, action=adhoc_action(req), detail=adhoc_detail(req)
        )
        chosen = zones.targets(self.station.players, req.zones)
        busy = any(p.now_playing() for p in chosen)
        zones.submit(self.station.players, req)
        self.watch.adhoc_submitted(len(chosen))
        ahead = max((len([r for r in p.queued() if r.sort_key() < req.sort_key()]) for p in chosen), default=0)
        player = chosen[0] if chosen else self.station.player
        if req.priority is Priority.EMERGENCY:
            msg = "KHẨN CẤP: cắt bản tin đang phát và phát ngay." if busy else "KHẨN CẤP: đang phát ngay."
        elif busy or ahead:
            msg = f"Đã xếp hàng ({req.priority.vi}): phát sau bản tin đang phát và {ahead} bản tin đang chờ."
        else:
            msg = "Đang phát ngay."
        missing = output_missing(player.sink.describe())
        if missing:
            msg += (
                f" CẢNH BÁO: {missing[0].lower()}{missing[1:]} — bản tin có thể không phát được; "
                "xem 'broadcaster status'."
            )
        if req.zones:
            msg += f" Vùng: {', '.join(req.zones)}."
        log.info("Yêu cầu phát ngay #%d (%s) từ %s: %s", req.id, req.priority.vi, req.by, req.items[0].label)
        return Accepted(id=req.id, title=req.title, priority=req.priority.label, position=ahead, message=msg)

    def _log_unapproved(self, req: Request, reason: str) -> None:
        assert self.station.asrun is not None
        self.station.asrun.record(**Player.row_fields(req), status=Outcome.UNAPPROVED, error=reason)
        log.warning("CHƯA DUYỆT %s: %s", req.key, reason)

    def stop_current(self, by: str, where: str = "api") -> dict[str, Any] | None:
        """Cut what is on air in every zone; the first cut broadcast is returned."""
        cut = [s for p in self.station.players.values() if (s := p.stop_current(by))]
        stopped = cut[0] if cut else None
        self.station.audit(
            who=by,
            where=where,
            action="stop",
            detail={"title": stopped["title"], "key": stopped["key"]} if stopped else None,
        )
        return stopped

    def cancel(self, request_id: int, where: str = "api") -> dict[str, Any] | None:
        cancelled = [r for p in self.station.players.values() if (r := p.cancel(request_id))]
        req = cancelled[0] if cancelled else None
        if req is not None:
            self.station.audit(
                who="người vận hành", where=where, action="cancel", detail={"title": req.title, "key": req.key}
            )
        return req.describe() if req else None

    def status(self) -> StatusSnapshot:
        return snapshot(self)

    def metrics_text(self) -> tuple[bytes, str]:
        """Prometheus' text format (``GET /metrics``)."""
        return self.watch.metrics.render()

    def receiver_heartbeat(self, body: dict[str, Any], address: str | None = None) -> dict[str, Any]:
        """A receiver box reports (``broadcaster receive``): remember it, say which zone it feeds."""
        was_lost = {r["name"] for r in self.receivers.lost()}
        known = self.receivers.names()
        receiver = self.receivers.heartbeat(body, self.schedule, address)
        if receiver.name in was_lost and receiver.state == "playing":
            log.info("Cụm loa %s (vùng %s) đã kết nối lại.", receiver.name, receiver.zone or "?")
        if receiver.name not in known:
            log.info("Cụm loa mới báo về: %s, nhận %s (vùng %s).", receiver.name, receiver.url, receiver.zone or "?")
        if receiver.zone is None and receiver.name not in known:
            log.warning("Cụm loa %s báo nhận %s — không thuộc vùng nào trong lịch.", receiver.name, receiver.url)
        if receiver.zone is not None:
            for piece in self.receivers.new_proofs(receiver.name, body):
                self._receiver_proof(receiver.zone, receiver.name, piece)
        return {"ok": True, "zone": receiver.zone}

    def _receiver_proof(self, zone: str, name: str, piece: dict[str, Any]) -> None:
        """What a receiver's monitor heard of one programme: into the zone's as-run row, and alerts."""
        from broadcaster.asrun import AsRunError

        assert self.station.asrun is not None  # a daemon's station has its log
        try:
            at = datetime.fromisoformat(str(piece["started_at"])).timestamp()
            row = self.station.asrun.receiver_proof(zone, name, piece)
        except (AsRunError, ValueError, KeyError, TypeError) as exc:
            log.warning("Không ghi được kết quả nghe của cụm loa %s: %s", name, exc)
            self.receivers.taken(name, piece)
            return
        if row is None and time.time() - at < 120:
            return  # its row may not be written yet: offered again with the next heartbeat
        self.receivers.taken(name, piece)
        self.watch.receiver_proof(zone, name, piece, row)
        if row is not None and row["first_verdict"]:
            self.watch.metrics.checked(zone, bool(row["heard"]))
        if row is not None and row["status"] != row["was"]:
            log.warning("Vùng %s: '%s' → %s theo báo cáo của các cụm loa.", zone, row["title"], row["status"])

    # -- messages ---------------------------------------------------------------------
    def _say_window(self) -> None:
        c = self.schedule.campaign
        today = datetime.now(c.timezone).date()
        if today < c.start:
            log.warning(
                "Chưa đến thời gian chiến dịch (bắt đầu %s): đang chờ; vẫn nhận lệnh phát ngay.", fmt.day(c.start)
            )
        elif today > c.end:
            log.warning(
                "Chiến dịch đã kết thúc ngày %s: không còn lượt phát theo lịch; vẫn nhận lệnh phát ngay.",
                fmt.day(c.end),
            )

    def _next_text(self) -> str:
        nxt = self.jobs.upcoming(1)
        if not nxt:
            return "không còn lượt phát nào theo lịch"
        b = nxt[0]
        return f"lượt tiếp theo {b.at.strftime('%H:%M:%S %d/%m/%Y')} ({b.slot})"


def _request_for(b: Broadcast) -> Request:
    return Request(
        key=b.key,
        title=b.slot,
        items=b.items,
        priority=b.priority,
        source=Source.SCHEDULE,
        slot=b.slot,
        planned_at=b.at,
        repeat=b.repeat,
        gap_seconds=b.gap_seconds,
        chime=b.chime,
        zones=b.zones,
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _now_iso() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")

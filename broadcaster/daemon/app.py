"""The daemon's lifecycle: start the parts in order, stop them in reverse.

Order of start: schedule → as-run log (recover a crash) → speech renderer → output sink →
playout worker → catch up on what passed while we were down → scheduler jobs → file
watcher → control API → background pre-render. Each part has one job; this module only
wires them together and answers the control API.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from broadcaster.adhoc import AdhocRefused, make_request
from broadcaster.asrun import AsRunLog, final_outcomes
from broadcaster.daemon import state
from broadcaster.daemon.api import Accepted, Announcement, ApiError
from broadcaster.daemon.jobs import JobSync
from broadcaster.daemon.watch import ScheduleWatcher
from broadcaster.playout.player import Player, Request
from broadcaster.playout.sinks import SinkError, open_sink
from broadcaster.programme import build_programme, item_text, load_levelled, speech_items
from broadcaster.speech.audio import CHIME_LUFS
from broadcaster.schedule.load import load_schedule
from broadcaster.schedule.model import Broadcast, Output, Priority, Schedule
from broadcaster.schedule.plan import plan_broadcasts
from broadcaster.speech.normalize import load_abbreviations
from broadcaster.speech.render import SpeechRenderer, cache_dir_for

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
    def __init__(self, options: DaemonOptions) -> None:
        self.options = options
        self.schedule: Schedule | None = None
        self.started_at = time.time()
        self.last_reload: dict = {}
        self._fired: set[str] = set()
        self._lock = threading.RLock()
        self._server = None
        self._server_thread: threading.Thread | None = None
        self.api_port: int | None = None

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        opts = self.options
        result = load_schedule(opts.schedule_path)
        if not result.ok:
            raise StartError("\n".join(str(d) for d in result.errors))
        for w in result.warnings:
            log.warning("%s", w)
        schedule = self.schedule = result.schedule
        base = schedule.base_dir
        self.state_dir = schedule.state_path
        self.state_dir.mkdir(parents=True, exist_ok=True)

        self.asrun = AsRunLog(self.state_dir / "asrun.sqlite3")
        recovered = self.asrun.recover()
        if recovered:
            log.warning("Lần chạy trước dừng đột ngột: %d lượt phát đang dở được ghi là 'bị ngắt'.", recovered)

        self.renderer = SpeechRenderer(cache_dir_for(schedule), schedule.defaults.voice, self._abbreviations(base))
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="render")
        device = opts.output if opts.output is not None else schedule.output.device
        sink = open_sink(device)
        grace_minutes = opts.grace_minutes if opts.grace_minutes is not None else schedule.output.grace_minutes
        self.grace_seconds = grace_minutes * 60
        self.player = Player(
            sink=sink, asrun=self.asrun, build_programme=self._build_programme, grace_seconds=self.grace_seconds
        )

        tz = schedule.campaign.timezone
        self.scheduler = BackgroundScheduler(
            timezone=tz,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": int(self.grace_seconds) or 1},
        )
        self.jobs = JobSync(
            self.scheduler, self._fire, lead_seconds=opts.lead_seconds, misfire_grace_seconds=self.grace_seconds
        )
        self.player.start()
        self._catch_up()
        diff = self.jobs.sync(schedule, datetime.now(timezone.utc), skip=self._fired.__contains__)
        self.scheduler.add_job(self._extend_horizon, "interval", minutes=30, id="horizon", coalesce=True)
        self.scheduler.add_job(self._heartbeat, "interval", minutes=opts.heartbeat_minutes, id="heartbeat")
        self.scheduler.add_job(lambda: state.touch_alive(self.state_dir), "interval", seconds=30, id="alive")
        self.scheduler.start()
        state.touch_alive(self.state_dir)
        self.last_reload = {"ok": True, "at": _now_iso(), "message": f"nạp lịch lúc khởi động: {diff}"}

        self.watcher = ScheduleWatcher(opts.schedule_path, base / "scripts_vi", self._on_files_changed)
        self.watcher.start()
        self._start_api()
        self._say_window()
        log.info("Loa xã sẵn sàng: %s; đầu ra %s; %d lượt phát đã lên lịch (%s).",
                 schedule.campaign.name, sink.name, diff.added, self._next_text())
        if opts.prerender:
            threading.Thread(target=self._prerender, name="prerender", daemon=True).start()

    def stop(self) -> None:
        log.info("Đang dừng Loa xã…")
        for step in (
            lambda: self.watcher.stop(),
            lambda: self.scheduler.shutdown(wait=False),
            self._stop_api,
            lambda: self.player.shutdown(),
            lambda: self.executor.shutdown(wait=False, cancel_futures=True),
            lambda: state.touch_alive(self.state_dir),
            lambda: state.clear_daemon_info(self.state_dir),
            lambda: self.asrun.close(),
        ):
            try:
                step()
            except AttributeError:
                pass  # that part never started
            except Exception:  # noqa: BLE001 - keep stopping the rest
                log.exception("lỗi khi dừng")
        log.info("Loa xã đã dừng.")

    # -- scheduling -------------------------------------------------------------------
    def _fire(self, b: Broadcast) -> None:
        """APScheduler job: tiny on purpose — it only enqueues."""
        with self._lock:
            if b.key in self._fired:
                return
            self._fired.add(b.key)
        self.player.submit(_request_for(b))

    def _catch_up(self) -> None:
        """Broadcasts that passed while the daemon was down: late start within grace, else ``missed``."""
        schedule = self.schedule
        tz = schedule.campaign.timezone
        now = datetime.now(timezone.utc)
        alive = state.last_alive(self.state_dir)
        since = (
            datetime.fromtimestamp(alive, timezone.utc)
            if alive
            else datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        )
        since = max(since, now - timedelta(days=7))
        past = [b for b in plan_broadcasts(schedule, since.astimezone(tz).date(), now.astimezone(tz).date())
                if since - timedelta(seconds=self.grace_seconds) <= b.at <= now]
        if not past:
            return
        settled = self.asrun.settled_keys([b.key for b in past])
        interrupted = {r.key for r in self.asrun.rows(start=since.astimezone(tz).date(), tz=tz) if r.status == "interrupted"}
        for b in past:
            if b.key in settled:
                continue
            late = (now - b.at).total_seconds()
            with self._lock:
                self._fired.add(b.key)
            if late <= self.grace_seconds:
                log.warning("Phát muộn %s (trễ %.0f giây, trong thời gian cho phép).", b.key, late)
                self.player.submit(_request_for(b))
            elif b.key not in interrupted:
                reason = f"phần mềm không chạy lúc đến giờ (trễ {_duration_vi(late)} khi khởi động lại)"
                self.asrun.record(key=b.key, planned_at=b.at, source="schedule", slot=b.slot, title=b.slot,
                                  items=[i.label for i in b.items], priority=b.priority.label,
                                  status="missed", error=reason)
                log.warning("BỎ LỠ %s: %s", b.key, reason)

    def _extend_horizon(self) -> None:
        with self._lock:
            self.jobs.sync(self.schedule, datetime.now(timezone.utc), skip=self._fired.__contains__)

    def _heartbeat(self) -> None:
        state.touch_alive(self.state_dir)
        now = self.player.now_playing()
        log.info("Nhịp tim: đang chạy %s; %s; hàng chờ %d; %s.",
                 _duration_vi(time.time() - self.started_at),
                 f"đang phát {now['title']}" if now else "không phát",
                 len(self.player.queued()), self._next_text())

    # -- hot reload -------------------------------------------------------------------
    def _on_files_changed(self, paths: set[Path]) -> None:
        names = ", ".join(sorted(p.name for p in paths))
        result = load_schedule(self.options.schedule_path)
        if not result.ok:
            errors = [str(d) for d in result.errors]
            for e in errors:
                log.error("%s", e)
            log.error("Sửa đổi (%s) bị TỪ CHỐI: lịch cũ vẫn tiếp tục phát. Sửa các lỗi trên rồi lưu lại.", names)
            self.last_reload = {"ok": False, "at": _now_iso(), "errors": errors,
                                "message": "sửa đổi bị từ chối, lịch cũ vẫn phát"}
            return
        for w in result.warnings:
            log.warning("%s", w)
        with self._lock:
            old, self.schedule = self.schedule, result.schedule
            if old.defaults.voice != self.schedule.defaults.voice:
                self.renderer = SpeechRenderer(cache_dir_for(self.schedule), self.schedule.defaults.voice,
                                               self._abbreviations(self.schedule.base_dir))
                log.info("Đổi giọng đọc: %s.", ", ".join(self.schedule.defaults.voice))
            elif any(p.name == "abbreviations.yaml" for p in paths):
                self.renderer.abbreviations = self._abbreviations(self.schedule.base_dir)
            self._apply_output(old.output, self.schedule.output)
            if (old.api, old.state_path) != (self.schedule.api, self.schedule.state_path):
                log.warning("Thay đổi 'api' hoặc 'state_dir' chỉ có hiệu lực sau khi khởi động lại phần mềm.")
            diff = self.jobs.sync(self.schedule, datetime.now(timezone.utc), skip=self._fired.__contains__)
        self.last_reload = {"ok": True, "at": _now_iso(), "message": f"đã nạp lại ({names}): {diff}"}
        log.info("Đã nạp lại lịch (%s): %s. %s.", names, diff, self._next_text())
        if self.options.prerender:
            threading.Thread(target=self._prerender, name="prerender", daemon=True).start()

    def _apply_output(self, old: Output, new: Output) -> None:
        """A changed ``output`` applies without a restart (unless the command line chose it)."""
        opts = self.options
        if new.device != old.device:
            if opts.output is not None:
                log.warning("Đầu ra đã được chọn bằng --output khi khởi động (%s): bỏ qua 'output.device' trong lịch.",
                            opts.output)
            else:
                try:
                    sink = open_sink(new.device)
                except SinkError as exc:
                    log.error("Không đổi được đầu ra âm thanh: %s. Vẫn dùng đầu ra cũ (%s).", exc,
                              self.player.sink.name)
                else:
                    self.player.use_sink(sink)
                    log.info("Đổi đầu ra âm thanh: %s (áp dụng từ lượt phát tiếp theo).", sink.name)
        if new.grace_minutes != old.grace_minutes:
            if opts.grace_minutes is not None:
                log.warning("Thời gian cho phép phát muộn đã được chọn khi khởi động (%g phút): bỏ qua "
                            "'output.grace_minutes' trong lịch.", opts.grace_minutes)
            else:
                self.grace_seconds = self.player.grace_seconds = new.grace_minutes * 60
                self.jobs.set_misfire_grace(self.grace_seconds)
                log.info("Đổi thời gian cho phép phát muộn: %g phút.", new.grace_minutes)

    def _abbreviations(self, base: Path) -> dict:
        extra = base / "scripts_vi" / "abbreviations.yaml"
        try:
            return load_abbreviations(extra if extra.is_file() else None)
        except ValueError as exc:
            log.error("%s — dùng danh sách viết tắt có sẵn.", exc)
            return load_abbreviations(None)

    # -- speech -----------------------------------------------------------------------
    def _prerender(self) -> None:
        """Render every script and text the schedule uses, so air time never waits on TTS.

        The chimes go first, so the first ad-hoc announcement finds its chime levelled.
        """
        chimes = {self.schedule.defaults.chime, *(slot.chime for slot in self.schedule.slots)}
        for chime in filter(None, chimes):
            try:
                load_levelled(chime, CHIME_LUFS)
            except Exception as exc:  # noqa: BLE001 - reported again, with the broadcast, at air time
                log.error("Không chuẩn bị được nhạc hiệu %s: %s", chime, exc)
        items = speech_items(self.schedule)  # the same set `broadcaster render` prepares
        done = fallback = 0
        for item in items:
            try:
                r = self.renderer.render(item_text(item))
                done += 1
                fallback += bool(r.fallback)
            except Exception as exc:  # noqa: BLE001 - tried again at air time
                log.error("Không tạo được giọng đọc cho %s: %s", item.label, exc)
        _release_freed_memory()
        note = f", {fallback} bằng giọng ngoại tuyến (mất mạng?)" if fallback else ""
        log.info("Đã chuẩn bị sẵn giọng đọc cho %d/%d nội dung%s.", done, len(items), note)

    def _build_programme(self, req: Request):
        deadline = None
        if req.source == "adhoc":
            # The chime plays while speech renders: the online voice gets until the chime
            # ends, otherwise the offline voice speaks (see README, "Phát ngay").
            deadline = ADHOC_ONLINE_DEADLINE_S
        return build_programme(
            req.items,
            renderer=self.renderer,
            chime=req.chime,
            repeat=req.repeat,
            gap_seconds=req.gap_seconds,
            title=req.title,
            executor=self.executor,
            offline=req.offline,
            deadline=deadline,
        )

    # -- control API ------------------------------------------------------------------
    def announce(self, a: Announcement) -> Accepted:
        try:
            req = make_request(self.schedule, text=a.text, script=a.script, audio=a.audio, priority=a.priority,
                               repeat=a.repeat, chime=a.chime, by=a.by)
        except AdhocRefused as exc:
            raise ApiError(400, str(exc)) from None
        busy = self.player.now_playing()
        self.player.submit(req)
        ahead = len([r for r in self.player.queued() if r.sort_key() < req.sort_key()])
        if req.priority is Priority.EMERGENCY:
            msg = "KHẨN CẤP: cắt bản tin đang phát và phát ngay." if busy else "KHẨN CẤP: đang phát ngay."
        elif busy or ahead:
            msg = f"Đã xếp hàng ({req.priority.vi}): phát sau bản tin đang phát và {ahead} bản tin đang chờ."
        else:
            msg = "Đang phát ngay."
        missing = _output_missing(self.player.sink.describe())
        if missing:
            msg += (f" CẢNH BÁO: {missing[0].lower()}{missing[1:]} — bản tin có thể không phát được; "
                    "xem 'broadcaster status'.")
        log.info("Yêu cầu phát ngay #%d (%s) từ %s: %s", req.id, req.priority.vi, req.by, req.items[0].label)
        return Accepted(id=req.id, title=req.title, priority=req.priority.label, position=ahead, message=msg)

    def stop_current(self, by: str) -> dict | None:
        return self.player.stop_current(by)

    def cancel(self, request_id: int) -> dict | None:
        req = self.player.cancel(request_id)
        return req.describe() if req else None

    def status(self) -> dict:
        schedule = self.schedule
        tz = schedule.campaign.timezone
        today = datetime.now(tz).date()
        output, last, engines = self.player.sink.describe(), self.player.last_result, self.renderer.health()
        return {
            "now_playing": self.player.now_playing(),
            "queue": [r.describe() for r in self.player.queued()],
            "next": [{"at": b.at.isoformat(), "slot": b.slot, "priority": b.priority.label,
                      "items": [i.label for i in b.items]} for b in self.jobs.upcoming(5)],
            "output": output,
            "last_result": last,
            "last_reload": self.last_reload,
            "engines": engines,
            "today": self._today(tz, today),
            "alerts": _alerts(output, last, self.last_reload, engines),
            "adhoc_voice_rule": (
                f"Phát ngay: giọng trực tuyến nếu tạo xong trong {ADHOC_ONLINE_DEADLINE_S:g} giây (trong lúc phát nhạc hiệu), "
                "nếu không dùng giọng ngoại tuyến; khẩn cấp luôn dùng giọng ngoại tuyến; nội dung đã có sẵn thì dùng bản có sẵn."
            ),
            "campaign": {"name": schedule.campaign.name, "timezone": str(tz),
                         "start": schedule.campaign.start.isoformat(), "end": schedule.campaign.end.isoformat(),
                         "in_window": schedule.campaign.start <= today <= schedule.campaign.end},
            "schedule": str(self.options.schedule_path),
            "uptime_s": round(time.time() - self.started_at, 1),
            "pid": __import__("os").getpid(),
        }

    def _today(self, tz, today) -> dict:
        """Today's broadcasts by outcome, counted as the report counts them (a replayed one once)."""
        try:
            rows = self.asrun.rows(day=today, tz=tz)
        except Exception as exc:  # noqa: BLE001 - status must answer even if the log cannot be read
            log.warning("Không đọc được nhật ký phát cho trạng thái: %s", exc)
            return {}
        return dict(Counter(r.status for r in final_outcomes(rows).values()))

    def _start_api(self) -> None:
        import uvicorn

        from broadcaster.daemon.api import create_app

        schedule = self.schedule
        host = self.options.api_host or schedule.api.host
        port = self.options.api_port if self.options.api_port is not None else schedule.api.port
        if host not in ("127.0.0.1", "localhost", "::1") and not self.options.allow_remote:
            raise StartError(
                f"API điều khiển chỉ được mở trên máy này (127.0.0.1), không phải '{host}'. "
                "Nếu thật sự cần, chạy lại với --allow-remote (không khuyến khích)."
            )
        if host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("CẢNH BÁO: API điều khiển mở trên %s — máy khác trong mạng có thể gửi lệnh nếu có mã.", host)
        token = state.ensure_token(self.state_dir)
        config = uvicorn.Config(create_app(self, token), host=host, port=port, log_level="warning",
                                lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(target=self._server.run, name="api", daemon=True)
        self._server_thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._server_thread.is_alive() or time.monotonic() > deadline:
                raise StartError(
                    f"Không mở được API điều khiển ở {host}:{port} (cổng đang bị chương trình khác dùng?). "
                    "Đổi 'api: port:' trong schedule.yaml hoặc dùng --port."
                )
            time.sleep(0.01)
        self.api_port = self._server.servers[0].sockets[0].getsockname()[1]
        state.write_daemon_info(self.state_dir, host, self.api_port)
        log.info("API điều khiển: http://%s:%d (mã truy cập trong %s)", host, self.api_port, self.state_dir / state.TOKEN_FILE)

    def _stop_api(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=5)

    # -- messages ---------------------------------------------------------------------
    def _say_window(self) -> None:
        c = self.schedule.campaign
        today = datetime.now(c.timezone).date()
        if today < c.start:
            log.warning("Chưa đến thời gian chiến dịch (bắt đầu %s): đang chờ; vẫn nhận lệnh phát ngay.",
                        c.start.strftime("%d/%m/%Y"))
        elif today > c.end:
            log.warning("Chiến dịch đã kết thúc ngày %s: không còn lượt phát theo lịch; vẫn nhận lệnh phát ngay.",
                        c.end.strftime("%d/%m/%Y"))

    def _next_text(self) -> str:
        nxt = self.jobs.upcoming(1)
        if not nxt:
            return "không còn lượt phát nào theo lịch"
        b = nxt[0]
        return f"lượt tiếp theo {b.at.strftime('%H:%M:%S %d/%m/%Y')} ({b.slot})"


ADHOC_ONLINE_DEADLINE_S = 1.5


def _output_missing(output: dict) -> str | None:
    """'Chưa tìm thấy …' when the sound card was not found at its last lookup."""
    if output.get("kind") != "sounddevice" or output.get("index") is not None:
        return None
    device = output.get("device")
    return "Chưa tìm thấy loa (thiết bị âm thanh mặc định)" if device in (None, "") else \
        f"Chưa tìm thấy thiết bị âm thanh '{device}'"


def _alerts(output: dict, last: dict | None, reload: dict, engines: dict) -> list[str]:
    """What needs the operator now, in Vietnamese, each with what to do next."""
    alerts = []
    missing = _output_missing(output)
    if missing:
        alerts.append(f"{missing}: kiểm tra card âm thanh, dây nối amply, rồi chạy 'broadcaster devices' và "
                      "'broadcaster test-tone'.")
    if last and last.get("status") == "failed":
        alerts.append(f"Lượt phát gần nhất ({last.get('title') or last.get('key')}) KHÔNG phát được: "
                      f"{last.get('error') or 'không rõ lý do'}")
    if reload and reload.get("ok") is False:
        alerts.append("Bản sửa lịch gần nhất bị TỪ CHỐI, lịch cũ vẫn đang phát: sửa các lỗi ghi bên dưới rồi lưu lại.")
    if engines and all(h.get("reachable") is False for h in engines.values()):
        alerts.append(f"Không giọng đọc nào dùng được ({', '.join(engines)}): bản tin mới sẽ không đọc được. "
                      "Kiểm tra kết nối Internet (gtts) và espeak-ng đã cài; 'broadcaster render' báo lỗi chi tiết.")
    return alerts


def _release_freed_memory() -> None:
    """Hand the heap that rendering freed back to the OS (glibc keeps it otherwise).

    Levelling a long text briefly needs a few large buffers; without a trim the idle daemon
    stays at its render-time peak for days.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _request_for(b: Broadcast) -> Request:
    return Request(
        key=b.key, title=b.slot, items=b.items, priority=b.priority, source="schedule", slot=b.slot,
        planned_at=b.at, repeat=b.repeat, gap_seconds=b.gap_seconds, chime=b.chime,
    )


def _now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def _duration_vi(seconds: float) -> str:
    h, rem = divmod(int(seconds), 3600)
    return f"{h} giờ {rem // 60} phút" if h else f"{rem // 60} phút {rem % 60} giây"

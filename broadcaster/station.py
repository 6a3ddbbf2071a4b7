"""The station: everything a playout needs, opened in order and closed in reverse.

One composition root for the daemon, for ``say``/``play`` when no daemon runs, and for
``rehearse``: layout → speech renderer → render pool → as-run log → outputs (one player per
output). Each part is entered on an :class:`~contextlib.ExitStack`, so a part that fails to
open closes the ones already open, and :meth:`Station.close` stops them newest first.

The station owns one :class:`~broadcaster.events.EventBus` (``station.events``), shared by every
player: alerting, metrics and ``say`` without a daemon subscribe to it by event type.

Outputs are a mapping name → player so that zones (several outputs, each with its own worker
and queue) slot in without another composition root; a schedule without zones has one output,
:data:`MAIN_OUTPUT`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC
from typing import TYPE_CHECKING, Any

from broadcaster.events import EventBus
from broadcaster.layout import Layout
from broadcaster.records import Source

if TYPE_CHECKING:
    from broadcaster.asrun import AsRunLog
    from broadcaster.playout.player import Player, Request
    from broadcaster.playout.sink import Sink
    from broadcaster.programme import Programme
    from broadcaster.schedule.model import Schedule
    from broadcaster.speech.normalize import Lexicon
    from broadcaster.speech.render import SpeechRenderer

log = logging.getLogger("broadcaster.station")

MAIN_OUTPUT = "main"

#: Ad-hoc announcements: the chime plays while speech renders; the online voice gets until the
#: chime ends, otherwise the offline voice speaks (README, "Phát ngay").
ADHOC_ONLINE_DEADLINE_S = 1.5


def zone_outputs(schedule: Schedule, override: str | int | None = None) -> dict[str, Any]:
    """Output name → sink spec: one per zone, or the one ``output.device`` of a zoneless schedule.

    ``override`` (``--output``) replaces the sound card of every card zone; ``wav:DIR`` gives each
    zone its own folder, so practice runs keep the zones apart.
    """
    from dataclasses import replace

    if not schedule.zones:
        return {MAIN_OUTPUT: override if override is not None else schedule.output.device}
    out: dict[str, Any] = {}
    for name, zone in schedule.zones.items():
        if override is not None and zone.icecast is None:
            spec = (
                f"{override.rstrip('/')}/{name}"
                if isinstance(override, str) and override.startswith("wav:")
                else override
            )
            zone = replace(zone, device=spec)
        out[name] = zone
    return out


class StationError(Exception):
    """A part of the station cannot open; ``str()`` is a Vietnamese message for the operator."""


class Station:
    """Layout, renderer, render pool, as-run log and players of one schedule.

    ``outputs`` maps an output name to a sink spec (``None`` = default sound card, a device name
    or index, ``"null"``, ``"wav:DIR"``). With no outputs (``rehearse``) only the speech side opens.
    """

    def __init__(
        self,
        schedule: Schedule,
        *,
        outputs: dict[str, Any] | None = None,
        grace_seconds: float | None = None,
        on_alert: Callable[[str, str, str, dict[str, Any]], None] | None = None,
        render_workers: int = 2,
    ) -> None:
        self.schedule = schedule
        self.layout = Layout.of(schedule)
        self._outputs = dict(outputs or {})
        self.grace_seconds = grace_seconds if grace_seconds is not None else schedule.output.grace_minutes * 60
        #: what the players say happened to each broadcast (typed events, subscription by type)
        self.events = EventBus()
        #: (kind, key, Vietnamese message, detail): dead air heard while a broadcast runs, and the like
        self._on_alert = on_alert
        self._render_workers = render_workers
        self._stack = ExitStack()
        self.renderer: SpeechRenderer
        self.executor: ThreadPoolExecutor
        self.asrun: AsRunLog | None = None
        self.players: dict[str, Player] = {}

    # -- lifecycle ------------------------------------------------------------------------
    def open(self) -> Station:
        """Open every part; on failure close what was opened and raise :class:`StationError`."""
        with ExitStack() as stack:
            self.renderer = make_renderer(self.schedule)
            self.executor = ThreadPoolExecutor(max_workers=self._render_workers, thread_name_prefix="render")
            stack.callback(self.executor.shutdown, wait=False, cancel_futures=True)
            if self._outputs:
                self.asrun = self._open_asrun(stack)
                for name, spec in self._outputs.items():
                    self.players[name] = self._open_player(stack, name, spec)
            self._stack = stack.pop_all()
        return self

    def close(self) -> None:
        """Stop players, close the as-run log and the render pool (newest first)."""
        self._stack.close()

    def __enter__(self) -> Station:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open_asrun(self, stack: ExitStack) -> AsRunLog:
        from broadcaster.asrun import AsRunError, AsRunLog

        self.layout.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            asrun = AsRunLog(self.layout.asrun_db)
        except AsRunError as exc:
            raise StationError(str(exc)) from None
        stack.callback(asrun.close)
        return asrun

    def _open_player(self, stack: ExitStack, name: str, spec: Any) -> Player:
        assert self.asrun is not None  # opened before the players
        from broadcaster.playout.player import Player

        sink = self._open_sink(name, spec)
        player = Player(
            sink=sink,
            asrun=self.asrun,
            build_programme=self.build_programme,
            grace_seconds=self.grace_seconds,
            events=self.events,
            admit=self.admit,
            zone=name if self.schedule.zones else None,
        )
        player.start()
        stack.callback(player.shutdown)
        return player

    def open_output(self, name: str, spec: Any) -> Sink:
        """A fresh output ``name`` for ``spec``, with its monitor as the current schedule says.

        Raises :class:`StationError` when a zoneless schedule's one output cannot open.
        """
        return self._open_sink(name, spec)

    def _open_sink(self, name: str, spec: Any) -> Sink:
        """A zone's output; a zone that cannot open gets an output that says why at air time.

        One zone's broken output (Icecast password missing, bad device) must not keep the
        other zones off the air, so only the one output of a zoneless schedule is fatal.
        """
        from broadcaster.schedule.model import Zone

        if isinstance(spec, Zone):
            monitor = spec.monitor
        else:
            monitor = None if self.schedule.zones else self.schedule.output.monitor
        sink = self._open_output(name, spec)
        return self._monitored(name, sink, monitor) if monitor else sink

    def _open_output(self, name: str, spec: Any) -> Sink:
        from broadcaster.playout.sinks import SinkError, UnavailableSink, open_sink
        from broadcaster.schedule.model import Zone

        try:
            if not isinstance(spec, Zone):
                return open_sink(spec)
            if spec.icecast is None:
                return open_sink(spec.output)
            from broadcaster.zones.icecast import IcecastSink
            from broadcaster.zones.secrets import ZoneConfigError, source_password

            try:
                password = source_password(self.layout)
            except ZoneConfigError as exc:
                raise SinkError(str(exc)) from None
            return IcecastSink(spec.icecast, password, name=name, send_ahead_s=spec.delay_ms / 1000)
        except SinkError as exc:
            if not self.schedule.zones:
                raise StationError(str(exc)) from None
            log.error("Vùng %s: không mở được đầu ra (%s). Các vùng khác vẫn phát.", name, exc)
            return UnavailableSink(f"vùng {name}", str(exc))

    def _monitored(self, name: str, sink: Sink, device: str) -> Sink:
        """The output with its monitor listening: proof that each broadcast was heard.

        A monitor that cannot open is logged and the output plays unmonitored (heard = None):
        proof of play must never keep a broadcast off the air.
        """
        from broadcaster.proof.capture import MonitorCapture
        from broadcaster.proof.monitored import MonitoredSink

        def on_alert(kind: str, detail: dict[str, Any]) -> None:
            if self._on_alert is not None:
                where = f"vùng {name}" if self.schedule.zones else "loa"
                self._on_alert(kind, name, f"{where}: {detail.get('message') or kind}", detail)

        try:
            return MonitoredSink(
                sink, MonitorCapture(device), dead_air_s=self.schedule.output.dead_air_seconds, on_alert=on_alert
            )
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.error("Không mở được đầu nghe kiểm tra '%s' (%s): vẫn phát, nhưng không kiểm tra được.", device, exc)
            return sink

    # -- what the parts share ---------------------------------------------------------------
    @property
    def player(self) -> Player:
        """The player of the main (or only) output."""
        return self.players[MAIN_OUTPUT] if MAIN_OUTPUT in self.players else next(iter(self.players.values()))

    def build_programme(self, req: Request) -> Programme:
        """Chime + items + repeats for one request, speech rendering on the pool."""
        from broadcaster.programme import build_programme

        deadline = ADHOC_ONLINE_DEADLINE_S if req.source == Source.ADHOC else None
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

    def audit(self, *, who: str, where: str, action: str, detail: Any = None) -> None:
        """Append to the audit trail; a failure is logged, never raised (the broadcast matters more)."""
        from broadcaster import audit

        try:
            audit.append(self.layout.audit_log, who=who, where=where, action=action, detail=detail)
        except Exception as exc:  # noqa: BLE001 - a full disk must not stop an emergency
            log.error("Không ghi được nhật ký thao tác (%s): %s", self.layout.audit_log, exc)

    def admit(self, req: Request) -> str | None:
        """Approval at the moment a broadcast's turn comes: None to air, else why it is held.

        Only with ``policy.require_approval``. Emergencies are never held: they air and are
        flagged for review. Approvals are read from disk each time, so an approval given a
        second ago counts, and restarts or reloads lose nothing.
        """
        if not self.schedule.policy.require_approval:
            return None
        from datetime import datetime

        from broadcaster.approval import ApprovalStore, gate

        try:
            store = ApprovalStore.open(self.layout.state_dir)
            decision = gate(req.items, req.priority, self.schedule, store)
            if decision.review:
                store.flag_for_review(req.key, req.title, req.items, aired_at=datetime.now(UTC), requested_by=req.by)
                log.warning("KHẨN CẤP phát khi chưa duyệt: %s — đã đưa vào danh sách xem lại.", req.title)
            if decision.hold and req.source == Source.ADHOC:
                for missing in decision.missing:
                    store.note_waiting(missing.subject, req.by)
        except Exception as exc:  # noqa: BLE001 - a damaged approvals file holds all but emergencies
            if req.priority.label == "emergency":
                log.error("Không đọc được tệp duyệt nội dung (%s): vẫn phát bản tin khẩn cấp.", exc)
                return None
            return f"không đọc được tệp duyệt nội dung ({exc}) — kiểm tra thư mục state/"
        return decision.reason if decision.hold else None

    def prerender(self, schedule: Schedule) -> None:
        """Render every script and text the schedule uses, so air time never waits on TTS.

        The chimes go first, so the first ad-hoc announcement finds its chime levelled.
        """
        from broadcaster.programme import item_text, load_levelled, speech_items
        from broadcaster.speech.audio import CHIME_LUFS

        chimes = {schedule.defaults.chime, *(slot.chime for slot in schedule.slots)}
        for chime in filter(None, chimes):
            try:
                load_levelled(chime, CHIME_LUFS)
            except Exception as exc:  # noqa: BLE001 - reported again, with the broadcast, at air time
                log.error("Không chuẩn bị được nhạc hiệu %s: %s", chime, exc)
        items = speech_items(schedule)  # the same set `broadcaster render` prepares
        renderer = self.renderer
        done = fallback = 0
        for item in items:
            try:
                fallback += renderer.prepare(item_text(item))
                done += 1
            except Exception as exc:  # noqa: BLE001 - tried again at air time
                log.error("Không tạo được giọng đọc cho %s: %s", item.label, exc)
        _release_freed_memory()
        note = f", {fallback} bằng giọng ngoại tuyến (mất mạng?)" if fallback else ""
        log.info("Đã chuẩn bị sẵn giọng đọc cho %d/%d nội dung%s.", done, len(items), note)

    def set_grace(self, seconds: float) -> None:
        self.grace_seconds = seconds
        for player in self.players.values():
            player.grace_seconds = seconds

    def reload_speech(self, schedule: Schedule, changed_names: set[str]) -> None:
        """Apply a reloaded schedule's voice chain and the operator's word lists."""
        old, self.schedule = self.schedule, schedule
        if old.defaults.voice != schedule.defaults.voice:
            self.renderer = make_renderer(schedule)
            log.info("Đổi giọng đọc: %s.", ", ".join(schedule.defaults.voice))
        elif changed_names & {self.layout.abbreviations.name, self.layout.pronunciations.name}:
            self.renderer.abbreviations = load_operator_words(self.layout)


def load_operator_words(layout: Layout, *, strict: bool = False) -> Lexicon:
    """Built-in abbreviations and pronunciations, with the operator's files over them.

    Bad entries are skipped (the good ones still apply) and raise ValueError (Vietnamese) when
    ``strict`` (``render``, ``rehearse``: the operator is there to fix them); otherwise they are
    logged, because a typo in a word list must never keep an announcement off the air.
    ``broadcaster check`` reports them with their line.
    """
    from broadcaster.speech.normalize import load_lexicon

    lexicon = load_lexicon(layout.scripts_dir)
    if lexicon.issues and strict:
        raise ValueError("\n".join(str(issue) for issue in lexicon.issues))
    for issue in lexicon.issues:
        log.error("%s — mục này bị bỏ qua.", issue)
    return lexicon


def make_renderer(schedule: Schedule, *, strict: bool = False) -> SpeechRenderer:
    """The one way to build the speech renderer: the schedule's voices, cache and word lists."""
    from broadcaster.speech.render import SpeechRenderer

    layout = Layout.of(schedule)
    return SpeechRenderer(layout.cache_dir, schedule.defaults.voice, load_operator_words(layout, strict=strict))


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

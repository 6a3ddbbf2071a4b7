"""A sound card through PortAudio (ALSA, PulseAudio/PipeWire via ALSA), with a watchdog.

The stream is opened shortly before ``start_at`` and fed silence; the callback (``stream``)
starts the programme at the frame PortAudio says will be heard at ``start_at``. A stalled or
dead device is detected by a watchdog (no callback for a while, or the stream stopping by
itself) and reported as a ``SinkError`` within about two seconds; the next ``play()``
re-initialises PortAudio, because PortAudio reads the device list only once.

The start error written to the as-run log is *measured* (:mod:`broadcaster.playout.monitor`)
where a sound server sits between PortAudio and the card, because PortAudio's DAC time does
not see the server's queue; on a direct hardware device the DAC time is the driver's own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from broadcaster.playout.devices import HINT_DEVICES, Device, devices_unlocked, find_device
from broadcaster.playout.host import PortAudioHost
from broadcaster.playout.monitor import MonitorProbe
from broadcaster.playout.sink import METHOD_DAC, METHOD_MONITOR, PlayResult, Sink, SinkError, wait_until
from broadcaster.playout.stream import Feeder, Playback

log = logging.getLogger("broadcaster.playout")

# Open the sound card this long before start_at: enough for PortAudio/PulseAudio to settle.
PREROLL_SECONDS = 1.0
# No callback for this long (or the stream stopping by itself) means the device is gone.
WATCHDOG_SECONDS = 1.5
MAX_WATCHDOG_SECONDS = 5.0
# Closing a stream on a dead server can block forever; give up on it after this long.
CLOSE_TIMEOUT = 2.0
FAILED_CLOSE_TIMEOUT = 0.4
# A fixed output latency: the device buffer PortAudio asks for, in seconds (never "high"/"low",
# which let the host pick and change it). It does not move *when* the programme is heard (the
# start is placed by DAC time), only how much CPU hiccup the stream survives on a busy machine.
LATENCY_SECONDS = 0.1
# Devices that reach the card through a sound server (its queue is invisible to PortAudio).
SERVER_DEVICES = ("default", "pulse", "pipewire", "sysdefault")


class SoundDeviceSink(Sink):
    """A sound card through PortAudio, chosen by index or name substring (None: the default)."""

    def __init__(
        self,
        device: str | int | None = None,
        rate: int = 48000,
        latency: float = LATENCY_SECONDS,
        channels: int = 2,
        *,
        host: PortAudioHost | None = None,
        measure: bool = True,
        monitor_source: str | None = None,
    ):
        self.device_spec = device
        self.rate = rate
        self.latency = float(latency)
        self.channels = channels
        self.measure = measure  # measure the start at the sound server's monitor when there is one
        # The monitor nearest the loudspeaker (default: that of the sink the stream plays to);
        # set it when the server forwards the sink further (loopback, combine, network).
        self.monitor_source = monitor_source
        self.host = host or PortAudioHost.shared()
        self.plays = 0
        self.failures = 0
        # A missing card at start-up is not fatal: the daemon must run and keep trying at
        # every broadcast (each failure logged), so the device is looked up again in play().
        self._device: Device | None = None
        self.name = f"{device if device is not None else 'loa mặc định'} (chưa tìm thấy)"
        try:
            self.host.sd  # noqa: B018 - a missing PortAudio is reported (as a warning) here
            self._device = self.host.call(
                lambda: find_device(device, devices_unlocked(self.host), self.host), "find-device"
            )
            self.name = f"{self._device['name']} ({self._device['hostapi']})"
        except SinkError as exc:
            log.warning("%s", exc)

    def describe(self) -> dict[str, Any]:
        """Name, device, rate, fixed latency and counters, for status."""
        return {
            "name": self.name,
            "kind": "sounddevice",
            "device": self.device_spec,
            "index": self._device["index"] if self._device else None,
            "rate": self.rate,
            "latency": self.latency,
            "plays": self.plays,
            "failures": self.failures,
        }

    def _prepare_unlocked(self, rate: int) -> int:
        """Find the device again (indices change after re-initialisation); return the rate to open at."""
        sd = self.host.sd
        self._device = find_device(self.device_spec, devices_unlocked(self.host), self.host)
        self.name = f"{self._device['name']} ({self._device['hostapi']})"
        try:
            sd.check_output_settings(
                device=self._device["index"], samplerate=rate, dtype="float32", channels=self._channels()
            )
            return rate
        except sd.PortAudioError:
            dev_rate = int(self._device["default_samplerate"])
            log.warning("Thiết bị '%s' không hỗ trợ %d Hz; phát ở %d Hz", self.name, rate, dev_rate)
            return dev_rate

    def _channels(self) -> int:
        return max(1, min(self.channels, self._device["channels"] if self._device else self.channels))

    def _open_unlocked(self, state: Playback) -> Any:
        assert self._device is not None
        stream = self.host.sd.OutputStream(
            device=self._device["index"],
            samplerate=state.rate,
            channels=state.channels,
            dtype="float32",
            latency=self.latency,
            blocksize=max(64, state.rate // 100),  # 10 ms callbacks: little Python work per second
            callback=state.callback,
        )
        state.latency = float(stream.latency)
        try:
            stream.start()
        except BaseException:
            stream.close(ignore_errors=True)
            raise
        return stream

    def _through_server(self) -> bool:
        return self._device is not None and str(self._device["name"]).casefold() in SERVER_DEVICES

    def play(
        self,
        blocks: Iterable[np.ndarray],
        *,
        rate: int,
        start_at: float | None,
        stop: threading.Event,
        label: str = "",
    ) -> PlayResult:
        """Play the programme so its first sample is heard at ``start_at``; measure when it was."""
        self.host.sd  # noqa: B018 - a missing PortAudio is a SinkError before anything else
        if start_at is not None and start_at - time.time() > PREROLL_SECONDS:
            if not wait_until(start_at - PREROLL_SECONDS, stop):
                return PlayResult(completed=False, seconds=0.0, started_at=None)
        try:
            dev_rate = self.host.call(lambda: self._prepare_unlocked(rate), "find-device")
        except SinkError:
            self.failures += 1
            raise
        probe = _StartProbe.begin(self.measure and start_at is not None, self._through_server(), self.monitor_source)
        feeder = Feeder(blocks, rate, stop, dev_rate)
        state = Playback(feeder, dev_rate, self._channels(), start_at, stop)
        try:
            stream = self._open(state, feeder, probe)
            self.plays += 1
            probe.watch(state, start_at)
            self._run(stream, state)
        finally:
            probe.end()
        if feeder.error is not None:
            raise feeder.error
        self._warn(state, label)
        completed = not state.stopped and feeder.drained()
        seconds = state.frames / dev_rate
        if completed and state.started_at is not None and seconds > 2.0:
            self._check_realtime(state.started_at, seconds)
        error_ms, method = probe.result(state, start_at)
        heard = state.started_at
        if method == METHOD_MONITOR and start_at is not None and error_ms is not None:
            heard = start_at + error_ms / 1000  # what the server really did, not what PortAudio assumed
        return PlayResult(completed, seconds, heard, error_ms, method)

    def _open(self, state: Playback, feeder: Feeder, probe: _StartProbe) -> Any:
        try:
            return self.host.call(lambda: self._open_unlocked(state), "open-stream")
        except Exception as exc:  # noqa: BLE001 - PortAudioError, an ALSA failure or a hung server
            feeder.cancel()
            probe.end()
            self.host.mark_dirty()
            self.failures += 1
            if isinstance(exc, SinkError):
                raise
            raise SinkError(f"Không mở được thiết bị âm thanh '{self.name}'. {HINT_DEVICES}", str(exc)) from exc

    def _run(self, stream: Any, state: Playback) -> None:
        try:
            self._supervise(stream, state)
        except SinkError:
            state.feeder.cancel()
            self.failures += 1
            self.host.mark_dirty()
            self._close(stream, FAILED_CLOSE_TIMEOUT)
            raise
        state.feeder.cancel()
        self._close(stream, CLOSE_TIMEOUT)

    def _warn(self, state: Playback, label: str) -> None:
        if state.gaps:
            log.warning("'%s': %d lần chương trình chưa sẵn sàng, đã chèn khoảng lặng", label or "phát", state.gaps)
        if state.underflows:
            log.warning("'%s': %d lần thiếu dữ liệu (underflow) trên thiết bị", self.name, state.underflows)

    def _check_realtime(self, started_at: float, seconds: float) -> None:
        # A device that swallows audio faster than real time (a sound server gone and its
        # client running free) has not played anything: never log that as 'played'.
        took = time.time() - started_at
        if took < 0.5 * seconds:
            self.failures += 1
            self.host.mark_dirty()
            raise SinkError(
                f"Thiết bị âm thanh '{self.name}' không phát theo thời gian thực "
                f"({seconds:.0f} giây âm thanh trôi qua trong {took:.1f} giây): có thể dịch vụ âm thanh đã dừng. "
                f"{HINT_DEVICES}",
                "consumed faster than real time",
            )

    def _lost(self, state: Playback, stream: Any, where: str) -> SinkError:
        silent = time.monotonic() - state.last_callback
        return SinkError(
            f"Mất kết nối với thiết bị âm thanh '{self.name}' {where} (card âm thanh bị rút, "
            f"amply/loa mất kết nối hoặc dịch vụ âm thanh bị tắt). {HINT_DEVICES} "
            "Lần phát sau sẽ tự thử kết nối lại.",
            f"no audio callback for {silent:.1f} s, stream active={stream.active}",
        )

    def _supervise(self, stream: Any, state: Playback) -> None:
        """Wait until the programme has been heard; raise SinkError if the device dies meanwhile."""
        # Bounded: a device reporting an absurd latency must not make the watchdog blind.
        watchdog = min(MAX_WATCHDOG_SECONDS, max(WATCHDOG_SECONDS, 4 * state.latency))
        ready_since: float | None = None  # wall time the programme's first samples were queued

        def dead() -> bool:
            return time.monotonic() - state.last_callback > watchdog or not stream.active

        while not state.finished.wait(0.05):
            if state.feeder.error is not None and state.started_at is None:
                return  # nothing audible yet; play() re-raises the programme's error
            if dead():
                raise self._lost(state, stream, "khi đang phát")
            # Callbacks that keep coming while the start never happens mean the device clock
            # is frozen (a stalled sound server): fail now, never wait on it forever.
            if state.started_at is None and (state.feeder.has_data() or state.feeder.exhausted):
                now = time.time()
                ready_since = ready_since or now
                if now - max(ready_since, state.start_at or 0.0) > watchdog:
                    raise self._lost(state, stream, "lúc bắt đầu (đồng hồ thiết bị âm thanh không chạy)")
        if state.error is not None:
            raise SinkError(f"Lỗi khi phát trên '{self.name}'.", repr(state.error))
        # The last sample is still in the device's buffer: wait until it has been heard.
        if state.end_at is not None:
            deadline = time.monotonic() + min(max(0.0, state.end_at - time.time()), 10.0) + 0.02
            while time.monotonic() < deadline:
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
                if dead():
                    raise self._lost(state, stream, "ở cuối bản tin")

    def _close(self, stream: Any, timeout: float) -> None:
        def close() -> None:
            stream.abort(ignore_errors=True)
            stream.close(ignore_errors=True)

        try:
            self.host.call(close, "close-stream", timeout)
        except SinkError as exc:  # a stuck close must not hang the player; the next play() reports it
            self.host.mark_dirty()
            log.warning("Không đóng được luồng âm thanh: %s", exc.detail)


class _StartProbe:
    """Measures one start: at the sound server's monitor, or by DAC time on direct hardware."""

    # After the expected onset, record this much more before looking for it.
    AFTER = 0.3

    def __init__(self, monitor: MonitorProbe | None, method: str | None, why_not: str | None):
        self.monitor = monitor
        self.method = method
        self.why_not = why_not
        self.onset: float | None = None
        self.expected: float | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def begin(cls, wanted: bool, through_server: bool, source: str | None = None) -> _StartProbe:
        """Start measuring (the monitor recording begins now, before the stream opens)."""
        if not wanted:
            return cls(None, None, None)
        if not through_server:
            return cls(None, METHOD_DAC, None)
        if not MonitorProbe.available():
            return cls(None, None, "không có 'parec' (gói pulseaudio-utils) để đo tại loa")
        monitor = MonitorProbe(source)
        if not monitor.start():
            return cls(None, None, monitor.why_not)
        return cls(monitor, METHOD_MONITOR, None)

    def watch(self, state: Playback, start_at: float | None) -> None:
        """Find the onset on a side thread once the programme's first loud sample has been heard."""
        if self.monitor is not None and start_at is not None:
            self._thread = threading.Thread(target=self._find, args=(state,), name="start-probe-find", daemon=True)
            self._thread.start()

    def _find(self, state: Playback) -> None:
        monitor = self.monitor
        assert monitor is not None
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline and not state.finished.is_set():
            if state.started_at is not None and state.feeder.first_loud is not None:
                break
            time.sleep(0.02)
        first_loud = state.feeder.first_loud
        if state.started_at is None or first_loud is None:
            monitor.why_not = "chương trình chưa có âm thanh nào để đo"
            return
        self.expected = state.started_at + first_loud / state.rate
        monitor.wait_until_recorded(self.expected + self.AFTER, timeout=self.AFTER + 2.0)
        heard = monitor.onset_after(self.expected - self.AFTER, self.expected + self.AFTER)
        if heard is not None:
            self.onset = heard - first_loud / state.rate  # when the programme's first sample was heard

    def end(self) -> None:
        """Stop recording (waits briefly for the onset search)."""
        if self._thread is not None:
            self._thread.join(timeout=self.AFTER + 3.0)
        if self.monitor is not None:
            self.monitor.stop()

    def result(self, state: Playback, start_at: float | None) -> tuple[float | None, str | None]:
        """(start error in ms, method), or (None, None) with the reason logged."""
        if start_at is None or state.started_at is None or self.method is None:
            if start_at is not None and state.started_at is not None:
                log.info("  lệch giờ phát: không đo được — %s", self.why_not or "không rõ lý do")
            return None, None
        if self.method == METHOD_DAC:
            return round((state.started_at - start_at) * 1000, 2), METHOD_DAC
        if self.onset is None:
            why = (self.monitor.why_not if self.monitor else None) or "không tìm thấy lúc bắt đầu trên monitor"
            log.info("  lệch giờ phát: không đo được tại loa — %s", why)
            return None, None
        return round((self.onset - start_at) * 1000, 2), METHOD_MONITOR

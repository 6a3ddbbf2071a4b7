"""A Sink that proves each broadcast was heard: any output + a monitor input.

``MonitoredSink.play()`` forwards the programme to the inner sink unchanged and, on the side,
records the monitor from just before the start until the programme ends + ``max_delay_s``,
then compares the two (:func:`~broadcaster.proof.analyze.analyze`) and returns the inner
``PlayResult`` with ``proof`` filled in. While the broadcast runs, a watcher thread checks the
last few seconds every ``CHECK_EVERY`` s and calls ``on_alert("dead_air", …)`` when the
loudspeakers have been silent (or only humming) for ``dead_air_s`` — the operator can react
while the broadcast still runs.

The monitor must never cost the broadcast anything: the capture starts on its own thread (the
programme does not wait for it), every monitor error becomes ``proof.heard = None`` with a
Vietnamese note, and the inner sink's result and errors pass through untouched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from broadcaster.fmt import decimal
from broadcaster.playout.sink import PlayResult, Sink, as_mono
from broadcaster.proof.analyze import Proof, analyze, failed_proof, ongoing_dead_air
from broadcaster.proof.capture import CaptureError, MonitorCapture

log = logging.getLogger("broadcaster.proof")

AlertCallback = Callable[[str, dict[str, Any]], None]

CHECK_EVERY = 0.25  # s between live dead-air checks
LIVE_EXTRA_S = 3.0  # a live check looks at dead_air_s plus this much of the programme
PRE_ROLL_S = 1.5  # start recording this long before the programme (the card opens 1 s before)
UNKNOWN_START_SLACK_S = 1.0  # without start_at the card's own start-up delay is unknown at first


def alert_message(kind: str, detail: dict[str, Any]) -> str:
    """The Vietnamese text of a monitor alert (``dead_air`` or ``monitor_failed``)."""
    label = detail.get("label") or "bản tin"
    if kind == "dead_air":
        what = "chỉ còn tiếng ù/nhiễu" if detail.get("kind") == "hum" else "im lặng"
        seconds, at_s = decimal(float(detail.get("seconds") or 0), 1), decimal(float(detail.get("at_s") or 0), 1)
        return f"{what} đã {seconds} giây, từ giây {at_s} của '{label}' (bản tin vẫn đang phát)"
    if kind == "monitor_failed":
        return f"không ghi được đầu nghe kiểm tra khi phát '{label}': {detail.get('error')}"
    return kind


class _Tee:
    """Passes blocks through and keeps a mono copy of everything handed to the inner sink."""

    def __init__(self, blocks: Iterable[np.ndarray]):
        self._blocks = blocks
        self._lock = threading.Lock()
        self._parts: list[np.ndarray] = []
        self.frames = 0
        self.first_at: float | None = None  # wall time the output took the first block

    def __iter__(self) -> Iterator[np.ndarray]:
        for block in self._blocks:
            mono = as_mono(block)
            if self.first_at is None:
                self.first_at = time.time()
            with self._lock:
                self._parts.append(mono.copy())
                self.frames += len(mono)
            yield block

    def segment(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` of what was sent so far (shorter if not sent yet)."""
        with self._lock:
            parts = list(self._parts)
        out: list[np.ndarray] = []
        pos = 0
        for part in parts:
            a, b = max(start - pos, 0), min(stop - pos, len(part))
            if a < b:
                out.append(part[a:b])
            pos += len(part)
            if pos >= stop:
                break
        return np.concatenate(out) if out else np.zeros(0, np.float32)


class _Watch:
    """One broadcast's monitor: starts the capture, watches it live, and stops it."""

    def __init__(self, sink: MonitoredSink, tee: _Tee, rate: int, ref: float, slack: float, label: str):
        self.sink = sink
        self.tee = tee
        self.rate = rate
        self.ref = ref  # expected wall time of the programme's first sample
        self.slack = slack
        self.label = label
        self.capture = sink.capture.again(rate)  # no pactl call here: this runs on the broadcast's thread
        self.error: str | None = None
        self.started = threading.Event()
        self.done = threading.Event()
        self.alerted = False
        self.thread = threading.Thread(target=self._run, name="proof-watch", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        # A broadcast booked far ahead: record only from shortly before its start.
        if self.done.wait(max(0.0, self.ref - PRE_ROLL_S - time.time())):
            self.error = "chương trình dừng trước khi bắt đầu ghi đầu vào theo dõi"
            self.started.set()
            return
        try:
            self.capture.start()
        except CaptureError as exc:
            self.error = str(exc)
            self.sink.alert("monitor_failed", {"label": self.label, "error": self.error})
            return
        except Exception as exc:  # noqa: BLE001 - a monitor bug must not reach the broadcast
            log.exception("Đầu vào theo dõi lỗi")
            self.error = f"lỗi không mong đợi ({exc})"
            return
        finally:
            self.started.set()
        while not self.done.wait(CHECK_EVERY):
            try:
                self._check()
            except Exception:  # noqa: BLE001 - a failed live check only loses that check
                log.exception("Kiểm tra mất tiếng khi đang phát bị lỗi")

    def _check(self) -> None:
        """Dead air still going on in the newest seconds heard? Then alert (once per episode)."""
        sink, rate, taken = self.sink, self.rate, self.tee.first_at
        if taken is None:
            return  # the output has not started
        # A broadcast that starts late (queued behind another, a catch-up) starts when the output
        # takes its first block, not at the time it was booked for: the card's start-up is then unknown.
        ref, slack = (self.ref, self.slack) if taken <= self.ref else (taken, max(self.slack, UNKNOWN_START_SLACK_S))
        late = sink.max_delay_s + slack
        until = self.capture.recorded_until()
        if until is None:
            return
        # Only what the monitor has already delivered (parec lags under load): a stretch of the
        # programme without its capture yet would look like silence.
        newest = min(self.tee.frames, int((min(time.time() - 0.05, until) - ref - late) * rate))
        first = max(0, newest - int((sink.dead_air_s + LIVE_EXTRA_S) * rate))
        if newest - first < int(sink.dead_air_s * rate):
            return
        got = self.capture.since(ref + first / rate - 0.2)
        if got is None:
            return
        captured, t_first = got
        sent = self.tee.segment(first, newest)
        try:
            found = ongoing_dead_air(
                sent,
                captured,
                rate,
                sent_offset_s=ref + first / rate - t_first,
                max_delay_s=late,
                dead_air_s=sink.dead_air_s,
            )
        except ValueError:
            return  # this stretch cannot tell: the episode (alerted or not) goes on as it was
        if found is None:
            self.alerted = False  # sound is back: a new dead-air episode may alert again
            return
        if not self.alerted:
            self.alerted = True
            at = round(first / rate + found.at_s, 2)
            sink.alert("dead_air", {"label": self.label, "at_s": at, "seconds": found.seconds, "kind": found.kind})

    def abort(self) -> None:
        """Stop watching without waiting (the broadcast failed or never started)."""
        self.done.set()
        threading.Thread(target=self._stop_later, name="proof-stop", daemon=True).start()

    def _stop_later(self) -> None:
        self.started.wait(3.0)
        self.capture.stop()

    def finish(self, ref: float, seconds: float) -> tuple[np.ndarray, float] | None:
        """Record until the programme's end + max delay, stop; the capture or None (see ``error``)."""
        self.done.set()
        if not self.started.wait(3.0):
            self.error = self.error or "đầu vào theo dõi không khởi động được"
        self.thread.join(timeout=2.0)
        if self.error is None:
            end = ref + seconds + self.sink.max_delay_s + 0.05
            self.capture.wait_until_recorded(end, timeout=max(0.0, end - time.time()) + 1.0)
        samples, t0 = self.capture.stop()
        if self.error is not None:
            return None
        if self.capture.failed and not len(samples):
            self.error = self.capture.failed
            return None
        return samples, t0


class MonitoredSink(Sink):
    """Any Sink plus a monitor input; ``play()`` returns the inner result with ``proof`` filled in.

    ``on_alert(kind, detail)`` is called from a background thread: ``"dead_air"`` (detail:
    label, at_s into the programme, seconds so far, kind "silence"|"hum") within about
    ``dead_air_s`` + 1 s of the loudspeakers going quiet, and ``"monitor_failed"`` (label,
    error) when the monitor cannot be opened. It must not block for long.
    """

    def __init__(
        self,
        inner: Sink,
        capture: MonitorCapture,
        *,
        max_delay_s: float = 0.5,
        dead_air_s: float = 3.0,
        on_alert: AlertCallback | None = None,
    ):
        self.inner = inner
        self.capture = capture
        self.max_delay_s = max_delay_s
        self.dead_air_s = dead_air_s
        self.on_alert = on_alert
        self.name = inner.name
        self.last_proof: dict[str, Any] | None = None

    def alert(self, kind: str, detail: dict[str, Any]) -> None:
        """Call ``on_alert`` safely (its errors are logged, never raised into the broadcast).

        ``detail`` gains ``method`` and ``message``: the alert in Vietnamese, for the operator.
        """
        message = alert_message(kind, detail)
        log.warning("Cảnh báo theo dõi loa: %s", message)
        if self.on_alert is None:
            return
        try:
            self.on_alert(kind, {**detail, "method": self.capture.method, "message": message})
        except Exception:  # noqa: BLE001 - an alert channel failing must not stop the broadcast
            log.exception("Gửi cảnh báo theo dõi loa bị lỗi")

    def play(
        self,
        blocks: Iterable[np.ndarray],
        *,
        rate: int,
        start_at: float | None,
        stop: threading.Event,
        label: str = "",
    ) -> PlayResult:
        """Play on the inner sink while recording the monitor; the result carries ``proof``."""
        called = time.time()
        tee = _Tee(blocks)
        ref = start_at if start_at is not None else called
        watch = self._begin(tee, rate, ref, 0.0 if start_at is not None else UNKNOWN_START_SLACK_S, label)
        try:
            result = self.inner.play(tee, rate=rate, start_at=start_at, stop=stop, label=label)
        except BaseException:
            if watch is not None:
                watch.abort()
            raise
        result.proof = self._prove(watch, tee, rate, result, ref).to_dict()
        self.last_proof = result.proof
        return result

    def _begin(self, tee: _Tee, rate: int, ref: float, slack: float, label: str) -> _Watch | None:
        try:
            return _Watch(self, tee, rate, ref, slack, label)
        except Exception:  # noqa: BLE001 - no monitor this time; the broadcast goes on
            log.exception("Không bắt đầu được theo dõi loa")
            return None

    def _prove(self, watch: _Watch | None, tee: _Tee, rate: int, result: PlayResult, ref: float) -> Proof:
        method = self.capture.method
        if watch is None:
            return failed_proof(method, "không bắt đầu được việc ghi đầu vào theo dõi.")
        try:
            if result.started_at is None or result.seconds <= 0:
                watch.abort()
                return Proof(None, None, None, [], 0.0, method, "Chương trình chưa phát nên không có gì để kiểm tra.")
            start = result.started_at  # the output's own best figure for when the first sample was heard
            got = watch.finish(start, result.seconds)
            if got is None:
                return failed_proof(method, watch.error or "không ghi được đầu vào theo dõi.")
            samples, t0 = got
            sent = tee.segment(0, int(round(result.seconds * rate)))
            proof = analyze(
                sent,
                samples,
                rate,
                sent_offset_s=start - t0,
                max_delay_s=self.max_delay_s,
                dead_air_s=self.dead_air_s,
                method=method,
            )
            if watch.capture.failed:  # judged on what was recorded before the monitor stopped
                proof.note = f"{proof.note or ''} Lưu ý: {watch.capture.failed}.".strip()
            return proof
        except Exception as exc:  # noqa: BLE001 - the proof is optional; the broadcast happened
            log.exception("Phân tích theo dõi loa bị lỗi")
            return failed_proof(method, f"lỗi khi phân tích ({exc}).")

    def describe(self) -> dict[str, Any]:
        """The inner sink's description plus the monitor and the last proof."""
        return {
            **self.inner.describe(),
            "name": self.name,
            "monitor": self.capture.method,
            "last_proof": self.last_proof,
        }

    def close(self) -> None:
        """Close the inner sink."""
        self.inner.close()

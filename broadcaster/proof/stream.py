"""Proof of play for a continuous stream: what a zone's receiver played, heard by its own monitor.

A receiver (``broadcaster receive --monitor DEVICE``) plays one endless stream: the station's
broadcasts with silence between them. :class:`StreamProver` sits between the receiver's pacer
and its sound card: it cuts what is played into *programmes* at the silence between them
(``GAP_S``), keeps the monitor recording all the time (only the newest ``PIECE_S`` + a margin
are kept), and when a programme ends compares it with what the monitor heard
(:func:`~broadcaster.proof.analyze.analyze`, the same matching as the station's own monitor).

A programme longer than ``PIECE_S`` (a relay of the province's station) is proven in pieces of
that length, so memory stays bounded on a small receiver box: each piece is its own result,
with ``piece`` counting from 0 and ``started_at`` the wall time of its first sample. The
station matches results to its as-run rows by zone and time (see ``daemon/zones.py``).

The monitor must never cost the receiver its sound: the capture is started and analysed on a
worker thread, the tee only copies blocks, and every monitor error becomes ``heard = None``
with a Vietnamese note (and the capture is tried again for the next programme).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from broadcaster.playout.sink import as_mono
from broadcaster.proof.analyze import Proof, analyze, failed_proof
from broadcaster.proof.capture import CaptureError, MonitorCapture

log = logging.getLogger("broadcaster.proof")

SOUND_DBFS = -50.0  # a block louder than this (RMS) is programme; the station's filler is digital silence
GAP_S = 1.5  # this much silence ends a programme (broadcasts are separated by silence on the stream)
MIN_PROGRAMME_S = 1.0  # a shorter burst is not worth proving
PIECE_S = 60.0  # a longer programme is proven in pieces this long (bounded memory)
MAX_DELAY_S = 1.0  # the receiver's card latency is unknown: look this far after handing a block over
KEEP_RESULTS = 20  # results kept (and sent with each heartbeat)
RETRY_CAPTURE_S = 30.0  # a monitor that failed is tried again after this long


@dataclass
class _Programme:
    """What was handed to the card since the programme started."""

    started_at: float  # wall time the first block was handed to the card
    piece: int
    parts: list[np.ndarray]
    frames: int = 0
    silent: int = 0  # trailing silent frames


class StreamProver:
    """Tee the receiver's blocks (``tee()``); ``results()`` are the newest proofs, newest last."""

    def __init__(self, capture: MonitorCapture, rate: int, *, dead_air_s: float = 3.0):
        self.capture = capture
        self.rate = rate
        self.dead_air_s = dead_air_s
        self.method = capture.method
        self.error: str | None = None  # why the monitor does not record now (Vietnamese)
        self._results: deque[dict[str, Any]] = deque(maxlen=KEEP_RESULTS)
        self._lock = threading.Lock()
        self._now: _Programme | None = None
        self._jobs: queue.Queue[tuple[np.ndarray, float, int]] = queue.Queue(maxsize=8)
        self._closed = threading.Event()
        self._tried_at = float("-inf")
        self._worker = threading.Thread(target=self._work, name="proof-stream", daemon=True)
        self._worker.start()

    # -- the playout side (must stay cheap) -------------------------------------------------------
    def tee(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Pass ``blocks`` through unchanged, watching what is handed to the card and when."""
        try:
            for block in blocks:
                self.observe(block, time.time())
                yield block
        finally:
            self.flush()  # the session ended (stream lost, stop): prove what was played so far

    def observe(self, block: np.ndarray, handed_at: float) -> None:
        """One block handed to the card at wall time ``handed_at``."""
        mono = as_mono(block)
        loud = len(mono) > 0 and float(np.sqrt(np.mean(np.square(mono, dtype=np.float64)))) > 10 ** (SOUND_DBFS / 20)
        now = self._now
        if now is None:
            if loud:
                self._now = _Programme(handed_at, 0, [mono.copy()], len(mono))
            return
        now.parts.append(mono.copy())
        now.frames += len(mono)
        now.silent = 0 if loud else now.silent + len(mono)
        if now.silent >= GAP_S * self.rate:
            self._submit(now, keep=now.frames - now.silent)
            self._now = None
        elif now.frames >= PIECE_S * self.rate:
            self._submit(now, keep=now.frames)
            self._now = _Programme(handed_at + len(mono) / self.rate, now.piece + 1, [])

    def flush(self) -> None:
        """Prove what has been played of the current programme (the stream stopped)."""
        now, self._now = self._now, None
        if now is not None:
            self._submit(now, keep=now.frames - now.silent)

    def _submit(self, p: _Programme, keep: int) -> None:
        if keep < MIN_PROGRAMME_S * self.rate:
            return
        sent = np.concatenate(p.parts)[:keep] if p.parts else np.zeros(0, np.float32)
        try:
            self._jobs.put_nowait((sent, p.started_at, p.piece))
        except queue.Full:  # the analysis fell behind (a slow box): skip rather than grow
            log.warning("Bỏ qua kiểm tra một đoạn phát: máy thu phân tích không kịp.")

    # -- the worker: capture and analysis ----------------------------------------------------------
    def _work(self) -> None:
        while not (self._closed.is_set() and self._jobs.empty()):
            if not self._closed.is_set():
                self._ensure_capture()  # recording all the time, so a programme's start is never missed
            try:
                job = self._jobs.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self._prove(*job)
            except Exception as exc:  # noqa: BLE001 - one failed analysis loses only that result
                log.exception("Phân tích đầu nghe kiểm tra bị lỗi")
                self._keep(job[1], len(job[0]), job[2], failed_proof(self.method, f"lỗi khi phân tích ({exc})."))

    def _ensure_capture(self) -> bool:
        if self.capture.running:
            return True
        if time.monotonic() - self._tried_at < RETRY_CAPTURE_S:
            return False
        self._tried_at = time.monotonic()
        self.capture.stop()
        try:
            self.capture.start()
        except CaptureError as exc:
            if self.error != str(exc):
                log.warning("Máy thu không ghi được đầu nghe kiểm tra: %s", exc)
            self.error = str(exc)
            return False
        if self.error is not None:
            log.info("Đầu nghe kiểm tra của máy thu hoạt động trở lại.")
        self.error = None
        return True

    def _prove(self, sent: np.ndarray, started_at: float, piece: int) -> None:
        seconds = len(sent) / self.rate
        if not self._ensure_capture():
            self._keep(started_at, len(sent), piece, failed_proof(self.method, self.error or "đầu nghe không chạy."))
            return
        end = started_at + seconds + MAX_DELAY_S + 0.1
        self.capture.wait_until_recorded(end, timeout=max(0.0, end - time.time()) + 2.0)
        got = self.capture.since(started_at - 0.5)
        if got is None:
            why = self.capture.failed or "đầu nghe không ghi được gì trong lúc phát."
            self._keep(started_at, len(sent), piece, failed_proof(self.method, why))
            return
        captured, t_first = got
        proof = analyze(
            sent,
            captured,
            self.rate,
            sent_offset_s=started_at - t_first,
            max_delay_s=MAX_DELAY_S,
            dead_air_s=self.dead_air_s,
            method=self.method,
        )
        self._keep(started_at, len(sent), piece, proof)

    def _keep(self, started_at: float, frames: int, piece: int, proof: Proof) -> None:
        result = {
            "started_at": datetime.fromtimestamp(started_at, UTC).isoformat(timespec="milliseconds"),
            "seconds": round(frames / self.rate, 2),
            "piece": piece,
            **proof.to_dict(),
        }
        with self._lock:
            self._results.append(result)
        if proof.heard is False:
            log.warning("Loa của máy thu KHÔNG NGHE THẤY đoạn phát lúc %s: %s", result["started_at"], proof.note)
        elif proof.dead_air:
            log.warning("Loa của máy thu mất tiếng giữa chừng: %s", proof.note)

    # -- what the heartbeat sends ------------------------------------------------------------------
    def results(self) -> list[dict[str, Any]]:
        """The newest results, oldest first."""
        with self._lock:
            return list(self._results)

    def describe(self) -> dict[str, Any]:
        """The monitor's state for the heartbeat."""
        return {"method": self.method, "recording": self.capture.running, "error": self.error}

    def close(self) -> None:
        """Stop the worker (after the queued analyses) and the capture."""
        self._closed.set()
        self._worker.join(timeout=10.0)
        self.capture.stop()

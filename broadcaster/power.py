"""Amplifier power through a relay: on before a broadcast, off a while after the last one.

The daemon calls :meth:`PowerControl.before` at ``planned_at − lead_seconds`` for every planned
broadcast (and at once for an ad-hoc one) and :meth:`PowerControl.after` when each ends. The
amplifier goes off ``off_after_seconds`` after the last broadcast that was announced and became
due has ended — never while one announced by ``before`` is due and has not ended, so a long
broadcast following a short one is not cut by the short one's off timer.

Commands are argv lists run without a shell, one at a time on a worker thread, each bounded by
``timeout_seconds`` (the whole process group is killed on timeout). A failing or hanging relay
is logged in Vietnamese and reported through ``on_alert("power_failed", key, message)``; it never
delays the broadcast, which airs whether or not the amplifier answered.

``close()`` runs nothing by default: a daemon restart must not click the amplifier off and on
(and a restart may happen mid-broadcast). ``close(switch_off=True)`` switches off, bounded by the
timeout, for a deliberate shutdown. An amplifier left on by a crash goes off if the daemon calls
``after()`` once at start.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from broadcaster import fmt

log = logging.getLogger("broadcaster.power")

AlertFn = Callable[[str, str, str], None]  # (kind, key, message), e.g. AlertHub.raise_alert / resolve
STATE_VI = {"on": "đang bật", "off": "đang tắt", "unknown": "chưa rõ"}
ACTION_VI = {"on": "bật", "off": "tắt"}


@dataclass(frozen=True)
class PowerConfig:
    """The relay's commands (argv, no shell) and timings. No commands: power control is off."""

    on_command: list[str] | None = None
    off_command: list[str] | None = None
    lead_seconds: float = 30.0
    off_after_seconds: float = 300.0
    timeout_seconds: float = 10.0
    #: a broadcast announced by before() but never ended by after() is forgotten this long after its start
    max_broadcast_seconds: float = 3 * 3600.0

    @property
    def enabled(self) -> bool:
        return bool(self.on_command or self.off_command)

    def problems(self) -> list[str]:
        """Vietnamese descriptions of what is wrong with this configuration (empty when usable)."""
        out: list[str] = []
        for name, argv in (("on_command", self.on_command), ("off_command", self.off_command)):
            if argv is None:
                continue
            if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
                out.append(f'{name} phải là danh sách chữ, ví dụ ["/usr/local/bin/relay", "on"] (không qua shell)')
        for name in ("lead_seconds", "off_after_seconds", "timeout_seconds"):
            if getattr(self, name) < 0 or (name == "timeout_seconds" and self.timeout_seconds == 0):
                out.append(f"{name} phải là số giây dương")
        return out


class PowerControl:
    """Switches the amplifier around broadcasts without ever making a broadcast wait."""

    def __init__(
        self,
        config: PowerConfig,
        *,
        on_alert: AlertFn | None = None,
        on_resolve: AlertFn | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Start the worker thread (idle until the first ``before``/``after``)."""
        self.config = config
        self.on_alert = on_alert
        self.on_resolve = on_resolve
        self.clock = clock
        self._cond = threading.Condition()
        self._expected: list[float] = []  # planned_at of announced broadcasts not yet ended
        self._actual = "unknown"  # what the relay was last told successfully
        self._on_blocked = False  # an "on" failed: wait for the next before() to try again
        self._off_at: float | None = None
        self._busy: str | None = None
        self._closed = False
        self._last: dict[str, Any] | None = None
        self._thread = threading.Thread(target=self._run, name="power", daemon=True)
        self._thread.start()

    # -- the daemon's side ------------------------------------------------------------------
    def before(self, planned_at: float) -> None:
        """A broadcast is planned at ``planned_at``: the amplifier is (or will be) on by then. Never blocks."""
        with self._cond:
            self._expected.append(planned_at)
            self._expected.sort()
            self._on_blocked = False
            self._cond.notify_all()

    def after(self, planned_at: float | None = None) -> None:
        """A broadcast ended (the one planned at ``planned_at``, or the oldest announced). Never blocks."""
        with self._cond:
            if planned_at is not None and planned_at in self._expected:
                self._expected.remove(planned_at)
            elif self._expected:
                self._expected.pop(0)
            if not self._due_locked(self.clock()):
                self._off_at = self.clock() + self.config.off_after_seconds
            self._cond.notify_all()

    def state(self) -> dict[str, Any]:
        """For status and the console: the relay's state, a command in progress, the pending off."""
        with self._cond:
            return {
                "enabled": self.config.enabled,
                "state": self._actual,
                "state_vi": STATE_VI[self._actual],
                "busy": self._busy,
                "off_at": self._off_at,
                "expected": len(self._expected),
                "last_command": dict(self._last) if self._last else None,
            }

    def wait_idle(self, timeout: float) -> bool:
        """Wait (bounded) until no command runs and none is due now (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy or self._next_action_locked(self.clock()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def close(self, *, switch_off: bool = False) -> None:
        """Stop the worker; with ``switch_off`` run the off command once (bounded) if the amplifier may be on."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            run_off = switch_off and self._actual != "off" and self.config.off_command is not None
        self._thread.join(self.config.timeout_seconds + 2.0)
        if run_off:
            self._execute("off")

    # -- the worker -------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                action = None
                while not self._closed:
                    action = self._next_action_locked(self.clock())
                    if action:
                        break
                    self._cond.wait(self._sleep_locked(self.clock()))
                if self._closed:
                    return
                assert action is not None
                self._busy = action
                if action == "off":
                    self._off_at = None
                else:
                    self._on_blocked = True  # until it succeeds or a new before() asks again
            self._execute(action)

    def _due_locked(self, now: float) -> bool:
        """Whether an announced broadcast is due (its lead time reached); forgets stale ones."""
        horizon = now - self.config.max_broadcast_seconds
        stale = [p for p in self._expected if p < horizon]
        if stale:
            when = ", ".join(fmt.clock(fmt.station_time(p)) for p in stale)
            log.warning("Bản tin lúc %s không báo kết thúc — coi như đã xong để tăng âm được tắt", when)
            self._expected = [p for p in self._expected if p >= horizon]
            if not self._due_locked(now) and self._off_at is None:
                self._off_at = now + self.config.off_after_seconds
        return any(p - self.config.lead_seconds <= now for p in self._expected)

    def _next_action_locked(self, now: float) -> str | None:
        if self._busy:
            return None
        if self._due_locked(now):
            self._off_at = None  # another broadcast came: the pending off is cancelled
            if self._actual != "on" and not self._on_blocked:
                return "on"
            return None
        if self._off_at is not None and now >= self._off_at:
            if self._actual == "off":
                self._off_at = None
                return None
            return "off"
        return None

    def _sleep_locked(self, now: float) -> float:
        """How long the worker may sleep: until the next lead time, off time or stale horizon (≤ 1 s)."""
        wake = [p - self.config.lead_seconds for p in self._expected]
        wake += [p + self.config.max_broadcast_seconds for p in self._expected]
        if self._off_at is not None:
            wake.append(self._off_at)
        future = [w - now for w in wake if w > now]
        return max(0.001, min([1.0, *future]))  # ≤ 1 s so an injected clock is followed too

    def _execute(self, action: str) -> None:
        """Run the command for ``action``; record the result; alert on failure. Called without the lock."""
        argv = self.config.on_command if action == "on" else self.config.off_command
        started = self.clock()
        error = _run_command(argv, self.config.timeout_seconds) if argv else None
        with self._cond:
            self._busy = None
            if error is None:
                self._actual = action
                if action == "on":
                    self._on_blocked = False
            else:
                self._actual = "unknown"
            self._last = {"action": action, "at": started, "ok": error is None, "error": error}
            self._cond.notify_all()
        if error is None:
            if argv:
                log.info("Đã %s tăng âm", ACTION_VI[action])
                if self.on_resolve:
                    self.on_resolve("power_failed", action, f"Lệnh {ACTION_VI[action]} tăng âm chạy được trở lại")
            return
        message = f"Lệnh {ACTION_VI[action]} tăng âm lỗi: {error} — kiểm tra rơ-le; bản tin vẫn phát"
        log.error(message)
        if self.on_alert:
            try:
                self.on_alert("power_failed", action, message)
            except Exception:  # noqa: BLE001 — an alerting bug must not stop power control
                log.exception("power alert callback failed")


def _run_command(argv: list[str], timeout: float) -> str | None:
    """Run ``argv`` in its own process group; None on success, else a Vietnamese reason."""
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
    except OSError as exc:
        return f"không chạy được {argv[0]}: {exc.strerror or exc}"
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # the relay tool may have spawned helpers; kill them all, not just the direct child
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.communicate(timeout=2.0)
        except subprocess.TimeoutExpired:
            pass  # a helper escaped the group and holds stderr open: give up on reading it
        return f"{argv[0]} không trả lời sau {timeout:g} giây (đã dừng lệnh)"
    if proc.returncode != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
        return f"{argv[0]} thoát với mã {proc.returncode}" + (f" ({tail[0]})" if tail else "")
    return None

"""Amplifier power: a real relay script that logs its calls (argv + timestamp) to a file."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcaster.power import PowerConfig, PowerControl

RELAY = """#!/bin/sh
# a stand-in relay tool: logs "<unix time> <args>" and behaves as its first argument says
echo "$(date +%s.%N) $*" >> "{log}"
case "$1" in
  hang) sleep 30 & echo "$!" > "{log}.child"; wait ;;
  fail) echo "relay busy" >&2; exit 3 ;;
esac
"""


def poll(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


class Relay:
    def __init__(self, tmp_path: Path) -> None:
        self.log = tmp_path / "relay.log"
        self.script = tmp_path / "relay.sh"
        self.script.write_text(RELAY.format(log=self.log), encoding="utf-8")
        self.script.chmod(0o755)

    def argv(self, *args: str) -> list[str]:
        return [str(self.script), *args]

    def calls(self) -> list[tuple[float, str]]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [(float(t), rest) for t, _, rest in (line.partition(" ") for line in lines)]

    def actions(self) -> list[str]:
        return [a for _, a in self.calls()]


@pytest.fixture
def relay(tmp_path: Path) -> Relay:
    return Relay(tmp_path)


def _control(relay: Relay, on: str = "on", off: str = "off", **kw: float) -> tuple[PowerControl, list[tuple[str, ...]]]:
    alerts: list[tuple[str, ...]] = []
    timings = {"lead_seconds": 0.2, "off_after_seconds": 0.3, "timeout_seconds": 2.0, **kw}
    config = PowerConfig(on_command=relay.argv(on), off_command=relay.argv(off), **timings)
    control = PowerControl(config, on_alert=lambda *a: alerts.append(("alert", *a)))
    return control, alerts


def test_on_once_per_session_off_after_the_last_plus_delay(relay: Relay) -> None:
    control, alerts = _control(relay)
    now = time.time()
    started = time.perf_counter()
    control.before(now + 0.2)  # first broadcast: due at once (lead 0.2 s)
    control.before(now + 0.21)  # second in the same session (due at once too)
    assert time.perf_counter() - started < 0.05
    assert poll(lambda: control.state()["state"] == "on")
    assert control.wait_idle(2)
    assert relay.actions() == ["on"], "switched on once for both broadcasts"

    control.after(now + 0.2)  # the first ends while the second is due: no off is scheduled
    state = control.state()
    assert state["off_at"] is None and state["expected"] == 1 and state["state_vi"] == "đang bật"

    ended = time.time()
    control.after()  # the last ends
    assert control.state()["off_at"] is not None
    assert poll(lambda: relay.actions() == ["on", "off"])
    off_at = relay.calls()[-1][0]
    assert off_at >= ended + 0.3 - 0.02, f"off came {off_at - ended:.3f} s after the end, before the 0.3 s delay"
    assert poll(lambda: control.state()["state"] == "off")
    assert alerts == []
    control.close()


def test_a_new_broadcast_cancels_the_pending_off(relay: Relay) -> None:
    control, _ = _control(relay, off_after_seconds=1.0)  # long enough that the next before() comes first
    control.before(time.time())
    assert poll(lambda: relay.actions() == ["on"])
    control.after()
    assert control.state()["off_at"] is not None
    control.before(time.time())  # an ad-hoc one comes within the delay
    assert poll(lambda: control.state()["off_at"] is None)
    assert control.wait_idle(2) and relay.actions() == ["on"]  # no off, and no second on
    control.after()
    assert poll(lambda: relay.actions() == ["on", "off"])
    control.close()


def test_hanging_command_times_out_alerts_and_never_blocks(relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    control, alerts = _control(relay, on="hang", timeout_seconds=0.3)
    with caplog.at_level(logging.ERROR, logger="broadcaster.power"):
        control.before(time.time())
        assert poll(lambda: control.state()["busy"] == "on")
        started = time.perf_counter()
        control.before(time.time())  # the relay hangs: the daemon's calls still return at once
        control.after()
        control.state()
        assert time.perf_counter() - started < 0.05
        assert poll(lambda: bool(alerts), timeout=3.0)
    kind, key, message = alerts[0][1:]
    assert (kind, key) == ("power_failed", "on")
    assert "không trả lời sau 0.3 giây" in message and "bản tin vẫn phát" in message
    assert "Lệnh bật tăng âm lỗi" in caplog.text
    child = int((relay.log.parent / "relay.log.child").read_text())
    assert poll(lambda: _dead(child), timeout=3.0), "the relay's helper process was left running"
    assert control.state()["last_command"]["ok"] is False
    control.close()


def test_failing_command_alerts_and_is_retried_only_on_the_next_broadcast(relay: Relay) -> None:
    control, alerts = _control(relay, on="fail")
    control.before(time.time())
    assert poll(lambda: bool(alerts))
    assert "thoát với mã 3 (relay busy)" in alerts[0][3]
    assert control.wait_idle(2)
    assert relay.actions() == ["fail"] and control.state()["state"] == "unknown"  # no retry loop
    control.before(time.time())
    assert poll(lambda: relay.actions() == ["fail", "fail"]) and poll(lambda: len(alerts) == 2)
    control.close()


def test_missing_command_alerts(tmp_path: Path) -> None:
    alerts: list[tuple[str, str, str]] = []
    config = PowerConfig(on_command=[str(tmp_path / "khong-co")], lead_seconds=0.1)
    control = PowerControl(config, on_alert=lambda k, key, m: alerts.append((k, key, m)))
    control.before(time.time())
    assert poll(lambda: bool(alerts)) and "không chạy được" in alerts[0][2]
    control.close()


def test_close_runs_nothing_unless_asked(relay: Relay) -> None:
    control, _ = _control(relay)
    control.before(time.time())
    assert poll(lambda: relay.actions() == ["on"])
    control.close()
    assert relay.actions() == ["on"]  # a restart leaves the amplifier as it is
    control, _ = _control(relay)
    control.before(time.time())
    assert poll(lambda: relay.actions() == ["on", "on"])
    control.close(switch_off=True)
    assert relay.actions() == ["on", "on", "off"]


def test_without_commands_it_only_tracks() -> None:
    control = PowerControl(PowerConfig(lead_seconds=0.0, off_after_seconds=0.0))
    control.before(time.time())
    control.after()
    assert control.wait_idle(2)
    assert control.state()["enabled"] is False
    control.close()


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie (no reaper in a container) is dead too
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def test_a_broadcast_that_never_ends_is_forgotten(relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    alerts: list[tuple[str, ...]] = []
    config = PowerConfig(
        on_command=relay.argv("on"), off_command=relay.argv("off"), lead_seconds=0.1, off_after_seconds=0.1,
        max_broadcast_seconds=0.3,
    )  # fmt: skip
    control = PowerControl(config, on_alert=lambda *a: alerts.append(a))
    with caplog.at_level(logging.WARNING, logger="broadcaster.power"):
        control.before(time.time())  # the daemon never calls after() for it
        assert poll(lambda: relay.actions() == ["on", "off"])
    assert "không báo kết thúc" in caplog.text and alerts == []
    control.close()


def test_config_problems_are_vietnamese() -> None:
    assert PowerConfig(on_command=["relay", "on"], off_command=["relay", "off"]).problems() == []
    bad = PowerConfig(on_command="relay on", off_command=[], timeout_seconds=0)  # type: ignore[arg-type]
    problems = bad.problems()
    assert any("on_command phải là danh sách" in p for p in problems)
    assert any("off_command phải là danh sách" in p for p in problems)
    assert any("timeout_seconds" in p for p in problems)

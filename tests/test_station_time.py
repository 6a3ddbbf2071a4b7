"""Every instant an operator sees is in the station's time zone, whatever the PC's clock zone is.

The operator trial ran on a PC whose clock zone is UTC: log lines, WAV names, ``user list`` and
alerts showed UTC while the station is in Việt Nam. Each test here runs with ``TZ=UTC`` (in the
environment of the CLI subprocess, or ``time.tzset()`` in-process, restored afterwards), so a
time in the PC's zone is 7 hours off the station's.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_string
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from argon2 import PasswordHasher

from broadcaster import fmt
from broadcaster.alerts.channels import EmailChannel, Notice, email_body
from broadcaster.alerts.config import AlertConfig
from broadcaster.alerts.hub import AlertHub
from broadcaster.playout.sink import WavSink
from broadcaster.users import UserStore
from tests.support.harness import Project

VN = ZoneInfo("Asia/Ho_Chi_Minh")
TOKYO = ZoneInfo("Asia/Tokyo")
BROADCASTER = [sys.executable, "-m", "broadcaster.cli"]
#: 2026-12-07 23:27:00 UTC = 06:27 on 08/12 in Việt Nam (the trial's example)
TRIAL = datetime(2026, 12, 7, 23, 27, tzinfo=UTC).timestamp()
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def pc_in_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's local zone is UTC (the PC of the trial); the station zone is the default."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    fmt.set_station_zone(None)
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()
        fmt.set_station_zone(None)


def _utc_env() -> dict[str, str]:
    return {**os.environ, "TZ": "UTC"}


def _within(shown: datetime, before: datetime, after: datetime) -> bool:
    """``shown`` (whole seconds) lies between two instants taken around the event."""
    return before.replace(microsecond=0) <= shown <= after


# -- the pieces, in-process ---------------------------------------------------------------------


def test_station_time_ignores_the_pc_zone(pc_in_utc: None) -> None:
    assert fmt.station_zone() == VN
    shown = fmt.station_time(TRIAL)
    assert (fmt.day(shown), fmt.clock(shown)) == ("08/12/2026", "06:27")
    assert fmt.station_time(datetime.fromtimestamp(TRIAL, UTC)) == shown
    fmt.set_station_zone("Asia/Tokyo")
    assert fmt.clock(fmt.station_time(TRIAL)) == "08:27"
    fmt.set_station_zone(TOKYO)
    assert fmt.station_zone() == TOKYO
    fmt.set_station_zone(None)
    assert fmt.station_zone() == VN


def test_a_log_line_carries_station_time(pc_in_utc: None) -> None:
    handler = fmt.station_log_handler("%(asctime)s %(levelname)s %(message)s", "%d/%m %H:%M:%S")
    record = logging.LogRecord("broadcaster.daemon", logging.INFO, __file__, 1, "Đã nạp lịch", None, None)
    record.created, record.msecs = TRIAL, 0.0
    assert handler.format(record) == "08/12 06:27:00 INFO Đã nạp lịch"
    fmt.set_station_zone("Asia/Tokyo")  # read when the line is written: a reload takes effect at once
    assert handler.format(record).startswith("08/12 08:27:00 ")
    assert isinstance(handler.formatter, fmt.StationFormatter)
    assert fmt.StationFormatter().formatTime(record) == "2026-12-08 08:27:00,000"


def test_a_wav_practice_file_is_named_in_station_time(pc_in_utc: None, tmp_path: Path) -> None:
    sink = WavSink(tmp_path / "out")
    before = datetime.now(VN)
    sink.play([np.zeros(480, np.float32)], rate=48000, start_at=None, stop=threading.Event(), label="Thông báo")
    after = datetime.now(VN)
    assert sink.last_path is not None
    m = re.fullmatch(r"(\d{8}-\d{6})-thong-bao\.wav", sink.last_path.name)
    assert m, sink.last_path.name
    assert _within(datetime.strptime(m[1], "%Y%m%d-%H%M%S").replace(tzinfo=VN), before, after)


def test_an_alert_shows_station_time(pc_in_utc: None) -> None:
    notice = Notice("dead_air", "thon-dong", "Không nghe thấy", "Loa im lặng", "firing", 1, TRIAL, "Loa xã")
    assert "Bắt đầu lúc: 06:27 ngày 08/12/2026" in email_body(notice)
    assert notice.payload()["since"] == "2026-12-08T06:27:00+07:00"
    config = AlertConfig(email_to=["chu-tich@xa.example.vn"], email_from="loa@xa.example.vn", smtp_host="127.0.0.1")
    mail = message_from_string(EmailChannel(config, None).message(notice).as_string())
    assert parsedate_to_datetime(mail["Date"]).utcoffset() == timedelta(hours=7)
    hub = AlertHub(AlertConfig(), clock=lambda: TRIAL)
    try:
        hub.raise_alert("dead_air", "thon-dong", "Loa im lặng")
        (view,) = hub.active()
    finally:
        hub.close()
    assert view["since_iso"] == "2026-12-08T06:27:00+07:00"


# -- the CLI, as a process on a PC whose clock zone is UTC ---------------------------------------


def test_user_list_shows_last_login_in_station_time(tmp_path: Path) -> None:
    project = Project(tmp_path, chime=False)
    project.save(project.yaml_text().replace("timezone: Asia/Ho_Chi_Minh", "timezone: Asia/Tokyo"))
    store = UserStore(UserStore.open(tmp_path / "state").path, hasher=FAST)
    store.add("lan", "approver", "mat-khau-dai")
    before = datetime.now(TOKYO)
    assert store.authenticate("lan", "mat-khau-dai") is not None
    after = datetime.now(TOKYO) + timedelta(minutes=1)
    r = subprocess.run(
        [*BROADCASTER, "user", "list", "--schedule", str(project.schedule_path)],
        capture_output=True,
        text=True,
        env=_utc_env(),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    (line,) = [x for x in r.stdout.splitlines() if x.startswith("lan ")]
    m = re.search(r"(\d\d/\d\d/\d{4} \d\d:\d\d)$", line)
    assert m, line
    shown = datetime.strptime(m[1], "%d/%m/%Y %H:%M").replace(tzinfo=TOKYO)
    assert before.replace(second=0, microsecond=0) <= shown <= after, (line, before, after)


@pytest.mark.slow  # renders with espeak and plays in real time into a WAV file
def test_say_without_daemon_logs_and_names_its_wav_in_station_time(tmp_path: Path) -> None:
    project = Project(tmp_path, chime=False)
    project.save()
    out = tmp_path / "out"
    before = datetime.now(VN)
    r = subprocess.run(
        [*BROADCASTER, "say", "Thông báo thử.", "--output", f"wav:{out}", "--schedule", str(project.schedule_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_utc_env(),
        timeout=120,
    )
    after = datetime.now(VN)
    assert r.returncode == 0, r.stderr
    (wav,) = out.glob("*.wav")
    stamp = datetime.strptime(wav.name[:15], "%Y%m%d-%H%M%S").replace(tzinfo=VN)
    assert _within(stamp, before, after), wav.name
    times = re.findall(r"^(\d\d:\d\d:\d\d) ", r.stderr, re.M)
    assert times, r.stderr
    for hhmmss in times:
        shown = datetime.combine(before.date(), datetime.strptime(hhmmss, "%H:%M:%S").time(), VN)
        if shown < before - timedelta(hours=12):  # the run crossed midnight
            shown += timedelta(days=1)
        assert _within(shown, before, after), (hhmmss, r.stderr)

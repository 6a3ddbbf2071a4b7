"""Alerts: grouping, persistence, and real delivery to a local webhook receiver and SMTP server."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from broadcaster.alerts import SMTP_PASSWORD_ENV, AlertConfig, AlertHub, disk_check, smtp_password
from broadcaster.alerts.channels import Courier, Notice

FAST = (0.05, 0.1, 0.2)  # retry delays for tests


class FakeClock:
    """A settable clock, so the repeat window is tested without sleeping 30 minutes."""

    def __init__(self, t: float = 1_776_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""

    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    hits: int = 0
    hang: threading.Event | None = None  # while set-able and unset, requests hang

    def wait_for(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.bodies


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rec.hits += 1
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if rec.hang is not None:
                rec.hang.wait(10)
            status = rec.statuses.pop(0) if rec.statuses else 200
            if status == 200:
                rec.bodies.append(json.loads(body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield rec
    finally:
        if rec.hang is not None:
            rec.hang.set()
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[Any], list[tuple[str, str]]]]:
    """A real aiosmtpd server on 127.0.0.1 accepting AUTH without TLS (loopback only)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    messages: list[Any] = []
    logins: list[tuple[str, str]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            messages.append(envelope)
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"bi-mat")

    port = _free_port()
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        yield port, messages, logins
    finally:
        controller.stop()


def _hub(receiver: Receiver | None = None, clock: FakeClock | None = None, **kw: Any) -> AlertHub:
    config = AlertConfig(webhook_url=receiver.url if receiver else None, retry_delays=FAST, **kw)
    return AlertHub(config, clock=clock or FakeClock())


# -- grouping and the active list (no network) -------------------------------------------------


def test_no_channels_still_keeps_active_alerts_newest_first() -> None:
    clock = FakeClock()
    hub = _hub(clock=clock)
    hub.raise_alert("receiver_lost", "thon-1", "Cụm loa thôn 1 im lặng 2 phút")
    clock.t += 10
    hub.raise_alert("not_heard", "thon-2", "Máy thu không nghe thấy bản tin 06:30", {"zone": "thon-2"})
    hub.raise_alert("not_heard", "thon-2", "Máy thu không nghe thấy bản tin 06:30")
    active = hub.active()
    expected = [("not_heard", "thon-2", 2), ("receiver_lost", "thon-1", 1)]
    assert [(a["kind"], a["key"], a["count"]) for a in active] == expected
    assert active[0]["title"] == "Không nghe thấy"
    assert active[0]["detail"] == {"zone": "thon-2"}  # a repeat without detail keeps the last one
    assert active[1]["since"] == active[1]["last_at"] == clock.t - 10
    assert hub.resolve("receiver_lost", "thon-1", "Cụm loa thôn 1 đã kết nối lại") is True
    assert hub.resolve("receiver_lost", "thon-1", "lần nữa") is False  # not active: nothing sent
    assert hub.resolve("dead_air", "x", "chưa từng báo") is False
    assert [a["key"] for a in hub.active()] == ["thon-2"]
    states = [(r["kind"], r["state"]) for r in hub.recent(10)]
    assert states == [("receiver_lost", "resolved"), ("not_heard", "firing"), ("receiver_lost", "firing")]
    assert hub.recent(1)[0]["headline"] == "Đã khắc phục: Cụm loa mất kết nối"
    hub.close()


def test_repeat_window_and_persistence_across_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    hub = AlertHub(AlertConfig(repeat_minutes=30), state_dir=tmp_path, clock=clock)
    for _ in range(50):
        hub.raise_alert("dead_air", "loa-chinh", "Mất tiếng giữa bản tin")
    assert len(hub.recent(100)) == 1
    hub.close()

    clock.t += 29 * 60  # a restart inside the window: still active, not announced again
    hub = AlertHub(AlertConfig(repeat_minutes=30), state_dir=tmp_path, clock=clock)
    hub.raise_alert("dead_air", "loa-chinh", "Mất tiếng giữa bản tin")
    assert hub.active()[0]["count"] == 51
    assert len(hub.recent(100)) == 1
    clock.t += 61
    hub.raise_alert("dead_air", "loa-chinh", "Vẫn mất tiếng")
    assert len(hub.recent(100)) == 2 and hub.recent(1)[0]["count"] == 52
    assert hub.resolve("dead_air", "loa-chinh", "Đã có tiếng lại")
    hub.close()
    hub = AlertHub(AlertConfig(), state_dir=tmp_path, clock=clock)
    assert hub.active() == [] and hub.recent(1)[0]["state"] == "resolved"
    hub.close()


def test_corrupt_state_file_starts_fresh(tmp_path: Path) -> None:
    (tmp_path / "alerts.json").write_text("{không phải json", encoding="utf-8")
    hub = AlertHub(AlertConfig(), state_dir=tmp_path)
    assert hub.active() == []
    hub.raise_alert("disk_full", "", "Ổ đĩa còn 100 MB")
    assert json.loads((tmp_path / "alerts.json").read_text(encoding="utf-8"))["active"][0]["kind"] == "disk_full"
    hub.close()


def test_full_queue_drops_the_oldest_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    gate, entered = threading.Event(), threading.Event()
    sent: list[str] = []

    class Stuck:
        name = "stuck"

        def send(self, notice: Notice) -> None:
            entered.set()
            gate.wait(5)
            sent.append(notice.message)

    courier = Courier(Stuck(), retry_delays=(), queue_size=2)
    notices = [Notice("dead_air", "", "t", f"m{i}", "firing", 1, 0.0, "Loa xã") for i in range(5)]
    with caplog.at_level(logging.WARNING, logger="broadcaster.alerts"):
        courier.put(notices[0])
        assert entered.wait(5)  # m0 is in the channel's hands; m1..m4 compete for 2 places
        for n in notices[1:]:
            courier.put(n)
        gate.set()
        assert courier.wait_idle(5)
    assert sent == ["m0", "m3", "m4"] and courier.dropped == 2
    assert "Hàng đợi cảnh báo qua stuck đầy — bỏ cảnh báo cũ nhất: t: m1" in caplog.text
    courier.close()


# -- real delivery ----------------------------------------------------------------------------


@pytest.mark.slow
def test_webhook_receives_alert_and_recovery(receiver: Receiver) -> None:
    hub = _hub(receiver, station_name="Loa xã Tân Hòa")
    hub.raise_alert("not_heard", "thon-3", "Bản tin 06:30 không nghe thấy ở thôn 3", {"zone": "thon-3"})
    hub.resolve("not_heard", "thon-3", "Thôn 3 nghe rõ trở lại")
    assert hub.flush(5)
    bodies = receiver.wait_for(2)
    assert [b["state"] for b in bodies] == ["firing", "resolved"]
    first = bodies[0]
    assert set(first) == {"kind", "key", "title", "message", "detail", "state", "count", "since", "station"}
    assert first["title"] == "Không nghe thấy" and first["station"] == "Loa xã Tân Hòa"
    assert first["detail"] == {"zone": "thon-3"} and first["count"] == 1
    assert first["since"].startswith("2026-")  # ISO 8601 from the injected clock
    assert bodies[1]["message"] == "Thôn 3 nghe rõ trở lại"
    hub.close()


@pytest.mark.slow
def test_fifty_raises_make_one_delivery_until_the_repeat_window(receiver: Receiver) -> None:
    clock = FakeClock()
    hub = _hub(receiver, clock=clock, repeat_minutes=30)
    for i in range(50):
        hub.raise_alert("icecast_down", "thon-1", f"Không nối được Icecast (lần {i + 1})")
    assert hub.flush(5)
    assert len(receiver.wait_for(1)) == 1
    clock.t += 30 * 60
    hub.raise_alert("icecast_down", "thon-1", "Vẫn không nối được Icecast")
    assert hub.flush(5)
    bodies = receiver.wait_for(2)
    assert len(bodies) == 2 and bodies[1]["count"] == 51 and bodies[1]["message"] == "Vẫn không nối được Icecast"
    hub.close()


@pytest.mark.slow
def test_webhook_failing_twice_is_retried_and_delivered(receiver: Receiver) -> None:
    receiver.statuses = [500, 500]
    hub = _hub(receiver)
    hub.raise_alert("sound_card_gone", "loa-chinh", "Card âm thanh USB không còn")
    assert hub.flush(5)
    assert receiver.hits == 3 and len(receiver.bodies) == 1
    assert hub.couriers[0].delivered == 1 and hub.couriers[0].given_up == 0
    hub.close()


@pytest.mark.slow
def test_hanging_webhook_never_blocks_and_gives_up(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver.hang = threading.Event()
    hub = _hub(receiver, timeout_seconds=0.3)
    hub.couriers[0].retry_delays = (0.05,)
    with caplog.at_level(logging.ERROR, logger="broadcaster.alerts"):
        started = time.perf_counter()
        hub.raise_alert("voice_unavailable", "", "gTTS và espeak-ng đều lỗi")
        hub.resolve("voice_unavailable", "", "Giọng đọc hoạt động lại")
        assert time.perf_counter() - started < 0.05
        assert hub.flush(3.0), "two notices × two 0.3 s attempts must be over well within 3 s"
    assert hub.couriers[0].given_up == 2 and receiver.bodies == []
    assert "Không gửi được cảnh báo qua webhook" in caplog.text and "sau 2 lần thử" in caplog.text
    hub.close()


@pytest.mark.slow
def test_email_alert_and_recovery(smtp_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port, messages, logins = smtp_server
    monkeypatch.delenv(SMTP_PASSWORD_ENV, raising=False)
    secret = tmp_path / "smtp-password"
    secret.write_text("bi-mat\n", encoding="utf-8")
    secret.chmod(0o600)
    config = AlertConfig(
        email_to=["chu-tich@xa.example.vn"],
        email_from="loa@xa.example.vn",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_user="loa",
        smtp_password_file=str(secret),
        retry_delays=FAST,
    )
    hub = AlertHub(config, clock=FakeClock())
    hub.raise_alert("reload_refused", "", "schedule.yaml dòng 12: giờ '25:00' không hợp lệ")
    hub.resolve("reload_refused", "", "Lịch mới đã được nạp")
    assert hub.flush(10)
    assert logins and logins[0] == ("loa", "bi-mat")
    assert len(messages) == 2
    first, second = (email.message_from_bytes(m.content, policy=email.policy.default) for m in messages)
    assert messages[0].rcpt_tos == ["chu-tich@xa.example.vn"]
    assert first["Subject"] == "[Loa xã] Lịch sửa lỗi không được nạp: schedule.yaml dòng 12: giờ '25:00' không hợp lệ"
    body = first.get_content()
    assert "Cảnh báo: Lịch sửa lỗi không được nạp" in body and "Việc cần làm:" in body
    assert second["Subject"].startswith("[Loa xã] Đã khắc phục: Lịch sửa lỗi không được nạp")
    assert "Lịch mới đã được nạp" in second.get_content()
    hub.close()


# -- configuration and the disk helper ---------------------------------------------------------


def test_config_errors_are_vietnamese() -> None:
    with pytest.raises(ValueError, match="thiếu smtp_host"):
        AlertConfig.from_dict({"email_to": "a@b.vn"})
    with pytest.raises(ValueError, match="phải bắt đầu bằng http"):
        AlertConfig.from_dict({"webhook_url": "ftp://x"})
    with pytest.raises(ValueError, match="không hiểu: emails"):
        AlertConfig.from_dict({"emails": ["a@b.vn"]})
    config = AlertConfig.from_dict({"email_to": "a@b.vn", "smtp_host": "smtp.example.vn", "retry_delays": [1, 2]})
    assert config.email_to == ["a@b.vn"] and config.retry_delays == (1.0, 2.0) and config.email_enabled


def test_smtp_password_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SMTP_PASSWORD_ENV, raising=False)
    secret = tmp_path / "pw"
    secret.write_text("tu-tep\n", encoding="utf-8")
    os.chmod(secret, 0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        smtp_password(AlertConfig(smtp_password_file=str(secret)))
    os.chmod(secret, 0o600)
    assert smtp_password(AlertConfig(smtp_password_file=str(secret))) == "tu-tep"
    with pytest.raises(ValueError, match="không đọc được"):
        smtp_password(AlertConfig(smtp_password_file=str(tmp_path / "khong-co")))
    monkeypatch.setenv(SMTP_PASSWORD_ENV, "tu-bien")
    assert smtp_password(AlertConfig(smtp_password_file=str(secret))) == "tu-bien"
    assert smtp_password(AlertConfig(smtp_password="tu-cau-hinh")) == "tu-cau-hinh"


def test_disk_check(tmp_path: Path) -> None:
    assert disk_check(tmp_path, min_free_mb=0) is None
    message = disk_check(tmp_path / "chua-co" / "thu-muc", min_free_mb=10**12)
    assert message is not None and "MB trống" in message and "xoá bớt" in message


def _watch(tmp_path: Path):
    from broadcaster.daemon.alerting import Watch
    from broadcaster.schedule.load import load_schedule

    path = tmp_path / "schedule.yaml"
    path.write_text("campaign: {name: t, start: 2026-04-17, end: 2026-04-26}\nslots: []\n", encoding="utf-8")
    result = load_schedule(path)
    assert result.schedule is not None, result.errors
    return Watch(result.schedule)


def _finished(proof: dict[str, Any] | None, outcome: str = "played"):
    from broadcaster.events import AiredRecord, BroadcastFinished
    from broadcaster.records import Outcome

    heard = proof.get("heard") if proof else None
    record = AiredRecord(key="k", title="Bản tin", outcome=Outcome(outcome), proof=proof, heard=heard, error="mất")
    return BroadcastFinished(record, row_id=1)


HEARD = {"heard": True, "delay_ms": 5.0, "dead_air": [], "note": None}
DEAD = {"heard": True, "delay_ms": 5.0, "dead_air": [{"at_s": 3.5, "seconds": 5.0, "kind": "silence"}], "note": "mất"}


def test_dead_air_and_not_heard_alerts_end_when_a_broadcast_is_heard_whole(tmp_path):
    """Found at the end (the live check may miss a gap near the end), and resolved by a clean broadcast,
    so the next day's dead air alerts again instead of being swallowed by a forever-active alert."""
    from broadcaster.events import EventBus

    watch, bus = _watch(tmp_path), EventBus()
    watch.attach(bus)
    try:
        bus.publish(_finished(DEAD))
        assert [(a["kind"], a["key"]) for a in watch.hub.active()] == [("dead_air", "main")]
        bus.publish(_finished({"heard": False, "dead_air": []}, "not_heard"))
        assert {a["kind"] for a in watch.hub.active()} == {"dead_air", "not_heard"}
        bus.publish(_finished({"heard": None, "note": "không kiểm tra được"}))
        assert {a["kind"] for a in watch.hub.active()} == {"dead_air", "not_heard"}  # unchecked proves nothing
        bus.publish(_finished(HEARD))
        assert watch.hub.active() == []
    finally:
        watch.close()
    bus.publish(_finished(DEAD))  # closed: unsubscribed, nothing raised any more
    assert watch.hub.active() == []


def test_missed_and_held_broadcasts_are_counted_in_their_own_zone(tmp_path):
    """Typed events carry the zone of every outcome (a missed one used to be counted as 'main')."""
    from dataclasses import replace

    from broadcaster.events import AiredRecord, BroadcastHeld, BroadcastMissed, EventBus
    from broadcaster.records import Outcome

    watch, bus = _watch(tmp_path), EventBus()
    watch.attach(bus)
    try:
        record = AiredRecord(key="k", title="Bản tin", zone="thon-1")
        bus.publish(BroadcastMissed(replace(record, outcome=Outcome.MISSED, error="trễ")))
        bus.publish(BroadcastHeld(replace(record, outcome=Outcome.UNAPPROVED, error="chưa duyệt")))
        body = watch.metrics.render()[0].decode()
        assert 'loaxa_broadcasts_total{outcome="missed",zone="thon-1"} 1.0' in body
        assert 'loaxa_broadcasts_total{outcome="unapproved",zone="thon-1"} 1.0' in body
        assert watch.hub.active() == []
    finally:
        watch.close()

"""Zones end to end: the real daemon feeds a real icecast2 on loopback, listeners decode the mounts.

Each zone hears only its own broadcasts; an emergency to all zones reaches every mount and the
local card zone; Icecast killed mid-broadcast fails that zone's row with a clear reason while
the other zones play, and the station reconnects by itself; a relay slot plays an upper-level
stream served by the same Icecast; receivers' heartbeats show in status; a receiver's own monitor
proves its zone's broadcasts (heard, or not heard when its loudspeakers are muted).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from broadcaster.zones.stream_in import StreamError, StreamReader
from tests.support.harness import Daemon, Project, local_now, wait_rows
from tests.support.icecast_server import IcecastServer, icecast_available

pytestmark = [pytest.mark.slow]

RATE = 16000
PASSWORD = "zones-test-pass"


@pytest.fixture(scope="module")
def ice():
    why = icecast_available()
    if why:
        pytest.skip(why)
    with IcecastServer(source_password=PASSWORD, burst_size=0) as server:
        yield server


class Listener:
    """A plain listener of one mount: decoded samples with the wall time each block arrived."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.blocks: list[tuple[float, np.ndarray]] = []
        self.stop = threading.Event()
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 120
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                for block in StreamReader(self.url, rate=RATE, timeout_s=3).blocks(self.stop):
                    self.blocks.append((time.time(), block))
            except StreamError as exc:
                self.error = str(exc)
                self.stop.wait(0.3)

    def loud_seconds(self, since: float = 0.0) -> float:
        """Seconds of blocks above −40 dBFS that arrived after ``since``."""
        loud = 0.0
        for at, block in self.blocks:
            if at >= since and len(block) and float(np.sqrt(np.mean(block**2))) > 0.01:
                loud += len(block) / RATE
        return loud

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def zoned_project(root: Path, ice: IcecastServer, extra_slots: str = "") -> Project:
    project = Project(root, chime=False)
    text = project.yaml_text().replace("slots: []\n", "")
    text += (
        "zones:\n"
        f"  trung-tam: {{device: 'wav:{root / 'wav'}'}}\n"
        f"  thon-dong: {{icecast: '{ice.url('thon-dong')}', delay_ms: 0}}\n"
        f"  thon-doai: {{icecast: '{ice.url('thon-doai')}', delay_ms: 0}}\n"
    )
    text += "slots:\n" + extra_slots if extra_slots else "slots: []\n"
    project.save(text)
    return project


def wait_connected(daemon: Daemon, timeout: float = 15.0) -> None:
    """Until every Icecast zone's source is connected (the station connects by itself)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, status = daemon.api("GET", "/api/status")
        if code == 200 and all(z["output"].get("connected") for z in status["zones"] if z["kind"] == "icecast"):
            return
        time.sleep(0.3)
    raise AssertionError(f"the station did not connect to Icecast: {status.get('zones')}")


def finished(rows: list[dict], key_part: str, n: int) -> bool:
    return len([r for r in rows if key_part in r["title"] and r["status"] != "started"]) >= n


def test_each_zone_hears_its_own_and_an_emergency_reaches_all(tmp_path: Path, ice: IcecastServer):
    project = zoned_project(tmp_path, ice)
    daemon = Daemon(project, {"LOA_XA_ICECAST_PASSWORD": PASSWORD}).start()
    east, west = Listener(ice.url("thon-dong")), Listener(ice.url("thon-doai"))
    try:
        wait_connected(daemon)
        t0 = time.time()
        said = daemon.cli("say", "Thông báo riêng cho thôn Đông.", "--zone", "thon-dong")
        assert said.returncode == 0, said.stderr
        rows = wait_rows(project, lambda rows: finished(rows, "thôn Đông", 1))
        time.sleep(0.8)  # the tail reaches the listener
        assert [(r["zone"], r["status"]) for r in rows if "thôn Đông" in r["title"]] == [("thon-dong", "played")]
        assert east.loud_seconds(t0) > 1.0, east.error
        assert west.loud_seconds(t0) == 0.0, "thôn Đoài heard thôn Đông's announcement"

        t1 = time.time()
        urgent = daemon.cli("say", "Khẩn cấp: bão sắp vào, bà con chằng chống nhà cửa.", "--priority", "emergency")
        assert urgent.returncode == 0, urgent.stderr
        rows = wait_rows(project, lambda rows: finished(rows, "bão", 3))
        time.sleep(0.8)
        zones = sorted(r["zone"] for r in rows if "bão" in r["title"] and r["status"] == "played")
        assert zones == ["thon-doai", "thon-dong", "trung-tam"]
        assert east.loud_seconds(t1) > 1.0 and west.loud_seconds(t1) > 1.0
        assert list((tmp_path / "wav").glob("*.wav")), "the card zone did not air"

        status = daemon.api("GET", "/api/status")[1]
        assert [z["name"] for z in status["zones"]] == ["trung-tam", "thon-dong", "thon-doai"]
        assert all(z["output"].get("connected") for z in status["zones"] if z["kind"] == "icecast")
        assert PASSWORD not in json.dumps(status) and PASSWORD not in daemon.log()
    finally:
        east.close()
        west.close()
        daemon.terminate()


def test_icecast_killed_mid_broadcast_fails_only_that_zone_and_reconnects(tmp_path: Path, ice: IcecastServer):
    project = zoned_project(tmp_path, ice)
    daemon = Daemon(project, {"LOA_XA_ICECAST_PASSWORD": PASSWORD}).start()
    try:
        wait_connected(daemon)
        long_text = "Kính thưa bà con. " * 12
        assert daemon.cli("say", long_text).returncode == 0
        daemon.wait_for("BẮT ĐẦU", timeout=20)
        time.sleep(2.0)
        ice.kill()
        rows = wait_rows(project, lambda rows: len([r for r in rows if r["status"] != "started"]) >= 3)
        by_zone = {r["zone"]: r for r in rows}
        assert by_zone["trung-tam"]["status"] == "played"
        for zone in ("thon-dong", "thon-doai"):
            assert by_zone[zone]["status"] == "failed"
            assert "Icecast" in by_zone[zone]["error"], by_zone[zone]["error"]
        status = daemon.api("GET", "/api/status")[1]
        assert any("Icecast" in a for a in status["alerts"]), status["alerts"]

        ice.start()
        wait_connected(daemon, timeout=25)
        listener = Listener(ice.url("thon-doai"))
        try:
            time.sleep(1.0)
            assert daemon.cli("say", "Đã có lại tiếng.", "--zone", "thon-doai").returncode == 0
            rows = wait_rows(project, lambda rows: finished(rows, "có lại", 1))
            time.sleep(0.8)
            assert [r["status"] for r in rows if "có lại" in r["title"]] == ["played"]
            assert listener.loud_seconds() > 0.5
        finally:
            listener.close()
    finally:
        daemon.terminate()


def test_relay_slot_plays_an_upper_level_stream_and_fails_cleanly_when_it_is_gone(tmp_path: Path, ice: IcecastServer):
    from broadcaster.zones.icecast import IcecastSink

    at = local_now() + timedelta(seconds=12)
    missing_at = at + timedelta(seconds=14)
    slots = (
        f"  - name: vov\n    at: '{at:%H:%M:%S}'\n    dates: [{at:%Y-%m-%d}]\n    zones: [thon-dong]\n"
        f"    play:\n      - relay: '{ice.url('vov')}'\n        minutes: 0.1\n"
        f"  - name: dai-tat\n    at: '{missing_at:%H:%M:%S}'\n    dates: [{missing_at:%Y-%m-%d}]\n"
        f"    zones: [thon-doai]\n    play:\n      - relay: '{ice.url('khong-co')}'\n        minutes: 0.1\n"
    )
    project = zoned_project(tmp_path, ice, slots)
    upper = IcecastSink(ice.url("vov"), PASSWORD, name="vov-test")  # the upper-level station
    stop = threading.Event()
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(48000 * 30) / 48000)).astype(np.float32)
    feeder = threading.Thread(target=lambda: upper.play([tone], rate=48000, start_at=None, stop=stop), daemon=True)
    feeder.start()
    daemon = Daemon(project, {"LOA_XA_ICECAST_PASSWORD": PASSWORD}).start()
    east = Listener(ice.url("thon-dong"))
    try:
        rows = wait_rows(
            project, lambda rows: {r["slot"] for r in rows if r["status"] != "started"} >= {"vov", "dai-tat"}
        )
        vov = [r for r in rows if r["slot"] == "vov"]
        assert [(r["zone"], r["status"]) for r in vov] == [("thon-dong", "played")], vov
        assert 5.0 <= vov[0]["duration_s"] <= 7.5
        assert east.loud_seconds() > 3.0
        gone = [r for r in rows if r["slot"] == "dai-tat"]
        assert [(r["zone"], r["status"]) for r in gone] == [("thon-doai", "failed")]
        assert "tiếp sóng" in gone[0]["error"]
    finally:
        stop.set()
        east.close()
        daemon.terminate()
        upper.close()


def test_receiver_heartbeats_show_in_status_per_zone(tmp_path: Path, ice: IcecastServer):
    project = zoned_project(tmp_path, ice)
    daemon = Daemon(project, {"LOA_XA_ICECAST_PASSWORD": PASSWORD}).start()
    try:
        beat = {"receiver": "cum-loa-1", "url": ice.url("thon-dong"), "state": "playing", "buffer_ms": 150}
        code, answer = daemon.api("POST", "/api/receivers/heartbeat", beat)
        assert (code, answer) == (200, {"ok": True, "zone": "thon-dong"})
        code, _ = daemon.api("POST", "/api/receivers/heartbeat", beat, token=None)
        assert code == 401
        code, answer = daemon.api("POST", "/api/receivers/heartbeat", {**beat, "receiver": "x", "state": "down"})
        assert code == 200
        status = daemon.api("GET", "/api/status")[1]
        east = next(z for z in status["zones"] if z["name"] == "thon-dong")
        assert {r["name"]: r["alive"] for r in east["receivers"]} == {"cum-loa-1": True, "x": False}
        assert east["receivers_alive"] == 1
        text = daemon.cli("status").stdout
        assert "thon-dong" in text and "máy thu 1/2 đang nhận tiếng" in text and "mất tiếng từ đài" in text
    finally:
        daemon.terminate()


@pytest.mark.audio
def test_a_receivers_monitor_proves_its_zone_and_a_muted_cluster_is_not_heard(
    tmp_path: Path, ice: IcecastServer, pulse_server
):
    """The whole path: daemon → Icecast → ``broadcaster receive --monitor`` on a real sound card →
    heartbeat → the zone's as-run row is heard (or not_heard with the cluster's alert when muted)."""
    from test_receiver import ReceiverProcess

    project = zoned_project(tmp_path, ice)
    daemon = Daemon(project, {"LOA_XA_ICECAST_PASSWORD": PASSWORD}).start()
    rx = None
    mute = ["set-sink-mute", pulse_server.sink_name]
    try:
        wait_connected(daemon)
        port = json.loads((project.root / "state" / "daemon.json").read_text())["port"]
        token = (project.root / "state" / "api-token").read_text().strip()
        args = [ice.url("thon-dong"), "--monitor", f"{pulse_server.sink_name}.monitor", "--name", "cum-dong"]
        args += ["--station", f"http://127.0.0.1:{port}", "--heartbeat-s", "0.5", "--timeout-s", "3"]
        rx = ReceiverProcess(args, tmp_path / "rx.log", env={**pulse_server.env, "LOA_XA_TOKEN": token})

        def receiver() -> dict:
            zones = daemon.api("GET", "/api/status")[1].get("zones") or []
            east = next(z for z in zones if z["name"] == "thon-dong")
            return next((r for r in east["receivers"] if r["name"] == "cum-dong"), {})

        deadline = time.monotonic() + 20
        while not (receiver().get("alive") and (receiver().get("monitor") or {}).get("recording")):
            assert time.monotonic() < deadline, f"receiver never reported a recording monitor: {receiver()}"
            time.sleep(0.3)

        said = daemon.cli("say", "Kính thưa bà con, đây là bản tin thử loa của thôn Đông.", "--zone", "thon-dong")
        assert said.returncode == 0, said.stderr
        rows = wait_rows(project, lambda rs: any(r["zone"] == "thon-dong" and r["heard"] is not None for r in rs), 40)
        row = next(r for r in rows if r["zone"] == "thon-dong")
        assert (row["status"], row["heard"]) == ("played", 1), row
        proof = json.loads(row["proof"])
        assert proof["receivers"]["cum-dong"]["heard"] is True and proof["note"].startswith("1/1 cụm loa nghe thấy")

        assert pulse_server.pactl(*mute, "1").returncode == 0
        said = daemon.cli("say", "Bản tin này loa thôn Đông bị tắt tiếng nên không ai nghe.", "--zone", "thon-dong")
        assert said.returncode == 0, said.stderr
        rows = wait_rows(project, lambda rs: any(r["status"] == "not_heard" for r in rs), 40)
        muted = next(r for r in rows if r["status"] == "not_heard")
        assert muted["zone"] == "thon-dong" and muted["heard"] == 0 and "Không cụm loa nào" in muted["error"], muted
        alerts = daemon.api("GET", "/api/status")[1]["active_alerts"]
        assert any(a["kind"] == "not_heard" and a["key"] == "thon-dong/cum-dong" for a in alerts), alerts
        assert "không nghe thấy" in daemon.cli("log").stdout.lower()
    finally:
        pulse_server.pactl(*mute, "0")
        if rx is not None:
            assert rx.stop() == 0, rx.text()
        daemon.terminate()

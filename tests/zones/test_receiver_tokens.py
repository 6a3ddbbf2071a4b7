"""Each receiver box has its own token, good only for its own heartbeat and its own zone.

A real daemon feeds a real icecast2 on loopback; receivers are registered with
``broadcaster receiver add`` while it runs, and every request goes over loopback sockets.
A stolen receiver token must be harmless beyond its own cluster: no announcement, no status,
no metrics, no stop, no console, no proofs for another zone. Heartbeats refuse unknown fields
and oversized proofs, and the number of receivers the daemon keeps is capped. The API
description needs the station's token; nothing of Swagger UI is served.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.harness import Daemon, Project, wait_rows
from tests.support.icecast_server import IcecastServer, icecast_available

pytestmark = [pytest.mark.slow]

PASSWORD = "receiver-token-pass"
ENV = {"LOA_XA_ICECAST_PASSWORD": PASSWORD}
MAX_UNREGISTERED = 64  # broadcaster.daemon.zones.MAX_UNREGISTERED: names kept while none is registered


@pytest.fixture(scope="module")
def ice():
    why = icecast_available()
    if why:
        pytest.skip(why)
    with IcecastServer(source_password=PASSWORD, burst_size=0) as server:
        yield server


def zoned(root: Path, ice: IcecastServer) -> Project:
    project = Project(root, chime=False)
    text = project.yaml_text()
    text += (
        "zones:\n"
        f"  trung-tam: {{device: 'wav:{root / 'wav'}'}}\n"
        f"  thon-dong: {{icecast: '{ice.url('thon-dong')}', delay_ms: 0}}\n"
        f"  thon-doai: {{icecast: '{ice.url('thon-doai')}', delay_ms: 0}}\n"
    )
    project.save(text)
    return project


def add_receiver(d: Daemon, name: str, zone: str) -> str:
    """``broadcaster receiver add``; its token is the last line of stdout."""
    done = d.cli("receiver", "add", name, "--zone", zone)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].strip()


@pytest.fixture(scope="module")
def station(ice, tmp_path_factory):
    """A daemon with two registered receivers (added while it runs)."""
    project = zoned(tmp_path_factory.mktemp("rx-tokens"), ice)
    d = Daemon(project, ENV).start()
    pairs = (("cum-dong", "thon-dong"), ("cum-doai", "thon-doai"))
    tokens = {name: add_receiver(d, name, zone) for name, zone in pairs}
    yield d, tokens
    assert d.terminate() == 0


@pytest.fixture(scope="module")
def legacy(ice, tmp_path_factory):
    """A daemon no receiver was registered on: boxes still report with the station's token."""
    project = zoned(tmp_path_factory.mktemp("rx-legacy"), ice)
    d = Daemon(project, ENV).start()
    yield d
    assert d.terminate() == 0


def beat(ice: IcecastServer, name: str, zone: str, **extra) -> dict:
    return {"receiver": name, "url": ice.url(zone), "state": "playing", "buffer_ms": 150.0, **extra}


def proof(started_at: str, heard: bool) -> dict:
    """One result exactly as ``StreamProver`` sends it (``broadcaster/proof/stream.py``)."""
    return {
        "started_at": started_at,
        "seconds": 3.0,
        "piece": 0,
        "heard": heard,
        "delay_ms": 40.0 if heard else None,
        "level_db": -20.0 if heard else None,
        "dead_air": [],
        "confidence": 0.9,
        "method": "monitor:pa_out.monitor",
        "note": None if heard else "Không nghe thấy chương trình.",
    }


# ---- registering receivers ------------------------------------------------------------------------


def test_receiver_add_keeps_only_a_hash_in_a_private_file_and_refuses_bad_zones(station):
    d, tokens = station
    path = d.project.root / "state" / "receivers.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    assert all(token not in text for token in tokens.values())
    assert len(set(tokens.values())) == 2 and all(len(t) >= 32 for t in tokens.values())
    station_token = (d.project.root / "state" / "api-token").read_text().strip()
    assert station_token not in tokens.values()

    listed = d.cli("receiver", "list")
    assert listed.returncode == 0, listed.stderr
    assert "cum-dong" in listed.stdout and "thon-dong" in listed.stdout and "cum-doai" in listed.stdout
    assert all(token not in listed.stdout for token in tokens.values())

    for args, words in [
        (["receiver", "add", "cum-x", "--zone", "thon-khong-co"], "thon-khong-co"),
        (["receiver", "add", "cum-y", "--zone", "trung-tam"], "Icecast"),
        (["receiver", "add", "cum-dong", "--zone", "thon-dong"], "Đã có"),
        (["receiver", "add", "tên có dấu cách", "--zone", "thon-dong"], "Tên máy thu"),
    ]:
        refused = d.cli(*args)
        assert refused.returncode != 0 and words in refused.stderr, refused.stderr
        assert "Lỗi:" in refused.stderr and not refused.stdout.strip()
    assert path.read_text(encoding="utf-8") == text, "a refused add must write nothing"


# ---- what a receiver's token may do ---------------------------------------------------------------


def test_a_receiver_token_beats_only_for_its_own_name_and_zone(station, ice):
    d, tokens = station
    token = tokens["cum-dong"]
    code, answer = d.api("POST", "/api/receivers/heartbeat", beat(ice, "cum-dong", "thon-dong"), token=token)
    assert (code, answer) == (200, {"ok": True, "zone": "thon-dong"})

    code, answer = d.api("POST", "/api/receivers/heartbeat", beat(ice, "cum-doai", "thon-doai"), token=token)
    assert code == 403 and "cum-dong" in answer["error"], answer  # another receiver's name
    code, answer = d.api("POST", "/api/receivers/heartbeat", beat(ice, "cum-dong", "thon-doai"), token=token)
    assert code == 403 and "thon-dong" in answer["error"], answer  # its own name, another zone's mount
    code, answer = d.api("POST", "/api/receivers/heartbeat", beat(ice, "ke-gia", "thon-dong"), token=token)
    assert code == 403, answer

    zones = d.api("GET", "/api/status")[1]["zones"]
    names = {z["name"]: [r["name"] for r in z["receivers"]] for z in zones}
    assert names["thon-dong"] == ["cum-dong"] and names["thon-doai"] == [], names
    assert d.api("GET", "/api/status")[1]["stray_receivers"] == []


def test_a_receiver_token_opens_no_other_route_and_nothing_airs(station):
    d, tokens = station
    token = tokens["cum-doai"]
    before = len(d.project.asrun_rows())
    emergency = {"text": "Khẩn cấp: sơ tán ngay.", "priority": "emergency", "by": "Chủ tịch UBND xã"}
    for method, path, body in [
        ("GET", "/api/status", None),
        ("POST", "/api/announcements", emergency),
        ("POST", "/api/stop", {}),
        ("DELETE", "/api/queue/1", None),
        ("GET", "/metrics", None),
        ("GET", "/openapi.json", None),
        ("GET", "/console/api/trang-thai", None),
        ("GET", "/console/api/nhat-ky", None),
        ("POST", "/console/api/phat-ngay", emergency),
        ("POST", "/console/api/dung", {}),
    ]:
        code, answer = d.api(method, path, body, token=token)
        assert code in (401, 403), (method, path, code, answer)
    time.sleep(1.0)
    assert len(d.project.asrun_rows()) == before, "a receiver's token made the station air something"


def test_once_receivers_are_registered_the_station_token_no_longer_reports_a_receiver(station, ice):
    d, _ = station
    start = len(d.lines)
    code, answer = d.api("POST", "/api/receivers/heartbeat", beat(ice, "hop-cu", "thon-dong"))
    assert code == 403 and "broadcaster receiver add" in answer["error"], answer
    d.wait_for("hop-cu", start=start)
    zones = d.api("GET", "/api/status")[1]["zones"]
    assert all(r["name"] != "hop-cu" for z in zones for r in z["receivers"])


def test_a_receivers_proofs_touch_only_its_own_zones_rows(station, ice):
    d, tokens = station
    said = d.cli("say", "Hai thôn: kính thưa bà con, bản tin thử.", "--zone", "thon-dong", "--zone", "thon-doai")
    assert said.returncode == 0, said.stderr
    rows = wait_rows(d.project, lambda rs: len([r for r in rs if "Hai thôn" in r["title"] and r["ended_at"]]) >= 2)
    by_zone = {r["zone"]: r for r in rows if "Hai thôn" in r["title"]}
    assert {z: r["status"] for z, r in by_zone.items()} == {"thon-dong": "played", "thon-doai": "played"}
    doai_started = by_zone["thon-doai"]["started_at"]

    # cum-dong's token forges "not heard" for thon-doai's broadcast: refused, the row stays played
    forged = beat(ice, "cum-dong", "thon-doai", proofs=[proof(doai_started, heard=False)])
    code, _ = d.api("POST", "/api/receivers/heartbeat", forged, token=tokens["cum-dong"])
    assert code == 403
    forged = beat(ice, "cum-doai", "thon-doai", proofs=[proof(doai_started, heard=False)])
    code, _ = d.api("POST", "/api/receivers/heartbeat", forged, token=tokens["cum-dong"])
    assert code == 403
    # its own zone's broadcast is its to report on
    own = beat(ice, "cum-dong", "thon-dong", proofs=[proof(by_zone["thon-dong"]["started_at"], heard=False)])
    code, _ = d.api("POST", "/api/receivers/heartbeat", own, token=tokens["cum-dong"])
    assert code == 200
    rows = wait_rows(d.project, lambda rs: any(r["status"] == "not_heard" for r in rs), 10)
    after = {r["zone"]: r for r in rows if "Hai thôn" in r["title"]}
    assert (after["thon-dong"]["status"], after["thon-doai"]["status"]) == ("not_heard", "played"), after
    assert after["thon-doai"]["proof"] in (None, by_zone["thon-doai"]["proof"])


def test_a_removed_receivers_token_stops_working_and_it_leaves_the_status(station, ice):
    d, _ = station
    token = add_receiver(d, "cum-tam", "thon-doai")
    code, _ = d.api("POST", "/api/receivers/heartbeat", beat(ice, "cum-tam", "thon-doai"), token=token)
    assert code == 200
    removed = d.cli("receiver", "remove", "cum-tam")
    assert removed.returncode == 0 and "cum-tam" in removed.stdout + removed.stderr, removed.stderr
    code, _ = d.api("POST", "/api/receivers/heartbeat", beat(ice, "cum-tam", "thon-doai"), token=token)
    assert code == 401
    zones = d.api("GET", "/api/status")[1]["zones"]
    assert all(r["name"] != "cum-tam" for z in zones for r in z["receivers"])
    missing = d.cli("receiver", "remove", "cum-tam")
    assert missing.returncode != 0 and "cum-tam" in missing.stderr


# ---- the heartbeat body and the number of receivers ------------------------------------------------


def test_heartbeats_refuse_unknown_fields_and_oversized_proofs_but_take_what_a_receiver_sends(legacy, ice):
    ok = beat(
        ice,
        "cum-that",
        "thon-dong",
        last_error=None,
        connected_since="2026-04-21T06:30:00+00:00",
        bytes_received=12345,
        reconnects=0,
        monitor={"method": "monitor:pa_out.monitor", "recording": True, "error": None},
        proofs=[proof("2026-04-21T06:30:00.000+00:00", heard=True)],
        sent_at="2026-04-21T06:30:05.000+00:00",
    )
    code, answer = legacy.api("POST", "/api/receivers/heartbeat", ok)
    assert (code, answer) == (200, {"ok": True, "zone": "thon-dong"})

    padded = {**ok, "ghi-chu": "x" * 200_000}
    code, answer = legacy.api("POST", "/api/receivers/heartbeat", padded)
    assert code == 422 and "không được hỗ trợ" in answer["error"], answer
    code, _ = legacy.api("POST", "/api/receivers/heartbeat", {**ok, "monitor": {**ok["monitor"], "x": "y" * 1000}})
    assert code == 422
    code, _ = legacy.api("POST", "/api/receivers/heartbeat", {**ok, "proofs": [{**ok["proofs"][0], "x": 1}]})
    assert code == 422
    code, _ = legacy.api("POST", "/api/receivers/heartbeat", {**ok, "proofs": ok["proofs"] * 200})
    assert code == 422
    huge_note = {**ok["proofs"][0], "dead_air": [{"at_s": 1.0, "seconds": 3.0, "kind": "silence"}] * 500}
    code, _ = legacy.api("POST", "/api/receivers/heartbeat", {**ok, "proofs": [huge_note]})
    assert code == 422
    # free text is kept short whatever a box sends (never a refusal: a long error must not lose the box)
    code, _ = legacy.api("POST", "/api/receivers/heartbeat", {**ok, "last_error": "lỗi " * 5000})
    assert code == 200
    zones = legacy.api("GET", "/api/status")[1]["zones"]
    kept = next(r for z in zones for r in z["receivers"] if r["name"] == "cum-that")
    assert len(json.dumps(kept, ensure_ascii=False)) < 4000, kept


def test_the_station_token_still_reports_a_receiver_until_one_is_registered_with_a_warning(legacy, ice):
    start = len(legacy.lines)
    code, answer = legacy.api("POST", "/api/receivers/heartbeat", beat(ice, "hop-cu-1", "thon-doai"))
    assert (code, answer) == (200, {"ok": True, "zone": "thon-doai"})
    legacy.wait_for("broadcaster receiver add", start=start)
    zones = legacy.api("GET", "/api/status")[1]["zones"]
    old = next(r for z in zones for r in z["receivers"] if r["name"] == "hop-cu-1")
    assert "broadcaster receiver add" in (old.get("warning") or ""), old


def test_receivers_reporting_with_the_station_token_are_capped(legacy, ice):
    names = {r["name"] for z in legacy.api("GET", "/api/status")[1]["zones"] for r in z["receivers"]}
    refused = None
    for i in range(MAX_UNREGISTERED + 5):
        code, answer = legacy.api("POST", "/api/receivers/heartbeat", beat(ice, f"hop-{i:03d}", "thon-dong"))
        if code != 200:
            refused = (i, code, answer)
            break
        names.add(f"hop-{i:03d}")
    assert refused is not None, "the daemon kept every receiver name it was sent"
    assert refused[1] == 403 and "broadcaster receiver add" in refused[2]["error"], refused
    assert len(names) == MAX_UNREGISTERED
    # one it already knows still reports
    code, _ = legacy.api("POST", "/api/receivers/heartbeat", beat(ice, "hop-000", "thon-dong", state="down"))
    assert code == 200
    kept = [r for z in legacy.api("GET", "/api/status")[1]["zones"] for r in z["receivers"]]
    assert len(kept) == MAX_UNREGISTERED


def test_the_heartbeat_model_takes_everything_a_receiver_box_sends():
    """The real ``Receiver.snapshot()`` with the real ``StreamProver`` results, at their largest."""
    from broadcaster.daemon.api import MAX_PROOFS, Heartbeat
    from broadcaster.proof.analyze import DeadAir, Proof
    from broadcaster.proof.stream import KEEP_RESULTS, StreamProver
    from broadcaster.zones.receiver import Receiver, now_iso

    fake = SimpleNamespace(method="monitor:pa_out.monitor", capture=SimpleNamespace(running=True), rate=16000)
    fake.error, fake._lock, fake._results = "đầu nghe lỗi " * 100, threading.Lock(), deque(maxlen=KEEP_RESULTS)
    spans = [DeadAir(3.0 * i, 3.0, "silence") for i in range(19)]
    for i in range(KEEP_RESULTS + 3):
        missed = Proof(False, None, None, spans, 0.5, "monitor:pa_out.monitor", "Không nghe thấy chương trình. " * 20)
        StreamProver._keep(fake, time.time() + 60 * i, 16000 * 60, i, missed)  # type: ignore[arg-type]
    fake.describe, fake.results = (lambda: StreamProver.describe(fake)), (lambda: StreamProver.results(fake))
    reader = SimpleNamespace(url="http://10.0.0.1:8000/thon-dong", connected_since=datetime.now(UTC), bytes_received=9)
    rx = Receiver(reader, SimpleNamespace(name="null"), name="cum-dong", rate=16000, prover=fake)  # type: ignore[arg-type]
    body = {**rx.snapshot(), "sent_at": now_iso()}
    assert len(body["proofs"]) == KEEP_RESULTS <= MAX_PROOFS
    assert Heartbeat.model_validate(body).model_dump(exclude_defaults=True).keys() <= body.keys()


# ---- broadcaster receive --token-file ---------------------------------------------------------------


def receive(station_url: str, stream: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "broadcaster.cli", "receive", stream, "--station", station_url, "--output", "null"]
    cmd += ["--heartbeat-s", "0.5", "--timeout-s", "2", "--retry-s", "0.5", *args]
    clean = {k: v for k, v in os.environ.items() if k != "LOA_XA_TOKEN"}
    return subprocess.Popen(cmd, env={**clean, **(env or {})}, stderr=subprocess.PIPE, text=True)


def test_receive_reads_its_own_token_from_a_private_file(station, ice, tmp_path: Path):
    d, tokens = station
    port = json.loads((d.project.root / "state" / "daemon.json").read_text())["port"]
    url = f"http://127.0.0.1:{port}"
    token_file = tmp_path / "receiver-token"
    token_file.write_text(tokens["cum-doai"] + "\n")

    for setup, words in [
        (lambda: token_file.chmod(0o644), "chmod 600"),
        (lambda: (token_file.chmod(0o600), token_file.write_text("")), "trống"),
        (lambda: token_file.unlink(), "Không có tệp mã"),
    ]:
        setup()
        proc = receive(url, ice.url("thon-doai"), "--token-file", str(token_file), "--name", "cum-doai")
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 2 and words in err, err

    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, (tokens["cum-doai"] + "\n").encode())
    os.close(fd)
    proc = receive(url, ice.url("thon-doai"), "--token-file", str(token_file), "--name", "cum-doai")
    try:
        deadline = time.monotonic() + 20
        while True:
            zones = d.api("GET", "/api/status")[1]["zones"]
            doai = next(z for z in zones if z["name"] == "thon-doai")
            mine = [r for r in doai["receivers"] if r["name"] == "cum-doai"]
            if mine and mine[0]["last_seen_s"] < 3:
                break
            assert time.monotonic() < deadline and proc.poll() is None, f"no heartbeat from the box: {doai}"
            time.sleep(0.3)
        assert "warning" not in mine[0] or not mine[0]["warning"]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert "Traceback" not in err and "HTTP 40" not in err, err


# ---- the API description ---------------------------------------------------------------------------


def test_the_api_description_needs_the_station_token_and_no_swagger_page_is_served(legacy):
    code, _ = legacy.api("GET", "/openapi.json", token=None)
    assert code == 401
    code, _ = legacy.api("GET", "/openapi.json", token="sai-ma")
    assert code == 401
    code, schema = legacy.api("GET", "/openapi.json")
    assert code == 200 and "/api/receivers/heartbeat" in schema["paths"]
    for page in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        code, _ = legacy.api("GET", page)
        assert code == 404, page
        code, _ = legacy.api("GET", page, token=None)
        assert code in (401, 404), page

"""The Icecast config generator, its CLI, and the source password (env, 0600 file)."""

from __future__ import annotations

import stat
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from broadcaster.layout import Layout
from broadcaster.zones.icecast import IcecastSink
from broadcaster.zones.mp3 import find_frame_sync
from broadcaster.zones.secrets import ENV_PASSWORD, ZoneConfigError, source_password
from broadcaster.zones.server import RelayMaster, icecast_config, main, mount_path
from tests.support.icecast_server import IcecastServer, icecast_available

NASTY = """p&ss<w>rd"'; ]]> --"""


def config(**kw: object) -> ET.Element:
    args: dict[str, object] = dict(
        port=8123,
        source_password="src",
        admin_password="adm",
        mounts=["thon-dong", "/thon-doai"],
        log_dir=Path("/tmp/log"),
        pid_file=Path("/tmp/run/icecast.pid"),
        burst_size=4096,
        run_as_root=False,
    )
    args.update(kw)
    return ET.fromstring(icecast_config(**args))  # type: ignore[arg-type]


def test_config_is_valid_xml_with_the_settings() -> None:
    root = config()
    assert root.findtext("listen-socket/port") == "8123"
    assert root.findtext("listen-socket/bind-address") == "127.0.0.1"
    assert root.findtext("limits/burst-size") == "4096"
    assert [m.findtext("mount-name") for m in root.findall("mount")] == ["/thon-dong", "/thon-doai"]
    assert all(m.findtext("public") == "0" for m in root.findall("mount"))
    assert root.findtext("paths/logdir") == "/tmp/log" and root.findtext("paths/pidfile") == "/tmp/run/icecast.pid"
    assert root.find("security/changeowner") is None
    assert root.find("master-server") is None  # the relay option is only a comment by default


def test_special_characters_are_escaped() -> None:
    root = config(source_password=NASTY, admin_password="<admin>&", log_dir=Path("/tmp/a&b"))
    assert root.findtext("authentication/source-password") == NASTY
    assert root.findtext("authentication/admin-password") == "<admin>&"
    assert root.findtext("paths/logdir") == "/tmp/a&b"


def test_root_drops_privileges_and_relay_master() -> None:
    root = config(run_as_root=True, relay_master=RelayMaster("10.0.0.1", 8000, "r&p"), relay_password="mine")
    assert root.findtext("security/changeowner/user") == "icecast2"
    assert root.findtext("master-server") == "10.0.0.1" and root.findtext("master-password") == "r&p"
    assert root.findtext("authentication/relay-password") == "mine"


@pytest.mark.parametrize("bad", ["", "../x", "thôn đông", "a b", "x/y", "/"])
def test_bad_mount_names_are_refused_in_vietnamese(bad: str) -> None:
    with pytest.raises(ZoneConfigError, match="không hợp lệ"):
        mount_path(bad)


@pytest.mark.slow
def test_real_icecast_accepts_an_escaped_password() -> None:
    why = icecast_available()
    if why:
        pytest.skip(f"no icecast2 here: {why}")
    with IcecastServer(source_password=NASTY, mounts=["thon-dong"]) as ice:
        sink = IcecastSink(ice.url("thon-dong"), NASTY, name="thon-dong")
        try:
            deadline = time.monotonic() + 5
            while not sink.describe()["connected"] and time.monotonic() < deadline:
                time.sleep(0.02)
            assert sink.describe()["connected"], sink.describe()
        finally:
            sink.close()


# -- the source password ----------------------------------------------------------------------
@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Layout:
    monkeypatch.delenv(ENV_PASSWORD, raising=False)
    return Layout(tmp_path, tmp_path / "state")


def test_password_from_env_first(layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_PASSWORD, "from-env")
    assert source_password(layout) == "from-env"


def test_password_file_must_be_private(layout: Layout) -> None:
    path = layout.icecast_password_file
    path.parent.mkdir(parents=True)
    path.write_text("s3cret\n")
    path.chmod(0o644)
    with pytest.raises(ZoneConfigError, match=f"chmod 600 {path}") as err:
        source_password(layout)
    assert "s3cret" not in str(err.value)
    path.chmod(0o600)
    assert source_password(layout) == "s3cret"


def test_no_password_anywhere_says_what_to_do(layout: Layout) -> None:
    with pytest.raises(ZoneConfigError, match=ENV_PASSWORD):
        source_password(layout)


# -- the CLI ------------------------------------------------------------------------------------
def test_cli_writes_config_and_private_passwords(
    tmp_path: Path, layout: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "schedule.yaml").write_text("state_dir: state\n")
    out = tmp_path / "ice"
    argv = ["--out", str(out), "--port", "8001", "--mount", "thon-dong", "--schedule", str(tmp_path / "schedule.yaml")]
    assert main(argv) == 0
    for secret in (layout.icecast_password_file, layout.state_dir / "icecast-admin-password"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    root = ET.parse(out / "icecast.xml").getroot()
    assert root.findtext("authentication/source-password") == source_password(layout)
    assert root.findtext("listen-socket/port") == "8001"
    assert stat.S_IMODE((out / "icecast.xml").stat().st_mode) & 0o007 == 0  # holds passwords
    printed = capsys.readouterr().out
    assert "icecast2 -c" in printed and source_password(layout) not in printed
    first = source_password(layout)
    assert main(argv) == 0 and source_password(layout) == first  # a second run keeps the passwords


def test_cli_refuses_an_unsafe_password_file(
    tmp_path: Path, layout: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    layout.icecast_password_file.parent.mkdir(parents=True)
    layout.icecast_password_file.write_text("x\n")
    layout.icecast_password_file.chmod(0o640)
    assert main(["--out", str(tmp_path / "ice"), "--schedule", str(tmp_path / "schedule.yaml")]) == 2
    assert "chmod 600" in capsys.readouterr().err
    assert layout.icecast_password_file.read_text() == "x\n"  # never overwritten


def test_cli_relay_master_needs_host_and_port(
    tmp_path: Path, layout: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--out", str(tmp_path / "ice"), "--schedule", str(tmp_path / "s.yaml"), "--relay-master", "nohost"]
    assert main(argv) == 2
    assert "MÁY:CỔNG" in capsys.readouterr().err


@pytest.mark.slow
def test_district_server_relays_the_commune_mounts() -> None:
    """The commented relay option, used for real: a slave fans the commune's mount out unchanged."""
    why = icecast_available()
    if why:
        pytest.skip(f"no icecast2 here: {why}")
    with IcecastServer(mounts=["thon-dong"], relay_password="relay-pw") as commune:
        sink = IcecastSink(commune.url("thon-dong"), commune.source_password, name="thon-dong")
        master = RelayMaster("127.0.0.1", commune.port, "relay-pw", update_interval_s=1)
        try:
            with IcecastServer(relay_master=master) as district:
                deadline = time.monotonic() + 8
                while district.sources() != ["/thon-dong"] and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert district.sources() == ["/thon-dong"], district.log_tail()
                with urllib.request.urlopen(district.url("thon-dong"), timeout=5) as resp:
                    data = resp.read(8000)
                assert find_frame_sync(data) is not None
        finally:
            sink.close()


@pytest.mark.parametrize("url", ["https://h:1/x", "http://h:1/", "http://h:1/a b", "thon-dong"])
def test_sink_refuses_a_bad_url_in_vietnamese(url: str) -> None:
    with pytest.raises(ZoneConfigError, match="không hợp lệ"):
        IcecastSink(url, "pw", name="thon-dong")

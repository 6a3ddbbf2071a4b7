"""The schedule editor cannot be turned against the machine: audio only from the station's folders, no alias bombs.

Over real HTTP on a real daemon: an operator's slot edit naming audio outside ``audio/`` and
``scripts_vi/`` (absolute, through ``..``, through a symlink) is refused with one message that
never tells whether the outside file exists; a file written by hand with YAML anchors and
aliases, or larger than the editor opens, is refused before ruamel builds anything. The same
audio rule holds for ``broadcaster check`` and for the daemon's reload (one loader for all).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from broadcaster.cli import main
from broadcaster.schedule.edit import MAX_DOCUMENT_CHARS, EditError, SlotChanges, edit_slot, slot_form
from broadcaster.schedule.versions import text_sha256
from tests.console.console_helpers import add_user, base_url, http_login
from tests.support.harness import Daemon, Project, local_now, write_silent_wav

OUTSIDE = "phải nằm trong thư mục audio/ hoặc scripts_vi/"
ALIASES = "neo '&' hoặc tham chiếu '*'"


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, httpx.Client, str, Path]]:
    root = tmp_path_factory.mktemp("bien-tap")
    outside = write_silent_wav(tmp_path_factory.mktemp("ngoai") / "outside.wav", 0.5)
    project = Project(root)
    project.slot("sang", local_now() + timedelta(hours=2))
    project.save()
    add_user(project, "lan", "operator")
    daemon = Daemon(project, {}, output=f"wav:{root / 'out'}").start()
    client, csrf = http_login(base_url(root), "lan")
    yield daemon, client, csrf, outside
    client.close()
    assert daemon.terminate() == 0


def text_now(daemon: Daemon) -> str:
    return daemon.project.schedule_path.read_text(encoding="utf-8")


def save_items(station: tuple[Daemon, httpx.Client, str, Path], items: list[dict[str, str]]) -> httpx.Response:
    daemon, client, csrf, _ = station
    body = {"base": text_sha256(text_now(daemon)), "items": items}
    return client.post("/console/api/schedule/slots/sang", json=body, headers={"X-CSRF-Token": csrf})


def shown_without(message: str, value: str) -> str:
    return message.replace(value, "<giá trị>")


@pytest.mark.slow
def test_the_editor_refuses_audio_outside_the_station_and_never_says_whether_it_exists(station) -> None:  # noqa: ANN001
    daemon, _, _, outside = station
    root = daemon.project.root
    (root / "audio" / "lien-ket.wav").symlink_to(outside)
    before = text_now(daemon)
    relative = os.path.relpath(outside, root)  # audio/../.. style: resolved, it leaves the station
    messages = {}
    for value in (str(outside), relative, "audio/lien-ket.wav", "/etc/shadow", "/etc/khong-co-tep-nay.wav"):
        r = save_items(station, [{"kind": "script", "value": "thu"}, {"kind": "audio", "value": value}])
        assert r.status_code == 400, (value, r.text)
        assert OUTSIDE in r.json()["error"], (value, r.json())
        assert text_now(daemon) == before, f"{value} was saved"
        messages[value] = shown_without(r.json()["error"], value)
    assert messages["/etc/shadow"] == messages["/etc/khong-co-tep-nay.wav"], messages
    # inside audio/, a real recording is still accepted
    write_silent_wav(root / "audio" / "loa.wav", 0.5)
    r = save_items(station, [{"kind": "script", "value": "thu"}, {"kind": "audio", "value": "audio/loa.wav"}])
    assert r.status_code == 200 and r.json()["status"] == "saved", r.text
    assert "audio: audio/loa.wav" in text_now(daemon)


@pytest.mark.slow
def test_a_hand_written_schedule_with_outside_audio_is_refused_by_the_daemon(station) -> None:  # noqa: ANN001
    daemon, _, _, outside = station
    good = text_now(daemon)
    mark = len(daemon.lines)
    daemon.project.save(re.sub(r"- script: \"?thu\"?", f"- audio: '{outside}'", good, count=1))
    refused = daemon.wait_for("TỪ CHỐI", timeout=10, start=mark)
    assert refused
    assert any(OUTSIDE in line for line in daemon.lines[mark:]), daemon.log()
    mark = len(daemon.lines)
    daemon.project.save(good)
    daemon.wait_for("Đã nạp lại lịch", timeout=10, start=mark)


def _bomb(levels: int) -> str:
    lines = ['x-bom: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"x-bom{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_the_editor_refuses_anchors_aliases_and_huge_files_before_building_them(station) -> None:  # noqa: ANN001
    daemon, client, csrf, _ = station
    good = text_now(daemon)
    try:
        # benign anchors the loader accepts, and an alias bomb (kept small here: 9⁵ strings)
        anchored = good.replace("    play:\n", "    play: &noi-dung\n", 1) + "# hết\n"
        for text in (anchored, good + _bomb(5)):
            daemon.project.save(text)
            got = client.get("/console/api/schedule/slots/sang")
            assert got.status_code == 400 and ALIASES in got.json()["error"], got.text
            r = save_items(station, [{"kind": "script", "value": "thu"}])
            assert r.status_code == 400 and ALIASES in r.json()["error"], r.text
            assert text_now(daemon) == text
        huge = good + "# " + "x" * MAX_DOCUMENT_CHARS + "\n"
        daemon.project.save(huge)
        got = client.get("/console/api/schedule/slots/sang")
        assert got.status_code == 400 and "quá lớn" in got.json()["error"], got.text[:300]
        r = save_items(station, [{"kind": "script", "value": "thu"}])
        assert r.status_code == 400 and "quá lớn" in r.json()["error"], r.text[:300]
        assert text_now(daemon) == huge
    finally:
        daemon.project.save(good)
    assert daemon.proc is not None and daemon.proc.poll() is None
    assert client.get("/console/api/schedule/slots/sang").status_code == 200
    assert csrf


# -- the same rules without a daemon ---------------------------------------------------------------


def test_check_reports_outside_audio_and_chime_with_their_position(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    outside = write_silent_wav(tmp_path / "ngoai" / "outside.wav", 0.5)
    station = tmp_path / "dai"
    project = Project(station)
    project.slot("sang", local_now() + timedelta(hours=2), play=[{"audio": str(outside)}])
    text = project.yaml_text().replace("chime: audio/chime.wav", "chime: ../ngoai/outside.wav")
    project.save(text)
    rc = main(["check", "--schedule", str(project.schedule_path)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if OUTSIDE in line]
    assert rc == 1 and len(lines) == 2, err
    numbers = [n for n, line in enumerate(text.splitlines(), 1) if "outside.wav" in line]
    for line, number in zip(lines, numbers, strict=True):
        assert re.match(rf"{re.escape(str(project.schedule_path))}:{number}:\d+: ", line), line
    assert str(tmp_path) not in "\n".join(lines).replace(str(project.schedule_path), "").replace(str(outside), "")


def test_the_shipped_schedule_still_checks() -> None:
    repo = Path(__file__).resolve().parents[2]
    assert main(["check", "--schedule", str(repo / "schedule.yaml")]) == 0


def test_edit_slot_refuses_aliases_and_huge_texts_without_expanding() -> None:
    text = "campaign: {name: x, start: 2026-04-17, end: 2026-04-26}\nslots:\n  - name: sang\n    at: '06:30'\n"
    bomb = text + _bomb(6)  # 9⁷ strings if anything expanded it (kept small: a regression must not eat the RAM)
    for bad in (bomb, text + "x: &a 1\ny: *a\n"):
        with pytest.raises(EditError, match="neo"):
            slot_form(bad, "sang")
        with pytest.raises(EditError, match="neo"):
            edit_slot(bad, "sang", SlotChanges(enabled=False))
    with pytest.raises(EditError, match="quá lớn"):
        slot_form(text + "#" * MAX_DOCUMENT_CHARS, "sang")
    assert "enabled: false" in edit_slot(text, "sang", SlotChanges(enabled=False))

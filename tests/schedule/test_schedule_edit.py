"""Editing schedule.yaml from the console: round-trip slot edits, validated saves, versions, restore."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

import pytest

from broadcaster import audit
from broadcaster.layout import Layout
from broadcaster.schedule.edit import (
    STALE_MESSAGE,
    EditError,
    SlotChanges,
    describe_changes,
    edit_slot,
    restore,
    save,
    save_slot,
    slot_form,
    slot_names,
)
from broadcaster.schedule.load import load_schedule
from broadcaster.schedule.versions import VersionError, VersionStore, text_sha256

REPO = Path(__file__).resolve().parents[2]
SHIPPED = (REPO / "schedule.yaml").read_text(encoding="utf-8")


@pytest.fixture
def station(tmp_path: Path) -> Path:
    """A copy of the shipped station: schedule.yaml (with its comments), scripts_vi/, the chime."""
    shutil.copytree(REPO / "scripts_vi", tmp_path / "scripts_vi")
    (tmp_path / "audio").mkdir()
    shutil.copy(REPO / "audio" / "chime.wav", tmp_path / "audio" / "chime.wav")
    path = tmp_path / "schedule.yaml"
    path.write_text(SHIPPED, encoding="utf-8")
    return path


def changed_lines(before: str, after: str) -> list[str]:
    """Lines removed (-) or added (+) by an edit."""
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def loaded_slot(path: Path, text: str, name: str):  # noqa: ANN201 - a model Slot
    path.write_text(text, encoding="utf-8")
    result = load_schedule(path)
    assert result.ok, [str(e) for e in result.errors]
    assert result.schedule is not None
    return next(s for s in result.schedule.slots if s.name == name)


# -- pure editing --------------------------------------------------------------------------------


def test_form_reads_the_slot_as_written() -> None:
    form = slot_form(SHIPPED, "dac-biet-21-4")
    assert form["times"] == ["07:00", "19:00"]
    assert form["dates"] == ["2026-04-21"]
    assert form["enabled"] is True and form["days"] == []
    assert [i["value"] for i in form["items"]][:2] == ["mo-dau", "khau-hieu"]
    assert SHIPPED.splitlines()[form["line"] - 1].strip() == "- name: dac-biet-21-4"
    assert slot_names(SHIPPED) == ["sang", "chieu", "dac-biet-21-4"]


def test_changing_a_time_touches_one_line_and_keeps_every_comment() -> None:
    new = edit_slot(SHIPPED, "sang", SlotChanges(times=("06:45",)))
    assert changed_lines(SHIPPED, new) == ['-    at: "06:30"', '+    at: "06:45"']
    comments = [line for line in SHIPPED.splitlines() if line.lstrip().startswith("#")]
    assert comments and all(c in new.splitlines() for c in comments)
    assert "device: null" in new and "voice: [gtts, espeak]" in new  # layout a re-dump would change


def test_disable_days_dates_and_items_are_written_and_load(station: Path) -> None:
    changes = SlotChanges(
        enabled=False,
        times=("06:15", "18:00"),
        days=("mon", "thứ tư"),
        dates=("2026-04-20", "2026-04-22"),
        items=(("script", "mo-dau"), ("text", 'Kính thưa "bà con"\nxin chào'), ("audio", "audio/chime.wav")),
    )
    new = edit_slot(SHIPPED, "sang", changes)
    slot = loaded_slot(station, new, "sang")
    assert slot.enabled is False
    assert [t.strftime("%H:%M") for t in slot.times] == ["06:15", "18:00"]
    assert slot.days == frozenset({0, 2})
    assert sorted(d.isoformat() for d in slot.dates or ()) == ["2026-04-20", "2026-04-22"]
    assert [(i.kind.value, i.value) for i in slot.play] == [
        ("script", "mo-dau"),
        ("text", 'Kính thưa "bà con"\nxin chào'),
        ("audio", "audio/chime.wav"),
    ]
    form = slot_form(new, "sang")
    assert form["days"] == ["mon", "wed"] and form["enabled"] is False
    # the play list keeps the file's indentation
    assert "      - script: mo-dau" in new.splitlines()
    # the other slots are byte for byte the same
    tail = SHIPPED[SHIPPED.index("  # Buổi chiều") :]
    assert new.endswith(tail)


def test_removing_dates_means_every_day_and_an_inline_comment_survives() -> None:
    text = SHIPPED.replace('at: ["07:00", "19:00"]', 'at: ["07:00", "19:00"]   # hai buổi')
    new = edit_slot(text, "dac-biet-21-4", SlotChanges(dates=(), times=("07:00", "19:30")))
    assert "dates:" not in new.split("dac-biet-21-4")[1]
    assert 'at: ["07:00", "19:30"]  # hai buổi' in new
    assert slot_form(new, "dac-biet-21-4")["dates"] == []


def test_a_slot_whose_first_key_is_removed_stays_a_list_item() -> None:
    text = SHIPPED.replace("  - name: sang\n    at:", "  - days: [mon]\n    name: sang\n    at:")
    new = edit_slot(text, "sang", SlotChanges(days=()))
    assert slot_form(new, "sang")["days"] == []
    assert slot_names(new) == ["sang", "chieu", "dac-biet-21-4"]


def test_last_slot_before_another_section_and_file_without_final_newline() -> None:
    text = SHIPPED.rstrip("\n") + "\n\n# cuối tệp\napi:\n  port: 8687"
    new = edit_slot(text, "dac-biet-21-4", SlotChanges(enabled=False, items=(("script", "ket-thuc"),)))
    assert new.endswith("\n# cuối tệp\napi:\n  port: 8687\n")
    form = slot_form(new, "dac-biet-21-4")
    assert form["enabled"] is False and form["items"] == [{"kind": "script", "value": "ket-thuc"}]


def test_windows_line_ends_are_kept() -> None:
    text = SHIPPED.replace("\n", "\r\n")
    new = edit_slot(text, "chieu", SlotChanges(enabled=False, items=(("script", "mo-dau"), ("script", "ket-thuc"))))
    assert "\n" not in new.replace("\r\n", "")
    assert slot_form(new, "chieu")["enabled"] is False


def test_unknown_slot_and_empty_values_get_vietnamese_errors() -> None:
    with pytest.raises(EditError, match="Không có buổi phát 'toi'.*sang, chieu, dac-biet-21-4"):
        edit_slot(SHIPPED, "toi", SlotChanges(enabled=False))
    with pytest.raises(EditError, match="ít nhất một giờ phát"):
        edit_slot(SHIPPED, "sang", SlotChanges(times=()))
    with pytest.raises(EditError, match="ít nhất một nội dung"):
        edit_slot(SHIPPED, "sang", SlotChanges(items=()))
    with pytest.raises(EditError, match="không hợp lệ"):
        edit_slot(SHIPPED, "sang", SlotChanges(items=(("video", "x"),)))
    with pytest.raises(EditError, match="lỗi cú pháp"):
        edit_slot("slots: [\n", "sang", SlotChanges(enabled=False))


def test_flow_style_slot_is_refused_not_damaged() -> None:
    text = "campaign: {name: x}\nslots:\n  - {name: a, at: '06:00', play: [{text: x}]}\n"
    with pytest.raises(EditError, match="sửa trực tiếp"):
        edit_slot(text, "a", SlotChanges(times=("07:00",)))


def test_values_cannot_inject_yaml() -> None:
    new = edit_slot(SHIPPED, "sang", SlotChanges(times=('06:30"\n    enabled: false\n    x: "',)))
    form = slot_form(new, "sang")
    assert form["enabled"] is True and len(form["times"]) == 1
    assert slot_names(new) == ["sang", "chieu", "dac-biet-21-4"]


def test_describe_changes_in_vietnamese() -> None:
    before = slot_form(SHIPPED, "sang")
    after = slot_form(edit_slot(SHIPPED, "sang", SlotChanges(enabled=False, times=("06:45",))), "sang")
    assert describe_changes(before, after) == "buổi 'sang': tắt; giờ 06:30 → 06:45"


# -- saving ------------------------------------------------------------------------------------


def test_save_keeps_versions_with_who_writes_the_file_and_audits(station: Path) -> None:
    layout = Layout.at(station.parent)
    base = text_sha256(SHIPPED)
    result = save_slot(
        station, "sang", SlotChanges(times=("06:45",)), base=base, who="lan", where="console 10.0.0.5", layout=layout
    )
    assert result.ok and result.status == "saved", result.message
    on_disk = station.read_text(encoding="utf-8")
    assert 'at: "06:45"' in on_disk and "# Buổi sáng hằng ngày" in on_disk
    assert load_schedule(station).ok
    store = VersionStore.of(layout)
    newest, previous = store.versions()
    assert (newest.who, newest.where, newest.reason) == ("lan", "console 10.0.0.5", "buổi 'sang': giờ 06:30 → 06:45")
    assert newest.sha256 == text_sha256(on_disk) and store.saved_here(on_disk)
    assert store.get(previous.id)[1] == SHIPPED  # the text before the edit is kept
    entries = list(audit.entries(layout.audit_log))
    assert [(e.who, e.action) for e in entries] == [("lan", "schedule_edit")]
    assert entries[0].detail["version"] == newest.id
    assert any("06:45" in line for line in entries[0].detail["diff"])


def test_a_bad_edit_is_refused_with_the_loaders_message_and_the_file_untouched(station: Path) -> None:
    layout = Layout.at(station.parent)
    before = station.read_bytes()
    result = save_slot(
        station, "sang", SlotChanges(times=("25:99",)), base=text_sha256(SHIPPED), who="lan", where="x", layout=layout
    )
    assert result.status == "invalid" and not result.ok
    line = SHIPPED.splitlines().index('    at: "06:30"') + 1
    assert result.errors and result.errors[0].line == line
    assert "25:99" in result.errors[0].message
    assert result.errors[0].path == station  # not the temp file
    assert f"dòng {line}" in result.message
    assert station.read_bytes() == before
    assert VersionStore.of(layout).versions() == []
    assert not list(station.parent.glob(".*.part"))
    missing = save_slot(
        station,
        "sang",
        SlotChanges(items=(("script", "khong-co"),)),
        base=text_sha256(SHIPPED),
        who="lan",
        where="x",
        layout=layout,
    )
    assert missing.status == "invalid" and "không tìm thấy kịch bản 'khong-co'" in missing.errors[0].message
    assert station.read_bytes() == before


def test_a_stale_base_is_refused(station: Path) -> None:
    layout = Layout.at(station.parent)
    base = text_sha256(SHIPPED)
    hand_edited = SHIPPED.replace('at: "17:00"', 'at: "17:30"')
    station.write_text(hand_edited, encoding="utf-8")  # someone edits by hand meanwhile
    result = save_slot(station, "sang", SlotChanges(enabled=False), base=base, who="lan", where="x", layout=layout)
    assert result.status == "stale" and result.message == STALE_MESSAGE
    assert station.read_text(encoding="utf-8") == hand_edited
    direct = save(station, SHIPPED, who="lan", where="x", layout=layout, base=base)
    assert direct.status == "stale"


def test_unknown_slot_on_save_is_a_vietnamese_refusal(station: Path) -> None:
    layout = Layout.at(station.parent)
    result = save_slot(
        station, "toi", SlotChanges(enabled=False), base=text_sha256(SHIPPED), who="a", where="x", layout=layout
    )
    assert result.status == "invalid" and "Không có buổi phát 'toi'" in result.message


def test_restore_brings_back_an_old_version_as_a_new_one(station: Path) -> None:
    layout = Layout.at(station.parent)
    first = save_slot(
        station, "sang", SlotChanges(times=("06:45",)), base=text_sha256(SHIPPED), who="lan", where="x", layout=layout
    )
    assert first.version is not None
    second_text = station.read_text(encoding="utf-8")
    second = save_slot(
        station,
        "chieu",
        SlotChanges(enabled=False),
        base=text_sha256(second_text),
        who="minh",
        where="y",
        layout=layout,
    )
    assert second.ok
    original = VersionStore.of(layout).versions()[-1]
    result = restore(station, original.id, who="admin", where="console", layout=layout)
    assert result.status == "saved" and result.version is not None
    assert station.read_text(encoding="utf-8") == SHIPPED
    assert result.version.reason == f"khôi phục phiên bản số {original.id}"
    assert [v.id for v in VersionStore.of(layout).versions()] == [4, 3, 2, 1]
    last = list(audit.entries(layout.audit_log))[-1]
    assert last.who == "admin" and last.detail["restored"] == original.id
    assert restore(station, 99, who="admin", where="x", layout=layout).message.startswith("Không có phiên bản số 99")


def test_restore_of_a_version_that_no_longer_loads_is_refused(station: Path) -> None:
    layout = Layout.at(station.parent)
    store = VersionStore.of(layout)
    with store.locked():
        bad = store.add(SHIPPED.replace("mo-dau", "da-xoa"), who="lan", where="x", reason="r")
    result = restore(station, bad.id, who="admin", where="x", layout=layout)
    assert result.status == "invalid" and "da-xoa" in result.errors[0].message
    assert station.read_text(encoding="utf-8") == SHIPPED


def test_a_tampered_version_is_refused(station: Path) -> None:
    store = VersionStore.of(Layout.at(station.parent))
    with store.locked():
        v = store.add(SHIPPED, who="lan", where="x", reason="r")
    store.file_of(v.id).write_text(SHIPPED + "# sửa lén\n", encoding="utf-8")
    with pytest.raises(VersionError, match="mã kiểm tra không khớp"):
        store.get(v.id)


def test_a_torn_index_line_is_skipped(station: Path) -> None:
    store = VersionStore.of(Layout.at(station.parent))
    with store.locked():
        store.add(SHIPPED, who="lan", where="x", reason="r")
    with open(store.index_path, "a", encoding="utf-8") as fh:
        fh.write('{"id": 2, "at": "2026-')
    assert [v.id for v in store.versions()] == [1]
    with store.locked():
        assert store.add("x: 1\n", who="b", where="y", reason="r").id == 2
    assert json.loads(store.index_path.read_text().splitlines()[-1])["who"] == "b"


def test_an_unchanged_save_writes_nothing(station: Path) -> None:
    layout = Layout.at(station.parent)
    result = save(station, SHIPPED, who="lan", where="x", layout=layout, base=text_sha256(SHIPPED))
    assert result.status == "unchanged" and result.ok
    assert VersionStore.of(layout).versions() == []

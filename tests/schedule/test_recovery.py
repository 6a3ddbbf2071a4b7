"""All errors at once: a Tab or an open quote no longer hides the rest of the file (issue 14 items 3, 4, 9),
and the declared schema (issue 9): policy.require_approval, dates for people, one day parser."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from broadcaster import fmt
from broadcaster.cli import main
from broadcaster.schedule import load, model
from broadcaster.schedule.load import load_schedule

CAMPAIGN = "campaign:\n  name: ATTP\n  start: 2026-12-07\n  end: 2026-12-13\n"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    scripts = tmp_path / "scripts_vi"
    scripts.mkdir()
    (scripts / "attp-huong-dan.txt").write_text("Kính thưa bà con.\n", encoding="utf-8")
    return tmp_path


def errors_of(workdir: Path, text: str) -> list[tuple[int, int, str]]:
    (workdir / "s.yaml").write_text(text, encoding="utf-8")
    result = load_schedule(workdir / "s.yaml")
    return [(d.line, d.col, d.message) for d in sorted(result.errors + result.warnings, key=lambda d: (d.line, d.col))]


def test_a_tab_does_not_hide_the_other_mistakes(workdir, capsys):
    text = (
        CAMPAIGN  # lines 1-4
        + "slots:\n"  # 5
        "  - name: sang\n"  # 6
        '\tat: "06:30"\n'  # 7: a Tab instead of four spaces
        "    play:\n"  # 8
        "      - script: attp-huong-dan\n"  # 9
        "  - name: chieu\n"  # 10
        '    at: "25:00"\n'  # 11: an impossible time
        "    dates: [2026-12-10, 2026-12-14]\n"  # 12: the 14th is after the campaign
        "    play:\n"  # 13
        "      - script: attp-huong-dn\n"  # 14: misspelled
    )
    found = errors_of(workdir, text)
    assert [(line, col) for line, col, _ in found] == [(7, 1), (11, 9), (12, 25), (14, 17)], found
    assert "Tab" in found[0][2]
    assert "'25:00' không tồn tại" in found[1][2]
    assert "14/12/2026" in found[2][2] and "ngoài thời gian chiến dịch" in found[2][2]
    assert "có phải ý bạn là 'attp-huong-dan'?" in found[3][2]
    # and `check` prints all four, with exit 1
    assert main(["check", "--schedule", str(workdir / "s.yaml")]) == 1
    err = capsys.readouterr().err
    assert sum(line.startswith(f"{workdir / 's.yaml'}:") for line in err.splitlines()) == 4


def test_columns_after_a_widened_tab_are_those_of_the_file(workdir):
    text = CAMPAIGN + 'slots:\n  - name: sang\n\tat: "24:00"\n    play:\n      - script: attp-huong-dan\n'
    found = errors_of(workdir, text)
    # the Tab at 7:1; the bad time starts at column 6 of the line as written (Tab = one character)
    assert [(line, col) for line, col, _ in found] == [(7, 1), (7, 6)], found


def test_several_tabs_are_all_reported(workdir):
    text = (
        "campaign:\n\tname: ATTP\n\tstart: 2026-12-07\n  end: 2026-12-13\n"
        'slots:\n  - name: sang\n\tat: "06:30"\n    play:\n      - script: attp-huong-dan\n'
    )
    found = errors_of(workdir, text)
    assert [(line, col) for line, col, _ in found] == [(2, 1), (3, 1), (7, 1)], found
    assert all("Tab" in message for _, _, message in found)


def test_unclosed_quote_points_at_the_opening_quote(workdir, capsys):
    text = (
        CAMPAIGN + "slots:\n"  # 5
        "  - name: sang\n"  # 6
        '    at: "09:00\n'  # 7: the quote is never closed
        "    play:\n"  # 8
        "      - script: attp-huong-dan\n"  # 9
        "  - name: chieu\n"  # 10
        '    at: "17:00"\n'  # 11: PyYAML used to complain here
        "    enabled: maybe\n"  # 12: and this is still found
        "    play:\n"
        '      - text: "Xin chào bà con"\n'
    )
    found = errors_of(workdir, text)
    assert [(line, col) for line, col, _ in found] == [(7, 9), (12, 14)], found
    assert 'dấu ngoặc kép " mở ở đây chưa được đóng' in found[0][2]
    assert "thụt lề" not in found[0][2]
    assert main(["check", "--schedule", str(workdir / "s.yaml")]) == 1
    assert ":7:9: " in capsys.readouterr().err


def test_unclosed_single_quote_at_end_of_file(workdir):
    text = CAMPAIGN + "slots:\n  - name: sang\n    play:\n      - script: attp-huong-dan\n    at: '06:30\n"
    found = errors_of(workdir, text)
    assert [(line, col) for line, col, _ in found] == [(9, 9)], found
    assert "dấu ngoặc đơn ' mở ở đây chưa được đóng" in found[0][2]


def test_a_control_character_does_not_hide_the_rest(workdir):
    text = CAMPAIGN.replace("ATTP", "AT\x07TP") + "slots:\n  - name: sang\n    at: '26:00'\n    play: [{text: a}]\n"
    found = errors_of(workdir, text)
    assert [(line, col) for line, col, _ in found] == [(2, 11), (7, 9)], found
    assert "ký tự điều khiển" in found[0][2]


def test_require_approval_is_declared(workdir):
    base = CAMPAIGN + "slots:\n  - {name: a, at: '07:00', play: [{text: Chào}]}\n"
    (workdir / "s.yaml").write_text(base, encoding="utf-8")
    assert load_schedule(workdir / "s.yaml").schedule.policy.require_approval is False
    (workdir / "s.yaml").write_text(base + "policy: {require_approval: true}\n", encoding="utf-8")
    assert load_schedule(workdir / "s.yaml").schedule.policy.require_approval is True
    found = errors_of(workdir, base + "policy:\n  require_aproval: có\n  require_approval: 2\n")
    assert [(line, col) for line, col, _ in found] == [(8, 3), (9, 21)], found
    assert "có phải ý bạn là 'require_approval'?" in found[0][2]
    assert "policy.require_approval phải là true (bật) hoặc false (tắt)" in found[1][2]


def test_messages_write_days_as_people_read_them(workdir):
    text = "campaign: {name: t, start: 2026-12-13, end: 7.12.2026}\nslots: []\n"
    found = errors_of(workdir, text)
    assert "ngày kết thúc 07/12/2026 trước ngày bắt đầu 13/12/2026" in found[0][2]


def test_parse_day_is_the_shared_one():
    assert load.parse_day is fmt.parse_day
    assert load.parse_day("21.4.2026") == load.parse_day("2026-4-21")


def test_every_model_field_is_declared_except_what_the_loader_supplies():
    """The model is the schema: a new attribute without a YAML declaration would silently never be read."""
    undeclared = {
        f"{cls.__name__}.{f.name}"
        for cls in (model.Campaign, model.Policy, model.Defaults, model.Output, model.Api, model.Slot, model.Schedule)
        for f in dataclasses.fields(cls)
        if "schedule.yaml" not in f.metadata
    }
    assert undeclared == {"Slot.line", "Schedule.path"}


def test_a_tab_in_a_nested_list_keeps_the_list(workdir):
    text = (
        CAMPAIGN
        + "slots:\n  - name: sang\n    at: '06:30'\n    play:\n\t  - script: attp-huong-dan\n\t  - text: Chào\n"
    )
    (workdir / "s.yaml").write_text(text, encoding="utf-8")
    result = load_schedule(workdir / "s.yaml")
    assert [(e.line, e.col) for e in result.errors] == [(9, 1), (10, 1)]
    assert all("Tab" in e.message for e in result.errors)


def test_the_pure_python_parser_gives_the_same_schedule(workdir, monkeypatch):
    """libyaml is only a faster first pass: without it the result is the same."""
    import yaml

    text = (
        CAMPAIGN
        + "policy: {earliest: 06:00, require_approval: on}\nslots:\n  - {name: a, at: '05:00', play: [{text: Chào}]}\n"
    )
    (workdir / "s.yaml").write_text(text, encoding="utf-8")
    fast = load_schedule(workdir / "s.yaml")
    monkeypatch.delattr(yaml, "CSafeLoader")
    slow = load_schedule(workdir / "s.yaml")
    assert fast.ok and slow.ok
    assert fast.schedule == slow.schedule and fast.schedule.policy.require_approval is True
    assert [str(w) for w in fast.warnings] == [str(w) for w in slow.warnings] != []

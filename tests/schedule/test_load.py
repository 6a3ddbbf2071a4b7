"""Loading and checking schedule.yaml: every broken file gives exit 1 and the exact line:column."""

from __future__ import annotations

import shutil
from datetime import date, time
from pathlib import Path

import pytest

from broadcaster.cli import main
from broadcaster.schedule.load import Diagnostic, load_schedule
from broadcaster.schedule.model import ItemKind, Priority
from tests.support.harness import write_silent_wav as write_wav

BROKEN = Path(__file__).parent / "broken"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A schedule folder with the scripts and audio the fixtures refer to."""
    scripts = tmp_path / "scripts_vi"
    scripts.mkdir()
    (scripts / "mot.txt").write_text("Kính thưa bà con, xin chào.\n", encoding="utf-8")
    (scripts / "latin1.txt").write_bytes("Xin chào bà con\n".encode("latin-1", "replace"))
    (scripts / "rong.txt").write_text("  \n\n", encoding="utf-8")
    (scripts / "dai.txt").write_text(" ".join(["chào"] * 400) + "\n", encoding="utf-8")
    write_wav(tmp_path / "audio" / "chime.wav", 1.0)
    return tmp_path


def check(workdir: Path, name: str, capsys) -> tuple[int, list[str], str]:
    """Run ``broadcaster check`` on a copy of a fixture; return exit code, diagnostic lines, stdout."""
    target = workdir / name
    shutil.copy(BROKEN / name, target)
    rc = main(["check", "--schedule", str(target)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out
    lines = [line for line in err.splitlines() if line.startswith(str(target) + ":")]
    return rc, lines, out


# file → [(line, col, keyword in the message)], one error class per file
ERROR_CASES: dict[str, list[tuple[int, int, str]]] = {
    "syntax-tab.yaml": [(3, 1, "Tab")],
    "syntax-indent.yaml": [(8, 4, "thụt lề")],
    "syntax-unclosed-quote.yaml": [(2, 9, "chưa được đóng")],
    "duplicate-key.yaml": [(11, 5, "bị lặp lại")],
    "unknown-key.yaml": [(8, 5, "có phải ý bạn là 'repeat'?")],
    "wrong-type.yaml": [(8, 13, "số nguyên")],
    "bad-time.yaml": [(7, 9, "'25:00' không tồn tại")],
    "bad-date.yaml": [(4, 8, "chỉ có 28 ngày")],
    "end-before-start.yaml": [(4, 8, "trước ngày bắt đầu")],
    "unknown-timezone.yaml": [(5, 13, "Asia/Ho_Chi_Minh")],
    "missing-script.yaml": [(10, 17, "không tìm thấy kịch bản 'khau-hieu'")],
    "missing-audio.yaml": [(10, 16, "không tìm thấy tệp âm thanh")],
    "empty-play.yaml": [(8, 11, "play của buổi phát 'sang' trống")],
    "non-utf8-script.yaml": [(9, 17, "UTF-8")],
    "non-utf8-schedule.yaml": [(2, 11, "UTF-8")],
    "empty-script.yaml": [(9, 17, "trống")],
    "empty.yaml": [(1, 1, "tệp lịch trống")],
    "duplicate-slot-name.yaml": [(10, 11, "bị trùng")],
    "unknown-weekday.yaml": [(8, 22, "'wensday'")],
    "emergency-priority.yaml": [(8, 15, "khẩn cấp")],
    "missing-campaign-key.yaml": [(1, 1, "thiếu khóa bắt buộc 'end'")],
    "three-errors.yaml": [(7, 9, "'06:61'"), (12, 14, "true"), (14, 17, "'hai'")],
}


@pytest.mark.parametrize("name", sorted(ERROR_CASES))
def test_broken_schedule_reports_exact_position(workdir, capsys, name):
    rc, lines, out = check(workdir, name, capsys)
    expected = ERROR_CASES[name]
    assert rc == 1
    assert out == ""
    # all errors at once, in file order, nothing else
    assert len(lines) == len(expected), lines
    for line, (lno, col, keyword) in zip(lines, expected, strict=True):
        assert line.startswith(f"{workdir / name}:{lno}:{col}: "), line
        assert keyword in line, line


def test_every_fixture_has_a_case():
    fixtures = {p.name for p in BROKEN.glob("*.yaml")}
    assert fixtures == set(ERROR_CASES) | {"warn-policy.yaml", "warn-date-outside.yaml"}


def test_policy_breaches_are_warnings_with_lines(workdir, capsys):
    rc, lines, out = check(workdir, "warn-policy.yaml", capsys)
    assert rc == 0
    assert len(lines) == 3, lines
    prefix = str(workdir / "warn-policy.yaml")
    assert lines[0].startswith(f"{prefix}:11:10: cảnh báo:") and "sớm hơn" in lines[0]
    assert lines[1].startswith(f"{prefix}:15:9: cảnh báo:") and "muộn hơn" in lines[1]
    assert lines[2].startswith(f"{prefix}:20:5: cảnh báo:") and "vượt giới hạn 1 phút" in lines[2]
    assert out.startswith("Lịch phát hợp lệ: 3 buổi phát")


def test_date_outside_campaign_is_a_warning(workdir, capsys):
    rc, lines, out = check(workdir, "warn-date-outside.yaml", capsys)
    assert rc == 0
    assert len(lines) == 1
    assert lines[0].startswith(f"{workdir / 'warn-date-outside.yaml'}:8:25: cảnh báo:")
    # dates for people are dd/mm/yyyy, like everywhere else (issue 14 item 9)
    assert "01/05/2026" in lines[0] and "ngoài thời gian chiến dịch" in lines[0]
    assert "17/04/2026 → 26/04/2026" in lines[0] and "2026-" not in lines[0]
    assert "1 lần phát" in out


def test_session_ending_after_latest_is_a_warning(workdir):
    (workdir / "s.yaml").write_text(
        "campaign: {name: t, start: 2026-04-17, end: 2026-04-17}\n"
        "slots:\n"
        "  - name: toi\n"
        '    at: "20:59"\n'
        "    play:\n"
        "      - script: dai\n",
        encoding="utf-8",
    )
    result = load_schedule(workdir / "s.yaml")
    assert result.ok
    assert [(w.line, w.col) for w in result.warnings] == [(4, 9)]
    assert "quá giờ cho phép" in result.warnings[0].message


def test_missing_file_is_one_error_not_an_exception(tmp_path, capsys):
    result = load_schedule(tmp_path / "nope.yaml")
    assert not result.ok and result.schedule is None
    assert len(result.errors) == 1
    assert str(result.errors[0]).startswith(f"{tmp_path / 'nope.yaml'}:1:1: không tìm thấy")
    assert main(["check", "--schedule", str(tmp_path / "nope.yaml")]) == 1
    assert "không tìm thấy tệp lịch phát" in capsys.readouterr().err


def test_directory_instead_of_file(tmp_path):
    result = load_schedule(tmp_path)
    assert len(result.errors) == 1 and "thư mục" in result.errors[0].message


def test_diagnostic_str():
    d = Diagnostic(Path("schedule.yaml"), 12, 5, "lỗi", "error")
    assert str(d) == "schedule.yaml:12:5: lỗi"


def test_yaml_11_pitfalls_are_read_as_the_operator_meant(workdir):
    (workdir / "s.yaml").write_text(
        """\
campaign:
  name: 2026
  start: 17/04/2026
  end: 2026-04-26
policy: {earliest: 06:00, latest: 21:30:00}
defaults: {repeat: 3, gap_seconds: 1.5, voice: espeak:vi-vn-x-south, chime: audio/chime.wav}
output: {device: 2}
state_dir: var/state
slots:
  - name: on
    at: [06:00, 17:00:30]
    days: [t2, CN, sat]
    enabled: off
    chime: null
    play:
      - script: mot.txt
      - text: "Xin chào"
  - name: yes
    at: 12:00
    priority: ưu tiên
    play:
      - audio: audio/chime.wav
""",
        encoding="utf-8",
    )
    result = load_schedule(workdir / "s.yaml")
    assert result.ok, [str(e) for e in result.errors]
    s = result.schedule
    assert s.campaign.name == "2026"
    assert s.campaign.start == date(2026, 4, 17)
    assert s.policy.earliest == time(6, 0) and s.policy.latest == time(21, 30)
    assert s.defaults.repeat == 3 and s.defaults.gap_seconds == 1.5
    assert s.defaults.voice == ("espeak:vi-vn-x-south",)
    assert s.defaults.chime == workdir / "audio" / "chime.wav"
    assert s.output.device == 2
    assert s.state_path == workdir / "var" / "state"
    first, second = s.slots
    assert first.name == "on" and second.name == "yes"
    assert first.times == (time(6, 0), time(17, 0, 30))
    assert first.days == frozenset({0, 5, 6})
    assert first.enabled is False
    assert first.chime is None  # explicit null disables the default chime
    assert first.repeat == 3 and first.gap_seconds == 1.5
    assert [i.kind for i in first.play] == [ItemKind.SCRIPT, ItemKind.TEXT]
    assert first.play[0].value == "mot" and first.play[0].path == workdir / "scripts_vi" / "mot.txt"
    assert first.line == 10
    assert second.priority is Priority.PRIORITY
    assert second.chime == workdir / "audio" / "chime.wav"
    assert second.play[0].path == workdir / "audio" / "chime.wav"


def test_optional_sections_take_defaults(workdir):
    (workdir / "s.yaml").write_text(
        "campaign: {name: t, start: 2026-04-17, end: 2026-04-18}\n"
        "policy:\n"
        "slots:\n"
        "  - {name: a, at: '07:00', play: [{text: Chào}]}\n",
        encoding="utf-8",
    )
    result = load_schedule(workdir / "s.yaml")
    assert result.ok, [str(e) for e in result.errors]
    s = result.schedule
    assert s.campaign.timezone.key == "Asia/Ho_Chi_Minh"
    assert s.policy.max_session_minutes == 45
    assert s.defaults.chime is None and s.defaults.repeat == 2
    assert s.api.port == 8686 and s.output.device is None
    assert s.state_path == workdir / "state"


def test_unknown_voice_engine_is_a_warning(workdir):
    (workdir / "s.yaml").write_text(
        "campaign: {name: t, start: 2026-04-17, end: 2026-04-18}\n"
        "defaults: {voice: [gtts, espek]}\n"
        "slots:\n"
        "  - {name: a, at: '07:00', play: [{text: Chào}]}\n",
        encoding="utf-8",
    )
    result = load_schedule(workdir / "s.yaml")
    assert result.ok
    assert [(w.line, w.col) for w in result.warnings] == [(2, 26)]
    assert "espeak" in result.warnings[0].message


def test_many_errors_in_one_slot_are_all_reported(workdir):
    (workdir / "s.yaml").write_text(
        "campaign: {name: t, start: 2026-04-17, end: 2026-04-18}\n"
        "slots:\n"
        "  - name: a\n"
        "    at: [6h30]\n"
        "    days: [funday]\n"
        "    gap_seconds: -1\n"
        "    priority: urgent\n"
        "    play:\n"
        "      - script: a\n"
        "        text: b\n"
        "      - khau-hieu\n",
        encoding="utf-8",
    )
    result = load_schedule(workdir / "s.yaml")
    assert result.schedule is None
    assert [(e.line, e.col) for e in result.errors] == [(4, 10), (5, 12), (6, 18), (7, 15), (9, 9), (11, 9)]
    assert "HH:MM" in result.errors[0].message
    assert "script: khau-hieu" in result.errors[-1].message


def test_unexpected_exception_is_reported_in_vietnamese(workdir, capsys, monkeypatch):
    import broadcaster.schedule.load as load

    def boom(path):
        raise RuntimeError("hỏng")

    monkeypatch.setattr(load, "load_schedule", boom)
    assert main(["check", "--schedule", str(workdir / "x.yaml")]) == 1
    err = capsys.readouterr().err
    assert "Lỗi ngoài dự kiến" in err and "Traceback" not in err


def test_shipped_schedule_passes_check(capsys):
    rc = main(["check", "--schedule", str(REPO / "schedule.yaml")])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert err == ""  # no warnings either: every session is within policy
    assert out.startswith("Lịch phát hợp lệ: 3 buổi phát, 22 lần phát")


def test_corrupt_audio_and_impossible_year(workdir):
    (workdir / "audio" / "hong.mp3").write_bytes(b"not really audio" * 64)
    (workdir / "s.yaml").write_text(
        "campaign: {name: t, start: 0000-01-01, end: 2026-04-18}\n"
        "slots:\n"
        "  - name: a\n"
        "    at:\n"
        "    play:\n"
        "      - audio: audio/hong.mp3\n",
        encoding="utf-8",
    )
    result = load_schedule(workdir / "s.yaml")
    assert [(e.line, e.col) for e in result.errors] == [(1, 28), (4, 8), (6, 16)]
    assert "năm" in result.errors[0].message
    assert "at của buổi phát 'a' trống" in result.errors[1].message
    assert "không đọc được tệp âm thanh" in result.errors[2].message

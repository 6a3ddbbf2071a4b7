"""The audit trail: a hash chain in a JSON-lines file; tampering shows, concurrent appends do not break it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from broadcaster import audit
from broadcaster.cli import main

SCHEDULE_YAML = """\
campaign:
  name: "Thử nhật ký thao tác"
  start: 2026-04-20
  end: 2026-04-22
  timezone: Asia/Ho_Chi_Minh
slots:
  - name: sang
    at: ["06:30"]
    play:
      - script: mo-dau
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "scripts_vi").mkdir()
    (tmp_path / "scripts_vi" / "mo-dau.txt").write_text("Kính thưa bà con.\n", encoding="utf-8")
    path = tmp_path / "schedule.yaml"
    path.write_text(SCHEDULE_YAML, encoding="utf-8")
    return path


def fixed(day: int, hour: int):
    return lambda: datetime(2026, 4, day, hour, tzinfo=UTC)


def write_three(path: Path) -> None:
    audit.append(path, who="lan", where="cli", action="say", detail={"text": "Họp dân lúc 8 giờ"}, clock=fixed(20, 1))
    audit.append(path, who="lan", where="api 127.0.0.1", action="stop", clock=fixed(21, 2))
    audit.append(
        path, who="chủ tịch", where="console", action="approve", detail={"script": "mo-dau"}, clock=fixed(22, 3)
    )


def test_chain_links_every_line_and_verifies(tmp_path: Path):
    path = tmp_path / "state" / audit.AUDIT_FILENAME
    write_three(path)
    lines = path.read_bytes().splitlines()
    first, second = json.loads(lines[0]), json.loads(lines[1])
    assert (first["seq"], second["seq"], first["prev"]) == (1, 2, audit.GENESIS)
    assert second["prev"] == audit._sha(lines[0])
    assert first["at"] == "2026-04-20T01:00:00.000+00:00" and first["detail"] == {"text": "Họp dân lúc 8 giờ"}
    assert audit.verify(path) == []
    assert [e.action_vi for e in audit.entries(path)] == ["phát ngay văn bản", "dừng buổi đang phát", "duyệt nội dung"]
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "edit, line, words",
    [
        (lambda ls: ls.__setitem__(1, ls[1].replace(b'"lan"', b'"an"')), 2, "đã bị sửa"),
        (lambda ls: ls.pop(1), 2, "không nối với dòng trước"),
        (lambda ls: ls.insert(1, ls[0]), 2, "không nối với dòng trước"),
        (lambda ls: ls.__setitem__(2, b"{not json"), 3, "không đọc được"),
    ],
)
def test_hand_edited_file_fails_verify_naming_the_line(tmp_path: Path, edit, line, words):
    path = tmp_path / audit.AUDIT_FILENAME
    write_three(path)
    lines = path.read_bytes().splitlines()
    edit(lines)
    path.write_bytes(b"\n".join(lines) + b"\n")
    problems = audit.verify(path)
    assert problems and problems[0].startswith(f"dòng {line}:") and words in problems[0]


def test_recomputing_one_lines_hash_still_breaks_the_next_link(tmp_path: Path):
    path = tmp_path / audit.AUDIT_FILENAME
    write_three(path)
    lines = path.read_bytes().splitlines()
    entry = json.loads(lines[0])
    entry["who"] = "người khác"
    entry["hash"] = audit.entry_hash(entry)  # a careful forger fixes the line's own hash…
    lines[0] = audit._canonical(entry).encode()
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert [p.split(":")[0] for p in audit.verify(path)] == ["dòng 2"]  # …and line 2 gives it away


def test_torn_last_line_is_reported_and_appending_goes_on(tmp_path: Path):
    path = tmp_path / audit.AUDIT_FILENAME
    write_three(path)
    with open(path, "ab") as fh:
        fh.write(b'{"seq": 4, "at": "2026')  # a power cut in the middle of a write
    audit.append(path, who="lan", where="cli", action="say")
    problems = audit.verify(path)
    assert len(problems) == 1 and problems[0].startswith("dòng 4:")
    assert [e.seq for e in audit.entries(path)] == [1, 2, 3, 5]


def test_concurrent_appends_from_threads_and_processes_keep_the_chain(tmp_path: Path):
    path = tmp_path / audit.AUDIT_FILENAME
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(25):
                audit.append(path, who=f"t{n}", where="api 127.0.0.1", action="say", detail={"i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    script = (
        "import sys; from broadcaster import audit\n"
        "for i in range(25): audit.append(sys.argv[1], who='cli', where='cli', action='stop')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)]) for _ in range(2)]
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert not errors
    assert audit.verify(path) == []
    assert [e.seq for e in audit.entries(path)] == list(range(1, 151))


def test_audit_command_lists_filters_and_verifies(project: Path, capsys):
    path = audit.audit_path(project.parent / "state")
    write_three(path)
    assert main(["audit", "--schedule", str(project)]) == 0
    out = capsys.readouterr().out
    assert "20/04/2026 08:00:00  lan (cli): phát ngay văn bản — text: Họp dân lúc 8 giờ" in out
    assert "3 thao tác." in out
    assert main(["audit", "--schedule", str(project), "--from", "21/4/2026", "--to", "21/4/2026"]) == 0
    out = capsys.readouterr().out
    assert "dừng buổi đang phát" in out and "phát ngay văn bản" not in out and "1 thao tác." in out
    assert main(["audit", "--schedule", str(project), "--json"]) == 0
    assert [e["action"] for e in json.loads(capsys.readouterr().out)] == ["say", "stop", "approve"]
    assert main(["audit", "--schedule", str(project), "--verify"]) == 0
    assert "nguyên vẹn: 3 thao tác" in capsys.readouterr().out

    lines = path.read_bytes().splitlines()
    lines[1] = lines[1].replace(b"stop", b"play")
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["audit", "--schedule", str(project), "--verify"]) == 1
    err = capsys.readouterr().err
    assert "ĐÃ BỊ THAY ĐỔI" in err and "Lỗi: chuỗi mã băm hỏng từ dòng 2." in err


def test_audit_command_without_a_file_and_with_bad_dates(project: Path, capsys):
    assert main(["audit", "--schedule", str(project)]) == 0
    assert "Chưa có nhật ký thao tác" in capsys.readouterr().err
    assert main(["audit", "--schedule", str(project), "--verify"]) == 0
    assert main(["audit", "--schedule", str(project), "--from", "32/4/2026"]) == 1
    assert "không hợp lệ" in capsys.readouterr().err

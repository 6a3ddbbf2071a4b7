"""The audit trail: a hash chain in a JSON-lines file; tampering shows, concurrent appends do not break it."""

from __future__ import annotations

import json
import os
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
    assert second["prev"] == audit.sha(lines[0])
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


def test_recomputing_one_lines_hash_is_caught_by_its_mac_and_the_next_link(tmp_path: Path):
    path = tmp_path / audit.AUDIT_FILENAME
    write_three(path)
    lines = path.read_bytes().splitlines()
    entry = json.loads(lines[0])
    entry["who"] = "người khác"
    entry["hash"] = audit.entry_hash(entry)  # a careful forger fixes the line's own hash…
    lines[0] = audit.canonical(entry).encode()
    path.write_bytes(b"\n".join(lines) + b"\n")
    problems = audit.verify(path)  # …but cannot make its MAC without the key, and line 2 gives it away
    assert [p.split(":")[0] for p in problems] == ["dòng 1", "dòng 2"] and "mã xác thực" in problems[0]


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


# -- the anchored chain: a key outside the log, an anchor with the line count (CLI subprocess: slow) ---


def verify_cli(project: Path, *extra: str) -> subprocess.CompletedProcess:
    """``broadcaster audit --verify`` as the operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "broadcaster.cli", "audit", "--verify", "--schedule", str(project), *extra],
        cwd=project.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


def state_of(project: Path) -> Path:
    return project.parent / "state"


def rewrite_with_sha256_only(lines: list[bytes], keep_mac: bool) -> list[bytes]:
    """A careful forger without the key: edit line 1, then recompute every hash and prev."""
    out, prev = [], audit.GENESIS
    for number, raw in enumerate(lines, 1):
        entry = json.loads(raw)
        if number == 1:
            entry["who"] = "người khác"
        if not keep_mac:
            entry.pop("mac", None)
        entry["prev"] = prev
        entry["hash"] = audit.entry_hash(entry)
        line = audit.canonical(entry).encode()
        out.append(line)
        prev = audit.sha(line)
    return out


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def _put(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def _forge_elsewhere(state: Path, tmp: Path) -> None:
    """A whole log made by the program on another machine (its own key), copied over this one."""
    other = tmp / "other-state" / audit.AUDIT_FILENAME
    write_three(other)
    (state / audit.AUDIT_FILENAME).write_bytes(other.read_bytes())
    (state / "audit-anchor").write_bytes((other.parent / "audit-anchor").read_bytes())


TAMPERING = {
    "last line deleted": (
        lambda s, t: _put(s / "audit.jsonl", _lines(s / "audit.jsonl")[:-1]),
        "1 dòng đã bị xoá ở cuối",
    ),
    "last two lines deleted": (lambda s, t: _put(s / "audit.jsonl", _lines(s / "audit.jsonl")[:1]), "2 dòng đã bị xoá"),
    "truncated to nothing": (lambda s, t: (s / "audit.jsonl").write_bytes(b""), "rỗng (bị cắt)"),
    "truncated mid-line": (
        lambda s, t: os.truncate(s / "audit.jsonl", (s / "audit.jsonl").stat().st_size - 40),
        "dòng đã bị xoá ở cuối (hoặc tệp bị cắt)",
    ),
    "file deleted": (lambda s, t: (s / "audit.jsonl").unlink(), "không còn (bị xoá)"),
    "chain rewritten with sha256 only": (
        lambda s, t: _put(s / "audit.jsonl", rewrite_with_sha256_only(_lines(s / "audit.jsonl"), keep_mac=True)),
        "dòng 1–3: mã xác thực không khớp khóa",
    ),
    "chain rewritten without macs, anchor deleted": (
        lambda s, t: (
            _put(s / "audit.jsonl", rewrite_with_sha256_only(_lines(s / "audit.jsonl"), keep_mac=False)),
            (s / "audit-anchor").unlink(),
        ),
        "không có mốc audit-anchor",
    ),
    "a line edited": (
        lambda s, t: _put(s / "audit.jsonl", [ln.replace(b"stop", b"play") for ln in _lines(s / "audit.jsonl")]),
        "dòng 2: nội dung không khớp mã băm",
    ),
    "anchor deleted": (lambda s, t: (s / "audit-anchor").unlink(), "không có mốc audit-anchor"),
    "anchor count edited": (
        lambda s, t: (s / "audit-anchor").write_text(
            (s / "audit-anchor").read_text().replace('"lines": 3', '"lines": 2')
        ),
        "mốc audit-anchor không khớp khóa",
    ),
    "log and anchor forged elsewhere": (_forge_elsewhere, "dòng 1–3: mã xác thực không khớp khóa"),
    "key deleted": (lambda s, t: (s / "audit-key").unlink(), "không có tệp khóa audit-key"),
}


@pytest.mark.slow  # runs the CLI in a subprocess
def test_an_intact_log_verifies_with_its_key_and_anchor(project: Path):
    write_three(audit.audit_path(state_of(project)))
    done = verify_cli(project)
    assert done.returncode == 0, done.stderr
    assert "nguyên vẹn: 3 thao tác, chuỗi mã băm và mã xác thực khớp" in done.stdout
    assert "Mốc: 3 dòng" in done.stdout
    key, anchor = state_of(project) / "audit-key", state_of(project) / "audit-anchor"
    assert len(key.read_bytes()) == 32
    assert {p.stat().st_mode & 0o777 for p in (key, anchor)} == {0o600}
    assert json.loads(anchor.read_text())["lines"] == 3


@pytest.mark.slow  # runs the CLI in a subprocess
@pytest.mark.parametrize("how", TAMPERING)
def test_every_kind_of_tampering_is_reported_by_the_cli(project: Path, tmp_path: Path, how: str):
    write_three(audit.audit_path(state_of(project)))
    tamper, words = TAMPERING[how]
    tamper(state_of(project), tmp_path)
    done = verify_cli(project)
    assert done.returncode == 1, done.stdout
    assert "ĐÃ BỊ THAY ĐỔI" in done.stderr and words in done.stderr, done.stderr


@pytest.mark.parametrize("how", TAMPERING)
def test_every_kind_of_tampering_fails_the_check_in_process(tmp_path: Path, how: str):
    state = tmp_path / "state"
    write_three(audit.audit_path(state))
    tamper, words = TAMPERING[how]
    tamper(state, tmp_path)
    problems = audit.verify(audit.audit_path(state))
    assert any(words in p for p in problems), problems


@pytest.mark.slow  # runs the CLI in a subprocess
def test_cutting_the_tail_is_still_reported_after_the_next_append(project: Path):
    path = audit.audit_path(state_of(project))
    write_three(path)
    _put(path, _lines(path)[:-1])
    audit.append(path, who="lan", where="console", action="login")  # the next login must not hide it
    done = verify_cli(project)
    assert done.returncode == 1
    assert "dòng 3: lúc ghi dòng này" in done.stderr and "mốc ghi 3 dòng nhưng tệp chỉ còn 2" in done.stderr
    assert [e.action for e in audit.entries(path)] == ["say", "stop", audit.MISMATCH, "login"]


@pytest.mark.slow  # runs the CLI in a subprocess
def test_a_deleted_anchor_or_file_is_still_reported_after_the_next_append(project: Path):
    path = audit.audit_path(state_of(project))
    write_three(path)
    path.unlink()
    audit.append(path, who="lan", where="console", action="login")
    done = verify_cli(project)
    assert done.returncode == 1 and "dòng 1: lúc ghi dòng này" in done.stderr, done.stderr


def old_format_line(seq: int, prev: str, who: str) -> bytes:
    """A line as the program wrote it before keys existed (no ``mac``)."""
    entry = {"seq": seq, "at": "2026-04-19T01:00:00.000+00:00", "who": who, "where": "cli", "action": "say"}
    entry |= {"detail": None, "prev": prev}
    entry["hash"] = audit.entry_hash(entry)
    return audit.canonical(entry).encode()


@pytest.mark.slow  # runs the CLI in a subprocess
def test_a_log_from_before_keys_verifies_and_the_keyed_chain_goes_on_from_it(project: Path):
    path = audit.audit_path(state_of(project))
    path.parent.mkdir()
    first = old_format_line(1, audit.GENESIS, "lan")
    _put(path, [first, old_format_line(2, audit.sha(first), "an")])
    done = verify_cli(project)
    assert done.returncode == 0 and "2 dòng trước khi có khóa" in done.stdout, done.stderr
    assert "Chưa có khóa và mốc" in done.stdout
    audit.append(path, who="lan", where="cli", action="stop")
    assert json.loads(_lines(path)[2])["prev"] == audit.sha(_lines(path)[1])
    done = verify_cli(project)
    assert done.returncode == 0 and "nguyên vẹn: 3 thao tác (2 dòng trước khi có khóa" in done.stdout
    # the old lines are pinned by the first keyed one: rewriting them breaks its link
    _put(path, rewrite_with_sha256_only(_lines(path)[:2], keep_mac=True) + _lines(path)[2:])
    done = verify_cli(project)
    assert done.returncode == 1 and "dòng 3: không nối với dòng trước" in done.stderr


def test_a_line_without_mac_after_keyed_ones_is_refused(tmp_path: Path):
    path = tmp_path / audit.AUDIT_FILENAME
    write_three(path)
    lines = _lines(path)
    entry = json.loads(lines[1])
    del entry["mac"]
    entry["hash"] = audit.entry_hash(entry)
    lines[1] = audit.canonical(entry).encode()
    _put(path, lines)
    problems = audit.verify(path)
    assert problems[0].startswith("dòng 2: không có mã xác thực")


@pytest.mark.slow  # runs the CLI in a subprocess
def test_a_rollback_shows_only_against_an_anchor_copy_kept_elsewhere(project: Path, tmp_path: Path):
    path = audit.audit_path(state_of(project))
    write_three(path)
    kept_lines, kept_anchor = path.read_bytes(), (path.parent / "audit-anchor").read_bytes()
    audit.append(path, who="lan", where="cli", action="say")
    audit.append(path, who="lan", where="cli", action="stop")
    backup = tmp_path / "usb" / "audit-anchor"
    backup.parent.mkdir()
    backup.write_bytes((path.parent / "audit-anchor").read_bytes())
    path.write_bytes(kept_lines)  # log and anchor rolled back together to an earlier consistent pair…
    (path.parent / "audit-anchor").write_bytes(kept_anchor)
    assert verify_cli(project).returncode == 0  # …which this machine alone cannot tell (documented)
    done = verify_cli(project, "--anchor", str(backup))
    assert done.returncode == 1
    assert f"bản sao mốc '{backup}' ghi 5 dòng nhưng tệp chỉ còn 3" in done.stderr


def test_an_anchor_one_line_behind_after_a_power_cut_verifies(tmp_path: Path):
    path = tmp_path / audit.AUDIT_FILENAME
    write_three(path)
    anchor = (path.parent / "audit-anchor").read_bytes()
    audit.append(path, who="lan", where="cli", action="say")
    (path.parent / "audit-anchor").write_bytes(anchor)  # the line reached the disk, the anchor did not
    assert audit.verify(path) == []
    audit.append(path, who="lan", where="cli", action="stop")  # and the next append is no false alarm
    assert audit.verify(path) == [] and json.loads((path.parent / "audit-anchor").read_text())["lines"] == 5

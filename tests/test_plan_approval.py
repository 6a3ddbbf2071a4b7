"""``broadcaster approve`` and ``plan`` with ``policy.require_approval: true``: roles, passwords, voiding."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import UTC

import pytest
from argon2 import PasswordHasher

from broadcaster import cli
from broadcaster.approval import ApprovalStore, text_subject
from broadcaster.users import UserStore
from tests.support.harness import BROADCASTER
from tests.test_approval import NEWS, make_project

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def project(tmp_path):
    project = make_project(tmp_path)
    users = UserStore.open(project.root / "state")
    users._hasher = FAST  # quick to create; the CLI verifies them with the real hasher
    users.add("lan", "approver", "lanh-dao-1")
    users.add("quan", "admin", "quan-tri-1")
    users.add("hoa", "operator", "phat-thanh-1")
    return project


def _cli(project, monkeypatch, *argv: str, password: str | None = None) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO("" if password is None else password + "\n"))
    monkeypatch.setenv("COLUMNS", "200")  # rich's table would fold the columns in 80
    extra = ["--password-stdin"] if password is not None else []
    return cli.main([*argv, *extra, "--schedule", str(project.schedule_path)])


def _plan_json(project, monkeypatch, capsys) -> list[dict]:
    capsys.readouterr()
    assert _cli(project, monkeypatch, "plan", "--json") == 0
    return json.loads(capsys.readouterr().out)


def test_plan_shows_unapproved_until_a_leader_approves_and_again_after_an_edit(project, monkeypatch, capsys):
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    argv = [*BROADCASTER, "plan", "--schedule", str(project.schedule_path)]
    r = subprocess.run(argv, cwd=project.root, capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert "chưa duyệt" in r.stdout and "1 lần phát sẽ không phát vì chưa duyệt" in r.stdout
    assert "chưa duyệt: bài 'thu', văn bản «Xin cảm ơn bà con.»" in r.stdout
    assert "broadcaster approve --pending" in r.stdout
    (row,) = _plan_json(project, monkeypatch, capsys)
    assert row["approved"] is False and row["unapproved_items"] == ["script:thu", "text:Xin cảm ơn bà con."]

    assert (
        _cli(project, monkeypatch, "approve", "thu", "--by", "lan", "--note", "đúng kế hoạch", password="lanh-dao-1")
        == 0
    )
    assert "Đã duyệt bài 'thu'" in capsys.readouterr().out
    assert (
        _cli(project, monkeypatch, "approve", "--text", "Xin cảm ơn bà con.", "--by", "quan", password="quan-tri-1")
        == 0
    )
    (row,) = _plan_json(project, monkeypatch, capsys)
    assert row["approved"] is True and row["unapproved_items"] == []
    assert _cli(project, monkeypatch, "plan") == 0
    out = capsys.readouterr().out
    assert "đã duyệt" in out and "chưa duyệt" not in out

    project.write_script("thu", NEWS + " Đề nghị bà con đến đúng giờ.")
    (row,) = _plan_json(project, monkeypatch, capsys)
    assert row["approved"] is False and row["unapproved_items"] == ["script:thu"]


def test_plan_without_the_policy_says_nothing_about_approval(tmp_path, monkeypatch, capsys):
    project = make_project(tmp_path, require=False)
    (row,) = _plan_json(project, monkeypatch, capsys)
    assert row["approved"] is None
    assert _cli(project, monkeypatch, "plan") == 0
    assert "duyệt" not in capsys.readouterr().out.lower()


def test_only_approvers_and_admins_with_their_password_may_approve(project, monkeypatch, capsys):
    store = ApprovalStore.open(project.root / "state")
    assert _cli(project, monkeypatch, "approve", "thu", "--by", "hoa", password="phat-thanh-1") == 1
    assert "phát thanh viên: chỉ lãnh đạo duyệt hoặc quản trị" in capsys.readouterr().err
    assert _cli(project, monkeypatch, "approve", "thu", "--by", "lan", password="sai-mat-khau") == 1
    assert "Sai mật khẩu của 'lan'" in capsys.readouterr().err
    assert _cli(project, monkeypatch, "approve", "thu", "--by", "ai-do", password="x") == 1
    assert "Không có người dùng 'ai-do'" in capsys.readouterr().err
    assert _cli(project, monkeypatch, "approve", "thu", password="lanh-dao-1") == 1
    assert "--by TÊN" in capsys.readouterr().err
    UserStore.open(project.root / "state").set_active("lan", False)
    assert _cli(project, monkeypatch, "approve", "thu", "--by", "lan", password="lanh-dao-1") == 1
    assert "đã bị khoá" in capsys.readouterr().err
    assert _cli(project, monkeypatch, "approve", "khong-co-bai", "--by", "quan", password="quan-tri-1") == 1
    assert "Không có bài 'khong-co-bai'" in capsys.readouterr().err
    assert not store.path.exists()  # nothing was decided


def test_pending_lists_the_normalized_reading_and_codes_approve(project, monkeypatch, capsys):
    ApprovalStore.open(project.root / "state").note_waiting(text_subject("Họp lúc 14h ngày 21/4."), "hoa")
    assert _cli(project, monkeypatch, "approve", "--pending") == 0
    out = capsys.readouterr().out
    assert "bài 'thu' chưa được duyệt — dùng trong buổi: sang" in out
    assert "Máy sẽ đọc:" in out and "ngày hai mươi mốt tháng tư năm hai nghìn không trăm hai mươi sáu" in out
    assert "Ủy ban nhân dân xã" in out or "uỷ ban nhân dân xã" in out.lower()
    assert "xin phát ngay bởi hoa" in out and "mười bốn giờ" in out
    assert "3 nội dung chờ duyệt" in out
    code = text_subject("Họp lúc 14h ngày 21/4.").code
    assert f"[mã {code}]" in out
    assert _cli(project, monkeypatch, "approve", "--code", code[:8], "--by", "lan", password="lanh-dao-1") == 0
    assert "Đã duyệt văn bản «Họp lúc 14h ngày 21/4.»" in capsys.readouterr().out
    assert _cli(project, monkeypatch, "approve", "--code", "zzzzzzzz", "--by", "lan", password="lanh-dao-1") == 1
    assert "Không tìm thấy mã" in capsys.readouterr().err
    assert _cli(project, monkeypatch, "approve", "--pending") == 0
    assert "2 nội dung chờ duyệt" in capsys.readouterr().out


def test_reject_needs_a_note_and_revoke_holds_the_script_again(project, monkeypatch, capsys):
    assert _cli(project, monkeypatch, "approve", "--reject", "thu", "--by", "lan", password="lanh-dao-1") == 1
    assert "cần ghi lý do" in capsys.readouterr().err
    args = ("approve", "--reject", "thu", "--note", "thiếu địa điểm", "--by", "lan")
    assert _cli(project, monkeypatch, *args, password="lanh-dao-1") == 0
    assert _cli(project, monkeypatch, "approve", "--pending") == 0
    assert "bị từ chối (lan," in capsys.readouterr().out
    assert _cli(project, monkeypatch, "approve", "thu", "--by", "lan", password="lanh-dao-1") == 0
    assert _cli(project, monkeypatch, "approve", "--revoke", "thu", "--by", "quan", password="quan-tri-1") == 0
    assert "Đã thu hồi 1 lần duyệt của bài 'thu'" in capsys.readouterr().out
    (row,) = _plan_json(project, monkeypatch, capsys)
    assert row["approved"] is False


def test_emergency_review_is_listed_and_recorded_by_an_approver(project, monkeypatch, capsys):
    from datetime import datetime

    from broadcaster.schedule.model import Item, ItemKind

    store = ApprovalStore.open(project.root / "state")
    items = [Item(ItemKind.TEXT, "Lũ đang lên, bà con di chuyển lên chỗ cao.")]
    rid = store.flag_for_review("adhoc:1", "Phát ngay: lũ", items, aired_at=datetime.now(UTC), requested_by="hoa")
    assert _cli(project, monkeypatch, "approve", "--reviews") == 0
    out = capsys.readouterr().out
    assert f"[số {rid}]" in out and "Phát ngay: lũ, do hoa yêu cầu" in out and "Lũ đang lên" in out
    assert _cli(project, monkeypatch, "approve", "--review", str(rid), "--by", "hoa", password="phat-thanh-1") == 1
    assert store.pending_reviews() != []
    assert (
        _cli(
            project,
            monkeypatch,
            "approve",
            "--review",
            str(rid),
            "--by",
            "lan",
            "--note",
            "đúng",
            password="lanh-dao-1",
        )
        == 0
    )
    assert store.pending_reviews() == [] and store.reviews()[0].reviewed_by == "lan"
    assert _cli(project, monkeypatch, "approve", "--reviews") == 0
    assert "Không có bản tin khẩn cấp nào cần xem lại" in capsys.readouterr().out


def test_a_recording_is_approved_by_its_bytes(project, monkeypatch, capsys):
    from broadcaster.approval import check_items
    from broadcaster.schedule.load import load_schedule
    from broadcaster.schedule.model import Item, ItemKind
    from tests.support.harness import write_silent_wav

    wav = write_silent_wav(project.root / "audio" / "loi-keu-goi.wav", 0.5)
    item = Item(ItemKind.AUDIO, "audio/loi-keu-goi.wav", wav)
    schedule = load_schedule(project.schedule_path).schedule
    store = ApprovalStore.open(schedule.state_path)
    (missing,) = check_items([item], schedule, store)
    assert missing.reason == "tệp âm thanh 'loi-keu-goi.wav' chưa được duyệt"
    assert (
        _cli(project, monkeypatch, "approve", "--audio", "audio/loi-keu-goi.wav", "--by", "lan", password="lanh-dao-1")
        == 0
    )
    assert check_items([item], schedule, store) == []
    write_silent_wav(wav, 0.7)  # re-recorded under the same name
    (missing,) = check_items([item], schedule, store)
    assert "đã bị sửa sau lần duyệt" in missing.reason

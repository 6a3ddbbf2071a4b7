"""Content approval in the real daemon (issue 15): held until approved, voided by an edit, emergencies flagged."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.harness import Daemon, Project, local_now

pytestmark = pytest.mark.slow

PASSWORD = "mat-khau-duyet-1"


def _save(project: Project) -> None:
    project.save(
        project.yaml_text().replace("max_session_minutes: 45}", "max_session_minutes: 45, require_approval: true}")
    )


def _statuses(project: Project) -> dict[str, str]:
    return {r["slot"] or r["key"]: r["status"] for r in project.asrun_rows()}


def test_unapproved_is_held_then_airs_once_approved_an_edit_voids_it_and_emergencies_are_flagged(tmp_path):
    project = Project(tmp_path)
    project.slot("mot", local_now() + timedelta(seconds=6))
    _save(project)
    r = project.cli("user", "add", "duyet", "--role", "approver", "--password-stdin", stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    r = project.cli("check")
    assert r.returncode == 0 and "thu" in r.stderr and "duyệt" in r.stderr, r.stderr  # said ahead of time
    d = Daemon(project, {}, output="null").start()
    try:
        d.wait_for("CHƯA DUYỆT", timeout=20)
        assert _statuses(project)["mot"] == "unapproved"
        status = d.cli("status")
        assert "CHƯA DUYỆT" in status.stdout, status.stdout

        r = project.cli("approve", "thu", "--by", "duyet", "--password-stdin", stdin=PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        project.slot("hai", local_now() + timedelta(seconds=5))
        _save(project)
        d.wait_for("KẾT THÚC hai", timeout=40)
        assert _statuses(project)["hai"] == "played"

        project.write_script("thu", "Kính thưa bà con, nội dung đã bị sửa sau khi duyệt.")
        project.slot("ba", local_now() + timedelta(seconds=5))
        _save(project)
        start = len(d.lines)
        d.wait_for("CHƯA DUYỆT", timeout=30, start=start)
        assert _statuses(project)["ba"] == "unapproved"

        code, answer = d.api("POST", "/api/announcements", {"text": "Thông báo chưa duyệt"})
        assert code == 403 and "approve --pending" in answer["error"], answer
        code, _ = d.api("POST", "/api/announcements", {"text": "Khẩn cấp: chưa kịp duyệt", "priority": "emergency"})
        assert code == 202
        d.wait_for("KẾT THÚC adhoc:", timeout=40)
    finally:
        assert d.terminate() == 0
    rows = project.asrun_rows()
    assert [r["status"] for r in rows if r["priority"] == "emergency"] == ["played"]
    reviews = project.cli("approve", "--reviews")
    assert reviews.returncode == 0 and "Khẩn cấp: chưa kịp duyệt" in reviews.stdout, reviews.stdout
    pending = project.cli("approve", "--pending")
    assert "Thông báo chưa duyệt" in pending.stdout and "nội dung đã bị sửa" in pending.stdout, pending.stdout

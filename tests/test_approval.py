"""Content approval: digests of exact content, the SQLite store, and the decision for a broadcast."""

from __future__ import annotations

import stat
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest

from broadcaster.approval import (
    ApprovalError,
    ApprovalStore,
    Decision,
    audio_subject,
    check_items,
    gate,
    normalize_content,
    script_subject,
    subject_for,
    text_subject,
)
from broadcaster.commands.approve import approval_warnings
from broadcaster.schedule.load import load_schedule
from broadcaster.schedule.model import Item, ItemKind, Priority
from tests.support.harness import Project, local_now, write_silent_wav

NEWS = "Kính thưa bà con, UBND xã thông báo lịch tiêm phòng ngày 21/4/2026."


def make_project(tmp_path, *, require: bool = True, disabled_slot: bool = False) -> Project:
    """A project whose schedule airs the script 'thu', and optionally has a disabled slot airing 'cu'."""
    project = Project(tmp_path, chime=False)
    project.write_script("thu", NEWS)
    soon = local_now() + timedelta(hours=1)
    project.slot("sang", soon, play=[{"script": "thu"}, {"text": "Xin cảm ơn bà con."}])
    if disabled_slot:
        project.write_script("cu", "Bản tin cũ, tạm dừng.")
        project.slot("tam-dung", soon + timedelta(minutes=5), play=[{"script": "cu"}], priority="priority")
    text = project.yaml_text()
    if require:
        text = text.replace("max_session_minutes: 45}", "max_session_minutes: 45, require_approval: true}")
    if disabled_slot:
        text = text.replace("  - name: tam-dung\n", "  - name: tam-dung\n    enabled: false\n")
    project.save(text)
    return project


def load(project: Project):
    result = load_schedule(project.schedule_path)
    assert result.ok, result.errors
    return result.schedule


def script_item(project: Project, name: str = "thu") -> Item:
    return Item(ItemKind.SCRIPT, name, project.root / "scripts_vi" / f"{name}.txt")


# -- what is approved ------------------------------------------------------------------------


def test_saving_again_keeps_the_digest_but_any_edit_changes_it():
    base = script_subject("thu", NEWS + "\n")
    resaved = "\ufeff" + unicodedata.normalize("NFD", NEWS).replace(" ", "  ") + "  \r\n\r\n"
    assert script_subject("thu", resaved).digest == base.digest
    assert normalize_content(resaved) == NEWS
    assert script_subject("thu", NEWS.replace("21/4", "22/4")).digest != base.digest
    assert script_subject("thu", NEWS.replace("bà con", "bà  con,")).digest != base.digest
    assert script_subject("thu-moi", NEWS).digest != base.digest  # a rename needs approval again
    assert text_subject(NEWS).digest != base.digest  # a script is not a text of the same words
    assert text_subject("  Xin   cảm ơn bà con. ").digest == text_subject("Xin cảm ơn bà con.").digest
    assert base.code == base.digest[:10] and base.kind is ItemKind.SCRIPT


def test_audio_is_bound_to_its_bytes_and_name(tmp_path):
    a = write_silent_wav(tmp_path / "audio" / "loa.wav", 0.5)
    first = audio_subject(a)
    assert audio_subject(a).digest == first.digest and first.content is None
    write_silent_wav(a, 0.6)
    assert audio_subject(a).digest != first.digest
    b = write_silent_wav(tmp_path / "audio" / "khac.wav", 0.5)
    assert audio_subject(b).digest != first.digest  # same bytes as the first version, other name
    assert subject_for(Item(ItemKind.AUDIO, "audio/khong-co.wav", tmp_path / "khong-co.wav")) is None


# -- the store ------------------------------------------------------------------------------


def test_store_persists_decisions_privately_and_reading_creates_nothing(tmp_path):
    state = tmp_path / "state"
    subject = script_subject("thu", NEWS)
    assert ApprovalStore.open(state).latest([subject.digest]) == {}
    assert not state.exists()
    record = ApprovalStore.open(state).approve(subject, "lan", "đúng nội dung kế hoạch")
    assert stat.S_IMODE((state / "approvals.sqlite3").stat().st_mode) == 0o600
    again = ApprovalStore.open(state).latest([subject.digest])[subject.digest]  # a new process, same answer
    assert (again.id, again.by, again.note, again.decision) == (
        record.id,
        "lan",
        "đúng nội dung kế hoạch",
        Decision.APPROVED,
    )
    assert again.content == NEWS and abs(again.at - datetime.now(UTC)) < timedelta(minutes=1)


def test_reject_needs_a_note_and_revoke_withdraws_every_version(tmp_path):
    store = ApprovalStore.open(tmp_path)
    v1, v2 = script_subject("thu", NEWS), script_subject("thu", NEWS + " Xin cảm ơn.")
    with pytest.raises(ApprovalError, match="lý do"):
        store.reject(v1, "lan", " ")
    store.approve(v1, "lan")
    store.approve(v2, "lan")
    withdrawn = store.revoke(ItemKind.SCRIPT, "thu", "lan", "tạm dừng")
    assert {r.digest for r in withdrawn} == {v1.digest, v2.digest}
    assert {r.decision for r in store.latest([v1.digest, v2.digest]).values()} == {Decision.REVOKED}
    assert store.revoke(ItemKind.SCRIPT, "thu", "lan") == []


def test_waiting_list_holds_refused_requests_until_decided(tmp_path):
    store = ApprovalStore.open(tmp_path)
    ask = text_subject("Mời bà con ra đình họp lúc 8 giờ.")
    store.note_waiting(ask, "hoa")
    store.note_waiting(ask)
    (w,) = store.waiting()
    assert (w.subject.digest, w.requested_by, w.times) == (ask.digest, "hoa", 2)
    assert w.subject.content == "Mời bà con ra đình họp lúc 8 giờ."
    store.reject(ask, "lan", "sai giờ họp")
    assert store.waiting() == []
    store.note_waiting(ask, "hoa")  # asked again after the rejection
    assert [x.subject.digest for x in store.waiting()] == [ask.digest]
    store.approve(ask, "lan")
    assert store.waiting() == []


def test_emergency_is_flagged_once_then_reviewed(tmp_path):
    store = ApprovalStore.open(tmp_path)
    items = [Item(ItemKind.TEXT, "Bão số 3 sắp đổ bộ, bà con chằng chống nhà cửa.")]
    aired = datetime(2026, 4, 21, 8, 0, tzinfo=UTC)
    rid = store.flag_for_review("adhoc:abc", "Phát ngay: bão", items, aired_at=aired, requested_by="hoa")
    assert store.flag_for_review("adhoc:abc", "Phát ngay: bão", items, aired_at=aired) == rid
    (r,) = store.pending_reviews()
    assert (r.id, r.requested_by, r.aired_at, r.items) == (rid, "hoa", aired, (items[0].label,))
    assert "Bão số 3" in r.content
    done = store.record_review(rid, "lan", "nội dung đúng")
    assert (done.reviewed_by, done.note) == ("lan", "nội dung đúng") and done.reviewed_at is not None
    assert store.pending_reviews() == [] and len(store.reviews()) == 1
    with pytest.raises(ApprovalError, match="đã được lan xem lại"):
        store.record_review(rid, "lan")
    with pytest.raises(ApprovalError, match="Không có bản tin khẩn cấp số 99"):
        store.record_review(99, "lan")


# -- the decision ---------------------------------------------------------------------------


def test_nothing_is_held_when_the_schedule_does_not_require_approval(tmp_path):
    project = make_project(tmp_path, require=False)
    schedule = load(project)
    store = ApprovalStore.open(schedule.state_path)
    assert check_items(schedule.slots[0].play, schedule, store) == []
    assert not gate(schedule.slots[0].play, Priority.NORMAL, schedule, store).hold
    assert approval_warnings(schedule, schedule.state_path) == []
    assert not schedule.state_path.exists()


def test_edit_voids_the_approval_and_rename_needs_a_new_one(tmp_path):
    project = make_project(tmp_path)
    schedule = load(project)
    store = ApprovalStore.open(schedule.state_path)
    item = script_item(project)
    (missing,) = check_items([item], schedule, store)
    assert missing.reason == "bài 'thu' chưa được duyệt" and missing.decision is None

    store.approve(subject_for(item), "lan")
    assert check_items([item], schedule, store) == []
    assert check_items([item, item], schedule, store) == []

    project.write_script("thu", NEWS.replace("21/4", "22/4"))  # an edit after approval
    (missing,) = check_items([item], schedule, store)
    assert "đã bị sửa sau lần duyệt" in missing.reason and "cần duyệt lại" in missing.reason

    project.write_script("thu", NEWS)  # the approved words again: the approval stands
    assert check_items([item], schedule, store) == []

    (project.root / "scripts_vi" / "thu.txt").rename(project.root / "scripts_vi" / "tin-moi.txt")
    (missing,) = check_items([script_item(project, "tin-moi")], schedule, store)
    assert missing.reason == "bài 'tin-moi' chưa được duyệt"


def test_rejected_and_revoked_content_says_so(tmp_path):
    project = make_project(tmp_path)
    schedule = load(project)
    store = ApprovalStore.open(schedule.state_path)
    item = script_item(project)
    store.reject(subject_for(item), "lan", "thiếu địa điểm")
    (missing,) = check_items([item], schedule, store)
    assert "bị từ chối" in missing.reason and "thiếu địa điểm" in missing.reason
    assert missing.decision.decision is Decision.REJECTED
    store.approve(subject_for(item), "lan")
    store.revoke(ItemKind.SCRIPT, "thu", "lan")
    (missing,) = check_items([item], schedule, store)
    assert "thu hồi" in missing.reason


def test_gate_holds_normal_and_priority_but_never_an_emergency(tmp_path):
    project = make_project(tmp_path)
    schedule = load(project)
    store = ApprovalStore.open(schedule.state_path)
    items = schedule.slots[0].play
    for level in (Priority.NORMAL, Priority.PRIORITY):
        g = gate(items, level, schedule, store)
        assert g.hold and not g.review and len(g.missing) == 2
        assert "bài 'thu' chưa được duyệt" in g.reason and "Xin cảm ơn bà con" in g.reason
    g = gate(items, Priority.EMERGENCY, schedule, store)
    assert not g.hold and g.review
    for item in items:
        store.approve(subject_for(item), "lan")
    assert gate(items, Priority.NORMAL, schedule, store).missing == []
    assert not gate(items, Priority.EMERGENCY, schedule, store).review


def test_unreadable_files_are_left_to_fail_later(tmp_path):
    project = make_project(tmp_path)
    schedule = load(project)
    gone = Item(ItemKind.SCRIPT, "khong-co", project.root / "scripts_vi" / "khong-co.txt")
    assert check_items([gone], schedule, ApprovalStore.open(schedule.state_path)) == []


def test_check_warns_once_per_unapproved_item_of_enabled_normal_slots(tmp_path):
    project = make_project(tmp_path, disabled_slot=True)
    schedule = load(project)
    warnings = approval_warnings(schedule, schedule.state_path)
    assert len(warnings) == 2  # 'thu' and the text; the disabled slot airs nothing
    assert warnings[0].startswith("Bài 'thu' chưa được duyệt: buổi sang sẽ không phát.")
    assert "broadcaster approve thu --by TÊN" in warnings[0]
    assert "broadcaster approve --code " in warnings[1]
    assert not schedule.state_path.exists()  # checking creates nothing
    store = ApprovalStore.open(schedule.state_path)
    store.approve(subject_for(script_item(project)), "lan")
    assert len(approval_warnings(schedule, schedule.state_path)) == 1

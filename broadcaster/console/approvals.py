"""Duyệt (approvers and admins): content waiting for approval, approve/reject it, review emergencies.

The same store and rules as ``broadcaster approve``: an approval is bound to the content's digest
(editing a script needs a new approval); the logged-in user is the approver — their session
stands for the password the CLI asks for. Every decision goes to the audit trail.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from broadcaster.console.auth import ConsoleDenied, actor_of, controller_of, require
from broadcaster.users import Role, StateError, User

router = APIRouter()
APPROVERS = (Role.ADMIN.value, Role.APPROVER.value)


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    digest: str = Field(..., min_length=6, max_length=128)
    decision: str = Field(..., pattern="^(approve|reject)$")
    note: str = Field("", max_length=1000)


def _pending(controller: Any) -> list[dict[str, Any]]:
    """What waits for a decision: unapproved schedule content, then refused ad-hoc requests."""
    from broadcaster.approval import ApprovalStore
    from broadcaster.approval_plan import unapproved_in_schedule

    schedule = controller.schedule.current
    store = ApprovalStore.open(schedule.state_path)
    speak = controller.speech.spoken_text
    found: list[dict[str, Any]] = []
    for u, slots in unapproved_in_schedule(schedule, store, always=True):
        found.append(_subject_json(u.subject, speak, why=u.reason, slots=slots))
    for w in store.waiting():
        who = f" — {w.requested_by} xin phát ngay" if w.requested_by else " — xin phát ngay"
        found.append(_subject_json(w.subject, speak, why=f"{w.subject.label_vi}{who} ({w.times} lần)", slots=[]))
    return found


def _subject_json(subject: Any, speak: Any, *, why: str, slots: list[str]) -> dict[str, Any]:
    reading = None
    if subject.content is not None:
        try:
            reading = speak(subject.content)
        except Exception:  # noqa: BLE001 - the raw words are still worth showing
            reading = subject.content
    return {
        "digest": subject.digest,
        "code": subject.code,
        "kind": str(subject.kind),
        "label": subject.label_vi,
        "why": why,
        "slots": slots,
        "reading": reading,
    }


@router.get("/console/api/duyet", summary="Nội dung chờ duyệt và bản tin khẩn cấp cần xem lại")
def pending(request: Request, _: User = Depends(require(*APPROVERS))) -> dict[str, Any]:
    from broadcaster.approval import ApprovalStore, approval_required

    controller = controller_of(request)
    try:
        reviews = ApprovalStore.open(controller.schedule.current.state_path).pending_reviews()
        items = _pending(controller)
    except StateError as exc:
        raise ConsoleDenied(500, str(exc)) from None
    return {
        "required": approval_required(controller.schedule.current),
        "items": items,
        "reviews": [
            {
                "id": r.id,
                "title": r.title,
                "content": r.content or "\n".join(r.items),
                "requested_by": r.requested_by,
                "aired_at": r.aired_at.isoformat(),
            }
            for r in reviews
        ],
    }


@router.post("/console/api/duyet", summary="Duyệt hoặc từ chối một nội dung")
def decide(body: DecisionBody, request: Request, user: User = Depends(require(*APPROVERS))) -> dict[str, Any]:
    from broadcaster.approval import ApprovalStore

    controller = controller_of(request)
    if body.decision == "reject" and not body.note.strip():
        raise ConsoleDenied(400, "Khi từ chối cần ghi lý do, để người soạn biết cần sửa gì.")
    subject = _find_subject(controller, body.digest)
    store = ApprovalStore.open(controller.schedule.current.state_path)
    try:
        if body.decision == "approve":
            store.approve(subject, user.name, body.note)
        else:
            store.reject(subject, user.name, body.note)
    except StateError as exc:
        raise ConsoleDenied(500, str(exc)) from None
    controller.audit.record(
        actor_of(request, user),
        body.decision,
        {"kind": str(subject.kind), "name": subject.name, "code": subject.code, "note": body.note},
    )
    verb = "Đã duyệt" if body.decision == "approve" else "Đã từ chối"
    return {"message": f"{verb} {subject.label_vi} (mã {subject.code})."}


def _find_subject(controller: Any, digest: str) -> Any:
    from broadcaster.approval import ApprovalStore
    from broadcaster.approval_plan import unapproved_in_schedule

    store = ApprovalStore.open(controller.schedule.current.state_path)
    for u, _ in unapproved_in_schedule(controller.schedule.current, store, always=True):
        if u.subject.digest == digest:
            return u.subject
    for w in store.waiting():
        if w.subject.digest == digest:
            return w.subject
    raise ConsoleDenied(404, "Nội dung này không còn chờ duyệt (có thể người khác đã duyệt). Trang sẽ tải lại.")


@router.post("/console/api/duyet/xem-lai/{review_id}", summary="Ghi nhận đã xem lại một bản tin khẩn cấp")
def review(review_id: int, request: Request, user: User = Depends(require(*APPROVERS))) -> dict[str, Any]:
    from broadcaster.approval import ApprovalStore

    controller = controller_of(request)
    try:
        done = ApprovalStore.open(controller.schedule.current.state_path).record_review(review_id, user.name, "")
    except StateError as exc:
        raise ConsoleDenied(400, str(exc)) from None
    controller.audit.record(actor_of(request, user), "review", {"id": done.id, "title": done.title})
    return {"message": f"Đã ghi nhận: {user.name} đã xem lại bản tin khẩn cấp «{done.title}»."}

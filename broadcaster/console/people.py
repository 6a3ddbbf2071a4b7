"""Người dùng (admins only): list, add, change role, disable/enable, set a password; the audit trail.

Every change goes through :class:`broadcaster.users.UserStore` (its rules: name format, password
length, always one active admin) and into the audit trail as ``user_change`` with who and where.
Disabling a user or setting their password ends their open sessions at once.

The audit trail is served already put into words by
:func:`broadcaster.console.audit_text.describe_entry` (a sentence per action, edits as before/after
lines, hashes and keys apart).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from broadcaster import audit
from broadcaster.console.audit_text import describe_entry
from broadcaster.console.auth import ConsoleDenied, console_state, require, where_of
from broadcaster.users import Role, StateError, User

router = APIRouter()
ADMIN = Role.ADMIN.value


class NewUser(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(..., max_length=64)
    role: str = Field(..., max_length=40)
    password: str = Field(..., max_length=2000)


class UserChange(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str | None = Field(None, max_length=40)
    active: bool | None = None
    password: str | None = Field(None, max_length=2000)


def _user_json(u: User) -> dict[str, Any]:
    return {
        "name": u.name,
        "role": u.role.value,
        "role_vi": u.role.vi,
        "active": u.active,
        "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
    }


@router.get("/console/api/nguoi-dung", summary="Danh sách người dùng")
def users(request: Request, _: User = Depends(require(ADMIN))) -> dict[str, Any]:
    return {
        "users": [_user_json(u) for u in console_state(request).users.users()],
        "roles": [{"value": r.value, "vi": r.vi} for r in Role],
    }


@router.post("/console/api/nguoi-dung", summary="Thêm người dùng")
def add_user(body: NewUser, request: Request, admin: User = Depends(require(ADMIN))) -> dict[str, Any]:
    state = console_state(request)
    try:
        user = state.users.add(body.name, body.role, body.password)
    except StateError as exc:  # UserError included: the store's Vietnamese message
        raise ConsoleDenied(400, str(exc)) from None
    audit.append(
        state.layout.audit_log,
        who=admin.name,
        where=where_of(request),
        action="user_change",
        detail={"user": user.name, "change": "add", "role": user.role.value},
    )
    return {"user": _user_json(user), "message": f"Đã thêm '{user.name}' ({user.role.vi})."}


@router.patch("/console/api/nguoi-dung/{name}", summary="Sửa người dùng (vai trò, khoá, mật khẩu)")
def change_user(name: str, body: UserChange, request: Request, admin: User = Depends(require(ADMIN))) -> dict[str, Any]:
    state = console_state(request)
    done: list[str] = []
    try:
        user = state.users.require(name)
        if body.role is not None and Role.parse(body.role) is not user.role:
            user = state.users.set_role(name, body.role)
            done.append(f"vai trò: {user.role.vi}")
        if body.active is not None and body.active != user.active:
            user = state.users.set_active(name, body.active)
            done.append("mở khoá" if user.active else "khoá")
        if body.password:
            state.users.set_password(name, body.password)
            done.append("đặt mật khẩu mới")
    except StateError as exc:
        raise ConsoleDenied(400, str(exc)) from None
    if not done:
        return {"user": _user_json(user), "message": "Không có gì thay đổi."}
    if not user.active or body.password:
        state.sessions.delete_user(user.name)  # a disabled user or an old password is logged out now
    audit.append(
        state.layout.audit_log,
        who=admin.name,
        where=where_of(request),
        action="user_change",
        detail={"user": user.name, "change": ", ".join(done)},  # never the password itself
    )
    return {"user": _user_json(user), "message": f"Đã cập nhật '{user.name}': {', '.join(done)}."}


@router.get("/console/api/nhat-ky-thao-tac", summary="Nhật ký thao tác (audit)")
def audit_view(
    request: Request, limit: int = Query(200, ge=1, le=2000), _: User = Depends(require(ADMIN))
) -> dict[str, Any]:
    """The newest entries of the audit trail first, with the actions named in Vietnamese."""
    path = console_state(request).layout.audit_log
    newest: deque[audit.AuditEntry] = deque(maxlen=limit)
    try:
        newest.extend(audit.entries(path))
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        raise ConsoleDenied(
            500, f"Không đọc được nhật ký thao tác: {exc}. Chạy 'broadcaster audit --verify'."
        ) from None
    return {
        "entries": [
            {
                "seq": e.seq,
                "at": e.at.isoformat(),
                "who": e.who,
                "where": e.where,
                "action": e.action,
                "action_vi": e.action_vi,
                "detail": e.detail,
                **describe_entry(e.action, e.detail, seq=e.seq, entry_hash=e.hash),
            }
            for e in reversed(newest)
        ]
    }

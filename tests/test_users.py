"""Users and roles: argon2id hashes in a 0600 SQLite file, login, roles, and ``broadcaster user``."""

from __future__ import annotations

import asyncio
import getpass
import io
import os
import socket
import sqlite3
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import pytest
from argon2 import PasswordHasher

from broadcaster import audit, cli
from broadcaster.console.sessions import SessionStore
from broadcaster.users import (
    PASSWORD_SLOTS,
    PasswordBusy,
    Role,
    UserError,
    UserStore,
    argon2_work,
    password_slot,
    release_password_slot,
    take_password_slot,
)

# Small argon2 parameters keep the many store tests fast; one test uses the real defaults.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def store(tmp_path) -> UserStore:
    return UserStore(tmp_path / "state" / "users.sqlite3", hasher=FAST)


def _hashes(store: UserStore) -> dict[str, str]:
    with sqlite3.connect(store.path) as conn:
        return dict(conn.execute("SELECT name, password_hash FROM users"))


def test_default_hasher_is_argon2id_and_file_is_private(tmp_path):
    users = UserStore.open(tmp_path / "state")
    assert not users.path.exists() and users.users() == []  # reading creates nothing
    users.add("lan", Role.APPROVER, "mat-khau-dai")
    stored = _hashes(users)["lan"]
    assert stored.startswith("$argon2id$") and "mat-khau-dai" not in stored
    assert "m=65536" in stored  # memory-hard: 64 MiB (RFC 9106 low-memory profile)
    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600
    assert users.authenticate("lan", "mat-khau-dai").name == "lan"
    assert users.authenticate("lan", "mat-khau-sai") is None


def test_login_refuses_wrong_password_unknown_name_and_disabled_user(store):
    store.add("admin", "admin", "quan-tri-123")
    store.add("Hoa", "operator", "phat-thanh-1")
    assert store.authenticate("hoa", "phat-thanh-1").role is Role.OPERATOR  # names are case-insensitive
    assert store.authenticate("HOA", "phat-thanh-1") is not None
    assert store.authenticate("hoa", "phat-thanh-2") is None
    assert store.authenticate("nobody", "phat-thanh-1") is None
    assert store.authenticate("không hợp lệ", "x") is None
    store.set_active("hoa", False)
    assert store.authenticate("hoa", "phat-thanh-1") is None
    store.set_active("hoa", True)
    user = store.authenticate("hoa", "phat-thanh-1")
    assert user is not None and user.last_login_at is not None


def test_outdated_hash_is_upgraded_on_login(tmp_path):
    path = tmp_path / "users.sqlite3"
    weak = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1)
    UserStore(path, hasher=weak).add("lan", "approver", "mat-khau-dai")
    old = _hashes(UserStore(path))["lan"]
    assert "m=512" in old
    stronger = UserStore(path, hasher=FAST)
    assert stronger.authenticate("lan", "mat-khau-dai") is not None
    new = _hashes(stronger)["lan"]
    assert new != old and "m=1024" in new
    assert stronger.authenticate("lan", "mat-khau-dai") is not None


def test_password_change_takes_effect(store):
    store.add("lan", "approver", "mat-khau-cu")
    store.set_password("lan", "mat-khau-moi")
    assert store.authenticate("lan", "mat-khau-cu") is None
    assert store.authenticate("lan", "mat-khau-moi") is not None


@pytest.mark.parametrize("name", ["nguyễn", "a", "có dấu cách", "-dau-gach", "x" * 40, ""])
def test_bad_user_names_are_refused(store, name):
    with pytest.raises(UserError, match="Tên đăng nhập"):
        store.add(name, "viewer", "mat-khau-dai")


def test_weak_password_duplicate_name_and_unknown_role_are_refused(store):
    with pytest.raises(UserError, match="ít nhất 8"):
        store.add("lan", "viewer", "ngan")
    store.add("lan", "viewer", "mat-khau-dai")
    with pytest.raises(UserError, match="Đã có người dùng 'lan'"):
        store.add("LAN", "viewer", "mat-khau-dai")
    with pytest.raises(UserError, match="Vai trò 'sep' không hợp lệ"):
        store.add("hoa", "sep", "mat-khau-dai")


def test_roles_have_vietnamese_names_and_only_approver_and_admin_approve():
    assert Role.parse("lãnh đạo duyệt") is Role.APPROVER and Role.parse(" Admin ") is Role.ADMIN
    assert [r.vi for r in Role] == ["quản trị", "phát thanh viên", "lãnh đạo duyệt", "chỉ xem"]
    assert {r for r in Role if r.can_approve} == {Role.ADMIN, Role.APPROVER}


def test_the_last_active_admin_cannot_be_removed_disabled_or_demoted(store):
    store.add("admin", "admin", "quan-tri-123")
    for change in (lambda: store.remove("admin"), lambda: store.set_active("admin", False),
                   lambda: store.set_role("admin", "viewer")):  # fmt: skip
        with pytest.raises(UserError, match="quản trị duy nhất"):
            change()
    store.add("admin2", "admin", "quan-tri-456")
    store.remove("admin")
    assert [u.name for u in store.users()] == ["admin2"]


# -- the command ------------------------------------------------------------------------


def _cli(monkeypatch, tmp_path, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return cli.main(["user", "--schedule", str(tmp_path / "schedule.yaml"), *argv])


def test_user_command_adds_lists_changes_and_removes(monkeypatch, tmp_path, capsys):
    assert _cli(monkeypatch, tmp_path, "list") == 0
    assert "user add TÊN --role admin" in capsys.readouterr().err
    assert (
        _cli(monkeypatch, tmp_path, "add", "admin", "--role", "admin", "--password-stdin", stdin="quan-tri-123\n") == 0
    )
    assert (
        _cli(monkeypatch, tmp_path, "add", "lan", "--role", "approver", "--password-stdin", stdin="mat-khau-1\n") == 0
    )
    assert "Đã thêm người dùng 'lan' (lãnh đạo duyệt)" in capsys.readouterr().out
    assert cli.main(["user", "list", "--schedule", str(tmp_path / "schedule.yaml")]) == 0  # option after the action
    assert "lan " in capsys.readouterr().out
    users = UserStore.open(tmp_path / "state")
    assert users.authenticate("lan", "mat-khau-1") is not None

    assert _cli(monkeypatch, tmp_path, "passwd", "lan", "--password-stdin", stdin="mat-khau-2\n") == 0
    assert users.authenticate("lan", "mat-khau-1") is None and users.authenticate("lan", "mat-khau-2") is not None
    assert _cli(monkeypatch, tmp_path, "disable", "lan") == 0
    assert _cli(monkeypatch, tmp_path, "list") == 0
    out = capsys.readouterr().out
    assert "lãnh đạo duyệt" in out and "đã khoá" in out and "quản trị" in out
    assert "$argon2" not in out
    assert _cli(monkeypatch, tmp_path, "remove", "lan") == 0
    assert users.get("lan") is None


def test_user_command_refuses_bad_input_in_vietnamese(monkeypatch, tmp_path, capsys):
    assert _cli(monkeypatch, tmp_path, "add", "lan", "--role", "sep", "--password-stdin", stdin="mat-khau-1\n") == 1
    assert "Vai trò 'sep' không hợp lệ" in capsys.readouterr().err
    assert _cli(monkeypatch, tmp_path, "add", "lan", "--role", "viewer", "--password-stdin", stdin="ngan\n") == 1
    assert "ít nhất 8" in capsys.readouterr().err
    assert _cli(monkeypatch, tmp_path, "add", "lan", "--role", "viewer", "--password-stdin", stdin="\n") == 1
    assert "Chưa nhập mật khẩu" in capsys.readouterr().err
    assert _cli(monkeypatch, tmp_path, "passwd", "khong-co", "--password-stdin", stdin="mat-khau-1\n") == 1
    assert "Không có người dùng 'khong-co'" in capsys.readouterr().err
    assert _cli(monkeypatch, tmp_path) == 1
    assert "Chưa chọn việc" in capsys.readouterr().err


def test_typed_passwords_must_match(monkeypatch, tmp_path, capsys):
    typed = iter(["mat-khau-1", "mat-khau-2"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    assert _cli(monkeypatch, tmp_path, "add", "lan", "--role", "viewer") == 1
    assert "không giống nhau" in capsys.readouterr().err
    assert UserStore.open(tmp_path / "state").get("lan") is None


# -- password slots: argon2 costs 64 MiB a check, so only a few run at once -------------------


def test_a_check_without_a_free_slot_is_refused_for_known_and_unknown_names(store):
    store.add("lan", "viewer", "mat-khau-dai")
    with ExitStack() as held:
        for _ in range(PASSWORD_SLOTS):
            held.enter_context(password_slot(None))
        for name in ("lan", "khong-co"):
            started = time.monotonic()
            with pytest.raises(PasswordBusy, match="thử lại sau vài giây"):
                store.authenticate(name, "mat-khau-dai", wait=0.05)
            assert time.monotonic() - started < 2
    assert store.authenticate("lan", "mat-khau-dai", wait=0.05) is not None


def test_an_async_login_takes_a_slot_without_a_thread_and_gives_it_back():
    async def take(n: int) -> list[bool]:
        return [await take_password_slot(0.05) for _ in range(n)]

    def run_alone(coroutine: Any) -> Any:
        """``asyncio.run`` on a thread of its own (the session's Playwright keeps a loop on this one)."""
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coroutine).result(timeout=30)

    assert run_alone(take(PASSWORD_SLOTS + 1)) == [True] * PASSWORD_SLOTS + [False]
    for _ in range(PASSWORD_SLOTS):
        release_password_slot()
    assert run_alone(take(1)) == [True]
    release_password_slot()


def test_argon2_runs_below_the_rest_of_the_process():
    here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    there = argon2_work(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    assert there > here


def test_user_command_audits_every_change_and_ends_the_users_sessions(monkeypatch, tmp_path, capsys):
    sessions = SessionStore(tmp_path / "state" / "sessions.sqlite3")
    for name, role in (("admin", "admin"), ("lan", "viewer")):
        assert _cli(monkeypatch, tmp_path, "add", name, "--role", role, "--password-stdin", stdin="mat-khau-1\n") == 0
    steps = (
        (("passwd", "lan", "--password-stdin"), "mat-khau-2\n"),
        (("role", "lan", "operator"), ""),
        (("disable", "lan"), ""),
        (("enable", "lan"), ""),
        (("remove", "lan"), ""),
    )
    for args, stdin in steps:
        sid, _ = sessions.create("lan")
        assert _cli(monkeypatch, tmp_path, *args, stdin=stdin) == 0, capsys.readouterr().err
        assert sessions.get(sid) is None, args
        assert "đã được đăng xuất" in capsys.readouterr().out
    lines = [e for e in audit.entries(tmp_path / "state" / "audit.jsonl") if e.action == "user_change"]
    assert [(e.detail["user"], e.detail["change"]) for e in lines] == [
        ("admin", "add"),
        ("lan", "add"),
        ("lan", "đặt mật khẩu mới"),
        ("lan", "vai trò: phát thanh viên"),
        ("lan", "khoá"),
        ("lan", "mở khoá"),
        ("lan", "xoá"),
    ]
    assert {(e.who, e.where) for e in lines} == {(getpass.getuser(), f"dòng lệnh {socket.gethostname()}")}
    assert "mat-khau-2" not in (tmp_path / "state" / "audit.jsonl").read_text(encoding="utf-8")

"""``broadcaster user``: the people who may use Loa xã (add, list, passwd, role, disable, enable, remove).

Whoever can run this command can read the state folder (users.sqlite3 is 0600, owned by the
account that runs Loa xã), so it asks for no login: it is how the first admin is made.

Every change is written to the audit trail as ``user_change`` (who: the account that ran the
command, where: ``dòng lệnh <máy>``). A new password, a new role, disabling or enabling a user
ends all their console sessions (``state/sessions.sqlite3``, the daemon's own file): they log in
again at their next click.
"""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
from pathlib import Path
from typing import Any

from broadcaster import ui

HELP = "Quản lý người dùng và vai trò (quản trị, phát thanh viên, lãnh đạo duyệt, chỉ xem)"

CLI_WHO = "dòng lệnh"
_ROLES = "admin (quản trị), operator (phát thanh viên), approver (lãnh đạo duyệt), viewer (chỉ xem)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ui.add_schedule_argument(parser)
    sub = parser.add_subparsers(dest="action", metavar="VIỆC", parser_class=type(parser))
    p = sub.add_parser("add", help="thêm người dùng", description="Thêm người dùng (hỏi mật khẩu hai lần).")
    p.add_argument("name", metavar="TÊN", help="tên đăng nhập: chữ không dấu, số, . _ - (ví dụ: nguyenvana)")
    p.add_argument("--role", required=True, metavar="VAI_TRÒ", help=f"một trong: {_ROLES}")
    add_password_argument(p)
    sub.add_parser("list", help="xem danh sách người dùng", description="Xem danh sách người dùng.")
    p = sub.add_parser("passwd", help="đổi mật khẩu", description="Đặt mật khẩu mới cho người dùng.")
    p.add_argument("name", metavar="TÊN")
    add_password_argument(p)
    p = sub.add_parser("role", help="đổi vai trò", description="Đổi vai trò của người dùng.")
    p.add_argument("name", metavar="TÊN")
    p.add_argument("role", metavar="VAI_TRÒ", help=f"một trong: {_ROLES}")
    for action, text in (("disable", "khoá (không đăng nhập, không duyệt được)"), ("enable", "mở khoá")):
        p = sub.add_parser(action, help=text, description=f"Người dùng: {text}.")
        p.add_argument("name", metavar="TÊN")
    p = sub.add_parser("remove", help="xoá người dùng", description="Xoá người dùng (các lần duyệt cũ vẫn giữ tên).")
    p.add_argument("name", metavar="TÊN")
    for child in sub.choices.values():  # --schedule also after the action (SUPPRESS: keep one given before)
        child.add_argument(
            "--schedule", type=Path, default=argparse.SUPPRESS, metavar="ĐƯỜNG_DẪN", help="tệp lịch phát"
        )


def add_password_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="đọc mật khẩu từ dòng đầu của đầu vào chuẩn (cho tập lệnh), thay vì hỏi",
    )


def read_password(args: Any, prompt: str, *, confirm: bool = False) -> str:
    """The password from stdin's first line (``--password-stdin``) or typed without echo.

    Raises ValueError (Vietnamese) when the two typed passwords differ or nothing was given.
    """
    if getattr(args, "password_stdin", False):
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = getpass.getpass(prompt)
            if confirm and getpass.getpass("Nhập lại mật khẩu: ") != password:
                raise ValueError("Hai lần nhập mật khẩu không giống nhau. Hãy chạy lại lệnh và nhập cẩn thận.")
        except EOFError:
            raise ValueError(
                "Không đọc được mật khẩu (không có bàn phím để gõ). "
                "Chạy lệnh trong cửa sổ dòng lệnh, hoặc dùng --password-stdin khi chạy từ tập lệnh."
            ) from None
    if not password:
        raise ValueError("Chưa nhập mật khẩu.")
    return password


def state_dir(args: Any) -> Path:
    """The state folder of the schedule named by ``--schedule`` (even when the schedule is broken)."""
    from broadcaster.layout import Layout

    return Layout.locate(ui.schedule_path(args)).state_dir


def use_station_zone(args: Any) -> None:
    """Show times in the zone of the schedule named by ``--schedule``, read without loading it."""
    from broadcaster import fmt

    fmt.set_station_zone(fmt.station_zone_of(ui.schedule_path(args)))


def _list(store: Any) -> int:
    users = store.users()
    if not users:
        ui.info("Chưa có người dùng nào. Tạo người quản trị đầu tiên: broadcaster user add TÊN --role admin")
        return 0
    from broadcaster import fmt

    width = max(len(u.name) for u in users)
    print(f"{'Tên':<{width}}  {'Vai trò':<16} {'Trạng thái':<11} Đăng nhập lần cuối")
    for u in users:
        last = fmt.station_time(u.last_login_at) if u.last_login_at else None
        seen = f"{fmt.day(last)} {fmt.clock(last)}" if last else "chưa"
        print(f"{u.name:<{width}}  {u.role.vi:<16} {'hoạt động' if u.active else 'đã khoá':<11} {seen}")
    return 0


def _os_user() -> str:
    """Who ran the command, for the audit trail: the OS account, else "dòng lệnh"."""
    try:
        return getpass.getuser() or CLI_WHO
    except (OSError, KeyError, ImportError):
        return CLI_WHO


def changed(args: Any, name: str, change: str, *, end_sessions: bool = True, **extra: Any) -> None:
    """Audit one change of a user and (by default) end that user's console sessions."""
    from broadcaster import audit
    from broadcaster.layout import Layout
    from broadcaster.users import StateError

    layout = Layout.locate(ui.schedule_path(args))
    try:
        audit.append(
            layout.audit_log,
            who=_os_user(),
            where=f"{CLI_WHO} {socket.gethostname()}",
            action="user_change",
            detail={"user": name, "change": change, **extra},  # never the password itself
        )
    except OSError as exc:
        ui.warn(f"Không ghi được nhật ký thao tác ({exc}). Kiểm tra quyền ghi thư mục trạng thái.")
    if not end_sessions:
        return
    from broadcaster.console.sessions import SessionStore

    try:
        ended = SessionStore(layout.sessions_db).delete_user(name)
    except (StateError, OSError) as exc:  # the console still refuses them: they predate the change
        ui.warn(f"Không xoá được phiên đăng nhập của '{name}' ({exc}); bảng điều khiển vẫn không nhận các phiên cũ.")
        return
    if ended:
        print(f"'{name}' đã được đăng xuất khỏi bảng điều khiển; lần bấm tiếp theo sẽ phải đăng nhập lại.")


def run(args: Any) -> int:
    from broadcaster.users import StateError, UserStore

    if not args.action:
        return ui.error("Chưa chọn việc.", "Ví dụ: broadcaster user add nguyenvana --role admin; broadcaster user list")
    store = UserStore.open(state_dir(args))
    try:
        return _act(args, store)
    except StateError as exc:
        return ui.error(str(exc))
    except ValueError as exc:
        return ui.error(str(exc))


def _act(args: Any, store: Any) -> int:
    from broadcaster.users import Role, check_name

    if args.action == "list":
        use_station_zone(args)
        return _list(store)
    if args.action == "add":
        name, role = check_name(args.name), Role.parse(args.role)  # refuse before asking for a password
        if store.get(name):
            return ui.error(
                f"Đã có người dùng '{name}'.", f"Chọn tên khác, hoặc đổi mật khẩu: broadcaster user passwd {name}"
            )
        user = store.add(name, role, read_password(args, f"Mật khẩu cho {name}: ", confirm=True))
        print(f"Đã thêm người dùng '{user.name}' ({user.role.vi}).")
        changed(args, user.name, "add", end_sessions=False, role=user.role.value)
    elif args.action == "passwd":
        user = store.require(args.name)
        store.set_password(user.name, read_password(args, f"Mật khẩu mới cho {user.name}: ", confirm=True))
        print(f"Đã đổi mật khẩu của '{user.name}'.")
        changed(args, user.name, "đặt mật khẩu mới")
    elif args.action == "role":
        user = store.set_role(args.name, args.role)
        print(f"'{user.name}' giờ là {user.role.vi}.")
        changed(args, user.name, f"vai trò: {user.role.vi}")
    elif args.action in ("disable", "enable"):
        user = store.set_active(args.name, args.action == "enable")
        print(f"Đã {'mở khoá' if user.active else 'khoá'} người dùng '{user.name}'.")
        changed(args, user.name, "mở khoá" if user.active else "khoá")
    elif args.action == "remove":
        user = store.require(args.name)
        store.remove(user.name)
        print(f"Đã xoá người dùng '{user.name}' ({user.role.vi}).")
        changed(args, user.name, "xoá")
    return 0

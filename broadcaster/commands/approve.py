"""``broadcaster approve``: a leader approves (or rejects, revokes) the exact content that will air.

Only users with the approver (lãnh đạo duyệt) or admin role may decide, with their password.
Listing (``--pending``, ``--reviews``) needs no password. See ``broadcaster/approval.py`` for what
an approval is bound to (the content's SHA-256: an edit or a rename voids it).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from broadcaster import ui
from broadcaster.approval_plan import schedule_items, unapproved_in_schedule
from broadcaster.commands.user import add_password_argument, read_password, state_dir, use_station_zone
from broadcaster.layout import SCRIPT_NAME, Layout

if TYPE_CHECKING:
    from broadcaster.approval import ApprovalStore, Subject
    from broadcaster.schedule.model import Schedule

HELP = "Duyệt nội dung trước khi phát (khi lịch đặt policy.require_approval: true); xem bài chờ duyệt"


class _Refused(Exception):
    """Stop with a Vietnamese message (and what to do next)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ui.add_schedule_argument(parser)
    parser.add_argument("script", nargs="?", metavar="BÀI", help="tên bài trong scripts_vi/ (không cần đuôi .txt)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--text", metavar="VĂN_BẢN", help="duyệt một văn bản (thông báo phát ngay, text: trong lịch)")
    what.add_argument("--code", metavar="MÃ", help="duyệt theo mã hiện trong 'broadcaster approve --pending'")
    what.add_argument("--audio", metavar="TỆP", help="duyệt một tệp âm thanh (ví dụ audio/thong-bao.mp3)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--pending", action="store_true", help="xem nội dung đang chờ duyệt (kèm cách máy sẽ đọc)")
    mode.add_argument("--reject", action="store_true", help="từ chối nội dung (cần --note lý do)")
    mode.add_argument("--revoke", action="store_true", help="thu hồi lần duyệt (mọi phiên bản của bài)")
    mode.add_argument("--reviews", action="store_true", help="xem các bản tin khẩn cấp đã phát chưa duyệt, cần xem lại")
    mode.add_argument("--review", type=int, metavar="SỐ", help="ghi nhận đã xem lại bản tin khẩn cấp số SỐ")
    parser.add_argument("--by", metavar="TÊN", help="người duyệt (vai trò lãnh đạo duyệt hoặc quản trị)")
    parser.add_argument("--note", default="", metavar="GHI_CHÚ", help="ghi chú, hoặc lý do từ chối")
    add_password_argument(parser)


def run(args: Any) -> int:
    from broadcaster.users import StateError

    try:
        if args.pending:
            return _pending(args)
        if args.reviews:
            return _reviews(args)
        return _decide(args)
    except _Refused as exc:
        return ui.error(str(exc), exc.hint)
    except (StateError, ValueError) as exc:
        return ui.error(str(exc))


# -- listing ---------------------------------------------------------------------------


def _reader(base: Path) -> Callable[[str], str]:
    """How the speech engines will read a text (the normalizer, with the station's word lists)."""
    from broadcaster.speech.normalize import load_lexicon, normalize

    lexicon = load_lexicon(Layout.at(base).scripts_dir)
    return lambda text: normalize(text, lexicon)


def _indented(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line if line else "" for line in text.splitlines())


def _load(args: Any) -> Schedule:

    result = ui.load_and_report(ui.schedule_path(args))
    if not result.ok:
        raise _Refused("Lịch phát đang có lỗi (xem ở trên).", "Sửa schedule.yaml rồi chạy lại lệnh.")
    schedule: Schedule = result.schedule
    return schedule


def approval_warnings(schedule: Schedule, state_dir: Path) -> list[str]:
    """For ``check``: one Vietnamese warning per unapproved item the schedule uses (never creates files)."""
    from broadcaster.approval import ApprovalStore

    out = []
    for u, slots in unapproved_in_schedule(schedule, ApprovalStore.open(state_dir)):
        out.append(
            f"{u.reason[:1].upper()}{u.reason[1:]}: buổi {', '.join(slots)} sẽ không phát. "
            f"→ Lãnh đạo duyệt bằng lệnh: {_how(u.subject)} --by TÊN"
        )
    return out


def _how(subject: Subject) -> str:
    from broadcaster.schedule.model import ItemKind

    if subject.kind is ItemKind.SCRIPT:
        return f"broadcaster approve {subject.name}"
    return f"broadcaster approve --code {subject.code}"


def _pending(args: Any) -> int:
    from broadcaster.approval import ApprovalStore, approval_required

    schedule = _load(args)
    store = ApprovalStore.open(schedule.state_path)
    read = _reader(schedule.base_dir)
    if not approval_required(schedule):
        ui.info(
            "Lịch phát chưa bắt buộc duyệt (policy.require_approval: false): nội dung vẫn phát; có thể duyệt trước."
        )
    rows = unapproved_in_schedule(schedule, store, always=True)
    waiting = store.waiting()
    if not rows and not waiting:
        print("Không có nội dung nào chờ duyệt: mọi bài, văn bản và tệp âm thanh trong lịch đã được duyệt.")
        return 0
    for u, slots in rows:
        print(f"[mã {u.subject.code}] {u.reason} — dùng trong buổi: {', '.join(slots)}")
        if u.subject.content is not None:
            print("    Máy sẽ đọc:\n" + _indented(read(u.subject.content)))
    tz = schedule.campaign.timezone
    from broadcaster import fmt

    for w in waiting:
        at = w.last_at.astimezone(tz)
        who = f" bởi {w.requested_by}" if w.requested_by else ""
        times = f" ({w.times} lần)" if w.times > 1 else ""
        print(
            f"[mã {w.subject.code}] {w.subject.label_vi} — xin phát ngay{who} lúc {fmt.day(at)} {fmt.clock(at)}{times}"
        )
        if w.subject.content is not None:
            print("    Máy sẽ đọc:\n" + _indented(read(w.subject.content)))
    print(
        f"\n{len(rows) + len(waiting)} nội dung chờ duyệt.\n"
        "  → Duyệt: broadcaster approve TÊN_BÀI --by TÊN (hoặc --code MÃ); "
        'từ chối: broadcaster approve --reject TÊN_BÀI --note "lý do" --by TÊN'
    )
    return 0


def _reviews(args: Any) -> int:
    from broadcaster import fmt
    from broadcaster.approval import ApprovalStore

    store = ApprovalStore.open(state_dir(args))
    use_station_zone(args)
    reviews = store.pending_reviews()
    if not reviews:
        print("Không có bản tin khẩn cấp nào cần xem lại.")
        return 0
    for r in reviews:
        at = fmt.station_time(r.aired_at)
        who = f", do {r.requested_by} yêu cầu" if r.requested_by else ""
        print(f"[số {r.id}] {fmt.day(at)} {fmt.clock(at)} — {r.title}{who}")
        print(_indented(r.content or "\n".join(r.items), "    "))
    print(
        f"\n{len(reviews)} bản tin khẩn cấp đã phát khi chưa duyệt.\n"
        "  → Ghi nhận đã xem lại: broadcaster approve --review SỐ --by TÊN"
    )
    return 0


# -- deciding --------------------------------------------------------------------------


def _approver(args: Any) -> str:
    """The named approver, after checking their role and password."""
    from broadcaster.users import UserStore

    if not args.by:
        raise _Refused("Cần ghi tên người duyệt.", "Thêm --by TÊN (người có vai trò lãnh đạo duyệt hoặc quản trị).")
    users = UserStore.open(state_dir(args))
    user = users.get(args.by)
    if user is None:
        raise _Refused(f"Không có người dùng '{args.by}'.", "Xem danh sách: broadcaster user list")
    if not user.active:
        raise _Refused(f"Tài khoản '{user.name}' đã bị khoá.", f"Quản trị mở khoá: broadcaster user enable {user.name}")
    if not user.role.can_approve:
        raise _Refused(
            f"'{user.name}' là {user.role.vi}: chỉ lãnh đạo duyệt hoặc quản trị mới được duyệt nội dung.",
            "Nhờ lãnh đạo có quyền duyệt chạy lệnh này với tên của họ (--by).",
        )
    if users.authenticate(user.name, read_password(args, f"Mật khẩu của {user.name}: ")) is None:
        raise _Refused(f"Sai mật khẩu của '{user.name}'. Không có gì thay đổi.", "Chạy lại lệnh và nhập đúng mật khẩu.")
    return user.name


def _subject(args: Any) -> Subject:
    """The content named on the command line (BÀI, --text, --audio or --code)."""
    from broadcaster.approval import Subject, audio_subject, script_subject, text_subject
    from broadcaster.schedule.model import ItemKind

    given = [v for v in (args.script, args.text, args.code, args.audio) if v is not None]
    if len(given) != 1:
        raise _Refused(
            "Cần chỉ rõ đúng một nội dung: tên bài, --text, --audio hoặc --code.",
            "Xem nội dung chờ duyệt và mã của chúng: broadcaster approve --pending",
        )
    base = ui.schedule_path(args).resolve().parent
    if args.text is not None:
        if not args.text.strip():
            raise _Refused("Văn bản cần duyệt đang trống.")
        return text_subject(args.text)
    if args.code is not None:
        return _by_code(args)
    if args.audio is not None:
        path = Path(args.audio) if Path(args.audio).is_absolute() else base / args.audio
        try:
            return audio_subject(path)
        except OSError:
            raise _Refused(
                f"Không đọc được tệp âm thanh '{args.audio}'.", "Kiểm tra đường dẫn (tính từ thư mục có schedule.yaml)."
            ) from None
    name = args.script.strip().removesuffix(".txt")
    path = Layout.at(base).script(name)
    if args.revoke and SCRIPT_NAME.match(name) and not path.exists():  # a deleted script can still be revoked
        return Subject(ItemKind.SCRIPT, name, "")
    if not SCRIPT_NAME.match(name) or not path.is_file():
        raise _Refused(
            f"Không có bài '{args.script}' trong scripts_vi/.", "Xem tên các tệp .txt trong thư mục scripts_vi/."
        )
    try:
        return script_subject(name, path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _Refused(f"Tệp {path} không phải văn bản UTF-8.", "Lưu lại tệp với mã UTF-8 rồi duyệt.") from None


def _by_code(args: Any) -> Subject:
    from broadcaster.approval import ApprovalStore, subject_for

    code = args.code.strip().lower()
    if len(code) < 6:
        raise _Refused("Mã quá ngắn: ghi ít nhất 6 ký tự đầu của mã.", "Xem mã: broadcaster approve --pending")
    schedule = _load(args)
    known = [s for item, _ in schedule_items(schedule) if (s := subject_for(item)) is not None]
    known += [w.subject for w in ApprovalStore.open(schedule.state_path).waiting()]
    found = {s.digest: s for s in known if s.digest.startswith(code)}
    if len(found) != 1:
        why = "Không tìm thấy" if not found else "Có nhiều nội dung trùng"
        raise _Refused(
            f"{why} mã '{args.code}' trong lịch phát và danh sách chờ duyệt.", "Xem mã: broadcaster approve --pending"
        )
    return next(iter(found.values()))


def _decide(args: Any) -> int:
    from broadcaster.approval import ApprovalStore, Decision

    if args.review is not None:
        by = _approver(args)
        review = ApprovalStore.open(state_dir(args)).record_review(args.review, by, args.note)
        print(f"Đã ghi nhận: {review.reviewed_by} đã xem lại bản tin khẩn cấp số {review.id} ({review.title}).")
        return 0
    if args.reject and not args.note.strip():
        raise _Refused("Khi từ chối cần ghi lý do.", 'Thêm --note "lý do" để người soạn biết cần sửa gì.')
    subject = _subject(args)  # before the password: a typo should not cost a login
    by = _approver(args)
    store = ApprovalStore.open(state_dir(args))
    if args.revoke:
        return _revoke(store, subject, by, args.note)
    if args.reject:
        store.reject(subject, by, args.note)
        print(f"Đã từ chối {subject.label_vi} (mã {subject.code}). Nội dung này sẽ không được phát.")
        return 0
    previous = store.latest([subject.digest]).get(subject.digest)
    if previous is not None and previous.decision is Decision.APPROVED:
        print(f"{subject.label_vi[:1].upper()}{subject.label_vi[1:]} đã được duyệt trước đó ({previous.describe()}).")
        return 0
    store.approve(subject, by, args.note)
    print(f"Đã duyệt {subject.label_vi} (mã {subject.code}). Sửa hoặc đổi tên nội dung thì cần duyệt lại.")
    return 0


def _revoke(store: ApprovalStore, subject: Subject, by: str, note: str) -> int:
    from broadcaster.approval import Decision
    from broadcaster.schedule.model import ItemKind

    if subject.kind is ItemKind.TEXT:  # a text is known only by its digest
        latest = store.latest([subject.digest]).get(subject.digest)
        withdrawn = [latest] if latest and latest.decision is Decision.APPROVED else []
        if withdrawn:
            store.decide(subject, Decision.REVOKED, by, note)
    else:
        withdrawn = store.revoke(subject.kind, subject.name, by, note)
    if not withdrawn:
        print(f"{subject.label_vi[:1].upper()}{subject.label_vi[1:]} chưa được duyệt: không có gì để thu hồi.")
        return 0
    print(
        f"Đã thu hồi {len(withdrawn)} lần duyệt của {subject.label_vi}. "
        "Nội dung này sẽ không được phát cho đến khi duyệt lại."
    )
    return 0

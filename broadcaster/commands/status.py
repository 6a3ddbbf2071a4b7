"""``broadcaster status``: what the running daemon is doing and whether it is healthy."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from broadcaster import ui

HELP = "xem trạng thái phần mềm đang chạy: đang phát gì, hàng chờ, lượt tiếp theo, lỗi sửa lịch, giọng đọc"


def add_arguments(parser) -> None:
    ui.add_schedule_argument(parser)
    parser.add_argument("--json", action="store_true", help="in dạng JSON")


def _local(iso: str | None, tz, fmt: str = "%H:%M:%S %d/%m/%Y") -> str:
    if not iso:
        return ""
    t = datetime.fromisoformat(iso)
    return (t.astimezone(tz) if t.tzinfo else t).strftime(fmt)


def _priority(label: str) -> str:
    from broadcaster.schedule.model import Priority

    try:
        return Priority.parse(label).vi
    except ValueError:
        return label


def _voice(name: str, h: dict | str) -> str:
    if isinstance(h, str):
        return f"{name}: {h}"
    kind = "trực tuyến" if h.get("online") else "ngoại tuyến"
    if h.get("reachable") is None:
        state = "chưa dùng lần nào"
    elif h.get("reachable"):
        state = "hoạt động tốt"
    else:
        state = f"KHÔNG dùng được — {h.get('last_error') or 'không rõ lý do'}"
        if h.get("retry_in"):
            state += f" (thử lại sau {h['retry_in']:.0f} giây)"
    return f"{name} ({kind}): {state}"


def render(s: dict) -> list[str]:
    """The status an operator reads: alerts first, every word Vietnamese, times in the campaign's zone."""
    from broadcaster.asrun import STATUS_VI, item_label_vi, outcome_summary

    c = s["campaign"]
    tz = ZoneInfo(c.get("timezone") or "Asia/Ho_Chi_Minh")
    h, rem = divmod(int(s["uptime_s"]), 3600)
    lines = [f"Loa xã đang chạy {h} giờ {rem // 60} phút (tiến trình {s['pid']}), lịch {s['schedule']}"]
    for alert in s.get("alerts", []):
        lines.append(f"CẢNH BÁO: {alert}")
    window = "đang trong thời gian chiến dịch" if c["in_window"] else "NGOÀI thời gian chiến dịch"
    start, end = (datetime.fromisoformat(c[k]).strftime("%d/%m/%Y") for k in ("start", "end"))
    lines.append(f"Chiến dịch: {c['name']} ({start} → {end}), {window}")
    out = s["output"]
    lines.append(f"Đầu ra: {out.get('name', out)}")
    lines.extend(zone_lines(s.get("zones") or []))
    on_air = s.get("on_air") or ([s["now_playing"]] if s.get("now_playing") else [])
    for now in on_air:  # every zone's broadcast, not only the first zone's
        since = datetime.fromtimestamp(now["since"], tz).strftime("%H:%M:%S")
        items = ", ".join(item_label_vi(i) for i in now["items"])
        zone = f" [vùng {now['zone']}]" if now.get("zone") else ""
        lines.append(f"ĐANG PHÁT{zone}: {now['title']} (mức {_priority(now['priority'])}) từ {since} — {items}")
    if not on_air:
        lines.append("Đang phát: không")
    lines.append(f"Hàng chờ: {len(s['queue'])}")
    for q in s["queue"]:
        when = _local(q["planned_at"], tz) or "ngay khi đến lượt"
        lines.append(f"  #{q['id']} {q['title']} (mức {_priority(q['priority'])}) — {when}")
    lines.append("Lượt tiếp theo:" if s["next"] else "Lượt tiếp theo: không còn lượt nào theo lịch")
    for n in s["next"]:
        lines.append(f"  {_local(n['at'], tz)}  {n['slot']} (mức {_priority(n['priority'])})")
    today = s.get("today")
    if today is not None:
        counts = outcome_summary(today)  # the words and order of `log` and the report
        lines.append(f"Hôm nay: {counts or 'chưa có lượt phát nào'} (chi tiết: 'broadcaster log')")
    last = s.get("last_result")
    if last:
        what = last.get("title") or last["key"]
        when = _local(last.get("ended_at"), tz, "%H:%M %d/%m")
        status = STATUS_VI.get(last["status"], last["status"])
        error = last.get("error")
        shown = error and any(error in a for a in s.get("alerts", []))  # already in an alert above
        lines.append(
            f"Lượt phát gần nhất: {what}{f' (xong lúc {when})' if when else ''} — {status}"
            + (f" ({error})" if error and not shown else "")
        )
    r = s.get("last_reload") or {}
    if r:
        state = "thành công" if r.get("ok") else "BỊ TỪ CHỐI"
        lines.append(f"Lần nạp lịch gần nhất ({_local(r.get('at'), tz)}): {state} — {r.get('message', '')}")
        lines.extend(f"  {e}" for e in r.get("errors", []))
    lines.append("Giọng đọc:")
    lines.extend(f"  {_voice(name, h)}" for name, h in (s.get("engines") or {}).items())
    if s.get("adhoc_voice_rule"):
        lines.append(s["adhoc_voice_rule"])
    return lines


def zone_lines(zones: list[dict]) -> list[str]:
    """One line per zone (output, on air, queue, receivers) and one per receiver that is not well."""
    if not zones:
        return []
    lines = [f"Vùng loa ({len(zones)}):"]
    for z in zones:
        out = z["output"]
        if z["kind"] == "icecast":
            link = "đã kết nối" if out.get("connected") else "MẤT KẾT NỐI"
            where = f"Icecast {out.get('url', '')} ({link})"
        else:
            where = str(out.get("name", "card âm thanh"))
        now = z.get("now_playing")
        airing = f"đang phát {now['title']}" if now else "không phát"
        receivers = z.get("receivers") or []
        heard = f"; máy thu {z.get('receivers_alive', 0)}/{len(receivers)} đang nhận tiếng" if receivers else ""
        if z["kind"] == "icecast" and not receivers:
            heard = "; chưa có máy thu nào báo về"
        lines.append(f"  {z['name']}: {where} — {airing}; hàng chờ {z.get('queue', 0)}{heard}")
        for r in receivers:
            if not r.get("alive"):
                lines.append(f"    máy thu {r['name']}: {r.get('state_vi', r.get('state'))}")
    return lines


def run(args) -> int:
    from broadcaster.client import ApiRefused, DaemonNotRunning, connect

    try:
        s = connect(ui.schedule_path(args)).call("GET", "/api/status")
    except DaemonNotRunning:
        return ui.error(
            "phần mềm phát thanh KHÔNG chạy.",
            "Khởi động bằng 'broadcaster run' (hoặc 'systemctl start loa-xa' nếu đã cài dịch vụ).",
        )
    except ApiRefused as exc:
        return ui.error(str(exc))
    if args.json:
        print(json.dumps(s, ensure_ascii=False, indent=2))
        return 0
    print("\n".join(render(s)))
    return 0

"""``broadcaster status``: what the running daemon is doing and whether it is healthy."""

from __future__ import annotations

import json
from datetime import datetime

from broadcaster import ui

HELP = "xem trạng thái phần mềm đang chạy: đang phát gì, hàng chờ, lượt tiếp theo, lỗi sửa lịch, giọng đọc"


def add_arguments(parser) -> None:
    ui.add_schedule_argument(parser)
    parser.add_argument("--json", action="store_true", help="in dạng JSON")


def _when(iso: str | None) -> str:
    if not iso:
        return "ngay khi đến lượt"
    return datetime.fromisoformat(iso).strftime("%H:%M:%S %d/%m/%Y")


def run(args) -> int:
    from broadcaster.client import ApiRefused, DaemonNotRunning, connect

    try:
        s = connect(ui.schedule_path(args)).call("GET", "/api/status")
    except DaemonNotRunning:
        return ui.error("phần mềm phát thanh KHÔNG chạy.",
                        "Khởi động bằng 'broadcaster run' (hoặc 'systemctl start loa-xa' nếu đã cài dịch vụ).")
    except ApiRefused as exc:
        return ui.error(str(exc))
    if args.json:
        print(json.dumps(s, ensure_ascii=False, indent=2))
        return 0
    h, rem = divmod(int(s["uptime_s"]), 3600)
    c = s["campaign"]
    print(f"Loa xã đang chạy {h} giờ {rem // 60} phút (tiến trình {s['pid']}), lịch {s['schedule']}")
    window = "đang trong thời gian chiến dịch" if c["in_window"] else "NGOÀI thời gian chiến dịch"
    print(f"Chiến dịch: {c['name']} ({c['start']} → {c['end']}), {window}")
    out = s["output"]
    print(f"Đầu ra: {out.get('name', out)}")
    now = s.get("now_playing")
    if now:
        since = datetime.fromtimestamp(now["since"]).strftime("%H:%M:%S")
        print(f"ĐANG PHÁT: {now['title']} ({now['priority']}) từ {since} — {', '.join(now['items'])}")
    else:
        print("Đang phát: không")
    print(f"Hàng chờ: {len(s['queue'])}")
    for q in s["queue"]:
        print(f"  #{q['id']} {q['title']} ({q['priority']}) — {_when(q['planned_at'])}")
    print("Lượt tiếp theo:" if s["next"] else "Lượt tiếp theo: không còn lượt nào theo lịch")
    for n in s["next"]:
        print(f"  {_when(n['at'])}  {n['slot']} ({n['priority']})")
    r = s.get("last_reload") or {}
    if r:
        state = "thành công" if r.get("ok") else "BỊ TỪ CHỐI"
        print(f"Lần nạp lịch gần nhất ({r.get('at')}): {state} — {r.get('message', '')}")
        for e in r.get("errors", []):
            print(f"  {e}")
    last = s.get("last_result")
    if last:
        print(f"Lượt phát gần nhất: {last['key']} — {last['status']}" + (f" ({last['error']})" if last.get("error") else ""))
    print("Giọng đọc:")
    for name, h in (s.get("engines") or {}).items():
        print(f"  {name}: {h if isinstance(h, str) else json.dumps(h, ensure_ascii=False)}")
    print(s.get("adhoc_voice_rule", ""))
    return 0

"""Build the typed status snapshot and the alerts an operator must see first."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from broadcaster.snapshot import StatusSnapshot
from broadcaster.station import ADHOC_ONLINE_DEADLINE_S

if TYPE_CHECKING:
    from broadcaster.contract import Actor
    from broadcaster.daemon.alerting import Watch
    from broadcaster.daemon.reload import ScheduleHolder
    from broadcaster.daemon.scheduling import Scheduling
    from broadcaster.daemon.zones import Receivers
    from broadcaster.station import Station

ADHOC_VOICE_RULE = (
    f"Phát ngay: giọng trực tuyến nếu tạo xong trong {ADHOC_ONLINE_DEADLINE_S:g} giây (trong lúc phát nhạc hiệu), "
    "nếu không dùng giọng ngoại tuyến; khẩn cấp luôn dùng giọng ngoại tuyến; nội dung đã có sẵn thì dùng bản có sẵn."
)

log = logging.getLogger("broadcaster.daemon")


@dataclass(frozen=True)
class StatusSources:
    """The parts a status snapshot is read from (given by the daemon once, at start)."""

    schedule: ScheduleHolder
    station: Station
    watch: Watch
    scheduling: Scheduling
    receivers: Receivers
    started_at: float


def snapshot(src: StatusSources, actor: Actor | None = None) -> StatusSnapshot:
    """The station's state now, as ``actor`` may see it (every zone when None or unlimited)."""
    schedule = src.schedule.current
    tz: ZoneInfo = schedule.campaign.timezone
    today = datetime.now(tz).date()
    player = src.station.player
    output, last, engines = player.sink.describe(), player.last_result, src.station.renderer.health()
    c = schedule.campaign
    zone_states, receivers = zones_of(src)
    if actor is not None and actor.zones is not None:
        zone_states = [z for z in zone_states if actor.may_see(z["name"])]
    on_air = on_air_of(src, actor)
    return StatusSnapshot.model_validate(
        {
            "alerts": alerts(output, last, src.schedule.last_reload, engines)
            + [p.text for p in zone_problems(zone_states)],
            "now_playing": on_air[0] if on_air else None,
            "on_air": on_air,
            "queue": queue_of(src, actor),
            "next": [
                {
                    "at": b.at.isoformat(),
                    "slot": b.slot,
                    "priority": b.priority.label,
                    "items": [i.label for i in b.items],
                    "zones": list(b.zones) if b.zones else None,
                }
                for b in src.scheduling.upcoming(5)
            ],
            "output": output,
            "last_result": last,
            "last_reload": src.schedule.last_reload,
            "engines": engines,
            "today": today_counts(src.station, tz, today),
            "adhoc_voice_rule": ADHOC_VOICE_RULE,
            "timezone": str(tz),
            "campaign": {
                "name": c.name,
                "timezone": str(tz),
                "start": c.start.isoformat(),
                "end": c.end.isoformat(),
                "in_window": c.start <= today <= c.end,
            },
            "schedule": str(src.schedule.path),
            "uptime_s": round(time.time() - src.started_at, 1),
            "pid": os.getpid(),
            "zones": zone_states,
            "stray_receivers": receivers.get(None, []) if actor is None or actor.zones is None else [],
            "active_alerts": src.watch.hub.active(),
            "power": src.watch.power.state() if src.watch.power.config.enabled else None,
        }
    )


def on_air_of(src: StatusSources, actor: Actor | None = None) -> list[dict[str, Any]]:
    """What airs now in every zone (the main output first), each with its zone."""
    out = []
    for p in src.station.players.values():
        if (actor is None or actor.may_see(p.zone)) and (now := p.now_playing()):
            out.append({**now, "zone": p.zone})
    return out


def queue_of(src: StatusSources, actor: Actor | None = None) -> list[dict[str, Any]]:
    """Queued requests of every zone, once each (a request for several zones waits in each)."""
    seen: dict[int, dict[str, Any]] = {}
    for p in src.station.players.values():
        if actor is None or actor.may_see(p.zone):
            for r in p.queued():
                seen.setdefault(r.id, r.describe())
    return list(seen.values())


def zones_of(src: StatusSources) -> tuple[list[dict[str, Any]], dict[str | None, list[dict[str, Any]]]]:
    """Each zone: its output, what it airs, its queue and its receivers ([] without zones)."""
    receivers = src.receivers.by_zone()
    out = []
    for name, zone in src.schedule.current.zones.items():
        player = src.station.players.get(name)
        if player is None:  # declared after the daemon started: needs a restart
            continue
        heard = receivers.get(name, [])
        out.append(
            {
                "name": name,
                "kind": "icecast" if zone.icecast else "card",
                "output": player.sink.describe(),
                "now_playing": player.now_playing(),
                "queue": len(player.queued()),
                "receivers": heard,
                "receivers_alive": sum(1 for r in heard if r["alive"]),
            }
        )
    return out, receivers


@dataclass(frozen=True)
class ZoneProblem:
    """One thing wrong with a zone: what ``status`` says, and the alert it raises (``kind`` None: status only)."""

    kind: str | None
    key: str
    message: str
    advice: str = ""

    @property
    def text(self) -> str:
        return f"{self.message} — {self.advice}" if self.advice else self.message


def zone_problems(zone_states: list[dict[str, Any]]) -> list[ZoneProblem]:
    """A mount that cannot be fed, or a cluster whose receivers went quiet (status and alerts read the same)."""
    found = []
    for z in zone_states:
        name, output = z["name"], z["output"]
        if output.get("error"):
            found.append(ZoneProblem(None, name, f"Vùng {name}: đầu ra không dùng được — {output['error']}"))
        elif z["kind"] == "icecast" and output.get("connected") is False:
            found.append(
                ZoneProblem(
                    "icecast_down",
                    name,
                    f"Vùng {name}: mất kết nối máy chủ Icecast ({output.get('last_error') or 'đang thử lại'})",
                    "kiểm tra máy chủ Icecast và mật khẩu nguồn; các vùng khác vẫn phát.",
                )
            )
        for r in z["receivers"]:
            if not r["alive"]:
                message = f"Cụm loa {r['name']} (vùng {name}): {r['state_vi']}"
                found.append(ZoneProblem("receiver_lost", r["name"], message, "kiểm tra điện, mạng và máy thu."))
    return found


def today_counts(station: Station, tz: ZoneInfo, today: date) -> dict[str, int]:
    """Today's broadcasts by outcome, counted as the report counts them (a replayed one once)."""
    from broadcaster.asrun import today_counts as counts_of

    asrun = station.asrun
    try:
        rows = asrun.rows(day=today, tz=tz) if asrun is not None else []
    except Exception as exc:  # noqa: BLE001 - status must answer even if the log cannot be read
        log.warning("Không đọc được nhật ký phát cho trạng thái: %s", exc)
        return {}
    return counts_of(rows)


def output_missing(output: dict[str, Any]) -> str | None:
    """'Chưa tìm thấy …' when the sound card was not found at its last lookup."""
    if output.get("kind") != "sounddevice" or output.get("index") is not None:
        return None
    device = output.get("device")
    if device in (None, ""):
        return "Chưa tìm thấy loa (thiết bị âm thanh mặc định)"
    return f"Chưa tìm thấy thiết bị âm thanh '{device}'"


def alerts(
    output: dict[str, Any], last: dict[str, Any] | None, reload: dict[str, Any], engines: dict[str, Any]
) -> list[str]:
    """What needs the operator now, in Vietnamese, each with what to do next."""
    found = []
    missing = output_missing(output)
    if missing:
        found.append(
            f"{missing}: kiểm tra card âm thanh, dây nối amply, rồi chạy 'broadcaster devices' và "
            "'broadcaster test-tone'."
        )
    if last and last.get("status") == "failed":
        found.append(
            f"Lượt phát gần nhất ({last.get('title') or last.get('key')}) KHÔNG phát được: "
            f"{last.get('error') or 'không rõ lý do'}"
        )
    if last and last.get("status") == "unapproved":
        found.append(
            f"Lượt phát gần nhất ({last.get('title') or last.get('key')}) KHÔNG được phát vì CHƯA DUYỆT: "
            f"{last.get('error') or ''} — người duyệt chạy 'broadcaster approve --pending'."
        )
    if last and last.get("status") == "not_heard":
        found.append(
            f"Lượt phát gần nhất ({last.get('title') or last.get('key')}) đã gửi ra loa nhưng KHÔNG NGHE THẤY "
            f"ở đầu nghe kiểm tra: {last.get('error') or ''} — kiểm tra amply, dây loa và nguồn điện."
        )
    if reload and reload.get("ok") is False:
        found.append("Bản sửa lịch gần nhất bị TỪ CHỐI, lịch cũ vẫn đang phát: sửa các lỗi ghi bên dưới rồi lưu lại.")
    if engines and all(h.get("reachable") is False for h in engines.values()):
        found.append(
            f"Không giọng đọc nào dùng được ({', '.join(engines)}): bản tin mới sẽ không đọc được. "
            "Kiểm tra kết nối Internet (gtts) và espeak-ng đã cài; 'broadcaster render' báo lỗi chi tiết."
        )
    return found

"""Planning: the concrete broadcasts a schedule asks for, and ``broadcaster plan``."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from broadcaster.cli import main
from broadcaster.schedule.load import load_schedule
from broadcaster.schedule.model import Broadcast, Campaign, Item, ItemKind, Priority, Schedule, Slot
from broadcaster.schedule.plan import (
    estimate_broadcast_seconds,
    estimate_item_seconds,
    localize,
    plan_broadcasts,
)
from tests.support.harness import write_silent_wav as write_wav

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
SEVEN_HOURS = timedelta(hours=7)


HEADER = """\
campaign:
  name: Thử nghiệm
  start: 2026-04-17
  end: 2026-04-26
  timezone: Asia/Ho_Chi_Minh
defaults: {chime: null, repeat: 2, gap_seconds: 3}
slots:
"""


def load(tmp_path: Path, slots_yaml: str, header: str = HEADER) -> Schedule:
    scripts = tmp_path / "scripts_vi"
    scripts.mkdir(exist_ok=True)
    (scripts / "mot.txt").write_text("Kính thưa bà con.\n", encoding="utf-8")
    path = tmp_path / "schedule.yaml"
    path.write_text(header + slots_yaml, encoding="utf-8")
    result = load_schedule(path)
    assert result.ok, [str(e) for e in result.errors]
    return result.schedule


def test_daily_slot_covers_the_campaign_inclusive(tmp_path):
    s = load(tmp_path, '  - {name: sang, at: "06:30", play: [{script: mot}]}\n')
    plan = plan_broadcasts(s)
    assert [b.at.date() for b in plan] == [date(2026, 4, 17) + timedelta(days=n) for n in range(10)]
    assert all(b.at.timetz() == time(6, 30, tzinfo=HCM) for b in plan)
    assert all(b.at.utcoffset() == SEVEN_HOURS for b in plan)
    assert plan[0].key == "sang@2026-04-17T06:30:00+07:00"
    assert plan[0].items == s.slots[0].play and plan[0].repeat == 2 and plan[0].chime is None


def test_start_end_are_clipped_to_the_campaign(tmp_path):
    s = load(tmp_path, '  - {name: sang, at: "06:30", play: [{script: mot}]}\n')
    assert len(plan_broadcasts(s, date(2026, 1, 1), date(2026, 12, 31))) == 10
    assert [b.at.day for b in plan_broadcasts(s, date(2026, 4, 25))] == [25, 26]
    assert [b.at.day for b in plan_broadcasts(s, None, date(2026, 4, 18))] == [17, 18]
    assert [b.at.day for b in plan_broadcasts(s, date(2026, 4, 20), date(2026, 4, 20))] == [20]
    assert plan_broadcasts(s, date(2026, 4, 27)) == []
    assert plan_broadcasts(s, date(2026, 4, 20), date(2026, 4, 19)) == []


def test_datetime_bounds_are_exact_instants(tmp_path):
    s = load(tmp_path, '  - {name: s, at: ["06:30", "17:00"], play: [{script: mot}]}\n')
    after = plan_broadcasts(s, datetime(2026, 4, 26, 12, 0, tzinfo=HCM))
    assert [b.at for b in after] == [datetime(2026, 4, 26, 17, 0, tzinfo=HCM)]
    # a UTC instant is compared as an instant, not as a wall clock
    before = plan_broadcasts(s, None, datetime(2026, 4, 17, 0, 0, tzinfo=ZoneInfo("UTC")))
    assert [b.at for b in before] == [datetime(2026, 4, 17, 6, 30, tzinfo=HCM)]


def test_days_dates_and_skip_dates(tmp_path):
    s = load(
        tmp_path,
        """\
  - name: cuoi-tuan
    at: "08:00"
    days: [sat, sun]
    skip_dates: [2026-04-19]
    play: [{script: mot}]
  - name: dac-biet
    at: ["07:00", "19:00"]
    dates: [2026-04-21, 2026-05-01]
    priority: priority
    play: [{script: mot}]
  - name: ngay-thuong
    at: "17:00"
    days: [mon, tue, wed, thu, fri]
    dates: [2026-04-17, 2026-04-18, 2026-04-20]
    play: [{script: mot}]
""",
    )
    by_slot: dict[str, list[datetime]] = {}
    for b in plan_broadcasts(s):
        by_slot.setdefault(b.slot, []).append(b.at)
    assert [d.date() for d in by_slot["cuoi-tuan"]] == [date(2026, 4, 18), date(2026, 4, 25), date(2026, 4, 26)]
    assert by_slot["dac-biet"] == [datetime(2026, 4, 21, 7, 0, tzinfo=HCM), datetime(2026, 4, 21, 19, 0, tzinfo=HCM)]
    # dates and days both apply: Saturday the 18th is not a weekday
    assert [d.date() for d in by_slot["ngay-thuong"]] == [date(2026, 4, 17), date(2026, 4, 20)]


def test_disabled_slot_is_not_planned(tmp_path):
    s = load(
        tmp_path,
        '  - {name: a, at: "06:30", enabled: false, play: [{script: mot}]}\n'
        '  - {name: b, at: "07:00", play: [{script: mot}]}\n',
    )
    assert {b.slot for b in plan_broadcasts(s)} == {"b"}


def test_sorted_by_time_then_priority(tmp_path):
    s = load(
        tmp_path,
        '  - {name: chieu, at: "17:00", play: [{script: mot}]}\n'
        '  - {name: thuong, at: "07:00", play: [{script: mot}]}\n'
        '  - {name: uu-tien, at: "07:00", priority: priority, play: [{script: mot}]}\n',
    )
    plan = plan_broadcasts(s, date(2026, 4, 17), date(2026, 4, 17))
    assert [b.slot for b in plan] == ["uu-tien", "thuong", "chieu"]
    assert plan[0].priority is Priority.PRIORITY


def test_seconds_in_times_are_kept(tmp_path):
    s = load(tmp_path, '  - {name: a, at: "06:30:15", play: [{script: mot}]}\n')
    assert plan_broadcasts(s)[0].at.isoformat() == "2026-04-17T06:30:15+07:00"


def test_dst_gap_and_fold_in_a_zone_with_dst():
    berlin = ZoneInfo("Europe/Berlin")
    gap = localize(date(2026, 3, 29), time(2, 30), berlin)  # clocks jump 02:00 → 03:00
    assert gap.isoformat() == "2026-03-29T03:30:00+02:00"
    fold = localize(date(2026, 10, 25), time(2, 30), berlin)  # 02:30 happens twice: first one
    assert fold.isoformat() == "2026-10-25T02:30:00+02:00"
    assert localize(date(2026, 4, 21), time(7, 0), HCM).isoformat() == "2026-04-21T07:00:00+07:00"


def test_matches_apscheduler_cron_trigger(tmp_path):
    from apscheduler.triggers.cron import CronTrigger

    s = load(tmp_path, '  - {name: a, at: "06:30", days: [mon, wed, sat], play: [{script: mot}]}\n')
    trigger = CronTrigger(
        day_of_week="mon,wed,sat", hour=6, minute=30, timezone=HCM,
        start_date=datetime(2026, 4, 17, tzinfo=HCM), end_date=datetime(2026, 4, 26, 23, 59, 59, tzinfo=HCM),
    )  # fmt: skip
    fires, previous, now = [], None, datetime(2026, 4, 16, tzinfo=HCM)
    while (nxt := trigger.get_next_fire_time(previous, now)) is not None:
        fires.append(nxt)
        previous = now = nxt
    assert [b.at for b in plan_broadcasts(s)] == fires


def generated_year(tmp_path: Path, slots: int = 30) -> Path:
    """A one-year campaign with ``slots`` daily slots: 365 × 30 = 10 950 broadcasts."""
    (tmp_path / "scripts_vi").mkdir(exist_ok=True)
    (tmp_path / "scripts_vi" / "mot.txt").write_text("Kính thưa bà con.\n", encoding="utf-8")
    lines = [
        "campaign: {name: Cả năm, start: 2027-01-01, end: 2027-12-31, timezone: Asia/Ho_Chi_Minh}",
        "policy: {earliest: '06:00', latest: '21:00'}",
        "slots:",
    ]
    for n in range(slots):
        minutes = 6 * 60 + n * 29
        lines.append(f"  - name: slot-{n:02d}")
        lines.append(f'    at: "{minutes // 60:02d}:{minutes % 60:02d}"')
        lines.append("    play: [{script: mot}, {text: 'Xin chào'}]")
    path = tmp_path / "year.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_generated_year_plans_more_than_10k_broadcasts(tmp_path):
    result = load_schedule(generated_year(tmp_path))
    assert result.ok and not result.warnings, [str(d) for d in result.errors + result.warnings]
    plan = plan_broadcasts(result.schedule)
    assert len(plan) == 365 * 30 == 10950
    assert plan[0].at == datetime(2027, 1, 1, 6, 0, tzinfo=HCM)
    assert plan[-1].at == datetime(2027, 12, 31, 20, 1, tzinfo=HCM)
    assert all(a.at <= b.at for a, b in zip(plan, plan[1:], strict=False))
    assert len({b.key for b in plan}) == len(plan)


def test_plan_json_shape(tmp_path, capsys):
    write_wav(tmp_path / "audio" / "chime.wav", 2.0)
    header = HEADER.replace("chime: null", "chime: audio/chime.wav")
    load(
        tmp_path,
        '  - {name: sang, at: "06:30", play: [{script: mot}, {text: "Xin chào bà con"}]}\n'
        '  - {name: dac-biet, at: "07:00", dates: [2026-04-21], priority: priority, repeat: 1,'
        " play: [{script: mot}]}\n",
        header=header,
    )
    rc = main(["plan", "--schedule", str(tmp_path / "schedule.yaml"), "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rows = json.loads(out)
    assert len(rows) == 11
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)
    assert all(r["at"].endswith("+07:00") for r in rows)
    first = rows[0]
    assert first["at"] == "2026-04-17T06:30:00+07:00"
    assert first["slot"] == "sang"
    assert first["items"] == ["script:mot", "text:Xin chào bà con"]
    assert first["priority"] == "normal" and first["repeat"] == 2
    assert first["estimated_seconds"] > 2.0  # at least the chime
    special = [r for r in rows if r["slot"] == "dac-biet"]
    assert special == [
        {**special[0], "at": "2026-04-21T07:00:00+07:00", "priority": "priority", "repeat": 1, "items": ["script:mot"]}
    ]


def test_plan_from_to(tmp_path, capsys):
    load(tmp_path, '  - {name: sang, at: "06:30", play: [{script: mot}]}\n')
    schedule = str(tmp_path / "schedule.yaml")
    assert main(["plan", "--schedule", schedule, "--json", "--from", "2026-04-20", "--to", "22/04/2026"]) == 0
    assert [r["at"][:10] for r in json.loads(capsys.readouterr().out)] == ["2026-04-20", "2026-04-21", "2026-04-22"]


@pytest.mark.parametrize(
    "args, keyword",
    [
        (["--from", "2026-02-30"], "--from"),
        (["--to", "ngày mai"], "--to"),
        (["--from", "2026-04-22", "--to", "2026-04-20"], "trước --from"),
    ],
)
def test_plan_bad_bounds(tmp_path, capsys, args, keyword):
    load(tmp_path, '  - {name: sang, at: "06:30", play: [{script: mot}]}\n')
    assert main(["plan", "--schedule", str(tmp_path / "schedule.yaml"), *args]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("Lỗi:") and keyword in err and "Traceback" not in err


def test_plan_table(tmp_path, capsys):
    load(tmp_path, '  - {name: sang, at: "06:30", play: [{script: mot}]}\n')
    assert (
        main(["plan", "--schedule", str(tmp_path / "schedule.yaml"), "--from", "2026-04-21", "--to", "2026-04-21"]) == 0
    )
    out = capsys.readouterr().out
    assert "T3 21/04/2026" in out and "06:30" in out and "sang" in out and "thông thường" in out
    assert "1 lần phát" in out


def test_plan_nothing_in_range(tmp_path, capsys):
    load(tmp_path, '  - {name: sang, at: "06:30", play: [{script: mot}]}\n')
    assert main(["plan", "--schedule", str(tmp_path / "schedule.yaml"), "--from", "2027-01-01"]) == 0
    assert "Không có lần phát nào" in capsys.readouterr().err


def test_plan_invalid_schedule_gives_diagnostics(tmp_path, capsys):
    path = tmp_path / "schedule.yaml"
    path.write_text(HEADER + '  - {name: sang, at: "25:00", play: [{script: mot}]}\n', encoding="utf-8")
    assert main(["plan", "--schedule", str(path), "--json"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{path}:8:22: giờ '25:00' không tồn tại" in err


def test_estimates(tmp_path):
    chime = write_wav(tmp_path / "chime.wav", 2.0)
    clip = write_wav(tmp_path / "clip.wav", 5.0, rate=16000)
    script = tmp_path / "s.txt"
    script.write_text("một hai ba bốn năm sáu bảy", encoding="utf-8")  # 7 syllables = 2 s
    assert estimate_item_seconds(Item(ItemKind.AUDIO, "clip.wav", clip)) == pytest.approx(5.0)
    assert estimate_item_seconds(Item(ItemKind.SCRIPT, "s", script)) == pytest.approx(2.0)
    text = Item(ItemKind.TEXT, "Ngày 21/4/2026 UBND xã.")  # numbers and abbreviations take longer
    assert 4.5 < estimate_item_seconds(text) < 8
    b = Broadcast(
        at=datetime(2026, 4, 21, 7, tzinfo=HCM), slot="x", items=(Item(ItemKind.AUDIO, "clip.wav", clip),),
        repeat=3, gap_seconds=4.0, chime=chime,
    )  # fmt: skip
    # chime 2 + 3 × 5 + 2 gaps × 4 + a short tail
    assert 25.0 <= estimate_broadcast_seconds(b) <= 27.0


def test_plan_is_pure_and_does_not_touch_files(tmp_path):
    slot = Slot(name="a", times=(time(6, 30),), play=(Item(ItemKind.TEXT, "x"),))
    campaign = Campaign("t", date(2026, 4, 17), date(2026, 4, 18), HCM)
    schedule = Schedule(path=tmp_path / "missing.yaml", campaign=campaign, slots=(slot,))
    assert len(plan_broadcasts(schedule)) == 2

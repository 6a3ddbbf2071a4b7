"""The report: counts from the plan and a real as-run log; text, CSV and the two CLI commands."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from broadcaster.asrun import AsRunLog, build_report, render_text, scripts_csv_path, write_csv
from broadcaster.cli import main
from broadcaster.schedule.model import Campaign, Item, ItemKind, Priority, Schedule, Slot
from broadcaster.schedule.plan import plan_broadcasts

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAMPAIGN = "Hưởng ứng Ngày Sáng tạo và Đổi mới sáng tạo thế giới 21/4/2026"
MO_DAU, CHU_DE, KHAU_HIEU = "script:mo-dau", "script:chu-de", "script:khau-hieu"


def vn(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 4, day, hour, minute, tzinfo=VN)


class Clock:
    """Settable clock so rows get realistic start/end times."""

    def __init__(self) -> None:
        self.now = vn(20, 0)

    def __call__(self) -> datetime:
        return self.now


def make_schedule(base: Path) -> Schedule:
    scripts = base / "scripts_vi"
    items = tuple(Item(ItemKind.SCRIPT, s, scripts / f"{s}.txt") for s in ("mo-dau", "chu-de"))
    return Schedule(
        path=base / "schedule.yaml",
        campaign=Campaign(CAMPAIGN, date(2026, 4, 20), date(2026, 4, 22), VN),
        slots=(
            Slot("sang", (time(6, 30),), items),
            Slot("chieu", (time(17, 0),), items),
        ),
    )


def air(log: AsRunLog, clock: Clock, key: str, planned: datetime | None, status: str, seconds: float,
        items=(MO_DAU, CHU_DE), source="schedule", slot="sang") -> None:
    clock.now = planned or clock.now
    rid = log.begin(key=key, planned_at=planned, source=source, slot=slot, title=slot or "phát ngay",
                    items=list(items), priority=Priority.NORMAL)
    clock.now += timedelta(seconds=seconds)
    log.finish(rid, status, engines={i: "gtts" for i in items}, duration_s=seconds)


def fill_log(log_file: Path, schedule: Schedule) -> None:
    """20/4 all played (one replayed after an emergency); 21/4 missed + failed + ad-hoc; 22/4 nothing."""
    plan = {(b.slot, b.at.day): b for b in plan_broadcasts(schedule)}
    clock = Clock()
    with AsRunLog(log_file, clock=clock) as log:
        air(log, clock, plan["sang", 20].key, plan["sang", 20].at, "played", 600)
        chieu = plan["chieu", 20]
        air(log, clock, chieu.key, chieu.at, "interrupted", 300, slot="chieu")
        air(log, clock, "khan-cap-1", None, "played", 90, items=["text:Bão số 3"], source="adhoc", slot=None)
        air(log, clock, chieu.key, chieu.at, "played", 600, slot="chieu")
        # a slot since removed from the schedule: it aired and must still be counted
        air(log, clock, "cu@2026-04-20T08:00:00+07:00", vn(20, 8), "played", 60, items=[KHAU_HIEU], slot="cu")
        for (slot, status) in (("sang", "missed"), ("chieu", "failed")):
            b = plan[slot, 21]
            log.record(key=b.key, planned_at=b.at, source="schedule", slot=slot, title=slot,
                       items=[i.label for i in b.items], priority="normal", status=status, error="x")
        clock.now = vn(21, 9)
        air(log, clock, "adhoc-2", None, "played", 120, items=["text:Họp dân"], source="adhoc", slot=None)
        log.record(key="adhoc-3", planned_at=None, source="adhoc", slot=None, title="phát ngay",
                   items=["text:Họp dân"], priority="normal", status="failed", error="không có loa")


@pytest.fixture
def report(tmp_path: Path):
    schedule = make_schedule(tmp_path)
    log_file = tmp_path / "state" / "asrun.sqlite3"
    fill_log(log_file, schedule)
    with AsRunLog(log_file) as log:
        rows = log.rows(start=date(2026, 4, 20), end=date(2026, 4, 22), tz=VN)
    planned = plan_broadcasts(schedule, date(2026, 4, 20), date(2026, 4, 22))
    return build_report(planned, rows, date(2026, 4, 20), date(2026, 4, 22), tz=VN,
                        now=vn(22, 12), campaign=CAMPAIGN)


def test_per_day_counts(report):
    d20, d21, d22 = report.days
    assert (d20.day, d20.planned, d20.played, d20.interrupted, d20.unplanned) == (date(2026, 4, 20), 2, 3, 0, 1)
    assert d20.adhoc_played == 1
    assert d20.seconds_aired == 600 + 300 + 90 + 600 + 60  # the partial airing counts as airtime
    assert (d21.planned, d21.played, d21.missed, d21.failed, d21.no_record) == (2, 0, 1, 1, 0)
    assert (d21.adhoc_played, d21.adhoc_not_played, d21.seconds_aired) == (1, 1, 120)
    # 06:30 has passed without a trace; 17:00 is still to come
    assert (d22.planned, d22.played, d22.no_record, d22.upcoming, d22.seconds_aired) == (2, 0, 1, 1, 0)


def test_totals_and_minutes(report):
    t = report.total
    assert (t.planned, t.played, t.missed, t.failed, t.interrupted) == (6, 3, 1, 1, 0)
    assert (t.no_record, t.upcoming, t.unplanned, t.adhoc_played, t.adhoc_not_played) == (1, 1, 1, 2, 1)
    assert t.minutes_aired == pytest.approx((1650 + 120) / 60)


def test_per_script_counts(report):
    by_label = {s.label: s for s in report.scripts}
    assert [s.label for s in report.scripts][:2] == [MO_DAU, CHU_DE]  # plan order
    assert (by_label[MO_DAU].planned, by_label[MO_DAU].played_schedule, by_label[MO_DAU].played) == (6, 2, 2)
    assert (by_label[KHAU_HIEU].planned, by_label[KHAU_HIEU].played) == (0, 1)
    assert (by_label["text:Họp dân"].played_adhoc, by_label["text:Bão số 3"].played_adhoc) == (1, 1)


def test_replayed_broadcast_counts_once(tmp_path: Path):
    schedule = make_schedule(tmp_path)
    b = plan_broadcasts(schedule, date(2026, 4, 20), date(2026, 4, 20))[0]
    clock = Clock()
    with AsRunLog(tmp_path / "a.sqlite3", clock=clock) as log:
        air(log, clock, b.key, b.at, "interrupted", 30)
        air(log, clock, b.key, b.at, "played", 100)
        air(log, clock, b.key, b.at, "played", 100)  # even a double airing is one planned broadcast
        rows = log.rows()
    r = build_report([b], rows, date(2026, 4, 20), date(2026, 4, 20), tz=VN, now=vn(23, 0))
    assert (r.total.planned, r.total.played, r.total.interrupted) == (1, 1, 0)
    assert {s.label: s.played for s in r.scripts} == {MO_DAU: 1, CHU_DE: 1}


def test_render_text_is_vietnamese_and_complete(report):
    text = render_text(report)
    assert text.startswith("BÁO CÁO KẾT QUẢ PHÁT THANH")
    assert CAMPAIGN in text
    assert "từ ngày 20/04/2026 đến ngày 22/04/2026" in text
    assert "- Số buổi phát theo lịch (dự kiến): 6" in text
    assert "- Đã phát: 3" in text
    assert "- Không có bản ghi (đã qua giờ nhưng nhật ký không ghi nhận): 1" in text
    assert "- Phát ngay (ngoài lịch, đã phát): 2 (thêm 1 lần không phát được)" in text
    assert "- Tổng thời lượng phát: 29,5 phút" in text
    assert "không còn trong lịch hiện tại" in text
    assert "| 20/04/2026 " in text and "| Tổng " in text
    assert "| mo-dau " in text and "văn bản: Họp dân" in text


def test_csv_has_bom_a_row_per_day_and_a_script_file(report, tmp_path: Path):
    days_file, scripts_file = write_csv(report, tmp_path / "bao-cao.csv")
    assert scripts_file == tmp_path / "bao-cao-kich-ban.csv" == scripts_csv_path(days_file)
    raw = days_file.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(days_file.read_text(encoding="utf-8-sig").splitlines()))
    assert [r["Ngày"] for r in rows] == ["2026-04-20", "2026-04-21", "2026-04-22", "Tổng"]
    total = rows[-1]
    assert (total["Dự kiến"], total["Đã phát"], total["Bỏ lỡ"], total["Lỗi"]) == ("6", "3", "1", "1")
    assert (total["Không có bản ghi"], total["Phát ngay"], total["Số phút phát"]) == ("1", "2", "29.5")
    assert scripts_file.read_bytes().startswith(b"\xef\xbb\xbf")
    scripts = {r["Mã"]: r for r in csv.DictReader(scripts_file.read_text(encoding="utf-8-sig").splitlines())}
    assert scripts[MO_DAU]["Nội dung"] == "mo-dau"
    assert (scripts[MO_DAU]["Dự kiến"], scripts[MO_DAU]["Tổng số lần phát"]) == ("6", "2")


def test_unknown_plan_is_shown_as_unknown(tmp_path: Path):
    r = build_report([], [], date(2026, 4, 20), date(2026, 4, 21), plan_available=False, now=vn(22, 0))
    text = render_text(r)
    assert "(dự kiến): —" in text and "không tính được số buổi dự kiến" in text
    assert len(r.days) == 2 and r.total.seconds_aired == 0


# -- the commands, on a real schedule.yaml -------------------------------------------------------

SCHEDULE_YAML = f"""\
campaign:
  name: "{CAMPAIGN}"
  start: 2026-04-20
  end: 2026-04-22
  timezone: Asia/Ho_Chi_Minh
slots:
  - name: sang
    at: ["06:30"]
    play:
      - script: mo-dau
      - script: chu-de
  - name: chieu
    at: ["17:00"]
    play:
      - script: mo-dau
      - script: chu-de
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "scripts_vi").mkdir()
    (tmp_path / "scripts_vi" / "mo-dau.txt").write_text("Kính thưa toàn thể nhân dân.\n", encoding="utf-8")
    (tmp_path / "scripts_vi" / "chu-de.txt").write_text("Đổi mới sáng tạo.\n", encoding="utf-8")
    path = tmp_path / "schedule.yaml"
    path.write_text(SCHEDULE_YAML, encoding="utf-8")
    return path


def loaded(path: Path) -> Schedule:
    from broadcaster.schedule.load import load_schedule

    result = load_schedule(path)
    assert result.ok, [str(e) for e in result.errors]
    return result.schedule


def test_report_command_with_csv(project: Path, capsys):
    fill_log(project.parent / "state" / "asrun.sqlite3", loaded(project))
    out_csv = project.parent / "out" / "bao-cao.csv"
    out_csv.parent.mkdir()
    code = main(["report", "--schedule", str(project), "--from", "20/4/2026", "--to", "2026-04-22",
                 "--csv", str(out_csv)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert CAMPAIGN in captured.out
    # the whole campaign is in the past now: 22/4 has two broadcasts with no record
    assert "- Số buổi phát theo lịch (dự kiến): 6" in captured.out
    assert "- Không có bản ghi (đã qua giờ nhưng nhật ký không ghi nhận): 2" in captured.out
    assert out_csv.is_file() and (out_csv.parent / "bao-cao-kich-ban.csv").is_file()
    assert "bao-cao-kich-ban.csv" in captured.err


def test_report_defaults_to_campaign_and_works_without_log(project: Path, capsys):
    assert main(["report", "--schedule", str(project)]) == 0
    captured = capsys.readouterr()
    assert "từ ngày 20/04/2026 đến ngày 22/04/2026" in captured.out
    assert "chưa có nhật ký phát" in captured.err


@pytest.mark.parametrize("argv, message", [
    (["--from", "22/4/2026", "--to", "20/4/2026"], "sau ngày cuối"),
    (["--from", "30/2/2026", "--to", "20/4/2026"], "không hợp lệ"),
    (["--from", "hôm qua", "--to", "20/4/2026"], "không hợp lệ"),
])
def test_report_bad_dates(project: Path, capsys, argv, message):
    assert main(["report", "--schedule", str(project), *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Lỗi:") and message in err and "Traceback" not in err


def test_report_bad_dates_in_a_real_process(project: Path):
    proc = subprocess.run([sys.executable, "-m", "broadcaster.cli", "report", "--schedule", str(project),
                           "--from", "2026-04-31", "--to", "2026-05-01"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Lỗi: ngày '2026-04-31' không hợp lệ" in proc.stderr and "Traceback" not in proc.stderr


def test_report_on_a_corrupt_log_is_a_clear_error(project: Path, capsys):
    state = project.parent / "state"
    state.mkdir()
    (state / "asrun.sqlite3").write_bytes(b"\x00garbage" * 100)
    assert main(["report", "--schedule", str(project), "--from", "20/4/2026", "--to", "20/4/2026"]) == 1
    err = capsys.readouterr().err
    assert "bị hỏng" in err and (state / "asrun.sqlite3").read_bytes() == b"\x00garbage" * 100


@pytest.mark.parametrize("columns", ["160", "80"])
def test_log_command_table(project: Path, capsys, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", columns)
    fill_log(project.parent / "state" / "asrun.sqlite3", loaded(project))
    assert main(["log", "--schedule", str(project), "--date", "20/4/2026"]) == 0
    out = capsys.readouterr().out
    for word in ("Nhật ký phát ngày 20/04/2026", "đã phát", "bị ngắt", "phát ngay", "lịch", "06:30",
                 "17:00", "gtts", "10:00", "Bão", "5 bản ghi: 4 đã phát, 1 bị ngắt."):
        assert word in out


def test_log_command_json(project: Path, capsys):
    fill_log(project.parent / "state" / "asrun.sqlite3", loaded(project))
    assert main(["log", "--schedule", str(project), "--date", "2026-04-21", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    # in the order things happened: 06:30 missed, 09:00 ad-hoc, its failed retry, 17:00 failed
    assert [(r["status"], r["source"]) for r in rows] == [
        ("missed", "schedule"), ("played", "adhoc"), ("failed", "adhoc"), ("failed", "schedule")]
    missed = next(r for r in rows if r["status"] == "missed")
    assert missed["planned_at"] == "2026-04-21T06:30:00+07:00"


def test_log_command_without_log_or_with_broken_schedule(project: Path, capsys):
    assert main(["log", "--schedule", str(project), "--date", "20/4/2026"]) == 0
    assert "Chưa có nhật ký phát" in capsys.readouterr().err
    fill_log(project.parent / "state" / "asrun.sqlite3", loaded(project))
    project.write_text("campaign: [\n", encoding="utf-8")  # the operator broke the YAML
    assert main(["log", "--schedule", str(project), "--date", "20/4/2026"]) == 0
    captured = capsys.readouterr()
    assert "Cảnh báo:" in captured.err and "có 1 lỗi" in captured.err
    assert "đã phát" in captured.out
    assert main(["log", "--schedule", str(project), "--date", "20-20-2026"]) == 1
    assert "không hợp lệ" in capsys.readouterr().err


def test_report_with_broken_schedule_still_reports_the_log(project: Path, capsys):
    fill_log(project.parent / "state" / "asrun.sqlite3", loaded(project))
    project.write_text("campaign: [\n", encoding="utf-8")
    assert main(["report", "--schedule", str(project)]) == 1
    assert "cần ghi rõ khoảng thời gian" in capsys.readouterr().err
    assert main(["report", "--schedule", str(project), "--from", "20/4/2026", "--to", "21/4/2026"]) == 0
    out = capsys.readouterr().out
    assert "- Đã phát: 3" in out and "(dự kiến): —" in out

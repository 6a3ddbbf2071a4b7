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
from broadcaster.records import Outcome
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


def air(
    log: AsRunLog,
    clock: Clock,
    key: str,
    planned: datetime | None,
    status: str,
    seconds: float,
    items=(MO_DAU, CHU_DE),
    source="schedule",
    slot="sang",
) -> None:
    clock.now = planned or clock.now
    rid = log.begin(
        key=key,
        planned_at=planned,
        source=source,
        slot=slot,
        title=slot or "phát ngay",
        items=list(items),
        priority=Priority.NORMAL,
    )
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
        for slot, status in (("sang", "missed"), ("chieu", "failed")):
            b = plan[slot, 21]
            log.record(
                key=b.key,
                planned_at=b.at,
                source="schedule",
                slot=slot,
                title=slot,
                items=[i.label for i in b.items],
                priority="normal",
                status=status,
                error="x",
            )
        clock.now = vn(21, 9)
        air(log, clock, "adhoc-2", None, "played", 120, items=["text:Họp dân"], source="adhoc", slot=None)
        log.record(
            key="adhoc-3",
            planned_at=None,
            source="adhoc",
            slot=None,
            title="phát ngay",
            items=["text:Họp dân"],
            priority="normal",
            status="failed",
            error="không có loa",
        )


@pytest.fixture
def report(tmp_path: Path):
    schedule = make_schedule(tmp_path)
    log_file = tmp_path / "state" / "asrun.sqlite3"
    fill_log(log_file, schedule)
    with AsRunLog(log_file) as log:
        rows = log.rows(start=date(2026, 4, 20), end=date(2026, 4, 22), tz=VN)
    planned = plan_broadcasts(schedule, date(2026, 4, 20), date(2026, 4, 22))
    return build_report(planned, rows, date(2026, 4, 20), date(2026, 4, 22), tz=VN, now=vn(22, 12), campaign=CAMPAIGN)


def test_per_day_counts(report):
    d20, d21, d22 = report.days
    assert (d20.day, d20.planned, d20.played, d20.interrupted, d20.unplanned) == (date(2026, 4, 20), 2, 3, 0, 1)
    assert d20.adhoc_played == 1
    assert d20.seconds_aired == 600 + 300 + 90 + 600 + 60  # the partial airing counts as airtime
    assert (d21.planned, d21.played, d21.missed, d21.failed, d21.no_record) == (2, 0, 1, 1, 0)
    assert (d21.adhoc_played, d21.counts.adhoc[Outcome.FAILED], d21.seconds_aired) == (1, 1, 120)
    # 06:30 has passed without a trace; 17:00 is still to come
    assert (d22.planned, d22.played, d22.no_record, d22.upcoming, d22.seconds_aired) == (2, 0, 1, 1, 0)


def test_totals_and_minutes(report):
    t = report.total
    assert (t.planned, t.played, t.missed, t.failed, t.interrupted) == (6, 3, 1, 1, 0)
    assert (t.no_record, t.upcoming, t.unplanned, t.adhoc_played, t.counts.adhoc[Outcome.FAILED]) == (1, 1, 1, 2, 1)
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
    assert "- Phát ngay (ngoài lịch): 3 lượt (2 đã phát, 1 lỗi)" in text
    assert "- Mọi buổi phát theo kết quả (lịch và phát ngay): 5 đã phát, 2 lỗi, 1 bỏ lỡ" in text
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
    code = main(
        ["report", "--schedule", str(project), "--from", "20/4/2026", "--to", "2026-04-22", "--csv", str(out_csv)]
    )
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


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--from", "22/4/2026", "--to", "20/4/2026"], "sau ngày cuối"),
        (["--from", "30/2/2026", "--to", "20/4/2026"], "không hợp lệ"),
        (["--from", "hôm qua", "--to", "20/4/2026"], "không hợp lệ"),
    ],
)
def test_report_bad_dates(project: Path, capsys, argv, message):
    assert main(["report", "--schedule", str(project), *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Lỗi:") and message in err and "Traceback" not in err


def test_report_bad_dates_in_a_real_process(project: Path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "broadcaster.cli",
            "report",
            "--schedule",
            str(project),
            "--from",
            "2026-04-31",
            "--to",
            "2026-05-01",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
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
    for word in (
        "Nhật ký phát ngày 20/04/2026",
        "đã phát",
        "bị ngắt",
        "phát ngay",
        "06:30",
        "17:00",
        "gtts",
        "10 phút",
        "1 phút 30 giây",
        "Bão",
        # five rows, four broadcasts: the one cut and replayed counts once, as in the report
        "5 bản ghi — 4 buổi phát: 4 đã phát.",
    ):
        assert word in out
    assert max(len(line) for line in out.splitlines()) <= int(columns)


def test_log_command_json(project: Path, capsys):
    fill_log(project.parent / "state" / "asrun.sqlite3", loaded(project))
    assert main(["log", "--schedule", str(project), "--date", "2026-04-21", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    # in the order things happened: 06:30 missed, 09:00 ad-hoc, its failed retry, 17:00 failed
    assert [(r["status"], r["source"]) for r in rows] == [
        ("missed", "schedule"),
        ("played", "adhoc"),
        ("failed", "adhoc"),
        ("failed", "schedule"),
    ]
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


# -- one computation: log, report text, CSV and status agree (issue 14, item 5) ----------------


def fill_every_outcome(log_file: Path) -> dict[Outcome, int]:
    """21/4: every outcome, scheduled and ad-hoc, incl. an ad-hoc the operator stopped after 13 s.

    Returns the broadcasts per outcome, counted by hand from what is written here.
    """
    clock = Clock()
    with AsRunLog(log_file, clock=clock) as log:

        def never(key: str, status: str, source: str = "schedule", planned=vn(21, 8)) -> None:
            log.record(
                key=key,
                planned_at=planned if source == "schedule" else None,
                source=source,
                slot="s" if source == "schedule" else None,
                title=key,
                items=[MO_DAU],
                priority="normal",
                status=status,
                error="lý do",
            )

        air(log, clock, "s-played", vn(21, 6, 30), "played", 60)
        air(log, clock, "s-replayed", vn(21, 7), "interrupted", 20)  # cut by an emergency…
        air(log, clock, "s-replayed", vn(21, 7), "played", 60)  # …then aired again: one broadcast, played
        air(log, clock, "s-cut", vn(21, 7, 30), "interrupted", 30)  # stopped by the operator, not replayed
        for status in ("failed", "missed", "skipped", "unapproved"):
            never(f"s-{status}", status)
        clock.now = vn(21, 9)
        log.begin(
            key="s-on-air",
            planned_at=vn(21, 9),
            source="schedule",
            slot="s",
            title="t",
            items=[MO_DAU],
            priority="normal",
        )
        air(log, clock, "a-played", None, "played", 45, source="adhoc", slot=None)
        air(log, clock, "a-stopped", None, "interrupted", 13, source="adhoc", slot=None)
        for status in ("failed", "skipped", "unapproved"):
            never(f"a-{status}", status, source="adhoc")
    return {
        Outcome.PLAYED: 3,
        Outcome.INTERRUPTED: 2,
        Outcome.FAILED: 2,
        Outcome.MISSED: 1,
        Outcome.SKIPPED: 2,
        Outcome.UNAPPROVED: 2,
        Outcome.STARTED: 1,
    }


def test_totals_reconcile_across_log_report_csv_and_status(project: Path, capsys, tmp_path: Path):
    from broadcaster.asrun import heading, outcome_summary, today_counts

    log_file = project.parent / "state" / "asrun.sqlite3"
    expected = fill_every_outcome(log_file)
    assert sum(expected.values()) == 13
    said = outcome_summary(expected)  # "3 đã phát, 2 bị ngắt, 2 lỗi, 1 bỏ lỡ, …"

    assert main(["log", "--schedule", str(project), "--date", "21/4/2026"]) == 0
    assert f"14 bản ghi — 13 buổi phát: {said}." in " ".join(capsys.readouterr().out.split())

    out_csv = tmp_path / "r.csv"
    assert (
        main(["report", "--schedule", str(project), "--from", "21/4/2026", "--to", "21/4/2026", "--csv", str(out_csv)])
        == 0
    )
    text = capsys.readouterr().out
    assert f"- Mọi buổi phát theo kết quả (lịch và phát ngay): {said}" in text
    # the operator's stop is a cut, under its own name, not a failure
    assert "- Bị ngắt giữa chừng (không phát lại): 1" in text and "- Lỗi, không phát được: 1" in text
    assert "- Chưa duyệt, không được phát: 1" in text
    assert "- Phát ngay (ngoài lịch): 5 lượt (1 đã phát, 1 bị ngắt, 1 lỗi, 1 bỏ qua, 1 chưa duyệt)" in text

    total = list(csv.DictReader(out_csv.read_text(encoding="utf-8-sig").splitlines()))[-1]
    for o, n in expected.items():
        adhoc = "Phát ngay" if o is Outcome.PLAYED else f"Phát ngay {o.vi}"
        assert int(total[heading(o)]) + int(total[adhoc]) == n, o

    with AsRunLog(log_file) as log:
        assert today_counts(log.rows(day=date(2026, 4, 21), tz=VN)) == {str(o): n for o, n in expected.items()}


# -- a cut row says once what cut it (issue 14, item 6); log at 80 columns (item 9) -------------


def test_cut_row_reason_is_said_once(project: Path, capsys, monkeypatch):
    from broadcaster.asrun import row_problem

    monkeypatch.setenv("COLUMNS", "80")
    clock = Clock()
    emergency = "Phát ngay: Khẩn cấp bão số 3"
    with AsRunLog(project.parent / "state" / "asrun.sqlite3", clock=clock) as log:
        clock.now = vn(21, 6, 30)
        old = log.begin(
            key="old",
            planned_at=vn(21, 6, 30),
            source="schedule",
            slot="sang",
            title="sang",
            items=[MO_DAU],
            priority="normal",
        )
        # how the playout worker wrote it so far: the emergency's title in both error and by
        log.finish(old, "interrupted", error=f"nhường cho bản tin khẩn cấp: {emergency}", by=emergency)
        new = log.begin(
            key="new",
            planned_at=vn(21, 17),
            source="schedule",
            slot="chieu",
            title="chieu",
            items=[MO_DAU],
            priority="normal",
        )
        log.finish(new, "interrupted", error="người vận hành dừng", by="cán bộ Lan")
        rows = log.rows()
    assert row_problem(rows[0]) == f"nhường cho bản tin khẩn cấp: {emergency}"
    assert row_problem(rows[1]) == "người vận hành dừng; người ra lệnh: cán bộ Lan"
    assert main(["log", "--schedule", str(project), "--date", "21/4/2026"]) == 0
    out = capsys.readouterr().out
    assert out.count("Khẩn cấp bão số 3") == 1 and out.count("cán bộ Lan") == 1


def test_log_fits_80_columns_and_json_keeps_the_full_text(project: Path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    error = "không chuẩn bị được chương trình: " + "thiết bị âm thanh không phản hồi, " * 12
    title = "Thông báo về việc tổ chức tiêm phòng dại cho chó mèo " * 3
    with AsRunLog(project.parent / "state" / "asrun.sqlite3") as log:
        log.record(
            key="k",
            planned_at=vn(21, 6, 30),
            source="schedule",
            slot="sang",
            title=title,
            items=[MO_DAU, CHU_DE],
            priority="normal",
            status="failed",
            error=error,
        )
    assert main(["log", "--schedule", str(project), "--date", "21/4/2026"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    row = [i for i, line in enumerate(lines) if line.startswith("06:30")][0]
    assert lines[row + 2].strip().startswith("không chuẩn bị được") and lines[row + 2].endswith("…")
    assert lines[row + 3].startswith("1 bản ghi")  # the failed row took three lines, not twenty
    assert main(["log", "--schedule", str(project), "--date", "21/4/2026", "--json"]) == 0
    [data] = json.loads(capsys.readouterr().out)
    assert data["error"] == error and data["title"] == title
    assert {"zone", "heard", "start_error_ms", "start_error_method", "by_user"} <= data.keys()


def test_people_get_dd_mm_yyyy_and_decimal_comma_machines_get_iso_and_point(report, tmp_path: Path):
    text = render_text(report)
    days_file, _ = write_csv(report, tmp_path / "c.csv")
    raw = days_file.read_text(encoding="utf-8-sig")
    minutes = report.total.seconds_aired / 60
    assert f"{minutes:.1f}".replace(".", ",") in text and f"{minutes:.1f}" not in text
    assert f"{minutes:.1f}" in raw and f"{minutes:.1f}".replace(".", ",") not in raw
    assert "20/04/2026" in text and "2026-04-20" not in text
    assert "2026-04-20" in raw and "20/04/2026" not in raw

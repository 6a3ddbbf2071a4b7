"""The report as an administrative document (NĐ 30/2020): read back with python-docx, same figures."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("docx")
pytest.importorskip("matplotlib")

import docx  # noqa: E402

from broadcaster.asrun import AsRunLog, build_report, day_table, render_text, summary_lines  # noqa: E402
from broadcaster.asrun.chart import chart_series  # noqa: E402
from broadcaster.asrun.docx import DOCX_DAY_COLUMNS, QUOC_HIEU, TIEU_NGU, date_line, write_docx  # noqa: E402
from broadcaster.asrun.settings import ReportSettings, SettingsError, load_settings, parse_settings  # noqa: E402
from broadcaster.cli import main  # noqa: E402
from broadcaster.schedule.plan import plan_broadcasts  # noqa: E402
from tests.test_report import CAMPAIGN, VN, fill_log, loaded, make_schedule, project, vn  # noqa: E402, F401

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def report(tmp_path: Path):
    schedule = make_schedule(tmp_path)
    fill_log(tmp_path / "state" / "asrun.sqlite3", schedule)
    with AsRunLog(tmp_path / "state" / "asrun.sqlite3") as log:
        rows = log.rows()
    planned = plan_broadcasts(schedule, date(2026, 4, 20), date(2026, 4, 22))
    return build_report(planned, rows, date(2026, 4, 20), date(2026, 4, 22), tz=VN, now=vn(22, 12), campaign=CAMPAIGN)


def all_text(document) -> list[str]:
    """Every paragraph of the body and of every table cell, in order."""
    out = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                out.extend(p.text for p in cell.paragraphs)
    return out


def test_docx_holds_the_form_the_figures_and_the_chart(report, tmp_path: Path):
    settings = ReportSettings(
        co_quan="ỦY BAN NHÂN DÂN XÃ HÀ NAM",
        nguoi_ky="Nguyễn Văn An",
        noi_nhan=("Sở Khoa học và Công nghệ (để báo cáo);", "Lưu: VT."),
    )
    path = write_docx(report, settings, tmp_path / "bao-cao.docx", made=date(2026, 4, 27))
    document = docx.Document(str(path))
    text = all_text(document)
    for must in (
        QUOC_HIEU,
        TIEU_NGU,
        "ỦY BAN NHÂN DÂN",
        "XÃ HÀ NAM",
        "Hà Nam, ngày 27 tháng 4 năm 2026",
        "BÁO CÁO",
        CAMPAIGN,
        "Nơi nhận:",
        "- Lưu: VT.",
        "TM. ỦY BAN NHÂN DÂN",
        "CHỦ TỊCH",
        "Nguyễn Văn An",
    ):
        assert must in text, must
    assert any(t.startswith("Số: ") and t.endswith("/BC-UBND") for t in text)

    # the figures: the very lines of the text report, with the same numbers
    printed = render_text(report)
    for what, value in summary_lines(report):
        assert f"- {what}: {value}." in text
        assert f"- {what}: {value}" in printed
    figures = {m[1]: m[2] for t in text if (m := re.match(r"- (.+?): (\d+)\.$", t))}
    t = report.total
    assert (
        figures["Số buổi phát theo lịch (dự kiến)"],
        figures["Đã phát"],
        figures["Lỗi, không phát được"],
        figures["Bỏ lỡ (quá giờ)"],
        figures["Bị ngắt giữa chừng (không phát lại)"],
        figures["Chưa duyệt, không được phát"],
    ) == tuple(str(n) for n in (t.planned, t.played, t.failed, t.missed, t.interrupted, t.unapproved))
    assert "- Tổng thời lượng phát: 29,5 phút." in text

    # by day: the document's table is the report's table, cell for cell
    days = next(tb for tb in document.tables if tb.rows[0].cells[0].text == "Ngày")
    header, body = day_table(report, DOCX_DAY_COLUMNS)
    assert [[c.text for c in row.cells] for row in days.rows] == [header, *body]
    assert body[-1][0] == "Tổng" and body[-1][header.index("Đã phát")] == str(t.played)
    scripts = next(tb for tb in document.tables if tb.rows[0].cells[0].text == "Nội dung")
    assert [r.cells[0].text for r in scripts.rows[1:]][:2] == ["mo-dau", "chu-de"]

    # the chart is a real PNG picture inside the document
    [shape] = document.inline_shapes
    blip = shape._inline.graphic.graphicData.pic.blipFill.blip
    image = document.part.related_parts[blip.embed]
    assert image.content_type == "image/png" and image.blob.startswith(b"\x89PNG") and len(image.blob) > 10_000


def test_docx_fonts_are_times_new_roman_in_every_slot(report, tmp_path: Path):
    path = write_docx(report, ReportSettings(), tmp_path / "r.docx")
    normal = docx.Document(str(path)).styles["Normal"]
    fonts = normal.element.rPr.rFonts
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    assert {fonts.get(f"{ns}{slot}") for slot in ("ascii", "hAnsi", "eastAsia", "cs")} == {"Times New Roman"}
    assert normal.font.size.pt == 14
    section = docx.Document(str(path)).sections[0]
    assert (round(section.page_width.mm), round(section.left_margin.mm), round(section.right_margin.mm)) == (
        210,
        30,
        15,
    )


def test_chart_series_counts_every_outcome_per_day(report):
    series = chart_series(report)
    assert series["Đã phát"] == [4, 1, 0]  # scheduled and ad-hoc together, as in `log`
    assert series["Lỗi"] == [0, 2, 0] and series["Bỏ lỡ"] == [0, 1, 0]
    assert series["Không có bản ghi"] == [0, 0, 1]
    assert "Chưa duyệt" not in series  # no empty legend entries


@pytest.mark.parametrize(
    "d, place, expected",
    [
        (date(2026, 4, 27), "Hà Nam", "Hà Nam, ngày 27 tháng 4 năm 2026"),
        (date(2026, 2, 5), "Hà Nam", "Hà Nam, ngày 05 tháng 02 năm 2026"),
        (date(2026, 11, 3), "", "Ngày 03 tháng 11 năm 2026"),
    ],
)
def test_date_line_follows_nd30(d, place, expected):
    assert date_line(place, d) == expected


def test_settings_defaults_and_refusals(tmp_path: Path):
    s = parse_settings({"co_quan": "ỦY BAN NHÂN DÂN XÃ TÂN LẬP"}, tmp_path / "report.yaml")
    assert (s.place, s.issuer_in_text, s.authority) == ("Tân Lập", "Ủy ban nhân dân xã Tân Lập", "TM. ỦY BAN NHÂN DÂN")
    assert s.issuer_lines == ["ỦY BAN NHÂN DÂN", "XÃ TÂN LẬP"] and s.chuc_vu == "CHỦ TỊCH"
    with pytest.raises(SettingsError, match="Có phải ý bạn là 'nguoi_ky'"):
        parse_settings({"nguoi_kí": "A"}, tmp_path / "report.yaml")
    with pytest.raises(SettingsError, match="ngoặc kép"):
        parse_settings({"so_hieu": 12}, tmp_path / "report.yaml")
    with pytest.raises(SettingsError, match="danh sách"):
        parse_settings({"noi_nhan": "Sở KH&CN"}, tmp_path / "report.yaml")


def test_shipped_report_yaml_loads():
    s = load_settings(REPO / "schedule.yaml")
    assert s.co_quan.startswith("ỦY BAN NHÂN DÂN XÃ") and s.noi_nhan and s.noi_nhan[-1].startswith("Lưu")


def test_report_command_writes_the_docx(project: Path, capsys):  # noqa: F811
    fill_log(project.parent / "state" / "asrun.sqlite3", loaded(project))
    (project.parent / "report.yaml").write_text(
        'co_quan: "UBND XÃ ĐÔNG SƠN"\nnguoi_ky: "Lê Thị Hoa"\n', encoding="utf-8"
    )
    out = project.parent / "bc.docx"
    assert (
        main(["report", "--schedule", str(project), "--from", "20/4/2026", "--to", "22/4/2026", "--docx", str(out)])
        == 0
    )
    captured = capsys.readouterr()
    text = all_text(docx.Document(str(out)))
    assert "Lê Thị Hoa" in text and QUOC_HIEU in text and "bc.docx" in captured.err
    printed = dict(line[2:].split(": ", 1) for line in captured.out.splitlines() if line.startswith("- "))
    assert f"- Đã phát: {printed['Đã phát']}." in text
    assert "- Không có bản ghi (đã qua giờ nhưng nhật ký không ghi nhận): 2." in text

    (project.parent / "report.yaml").write_text("co_quan: [\n", encoding="utf-8")
    assert main(["report", "--schedule", str(project), "--docx", str(out)]) == 1
    err = capsys.readouterr().err
    assert "report.yaml" in err and "cú pháp YAML" in err and "Traceback" not in err

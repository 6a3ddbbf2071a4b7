"""The report the Sở receives: a DOCX in the layout of Nghị định 30/2020/NĐ-CP (Phụ lục I).

A4, margins 20/20/30/15 mm, Times New Roman 13–14 pt; top left the issuing body and the
number, top right the quốc hiệu and tiêu ngữ, then place and date, the title and its trích
yếu, the body with the figures and the chart, and at the end "Nơi nhận" beside the signer.

Every figure comes from :func:`broadcaster.asrun.report.build_report` through the same
helpers as the text report (:func:`summary_lines`, :func:`day_table`, :func:`script_table`),
so the document says exactly what ``report`` prints and the CSV holds.

Fonts are named, not embedded: python-docx cannot embed font files. Times New Roman (or its
metric twin Liberation Serif) renders Vietnamese on every office machine; the East Asian and
complex-script font slots are set too, so Word never falls back to another face.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from broadcaster import fmt
from broadcaster.asrun.chart import render_chart
from broadcaster.asrun.export import day_table, script_table, summary_lines, summary_notes
from broadcaster.asrun.report import Report
from broadcaster.asrun.settings import ReportSettings

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.table import _Cell
    from docx.text.paragraph import Paragraph

FONT = "Times New Roman"
QUOC_HIEU = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
TIEU_NGU = "Độc lập - Tự do - Hạnh phúc"
TITLE = "BÁO CÁO"
#: the per-day table of the document: ten columns fit an A4 page; the rarer figures are in the summary
DOCX_DAY_COLUMNS = ("Dự kiến", "Đã phát", "Bị ngắt", "Lỗi", "Bỏ lỡ", "Chưa duyệt", "Không có bản ghi", "Phát ngay")


def date_line(place: str, d: date) -> str:
    """``Hà Nam, ngày 05 tháng 02 năm 2026``: NĐ30 writes days below 10 and months 1–2 with a 0."""
    day = f"{d.day:02d}"
    month = f"{d.month:02d}" if d.month < 3 else str(d.month)
    text = f"ngày {day} tháng {month} năm {d.year}"
    return f"{place}, {text}" if place else text[:1].upper() + text[1:]


def subject(report: Report) -> list[str]:
    """The trích yếu under the title."""
    lines = ["Kết quả phát thanh trên hệ thống loa truyền thanh"]
    if report.campaign:
        lines.append(report.campaign)
    lines.append(f"(từ ngày {fmt.day(report.start)} đến ngày {fmt.day(report.end)})")
    return lines


def _set_fonts(doc: DocxDocument) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    for name in ("Normal", "Table Grid"):
        style: Any = doc.styles[name]
        style.font.name = FONT
        style.font.size = Pt(14 if name == "Normal" else 11)
        rpr = style.element.get_or_add_rPr()
        fonts = rpr.get_or_add_rFonts()
        for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
            fonts.set(qn(slot), FONT)
    normal: Any = doc.styles["Normal"]
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.space_before = Pt(0)


def _para(
    container: Any,
    text: str = "",
    *,
    size: float | None = None,
    bold: bool = False,
    italic: bool = False,
    align: str = "left",
    indent: bool = False,
    after: float = 0,
) -> Paragraph:
    """One paragraph with one run (NĐ30 text: justified body with a 1 cm first-line indent)."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    p: Paragraph = container.add_paragraph()
    p.alignment = {
        "left": WD_ALIGN_PARAGRAPH.LEFT,
        "center": WD_ALIGN_PARAGRAPH.CENTER,
        "justify": WD_ALIGN_PARAGRAPH.JUSTIFY,
    }[align]
    if indent:
        p.paragraph_format.first_line_indent = Cm(1)
    p.paragraph_format.space_after = Pt(after)
    run = p.add_run(text)
    run.bold, run.italic = bold, italic
    if size:
        run.font.size = Pt(size)
    return p


def _widths(table: Any, widths_cm: list[float]) -> None:
    """Column widths in the grid and in every cell: LibreOffice reads the one, Word the other."""
    from docx.shared import Cm

    table.autofit = False
    for col, width in zip(table.columns, widths_cm, strict=True):
        col.width = Cm(width)
        for cell in col.cells:
            cell.width = Cm(width)


def _cell(table: Any, row: int, col: int) -> _Cell:
    cell: _Cell = table.cell(row, col)
    cell.paragraphs[0]._element.getparent().remove(cell.paragraphs[0]._element)  # start with no paragraph
    return cell


def _header(doc: DocxDocument, report: Report, s: ReportSettings, made: date) -> None:
    """Issuer and number left, quốc hiệu and tiêu ngữ right, then place and date (NĐ30 ô 1–4)."""
    table: Any = doc.add_table(rows=2, cols=2)
    _widths(table, [6.3, 10.2])
    left = _cell(table, 0, 0)
    if s.co_quan_chu_quan:
        _para(left, s.co_quan_chu_quan.upper(), size=13, align="center")
    for line in s.issuer_lines:
        _para(left, line, size=13, bold=True, align="center")
    _para(left, "───────", size=11, align="center")
    # a number left for the văn thư: keep room to write it in ("Số:      /BC-UBND")
    number = s.so_hieu if not s.so_hieu.startswith("/") else "\u00a0" * 10 + s.so_hieu
    _para(left, f"Số: {number}", size=13, align="center")
    right = _cell(table, 0, 1)
    _para(right, QUOC_HIEU, size=13, bold=True, align="center")
    _para(right, TIEU_NGU, size=14, bold=True, align="center")
    _para(right, "──────────────", size=11, align="center")
    _cell(table, 1, 0).add_paragraph()
    _para(_cell(table, 1, 1), date_line(s.place, made), size=14, italic=True, align="center")


def _table(doc: DocxDocument, header: list[str], body: list[list[str]], first_cm: float) -> None:
    """A bordered table across the text width (16,5 cm): the first column ``first_cm`` wide."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    table: Any = doc.add_table(rows=1 + len(body), cols=len(header))
    table.style = doc.styles["Table Grid"]
    rest = (16.5 - first_cm) / (len(header) - 1)
    _widths(table, [first_cm, *([rest] * (len(header) - 1))])
    for r, cells in enumerate([header, *body]):
        for c, text in enumerate(cells):
            p = table.cell(r, c).paragraphs[0]
            p.alignment = WD_ALIGN_PARAGRAPH.LEFT if c == 0 else WD_ALIGN_PARAGRAPH.CENTER
            run = p.add_run(text)
            run.bold = r == 0 or cells[0] == "Tổng"
            if r == 0:
                run.font.size = Pt(10)  # headings of narrow columns stay whole words


def _body(doc: DocxDocument, report: Report, s: ReportSettings, chart: bytes) -> None:
    from docx.shared import Cm

    issuer = s.issuer_in_text
    reason = f"Thực hiện kế hoạch tuyên truyền {report.campaign}, " if report.campaign else ""
    _para(
        doc,
        f"{reason}{issuer} báo cáo kết quả phát thanh trên hệ thống loa truyền thanh từ ngày "
        f"{fmt.day(report.start)} đến ngày {fmt.day(report.end)} như sau:",
        align="justify",
        indent=True,
    )
    _para(doc, "1. Kết quả chung", bold=True, indent=True)
    for what, value in summary_lines(report):
        _para(doc, f"- {what}: {value}.", align="justify", indent=True)
    for note in summary_notes(report):
        _para(doc, f"- Ghi chú: {note}", italic=True, align="justify", indent=True)
    _para(doc, "2. Kết quả theo ngày", bold=True, indent=True, after=4)
    _table(doc, *day_table(report, DOCX_DAY_COLUMNS), first_cm=2.9)
    picture = _para(doc, align="center")
    picture.add_run().add_picture(io.BytesIO(chart), width=Cm(16))
    _para(doc, "Biểu đồ: số buổi phát theo ngày và kết quả.", size=12, italic=True, align="center", after=6)
    _para(doc, "3. Kết quả theo nội dung", bold=True, indent=True, after=4)
    if report.scripts:
        _table(doc, *script_table(report), first_cm=6.0)
    else:
        _para(doc, "Không có nội dung nào trong khoảng thời gian này.", indent=True)
    made = report.generated_at.astimezone(report.tz) if report.generated_at else None
    when = f" lúc {fmt.clock(made)} ngày {fmt.day(made)}" if made else ""
    _para(doc, f"Số liệu lập tự động từ nhật ký phát của hệ thống{when}.", italic=True, indent=True)
    _para(doc, f"Trên đây là báo cáo kết quả phát thanh của {issuer}./.", align="justify", indent=True, after=6)


def _signature(doc: DocxDocument, s: ReportSettings) -> None:
    """ "Nơi nhận" left (12 pt bold italic, list 11 pt), signer right (NĐ30 ô 7, 9)."""
    table: Any = doc.add_table(rows=1, cols=2)
    _widths(table, [8.0, 8.5])
    left = _cell(table, 0, 0)
    _para(left, "Nơi nhận:", size=12, bold=True, italic=True)
    for place in s.noi_nhan:
        _para(left, f"- {place}", size=11)
    right = _cell(table, 0, 1)
    if s.authority:
        _para(right, s.authority.upper(), size=14, bold=True, align="center")
    _para(right, s.chuc_vu.upper(), size=14, bold=True, align="center")
    for _ in range(4):  # room for the signature and the seal
        _para(right, "")
    _para(right, s.nguoi_ky, size=14, bold=True, align="center")


def build_docx(report: Report, settings: ReportSettings, *, made: date | None = None) -> DocxDocument:
    """The report as a python-docx Document (A4, NĐ30 margins and fonts)."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm

    doc = docx.Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    _set_fonts(doc)
    day = made or (report.generated_at.astimezone(report.tz).date() if report.generated_at else date.today())
    _header(doc, report, settings, day)
    _para(doc, "")
    _para(doc, TITLE, size=14, bold=True, align="center")
    for line in subject(report):
        _para(doc, line, size=14, bold=True, align="center")
    _para(doc, "──────────", size=11, align="center", after=6).alignment = WD_ALIGN_PARAGRAPH.CENTER
    _body(doc, report, settings, render_chart(report))
    _signature(doc, settings)
    return doc


def write_docx(report: Report, settings: ReportSettings, path: Path, *, made: date | None = None) -> Path:
    """Write the DOCX to ``path`` (through a temporary file, so a failed write leaves nothing half-made)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        build_docx(report, settings, made=made).save(str(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

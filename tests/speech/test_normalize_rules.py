"""Context rules of issue 13, ambiguity warnings, the operator's lexicon, --explain and check."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.cli import main
from broadcaster.speech.normalize import Lexicon, analyze, load_abbreviations, load_lexicon, normalize

REPO = Path(__file__).resolve().parents[2]

RULES = [
    # slash: date, fraction, label, ratio
    ("giảm 1/3 diện tích", "giảm một phần ba diện tích"),
    ("2/3 số hộ", "hai phần ba số hộ"),
    ("ngày 1/3", "ngày mùng một tháng ba"),
    ("1 phần 3", "một phần ba"),
    ("lớp 6/1", "lớp sáu trên một"),
    ("tỷ lệ 1:500", "tỷ lệ một trên năm trăm"),
    ("thắng 3-1", "thắng ba một"),
    ("điểm 9,75", "điểm chín phẩy bảy mươi lăm"),
    # service and phone numbers
    ("gọi cấp cứu 115", "gọi cấp cứu một một năm"),
    ("gọi 113", "gọi một một ba"),
    ("Cứu hỏa 114", "Cứu hỏa một một bốn"),
    ("đường dây nóng 1022", "đường dây nóng một không hai hai"),
    ("có 115 hộ", "có một trăm mười lăm hộ"),
    ("0912 345 678", "không chín một hai, ba bốn năm, sáu bảy tám"),
    ("0912345678", "không chín một hai, ba bốn năm, sáu bảy tám"),
    # weekdays
    ("T2–T6", "thứ Hai đến thứ Sáu"),
    ("T7, CN", "thứ Bảy, Chủ nhật"),
    ("sáng CN", "sáng Chủ nhật"),
    ("KH và CN", "Kế hoạch và CN"),
    # times
    ("7h", "bảy giờ"),
    ("7h30", "bảy giờ ba mươi phút"),
    ("7g30", "bảy giờ ba mươi phút"),
    ("19:30", "mười chín giờ ba mươi phút"),
    ("7 giờ 30'", "bảy giờ ba mươi phút"),
    # money
    ("50.000đ", "năm mươi nghìn đồng"),
    ("50.000 VNĐ", "năm mươi nghìn đồng"),
    ("10 tr.đ", "mười triệu đồng"),
    ("10tr", "mười triệu"),
    ("1,2 tỷ đồng", "một phẩy hai tỷ đồng"),
    ("2 tỷ đ", "hai tỷ đồng"),
    # units
    ("100 mm", "một trăm mi li mét"),
    ("5 m", "năm mét"),
    ("3 km", "ba ki lô mét"),
    ("2 ha", "hai héc ta"),
    ("250 m2", "hai trăm năm mươi mét vuông"),
    ("250 m²", "hai trăm năm mươi mét vuông"),
    ("5 m3", "năm mét khối"),
    ("20 kg", "hai mươi ki lô gam"),
    ("10 tấn", "mười tấn"),
    ("35°C", "ba mươi lăm độ xê"),
    ("15%", "mười lăm phần trăm"),
    ("5‰", "năm phần nghìn"),
    ("km 12", "cây số mười hai"),
    ("Km12+500", "cây số mười hai cộng năm trăm"),
    ("Q.1, P.5", "quận một, phường năm"),
    # web and e-mail
    ("dichvucong.gov.vn", "dịch vụ công chấm gov chấm vê en"),
    ("ubnd@hanam.gov.vn", "u bê en đê a còng hà nam chấm gov chấm vê en"),
    # documents
    ("Kế hoạch số 125/KH-UBND", "Kế hoạch số một trăm hai mươi lăm của Ủy ban nhân dân"),
    ("Kế hoạch số 125/KH-UBND của UBND xã", "Kế hoạch số một trăm hai mươi lăm của Ủy ban nhân dân xã"),
    ("NĐ-CP", "Nghị định Chính phủ"),
    ("theo 13/2023/NĐ-CP", "theo Nghị định số mười ba năm hai nghìn không trăm hai mươi ba của Chính phủ"),
    # Roman numerals, foreign words, abbreviations, mùng
    ("quý IV", "quý bốn"),
    ("thế kỷ XXI", "thế kỷ hai mươi mốt"),
    ("II. NỘI DUNG", "hai, NỘI DUNG."),
    ("COVID", "cô vít"),
    ("VNeID", "vê en e ai đi"),
    ("Zalo", "da lô"),
    ("mã QR", "mã kiu a"),
    ("Wi-Fi", "wai phai"),
    ("online", "on lai"),
    ("VSATTP", "vệ sinh an toàn thực phẩm"),
    ("ngày 5/12", "ngày mùng năm tháng mười hai"),
    ("ngày 5 tháng 12", "ngày mùng năm tháng mười hai"),
    ("ngày 15/12", "ngày mười lăm tháng mười hai"),
    ("tháng 4", "tháng tư"),
    ("105", "một trăm linh năm"),
]


@pytest.mark.parametrize(("text", "spoken"), RULES)
def test_context_rule(text, spoken):
    assert normalize(text) == spoken


# --- ambiguity ----------------------------------------------------------------------------


def test_bare_fraction_like_date_is_flagged_with_both_readings_and_position():
    text = "Họp tổng kết.\nĐã thu 1/3 kinh phí, hạn nộp 2/5"
    analysis = analyze(text)
    assert [w.source for w in analysis.warnings] == ["2/5"]
    warning = analysis.warnings[0]
    assert (warning.line, warning.col) == (2, 30)
    assert text[warning.start : warning.end] == "2/5"
    assert warning.readings == ("ngày mùng hai tháng năm", "hai phần năm")
    assert "ngày 2/5" in warning.message and "2 phần 5" in warning.message


@pytest.mark.parametrize("text", ["ngày 2/5", "từ 2/5", "2 phần 5", "giảm 2/5", "sáng 2/5", "2/5 số hộ", "26/4"])
def test_explicit_forms_settle_the_reading(text):
    assert analyze(text).warnings == []


def test_service_number_without_context_is_flagged():
    analysis = analyze("Thôn Đông: 115.")
    assert [w.readings for w in analysis.warnings] == [("một trăm mười lăm", "một một năm")]


# --- the operator's lexicon -----------------------------------------------------------------


def test_lexicon_merges_operator_files_and_reports_bad_entries(tmp_path):
    (tmp_path / "abbreviations.yaml").write_text('"NVH": nhà văn hóa\n"X": 12\n', encoding="utf-8")
    (tmp_path / "pronunciations.yaml").write_text(
        '"Nguyễn Văn Tèo": Nguyễn Văn Tẻo\n"zalo": da lô lô\n"": rỗng\n"Y": [a]\n', encoding="utf-8"
    )
    lexicon = load_lexicon(tmp_path)
    assert isinstance(lexicon, Lexicon) and lexicon["NVH"] == "nhà văn hóa" and "X" not in lexicon
    assert [(i.path, i.line) for i in lexicon.errors] == [
        (str(tmp_path / "abbreviations.yaml"), 2),
        (str(tmp_path / "pronunciations.yaml"), 3),
        (str(tmp_path / "pronunciations.yaml"), 4),
    ]
    assert all(re.match(r".+:\d+:\d+: ", str(i)) for i in lexicon.errors)
    # a Lexicon passed as abbreviations brings its pronunciations (case-insensitive, whole words)
    spoken = normalize("Ông NGUYỄN VĂN TÈO dùng Zalo tại NVH", lexicon)
    assert spoken == "Ông Nguyễn Văn Tẻo dùng da lô lô tại nhà văn hóa"


def test_lexicon_with_broken_yaml_keeps_the_other_file(tmp_path):
    (tmp_path / "pronunciations.yaml").write_text('"a": [b\n', encoding="utf-8")
    lexicon = load_lexicon(tmp_path)
    assert lexicon.errors and lexicon.pronunciations["Zalo"] == "da lô"
    assert load_lexicon(None) == load_abbreviations()


def test_pronunciation_is_used_for_web_address_labels(tmp_path):
    (tmp_path / "pronunciations.yaml").write_text('"xahanam": xã Hà Nam\n', encoding="utf-8")
    assert normalize("xahanam.gov.vn", load_lexicon(tmp_path)) == "xã Hà Nam chấm gov chấm vê en"


def test_shipped_pronunciations_file_is_valid():
    lexicon = load_lexicon(REPO / "scripts_vi")
    assert lexicon.issues == []
    assert lexicon.pronunciations["xahanam"] == "xã Hà Nam"


# --- commands -------------------------------------------------------------------------------


def test_cli_explain_shows_span_reading_and_rule(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["normalize", "--explain", "gọi 115 lúc 7h30"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"115\s+→\s+một một năm\s+\[số dịch vụ khẩn cấp\]", out)
    assert re.search(r"7h30\s+→\s+bảy giờ ba mươi phút\s+\[giờ\]", out)
    assert out.rstrip().endswith("gọi một một năm lúc bảy giờ ba mươi phút")


def test_cli_warns_about_ambiguity(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["normalize", "đã thu 1/3"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "đã thu ngày mùng một tháng ba\n"
    assert "Cảnh báo: dòng 1, cột 8:" in captured.err and "một phần ba" in captured.err


def _campaign(tmp_path: Path) -> Path:
    import shutil

    shutil.copy(REPO / "schedule.yaml", tmp_path / "schedule.yaml")
    shutil.copytree(REPO / "scripts_vi", tmp_path / "scripts_vi")
    (tmp_path / "audio").mkdir()
    shutil.copy(REPO / "audio" / "chime.wav", tmp_path / "audio" / "chime.wav")
    return tmp_path


def test_check_reports_bad_lexicon_entries_as_errors(capsys, tmp_path, monkeypatch):
    base = _campaign(tmp_path)
    monkeypatch.chdir(base)
    (base / "scripts_vi" / "pronunciations.yaml").write_text('"Zalo": da lô\n"Tèo": 12\n', encoding="utf-8")
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "scripts_vi/pronunciations.yaml:2:" in err and "Traceback" not in err


def test_check_warns_about_ambiguous_script_lines(capsys, tmp_path, monkeypatch):
    base = _campaign(tmp_path)
    monkeypatch.chdir(base)
    script = base / "scripts_vi" / "thu-phi.txt"
    script.write_text("Kính thưa bà con!\nĐã thu 1/3 quỹ, kết quả 2/5.\n", encoding="utf-8")
    assert main(["check"]) == 0
    err = capsys.readouterr().err
    col = "Đã thu 1/3 quỹ, kết quả 2/5.".index("2/5") + 1
    assert f"scripts_vi/thu-phi.txt:2:{col}: cảnh báo:" in err and "hai phần năm" in err
    assert "thu-phi.txt:2:8" not in err  # "1/3 quỹ" is decided by the word after it


# --- never raises, fast ---------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_unicode_gives_a_reading(text):
    spoken = normalize(text)
    assert isinstance(spoken, str)
    assert analyze(text).spoken == spoken


_NOTICE = st.sampled_from(
    [
        "ngày",
        "T2",
        "CN",
        "-",
        "/",
        ":",
        "h",
        "g",
        "%",
        "‰",
        "đ",
        "tr.đ",
        "Km",
        "Q.",
        "@",
        ".",
        "gov",
        "vn",
        "115",
        "QĐ-UBND",
        "KH",
        "số",
        "của",
        " ",
        ",",
        "\n",
        "😀",
        "日本",
        "Ω",
        "'",
        "giảm",
        "lớp",
        "thắng",
        "tỷ lệ",
        "NPK",
        "mã",
        "0912",
        "+84",
        "IV",
        "quý",
        "mùng",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_NOTICE, st.integers(0, 10**6).map(str)), max_size=16))
def test_notice_fragments_read_without_digits_and_explain_consistently(parts):
    text = "".join(parts)
    analysis = analyze(text)
    assert analysis.spoken == normalize(text)
    assert not re.search(r"[0-9]", analysis.spoken)
    rebuilt, last = [], 0
    for span in analysis.spans:
        rebuilt += [analysis.text[last : span.start], span.spoken]
        last = span.end
    assert "".join(rebuilt) + analysis.text[last:] == analysis.spoken


@pytest.mark.parametrize(
    "text",
    ["0" * 100_000, "1.000" * 20_000, "9" * 5000 + "/" + "9" * 5000, "1-" * 30_000, "😀" * 30_000, "T2-" * 20_000],
)
def test_huge_inputs_give_a_reading(text):
    start = time.perf_counter()
    spoken = normalize(text)
    assert spoken and not re.search(r"[0-9]", spoken)
    assert time.perf_counter() - start < 10  # no catastrophic backtracking


def test_two_thousand_characters_well_under_50_ms():
    corpus = (REPO / "tests" / "speech" / "corpus" / "01-power-cut.yaml").read_text(encoding="utf-8")[:2000]
    normalize(corpus)
    best = min(_timed(corpus) for _ in range(5))
    assert best < 0.05


def _timed(text: str) -> float:
    start = time.perf_counter()
    normalize(text)
    return time.perf_counter() - start

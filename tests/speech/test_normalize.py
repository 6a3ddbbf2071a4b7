"""The normalizer reads announcement text the way a Northern commune announcer would."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.cli import main
from broadcaster.speech.normalize import (
    RULE_LABELS,
    analyze,
    digits_to_words,
    explain_rows,
    load_abbreviations,
    normalize,
    number_to_words,
)
from broadcaster.speech.normalize.pipeline import PASSES

PLAN = Path(__file__).resolve().parents[1] / "data" / "plan-21-4-2026.vi.md"  # a copy kept in the repo
Y2026 = "hai nghìn không trăm hai mươi sáu"
ASCII_DIGIT = re.compile(r"[0-9]")

# (written, spoken)
CARDINALS = [
    (0, "không"),
    (1, "một"),
    (4, "bốn"),
    (5, "năm"),
    (10, "mười"),
    (11, "mười một"),
    (14, "mười bốn"),
    (15, "mười lăm"),
    (20, "hai mươi"),
    (21, "hai mươi mốt"),
    (24, "hai mươi tư"),
    (25, "hai mươi lăm"),
    (55, "năm mươi lăm"),
    (99, "chín mươi chín"),
    (100, "một trăm"),
    (101, "một trăm linh một"),
    (104, "một trăm linh bốn"),
    (105, "một trăm linh năm"),
    (110, "một trăm mười"),
    (115, "một trăm mười lăm"),
    (121, "một trăm hai mươi mốt"),
    (1000, "một nghìn"),
    (1005, "một nghìn không trăm linh năm"),
    (1010, "một nghìn không trăm mười"),
    (1456, "một nghìn bốn trăm năm mươi sáu"),
    (2024, "hai nghìn không trăm hai mươi tư"),
    (2026, Y2026),
    (10_000, "mười nghìn"),
    (21_000, "hai mươi mốt nghìn"),
    (100_000, "một trăm nghìn"),
    (1_000_000, "một triệu"),
    (1_000_005, "một triệu không trăm linh năm"),
    (1_000_500, "một triệu năm trăm"),
    (1_500_000, "một triệu năm trăm nghìn"),
    (2_001_001, "hai triệu không trăm linh một nghìn không trăm linh một"),
    (1_000_000_000, "một tỷ"),
    (1_005_000_000, "một tỷ không trăm linh năm triệu"),
    (1_000_000_000_000, "một nghìn tỷ"),
]

# (input text, expected spoken text)
CASES = [
    # dates
    ("21/4/2026", f"ngày hai mươi mốt tháng tư năm {Y2026}"),
    ("ngày 1/5", "ngày mùng một tháng năm"),
    ("Ngày 1/5 là ngày Quốc tế Lao động", "Ngày mùng một tháng năm là ngày Quốc tế Lao động"),
    ("Ngày khoa học và công nghệ Việt Nam 18/5.", "Ngày khoa học và công nghệ Việt Nam ngày mười tám tháng năm."),
    ("tháng 04/2026", f"tháng tư năm {Y2026}"),
    ("trong 04/2026", f"trong tháng tư năm {Y2026}"),
    ("20 tháng 4 năm 2026", f"hai mươi tháng tư năm {Y2026}"),
    ("từ ngày 17 tháng 4 năm 2026", f"từ ngày mười bảy tháng tư năm {Y2026}"),
    ("tháng 12", "tháng mười hai"),
    ("05/04/2026", f"ngày mùng năm tháng tư năm {Y2026}"),
    ("21.4.2026", f"ngày hai mươi mốt tháng tư năm {Y2026}"),
    # a slash that is not a date: class and house labels, round the clock
    ("học sinh lớp 6/1", "học sinh lớp sáu trên một"),
    ("số nhà 12/3", "số nhà mười hai trên ba"),
    ("Tổ 5/2 thôn Đông", "Tổ năm trên hai thôn Đông"),
    ("tổng đài trực 24/7", "tổng đài trực hai mươi tư trên bảy"),
    ("phục vụ 24/7.", "phục vụ hai mươi tư trên bảy."),
    ("Gọi đường dây nóng 24/7", "Gọi đường dây nóng hai mươi tư trên bảy"),
    ("ngày 24/7", "ngày hai mươi tư tháng bảy"),
    ("từ 24/7 đến 30/7", "từ ngày hai mươi tư tháng bảy đến ngày ba mươi tháng bảy"),
    ("17-4-2026", f"ngày mười bảy tháng tư năm {Y2026}"),
    ("2026-04-21", f"ngày hai mươi mốt tháng tư năm {Y2026}"),
    ("17/4 - 26/4", "ngày mười bảy tháng tư đến ngày hai mươi sáu tháng tư"),
    ("từ ngày 17/4 - 26/4/2026", f"từ ngày mười bảy tháng tư đến ngày hai mươi sáu tháng tư năm {Y2026}"),
    ("17-26/4", "ngày mười bảy đến ngày hai mươi sáu tháng tư"),
    ("năm 2025 - 2026", f"năm hai nghìn không trăm hai mươi lăm đến {Y2026}"),
    ("quý II/2026", f"quý hai năm {Y2026}"),
    ("quý 3/2026", f"quý ba năm {Y2026}"),
    # times
    ("6h30", "sáu giờ ba mươi phút"),
    ("6h", "sáu giờ"),
    ("6h05", "sáu giờ năm phút"),
    ("17h00", "mười bảy giờ"),
    ("6g30", "sáu giờ ba mươi phút"),
    ("17:00", "mười bảy giờ"),
    ("17:45", "mười bảy giờ bốn mươi lăm phút"),
    ("5 giờ 30", "năm giờ ba mươi phút"),
    ("5 giờ 30 phút", "năm giờ ba mươi phút"),
    ("từ 7h - 11h", "từ bảy giờ đến mười một giờ"),
    ("từ 7h30-11h", "từ bảy giờ ba mươi phút đến mười một giờ"),
    ("7 giờ - 11 giờ", "bảy giờ đến mười một giờ"),
    ("lúc 7h30 ngày 21/4/2026", f"lúc bảy giờ ba mươi phút ngày hai mươi mốt tháng tư năm {Y2026}"),
    # cardinals, decimals, percentages, units
    ("2026", Y2026),
    ("105 hộ", "một trăm linh năm hộ"),
    ("15 người", "mười lăm người"),
    ("21 thôn", "hai mươi mốt thôn"),
    ("10 xã", "mười xã"),
    ("1000000", "một triệu"),
    ("1.500.000 đồng", "một triệu năm trăm nghìn đồng"),
    ("1,500,000 đồng", "một triệu năm trăm nghìn đồng"),
    ("2,5", "hai phẩy năm"),
    ("3,14", "ba phẩy mười bốn"),
    ("2,05", "hai phẩy không năm"),
    ("15%", "mười lăm phần trăm"),
    ("2,5 %", "hai phẩy năm phần trăm"),
    ("Cách mạng công nghiệp 4.0", "Cách mạng công nghiệp bốn chấm không"),
    ("05 ngày", "năm ngày"),
    ("120 m2", "một trăm hai mươi mét vuông"),
    ("50.000đ/người", "năm mươi nghìn đồng một người"),
    ("5kg", "năm ki lô gam"),
    ("3 ha lúa", "ba héc ta lúa"),
    ("F0", "F không"),
    # ordinals and anniversaries
    ("thứ 3", "thứ ba"),
    ("Thứ 4", "Thứ tư"),
    ("thứ 1", "thứ nhất"),
    ("Thứ 2 - Thứ 6", "Thứ hai đến Thứ sáu"),
    ("lần thứ 4", "lần thứ tư"),
    ("lần thứ 24", "lần thứ hai mươi tư"),
    ("kỷ niệm 80 năm", "kỷ niệm tám mươi năm"),
    ("Đại hội lần thứ XIII", "Đại hội lần thứ mười ba"),
    ("thế kỷ XXI", "thế kỷ hai mươi mốt"),
    # phone numbers and long digit strings
    ("0912 345 678", "không chín một hai, ba bốn năm, sáu bảy tám"),
    ("0912345678", "không chín một hai, ba bốn năm, sáu bảy tám"),
    ("0912.345.678", "không chín một hai, ba bốn năm, sáu bảy tám"),
    ("gọi 0226 3851 234 nhé", "gọi không hai hai sáu, ba tám năm một, hai ba bốn nhé"),
    ("(0226) 3851 234", "không hai hai sáu, ba tám năm một, hai ba bốn"),
    ("Điện thoại: 02263.851.234", "Điện thoại: không hai hai sáu ba, tám năm một, hai ba bốn"),
    ("Kế hoạch số 15-KH/ĐU", "Kế hoạch số mười lăm của Đảng ủy"),
    ("TƯ VẤN PHÁP LUẬT", "TƯ VẤN PHÁP LUẬT"),
    ("nhiệt độ 25-30°C", "nhiệt độ hai mươi lăm đến ba mươi độ xê"),
    ("19:30:15", "mười chín giờ ba mươi phút mười lăm giây"),
    ("+84 912 345 678", "cộng tám bốn, chín một hai, ba bốn năm, sáu bảy tám"),
    ("1900 1234", "một chín không không, một hai ba bốn"),
    ("số CCCD 001203004567", "số căn cước công dân không không một hai không ba không không bốn năm sáu bảy"),
    ("mã 12345678", "mã một hai ba bốn năm sáu bảy tám"),
    # document numbers
    ("1456/SKH-CN-QLCN", "số một nghìn bốn trăm năm mươi sáu, Sở Khoa học và Công nghệ Quản lý công nghệ"),
    ("135/QĐ-UBND", "Quyết định số một trăm ba mươi lăm của Ủy ban nhân dân"),
    ("Quyết định số 135/QĐ-UBND", "Quyết định số một trăm ba mươi lăm của Ủy ban nhân dân"),
    ("Số: 01/KH-UBND", "Số: một, Kế hoạch Ủy ban nhân dân"),
    ("Số: /KH-UBND", "Số: Kế hoạch Ủy ban nhân dân"),
    (
        "Thông tư 39/2020/TT-BTTTT",
        "Thông tư số ba mươi chín năm hai nghìn không trăm hai mươi của Bộ Thông tin và Truyền thông",
    ),
    ("Nghị định số 13/2023/NĐ-CP", "Nghị định số mười ba năm hai nghìn không trăm hai mươi ba của Chính phủ"),
    (
        "Thực hiện Công văn số 1456/SKH-CN-QLCN ngày 17/4/2026 của Sở Khoa học và Công nghệ thành phố Hải Phòng",
        "Thực hiện Công văn số một nghìn bốn trăm năm mươi sáu, Sở Khoa học và Công nghệ Quản lý công nghệ, "
        f"ngày mười bảy tháng tư năm {Y2026} của Sở Khoa học và Công nghệ thành phố Hải Phòng",
    ),
    # headings at line start
    ("I. MỤC ĐÍCH, YÊU CẦU", "một, MỤC ĐÍCH, YÊU CẦU."),
    ("III. NỘI DUNG CÁC HOẠT ĐỘNG", "ba, NỘI DUNG CÁC HOẠT ĐỘNG."),
    ("IV. TỔ CHỨC THỰC HIỆN", "bốn, TỔ CHỨC THỰC HIỆN."),
    ("1. Mục đích", "một, Mục đích."),
    ("1.2. Nội dung", "một chấm hai, Nội dung."),
    ("a) Chủ đề:", "a, Chủ đề:"),
    ("b) Khẩu hiệu:", "bê, Khẩu hiệu:"),
    ("##### 1. Mục đích", "một, Mục đích."),
    ("## **VI. KINH PHÍ TỔ CHỨC**", "sáu, KINH PHÍ TỔ CHỨC."),
    ("Mục I", "Mục một"),
    # abbreviations
    ("UBND xã", "Ủy ban nhân dân xã"),
    ("HĐND xã", "Hội đồng nhân dân xã"),
    ("Sở KH&CN thành phố", "Sở Khoa học và Công nghệ thành phố"),
    ("cài đặt GPLX trên ứng dụng VNeID", "cài đặt giấy phép lái xe trên ứng dụng vê en e ai đi"),
    ("ứng dụng VneID", "ứng dụng vê en e ai đi"),
    ("Tổ CNS cộng đồng", "Tổ công nghệ số cộng đồng"),
    ("Phòng VH-XH", "Phòng Văn hóa, Xã hội"),
    ("TP. Hải Phòng", "thành phố Hải Phòng"),
    ("TP.HCM", "thành phố Hồ Chí Minh"),
    ("đ/c Chủ tịch", "đồng chí Chủ tịch"),
    ("VN", "Việt Nam"),
    ("thẻ CCCD, BHYT, BHXH", "thẻ căn cước công dân, bảo hiểm y tế, bảo hiểm xã hội"),
    ("Ủy ban MTTQ xã", "Ủy ban Mặt trận Tổ quốc xã"),
    ("trường THCS và THPT", "trường trung học cơ sở và trung học phổ thông"),
    ("các PCT UBND xã", "các Phó Chủ tịch Ủy ban nhân dân xã"),
    ("KT.CHỦ TỊCH", "ký thay CHỦ TỊCH"),
    ("KT. CHỦ TỊCH", "ký thay CHỦ TỊCH"),
    ("Lưu: VT, VHXH.", "Lưu: Văn thư, Văn hóa Xã hội."),
    ("V/v hưởng ứng", "Về việc hưởng ứng"),
    ("ubnd", "ubnd"),  # case-sensitive: not an all-caps code
    ("UBNDX", "UBNDX"),  # whole tokens only
    # offices and standing bodies (normalize/rules_offices.py; corpus 15-offices.yaml)
    ("TT Đảng uỷ xã", "Thường trực Đảng uỷ xã"),  # the older accent placement
    ("TT ĐU xã", "Thường trực Đảng ủy xã"),
    ("TM. TT.HĐND", "thay mặt Thường trực Hội đồng nhân dân"),
    ("TTĐU, TTHĐND", "Thường trực Đảng ủy, Thường trực Hội đồng nhân dân"),
    ("TT. Ba Sao", "thị trấn Ba Sao"),  # "TT." elsewhere stays the town
    ("TTHC", "thủ tục hành chính"),
    (
        "TT 39/2020/TT-BTTTT",
        "Thông tư số ba mươi chín năm hai nghìn không trăm hai mươi của Bộ Thông tin và Truyền thông",
    ),
    ("QĐ số 135/QĐ-UBND", "Quyết định số một trăm ba mươi lăm của Ủy ban nhân dân"),
    ("Thông tư 09/2021/TT-BCT", "Thông tư số chín năm hai nghìn không trăm hai mươi mốt của Bộ Công Thương"),
    ("Kế hoạch số 12/KH-PGDĐT", "Kế hoạch số mười hai của Phòng Giáo dục và Đào tạo"),
    ("CA xã", "Công an xã"),
    ("CA thị trấn", "Công an thị trấn"),
    ("phát hiện 1 ca xã Đông", "phát hiện một ca xã Đông"),  # lower case: a case, not the police
    ("CA", "CA"),
    ("TC", "TC"),  # alone: tiêu chí, tổ chức, tài chính…
    ("Sở TC", "Sở Tài chính"),
    ("Ban TC", "Ban Tổ chức"),
    ("Bộ CA", "Bộ Công an"),
    ("SỞ YT TỈNH", "SỞ Y tế TỈNH"),
    ("Sở Y tế", "Sở Y tế"),
    ("Bộ BTTTT", "Bộ Thông tin và Truyền thông"),  # the head word once
    ("Ban BCHQS xã", "Ban Chỉ huy quân sự xã"),
    ("Sở VH,TT&DL", "Sở Văn hóa, Thể thao và Du lịch"),
    ("Sở VHTT&DL", "Sở Văn hóa, Thể thao và Du lịch"),
    ("ngành GTVT", "ngành giao thông vận tải"),
    ("Sở KH&CN, Sở TN&MT", "Sở Khoa học và Công nghệ, Sở Tài nguyên và Môi trường"),
    # dashes and bullets become pauses
    ("phát triển kinh tế - xã hội", "phát triển kinh tế, xã hội"),
    ("kinh tế – xã hội", "kinh tế, xã hội"),
    ("Văn hóa — Xã hội", "Văn hóa, Xã hội"),
    ("- Treo băng rôn", "Treo băng rôn."),
    ("• Treo băng rôn;", "Treo băng rôn;"),
    ("* Treo băng rôn", "Treo băng rôn."),
    ("-Treo băng rôn", "Treo băng rôn."),
    ("thế giới – 21/4/2026", f"thế giới, ngày hai mươi mốt tháng tư năm {Y2026}"),
    (
        "- “Đổi mới sáng tạo – Hành động đột phá”; - “Chuyển đổi nhanh hơn”.",
        "“Đổi mới sáng tạo, Hành động đột phá”; “Chuyển đổi nhanh hơn”.",
    ),
    ("an sinh • y tế", "an sinh, y tế"),
    ("theo thẩm quyền./.", "theo thẩm quyền."),
    ("- cải tiến kỹ\n\nthuật, cải tiến", "cải tiến kỹ\n\nthuật, cải tiến"),
    ("- Một\n- Hai\n", "Một.\nHai.\n"),
    ("- Một\r\n- Hai\r\n", "Một.\r\nHai.\r\n"),
]

UNCHANGED = [
    "",
    "Kính thưa toàn thể nhân dân!",
    "Ủy ban nhân dân xã thông báo: lịch tiêm chủng, xin mời bà con đến đúng giờ.",
    "Phát tin, bài, chuyên mục trên hệ thống loa truyền thanh xã, Trang thông tin điện tử, fanpage...",
    "(Mặt trận, Hội Phụ nữ, Đoàn Thanh niên...).",
    "“Nhiệt liệt chào mừng” ngày hội; bà con chú ý!",
    "Dòng một\nDòng hai\n\n  Dòng ba thụt lề  ",
    "a , b ,, c",
    "Phạm Văn Mạnh",
]


@pytest.mark.parametrize(("number", "spoken"), CARDINALS)
def test_number_to_words(number, spoken):
    assert number_to_words(number) == spoken


@pytest.mark.parametrize(("number", "spoken"), CARDINALS)
def test_numbers_in_text(number, spoken):
    if number >= 10_000_000:  # bare long digit strings are codes; write amounts with separators
        written = f"{number:,}".replace(",", ".")
    else:
        written = str(number)
    assert normalize(written) == spoken


@pytest.mark.parametrize(("text", "spoken"), CASES)
def test_normalize(text, spoken):
    out = normalize(text)
    assert out == spoken
    assert not ASCII_DIGIT.search(out)


@pytest.mark.parametrize("text", UNCHANGED)
def test_nothing_to_normalize_is_unchanged(text):
    assert normalize(text) == text


@pytest.mark.parametrize(
    "text",
    ["17/4 - 26/4", "từ 7h - 11h", "kinh tế - xã hội", "- Treo băng rôn", "a – b — c", "2020-2025"],
)
def test_dashes_are_never_spoken(text):
    out = normalize(text)
    assert "gạch" not in out and not re.search(r"[-–—]", out)


def test_whole_plan_reads_without_digits_or_markers():
    out = normalize(PLAN.read_text(encoding="utf-8"))
    assert not ASCII_DIGIT.search(out)
    assert "**" not in out and "#" not in out
    assert not re.search(r"^\s*[-–—•*]\s", out, re.M)
    assert "UBND" not in out and "KH&CN" not in out and "VneID" not in out
    assert "số một nghìn bốn trăm năm mươi sáu, Sở Khoa học và Công nghệ Quản lý công nghệ" in out
    assert f"đến hết ngày hai mươi sáu tháng tư năm {Y2026}" in out
    assert "\nmột, MỤC ĐÍCH, YÊU CẦU.\n" in out
    assert "\nnăm, PHÂN CÔNG NHIỆM VỤ.\n" in out


def test_normalize_is_fast():
    import time

    line = "Thực hiện Công văn số 1456/SKH-CN-QLCN ngày 17/4/2026 của UBND xã, từ 7h - 11h, 15% hộ dân."
    normalize(line)
    start = time.perf_counter()
    for _ in range(200):
        normalize(line)
    assert (time.perf_counter() - start) / 200 < 0.005


def test_digits_to_words():
    assert digits_to_words("0912") == "không chín một hai"


# --- property tests ---------------------------------------------------------

_UNITS = {"không": 0, "một": 1, "mốt": 1, "hai": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5, "lăm": 5,
          "sáu": 6, "bảy": 7, "tám": 8, "chín": 9}  # fmt: skip


def _parse_vietnamese_number(words: str) -> int:
    """Independent reader of spoken cardinals, used to round-trip number_to_words."""
    total = block = group = pending = 0
    for word in words.split():
        if word in _UNITS:
            pending = _UNITS[word]
        elif word == "mười":
            group += 10
        elif word == "mươi":
            group, pending = group + pending * 10, 0
        elif word == "trăm":
            group, pending = group + pending * 100, 0
        elif word == "linh":
            continue
        elif word == "nghìn":
            block, group, pending = block + (group + pending) * 1000, 0, 0
        elif word == "triệu":
            block, group, pending = block + (group + pending) * 1_000_000, 0, 0
        elif word == "tỷ":
            total, block, group, pending = (total + block + group + pending) * 1_000_000_000, 0, 0, 0
        else:
            raise AssertionError(f"unexpected word {word!r} in {words!r}")
    return total + block + group + pending


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**12))
def test_any_integer_reads_without_digits_and_round_trips(n):
    spoken = number_to_words(n)
    assert not ASCII_DIGIT.search(spoken)
    assert _parse_vietnamese_number(spoken) == n
    # Northern spoken rules: no "một mươi", "mươi một/bốn/năm" (mốt, tư, lăm), "mười năm" (lăm)
    assert not re.search(r"một mươi|mươi (một|bốn|năm)\b|mười năm\b", spoken)
    written = f"{n:,}".replace(",", ".")
    assert normalize(written) == spoken


def test_small_numbers_round_trip_exhaustively():
    for n in range(10_000):
        assert _parse_vietnamese_number(number_to_words(n)) == n


_FRAGMENTS = st.sampled_from(
    [
        "ngày",
        "tháng",
        "thứ",
        "lúc",
        "từ",
        "đến",
        "số",
        "-",
        "–",
        "/",
        ":",
        "h",
        "%",
        ",",
        ".",
        " ",
        "UBND",
        "QĐ",
        "KH&CN",
        "I.",
        "a)",
        "\n",
        "- ",
        "năm",
        "phút",
        "m2",
        "đ",
        "0",
        "+84",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_FRAGMENTS, st.integers(0, 10**9).map(str)), max_size=12))
def test_random_announcement_text_reads_without_digits(parts):
    assert not ASCII_DIGIT.search(normalize("".join(parts)))
    assert not ASCII_DIGIT.search(normalize(" ".join(parts)))


# --- abbreviation files -------------------------------------------------------


def test_builtin_list_is_rich_and_cached():
    builtin = load_abbreviations()
    assert len(builtin) >= 40
    assert builtin["UBND"] == "Ủy ban nhân dân"
    builtin["UBND"] = "changed"  # a caller's copy must not leak into the cache
    assert load_abbreviations()["UBND"] == "Ủy ban nhân dân"


def test_operator_file_extends_and_overrides(tmp_path):
    extra = tmp_path / "abbreviations.yaml"
    extra.write_text('# xã Hà Nam\n"NVH": nhà văn hóa\n"VN": Việt Nam thân yêu\n', encoding="utf-8")
    abbreviations = load_abbreviations(extra)
    assert normalize("Họp tại NVH, VN", abbreviations) == "Họp tại nhà văn hóa, Việt Nam thân yêu"
    assert normalize("UBND", abbreviations) == "Ủy ban nhân dân"


def test_operator_office_reading_keeps_one_head_word(tmp_path):
    extra = tmp_path / "abbreviations.yaml"
    extra.write_text('"VHTTDL": Bộ Văn hóa, Thể thao và Du lịch\n', encoding="utf-8")
    abbreviations = load_abbreviations(extra)
    assert normalize("Sở VHTTDL", abbreviations) == "Sở Văn hóa, Thể thao và Du lịch"
    assert normalize("theo VHTTDL", abbreviations) == "theo Bộ Văn hóa, Thể thao và Du lịch"


def test_every_rule_has_a_label():
    assert {rule for rule, _, _ in PASSES} <= set(RULE_LABELS)


def test_explain_names_the_office_rules():
    rows = explain_rows(analyze("TT HĐND và Sở TC"))
    assert rows == [
        ("TT", "Thường trực", RULE_LABELS["standing"]),
        ("HĐND", "Hội đồng nhân dân", RULE_LABELS["abbreviation"]),
        ("Sở TC", "Sở Tài chính", RULE_LABELS["office"]),
    ]


def test_operator_expansion_with_digits_is_read_too(tmp_path):
    extra = tmp_path / "a.yaml"
    extra.write_text('"ĐHĐ": Đại hội Đảng lần thứ 14\n', encoding="utf-8")
    assert normalize("ĐHĐ", load_abbreviations(extra)) == "Đại hội Đảng lần thứ mười bốn"


def test_shipped_operator_example_is_valid():
    example = Path(__file__).resolve().parents[2] / "scripts_vi" / "abbreviations.yaml"
    entries = load_abbreviations(example)
    assert entries["NVH"] == "nhà văn hóa"


def test_empty_operator_file_is_fine(tmp_path):
    extra = tmp_path / "a.yaml"
    extra.write_text("# chưa có gì\n", encoding="utf-8")
    assert load_abbreviations(extra) == load_abbreviations()


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ('"NVH": nhà văn hóa\n"X": [1\n', 3),  # bad YAML: unclosed bracket, found at end of file
        ('"NVH": nhà văn hóa\n"X": 12\n', 2),  # a number, not text
        ('"NVH": nhà văn hóa\n"X":\n', 2),  # empty reading
        ('"NVH": nhà văn hóa\n"X": [a, b]\n', 2),  # a list
        ('"NVH": nhà văn hóa\nNO: không\n', 2),  # YAML reads NO as a boolean key
        ("- UBND\n", 1),  # a list, not pairs
    ],
)
def test_invalid_operator_file_names_path_and_line(tmp_path, content, line):
    extra = tmp_path / "abbreviations.yaml"
    extra.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as info:
        load_abbreviations(extra)
    message = str(info.value)
    assert str(extra) in message
    assert f"dòng {line}" in message
    assert "Tệp từ viết tắt" in message


def test_missing_operator_file(tmp_path):
    with pytest.raises(ValueError, match="Không tìm thấy"):
        load_abbreviations(tmp_path / "nope.yaml")


# --- the command ----------------------------------------------------------------


def test_cli_argument(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["normalize", "Ngày 21/4/2026, UBND xã thông báo"]) == 0
    out = capsys.readouterr().out
    assert out == f"Ngày hai mươi mốt tháng tư năm {Y2026}, Ủy ban nhân dân xã thông báo\n"


def test_cli_several_words_without_quotes(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["normalize", "lúc", "6h30"]) == 0
    assert capsys.readouterr().out == "lúc sáu giờ ba mươi phút\n"


@pytest.mark.parametrize("argv", [["normalize"], ["normalize", "-"]])
def test_cli_stdin(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO("I. MỤC ĐÍCH\n- Sở KH&CN 15%\n".encode())))
    assert main(argv) == 0
    assert capsys.readouterr().out == "một, MỤC ĐÍCH.\nSở Khoa học và Công nghệ mười lăm phần trăm.\n"


def test_cli_uses_operator_file_in_current_directory(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scripts_vi").mkdir()
    (tmp_path / "scripts_vi" / "abbreviations.yaml").write_text('"NVH": nhà văn hóa\n', encoding="utf-8")
    assert main(["normalize", "Họp tại NVH"]) == 0
    assert capsys.readouterr().out == "Họp tại nhà văn hóa\n"


def test_cli_explicit_abbreviations_option(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    extra = tmp_path / "khac.yaml"
    extra.write_text('"BQL": Ban quản lý\n', encoding="utf-8")
    assert main(["normalize", "--abbreviations", str(extra), "BQL chợ"]) == 0
    assert capsys.readouterr().out == "Ban quản lý chợ\n"


def test_cli_bad_operator_file(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scripts_vi").mkdir()
    bad = tmp_path / "scripts_vi" / "abbreviations.yaml"
    bad.write_text('"NVH": nhà văn hóa\n"X": 12\n', encoding="utf-8")
    assert main(["normalize", "Họp tại NVH"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("Lỗi: Tệp từ viết tắt")
    assert "scripts_vi/abbreviations.yaml" in captured.err and "dòng 2" in captured.err
    assert "Traceback" not in captured.err


def test_cli_missing_abbreviations_option_file(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["normalize", "--abbreviations", "khong-co.yaml", "abc"]) == 1
    assert "Không tìm thấy tệp từ viết tắt khong-co.yaml" in capsys.readouterr().err


def test_cli_stdin_not_utf8(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"\xc0\x80 \xff")))
    assert main(["normalize", "-"]) == 1
    assert "UTF-8" in capsys.readouterr().err

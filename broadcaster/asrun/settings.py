"""``report.yaml``: who issues the report to the Sở, and who signs it (beside ``schedule.yaml``).

Every field is optional; what is missing gets a default a commune can send as it is and
correct by hand (the number is left for the văn thư to fill, as Nghị định 30/2020/NĐ-CP
allows). Example::

    co_quan: "ỦY BAN NHÂN DÂN XÃ HÀ NAM"
    so_hieu: "   /BC-UBND"
    dia_danh: "Hà Nam"
    nguoi_ky: "Nguyễn Văn A"
    chuc_vu: "CHỦ TỊCH"
    noi_nhan:
      - "Sở Khoa học và Công nghệ (để báo cáo);"
      - "Lưu: VT."
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

REPORT_SETTINGS_FILENAME = "report.yaml"
#: the administrative level before the place's name ("XÃ HÀ NAM" → "Hà Nam")
_LEVEL = re.compile(r"\b(?:XÃ|PHƯỜNG|THỊ TRẤN|ĐẶC KHU)\s+", re.IGNORECASE)
_PROVINCIAL = "Sở Khoa học và Công nghệ (để báo cáo);"


class SettingsError(Exception):
    """``report.yaml`` cannot be used; the message is Vietnamese and says what to fix."""


@dataclass(frozen=True)
class ReportSettings:
    """The names printed on the administrative report."""

    #: the body above the issuer (optional, e.g. "UBND TỈNH …"); empty: not printed
    co_quan_chu_quan: str = ""
    co_quan: str = "ỦY BAN NHÂN DÂN XÃ"
    so_hieu: str = "   /BC-UBND"
    #: place in "…, ngày … tháng … năm …"; empty: taken from the issuer's name ("XÃ HÀ NAM" → "Hà Nam")
    dia_danh: str = ""
    #: "TM. ỦY BAN NHÂN DÂN"; empty: derived from the issuer
    tham_quyen: str = ""
    chuc_vu: str = "CHỦ TỊCH"
    nguoi_ky: str = ""
    noi_nhan: tuple[str, ...] = field(default=(_PROVINCIAL, "Lưu: VT."))

    @property
    def place(self) -> str:
        """Where the report is made, for the date line."""
        if self.dia_danh:
            return self.dia_danh
        name = " ".join(self.co_quan.split())
        m = _LEVEL.search(name)
        return name[m.end() :].title() if m else ""

    @property
    def issuer_lines(self) -> list[str]:
        """The issuer as printed top left: ``ỦY BAN NHÂN DÂN`` over ``XÃ HÀ NAM``."""
        name = " ".join(self.co_quan.split()).upper()
        m = _LEVEL.search(name)
        if m is None or m.start() == 0:
            return [name]
        return [name[: m.start()].strip(), name[m.start() :]]

    @property
    def issuer_in_text(self) -> str:
        """The issuer inside a sentence: ``ỦY BAN NHÂN DÂN XÃ HÀ NAM`` → ``Ủy ban nhân dân xã Hà Nam``."""
        name = " ".join(self.co_quan.split())
        if not name.isupper():
            return name
        m = _LEVEL.search(name)
        head, place = (name[: m.end()], name[m.end() :]) if m else (name, "")
        head = head.lower()
        return head[:1].upper() + head[1:] + place.title()

    @property
    def authority(self) -> str:
        """``TM. ỦY BAN NHÂN DÂN`` for a commune people's committee, unless given."""
        if self.tham_quyen:
            return self.tham_quyen
        if self.co_quan.upper().startswith(("ỦY BAN NHÂN DÂN", "UỶ BAN NHÂN DÂN", "UBND")):
            return "TM. ỦY BAN NHÂN DÂN"
        return ""


_NAMES = [f.name for f in fields(ReportSettings)]


def _text(path: Path, key: str, value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if value is None:
        return ""
    raise SettingsError(
        f"{path}: '{key}' phải là chữ, không phải {value!r}. Hãy đặt giá trị trong ngoặc kép, ví dụ {key}: \"…\"."
    )


def parse_settings(data: Any, path: Path) -> ReportSettings:
    """Settings from the parsed YAML; unknown keys and non-text values are refused in Vietnamese."""
    if data is None:
        return ReportSettings()
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: tệp phải là danh sách 'khóa: giá trị' (ví dụ co_quan: \"UBND XÃ …\").")
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _NAMES:
            close = difflib.get_close_matches(str(key), _NAMES, n=1)
            hint = f" Có phải ý bạn là '{close[0]}'?" if close else f" Các khóa dùng được: {', '.join(_NAMES)}."
            raise SettingsError(f"{path}: không hiểu khóa '{key}'.{hint}")
        if key == "noi_nhan":
            if isinstance(value, str) or not isinstance(value, list):
                raise SettingsError(f"{path}: 'noi_nhan' là danh sách, mỗi nơi nhận một dòng bắt đầu bằng '- '.")
            values[key] = tuple(t for t in (_text(path, key, v) for v in value) if t)
        else:
            text = _text(path, key, value)
            if text:
                values[key] = text
    return ReportSettings(**values)


def load_settings(schedule_path: Path) -> ReportSettings:
    """``report.yaml`` beside the schedule, or the defaults when there is none."""
    import yaml

    path = Path(schedule_path).parent / REPORT_SETTINGS_FILENAME
    if not path.is_file():
        return ReportSettings()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"không đọc được '{path}': {exc.strerror or exc}. Kiểm tra quyền đọc tệp.") from None
    except UnicodeDecodeError:
        raise SettingsError(f"'{path}' không phải văn bản UTF-8. Hãy lưu lại tệp với bảng mã UTF-8.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (dòng {mark.line + 1}, cột {mark.column + 1})" if mark is not None else ""
        raise SettingsError(
            f"'{path}' viết sai cú pháp YAML{where}. Kiểm tra dấu hai chấm, ngoặc kép và thụt lề bằng dấu cách."
        ) from None
    return parse_settings(data, path)

"""What an alert is called, what the operator should do about it, and where alerts are sent.

Kinds are fixed identifiers (English, used in code, the webhook's JSON and logs); their titles and
advice are Vietnamese because people read them on a phone in the commune office.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broadcaster.secretfile import read_secret_file

#: the SMTP password, when it is not in a file (``smtp_password_file``) or the config itself
SMTP_PASSWORD_ENV = "LOA_XA_SMTP_PASSWORD"

#: kind → Vietnamese title (the operator-facing name of the problem)
TITLES: dict[str, str] = {
    "not_heard": "Không nghe thấy",
    "dead_air": "Mất tiếng giữa chừng",
    "sound_card_gone": "Mất card âm thanh",
    "receiver_lost": "Cụm loa mất kết nối",
    "reload_refused": "Lịch sửa lỗi không được nạp",
    "voice_unavailable": "Không có giọng đọc",
    "disk_full": "Ổ đĩa sắp đầy",
    "power_failed": "Lệnh bật/tắt tăng âm lỗi",
    "icecast_down": "Mất kết nối Icecast",
    "monitor_failed": "Đầu nghe kiểm tra lỗi",
}

#: kind → what to do next (the last line of an e-mail)
ADVICE: dict[str, str] = {
    "not_heard": "Kiểm tra máy thu kiểm tra, tăng âm và dây loa; nghe thử bằng lệnh `broadcaster say`.",
    "dead_air": "Kiểm tra tăng âm, dây loa và nguồn điện; nếu chính tệp âm thanh có đoạn im lặng thì sửa tệp đó.",
    "sound_card_gone": "Kiểm tra dây USB/nguồn của card âm thanh rồi cắm lại; phần mềm tự phát tiếp khi card trở lại.",
    "receiver_lost": "Kiểm tra nguồn điện và mạng (Wi-Fi/4G) của cụm loa; khởi động lại cụm loa nếu cần.",
    "reload_refused": "Mở schedule.yaml, sửa lỗi được nêu rồi lưu lại; lịch cũ vẫn đang chạy.",
    "voice_unavailable": "Kiểm tra kết nối Internet (gTTS) hoặc cài espeak-ng; bản tin đã đọc sẵn vẫn phát được.",
    "disk_full": "Xoá bớt bản ghi cũ hoặc tệp âm thanh không dùng nữa.",
    "power_failed": "Kiểm tra rơ-le và bộ điều khiển tăng âm; bật tăng âm bằng tay nếu sắp có bản tin.",
    "icecast_down": "Kiểm tra dịch vụ Icecast (`systemctl status icecast2`) và mật khẩu nguồn.",
    "monitor_failed": "Kiểm tra dây line-in/micrô của đầu nghe kiểm tra và tên thiết bị ở 'monitor:' "
    "(`broadcaster devices`); bản tin vẫn phát, chỉ không kiểm tra được.",
}


def title_of(kind: str) -> str:
    """The Vietnamese title of ``kind`` (the kind itself for one this version does not know)."""
    return TITLES.get(kind, kind)


@dataclass(frozen=True)
class AlertConfig:
    """Where alerts go. With no webhook and no recipients the hub still keeps the active list.

    ``retry_delays`` are the waits before the 2nd, 3rd, … attempt of one delivery (so the
    default makes at most 4 attempts over ~36 s, then the channel gives up on that alert).
    """

    webhook_url: str | None = None
    email_to: list[str] = field(default_factory=list)
    email_from: str = "loa-xa@localhost"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_password_file: str | None = None
    repeat_minutes: float = 30.0
    station_name: str = "Loa xã"
    timeout_seconds: float = 5.0
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0)
    queue_size: int = 100

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> AlertConfig:
        """Build from the ``alerts:`` mapping of a config file; ValueError (Vietnamese) on bad input."""
        data = dict(data or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            valid = ", ".join(sorted(known))
            raise ValueError(f"mục cảnh báo không hiểu: {', '.join(unknown)} — các mục hợp lệ: {valid}")
        to = data.get("email_to") or []
        if isinstance(to, str):
            to = [to]
        data["email_to"] = [str(a) for a in to]
        if "retry_delays" in data:
            data["retry_delays"] = tuple(float(d) for d in data["retry_delays"])
        config = cls(**data)
        problems = config.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return config

    def problems(self) -> list[str]:
        """Vietnamese descriptions of what is wrong with this configuration (empty when usable)."""
        out: list[str] = []
        if self.webhook_url and not self.webhook_url.startswith(("http://", "https://")):
            out.append(f"webhook_url '{self.webhook_url}' phải bắt đầu bằng http:// hoặc https://")
        if self.email_to and not self.smtp_host:
            out.append("có email_to nhưng thiếu smtp_host — ghi tên máy chủ gửi thư (ví dụ smtp.gmail.com)")
        bad = [a for a in self.email_to if "@" not in a]
        if bad:
            out.append(f"địa chỉ thư không hợp lệ trong email_to: {', '.join(bad)}")
        if not 1 <= int(self.smtp_port) <= 65535:
            out.append(f"smtp_port {self.smtp_port} không hợp lệ (1–65535)")
        if self.repeat_minutes <= 0:
            out.append("repeat_minutes phải lớn hơn 0")
        return out

    @property
    def email_enabled(self) -> bool:
        return bool(self.email_to and self.smtp_host)


def smtp_password(config: AlertConfig) -> str | None:
    """The SMTP password: the config's own, else ``$LOA_XA_SMTP_PASSWORD``, else the 0600 file.

    Raises ValueError (Vietnamese) when the file is missing or readable by others — a password
    others can read is refused rather than used.
    """
    if config.smtp_password:
        return config.smtp_password
    env = os.environ.get(SMTP_PASSWORD_ENV)
    if env:
        return env
    if not config.smtp_password_file:
        return None
    path = Path(config.smtp_password_file).expanduser()
    value = read_secret_file(path)  # SecretFileError is a ValueError: unsafe, empty or unreadable
    if value is None:
        raise ValueError(f"không đọc được tệp mật khẩu SMTP {path}: chưa có tệp này")
    return value

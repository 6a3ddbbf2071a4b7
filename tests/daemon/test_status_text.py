"""`broadcaster status` as the operator reads it: alerts first, Vietnamese words, local times.

The daemon's own status (real process, real failure) is checked in test_daemon_playout.py;
here the rendering rules, on the JSON shape the daemon sends.
"""

from __future__ import annotations

import re

from broadcaster.commands.status import render


def _status(**over) -> dict:
    s = {
        "uptime_s": 3725.0,
        "pid": 4242,
        "schedule": "schedule.yaml",
        "alerts": [],
        "campaign": {
            "name": "Ngày Sáng tạo",
            "timezone": "Asia/Ho_Chi_Minh",
            "start": "2026-04-17",
            "end": "2026-04-26",
            "in_window": True,
        },
        "output": {"name": "pa_out (ALSA)", "kind": "sounddevice", "index": 3},
        "now_playing": None,
        "queue": [{"id": 7, "title": "Thông báo", "priority": "priority", "planned_at": None}],
        "next": [{"at": "2026-04-21T06:30:00+07:00", "slot": "sang", "priority": "normal", "items": ["script:vneid"]}],
        "today": {"played": 3, "failed": 1},
        "last_result": {
            "key": "sang@2026-04-21T06:30:00+07:00",
            "title": "sang",
            "status": "failed",
            "error": "Mất kết nối với thiết bị âm thanh",
            "seconds": 0.0,
            "ended_at": "2026-04-20T23:31:05+00:00",
        },
        "last_reload": {"ok": True, "at": "2026-04-20T23:00:00+00:00", "message": "đã nạp lại"},
        "engines": {
            "gtts": {"online": True, "reachable": False, "last_error": "không kết nối được", "retry_in": 42.4},
            "espeak": {"online": False, "reachable": True, "last_error": None, "retry_in": 0.0},
        },
        "adhoc_voice_rule": "Phát ngay: …",
    }
    s.update(over)
    return s


def test_alerts_come_right_after_the_header():
    lines = render(_status(alerts=["Chưa tìm thấy loa", "Lượt phát gần nhất KHÔNG phát được"]))
    assert lines[1:3] == ["CẢNH BÁO: Chưa tìm thấy loa", "CẢNH BÁO: Lượt phát gần nhất KHÔNG phát được"]
    assert not any(line.startswith("CẢNH BÁO") for line in render(_status()))


def test_words_the_operator_reads_are_vietnamese():
    text = "\n".join(render(_status()))
    for english in ("normal", "priority", "failed", "played", "emergency", "True", "False", "null", "{"):
        assert not re.search(rf"(?<![\w:]){re.escape(english)}(?!\w)", text), (english, text)
    assert "mức ưu tiên" in text and "mức thông thường" in text
    assert "Hôm nay: 3 đã phát, 1 lỗi" in text
    assert "gtts (trực tuyến): KHÔNG dùng được — không kết nối được (thử lại sau 42 giây)" in text
    assert "espeak (ngoại tuyến): hoạt động tốt" in text


def test_times_are_shown_in_the_campaign_timezone():
    text = "\n".join(render(_status()))
    assert "06:30:00 21/04/2026  sang" in text  # already +07:00
    assert "(xong lúc 06:31 21/04)" in text  # 23:31 UTC the day before
    assert "Lần nạp lịch gần nhất (06:00:00 21/04/2026)" in text
    assert "(17/04/2026 → 26/04/2026)" in text

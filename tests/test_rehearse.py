"""``broadcaster rehearse`` and ``broadcaster render`` end to end, offline, with real espeak-ng."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import requests
import responses

from broadcaster.cli import main
from broadcaster.speech.audio import RATE, TARGET_LUFS, decode_file, measure_lufs
from broadcaster.speech.engines import EspeakEngine

ROOT = Path(__file__).resolve().parent.parent
GTTS_URL = re.compile(r"https://translate\.google\.[a-z.]+/_/TranslateWebserverUi/data/batchexecute")

SCHEDULE = """\
campaign:
  name: "Thử nghiệm"
  start: 2026-04-17
  end: 2026-04-26
defaults:
  chime: audio/chime.wav
  repeat: 2
  gap_seconds: 1
  voice: [gtts, espeak]
slots:
  - name: "Buổi sáng"
    at: "06:30"
    play:
      - script: mo-dau
      - text: "Xin trân trọng cảm ơn bà con đã lắng nghe."
  - name: dac-biet
    at: ["19:00"]
    dates: [2026-04-21]
    repeat: 1
    play:
      - text: "Hôm nay là Ngày Sáng tạo và Đổi mới sáng tạo thế giới."
  - name: tat
    at: "08:00"
    enabled: false
    play:
      - text: "Buổi này đang tắt."
"""


@pytest.fixture
def site(tmp_path):
    """A temp copy of a small schedule with its scripts and chime."""
    (tmp_path / "scripts_vi").mkdir()
    shutil.copy(ROOT / "scripts_vi" / "mo-dau.txt", tmp_path / "scripts_vi")
    (tmp_path / "audio").mkdir()
    shutil.copy(ROOT / "audio" / "chime.wav", tmp_path / "audio")
    path = tmp_path / "schedule.yaml"
    path.write_text(SCHEDULE, encoding="utf-8")
    return path


@pytest.fixture
def espeak_calls(monkeypatch):
    calls = []
    real = EspeakEngine.synthesize

    def counting(self, text, out_path, timeout=None):
        calls.append(text)
        return real(self, text, out_path, timeout)

    monkeypatch.setattr(EspeakEngine, "synthesize", counting)
    return calls


def test_rehearse_offline_writes_what_would_air(site, capsys):
    assert main(["rehearse", "--date", "2026-04-21", "--offline", "--schedule", str(site)]) == 0
    out_dir = site.parent / "audio" / "rehearsal" / "2026-04-21"
    assert sorted(p.name for p in out_dir.iterdir()) == ["0630-buoi-sang.wav", "1900-dac-biet.wav"]
    chime = decode_file(site.parent / "audio" / "chime.wav")[: int(1.5 * RATE)]
    for wav in out_dir.iterdir():
        samples = decode_file(wav)
        assert len(samples) / RATE > 3
        assert measure_lufs(samples) == pytest.approx(TARGET_LUFS, abs=1.0)
        assert np.max(np.abs(samples)) < 1.0
        head = samples[: len(chime)]
        assert np.dot(head, chime) / (np.linalg.norm(head) * np.linalg.norm(chime)) > 0.99
    table = capsys.readouterr().out
    assert "06:30" in table and "Buổi sáng" in table and "espeak" in table


def test_rehearse_custom_out_and_day_without_special(site, tmp_path):
    out = tmp_path / "nghe-thu"
    assert main(["rehearse", "--date", "20/04/2026", "--offline", "--out", str(out), "--schedule", str(site)]) == 0
    assert [p.name for p in out.iterdir()] == ["0630-buoi-sang.wav"]


def test_rehearse_outside_campaign_or_bad_date(site, capsys):
    assert main(["rehearse", "--date", "2026-05-01", "--offline", "--schedule", str(site)]) == 1
    assert "nằm ngoài chiến dịch" in capsys.readouterr().err
    assert main(["rehearse", "--date", "2026-02-30", "--schedule", str(site)]) == 1
    assert "không hợp lệ" in capsys.readouterr().err


def test_rehearse_day_without_broadcasts(site, capsys):
    text = SCHEDULE.replace(
        '  - name: "Buổi sáng"\n    at: "06:30"\n', '  - name: "Buổi sáng"\n    at: "06:30"\n    days: [mon]\n'
    )
    site.write_text(text, encoding="utf-8")
    assert main(["rehearse", "--date", "2026-04-22", "--offline", "--schedule", str(site)]) == 0  # a Wednesday
    assert "không có buổi phát nào" in capsys.readouterr().out


def test_invalid_schedule_reports_lines(site, capsys):
    site.write_text(SCHEDULE.replace("  repeat: 2\n", "  repeat: hai\n"), encoding="utf-8")
    assert main(["render", "--offline", "--schedule", str(site)]) == 1
    err = capsys.readouterr().err
    assert re.search(r"schedule\.yaml:\d+:\d+: ", err)
    assert main(["rehearse", "--date", "2026-04-21", "--schedule", str(site)]) == 1


def test_render_twice_second_run_from_cache(site, espeak_calls, capsys):
    assert main(["render", "--offline", "--schedule", str(site)]) == 0
    first = capsys.readouterr()
    assert len(espeak_calls) == 4  # 1 script + 3 texts (disabled slot too), each once
    assert "4 bài mới đọc" in first.out and "Chế độ ngoại tuyến" in first.err
    cache = site.parent / "audio" / "cache"
    entries = sorted(cache.rglob("*.wav"))
    assert len(entries) == 4

    assert main(["render", "--offline", "--schedule", str(site)]) == 0
    second = capsys.readouterr()
    assert len(espeak_calls) == 4  # no synthesis at all
    assert "0 bài mới đọc, 4 bài lấy từ bộ nhớ đệm" in second.out
    assert sorted(cache.rglob("*.wav")) == entries


@responses.activate
def test_render_says_when_online_voice_is_unreachable(site, capsys):
    responses.add(responses.POST, GTTS_URL, body=requests.exceptions.ConnectionError("no internet"))
    assert main(["render", "--schedule", str(site)]) == 0
    err = capsys.readouterr().err
    assert "Không kết nối được giọng đọc trực tuyến (gtts)" in err
    assert "espeak" in err
    assert len(responses.calls) <= 3  # breaker: one failed attempt (with retries), not one per item

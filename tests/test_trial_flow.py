"""The operator trial of issue 14, end to end, as a new commune officer would do it from the README.

A new 7-day food-safety campaign with three notices of their own; ``check`` with several mistakes
at once; a practice run without a sound card (``--output wav:``) with a scheduled broadcast, an
emergency cut-in, a ``stop``; then ``log`` and ``report`` (text, CSV) that agree with each other.
"""

from __future__ import annotations

import csv
import json
import subprocess
import time
from datetime import timedelta

import pytest
import soundfile as sf

from tests.support.harness import BROADCASTER, Daemon, local_now

pytestmark = pytest.mark.slow

NOTICES = {
    "attp-huong-dan": "Kính thưa bà con, hưởng ứng Tháng hành động vì an toàn thực phẩm, đề nghị bà con "
    "chọn mua thực phẩm có nguồn gốc rõ ràng, ăn chín uống sôi.",
    "attp-bep-an": "Các bếp ăn tập thể, quán ăn trên địa bàn xã chuẩn bị hồ sơ để đoàn kiểm tra "
    "liên ngành làm việc từ ngày 2/12.",
    "attp-ngo-doc": "Khi có dấu hiệu ngộ độc thực phẩm, bà con gọi ngay trạm y tế xã hoặc số 115.",
}


def _schedule(start, end, slot_at, *, mistakes: bool = False) -> str:
    """The README's example, filled in as an officer would (optionally with the trial's mistakes)."""
    at = slot_at.strftime("%H:%M:%S")
    lines = [
        "# Tháng hành động vì an toàn thực phẩm",
        f'campaign: {{name: "Tháng hành động vì an toàn thực phẩm", start: {start}, end: {end}, '
        "timezone: Asia/Ho_Chi_Minh}",
        'policy:   {earliest: "00:00", latest: "23:59:59", max_session_minutes: 45}',
        "defaults: {chime: audio/chime.wav, repeat: 1, gap_seconds: 1, voice: [espeak]}",
        "output:   {device: null, grace_minutes: 1}",
        "slots:",
        "  - name: sang",
        f'    at: "{at}"',
        "    play:",
        "      - script: attp-huong-dan",
        "      - script: attp-bep-an",
        "      - script: attp-ngo-doc",
    ]
    if mistakes:
        lines += [
            "  - name: chieu",
            '    at: "25:70"',  # an impossible time
            "    play:",
            "\t  - script: attp-huong-dan",  # a Tab
            "  - name: toi",
            '    at: "19:00"',
            f"    dates: [{end + timedelta(days=3)}]",  # outside the campaign
            "    play:",
            "      - script: attp-huong-dn",  # misspelled
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def commune(tmp_path):
    from tests.support.harness import REPO

    (tmp_path / "scripts_vi").mkdir()
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "chime.wav").write_bytes((REPO / "audio" / "chime.wav").read_bytes())
    for slug, text in NOTICES.items():
        (tmp_path / "scripts_vi" / f"{slug}.txt").write_text(text + "\n", encoding="utf-8")
    return tmp_path


def _cli(root, *args, timeout=60):
    return subprocess.run(
        [*BROADCASTER, *args, "--schedule", str(root / "schedule.yaml")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_new_campaign_check_practice_run_emergency_stop_and_report(commune):
    today = local_now().date()
    start, end = today - timedelta(days=1), today + timedelta(days=5)
    path = commune / "schedule.yaml"

    # 1. check with several mistakes at once: every one of them, with its line
    path.write_text(_schedule(start, end, local_now(), mistakes=True), encoding="utf-8")
    r = _cli(commune, "check")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    for line_no, words in ((16, "Tab"), (14, "25:70"), (19, ""), (21, "attp-huong-dn")):
        assert any(f"schedule.yaml:{line_no}:" in ln and words in ln for ln in lines), (line_no, r.stderr)

    # 2. the corrected file; a practice run into WAV files, in real time
    slot_at = local_now() + timedelta(seconds=12)
    path.write_text(_schedule(start, end, slot_at), encoding="utf-8")
    r = _cli(commune, "check")
    assert r.returncode == 0, r.stderr
    out = commune / "tap"
    d = Daemon(_Project(commune), {}, output=f"wav:{out}").start()
    try:
        d.wait_for("BẮT ĐẦU", timeout=40)  # logged when the worker prepares it, 3 s ahead of the planned time
        time.sleep(5.0)
        status = json.loads(d.cli("status", "--json").stdout)
        assert status["now_playing"] and status["now_playing"]["slot"] == "sang", "a practice output is on air"
        r = d.cli("say", "--priority", "emergency", "Khẩn cấp: kiểm tra thử hệ thống cảnh báo.")
        assert r.returncode == 0 and "KHẨN CẤP" in r.stdout
        d.wait_for("KẾT THÚC adhoc:", timeout=60)
        d.wait_for("BẮT ĐẦU", timeout=30, start=len(d.lines) - 5)  # the cut broadcast replays
        time.sleep(1.5)
        r = d.cli("stop")
        assert r.returncode == 0, r.stderr
        time.sleep(1.0)
    finally:
        assert d.terminate() == 0
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) >= 3
    assert all(sf.info(w).duration < 60 for w in wavs)

    # 3. log and report agree, under the same names, in text and CSV
    day = today.strftime("%d/%m/%Y")
    log = _cli(commune, "log", "--date", day)
    assert log.returncode == 0, log.stderr
    rows = json.loads(_cli(commune, "log", "--date", day, "--json").stdout)
    statuses = sorted(r["status"] for r in rows)
    assert statuses.count("interrupted") == 2 and statuses.count("played") == 1, statuses
    assert "2 buổi phát: 1 đã phát, 1 bị ngắt" in log.stdout  # the replayed broadcast counts once
    report = _cli(commune, "report", "--from", day, "--to", day, "--csv", str(commune / "bc.csv"))
    assert report.returncode == 0, report.stderr
    # the broadcast the operator stopped is counted as cut, not as a failure — as the log says
    assert "Bị ngắt giữa chừng (không phát lại): 1" in report.stdout
    assert "Lỗi, không phát được: 0" in report.stdout
    assert "1 đã phát, 1 bị ngắt" in report.stdout
    with open(commune / "bc.csv", encoding="utf-8-sig") as fh:
        table = list(csv.DictReader(fh))
    assert table and str(today) in {row.get(next(iter(row))) for row in table}  # machine dates: ISO
    for line in log.stdout.splitlines():
        assert len(line) <= 80, f"log line wider than 80 columns: {line!r}"


class _Project:
    """The harness's Daemon needs only a root and a schedule path."""

    def __init__(self, root) -> None:
        self.root = root
        self.schedule_path = root / "schedule.yaml"

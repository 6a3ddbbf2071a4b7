"""``say``/``play`` with no daemon running: render and play here, say so, and log it."""

from __future__ import annotations

import pytest
import soundfile as sf

from tests.support.harness import Project

pytestmark = pytest.mark.slow  # a CLI process plays in real time


def test_say_without_daemon_plays_directly_and_logs(tmp_path):
    project = Project(tmp_path)
    project.save()
    out = tmp_path / "out"
    r = project.cli("say", "Kính thưa bà con, thông báo khẩn.", "--priority", "priority", "--output", f"wav:{out}")
    assert r.returncode == 0, r.stderr
    assert "Không thấy phần mềm phát thanh đang chạy" in r.stderr and "Đã phát xong" in r.stdout
    (wav,) = out.glob("*.wav")
    info = sf.info(wav)
    assert info.duration > 2.0
    (row,) = project.asrun_rows()
    assert (row["source"], row["priority"], row["status"]) == ("adhoc", "priority", "played")
    assert "espeak" in row["engines"]


def test_play_refuses_paths_outside_the_project_and_unknown_scripts(tmp_path):
    project = Project(tmp_path)
    project.save()
    r = project.cli("play", "/etc/passwd.wav", "--output", f"wav:{tmp_path / 'out'}")
    assert r.returncode == 1 and "audio/ hoặc scripts_vi/" in r.stderr and "Traceback" not in r.stderr
    r = project.cli("play", "khong-co-bai-nay", "--output", f"wav:{tmp_path / 'out'}")
    assert r.returncode == 1 and "Không có bài đọc" in r.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    r = project.cli("play", "thu", "--no-chime", "--output", f"wav:{tmp_path / 'out'}")
    assert r.returncode == 0, r.stderr

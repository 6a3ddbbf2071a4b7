"""Audio files an operator brings (trial items 2 and 8): probed before anything airs; phone formats decode."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from broadcaster import audiofile
from tests.support.harness import Daemon, Project

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="FFmpeg is installed by scripts/setup.sh")


def _tone(path, seconds=1.0, rate=44100, hz=440.0):
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate)
    return path


def _phone_recording(tmp_path, suffix: str, codec: list[str]):
    wav = _tone(tmp_path / "src.wav")
    out = tmp_path / f"ghi-am{suffix}"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), *codec, str(out)], check=True)
    return out


@pytest.mark.parametrize(
    "content, cause",
    [
        (b"day la mot tep van ban, khong phai am thanh\n" * 20, "không phải âm thanh"),
        (b"", "trống"),
        (b"ID3\x03\x00\x00\x00" + bytes(range(256)) * 8, "không phải âm thanh"),
    ],
)
def test_a_file_that_is_not_audio_is_refused_with_its_real_cause(tmp_path, content, cause):
    bad = tmp_path / "x.mp3"
    bad.write_bytes(content)
    with pytest.raises(audiofile.AudioFileError) as refused:
        audiofile.probe(bad)
    assert cause in str(refused.value) and "x.mp3" in str(refused.value)
    assert "không tồn tại" not in str(refused.value) and "Không tìm thấy" not in str(refused.value)


def test_a_missing_file_and_a_folder_are_named_as_such(tmp_path):
    with pytest.raises(audiofile.AudioFileError, match="Không tìm thấy"):
        audiofile.probe(tmp_path / "khong-co.wav")
    (tmp_path / "thu-muc.wav").mkdir()
    with pytest.raises(audiofile.AudioFileError, match="không phải là một tệp"):
        audiofile.probe(tmp_path / "thu-muc.wav")


@needs_ffmpeg
@pytest.mark.parametrize(
    "suffix, codec",
    [
        (".m4a", ["-c:a", "aac", "-b:a", "64k"]),
        (".ogg", ["-c:a", "libopus"]),
        (".amr", ["-ar", "8000", "-ac", "1", "-c:a", "libopencore_amrnb"]),
    ],
)
def test_phone_formats_decode_to_the_recorded_sound(tmp_path, suffix, codec):
    try:
        path = _phone_recording(tmp_path, suffix, codec)
    except subprocess.CalledProcessError:
        pytest.skip(f"this FFmpeg build has no encoder for {suffix}")
    info = audiofile.probe(path)
    assert 0.9 <= info.seconds <= 1.2
    samples = audiofile.decode(path, 48000)
    spectrum = np.abs(np.fft.rfft(samples[: 48000 // 2]))
    peak_hz = np.argmax(spectrum) * 48000 / (2 * spectrum.size - 2)
    assert abs(peak_hz - 440) < 15, f"decoded tone at {peak_hz:.0f} Hz"


@pytest.mark.slow
def test_play_refuses_a_text_file_named_mp3_before_the_chime_directly_and_through_the_daemon(tmp_path):
    project = Project(tmp_path)
    project.save()
    (tmp_path / "audio" / "x.mp3").write_text("không phải âm thanh\n" * 50)
    out = tmp_path / "out"
    r = project.cli("play", "audio/x.mp3", "--output", f"wav:{out}")
    assert r.returncode == 1 and "không phải âm thanh" in r.stderr and "Traceback" not in r.stderr
    assert "amply" not in r.stderr  # the cause is the file, not the loudspeaker
    assert not out.exists() or not list(out.iterdir()), "something reached the output"
    assert project.asrun_rows() == []
    d = Daemon(project, {}, output=f"wav:{out}").start()
    try:
        code, answer = d.api("POST", "/api/announcements", {"audio": "audio/x.mp3"})
        assert code == 400 and "không phải âm thanh" in answer["error"]
        r = d.cli("play", "audio/x.mp3")
        assert r.returncode == 1 and "không phải âm thanh" in r.stderr and "Đang phát" not in r.stdout
    finally:
        assert d.terminate() == 0
    assert not list(out.glob("*.wav")), "the chime went out for a file that cannot air"
    assert project.asrun_rows() == []


@needs_ffmpeg
@pytest.mark.slow
def test_a_phone_recording_m4a_airs(tmp_path):
    project = Project(tmp_path)
    project.save()
    m4a = _phone_recording(tmp_path, ".m4a", ["-c:a", "aac", "-b:a", "64k"])
    shutil.move(m4a, tmp_path / "audio" / "ghi-am.m4a")
    out = tmp_path / "out"
    r = project.cli("play", "audio/ghi-am.m4a", "--no-chime", "--output", f"wav:{out}")
    assert r.returncode == 0, r.stderr
    [wav] = list(out.glob("*.wav"))
    data, rate = sf.read(wav, dtype="float32", always_2d=True)
    loud = np.abs(data[:, 0]) > 0.01
    assert 0.8 <= loud.sum() / rate <= 1.3, "the recording's second of tone did not air"
    [row] = project.asrun_rows()
    assert row["status"] == "played"

"""Audio files an operator brings: probe them before anything airs, decode what phones record.

libsndfile (``soundfile``) reads WAV, FLAC, OGG/Vorbis, Opus-in-OGG and MP3 quickly and without
a subprocess. What phones record — AAC in M4A/MP4/3GP, AMR, Opus in WebM — goes through FFmpeg,
by way of ``pydub`` (on the product card for exactly this). :func:`probe` opens the file and reads
its first samples, so a text file named ``.mp3``, an empty file or a codec nothing here decodes
is refused with the real cause *before* the chime goes out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where samples are made: ``play`` only needs the suffixes
    import numpy as np

#: suffixes ``play`` and the console accept (decoded by libsndfile or FFmpeg)
SNDFILE_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3"})
FFMPEG_SUFFIXES = frozenset({".m4a", ".mp4", ".aac", ".amr", ".3gp", ".3ga", ".webm", ".wma"})
AUDIO_SUFFIXES = SNDFILE_SUFFIXES | FFMPEG_SUFFIXES
SUFFIXES_TEXT = "WAV, MP3, OGG/Opus, FLAC, M4A/AAC, AMR, 3GP, WebM"

#: a probe decodes this much; enough to see real samples, cheap for a 1-hour file
_PROBE_SECONDS = 2.0


class AudioFileError(Exception):
    """The file cannot be aired; ``str()`` names the real cause in Vietnamese and what to do."""


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    seconds: float
    rate: int
    channels: int
    decoder: str  # "libsndfile" | "ffmpeg"


def ffmpeg_path() -> str | None:
    return shutil.which("ffmpeg")


def probe(path: Path) -> AudioInfo:
    """Check that ``path`` is audio this station can decode; raise :class:`AudioFileError` if not."""
    path = Path(path)
    _check_plain_file(path)
    suffix = path.suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        raise AudioFileError(f"'{path.name}' không phải định dạng âm thanh phát được. Chỉ nhận: {SUFFIXES_TEXT}.")
    info = _probe_sndfile(path)
    if info is None:
        info = _probe_ffmpeg(path)
    if info.seconds <= 0.05:
        raise AudioFileError(f"Tệp '{path.name}' không có âm thanh (độ dài {info.seconds:.2f} giây).")
    return info


def decode(path: Path, rate: int) -> np.ndarray:
    """Mono float32 samples at ``rate``; raises :class:`AudioFileError`."""
    from broadcaster.speech.audio import AudioError, decode_file, resample

    path = Path(path)
    _check_plain_file(path)
    if _probe_sndfile(path) is not None:
        try:
            return decode_file(path, rate)
        except AudioError as exc:
            raise AudioFileError(str(exc)) from None
    samples, file_rate = _decode_ffmpeg(path)
    return resample(samples, file_rate, rate)


def _check_plain_file(path: Path) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise AudioFileError(f"Không tìm thấy tệp âm thanh '{path}'.") from None
    except OSError as exc:
        raise AudioFileError(f"Không mở được tệp âm thanh '{path}': {exc.strerror or exc}.") from None
    if not path.is_file():
        raise AudioFileError(f"'{path}' không phải là một tệp.")
    if st.st_size == 0:
        raise AudioFileError(f"Tệp '{path.name}' trống (0 byte): hãy chép lại tệp ghi âm.")


def _probe_sndfile(path: Path) -> AudioInfo | None:
    """Info when libsndfile reads real samples from the file; None when it cannot."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            f.read(min(f.frames, int(_PROBE_SECONDS * f.samplerate)) or 1, dtype="float32")
            return AudioInfo(path, f.frames / f.samplerate, f.samplerate, f.channels, "libsndfile")
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError):
        return None


def _probe_ffmpeg(path: Path) -> AudioInfo:
    """Decode the first seconds with FFmpeg: proves the file holds audio it can read."""
    samples, rate = _decode_ffmpeg(path, seconds=_PROBE_SECONDS)
    seconds = _ffmpeg_duration(path)
    return AudioInfo(path, seconds if seconds is not None else samples.size / rate, rate, 1, "ffmpeg")


def _decode_ffmpeg(path: Path, seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Decode through FFmpeg with pydub (all of it, or the first ``seconds``)."""
    if ffmpeg_path() is None:
        raise AudioFileError(
            f"Không đọc được '{path.name}': tệp này cần FFmpeg để giải mã mà máy chưa cài. "
            "Chạy lại 'bash scripts/setup.sh' (cài FFmpeg), hoặc chuyển tệp sang MP3/WAV rồi phát lại."
        )
    import numpy as np
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

    try:
        segment = AudioSegment.from_file(str(path), duration=seconds).set_channels(1)
    except CouldntDecodeError as exc:
        raise AudioFileError(_not_audio_message(path, str(exc))) from None
    except (OSError, IndexError, ValueError) as exc:  # pydub's own parsing of FFmpeg's output
        raise AudioFileError(_not_audio_message(path, str(exc))) from None
    raw = np.asarray(segment.get_array_of_samples(), dtype=np.float32)
    if raw.size == 0:
        raise AudioFileError(_not_audio_message(path, "no samples"))
    return raw / float(1 << (8 * segment.sample_width - 1)), int(segment.frame_rate)


def _ffmpeg_duration(path: Path) -> float | None:
    """Duration from the container (pydub's mediainfo runs ffprobe); None when unknown."""
    if shutil.which("ffprobe") is None:
        return None
    try:
        from pydub.utils import mediainfo

        return float(mediainfo(str(path)).get("duration") or 0) or None
    except (ValueError, OSError, subprocess.SubprocessError):
        return None


def _looks_like_text(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError:
        return False
    try:
        return b"\x00" not in head and bool(head.decode("utf-8").strip())
    except UnicodeDecodeError:
        return False


def _not_audio_message(path: Path, detail: str) -> str:
    lowered = detail.lower()
    if _looks_like_text(path):
        cause = "nội dung tệp là chữ (văn bản), không phải âm thanh — có thể tệp bị đổi tên"
    elif "decoder" in lowered and "not found" in lowered:
        cause = "máy chưa có bộ giải mã cho kiểu âm thanh này"
    else:
        cause = "tệp hỏng hoặc nội dung không phải âm thanh"
    return (
        f"Không phát được '{path.name}': {cause}. Mở thử tệp trên máy tính hoặc điện thoại; "
        "nếu nghe được, hãy chuyển sang MP3 hoặc WAV rồi phát lại."
    )

"""Text-to-speech engines behind one small interface.

* ``gtts`` — Google Translate's voice through gTTS: natural Vietnamese, needs the internet.
* ``espeak`` — espeak-ng: robotic but always available offline (the fallback).

An engine writes one audio file for one (already normalized) text, atomically; the renderer
(:mod:`broadcaster.speech.render`) decides the order, the fallback and the cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from broadcaster.fsutil import temp_beside


class EngineError(Exception):
    """A synthesis failure. ``transient`` = worth retrying later (network, server busy)."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


@runtime_checkable
class Engine(Protocol):
    name: str
    online: bool

    def options(self) -> dict[str, object]:
        """Every option that changes the sound (part of the cache key)."""
        ...

    def synthesize(self, text: str, out_path: Path, timeout: float | None = None) -> None:
        """Write speech for ``text`` to ``out_path`` atomically; raise :class:`EngineError`."""
        ...


class _Mp3Source(Protocol):
    """What synthesize() uses of a ``gtts.gTTS`` object (gTTS ships no type hints)."""

    def write_to_fp(self, fp: BinaryIO) -> None: ...


def _discard(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


class GttsEngine:
    """Google Translate TTS via gTTS; retries transient failures with backoff."""

    name = "gtts"
    online = True
    suffix = ".mp3"

    def __init__(
        self, lang: str = "vi", tld: str = "com", timeout: float = 10.0, retries: int = 2, backoff: float = 0.5
    ):
        self.lang = lang
        self.tld = tld
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    def options(self) -> dict[str, object]:
        return {"lang": self.lang, "tld": self.tld, "slow": False, "pre": "tone_marks,end_of_line"}

    def _tts(self, text: str, timeout: float) -> _Mp3Source:
        from gtts import gTTS
        from gtts.tokenizer import pre_processors

        # gTTS's default abbreviation/word substitutions are English; our normalizer did the rest
        tts: _Mp3Source = gTTS(
            text,
            lang=self.lang,
            tld=self.tld,
            lang_check=False,  # checking fetches a language list over the network each time
            pre_processor_funcs=[pre_processors.tone_marks, pre_processors.end_of_line],
            timeout=timeout,
        )
        return tts

    @staticmethod
    def _classify(exc: Exception) -> EngineError:
        from gtts.tts import gTTSError

        if isinstance(exc, gTTSError):
            response = getattr(exc, "rsp", None)
            status = getattr(response, "status_code", None)
            if status is None:
                import requests

                if isinstance(exc.__context__, requests.exceptions.Timeout):
                    return EngineError(
                        "máy chủ giọng đọc Google (gTTS) không trả lời kịp (hết thời gian chờ)", transient=True
                    )
                return EngineError(
                    "không kết nối được máy chủ giọng đọc Google (gTTS) — kiểm tra kết nối Internet", transient=True
                )
            transient = status >= 500 or status == 429
            hint = (
                "máy chủ đang bận, sẽ thử lại sau" if transient else "có thể Google đã đổi cách truy cập; cập nhật gTTS"
            )
            return EngineError(f"máy chủ giọng đọc Google (gTTS) trả lỗi HTTP {status} ({hint})", transient=transient)
        return EngineError(f"giọng đọc Google (gTTS) lỗi: {exc}", transient=True)

    def synthesize(self, text: str, out_path: Path, timeout: float | None = None) -> None:
        """Fetch MP3 for ``text``; ``timeout`` bounds the whole attempt including retries."""
        if not text.strip():
            raise EngineError("văn bản trống, không có gì để đọc")
        out_path = Path(out_path)
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            tmp = temp_beside(out_path)
            try:
                tts = self._tts(text, timeout=max(0.5, remaining))
                with open(tmp, "wb") as fh:
                    tts.write_to_fp(fh)
                    fh.flush()
                    os.fsync(fh.fileno())
                if tmp.stat().st_size == 0:
                    raise EngineError("máy chủ giọng đọc Google không trả âm thanh")
                os.replace(tmp, out_path)
                return
            except EngineError:
                _discard(tmp)
                raise
            except Exception as exc:  # noqa: BLE001 - gTTSError, AssertionError (nothing to say), requests errors
                _discard(tmp)
                if isinstance(exc, AssertionError):
                    raise EngineError(f"gTTS không đọc được văn bản này: {exc}") from None
                error = self._classify(exc)
                attempt += 1
                wait = self.backoff * (2 ** (attempt - 1))
                if not error.transient or attempt > self.retries or time.monotonic() + wait >= deadline:
                    raise error from None
                time.sleep(wait)
            except BaseException:
                _discard(tmp)
                raise


def _espeak_binary() -> str | None:
    return shutil.which("espeak-ng") or shutil.which("espeak")


class EspeakEngine:
    """espeak-ng, offline. Amplitude is lowered from the default so the raw output never clips."""

    name = "espeak"
    online = False
    suffix = ".wav"

    def __init__(self, voice: str = "vi", amplitude: int = 60, speed: int = 150):
        self.voice = voice
        self.amplitude = amplitude
        # a little slower than espeak's 175 wpm: easier to follow from an outdoor loudspeaker
        self.speed = speed

    def options(self) -> dict[str, object]:
        return {"voice": self.voice, "amplitude": self.amplitude, "speed": self.speed}

    def synthesize(self, text: str, out_path: Path, timeout: float | None = None) -> None:
        if not text.strip():
            raise EngineError("văn bản trống, không có gì để đọc")
        binary = _espeak_binary()
        if binary is None:
            raise EngineError(
                "chưa cài espeak-ng (giọng đọc ngoại tuyến). Cài bằng lệnh: sudo apt-get install espeak-ng"
            )
        out_path = Path(out_path)
        tmp = temp_beside(out_path)
        command = [
            binary,
            "-v",
            self.voice,
            "-a",
            str(self.amplitude),
            "-s",
            str(self.speed),
            "-b",
            "1",
            "-w",
            str(tmp),
            "--stdin",
        ]
        try:
            result = subprocess.run(
                command, input=text.encode("utf-8"), capture_output=True, timeout=timeout, check=False
            )
            if result.returncode != 0 or tmp.stat().st_size <= 44:
                detail = result.stderr.decode("utf-8", "replace").strip() or f"mã lỗi {result.returncode}"
                raise EngineError(f"espeak-ng không tạo được âm thanh (giọng '{self.voice}'): {detail}")
            os.replace(tmp, out_path)
        except subprocess.TimeoutExpired:
            raise EngineError("espeak-ng chạy quá lâu, đã dừng", transient=True) from None
        finally:
            _discard(tmp)


def make_engine(spec: str) -> Engine:
    """Build an engine from a voice spec: ``gtts``, ``gtts:vi``, ``espeak``, ``espeak:vi-vn-x-south``."""
    name, _, arg = str(spec).strip().partition(":")
    name = name.strip().lower()
    arg = arg.strip()
    if name == "gtts":
        return GttsEngine(lang=arg or "vi")
    if name in ("espeak", "espeak-ng"):
        return EspeakEngine(voice=arg or "vi")
    raise ValueError(
        f"không biết giọng đọc '{spec}'. Dùng 'gtts' (trực tuyến, Google), 'gtts:vi', "
        f"'espeak' (ngoại tuyến) hoặc 'espeak:vi-vn-x-south'"
    )

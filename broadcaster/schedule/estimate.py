"""Rough airtime estimates: how long an item, a session or a broadcast will take on air.

Used by ``check`` (the session-length policy), ``plan`` (the airtime column) and anyone
who needs a duration before the audio is rendered. Speech is estimated from the text at
about 3.5 syllables a second (Vietnamese syllables are written as separate words); audio
files are measured from their headers.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from broadcaster.schedule.values import Broadcast, Item, ItemKind, has_relay

#: a steady TTS reading speed for Vietnamese (gTTS and espeak-ng are both close to it)
SYLLABLES_PER_SECOND = 3.5
#: engines pause briefly at sentence and clause breaks
PAUSE_SECONDS = 0.3
#: mirror ``broadcaster.programme`` (not imported: it pulls in numpy)
ITEM_PAUSE_SECONDS = 0.5
TAIL_SECONDS = 0.8

_TOKEN = re.compile(r"\w+")
_PAUSE = re.compile(r"[.!?;:,…\n]+")


def estimate_text_seconds(text: str) -> float:
    """Estimated reading time of Vietnamese ``text`` in seconds."""
    syllables = 0
    for token in _TOKEN.findall(text):
        if token.isdigit():
            # "21" → "hai mươi mốt", "2026" → "hai nghìn không trăm hai mươi sáu"
            syllables += max(1, 2 * len(token) - 1)
        elif len(token) > 1 and token.isupper():
            # abbreviations such as "UBND" are read out in full, about one syllable a letter
            syllables += len(token)
        else:
            syllables += 1
    pauses = len(_PAUSE.findall(text.strip()))
    return syllables / SYLLABLES_PER_SECOND + pauses * PAUSE_SECONDS


def audio_seconds(path: Path) -> float:
    """Length of an audio file in seconds (0.0 if it cannot be read)."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return 0.0
    return _audio_seconds_cached(str(path), stat.st_mtime_ns, stat.st_size)


def script_text(path: Path) -> str | None:
    """Text of a script file, or None if it is missing or not UTF-8."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return None
    return _script_text_cached(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=512)
def _script_text_cached(path: str, mtime_ns: int, size: int) -> str | None:
    try:
        return Path(path).read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None


@functools.lru_cache(maxsize=512)
def _audio_seconds_cached(path: str, mtime_ns: int, size: int) -> float:
    # A PCM WAV (the chime, most recordings) is read by the standard library: `check` and
    # `plan` then need neither libsndfile nor numpy (≈ 0.2 s of their time on a commune PC).
    try:
        import wave

        with wave.open(path, "rb") as w:
            rate = w.getframerate()
            if rate > 0:
                return w.getnframes() / float(rate)
    except Exception:  # noqa: BLE001 - not a PCM WAV: ask libsndfile
        pass
    try:
        import soundfile

        info = soundfile.info(path)
        if info.samplerate > 0:
            return float(info.frames) / float(info.samplerate)
    except Exception:  # noqa: BLE001 - an unreadable file simply has no known length
        pass
    return 0.0


@functools.lru_cache(maxsize=1024)
def _text_seconds_cached(text: str) -> float:
    return estimate_text_seconds(text)


def estimate_item_seconds(item: Item) -> float:
    """Estimated airtime of one item: speech from its text, audio from the file's real length."""
    if item.kind is ItemKind.TEXT:
        return _text_seconds_cached(item.value)
    if item.kind is ItemKind.RELAY:
        return item.seconds or 0.0
    if item.path is None:
        return 0.0
    if item.kind is ItemKind.AUDIO:
        return audio_seconds(item.path)
    text = script_text(item.path)
    return _text_seconds_cached(text) if text else 0.0


def estimate_session_seconds(
    items: tuple[Item, ...] | list[Item], repeat: int, gap_seconds: float, chime: Path | None
) -> float:
    """Airtime of one session laid out as ``programme.build_programme`` does.

    The chime, then the items ``repeat`` times: ``gap_seconds`` between the repeats, a short
    pause between items, and a silent tail.
    """
    if has_relay(items):
        repeat, chime = 1, None
    repeat = max(1, int(repeat))
    once = sum(estimate_item_seconds(i) for i in items) + max(0, len(items) - 1) * ITEM_PAUSE_SECONDS
    total = once * repeat + (repeat - 1) * gap_seconds + TAIL_SECONDS
    if chime is not None:
        total += audio_seconds(chime)
    return total


def estimate_broadcast_seconds(b: Broadcast) -> float:
    """Estimated airtime of a broadcast: chime + items × repeat + gaps (see ``estimate_session_seconds``)."""
    return estimate_session_seconds(b.items, b.repeat, b.gap_seconds, b.chime)

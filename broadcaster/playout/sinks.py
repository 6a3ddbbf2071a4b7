"""Where a programme's audio goes: a sound card, a WAV file per broadcast, or nowhere.

This module keeps the names callers import (``open_sink``, ``SinkError``, ``list_devices``…);
the code lives in :mod:`~broadcaster.playout.sink` (interface, WAV and null practice outputs),
:mod:`~broadcaster.playout.host` (PortAudio), :mod:`~broadcaster.playout.devices` (device
listing and matching), :mod:`~broadcaster.playout.stream` (callback engine),
:mod:`~broadcaster.playout.card` (the sound-card sink) and :mod:`~broadcaster.playout.monitor`
(measuring the start at the sound server).
"""

from __future__ import annotations

from pathlib import Path

from broadcaster.fmt import slugify
from broadcaster.playout.card import SoundDeviceSink
from broadcaster.playout.devices import list_devices, match_device
from broadcaster.playout.host import PortAudioHost
from broadcaster.playout.sink import NullSink, PlayResult, Sink, SinkError, UnavailableSink, WavSink

__all__ = [
    "NullSink",
    "PlayResult",
    "PortAudioHost",
    "Sink",
    "SinkError",
    "SoundDeviceSink",
    "UnavailableSink",
    "WavSink",
    "list_devices",
    "match_device",
    "open_sink",
    "slugify",
]


def open_sink(spec: str | int | None) -> Sink:
    """None → default sound card; "wav:DIR" → WavSink; "null" → NullSink; int or name substring → SoundDeviceSink.

    ``wav:`` and ``null`` are practice outputs: they take real time like a loudspeaker.
    """
    if isinstance(spec, str):
        s = spec.strip()
        if s.lower().startswith("wav:"):
            directory = s[4:].strip()
            if not directory:
                raise SinkError("Thiếu thư mục cho 'wav:'. Ví dụ: wav:./ban-ghi")
            return WavSink(Path(directory).expanduser())
        if s.lower() in ("null", "none", "khong"):
            return NullSink()
        if s == "":
            return SoundDeviceSink(None)
    return SoundDeviceSink(spec)

"""Mono MP3 for the zone streams: a small wrapper over LAME (``lameenc``) and frame-sync helpers.

48 kHz is MPEG-1 Layer III, which every MP3 decoder must play (cheap receivers included), and
it is the house rate, so programmes need no resampling. 64 kbit/s CBR mono is clear speech and
a fixed 192-byte frame per 24 ms, which keeps the stream's bytes proportional to its time.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: the stream's sample rate (MPEG-1: 32, 44.1 or 48 kHz; 48 kHz is also the house rate)
STREAM_RATE = 48000
DEFAULT_BITRATE_KBPS = 64
#: LAME quality 7: fast (the station's CPU is small), plenty for speech at 64 kbit/s
_QUALITY = 7
_RATES = (32000, 44100, 48000, 16000, 22050, 24000)


class Mp3Encoder:
    """A mono CBR MP3 encoder fed float32 blocks (any length); returns whatever frames are ready.

    LAME holds back about three frames (~70 ms at 48 kHz) before its first output; that is a
    constant part of the pipeline delay a zone's ``send_ahead`` compensates.
    """

    def __init__(self, rate: int = STREAM_RATE, bitrate_kbps: int = DEFAULT_BITRATE_KBPS) -> None:
        import lameenc  # imported here: the CLI's fast paths never load LAME

        if rate not in _RATES:
            raise ValueError(f"MP3 sample rate {rate} is not one of {_RATES}")
        self.rate = rate
        self.bitrate_kbps = bitrate_kbps
        self._enc = lameenc.Encoder()
        self._enc.set_bit_rate(bitrate_kbps)
        self._enc.set_in_sample_rate(rate)
        self._enc.set_channels(1)
        self._enc.set_quality(_QUALITY)

    def encode(self, samples: npt.NDArray[np.float32]) -> bytes:
        """Encode float32 mono samples (clipped to ±1); return the MP3 bytes completed so far."""
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
        return bytes(self._enc.encode(pcm.tobytes()))

    def flush(self) -> bytes:
        """The frames still held back (end of stream)."""
        return bytes(self._enc.flush())


def first_frame_sync(data: bytes, start: int = 0) -> int:
    """Index of the first MPEG audio frame header (11-bit sync 0xFFE, valid layer/rate/bitrate) or -1.

    A listener joining mid-stream gets bytes from the middle of a frame; decoding starts here.
    """
    i = start
    while True:
        i = data.find(b"\xff", i)
        if i < 0 or i + 3 >= len(data):
            return -1
        b1, b2 = data[i + 1], data[i + 2]
        version, layer = (b1 >> 3) & 0b11, (b1 >> 1) & 0b11
        bitrate, rate = b2 >> 4, (b2 >> 2) & 0b11
        if b1 & 0xE0 == 0xE0 and version != 0b01 and layer != 0 and bitrate not in (0, 15) and rate != 3:
            return i
        i += 1

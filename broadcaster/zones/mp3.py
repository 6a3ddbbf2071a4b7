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
_ENCODER_RATES = (32000, 44100, 48000, 16000, 22050, 24000)


# MPEG audio header tables: kbit/s by [version is MPEG-1][layer 1..3][index], Hz by version.
_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # by version bits


class Mp3Encoder:
    """A mono CBR MP3 encoder fed float32 blocks (any length); returns whatever frames are ready.

    LAME holds back about three frames (~70 ms at 48 kHz) before its first output; that is a
    constant part of the pipeline delay a zone's ``send_ahead`` compensates.
    """

    def __init__(self, rate: int = STREAM_RATE, bitrate_kbps: int = DEFAULT_BITRATE_KBPS) -> None:
        import lameenc  # imported here: the CLI's fast paths never load LAME

        if rate not in _ENCODER_RATES:
            raise ValueError(f"MP3 sample rate {rate} is not one of {_ENCODER_RATES}")
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


def frame_header(data: bytes | bytearray, i: int) -> tuple[int, int] | None:
    """(frame length in bytes, stream signature) of a valid MPEG audio header at ``data[i:i+4]``, else None.

    The signature (version, layer, sample rate) must stay the same from frame to frame.
    """
    if i + 4 > len(data) or data[i] != 0xFF or (data[i + 1] & 0xE0) != 0xE0:
        return None
    version = (data[i + 1] >> 3) & 3
    layer_bits = (data[i + 1] >> 1) & 3
    bitrate_index = data[i + 2] >> 4
    rate_index = (data[i + 2] >> 2) & 3
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None  # reserved / free-format values: not a header we can trust
    layer = 4 - layer_bits
    mpeg1 = version == 3
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    rate = _RATES[version][rate_index]
    padding = (data[i + 2] >> 1) & 1
    if layer == 1:
        length = (12 * bitrate // rate + padding) * 4
    elif layer == 3 and not mpeg1:
        length = 72 * bitrate // rate + padding
    else:
        length = 144 * bitrate // rate + padding
    return length, (version << 4) | (layer_bits << 2) | rate_index


def find_frame_sync(data: bytes | bytearray, start: int = 0) -> int | None:
    """Offset of the first MPEG audio frame confirmed by the next frame's header; None: need more bytes.

    A lone 0xFFE pattern inside audio data is common, so a candidate counts only when another
    header with the same signature starts exactly one frame later.
    """
    i = data.find(b"\xff", start)
    while 0 <= i and i + 4 <= len(data):
        head = frame_header(data, i)
        if head is not None:
            length, signature = head
            following = frame_header(data, i + length)
            if following is not None and following[1] == signature:
                return i
            if i + length + 4 > len(data):
                return None  # cannot confirm yet: wait for more bytes from here
        i = data.find(b"\xff", i + 1)
    return None

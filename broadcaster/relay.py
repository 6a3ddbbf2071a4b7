"""Relay ("tiếp sóng") of an upper-level station: its live HTTP stream for a set time.

Circular 39/2020/TT-BTTTT asks a commune station to relay VOV, the province and the district
at set times. A relay item airs the stream for ``item.seconds``. When the stream cannot be
reached, is not audio, or stays silent, the broadcast never hangs: the stated fallback script
airs instead, or the relay fails with the reason (the as-run row says it) and the zone goes
quiet. An emergency cuts a relay like any broadcast (the player's ``stop`` event).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import numpy as np

from broadcaster import fmt
from broadcaster.schedule.model import Item

log = logging.getLogger("broadcaster.relay")

#: how long the stream may stay silent before the relay counts as failed
SILENCE_TIMEOUT_S = 10.0
#: how long to wait for the upper-level server to answer
CONNECT_TIMEOUT_S = 5.0


class RelayError(Exception):
    """The relay could not go on; ``str()`` is the Vietnamese reason for the as-run log."""


def relay_blocks(
    item: Item,
    rate: int,
    stop: threading.Event,
    *,
    fallback: Callable[[], np.ndarray] | None = None,
) -> Iterator[np.ndarray]:
    """Blocks of the relayed stream until ``item.seconds`` have aired (or ``stop``).

    On a stream failure the fallback's audio follows (and the log says why); without one
    :class:`RelayError` is raised, which the player records as a failed broadcast.
    """
    from broadcaster.zones.stream_in import StreamError, StreamReader

    total = int((item.seconds or 0) * rate)
    sent = 0
    reader = StreamReader(item.value, rate=rate, timeout_s=CONNECT_TIMEOUT_S, silence_timeout_s=SILENCE_TIMEOUT_S)
    try:
        for block in reader.blocks(stop):
            if stop.is_set():
                return
            block = block[: total - sent]
            sent += len(block)
            yield block
            if sent >= total:
                return
        if stop.is_set() or sent >= total:
            return
        raise StreamError("luồng tiếp sóng kết thúc sớm")
    except StreamError as exc:
        aired = fmt.duration(sent / rate) if sent else "chưa phát được giây nào"
        reason = f"tiếp sóng {item.value} lỗi: {exc} (đã tiếp sóng {aired})"
        if fallback is None:
            raise RelayError(reason) from None
        log.warning("%s — phát bài thay thế %s.", reason, item.fallback.value if item.fallback else "")
        yield fallback()

"""The stream engine's pure parts: the block-wise resampler and the feeder (no sound card)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from broadcaster.playout.stream import Feeder
from broadcaster.speech.audio import StreamResampler, resample


@pytest.mark.parametrize("from_rate,to_rate", [(44100, 48000), (24000, 48000), (48000, 44100), (22050, 48000)])
def test_block_wise_resampling_equals_resampling_the_whole(from_rate, to_rate):
    rng = np.random.default_rng(from_rate)
    x = rng.standard_normal(20000).astype(np.float32)
    cuts = sorted(int(c) for c in rng.integers(0, len(x), 15)) + [5, 5, 6]  # includes empty and 1-sample blocks
    blocks = np.split(x, sorted(cuts))
    r = StreamResampler(from_rate, to_rate)
    out = np.concatenate([r.push(b) for b in blocks] + [r.flush()])
    whole = resample(x, from_rate, to_rate)
    assert out.shape == whole.shape
    assert np.max(np.abs(out - whole)) < 1e-6


def test_same_rate_passes_blocks_through():
    r = StreamResampler(48000, 48000)
    block = np.arange(10, dtype=np.float32)
    assert np.array_equal(r.push(block), block) and r.flush().size == 0


def test_feeder_resamples_to_the_device_rate_and_finds_the_first_loud_sample():
    quiet = np.zeros(4410, dtype=np.float32)
    loud = (0.5 * np.sin(np.arange(44100) / 10)).astype(np.float32)
    feeder = Feeder([quiet, loud], 44100, threading.Event(), 48000)
    deadline = time.monotonic() + 5
    while not feeder.exhausted and time.monotonic() < deadline:
        time.sleep(0.01)
    out = np.zeros(60000, dtype=np.float32)
    n = feeder.read(out)
    assert feeder.drained() and feeder.error is None
    assert n == len(resample(np.concatenate([quiet, loud]), 44100, 48000))
    assert feeder.first_loud == pytest.approx(4800, abs=30)  # 0.1 s in, at the device rate

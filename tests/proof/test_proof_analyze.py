"""analyze(): proof of play from synthetic signals — speech-like programmes, rooms, faults.

The programme is speech-like (voiced syllables with harmonics and formant-ish colouring,
fricative noise bursts, gaps and pauses); the "monitor" is that programme delayed, through a
reverberant room, a cheap microphone (band-limited, clipped), with hiss and mains hum — or
hum/noise/other speech *without* it. Seeded loops make the property-style checks.
"""

from __future__ import annotations

import numpy as np
import pytest

from broadcaster.proof import DeadAir, Proof, analyze, failed_proof
from broadcaster.proof.analyze import ongoing_dead_air

RATE = 48000


# -- signals ------------------------------------------------------------------------------


def speechlike(seconds: float, seed: int = 0, amp: float = 0.3, rate: int = RATE) -> np.ndarray:
    """Syllables of 80–250 ms (75 % voiced with random harmonics, else hiss), gaps, some pauses."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * rate))
    t = 0.05
    while t < seconds - 0.3:
        d = rng.uniform(0.08, 0.25)
        n, i = int(d * rate), int(t * rate)
        tt = np.arange(n) / rate
        if rng.random() < 0.75:
            f0 = rng.uniform(100, 220)
            harmonics = np.arange(1, int(3500 / f0))
            weights = rng.uniform(0, 1, len(harmonics)) / np.sqrt(harmonics)
            phases = rng.uniform(0, 2 * np.pi, len(harmonics))
            sig = (weights[:, None] * np.sin(2 * np.pi * f0 * harmonics[:, None] * tt + phases[:, None])).sum(axis=0)
        else:
            sig = np.diff(rng.standard_normal(n), prepend=0.0)
        env = np.minimum(1, np.minimum(tt / 0.015, (d - tt) / 0.03))
        seg = sig * env
        seg *= rng.uniform(0.3, 1.0) / (np.sqrt(np.mean(seg**2)) + 1e-9)
        m = min(n, len(out) - i)
        out[i : i + m] += seg[:m]
        t += d + (rng.uniform(0.3, 0.6) if rng.random() < 0.12 else rng.uniform(0.02, 0.12))
    return (out * amp / (np.max(np.abs(out)) + 1e-9)).astype(np.float32)


def room(x: np.ndarray, rt60: float = 0.5, reverb: float = 0.03, seed: int = 1) -> np.ndarray:
    """The direct sound plus an exponentially decaying diffuse tail (a room's echo)."""
    rng = np.random.default_rng(seed)
    n = int(rt60 * RATE)
    ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / RATE / rt60) * reverb
    ir[0] += 1.0
    m = 1 << int(np.ceil(np.log2(len(x) + n)))
    return np.fft.irfft(np.fft.rfft(x, m) * np.fft.rfft(ir, m), m)[: len(x)].astype(np.float32)


def cheap_mic(x: np.ndarray, clip: float = 0.1) -> np.ndarray:
    """First-order high- and low-pass (a small capsule's band) and clipping."""
    y = np.diff(x, prepend=0.0) * 4 + 0.2 * x  # tilts towards treble, loses bass
    y = np.convolve(y, np.ones(6) / 6, mode="same")  # and loses the top
    return np.clip(y, -clip, clip).astype(np.float32)


def hum(seconds: float, amp: float = 0.05, mains: float = 50.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    y = sum(amp / k * np.sin(2 * np.pi * mains * k * t + k) for k in (1, 2, 3, 5, 7, 9))
    return np.asarray(y, dtype=np.float32)


def noise(seconds: float, amp: float = 0.02, seed: int = 3) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * RATE))).astype(np.float32)


def place(x: np.ndarray, total_s: float, at_s: float, gain: float = 1.0) -> np.ndarray:
    """``x`` (times ``gain``) starting ``at_s`` into ``total_s`` of silence."""
    out = np.zeros(int(total_s * RATE), dtype=np.float32)
    i = int(round(at_s * RATE))
    m = min(len(x), len(out) - i)
    out[i : i + m] += gain * x[:m]
    return out


def sound_between(sent: np.ndarray, a: float, b: float) -> tuple[float, float]:
    """Start of the first and end of the last 10 ms frame with programme sound in [a, b) seconds."""
    power = np.mean(sent[: len(sent) // 480 * 480].reshape(-1, 480).astype(np.float64) ** 2, axis=1)
    loud = np.flatnonzero(power > power.max() * 1e-3)  # within 30 dB of the loudest frame
    loud = loud[(loud >= a * 100) & (loud < b * 100)]
    return loud[0] / 100, (loud[-1] + 1) / 100


OFFSET = 0.2  # where the programme should start in the capture


def heard_proof(sent: np.ndarray, captured: np.ndarray, **kw: float) -> Proof:
    return analyze(sent, captured, RATE, sent_offset_s=OFFSET, **kw)


# -- heard, delay, level ------------------------------------------------------------------


@pytest.mark.parametrize("delay_ms", [0.0, 3.7, 37.0, 120.0, 333.3, 480.0])
def test_clean_monitor_gives_the_exact_delay(delay_ms):
    sent = speechlike(6, seed=1)
    proof = heard_proof(sent, place(sent, 7.5, OFFSET + delay_ms / 1000, gain=0.5))
    assert proof.heard is True
    assert proof.delay_ms == pytest.approx(delay_ms, abs=0.1)
    assert proof.dead_air == [] and proof.note is None
    assert proof.confidence >= 0.9


@pytest.mark.parametrize("gain_db", [-40.0, -20.0, -6.0, 0.0])
def test_level_is_the_programme_at_the_monitor(gain_db):
    sent = speechlike(5, seed=2)
    gain = 10 ** (gain_db / 20)
    floor = noise(6.5, amp=0.0005)  # −66 dBFS hiss: removed from the figure
    proof = heard_proof(sent, place(sent, 6.5, 0.25, gain=gain) + floor)
    loud = sent.reshape(-1, 480)
    frames = np.mean(loud.astype(np.float64) ** 2, axis=1)
    active = 10 * np.log10(frames + 1e-12) > 10 * np.log10(frames.max()) - 30
    expected = 10 * np.log10(frames[active].mean() * gain**2)
    assert proof.heard is True
    assert proof.level_db == pytest.approx(expected, abs=1.0)


def test_heard_through_a_room_a_cheap_mic_hum_and_hiss_property_style():
    """Random programmes, delays, gains, rooms and noise: always heard, delay near the truth."""
    rng = np.random.default_rng(42)
    for case in range(12):
        length = float(rng.uniform(3, 15))
        sent = speechlike(length, seed=100 + case)
        delay = float(rng.uniform(0, 0.45))
        heard_sound = room(sent, rt60=float(rng.uniform(0.2, 1.0)), reverb=float(rng.uniform(0.01, 0.05)), seed=case)
        if case % 3 == 0:
            heard_sound = cheap_mic(heard_sound)
        total = length + 1.2
        gain = 10 ** (rng.uniform(-30, 0) / 20)
        level = gain * float(np.sqrt(np.mean(heard_sound**2)))
        captured = place(heard_sound, total, OFFSET + delay, gain=gain)
        captured += noise(total, amp=level * 10 ** (-rng.uniform(10, 30) / 20), seed=case)
        captured += hum(total, amp=level * float(rng.uniform(0, 1)), mains=float(rng.choice([50.0, 60.0])))
        proof = heard_proof(sent, captured)
        assert proof.heard is True, (case, proof)
        assert proof.delay_ms is not None
        # The waveform refinement finds the direct sound; where the microphone and the room
        # change the waveform too much, the envelope's lag is used, which reverb pulls late.
        assert -2.0 <= proof.delay_ms - delay * 1000 <= 25.0, (case, proof.delay_ms, delay)
        assert proof.dead_air == [], (case, proof)


def test_capture_that_started_late_still_proves_the_rest():
    sent = speechlike(6, seed=3)
    captured = place(sent, 7, 0.3, gain=0.5)[int(0.8 * RATE) :]  # the first 0.5 s of programme is lost
    proof = analyze(sent, captured, RATE, sent_offset_s=0.3 - 0.8 - 0.025)
    assert proof.heard is True and proof.delay_ms == pytest.approx(25.0, abs=0.1)


def test_other_rates_work():
    rate = 44100
    sent = speechlike(4, seed=4, rate=rate)
    captured = np.zeros(int(5 * rate), dtype=np.float32)
    i = int(0.25 * rate)
    captured[i : i + len(sent)] = 0.5 * sent
    proof = analyze(sent, captured, rate, sent_offset_s=0.2)
    assert proof.heard is True and proof.delay_ms == pytest.approx(50.0, abs=0.1)


# -- not heard ----------------------------------------------------------------------------


def without_programme(what: str, total: float, seed: int) -> np.ndarray:
    """What a monitor hears when the programme does not reach the loudspeakers."""
    if what == "silence":
        return noise(total, amp=1e-5, seed=seed)
    if what == "zeros":
        return np.zeros(int(total * RATE), dtype=np.float32)
    if what == "hiss":
        return noise(total, amp=0.05, seed=seed)
    if what in ("hum50", "hum60"):
        return hum(total, amp=0.1, mains=float(what[3:]))
    if what == "hum+hiss":
        return hum(total, amp=0.05) + noise(total, amp=0.01, seed=seed)
    if what == "loud-hum":
        return hum(total, amp=0.8)
    if what == "other-speech":  # another programme (a radio, the neighbour's loudspeaker)
        return place(room(speechlike(total, seed=900 + seed)), total, 0.0, 0.5)
    clicks = np.tile(np.r_[np.ones(48), np.zeros(RATE // 4 - 48)], int(total * 4) + 1).astype(np.float32)
    return place(clicks, total, 0.0, 0.3)


@pytest.mark.parametrize(
    "what", ["silence", "zeros", "hiss", "hum50", "hum60", "hum+hiss", "loud-hum", "other-speech", "clicks"]
)
def test_without_the_programme_nothing_counts_as_heard(what):
    for seed in range(4):
        sent = speechlike(float(3 + 3 * seed), seed=10 + seed)
        proof = heard_proof(sent, without_programme(what, len(sent) / RATE + 1.0, seed))
        assert proof.heard is False, (what, seed, proof)
        assert proof.delay_ms is None and proof.level_db is None and proof.dead_air == []
        assert "không nghe thấy" in (proof.note or "").casefold()
        if what in ("silence", "zeros"):
            assert "im lặng" in (proof.note or "")
        else:
            assert "ù/nhiễu" in (proof.note or "")


# -- dead air -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["zeros", "mic-floor", "hiss", "hum"])
def test_dead_air_in_the_middle_is_found_where_it_was(kind):
    for seed in range(3):
        sent = speechlike(12, seed=20 + seed)
        captured = place(room(sent, seed=seed), 13.5, 0.25, gain=0.5) + noise(13.5, amp=0.0005, seed=seed)
        a, b = int((0.25 + 3.5) * RATE), int((0.25 + 8.5) * RATE)
        captured[a:b] = {
            "zeros": np.zeros(b - a),
            "mic-floor": noise(5, amp=0.0005, seed=seed)[: b - a],
            "hiss": noise(5, amp=0.05, seed=seed)[: b - a],
            "hum": hum(5, amp=0.2)[: b - a],
        }[kind]
        proof = heard_proof(sent, captured)
        assert proof.heard is True, (kind, seed, proof)
        assert len(proof.dead_air) == 1, (kind, seed, proof.dead_air)
        dead = proof.dead_air[0]
        # It spans the programme's sound that was not heard: from its first to its last sound in the cut.
        first, last = sound_between(sent, 3.5, 8.5)
        assert abs(dead.at_s - first) <= 0.3, (kind, seed, dead, first)
        assert abs(dead.at_s + dead.seconds - last) <= 0.3, (kind, seed, dead, last)
        assert dead.kind == ("silence" if kind in ("zeros", "mic-floor") else "hum")
        assert "mất tiếng" in (proof.note or "")


def test_short_gaps_and_the_programmes_own_silence_are_not_dead_air():
    sent = np.concatenate([speechlike(4, seed=30), np.zeros(5 * RATE, np.float32), speechlike(4, seed=31)])
    captured = place(sent, 14.5, 0.25, gain=0.5) + noise(14.5, amp=0.0005)
    assert heard_proof(sent, captured).dead_air == []  # the programme itself was silent for 5 s
    cut = captured.copy()
    cut[int(1.25 * RATE) : int(3.25 * RATE)] = 0  # 2 s lost: shorter than dead_air_s
    proof = heard_proof(sent, cut)
    assert proof.heard is True and proof.dead_air == []
    found = heard_proof(sent, cut, dead_air_s=1.5).dead_air
    assert len(found) == 1 and found[0].at_s == pytest.approx(1.0, abs=0.4)


def test_ongoing_dead_air_is_seen_at_the_end_of_what_was_sent():
    sent = speechlike(12, seed=40)
    captured = place(room(sent), 13.5, 0.25, gain=0.5)
    captured[int((0.25 + 4.0) * RATE) :] = 0  # the loudspeakers went quiet at 4.0 s and stay so
    for end, expect in ((6.0, False), (7.5, True), (9.0, True)):
        first = max(0.0, end - 6.0)
        seg = sent[int(first * RATE) : int(end * RATE)]
        found = ongoing_dead_air(
            seg, captured, RATE, sent_offset_s=0.2 + first, max_delay_s=0.5, dead_air_s=3.0
        )  # fmt: skip
        assert (found is not None) == expect, (end, found)
        if found is not None:
            assert found.kind == "silence" and found.seconds >= 3.0
    healthy = place(room(sent), 13.5, 0.25, gain=0.5)
    assert ongoing_dead_air(sent[: 8 * RATE], healthy, RATE, sent_offset_s=0.2, max_delay_s=0.5, dead_air_s=3.0) is None
    # A quiet stretch of the programme cannot tell: not "the sound is back" (which would re-arm the alert)
    with pytest.raises(ValueError):
        ongoing_dead_air(
            np.zeros(6 * RATE, np.float32), captured, RATE, sent_offset_s=0.2, max_delay_s=0.5, dead_air_s=3.0
        )


# -- edges --------------------------------------------------------------------------------


def test_a_held_tone_is_judged_by_its_spectrum():
    t = np.arange(5 * RATE) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    proof = heard_proof(tone, place(room(tone), 6, 0.25, gain=0.5) + noise(6, amp=0.001))
    assert proof.heard is True and proof.delay_ms is None  # nothing to time on a steady tone
    assert proof.level_db == pytest.approx(20 * np.log10(0.5 * 0.3 / np.sqrt(2)), abs=1.5)
    assert heard_proof(tone, noise(6, amp=0.05)).heard is False
    assert heard_proof(tone, hum(6, amp=0.3)).heard is False


def test_nothing_to_compare_or_no_capture_is_unknown_not_false():
    silent = np.zeros(3 * RATE, np.float32)
    proof = heard_proof(silent, noise(4))
    assert proof.heard is None and "không có tiếng" in (proof.note or "")
    short = heard_proof(speechlike(5), noise(1))
    assert short.heard is None and "Không kiểm tra được" in (short.note or "")
    assert heard_proof(np.zeros(0, np.float32), np.zeros(0, np.float32)).heard is None


def test_proof_to_dict_is_plain_data():
    proof = Proof(True, 12.5, -20.0, [DeadAir(3.5, 4.0, "silence")], 0.9, "monitor:pa_out.monitor", None)
    assert proof.to_dict() == {
        "heard": True,
        "delay_ms": 12.5,
        "level_db": -20.0,
        "dead_air": [{"at_s": 3.5, "seconds": 4.0, "kind": "silence"}],
        "confidence": 0.9,
        "method": "monitor:pa_out.monitor",
        "note": None,
    }
    failed = failed_proof("monitor:x", "không mở được").to_dict()
    assert failed["heard"] is None and failed["note"].startswith("Không kiểm tra được")


def test_a_minute_long_programme_in_a_room_is_heard_with_its_delay():
    """A whole minute with echo and noise (its cost is measured in ``python -m bench``, not here)."""
    sent = speechlike(60, seed=50)
    captured = place(room(sent), 61.5, 0.3, gain=0.5) + noise(61.5, amp=0.005)
    proof = analyze(sent, captured, RATE, sent_offset_s=0.2)
    assert proof.heard is True
    assert proof.delay_ms is not None and 50 <= proof.delay_ms <= 150
    assert proof.dead_air == []


def test_monitor_specs_name_a_sound_server_source_or_a_capture_device():
    from broadcaster.proof.capture import parse_device

    assert parse_device("monitor:pa_out.monitor") == ("pulse", "pa_out.monitor")
    assert parse_device("monitor:pulse:line_in") == ("pulse", "line_in")
    assert parse_device("pulse:@DEFAULT_MONITOR@") == ("pulse", "@DEFAULT_MONITOR@")
    assert parse_device("alsa:hw:1,0") == ("alsa", "hw:1,0")
    assert parse_device(" monitor:alsa:USB Audio ") == ("alsa", "USB Audio")

"""Programme assembly: chime, items, repeats, gaps, tail, loudness — with real espeak-ng."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from broadcaster.programme import ProgrammeError, build_programme
from broadcaster.schedule.model import Item, ItemKind
from broadcaster.speech.audio import (
    CHIME_LUFS,
    RATE,
    TARGET_LUFS,
    decode_file,
    measure_lufs,
    true_peak_dbfs,
    write_wav,
)
from broadcaster.speech.engines import EspeakEngine
from broadcaster.speech.render import SpeechRenderer

ROOT = Path(__file__).resolve().parent.parent
CHIME = ROOT / "audio" / "chime.wav"
TEXT_A = Item(ItemKind.TEXT, "Kính thưa toàn thể nhân dân trong xã.")
SCRIPT = Item(ItemKind.SCRIPT, "mo-dau", ROOT / "scripts_vi" / "mo-dau.txt")


class GatedEspeak:
    """Real espeak-ng that waits for a gate (to observe background rendering) and counts calls."""

    name, online, suffix = "espeak", False, ".wav"

    def __init__(self, gate: threading.Event | None = None):
        self.engine = EspeakEngine()
        self.gate = gate
        self.calls = 0

    def options(self):
        return self.engine.options()

    def synthesize(self, text, out_path, timeout=None):
        self.calls += 1
        if self.gate is not None:
            assert self.gate.wait(10)
        self.engine.synthesize(text, out_path, timeout)


@pytest.fixture
def renderer(tmp_path):
    return SpeechRenderer(tmp_path / "cache", engines=[GatedEspeak()])


@pytest.fixture
def loud_tone(tmp_path):
    """An audio item mastered far too hot (0 dBFS square-ish tone), to prove it gets levelled."""
    t = np.arange(int(RATE * 2.0)) / RATE
    tone = np.clip(1.5 * np.sin(2 * np.pi * 330 * t), -1, 1).astype(np.float32)
    path = write_wav(tmp_path / "loud.wav", tone)
    return Item(ItemKind.AUDIO, "loud.wav", path)


def test_chime_exists_and_is_as_documented():
    chime = decode_file(CHIME)
    assert 1.5 <= len(chime) / RATE <= 2.0
    assert np.any(chime)


def test_order_repeat_gap_and_tail(renderer):
    prog = build_programme([TEXT_A, SCRIPT], renderer=renderer, chime=CHIME, repeat=2, gap_seconds=2.0)
    labels = [p.label for p in prog.parts]
    assert labels == ["chime", TEXT_A.label, "pause", SCRIPT.label, "gap", TEXT_A.label, "pause", SCRIPT.label, "tail"]
    assert [p.kind for p in prog.parts][:2] == ["chime", "speech"]
    samples = prog.samples()
    lengths = [len(p.audio()) for p in prog.parts]
    assert len(samples) == sum(lengths)
    assert prog.duration() == pytest.approx(len(samples) / RATE)
    gap_start = sum(lengths[:4])
    assert lengths[4] == 2 * RATE
    assert not np.any(samples[gap_start : gap_start + lengths[4]])  # the gap is true silence
    assert lengths[-1] >= RATE // 2 and not np.any(samples[-lengths[-1] :])  # tail padding
    # the repeat is the same audio, rendered once
    np.testing.assert_array_equal(prog.parts[1].audio(), prog.parts[5].audio())
    assert renderer.engines[0].calls == 2  # two unique items, each synthesized once
    assert prog.engines() == {TEXT_A.label: "espeak", SCRIPT.label: "espeak"}


def test_starts_with_the_chime(renderer):
    prog = build_programme([TEXT_A], renderer=renderer, chime=CHIME, repeat=1, gap_seconds=1.0)
    samples = prog.samples()
    chime = decode_file(CHIME)
    head, ref = samples[: int(1.5 * RATE)], chime[: int(1.5 * RATE)]
    correlation = float(np.dot(head, ref) / (np.linalg.norm(head) * np.linalg.norm(ref)))
    assert correlation > 0.99


def test_loudness_on_target_and_no_clipping(renderer, loud_tone):
    prog = build_programme([TEXT_A, loud_tone, SCRIPT], renderer=renderer, chime=CHIME, repeat=2, gap_seconds=1.0)
    samples = prog.samples()
    assert measure_lufs(samples) == pytest.approx(TARGET_LUFS, abs=1.0)
    assert np.max(np.abs(samples)) < 1.0
    assert true_peak_dbfs(samples) < -1.0
    by_label = {p.label: p.audio() for p in prog.parts}
    # the chime sits below the speech; speech and the hot audio file end up equally loud
    assert measure_lufs(by_label["chime"]) == pytest.approx(CHIME_LUFS, abs=0.5)
    for label in (TEXT_A.label, loud_tone.label, SCRIPT.label):
        assert measure_lufs(by_label[label]) == pytest.approx(TARGET_LUFS, abs=0.5)


def test_without_chime_starts_with_speech(renderer):
    prog = build_programme([TEXT_A], renderer=renderer, chime=None, repeat=1, gap_seconds=0)
    assert [p.label for p in prog.parts] == [TEXT_A.label, "tail"]


def test_executor_makes_chime_ready_before_speech(tmp_path):
    gate = threading.Event()
    engine = GatedEspeak(gate)
    renderer = SpeechRenderer(tmp_path / "cache", engines=[engine])
    with ThreadPoolExecutor(2) as pool:
        prog = build_programme(
            [TEXT_A, SCRIPT], renderer=renderer, chime=CHIME, repeat=2, gap_seconds=1.0, executor=pool
        )
        chime, first_speech = prog.parts[0], prog.parts[1]
        assert chime.ready and chime.audio(timeout=0).size > 0
        assert not first_speech.ready and first_speech.engine is None
        gate.set()
        assert first_speech.audio(timeout=10).size > 0
        assert first_speech.engine == "espeak"
        prog.samples(timeout=10)
    assert engine.calls == 2  # repeats reuse the background render


def test_failures_surface_when_the_part_is_asked_for(renderer, tmp_path):
    missing = Item(ItemKind.SCRIPT, "khong-co", tmp_path / "khong-co.txt")
    prog = build_programme([TEXT_A, missing], renderer=renderer, chime=CHIME, repeat=1, gap_seconds=0)
    assert prog.parts[1].audio().size > 0
    with pytest.raises(ProgrammeError, match="không tìm thấy tệp bài đọc"):
        prog.parts[-2].audio()
    with pytest.raises(ProgrammeError, match="không tìm thấy tệp âm thanh"):
        build_programme([TEXT_A], renderer=renderer, chime=tmp_path / "nope.wav", repeat=1, gap_seconds=0)


def test_a_scheduled_script_that_is_a_link_is_not_read_out(tmp_path: Path) -> None:
    """A script planted as a link to a secret (``state/api-token``) must never reach the loudspeakers."""
    from broadcaster.programme import item_text

    secret = tmp_path / "state" / "api-token"
    secret.parent.mkdir()
    secret.write_text("bi-mat-cua-tram")
    scripts = tmp_path / "scripts_vi"
    scripts.mkdir()
    (scripts / "leak.txt").symlink_to(secret)
    (scripts / "ok.txt").write_text("Kính thưa bà con.", encoding="utf-8")
    assert item_text(Item(ItemKind.SCRIPT, "ok", scripts / "ok.txt")) == "Kính thưa bà con."
    with pytest.raises(ProgrammeError) as refused:
        item_text(Item(ItemKind.SCRIPT, "leak", scripts / "leak.txt"))
    assert "bi-mat" not in str(refused.value)

"""Engines: real espeak-ng; gTTS's real code path answered offline by ``responses``."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
import requests
import responses
import soundfile as sf

from broadcaster.speech.audio import RATE, decode_file, measure_lufs, peak_dbfs
from broadcaster.speech.engines import EngineError, EspeakEngine, GttsEngine, make_engine

GTTS_URL = re.compile(r"https://translate\.google\.[a-z.]+/_/TranslateWebserverUi/data/batchexecute")
TEXT = "Kính thưa toàn thể nhân dân trong xã."


def make_mp3(seconds: float = 0.8, freq: float = 440.0) -> bytes:
    """A real short MP3 (libsndfile encodes MPEG layer III)."""
    t = np.arange(int(24000 * seconds)) / 24000
    tone = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, tone, 24000, format="MP3", subtype="MPEG_LAYER_III")
    return buf.getvalue()


def gtts_body(mp3: bytes) -> str:
    """The batchexecute reply gTTS parses: the RPC id, then base64 MP3 inside escaped JSON."""
    b64 = base64.b64encode(mp3).decode("ascii")
    return ')]}\'\n\n[["wrb.fr","jQ1olc","[\\"' + b64 + '\\"]",null,null,null,"generic"]]\n'


def test_make_engine_specs():
    assert make_engine("gtts").name == "gtts" and make_engine("gtts").online
    assert make_engine("gtts:vi").lang == "vi"
    south = make_engine("espeak:vi-vn-x-south")
    assert south.name == "espeak" and not south.online and south.voice == "vi-vn-x-south"
    assert make_engine("espeak").options() != south.options()
    with pytest.raises(ValueError, match="không biết giọng đọc"):
        make_engine("polly")


def test_espeak_renders_vietnamese_without_clipping(tmp_path):
    out = tmp_path / "vi.wav"
    EspeakEngine().synthesize(TEXT, out)
    samples = decode_file(out)
    assert len(samples) / RATE > 1.0
    assert measure_lufs(samples) > -40  # clearly not silence
    assert peak_dbfs(samples) < -0.5  # lowered amplitude: raw output does not clip
    assert [p.name for p in tmp_path.iterdir()] == ["vi.wav"]  # no temp files left


def test_espeak_missing_gives_vietnamese_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EngineError, match="apt-get install espeak-ng"):
        EspeakEngine().synthesize(TEXT, tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()


@responses.activate
def test_gtts_success_writes_decodable_mp3(tmp_path):
    responses.add(responses.POST, GTTS_URL, body=gtts_body(make_mp3()), status=200)
    out = tmp_path / "speech.mp3"
    GttsEngine(timeout=5).synthesize(TEXT, out)
    samples = decode_file(out)
    assert len(samples) / RATE == pytest.approx(0.8, abs=0.15)
    assert np.max(np.abs(samples)) > 0.1
    assert "f.req=" in responses.calls[0].request.body
    assert [p.name for p in tmp_path.iterdir()] == ["speech.mp3"]


@responses.activate
def test_gtts_retries_server_error(tmp_path):
    responses.add(responses.POST, GTTS_URL, status=500)
    responses.add(responses.POST, GTTS_URL, body=gtts_body(make_mp3()), status=200)
    out = tmp_path / "speech.mp3"
    GttsEngine(timeout=5, backoff=0.01).synthesize(TEXT, out)
    assert len(responses.calls) == 2
    assert decode_file(out).size > 0


@responses.activate
def test_gtts_client_error_is_not_retried(tmp_path):
    responses.add(responses.POST, GTTS_URL, status=403)
    with pytest.raises(EngineError) as info:
        GttsEngine(timeout=5, backoff=0.01).synthesize(TEXT, tmp_path / "speech.mp3")
    assert not info.value.transient
    assert len(responses.calls) == 1


@responses.activate
def test_gtts_connection_error_is_transient_and_leaves_no_file(tmp_path):
    responses.add(responses.POST, GTTS_URL, body=requests.exceptions.ConnectionError("no route to host"))
    with pytest.raises(EngineError) as info:
        GttsEngine(timeout=5, retries=2, backoff=0.01).synthesize(TEXT, tmp_path / "speech.mp3")
    assert info.value.transient
    assert len(responses.calls) == 3  # first try + 2 retries
    assert list(tmp_path.iterdir()) == []


@responses.activate
def test_gtts_failure_after_partial_write_leaves_nothing(tmp_path):
    # long text → several requests; the second fails after the first part was written
    long_text = " ".join([TEXT] * 8)
    responses.add(responses.POST, GTTS_URL, body=gtts_body(make_mp3(0.3)), status=200)
    responses.add(responses.POST, GTTS_URL, status=404)
    with pytest.raises(EngineError):
        GttsEngine(timeout=5, backoff=0.01).synthesize(long_text, tmp_path / "speech.mp3")
    assert list(tmp_path.iterdir()) == []


@responses.activate
def test_gtts_timeout_is_transient_with_clear_message(tmp_path):
    responses.add(responses.POST, GTTS_URL, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(EngineError, match="hết thời gian chờ") as info:
        GttsEngine(timeout=5, retries=0).synthesize(TEXT, tmp_path / "speech.mp3")
    assert info.value.transient

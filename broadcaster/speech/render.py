"""Text → levelled speech audio: normalize, pick an engine, use the cache, fall back.

Rules:

* The text is normalized first; the cache key is built from the spoken text.
* Engines are tried in chain order (``defaults.voice``). For each, a verified cache entry is
  used at once; otherwise it synthesizes. When the preferred engine fails, the next is used
  and the result is marked ``fallback``.
* An online engine that fails is skipped for :data:`BREAKER_SECONDS` (circuit breaker), so a
  run of renders while offline does not wait on timeouts each time; afterwards it is tried
  again, and once it succeeds its own cache entry exists and wins over the fallback's.
* ``offline=True`` never touches the network, but still uses online engines' cached audio —
  that is exactly what would air.
* Every synthesized render is trimmed to fixed silence pads (:mod:`.trim`) *before* it is
  levelled: the start of speech is then the same few ms for every engine, and the gain does
  not depend on how much silence an engine happened to add.
"""

from __future__ import annotations

import logging
import math
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audio import MIN_MEASURE_SECONDS, RATE, TARGET_LUFS, AudioError, decode_file, normalize_loudness
from .cache import CacheEntry, RenderCache, cache_key
from .engines import Engine, EngineError, make_engine
from .resample import Float32Array
from .trim import trim_silence

log = logging.getLogger(__name__)

#: how long an online engine's failure is remembered before it is tried again
BREAKER_SECONDS = 60.0


class RenderError(Exception):
    """No engine could produce speech; the message is for the operator (Vietnamese)."""


@dataclass
class Rendered:
    audio: Float32Array | CacheEntry  # a cache hit is decoded only when its samples are asked for
    engine: str
    key: str
    from_cache: bool
    fallback: bool
    text: str  # the spoken (normalized) text
    #: why the preferred engine was not used (None when it was)
    fallback_reason: str | None = None

    @property
    def samples(self) -> Float32Array:
        """The levelled audio (float32 mono at RATE), decoded from the cache on first use."""
        if isinstance(self.audio, CacheEntry):
            self.audio = self.audio.samples
        return self.audio


@dataclass
class _EngineHealth:
    last_ok: float | None = None
    last_failed: float | None = None
    last_error: str | None = None
    down_until: float = 0.0  # monotonic; breaker open while now < down_until
    failures: int = 0


@dataclass
class _Stats:
    synthesized: int = 0
    from_cache: int = 0
    fallback: int = 0
    per_engine: dict[str, int] = field(default_factory=dict)


def _engines_from(voice: Sequence[str]) -> list[Engine]:
    """Engines for the specs; an unknown spec is skipped (the loader already warned) unless none is left."""
    engines: list[Engine] = []
    problems: list[str] = []
    for spec in voice:
        try:
            engines.append(make_engine(spec))
        except ValueError as exc:
            problems.append(str(exc))
            log.warning("Bỏ qua giọng đọc %r: %s", spec, exc)
    if not engines:
        raise ValueError("; ".join(problems) or "chưa khai báo giọng đọc nào (defaults.voice trống)")
    return engines


class SpeechRenderer:
    """Thread-safe renderer shared by the daemon's worker, the API and the CLI."""

    def __init__(
        self,
        cache_dir: Path,
        voice: Sequence[str] = ("gtts", "espeak"),
        abbreviations: Mapping[str, str] | None = None,
        online_timeout: float = 10.0,
        *,
        engines: Sequence[Engine] | None = None,
        breaker_seconds: float = BREAKER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.cache = RenderCache(Path(cache_dir))
        self.engines: list[Engine] = list(engines) if engines is not None else _engines_from(voice)
        self._lock = threading.Lock()
        self.abbreviations = abbreviations  # also resets the memo of normalized texts
        self.online_timeout = online_timeout
        self.breaker_seconds = breaker_seconds
        self._clock = clock
        self._key_locks: dict[str, threading.Lock] = {}
        self._health = {e.name: _EngineHealth() for e in self.engines}
        self.stats = _Stats()

    # -- public -------------------------------------------------------------------------

    def spoken_text(self, text: str) -> str:
        """The text as the engines will read it (normalized)."""
        from .normalize import normalize

        with self._lock:
            memo = self._spoken.get(text)
        if memo is None:
            memo = normalize(text, self.abbreviations)
            with self._lock:
                if len(self._spoken) > 512:
                    self._spoken.clear()
                self._spoken[text] = memo
        return memo

    @property
    def abbreviations(self) -> Mapping[str, str] | None:
        return self._abbreviations

    @abbreviations.setter
    def abbreviations(self, value: Mapping[str, str] | None) -> None:
        """New abbreviations (operator edited the file): forget every memoised reading."""
        with self._lock:
            self._abbreviations = value
            self._spoken: dict[str, str] = {}

    def render(self, text: str, *, offline: bool = False, deadline: float | None = None) -> Rendered:
        """Speech for ``text`` (levelled to TARGET_LUFS, 48 kHz mono); raises :class:`RenderError`."""
        spoken = self.spoken_text(text).strip()
        if not spoken:
            raise RenderError("văn bản trống sau khi chuẩn hoá, không có gì để đọc")
        errors: list[str] = []
        for index, engine in enumerate(self.engines):
            key = cache_key(spoken, engine.name, engine.options())
            with self._key_lock(key):
                entry = self.cache.get(key)
                if entry is not None:
                    self._count(engine.name, cached=True, fallback=index > 0)
                    return Rendered(entry, engine.name, key, True, index > 0, spoken, "; ".join(errors) or None)
                if engine.online and offline:
                    errors.append(f"{engine.name}: bỏ qua (chế độ ngoại tuyến)")
                    continue
                if engine.online and self._breaker_open(engine.name):
                    errors.append(f"{engine.name}: {self._health[engine.name].last_error}")
                    continue
                try:
                    samples = self._synthesize(engine, spoken, deadline)
                except EngineError as exc:
                    # A miss under an ad-hoc's short deadline says the voice is slow, not down:
                    # only a failure with the full timeout keeps the online voice off for a while.
                    self._record_failure(engine, str(exc), trip=deadline is None or deadline >= self.online_timeout)
                    errors.append(f"{engine.name}: {exc}")
                    # info, not warning: callers report fallbacks (Rendered.fallback_reason, health())
                    log.info("Giọng đọc %s không dùng được: %s", engine.name, exc)
                    continue
                self._record_ok(engine.name)
                meta = {"engine": engine.name, "options": engine.options(), "text": spoken}
                try:
                    self.cache.put(key, samples, meta)
                except OSError as exc:  # a full disk must not stop the broadcast
                    log.warning("Không ghi được bộ nhớ đệm giọng đọc %s: %s", key, exc)
                self._count(engine.name, cached=False, fallback=index > 0)
                return Rendered(samples, engine.name, key, False, index > 0, spoken, "; ".join(errors) or None)
        raise RenderError("không giọng đọc nào tạo được âm thanh — " + "; ".join(errors))

    def prepare(self, text: str, *, offline: bool = False) -> bool:
        """Make sure ``text`` is in the cache, as :meth:`render` would find it; True when the fallback.

        The pre-render's path: an entry already cached is verified, never decoded, so preparing a
        whole campaign does not pull ten minutes of audio through the heap.
        """
        spoken = self.spoken_text(text).strip()
        for index, engine in enumerate(self.engines):
            key = cache_key(spoken, engine.name, engine.options())
            with self._key_lock(key):  # not while another thread writes this entry
                found = bool(spoken) and self.cache.has(key)
            if found:
                self._count(engine.name, cached=True, fallback=index > 0)
                return index > 0
            if engine.online and (offline or self._breaker_open(engine.name)):
                continue  # render() would skip it too
            break  # this engine would synthesize: let render() do exactly that
        return self.render(text, offline=offline).fallback

    def health(self) -> dict[str, dict[str, object]]:
        """Per engine: online?, last ok/failed (epoch seconds), last error, reachable guess."""
        now = self._clock()
        with self._lock:
            report: dict[str, dict[str, object]] = {}
            for engine in self.engines:
                h = self._health[engine.name]
                if h.last_ok is None and h.last_failed is None:
                    reachable = None
                else:
                    reachable = (h.last_failed is None) or (h.last_ok is not None and h.last_ok > h.last_failed)
                report[engine.name] = {
                    "online": engine.online,
                    "last_ok": h.last_ok,
                    "last_failed": h.last_failed,
                    "last_error": h.last_error,
                    "reachable": reachable,
                    "retry_in": max(0.0, round(h.down_until - now, 1)) if h.down_until > now else 0.0,
                }
            return report

    # -- internals ------------------------------------------------------------------------

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            lock = self._key_locks.get(key)
            if lock is None:
                lock = self._key_locks[key] = threading.Lock()
            return lock

    def _breaker_open(self, name: str) -> bool:
        with self._lock:
            return self._clock() < self._health[name].down_until

    def _record_failure(self, engine: Engine, message: str, trip: bool = True) -> None:
        with self._lock:
            h = self._health[engine.name]
            h.last_failed = time.time()
            h.last_error = message
            h.failures += 1
            if engine.online and trip:
                h.down_until = self._clock() + self.breaker_seconds

    def _record_ok(self, name: str) -> None:
        with self._lock:
            h = self._health[name]
            h.last_ok = time.time()
            h.down_until = 0.0

    def _count(self, name: str, *, cached: bool, fallback: bool) -> None:
        with self._lock:
            if cached:
                self.stats.from_cache += 1
            else:
                self.stats.synthesized += 1
            if fallback:
                self.stats.fallback += 1
            self.stats.per_engine[name] = self.stats.per_engine.get(name, 0) + 1

    def _synthesize(self, engine: Engine, text: str, deadline: float | None) -> Float32Array:
        timeout = None
        if engine.online:
            timeout = self.online_timeout if deadline is None else min(self.online_timeout, deadline)
        self.cache.directory.mkdir(parents=True, exist_ok=True)
        suffix = getattr(engine, "suffix", ".audio")
        with tempfile.TemporaryDirectory(prefix=".raw-", dir=self.cache.directory) as tmp:
            raw = Path(tmp) / f"speech{suffix}"
            engine.synthesize(text, raw, timeout=timeout)
            try:
                samples = decode_file(raw, RATE)
            except AudioError as exc:
                raise EngineError(f"âm thanh {engine.name} trả về không đọc được: {exc}") from None
        levelled = _level(trim_silence(samples, RATE))
        if levelled.size == 0 or not math.isfinite(float(np.max(np.abs(levelled)))) or not np.any(levelled):
            raise EngineError(f"{engine.name} trả về âm thanh im lặng")
        return levelled


def _level(samples: Float32Array) -> Float32Array:
    """Level a trimmed render to TARGET_LUFS, even one shorter than the meter's 400 ms block.

    A single syllable with its pads can be shorter than BS.1770 can measure (the engine's own
    tail used to make up the difference). It is levelled as if silence followed it up to the
    meter's minimum, and that silence (still zeros after gain and limiting) is cut off again.
    """
    short = int(MIN_MEASURE_SECONDS * RATE) + 1 - samples.size
    if short <= 0:
        return normalize_loudness(samples, TARGET_LUFS)
    padded = np.concatenate([samples, np.zeros(short, dtype=np.float32)])
    return normalize_loudness(padded, TARGET_LUFS)[: samples.size]

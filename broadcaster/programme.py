"""Assemble what airs: chime, the items, repeated with gaps, and a silent tail.

A :class:`Programme` is a list of :class:`Part` objects the player streams in order. With an
executor, speech renders in the background: the chime part is ready at once, so the player
can start the chime while the speech is still being synthesized. Every part is levelled on its
own (speech and audio to TARGET_LUFS, chime to CHIME_LUFS, true peaks below −1 dBFS), so the
whole programme lands on target and no engine is louder than another.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import audiofile
from .schedule.model import Item, ItemKind, has_relay
from .speech.audio import (
    CHIME_LUFS,
    RATE,
    TARGET_LUFS,
    AudioError,
    normalize_loudness,
    silence,
)
from .speech.render import SpeechRenderer

#: silence after the last word, so a sound card closing early does not cut it
TAIL_SECONDS = 0.8
#: short breath between two items of the same set
ITEM_PAUSE_SECONDS = 0.5


class ProgrammeError(Exception):
    """A part could not be produced; the message is for the operator (Vietnamese)."""


@dataclass
class _Result:
    samples: np.ndarray
    engine: str | None = None
    fallback: bool = False


class _Job:
    """One rendering, shared by every repeat of the same item (rendered once)."""

    def __init__(self, fn: Callable[[], _Result], executor: concurrent.futures.Executor | None):
        if executor is not None:
            self._future = executor.submit(fn)
        else:
            self._future = concurrent.futures.Future()
            try:
                self._future.set_result(fn())
            except Exception as exc:  # noqa: BLE001 - surfaced when the part's audio is asked for
                self._future.set_exception(exc)

    @classmethod
    def done_with(cls, result: _Result) -> _Job:
        return cls(lambda: result, None)

    def result(self, timeout: float | None) -> _Result:
        return self._future.result(timeout)

    def done(self) -> bool:
        return self._future.done()


@dataclass(eq=False)
class Part:
    """One piece of the programme: ``kind`` is chime | speech | audio | silence."""

    label: str
    kind: str
    _job: _Job = field(repr=False)
    #: a live part (a relay): blocks come from this as they arrive, ``audio()`` is empty
    stream: Callable[[threading.Event], Iterator[np.ndarray]] | None = field(default=None, repr=False)

    def audio(self, timeout: float | None = None) -> np.ndarray:
        """Levelled samples; blocks until rendered and raises if rendering failed."""
        return self._job.result(timeout).samples

    @property
    def ready(self) -> bool:
        return self._job.done()

    @property
    def engine(self) -> str | None:
        """Engine that spoke this part ("gtts"/"espeak"), None for non-speech or not yet ready."""
        if not self._job.done():
            return None
        try:
            return self._job.result(0).engine
        except Exception:  # noqa: BLE001 - a failed part has no engine
            return None

    @property
    def fallback(self) -> bool:
        if not self._job.done():
            return False
        try:
            return self._job.result(0).fallback
        except Exception:  # noqa: BLE001 - a failed part is not a fallback
            return False


@dataclass
class Programme:
    rate: int
    parts: list[Part]
    title: str = ""

    def samples(self, timeout: float | None = None) -> np.ndarray:
        """The whole programme as one buffer (waits for every part)."""
        chunks = [part.audio(timeout) for part in self.parts]
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)

    def duration(self) -> float:
        """Length in seconds (waits for every part)."""
        return sum(len(part.audio()) for part in self.parts) / self.rate

    def engines(self) -> dict[str, str]:
        """Item label → engine that spoke it (waits for speech parts)."""
        result: dict[str, str] = {}
        for part in self.parts:
            if part.kind == "speech":
                part.audio()
                if part.engine:
                    result[part.label] = part.engine
        return result

    def fallbacks(self) -> list[str]:
        """Labels of speech parts spoken by a fallback engine (after rendering)."""
        return [p.label for p in self.parts if p.kind == "speech" and p.fallback]


# -- chime and audio files, levelled once and memoised ------------------------------------

_MEMO: OrderedDict[tuple, np.ndarray] = OrderedDict()
_MEMO_LOCK = threading.Lock()
_MEMO_SIZE = 16


def load_levelled(path: Path, target_lufs: float) -> np.ndarray:
    """Decode ``path`` and level it to ``target_lufs``; memoised by path, mtime and size."""
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError:
        raise ProgrammeError(f"không tìm thấy tệp âm thanh {path}") from None
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, target_lufs)
    with _MEMO_LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key]
    try:
        samples = normalize_loudness(audiofile.decode(path, RATE), target_lufs)
    except (AudioError, audiofile.AudioFileError) as exc:
        raise ProgrammeError(str(exc)) from None
    samples.setflags(write=False)  # shared between programmes
    with _MEMO_LOCK:
        _MEMO[key] = samples
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return samples


def relay_stream(
    item: Item, renderer: SpeechRenderer, offline: bool
) -> Callable[[threading.Event], Iterator[np.ndarray]]:
    """The live part of a relay: the upper-level stream for ``item.seconds``, or its fallback."""

    def blocks(stop: threading.Event) -> Iterator[np.ndarray]:
        from .relay import relay_blocks

        fallback = None
        if item.fallback is not None:
            stand_in = item.fallback

            def fallback() -> np.ndarray:
                return renderer.render(item_text(stand_in), offline=offline).samples  # levelled by the renderer

        yield from relay_blocks(item, RATE, stop, fallback=fallback)

    return blocks


def speech_items(schedule) -> list[Item]:
    """Unique script/text items of every slot (disabled ones too), in schedule order."""
    seen: dict[tuple, Item] = {}
    for slot in schedule.slots:
        for item in slot.play:
            if item.kind is ItemKind.RELAY and item.fallback is not None:
                item = item.fallback  # noqa: PLW2901 - a relay's stand-in is rendered ahead like any script
            if item.kind in (ItemKind.SCRIPT, ItemKind.TEXT):
                seen.setdefault((item.kind, item.value), item)
    return list(seen.values())


def item_text(item: Item) -> str:
    """The words of a script or text item (scripts are read as UTF-8; raises ProgrammeError)."""
    if item.kind is ItemKind.TEXT:
        return item.value
    if item.path is None:
        raise ProgrammeError(f"bài '{item.value}' chưa có đường dẫn tệp")
    from broadcaster.fsutil import UnsafePath, read_text_inside

    path = Path(item.path)
    try:
        # below the station's folder, following no link (a script planted as a link to a secret
        # would otherwise be read out on the loudspeakers)
        return read_text_inside(path.parent.parent, path)
    except UnsafePath as exc:
        raise ProgrammeError(f"không đọc bài '{item.value}': {exc}") from None
    except FileNotFoundError:
        raise ProgrammeError(f"không tìm thấy tệp bài đọc {item.path}") from None
    except UnicodeDecodeError:
        raise ProgrammeError(f"tệp {item.path} không phải văn bản UTF-8; hãy lưu lại với mã UTF-8") from None
    except OSError as exc:
        raise ProgrammeError(f"không đọc được tệp {item.path}: {exc}") from None


def _item_job_fn(item: Item, renderer: SpeechRenderer, offline: bool, deadline: float | None) -> Callable[[], _Result]:
    if item.kind is ItemKind.RELAY:
        return lambda: _Result(np.zeros(0, np.float32))  # live: its audio comes from ``Part.stream``
    if item.kind is ItemKind.AUDIO:

        def run_audio() -> _Result:
            if item.path is None:
                raise ProgrammeError(f"tệp âm thanh '{item.value}' chưa có đường dẫn")
            return _Result(load_levelled(item.path, TARGET_LUFS))

        return run_audio

    def run_speech() -> _Result:
        rendered = renderer.render(item_text(item), offline=offline, deadline=deadline)
        return _Result(rendered.samples, rendered.engine, rendered.fallback)

    return run_speech


def build_programme(
    items: Sequence[Item],
    *,
    renderer: SpeechRenderer,
    chime: Path | None,
    repeat: int,
    gap_seconds: float,
    title: str = "",
    executor: concurrent.futures.Executor | None = None,
    offline: bool = False,
    deadline: float | None = None,
    tail_seconds: float = TAIL_SECONDS,
    item_pause: float = ITEM_PAUSE_SECONDS,
) -> Programme:
    """Chime, then the items, the set ``repeat`` times with ``gap_seconds`` between sets, then a tail.

    With an ``executor`` speech renders in the background (parts resolve when asked);
    without one everything renders now. The chime is decoded here, so it is always ready.
    """
    if has_relay(items):
        repeat, chime = 1, None  # the upper-level station brings its own (plan.py says the same)
    repeat = max(1, int(repeat))
    parts: list[Part] = []
    if chime is not None:
        parts.append(Part("chime", "chime", _Job.done_with(_Result(load_levelled(chime, CHIME_LUFS)))))

    jobs: dict[tuple, _Job] = {}
    for item in items:  # submit in airing order so the first item is ready first
        ident = (item.kind, item.value, str(item.path))
        if ident not in jobs:
            jobs[ident] = _Job(_item_job_fn(item, renderer, offline, deadline), executor)

    for n in range(repeat):
        if n > 0 and gap_seconds > 0:
            parts.append(Part("gap", "silence", _Job.done_with(_Result(silence(gap_seconds)))))
        for i, item in enumerate(items):
            if i > 0 and item_pause > 0:
                parts.append(Part("pause", "silence", _Job.done_with(_Result(silence(item_pause)))))
            job = jobs[(item.kind, item.value, str(item.path))]
            if item.kind is ItemKind.RELAY:
                parts.append(Part(item.label, "relay", job, stream=relay_stream(item, renderer, offline)))
                continue
            kind = "audio" if item.kind is ItemKind.AUDIO else "speech"
            parts.append(Part(item.label, kind, job))
    parts.append(Part("tail", "silence", _Job.done_with(_Result(silence(max(0.5, tail_seconds))))))
    return Programme(rate=RATE, parts=parts, title=title)

"""Content-addressed cache of finished speech audio (``audio/cache/`` beside the schedule).

A key is the sha256 of everything that changes the sound: spoken text, engine, engine
options, output rate, loudness target and :data:`FORMAT_VERSION`. Each entry is the final
trimmed, loudness-levelled 48 kHz mono WAV plus a JSON sidecar that records the audio's own sha256;
an entry that does not verify (truncated, corrupt, half-written) is deleted and rendered
again — it is never played.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from broadcaster.fsutil import atomic_file

from .audio import RATE, TARGET_LUFS, write_wav
from .resample import Float32Array

#: bump when the way audio is produced or stored changes, to invalidate old entries.
#: 2: renders are trimmed to fixed silence pads (:mod:`broadcaster.speech.trim`) before
#: levelling; a version-1 entry still carries the engine's own silence (~72 ms before the
#: first word). A new key costs nothing on a warm hit, unlike trimming at load; the old
#: files are simply never asked for again.
FORMAT_VERSION = 2


def cache_key(
    text: str, engine: str, options: Mapping[str, object], rate: int = RATE, target_lufs: float = TARGET_LUFS
) -> str:
    """sha256 (hex) of everything that decides what the cached audio sounds like."""
    payload = json.dumps(
        {"v": FORMAT_VERSION, "text": text, "engine": engine, "options": options, "rate": rate, "lufs": target_lufs},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    key: str
    pcm: npt.NDArray[np.int16]  # exactly as stored
    meta: dict[str, Any]  # the JSON sidecar

    @property
    def samples(self) -> Float32Array:
        """float32 in [-1, 1): converted on demand (a pre-render that only checks the entry never pays)."""
        out = self.pcm.astype(np.float32)
        out *= np.float32(1 / 32768)
        return out


class RenderCache:
    """Verified read/write of cache entries; safe to share between threads and processes."""

    def __init__(self, directory: Path, rate: int = RATE):
        self.directory = Path(directory)
        self.rate = rate
        # key → (inode, size, mtime_ns) of the file as last verified or written by this
        # process: unchanged files skip the sha256 (any rewrite changes the stat and is
        # checked again; every new process checks each entry once).
        self._verified: dict[str, tuple[int, int, int]] = {}

    def audio_path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.wav"

    def meta_path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def discard(self, key: str) -> None:
        self._verified.pop(key, None)
        for path in (self.audio_path(key), self.meta_path(key)):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def get(self, key: str) -> CacheEntry | None:
        """The verified entry, or None (a bad entry is deleted so it gets rendered again)."""
        import soundfile as sf

        audio, meta_file = self.audio_path(key), self.meta_path(key)
        if not audio.exists() and not meta_file.exists():
            return None
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            with open(audio, "rb") as fh:  # read once: the checksum and the decode see the same bytes
                st = os.fstat(fh.fileno())
                data = fh.read()
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            if meta.get("key") != key:
                raise ValueError("sidecar of another entry")
            if self._verified.get(key) != stamp:
                if meta.get("sha256") != hashlib.sha256(data).hexdigest():
                    raise ValueError("checksum mismatch")
                self._verified[key] = stamp
            # The cache writes PCM_16; decoding to int16 and scaling in numpy is several times
            # faster than libsndfile's own float conversion (this is the warm-render hot path).
            pcm, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=False)
            if rate != self.rate or pcm.ndim != 1 or pcm.size == 0:
                raise ValueError("unexpected audio format")
        except (OSError, ValueError, RuntimeError, sf.LibsndfileError):
            self.discard(key)
            return None
        return CacheEntry(key=key, pcm=pcm, meta=meta)

    def has(self, key: str) -> bool:
        """Whether a verified entry exists, without decoding it (the pre-render's question).

        The checksum is computed in chunks, so a long entry costs no memory; an entry already
        verified by this process and unchanged since is not read at all. A bad entry is deleted.
        """
        audio, meta_file = self.audio_path(key), self.meta_path(key)
        try:
            st = audio.stat()
        except FileNotFoundError:
            return False
        except OSError:
            return False
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._verified.get(key) == stamp and meta_file.exists():
            return True
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            with open(audio, "rb") as fh:
                digest = hashlib.file_digest(fh, "sha256").hexdigest()
            if meta.get("key") != key or meta.get("sha256") != digest:
                raise ValueError("entry does not verify")
        except (OSError, ValueError):
            self.discard(key)
            return False
        self._verified[key] = stamp
        return True

    def put(self, key: str, samples: Float32Array, meta: Mapping[str, object]) -> None:
        """Store audio, then its sidecar (both atomic: an entry without a sidecar is ignored)."""
        audio = self.audio_path(key)
        write_wav(audio, samples, self.rate)
        record = dict(meta)
        record.update(
            key=key,
            format=FORMAT_VERSION,
            sha256=_sha256_file(audio),
            rate=self.rate,
            duration=round(len(samples) / self.rate, 3),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        meta_file = self.meta_path(key)
        with atomic_file(meta_file, "w", encoding="utf-8") as fh:
            json.dump(record, fh, ensure_ascii=False, indent=1)

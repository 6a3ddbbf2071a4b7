"""PortAudio, held by one object: control calls one at a time, with a timeout, and a re-scan.

PortAudio is one per process (one C library, one device list), so there is one host per
process (:meth:`PortAudioHost.shared`); sinks and device listing go through it. PortAudio
reads the device list once, at initialisation, so after a failure the host re-initialises it
before the next use — through PortAudio's own public C functions ``Pa_Terminate`` /
``Pa_Initialize`` (the same library sounddevice loaded), not sounddevice's private helpers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any, ClassVar, TypeVar

from broadcaster.playout.sink import SinkError

log = logging.getLogger("broadcaster.playout")

T = TypeVar("T")

# Opening/querying a device normally takes well under a second.
CALL_TIMEOUT = 4.0

HUNG = (
    "Hệ thống âm thanh không phản hồi (card âm thanh hoặc dịch vụ âm thanh PulseAudio/PipeWire bị treo). "
    "Kiểm tra card âm thanh và amply; nếu vẫn lỗi, khởi động lại dịch vụ âm thanh hoặc khởi động lại máy."
)


def import_sounddevice() -> ModuleType:
    """Import sounddevice (initialises PortAudio) with a Vietnamese error if PortAudio is missing."""
    try:
        import sounddevice as sd
    except OSError as exc:  # libportaudio2 not installed
        raise SinkError(
            "Không tải được thư viện âm thanh PortAudio. Cài gói 'libportaudio2' (sudo apt install libportaudio2).",
            str(exc),
        ) from exc
    module: ModuleType = sd
    return module


class PortAudioHost:
    """The process's PortAudio: serialised control calls, a dirty flag, re-initialisation."""

    _shared: ClassVar[PortAudioHost | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._busy = threading.Lock()  # held by whichever thread is inside a PortAudio control call
        self._doing = ""  # that call, for error details
        self.dirty = False  # a stream failed or a device was missing: re-initialise before the next use
        self._lib: Any = None

    @classmethod
    def shared(cls) -> PortAudioHost:
        """The one host of this process (PortAudio itself is one per process)."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    @property
    def sd(self) -> ModuleType:
        """The sounddevice module (imported on first use)."""
        return import_sounddevice()

    def mark_dirty(self) -> None:
        """Re-scan devices before the next use (a card or sound server may come back)."""
        self.dirty = True

    def call(self, fn: Callable[[], T], what: str, timeout: float = CALL_TIMEOUT) -> T:
        """Run one PortAudio control call on its own thread, one at a time, waiting at most ``timeout``.

        A call into a hung sound server can block forever. Such a call is abandoned, but it keeps
        the lock until it returns, so PortAudio is never entered twice at once (that corrupts its
        memory) and later calls fail fast with a clear message instead of hanging.
        """
        t0 = time.monotonic()
        if not self._busy.acquire(timeout=timeout):
            raise SinkError(HUNG, f"PortAudio still busy with {self._doing!r} after {timeout} s")
        self._doing = what
        box: dict[str, Any] = {}
        done = threading.Event()

        def target() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                box["error"] = exc
            finally:
                self._busy.release()
                done.set()

        threading.Thread(target=target, name=f"portaudio-{what}", daemon=True).start()
        if not done.wait(max(0.05, timeout - (time.monotonic() - t0))):
            self.mark_dirty()
            self._no_terminate_at_exit()
            raise SinkError(HUNG, f"{what} did not return within {timeout} s")
        if "error" in box:
            raise box["error"]
        return box["value"]  # type: ignore[no-any-return]

    def _no_terminate_at_exit(self) -> None:
        """After an abandoned call, let the OS release PortAudio at exit instead of ``Pa_Terminate``.

        sounddevice terminates PortAudio in an ``atexit`` handler. After a call into a hung sound
        server was abandoned, PortAudio's internal mutexes may still be held or its streams
        half-open, and ``Pa_Terminate`` then aborts the process (an assertion in
        ``PaUnixMutex_Terminate``): a clean stop would exit with SIGABRT. Process exit closes
        every file and socket anyway.
        """
        import atexit

        handler = getattr(self.sd, "_exit_handler", None)
        if handler is not None:
            atexit.unregister(handler)

    def refresh_unlocked(self) -> None:
        """Re-initialise PortAudio if marked dirty; call only from inside :meth:`call`."""
        if self.dirty:
            self._reinitialise()

    def _portaudio_lib(self) -> Any:
        # dlopen of the same soname returns the library sounddevice already loaded, so these
        # calls act on the same PortAudio state (its reference-counted init).
        if self._lib is None:
            name = ctypes.util.find_library("portaudio") or "libportaudio.so.2"
            self._lib = ctypes.CDLL(name)
        return self._lib

    def _reinitialise(self) -> None:
        """Restart PortAudio so it sees devices (and sound servers) that came back."""
        self.sd  # noqa: B018 - make sure sounddevice holds its own initialisation first
        lib = self._portaudio_lib()
        lib.Pa_Terminate()  # an error here means "not initialised": fine, we initialise next
        err = int(lib.Pa_Initialize())
        if err != 0:
            lib.Pa_GetErrorText.restype = ctypes.c_char_p
            text = lib.Pa_GetErrorText(err).decode(errors="replace")
            raise SinkError("Không khởi động lại được PortAudio.", f"Pa_Initialize: {text}")
        self.dirty = False
        log.info("Đã khởi động lại PortAudio để dò lại thiết bị âm thanh")

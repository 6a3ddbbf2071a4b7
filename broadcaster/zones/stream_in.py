"""An Icecast/HTTP MP3 stream in: bytes from the network → float32 mono blocks, with low latency.

Used by the receiver beside a thôn's loudspeakers (:mod:`broadcaster.zones.receiver`) and by
the station to relay an upper-level station's stream. No probing, no seconds of buffering:
a tiny HTTP/1.0 client (bounded timeouts on DNS, connect, headers and every read), the MP3
bytes cut to the first real frame header (a listener joining mid-stream gets bytes from the
middle of a frame), and PyAV's parser + decoder fed chunk by chunk.
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import numpy as np
import numpy.typing as npt

from broadcaster.speech.resample import StreamResampler
from broadcaster.zones.mp3 import find_frame_sync

Float32Array = npt.NDArray[np.float32]

#: below this peak (−60 dBFS) a block counts as silence for ``silence_timeout_s``
SILENCE_LEVEL = 0.001
#: bytes without a single decoded frame before we call the stream "not MP3 audio"
NOT_AUDIO_BYTES = 64 * 1024
# Each read waits at most this long, so ``stop`` is noticed quickly; ``timeout_s`` bounds the stall.
READ_SLICE_S = 0.25
MAX_HEADER_BYTES = 16 * 1024
MAX_REDIRECTS = 3
MP3_TYPES = ("audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg", "audio/x-mp3", "application/octet-stream")


class StreamError(Exception):
    """The stream cannot be received; ``str()`` is a Vietnamese reason (+ technical detail)."""

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message} (chi tiết kỹ thuật: {self.detail})" if self.detail else self.message


def _to_mono(frame: Any) -> Float32Array:
    """One decoded PyAV AudioFrame as float32 mono in [-1, 1] (planar or packed, int or float)."""
    a = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        a = a.reshape(-1, channels).T
    if np.issubdtype(a.dtype, np.integer):
        a = a.astype(np.float32) / float(np.iinfo(a.dtype).max + 1)
    return np.ascontiguousarray(a.astype(np.float32).mean(axis=0), dtype=np.float32)


class Mp3Decoder:
    """MP3 bytes in, float32 mono at ``rate`` out; starts at the first confirmed frame header."""

    def __init__(self, rate: int):
        import av

        self.rate = rate
        self._av = av
        self._codec = av.CodecContext.create("mp3", "r")
        self._pending = bytearray()  # bytes before the first frame sync is confirmed
        self._synced = False
        self._resampler: StreamResampler | None = None
        self.source_rate: int | None = None
        self.bytes_skipped = 0  # cut before the first frame header
        self.frames = 0
        self.errors = 0
        # The first frame after a mid-stream join references bytes we never got (MP3's bit
        # reservoir): its audio may be garbage, so it is dropped rather than played.
        self._discard = 1

    def feed(self, data: bytes) -> Float32Array:
        """Decode what ``data`` completes; an empty array when nothing is ready yet."""
        if not self._synced:
            self._pending += data
            at = find_frame_sync(self._pending)
            if at is None:
                keep = min(len(self._pending), 4 * 1441 + 4)  # the longest frame (layer III) + a header
                self.bytes_skipped += len(self._pending) - keep
                del self._pending[:-keep]
                return np.zeros(0, dtype=np.float32)
            self.bytes_skipped += at
            data, self._synced = bytes(self._pending[at:]), True
            self._pending.clear()
        out: list[Float32Array] = []
        try:
            packets = self._codec.parse(data)
        except self._av.error.FFmpegError:
            self.errors += 1
            return np.zeros(0, dtype=np.float32)
        for packet in packets:
            try:
                decoded = self._codec.decode(packet)
            except self._av.error.FFmpegError:
                self.errors += 1  # one damaged frame: skip it, the next one decodes
                continue
            for frame in decoded:
                self.frames += 1
                mono = self._resample(_to_mono(frame), int(frame.sample_rate))
                if self._discard > 0:
                    self._discard -= 1
                    continue
                out.append(mono)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def _resample(self, mono: Float32Array, source_rate: int) -> Float32Array:
        if source_rate != self.source_rate:
            self.source_rate = source_rate
            self._resampler = None if source_rate == self.rate else StreamResampler(source_rate, self.rate)
        return mono if self._resampler is None else self._resampler.push(mono)


def check_url(url: str, what: str = "luồng") -> str:
    """``url`` if it is an http(s) address with a host; raises StreamError (Vietnamese) otherwise.

    ``what`` names the address in the message ("luồng", "trạm"…).
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StreamError(
            f"Địa chỉ {what} '{url}' không hợp lệ: cần dạng http://MÁY:CỔNG/… (ví dụ http://192.168.1.10:8000/thon-dong).",
            "need http:// or https:// with a host",
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise StreamError(f"Cổng trong địa chỉ {what} '{url}' không hợp lệ.", str(exc)) from exc
    return url.strip()


def _resolve(host: str, port: int, timeout: float) -> Any:
    """getaddrinfo with a deadline (the resolver itself ignores socket timeouts)."""
    result: list[Any] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            result.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            failure.append(exc)

    thread = threading.Thread(target=work, name="stream-dns", daemon=True)
    thread.start()
    thread.join(timeout)
    if failure or not result:
        detail = str(failure[0]) if failure else f"no answer within {timeout:.0f} s"
        raise StreamError(f"Không tìm thấy máy chủ '{host}'. Kiểm tra địa chỉ và mạng.", detail)
    return result[0]


class StreamReader:
    """Receives one HTTP MP3 stream as float32 mono blocks at ``rate``.

    ``timeout_s`` bounds DNS, connect, the response headers and every stall of the data;
    ``silence_timeout_s`` (None: never) turns a stream that carries only silence into an error.
    Counters (``bytes_received``, ``connected_since``) survive reconnections for status pages.
    """

    def __init__(self, url: str, *, rate: int, timeout_s: float = 5.0, silence_timeout_s: float | None = None):
        self.url = check_url(url)
        self.rate = rate
        self.timeout_s = timeout_s
        self.silence_timeout_s = silence_timeout_s
        self.bytes_received = 0
        self.connected_since: datetime | None = None
        self.content_type: str | None = None

    def blocks(self, stop: threading.Event) -> Iterator[Float32Array]:
        """Connect and yield decoded blocks until ``stop`` is set; raises StreamError when the stream fails."""
        self.connected_since = None
        sock, body = self._connect(self.url, MAX_REDIRECTS)
        try:
            self.connected_since = datetime.now(UTC)
            yield from self._decode(sock, body, stop)
        finally:
            self.connected_since = None
            sock.close()

    def _decode(self, sock: socket.socket, first: bytes, stop: threading.Event) -> Iterator[Float32Array]:
        decoder = Mp3Decoder(self.rate)
        now = time.monotonic()
        last_data = last_sound = now
        received = 0
        data = first
        while not stop.is_set():
            if data:
                received += len(data)
                self.bytes_received += len(data)
                last_data = time.monotonic()
                block = decoder.feed(data)
                if decoder.frames == 0 and received > NOT_AUDIO_BYTES:
                    raise StreamError(
                        f"'{self.url}' gửi dữ liệu nhưng không phải âm thanh MP3. Kiểm tra địa chỉ điểm phát (mount).",
                        f"{received} bytes, {decoder.errors} decode errors, Content-Type {self.content_type}",
                    )
                if len(block):
                    if float(np.max(np.abs(block))) > SILENCE_LEVEL:
                        last_sound = last_data
                    yield block
            now = time.monotonic()
            if now - last_data > self.timeout_s:
                raise StreamError(f"Luồng '{self.url}' ngừng gửi dữ liệu hơn {self.timeout_s:g} giây.", "read stalled")
            if self.silence_timeout_s is not None and now - last_sound > self.silence_timeout_s:
                raise StreamError(
                    f"Luồng '{self.url}' chỉ có im lặng suốt {self.silence_timeout_s:g} giây: "
                    "trạm phát có thể đã tắt micro/nguồn âm thanh.",
                    "silence",
                )
            data = self._recv(sock)

    def _recv(self, sock: socket.socket) -> bytes:
        try:
            data = sock.recv(16384)
        except TimeoutError:
            return b""
        except OSError as exc:
            raise StreamError(f"Mất kết nối tới '{self.url}'.", str(exc)) from exc
        if not data:
            raise StreamError(f"Máy chủ đã đóng luồng '{self.url}' (trạm ngừng phát hoặc máy chủ khởi động lại).")
        return data

    def _connect(self, url: str, redirects: int) -> tuple[socket.socket, bytes]:
        """Open the stream; returns the socket and the body bytes read with the headers."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        deadline = time.monotonic() + self.timeout_s
        family, kind, proto, _, address = _resolve(host, port, self.timeout_s)
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            sock.connect(address)
            if parts.scheme == "https":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            sock.sendall(self._request(parts))
            status, headers, body = self._read_head(sock, deadline)
        except StreamError:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            raise StreamError(
                f"Không kết nối được tới '{url}'. Kiểm tra mạng, địa chỉ và máy chủ Icecast của trạm.", str(exc)
            ) from exc
        if status in (301, 302, 303, 307, 308) and headers.get("location") and redirects > 0:
            sock.close()
            return self._connect(urljoin(url, headers["location"]), redirects - 1)
        try:
            self._check_response(url, status, headers)
        except StreamError:
            sock.close()
            raise
        sock.settimeout(READ_SLICE_S)
        return sock, body

    @staticmethod
    def _request(parts: Any) -> bytes:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        lines = [
            f"GET {path} HTTP/1.0",  # 1.0: the server never answers chunked
            f"Host: {parts.netloc.rpartition('@')[2]}",
            "User-Agent: loa-xa-receiver",
            "Accept: */*",
            "Icy-MetaData: 0",  # no in-band metadata between the MP3 bytes
            "Connection: close",
        ]
        if parts.username is not None:
            auth = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            lines.append("Authorization: Basic " + base64.b64encode(auth).decode())
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _read_head(self, sock: socket.socket, deadline: float) -> tuple[int, dict[str, str], bytes]:
        buf = b""
        while b"\r\n\r\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or len(buf) > MAX_HEADER_BYTES:
                raise StreamError(f"Máy chủ '{self.url}' không trả lời đúng cách (HTTP).", "no response headers")
            sock.settimeout(left)
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                continue  # the deadline check above reports it
            if not chunk:
                raise StreamError(f"Máy chủ '{self.url}' đóng kết nối ngay khi được hỏi.", "empty response")
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = lines[0].split()
        if len(fields) < 2 or not fields[1].isdigit():
            raise StreamError(f"Máy chủ '{self.url}' không trả lời đúng cách (HTTP).", lines[0][:100])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return int(fields[1]), headers, body

    def _check_response(self, url: str, status: int, headers: dict[str, str]) -> None:
        if status == 404:
            raise StreamError(
                f"Máy chủ không có điểm phát '{urlsplit(url).path}' ({url}). "
                "Kiểm tra địa chỉ, hoặc trạm chưa phát tới điểm này.",
                "HTTP 404",
            )
        if status in (401, 403):
            raise StreamError(f"Máy chủ từ chối nghe '{url}' (cần tên/mật khẩu đúng).", f"HTTP {status}")
        if status != 200:
            raise StreamError(f"Máy chủ trả lỗi khi mở '{url}'.", f"HTTP {status}")
        self.content_type = headers.get("content-type", "").split(";")[0].strip().lower() or None
        if self.content_type is not None and self.content_type not in MP3_TYPES:
            raise StreamError(
                f"'{url}' không phải luồng âm thanh MP3 (máy chủ gửi '{self.content_type}'). "
                "Kiểm tra địa chỉ điểm phát (mount).",
                f"Content-Type {self.content_type}",
            )

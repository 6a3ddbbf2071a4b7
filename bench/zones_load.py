"""Helpers of the zones benchmark (bench/zones.py): many plain listeners, a network that can be cut.

``python -m bench.zones_load --seconds S URL…`` (with ``--per-mount N``) opens N plain HTTP
listeners per Icecast mount in one process (non-blocking sockets, one selector: no decoding,
no sound card), reads for S seconds and prints one JSON line: how many listeners got an
answer and how many bytes each received. That is what 200 receivers cost the station and
Icecast, without 200 sound cards.

:class:`NetCut` puts a receiver behind a real link that can be cut: a network namespace joined
to the host by a veth pair. Setting the host end down makes the link silently drop every packet
(the receiver's TCP connection stalls, its reconnects time out), as an unplugged cable or a dead
radio link does; setting it up again is "the network is back". Icecast listens on 127.0.0.1
only, so a small TCP relay on the host end of the veth forwards to it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np


def listen(urls: list[str], per_mount: int, seconds: float) -> dict[str, Any]:
    """Hold ``per_mount`` plain listeners on each URL for ``seconds``; what each of them received."""
    sel = selectors.DefaultSelector()
    state: dict[socket.socket, dict[str, Any]] = {}
    for url in urls:
        parts = urlsplit(url)
        for _ in range(per_mount):
            sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=5)
            sock.sendall(
                f"GET {parts.path} HTTP/1.0\r\nHost: {parts.netloc}\r\nUser-Agent: loa-xa-bench\r\n\r\n".encode()
            )
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ)
            state[sock] = {"head": b"", "status": None, "body": 0, "closed": False}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=min(0.5, max(0.0, deadline - time.monotonic()))):
            ready = key.fileobj
            assert isinstance(ready, socket.socket)
            _read_one(ready, state[ready], sel)
    for sock in state:
        sock.close()
    got = [s["body"] for s in state.values()]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "listeners": len(state),
        "answered_200": sum(s["status"] == 200 for s in state.values()),
        "closed_early": sum(s["closed"] for s in state.values()),
        "min_bytes": min(got, default=0),
        "total_bytes": sum(got),
        "seconds": seconds,
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
    }


def _read_one(sock: socket.socket, st: dict[str, Any], sel: selectors.BaseSelector) -> None:
    try:
        data = sock.recv(65536)
    except (BlockingIOError, InterruptedError):
        return
    except OSError:
        data = b""
    if not data:
        st["closed"] = True
        sel.unregister(sock)
        return
    if st["status"] is None:
        st["head"] += data
        if b"\r\n\r\n" not in st["head"]:
            return
        head, _, rest = st["head"].partition(b"\r\n\r\n")
        first = head.split(b"\r\n", 1)[0].split()
        st["status"] = int(first[1]) if len(first) > 1 and first[1].isdigit() else 0
        data = rest
    st["body"] += len(data)


class Relay:
    """Forward TCP connections from ``listen_at`` to ``target`` (threads; bytes copied as they come)."""

    def __init__(self, listen_at: tuple[str, int], target: tuple[str, int]) -> None:
        self.target = target
        self._server = socket.create_server(listen_at)
        self._server.settimeout(0.2)
        self.port = int(self._server.getsockname()[1])
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=3)
            except OSError:
                client.close()
                continue
            self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), name="relay-pump", daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(None)
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        """Stop accepting and close every forwarded connection."""
        self._stop.set()
        self._server.close()
        for s in self._socks:
            s.close()


class NetCut:
    """A network namespace behind a veth pair; ``cut()`` drops every packet, ``restore()`` brings it back.

    Needs root (``ip netns``); everything it creates is named after this process and removed by
    ``close()`` (which is idempotent and never raises).
    """

    def __init__(self) -> None:
        pid = os.getpid()
        self.ns = f"loaxa-bench-{pid}"
        self.host_if, self.ns_if = f"lxh{pid}"[:15], f"lxn{pid}"[:15]
        net = 16 + pid % 200
        self.host_ip, self.ns_ip = f"10.213.{net}.1", f"10.213.{net}.2"
        self.relay: Relay | None = None
        steps = [
            ["ip", "netns", "add", self.ns],
            ["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if],
            ["ip", "link", "set", self.ns_if, "netns", self.ns],
            ["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if],
            ["ip", "link", "set", self.host_if, "up"],
            ["ip", "netns", "exec", self.ns, "ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if],
            ["ip", "netns", "exec", self.ns, "ip", "link", "set", self.ns_if, "up"],
            ["ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up"],
        ]
        try:
            for cmd in steps:
                _ip(cmd)
        except RuntimeError:
            self.close()
            raise

    def forward(self, port: int) -> str:
        """Relay the host end to ``127.0.0.1:port``; the address (host:port) the namespace reaches it by."""
        self.relay = Relay((self.host_ip, 0), ("127.0.0.1", port))
        return f"{self.host_ip}:{self.relay.port}"

    def prefix(self) -> list[str]:
        """Command prefix that runs a program inside the namespace."""
        return ["ip", "netns", "exec", self.ns]

    def cut(self) -> None:
        """Down the host end: the link drops packets both ways (no reset, no error: silence)."""
        _ip(["ip", "link", "set", self.host_if, "down"])

    def restore(self) -> None:
        """Up again: the network is back."""
        _ip(["ip", "link", "set", self.host_if, "up"])

    def close(self) -> None:
        """Remove the relay, the veth pair and the namespace."""
        if self.relay is not None:
            self.relay.close()
            self.relay = None
        for cmd in (["ip", "link", "del", self.host_if], ["ip", "netns", "del", self.ns]):
            subprocess.run(cmd, capture_output=True, timeout=10, check=False)


def _ip(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip()}")


def netns_available() -> str | None:
    """Why a real network cut cannot be made here (None when it can)."""
    if os.geteuid() != 0:
        return "not root"
    try:
        NetCut().close()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None


# -- pieces of the figures (used by bench/zones.py) ------------------------------------------------

LOUD = 10 ** (-40 / 20)  # −40 dBFS: the onset threshold of every audio figure


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``cond`` every 0.2 s; raise RuntimeError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


class Receiver:
    """``broadcaster receive URL`` (product defaults) as a process; ``env`` chooses its sound card."""

    def __init__(self, url: str, env: dict[str, str], logfile: Path, prefix: list[str] | None = None):
        self.logfile = logfile
        cmd = [*(prefix or []), sys.executable, "-m", "broadcaster.cli", "receive", url, "--name", logfile.stem]
        with open(logfile, "wb") as out:
            self.proc = subprocess.Popen(
                cmd,
                env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        """Everything the receiver logged so far."""
        return self.logfile.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, needle: str, timeout: float, start: int = 0) -> None:
        """Until ``needle`` appears in the log at or after character ``start``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text()[start:]:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"receiver: '{needle}' not seen within {timeout} s:\n{self.text()[-2000:]}")

    def stop(self) -> None:
        """SIGTERM (its clean exit), SIGKILL after 5 s."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class Tap:
    """A plain listener decoding a mount in this process: when each decoded block arrived, and its peak."""

    def __init__(self, url: str) -> None:
        from broadcaster.zones.stream_in import StreamReader

        self.reader = StreamReader(url, rate=48000, timeout_s=3)
        self.blocks: list[tuple[float, float]] = []  # (arrival time, peak)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-tap", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from broadcaster.zones.stream_in import StreamError

        try:
            for block in self.reader.blocks(self.stop):
                self.blocks.append((time.time(), float(np.max(np.abs(block))) if len(block) else 0.0))
        except StreamError:
            pass

    def onset_after(self, t: float, within: float) -> float | None:
        """Arrival time of the first loud block in [t, t + within)."""
        return next((at for at, peak in self.blocks if t <= at < t + within and peak > LOUD), None)

    def close(self) -> None:
        """Stop reading (bounded join)."""
        self.stop.set()
        self.thread.join(timeout=3)


def add_null_sink(pa: Any, name: str) -> subprocess.Popen[bytes]:
    """A second null sink on ``pa`` (tests/support/pulse.py PulseServer), pinned to 5 ms blocks like the first
    by a monitor reader (its keeper, returned: kill it when done) and restarted at "now"."""
    pa.load_module("module-null-sink", f"sink_name={name}", f"rate={pa.rate}", "channels=2")
    keeper = subprocess.Popen(
        ["parec", "-d", f"{name}.monitor", "--raw", "--format=float32le", f"--rate={pa.rate}", "--channels=1",
         "--latency-msec=5", "--client-name=bench-zones-keeper"],
        env={**os.environ, **pa.env}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_until(lambda: f"{name}.monitor" in _outputs(pa), 5, "the second sink's keeper")
    pa.pactl("suspend-sink", name, "1")  # its first block was 2 s long: restart its clock at "now"
    pa.pactl("suspend-sink", name, "0")
    return keeper


def _outputs(pa: Any) -> str:
    """Source outputs with the names of the sources they read (``list short`` shows only indexes)."""
    sources = {
        line.split()[0]: line.split()[1] for line in pa.pactl("list", "short", "sources").stdout.splitlines() if line
    }
    return " ".join(
        sources.get(line.split()[1], "")
        for line in pa.pactl("list", "short", "source-outputs").stdout.splitlines()
        if line
    )


def main(argv: list[str] | None = None) -> int:
    """CLI of the listener load: prints one JSON line."""
    p = argparse.ArgumentParser(prog="python -m bench.zones_load")
    p.add_argument("urls", nargs="+")
    p.add_argument("--per-mount", type=int, default=20)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args(argv)
    print(json.dumps(listen(args.urls, args.per_mount, args.seconds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

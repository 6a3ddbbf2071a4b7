"""Output devices: what PortAudio sees, and which one an operator's spec ("usb", 3, none) means."""

from __future__ import annotations

import logging
from typing import Any

from broadcaster.playout.host import PortAudioHost
from broadcaster.playout.sink import SinkError

log = logging.getLogger("broadcaster.playout")

Device = dict[str, Any]

HINT_DEVICES = "Kiểm tra dây loa/amply đã cắm chưa, rồi chạy 'broadcaster devices' để xem danh sách."

NO_DEVICE = (
    "Không thấy thiết bị phát âm thanh nào trên máy. Kiểm tra card âm thanh (hoặc USB sound) đã cắm, "
    "dây loa/amply đã nối, dịch vụ âm thanh (PulseAudio/PipeWire) đang chạy; rồi chạy 'broadcaster devices'."
)


def devices_unlocked(host: PortAudioHost) -> list[Device]:
    """Output devices as dicts; call only from inside ``host.call`` (re-initialises if dirty)."""
    host.refresh_unlocked()
    sd = host.sd
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise SinkError("Không đọc được danh sách thiết bị âm thanh.", str(exc)) from exc
    try:
        default_out = sd.query_devices(kind="output")["index"]
    except (sd.PortAudioError, ValueError, KeyError, TypeError):
        default_out = -1
    out = [
        {
            "index": dev["index"],
            "name": dev["name"],
            "hostapi": hostapis[dev["hostapi"]]["name"],
            "channels": dev["max_output_channels"],
            "default": dev["index"] == default_out,
            "default_samplerate": dev["default_samplerate"],
        }
        for dev in devices
        if dev["max_output_channels"] > 0
    ]
    if not out:
        host.mark_dirty()  # a card or sound server may appear later; look again next time
    return out


def list_devices(host: PortAudioHost | None = None) -> list[Device]:
    """Output devices: index, name, hostapi, channels, default (bool), default_samplerate."""
    h = host or PortAudioHost.shared()
    h.sd  # noqa: B018 - a missing PortAudio is reported here, in Vietnamese
    return h.call(lambda: devices_unlocked(h), "query-devices")


def find_device(spec: str | int | None, devices: list[Device], host: PortAudioHost) -> Device:
    """:func:`match_device`, marking the host for a re-scan when nothing matches."""
    try:
        return match_device(spec, devices)
    except SinkError:
        host.mark_dirty()  # it may be plugged in (or its sound server started) before the next try
        raise


def match_device(spec: str | int | None, devices: list[Device]) -> Device:
    """The device for ``spec`` (None = default, int = index, str = name substring) or a SinkError."""
    if not devices:
        raise SinkError(NO_DEVICE)
    if spec is None or (isinstance(spec, str) and spec.strip() == ""):
        return next((dev for dev in devices if dev["default"]), devices[0])
    if isinstance(spec, int) or spec.strip().isdigit():
        idx = int(spec)
        for dev in devices:
            if dev["index"] == idx:
                return dev
        raise SinkError(f"Không tìm thấy thiết bị âm thanh '{spec}'. {HINT_DEVICES}", f"no output device #{idx}")
    wanted = spec.strip().casefold()
    exact = [d for d in devices if d["name"].casefold() == wanted]
    if exact:
        return exact[0]
    matches = [d for d in devices if wanted in d["name"].casefold()]
    if not matches:
        raise SinkError(f"Không tìm thấy thiết bị âm thanh '{spec}'. {HINT_DEVICES}", "no output device name matches")
    if len(matches) > 1:
        log.warning("Có %d thiết bị khớp '%s'; dùng '%s'", len(matches), spec, matches[0]["name"])
    return matches[0]


def input_devices_unlocked(host: PortAudioHost) -> list[Device]:
    """Capture devices (for ``monitor:``) as dicts; call only from inside ``host.call``."""
    host.refresh_unlocked()
    sd = host.sd
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise SinkError("Không đọc được danh sách thiết bị âm thanh.", str(exc)) from exc
    try:
        default_in = sd.query_devices(kind="input")["index"]
    except (sd.PortAudioError, ValueError, KeyError, TypeError):
        default_in = -1
    return [
        {
            "index": dev["index"],
            "name": dev["name"],
            "hostapi": hostapis[dev["hostapi"]]["name"],
            "channels": dev["max_input_channels"],
            "default": dev["index"] == default_in,
            "default_samplerate": dev["default_samplerate"],
        }
        for dev in devices
        if dev["max_input_channels"] > 0
    ]


def list_input_devices(host: PortAudioHost | None = None) -> list[Device]:
    """Capture devices PortAudio sees (line-in, microphone): what ``monitor:alsa:…`` accepts."""
    h = host or PortAudioHost.shared()
    h.sd  # noqa: B018 - a missing PortAudio is reported here, in Vietnamese
    return h.call(lambda: input_devices_unlocked(h), "query-input-devices")


def find_input_device(spec: str | int | None, host: PortAudioHost) -> Device:
    """The capture device for ``spec`` (index or name substring), or a SinkError."""
    devices = host.call(lambda: input_devices_unlocked(host), "query-input-devices")
    if not devices:
        host.mark_dirty()
        raise SinkError("Không thấy đầu vào âm thanh (line-in/micro) nào trên máy. " + HINT_DEVICES)
    return find_device(spec, devices, host)

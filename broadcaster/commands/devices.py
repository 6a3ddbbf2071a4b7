"""``broadcaster devices``: list the sound outputs this machine can play on."""

from __future__ import annotations

from broadcaster import ui

HELP = (
    "Liệt kê các thiết bị phát âm thanh (card âm thanh → amply → loa) và các đầu vào theo dõi (monitor:) "
    "mà máy nhìn thấy"
)

_NONE_HINT = (
    "Kiểm tra: card âm thanh (hoặc USB sound) đã cắm chắc chưa; dây từ máy sang amply đã nối chưa; "
    "dịch vụ âm thanh (PulseAudio/PipeWire) có đang chạy không (lệnh: pactl info). "
    "Cắm lại rồi chạy lại 'broadcaster devices'."
)


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    from broadcaster.playout.sinks import SinkError, list_devices

    try:
        devices = list_devices()
    except SinkError as exc:
        ui.error(exc.message, _NONE_HINT)
        if exc.detail:
            ui.info(f"  (chi tiết kỹ thuật: {exc.detail})")
        _print_monitors()
        return 1
    if not devices:
        code = ui.error("Không thấy thiết bị phát âm thanh nào trên máy.", _NONE_HINT)
        _print_monitors()
        return code

    rows = [
        (("*" if d["default"] else ""), str(d["index"]), d["name"], d["hostapi"], str(d["channels"])) for d in devices
    ]
    header = ("", "Số", "Tên thiết bị", "Hệ âm thanh", "Số kênh")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    print()
    print("* = thiết bị mặc định (dùng khi không chỉ định --device).")
    print(
        "Chọn thiết bị bằng số hoặc một phần tên, ví dụ: broadcaster test-tone --device "
        f'{devices[0]["index"]}  hoặc  --device "{devices[0]["name"].split()[0]}"'
    )
    _print_monitors()
    return 0


def _print_monitors() -> None:
    """Capture inputs that ``monitor:`` accepts (proof of play): sound-server sources, then PortAudio inputs."""
    from broadcaster.playout.devices import list_input_devices
    from broadcaster.playout.sink import SinkError
    from broadcaster.proof.capture import pulse_sources

    names = [f"monitor:{name}" for name in pulse_sources()]
    try:
        inputs = list_input_devices()
    except SinkError:
        inputs = []
    names += [f"monitor:alsa:{d['index']}  ({d['name']}, {d['hostapi']})" for d in inputs]
    print()
    if not names:
        print("Không thấy đầu vào theo dõi (monitor) nào: cắm dây line-in từ amply hoặc micro đặt gần loa.")
        return
    print("Đầu vào theo dõi (nghe lại loa để kiểm tra chương trình có phát ra tiếng):")
    for name in names:
        print(f"  {name}")
    print("Với PulseAudio/PipeWire, '<tên loa>.monitor' là những gì loa đó nhận được.")

"""``broadcaster devices``: list the sound outputs this machine can play on."""

from __future__ import annotations

from broadcaster import ui

HELP = "Liệt kê các thiết bị phát âm thanh (card âm thanh → amply → loa) mà máy nhìn thấy"

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
        return 1
    if not devices:
        return ui.error("Không thấy thiết bị phát âm thanh nào trên máy.", _NONE_HINT)

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
    return 0

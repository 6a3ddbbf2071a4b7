"""``broadcaster test-tone``: play a short pleasant tone so the operator hears the amplifier is connected."""

from __future__ import annotations

from broadcaster import ui

HELP = "Phát tiếng thử vài giây ra loa để kiểm tra card âm thanh, amply và loa đã nối đúng"

RATE = 48000
# Peak level that measures -16 LUFS (BS.1770) for this tone, the level programmes are
# levelled to: the test sounds as loud as a real broadcast.
PEAK = 10 ** (-15.1 / 20) * 2**0.5


def add_arguments(parser) -> None:
    parser.add_argument(
        "--device",
        default=None,
        metavar="THIẾT_BỊ",
        help="số hoặc một phần tên thiết bị (xem 'broadcaster devices'); 'wav:THƯ_MỤC' để ghi ra tệp; "
        "mặc định: thiết bị mặc định",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=3.0,
        metavar="GIÂY",
        help="thời lượng tiếng thử, 0.5–30 giây (mặc định: 3)",
    )


def make_tone(seconds: float, rate: int = RATE):
    """Two soft notes (440 Hz then 660 Hz) with faded edges, about -16 LUFS."""
    import numpy as np

    n = int(round(seconds * rate))
    half = n // 2
    freq = np.where(np.arange(n) < half, 440.0, 660.0)
    # phase-continuous glide between the notes: integrate the frequency
    phase = 2 * np.pi * np.cumsum(freq) / rate
    tone = np.sin(phase) + 0.15 * np.sin(2 * phase)  # a little 2nd harmonic: softer than a pure beep
    tone *= PEAK / np.max(np.abs(tone))
    fade = min(int(0.05 * rate), n // 4)
    if fade:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
        tone[:fade] *= ramp
        tone[-fade:] *= ramp[::-1]
    return tone.astype(np.float32)


def run(args) -> int:
    if not (0.5 <= args.seconds <= 30):
        return ui.error(
            f"Thời lượng tiếng thử phải từ 0.5 đến 30 giây (bạn nhập {args.seconds:g}).",
            "Ví dụ: broadcaster test-tone --seconds 3",
        )
    import threading

    from broadcaster.playout.sinks import SinkError, open_sink

    try:
        sink = open_sink(args.device)
    except SinkError as exc:
        return _fail(exc)
    tone = make_tone(args.seconds)
    blocks = [tone[i : i + RATE // 10] for i in range(0, len(tone), RATE // 10)]
    print(f"Đang phát tiếng thử {args.seconds:g} giây (440 Hz rồi 660 Hz, khoảng -16 LUFS) ra: {sink.name}", flush=True)
    try:
        result = sink.play(blocks, rate=RATE, start_at=None, stop=threading.Event(), label="tieng-thu")
    except SinkError as exc:
        return _fail(exc)
    finally:
        sink.close()
    print(f"Xong: đã phát {result.seconds:.1f} giây ra {sink.name}.")
    path = getattr(sink, "last_path", None)
    if path:
        print(f"Tệp đã ghi: {path}")
    else:
        print(
            "Nếu loa không kêu: kiểm tra amply đã bật và vặn âm lượng, dây từ máy sang amply, "
            "rồi chạy 'broadcaster devices' để chọn đúng thiết bị (--device)."
        )
    return 0


def _fail(exc) -> int:
    ui.error(exc.message)
    if exc.detail:
        ui.info(f"  (chi tiết kỹ thuật: {exc.detail})")
    return 1

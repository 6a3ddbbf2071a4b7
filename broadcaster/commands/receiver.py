"""``broadcaster receiver``: give each receiver box its own token (add, list, remove).

A receiver's token is good only for its own heartbeat, under its own name and for its own
zone's mount: a stolen box cannot send announcements, read the station's status or touch
another zone's as-run rows. ``add`` prints the token once, alone on stdout (its last line), so
``(umask 077; broadcaster receiver add … > receiver-token)`` writes a file ready for
``broadcaster receive --token-file``; everything else goes to stderr. The running daemon sees
the change at the next heartbeat, without a restart.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from broadcaster import ui

HELP = "cấp mã truy cập riêng cho máy thu ở cụm loa (thêm, xem, xoá)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ui.add_schedule_argument(parser)
    sub = parser.add_subparsers(dest="action", metavar="VIỆC", parser_class=type(parser))
    p = sub.add_parser(
        "add",
        help="thêm máy thu và in mã riêng của nó",
        description="Thêm máy thu cho một vùng loa và in mã truy cập riêng của nó (chỉ hiện một lần).",
    )
    p.add_argument("name", metavar="TÊN", help="tên máy thu, giống --name của 'broadcaster receive' (ví dụ cum-dong)")
    p.add_argument("--zone", required=True, metavar="VÙNG", help="vùng loa (trong zones: của schedule.yaml)")
    sub.add_parser("list", help="xem các máy thu đã cấp mã", description="Xem các máy thu đã được cấp mã riêng.")
    p = sub.add_parser(
        "remove", help="xoá máy thu (mã của nó hết dùng được)", description="Xoá máy thu: mã của nó hết dùng được."
    )
    p.add_argument("name", metavar="TÊN")
    for child in sub.choices.values():  # --schedule also after the action (SUPPRESS: keep one given before)
        child.add_argument(
            "--schedule", type=Path, default=argparse.SUPPRESS, metavar="ĐƯỜNG_DẪN", help="tệp lịch phát"
        )


def run(args: Any) -> int:
    from broadcaster.layout import Layout
    from broadcaster.receivers import ReceiverStore, ReceiverStoreError

    if not args.action:
        return ui.error("Chưa chọn việc.", "Ví dụ: broadcaster receiver add cum-dong --zone thon-dong")
    store = ReceiverStore(Layout.locate(ui.schedule_path(args)).receivers_file)
    try:
        if args.action == "add":
            return _add(args, store)
        if args.action == "list":
            return _list(store, ui.schedule_path(args))
        gone = store.remove(args.name)
    except ReceiverStoreError as exc:
        return ui.error(str(exc))
    print(f"Đã xoá máy thu '{gone.name}' (vùng {gone.zone}): mã của nó không còn dùng được.")
    if not store.all():
        ui.warn(
            "trạm không còn máy thu nào có mã riêng: máy thu dùng mã của trạm lại được báo tình trạng "
            "(kém an toàn). Cấp mã riêng: broadcaster receiver add TÊN --zone VÙNG"
        )
    return 0


def _add(args: Any, store: Any) -> int:
    from broadcaster.receivers import check_name

    name = check_name(args.name)  # refuse a bad name before loading the schedule
    schedule = ui.load_schedule_or_report(ui.schedule_path(args))
    if schedule is None:
        return ui.error("Không đọc được lịch phát nên không biết các vùng loa.", "Sửa schedule.yaml rồi chạy lại.")
    zone = schedule.zones.get(args.zone)
    if zone is None:
        known = ", ".join(n for n, z in schedule.zones.items() if z.icecast) or "chưa có vùng Icecast nào"
        return ui.error(
            f"Không có vùng '{args.zone}' trong lịch phát.", f"Các vùng có máy thu được: {known} (mục zones:)."
        )
    if not zone.icecast:
        return ui.error(
            f"Vùng '{args.zone}' phát ra card âm thanh của trạm, không qua Icecast: máy thu không nhận vùng này.",
            "Chọn một vùng có 'icecast:' trong zones: của schedule.yaml.",
        )
    first = not store.all()
    added, token = store.add(name, args.zone)
    ui.info(f"Đã thêm máy thu '{added.name}' cho vùng {added.zone} (luồng {zone.icecast}).")
    ui.info(
        "Mã truy cập riêng của máy thu ở dòng cuối, CHỈ HIỆN MỘT LẦN (trạm chỉ giữ bản băm). Trên máy thu, "
        "ghi mã vào /etc/loa-xa/receiver-token, chạy 'chmod 600 /etc/loa-xa/receiver-token', rồi chạy "
        f"'broadcaster receive {zone.icecast} --station http://ĐỊA_CHỈ_TRẠM:CỔNG --name {added.name} "
        "--token-file /etc/loa-xa/receiver-token' (xem docs/zones.md)."
    )
    if first:
        ui.warn(
            "từ giờ trạm chỉ nhận tình trạng từ máy thu có mã riêng: máy thu nào còn dùng mã của trạm "
            "(state/api-token) sẽ bị từ chối — cấp mã cho từng máy thu."
        )
    print(token)
    return 0


def _list(store: Any, schedule_path: Path) -> int:
    from datetime import datetime

    from broadcaster import fmt

    receivers = store.all()
    if not receivers:
        ui.info("Chưa có máy thu nào được cấp mã riêng. Thêm: broadcaster receiver add TÊN --zone VÙNG")
        return 0
    fmt.set_station_zone(fmt.station_zone_of(schedule_path))
    width = max(len("Máy thu"), *(len(r.name) for r in receivers))
    zone_width = max(len("Vùng"), *(len(r.zone) for r in receivers))
    print(f"{'Máy thu':<{width}}  {'Vùng':<{zone_width}}  Thêm lúc")
    for r in sorted(receivers, key=lambda r: (r.zone, r.name)):
        try:
            added = fmt.station_time(datetime.fromisoformat(r.added_at))
            when = f"{fmt.day(added)} {fmt.clock(added)}"
        except ValueError:
            when = "?"
        print(f"{r.name:<{width}}  {r.zone:<{zone_width}}  {when}")
    return 0

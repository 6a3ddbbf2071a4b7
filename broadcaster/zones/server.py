"""The commune's Icecast server configuration, generated (``python -m broadcaster.zones.server``).

One Icecast server carries every zone: each zone ("cụm loa" of a thôn) is a mount
(``/thon-dong``), the station is the source of every mount, receivers are listeners. The
generated config binds to ``127.0.0.1`` unless told otherwise, accepts sources with the source
password (``LOA_XA_ICECAST_PASSWORD`` or ``state/icecast-password``) and keeps the burst small:
``burst-size`` is how much already-sent audio a joining listener gets at once, i.e. how far
behind the live edge it starts — latency the station would have to compensate for.

Fanning out to a district (master/slave relay): a district server relays the same mounts from
the commune server. Generate the district's config with ``relay_master=RelayMaster(host, port,
relay_password)`` (CLI: ``--relay-master HOST:PORT``): Icecast then pulls the commune's mount
list (``/admin/streamlist.txt``, user ``relay`` with the commune's ``relay-password``) and
relays every mount under the same name. The commune's own config carries the ``relay-password``
and, commented out, the block a district server would use. Nothing in Loa xã changes: the
station still streams to its one commune server; relays add a little delay for the listeners
of the district server (measure it at a receiver and set that zone's ``send_ahead``).

Debian's ``icecast2`` started as root must drop privileges (``<changeowner>``) and then needs its
log directory and pid file writable by ``icecast2`` — :func:`prepare_dirs` does that.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from broadcaster.layout import Layout
from broadcaster.zones.secrets import (
    ZoneConfigError,
    new_password,
    read_secret_file,
    source_password,
    write_secret_file,
)

ICECAST_USER = "icecast2"
ICECAST_GROUP = "icecast"
WEBROOT = Path("/usr/share/icecast2/web")
ADMINROOT = Path("/usr/share/icecast2/admin")
#: default burst: ~1 s of a 64 kbit/s stream (8 kB/s) is plenty for a receiver to start, little latency
DEFAULT_BURST = 8192
_MOUNT = re.compile(r"^/?[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class RelayMaster:
    """The commune server a district (slave) server relays every mount from."""

    host: str
    port: int
    password: str  # the master's relay-password
    update_interval_s: int = 60


def mount_path(mount: str) -> str:
    """``thon-dong`` or ``/thon-dong`` → ``/thon-dong``; :class:`ZoneConfigError` for anything else."""
    if not _MOUNT.match(mount):
        raise ZoneConfigError(
            f"Tên điểm phát (mount) Icecast không hợp lệ: '{mount}'. Chỉ dùng chữ không dấu, số, '-', '_' "
            "hoặc '.', ví dụ: thon-dong."
        )
    return mount if mount.startswith("/") else "/" + mount


def _el(tag: str, value: object, indent: int = 2) -> str:
    return f"{' ' * indent}<{tag}>{escape(str(value))}</{tag}>"


def _mount_block(mount: str, burst_size: int) -> list[str]:
    return [
        '  <mount type="normal">',
        _el("mount-name", mount_path(mount), 4),
        _el("public", 0, 4),
        _el("burst-size", burst_size, 4),
        "  </mount>",
    ]


def _relay_block(master: RelayMaster | None) -> list[str]:
    if master is not None:
        return [
            _el("master-server", master.host),
            _el("master-server-port", master.port),
            _el("master-update-interval", master.update_interval_s),
            _el("master-username", "relay"),
            _el("master-password", master.password),
            _el("relays-on-demand", 0),
        ]
    return [
        "  <!-- District fan-out: on a district server, relay every mount of this commune server",
        "       (its relay-password is above; generate that config with the relay-master option",
        "       of python -m broadcaster.zones.server).",
        "  <master-server>COMMUNE_HOST</master-server>",
        "  <master-server-port>8000</master-server-port>",
        "  <master-update-interval>60</master-update-interval>",
        "  <master-username>relay</master-username>",
        "  <master-password>RELAY_PASSWORD</master-password>",
        "  <relays-on-demand>0</relays-on-demand>",
        "  -->",
    ]


def _limits_block(max_clients: int, n_mounts: int, burst_size: int) -> list[str]:
    return [
        "  <limits>",
        _el("clients", max_clients, 4),
        _el("sources", max(8, 2 * n_mounts), 4),
        _el("queue-size", 262144, 4),
        _el("client-timeout", 30, 4),
        _el("header-timeout", 15, 4),
        # the station streams silence between broadcasts, so a silent source means a dead station
        _el("source-timeout", 10, 4),
        _el("burst-on-connect", 1 if burst_size > 0 else 0, 4),
        _el("burst-size", burst_size, 4),
        "  </limits>",
    ]


def _files_block(log_dir: Path, pid_file: Path, run_as_root: bool) -> list[str]:
    owner = ["    <changeowner>", _el("user", ICECAST_USER, 6), _el("group", ICECAST_GROUP, 6), "    </changeowner>"]
    return [
        "  <fileserve>1</fileserve>",
        "  <paths>",
        _el("basedir", "/usr/share/icecast2", 4),
        _el("logdir", log_dir, 4),
        _el("webroot", WEBROOT, 4),
        _el("adminroot", ADMINROOT, 4),
        _el("pidfile", pid_file, 4),
        "  </paths>",
        "  <logging>",
        _el("accesslog", "access.log", 4),
        _el("errorlog", "error.log", 4),
        _el("loglevel", 3, 4),
        _el("logsize", 10000, 4),
        "  </logging>",
        "  <security>",
        _el("chroot", 0, 4),
        *(owner if run_as_root else []),
        "  </security>",
    ]


def icecast_config(
    *,
    port: int,
    source_password: str,
    admin_password: str,
    mounts: list[str],
    log_dir: Path,
    pid_file: Path,
    burst_size: int = DEFAULT_BURST,
    run_as_root: bool = False,
    bind: str = "127.0.0.1",
    relay_master: RelayMaster | None = None,
    relay_password: str | None = None,
    max_clients: int = 100,
) -> str:
    """The ``icecast.xml`` text for one server (every value XML-escaped).

    ``run_as_root`` adds ``<changeowner>`` (Debian's icecast2 refuses to run as root without
    it); ``relay_password`` lets district servers relay this one; ``relay_master`` makes this
    server a district relay of that commune server.
    """
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!-- Generated by Loa xã (python -m broadcaster.zones.server). Edit the generator, not this file. -->",
        "<icecast>",
        _el("location", "Loa xã"),
        _el("admin", "loa-xa@localhost"),
        _el("hostname", bind),
        *_limits_block(max_clients, len(mounts), burst_size),
        "  <authentication>",
        _el("source-password", source_password, 4),
        *([_el("relay-password", relay_password, 4)] if relay_password else []),
        _el("admin-user", "admin", 4),
        _el("admin-password", admin_password, 4),
        "  </authentication>",
        "  <listen-socket>",
        _el("port", int(port), 4),
        _el("bind-address", bind, 4),
        "  </listen-socket>",
        *_relay_block(relay_master),
        *(line for m in mounts for line in _mount_block(m, burst_size)),
        *_files_block(log_dir, pid_file, run_as_root),
        "</icecast>",
    ]
    return "\n".join(lines) + "\n"


def prepare_dirs(log_dir: Path, pid_file: Path, run_as_root: bool) -> None:
    """Create the log and pid directories; as root, hand them to ``icecast2`` (it drops to that user)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    if not run_as_root:
        return
    uid, gid = pwd.getpwnam(ICECAST_USER).pw_uid, grp.getgrnam(ICECAST_GROUP).gr_gid
    for d in {log_dir, pid_file.parent}:
        os.chown(d, uid, gid)


def _secret(path: Path, made: list[str]) -> str:
    value = read_secret_file(path)
    if value is None:
        value = new_password()
        write_secret_file(path, value)
        made.append(str(path))
    return value


def _parse_master(text: str, password: str) -> RelayMaster:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ZoneConfigError(f"--relay-master cần dạng MÁY:CỔNG, ví dụ 192.168.1.10:8000 (nhận được '{text}').")
    return RelayMaster(host, int(port), password)


def write_config(args: argparse.Namespace) -> Path:
    """Write ``icecast.xml`` (+ log dir) under ``args.out``; passwords from secrets or generated (0600)."""
    layout = Layout.locate(Path(args.schedule))
    made: list[str] = []
    try:
        src = source_password(layout)
    except ZoneConfigError:
        if layout.icecast_password_file.exists():
            raise  # present but unsafe or empty: say so rather than overwrite it
        src = _secret(layout.icecast_password_file, made)
    admin = _secret(layout.state_dir / "icecast-admin-password", made)
    relay = _secret(layout.state_dir / "icecast-relay-password", made)
    master = _parse_master(args.relay_master, args.relay_master_password or relay) if args.relay_master else None
    out = Path(args.out).resolve()
    run_as_root = args.run_as_root if args.run_as_root is not None else os.geteuid() == 0
    log_dir, pid_file = out / "log", out / "run" / "icecast.pid"
    prepare_dirs(log_dir, pid_file, run_as_root)
    text = icecast_config(
        port=args.port,
        source_password=src,
        admin_password=admin,
        mounts=list(args.mount or []),
        log_dir=log_dir,
        pid_file=pid_file,
        burst_size=args.burst_size,
        run_as_root=run_as_root,
        bind=args.bind,
        relay_master=master,
        relay_password=relay,
    )
    path = out / "icecast.xml"
    write_secret_file(path, text.rstrip("\n"))  # it holds the passwords: 0600 like them
    if run_as_root:
        os.chown(path, 0, grp.getgrnam(ICECAST_GROUP).gr_gid)
        os.chmod(path, 0o640)  # icecast2 re-reads it on reload (SIGHUP), after dropping root
    for p in made:
        print(f"Đã tạo mật khẩu mới (quyền 600): {p}")
    return path


def main(argv: list[str] | None = None) -> int:
    """CLI: write the commune's Icecast configuration."""
    p = argparse.ArgumentParser(
        prog="python -m broadcaster.zones.server", description="Tạo cấu hình máy chủ Icecast cho các vùng loa."
    )
    p.add_argument("--out", required=True, help="thư mục ghi icecast.xml và nhật ký")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--bind", default="127.0.0.1", help="địa chỉ lắng nghe (0.0.0.0 để máy thu trong mạng vào được)")
    p.add_argument("--mount", action="append", help="tên vùng (mount), lặp lại cho từng vùng, ví dụ thon-dong")
    p.add_argument("--burst-size", type=int, default=DEFAULT_BURST)
    p.add_argument("--schedule", default="schedule.yaml", help="lịch phát (để tìm thư mục state/)")
    p.add_argument("--relay-master", help="máy chủ xã MÁY:CỔNG mà máy chủ này chuyển tiếp (cấp huyện)")
    p.add_argument("--relay-master-password", help="relay-password của máy chủ xã")
    p.add_argument("--run-as-root", action=argparse.BooleanOptionalAction, default=None)
    args = p.parse_args(argv)
    try:
        path = write_config(args)
    except ZoneConfigError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 2
    except (OSError, KeyError) as exc:
        print(f"Lỗi: không ghi được cấu hình Icecast vào '{args.out}': {exc}", file=sys.stderr)
        return 2
    print(f"Đã ghi cấu hình Icecast: {path}\nChạy máy chủ: icecast2 -c {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

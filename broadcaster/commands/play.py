"""``broadcaster play``: air a script of scripts_vi/ or an audio file now."""

from __future__ import annotations

import argparse
from pathlib import Path

from broadcaster import ui
from broadcaster.commands.say import add_priority_arguments, announce

HELP = "phát ngay một kịch bản trong scripts_vi/ hoặc một tệp âm thanh trong audio/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name", metavar="TÊN|TỆP", help="tên kịch bản (vd. khau-hieu) hoặc đường dẫn tệp âm thanh (vd. audio/nhac.mp3)"
    )
    add_priority_arguments(parser)


def run(args) -> int:
    name = args.name.strip()
    if not name:
        return ui.error("chưa nêu kịch bản hoặc tệp cần phát.")
    from broadcaster.audiofile import AUDIO_SUFFIXES

    looks_like_file = "/" in name or Path(name).suffix.lower() in AUDIO_SUFFIXES
    if looks_like_file:
        p = Path(name)
        if p.exists():
            name = str(p.resolve())
        return announce(args, {"audio": name})
    return announce(args, {"script": name.removesuffix(".txt")})

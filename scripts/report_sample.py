"""Render page 1 of a sample DOCX report to docs/report-sample.png (a one-off, for the README).

The shipped schedule.yaml and report.yaml, with a made-up as-run log for the whole campaign
(most broadcasts aired; a few missed, failed, cut, not approved; some ad-hoc notices), go
through the same code as ``broadcaster report --docx``. Needs LibreOffice (``soffice``) and
poppler (``pdftoppm``): ``apt-get install libreoffice-writer-nogui poppler-utils fonts-liberation``.

    .venv/bin/python scripts/report_sample.py [OUT.png]
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from broadcaster.asrun import AsRunLog, build_report
from broadcaster.asrun.docx import write_docx
from broadcaster.asrun.settings import load_settings
from broadcaster.records import Outcome, Source
from broadcaster.schedule.load import load_schedule
from broadcaster.schedule.plan import plan_broadcasts

REPO = Path(__file__).resolve().parent.parent
FATES = [Outcome.PLAYED] * 16 + [Outcome.MISSED, Outcome.FAILED, Outcome.INTERRUPTED, Outcome.UNAPPROVED]


def fill(log_file: Path, broadcasts: list, rng: random.Random) -> None:
    """A plausible campaign: each planned broadcast meets a fate; two ad-hoc notices a few days."""
    now = [broadcasts[0].at]
    with AsRunLog(log_file, clock=lambda: now[0]) as log:
        for b in broadcasts:
            now[0] = b.at
            fields = dict(
                key=b.key,
                planned_at=b.at,
                source=Source.SCHEDULE,
                slot=b.slot,
                title=b.slot,
                items=[i.label for i in b.items],
                priority=b.priority,
            )
            fate = rng.choice(FATES)
            if fate in (Outcome.PLAYED, Outcome.INTERRUPTED):
                row = log.begin(**fields)
                seconds = rng.uniform(600, 900) if fate is Outcome.PLAYED else rng.uniform(30, 200)
                now[0] += timedelta(seconds=seconds)
                log.finish(
                    row,
                    fate,
                    duration_s=seconds,
                    engines={i: "gtts" for i in fields["items"]},
                    error="người vận hành dừng" if fate is Outcome.INTERRUPTED else None,
                )
            else:
                log.record(**fields, status=fate, error="mô phỏng")
            if rng.random() < 0.3:
                now[0] = b.at + timedelta(hours=2)
                row = log.begin(
                    key=f"adhoc-{b.key}",
                    planned_at=None,
                    source=Source.ADHOC,
                    slot=None,
                    title="Phát ngay",
                    items=["text:Thông báo của UBND xã"],
                    priority="normal",
                )
                now[0] += timedelta(seconds=75)
                log.finish(row, Outcome.PLAYED, duration_s=75.0)


def main(out: Path) -> int:
    for tool in ("soffice", "pdftoppm"):
        if shutil.which(tool) is None:
            print(f"Thiếu '{tool}': apt-get install libreoffice-writer-nogui poppler-utils", file=sys.stderr)
            return 1
    schedule = load_schedule(REPO / "schedule.yaml").schedule
    assert schedule is not None
    c = schedule.campaign
    broadcasts = plan_broadcasts(schedule, c.start, c.end)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fill(tmp / "asrun.sqlite3", broadcasts, random.Random(21))
        with AsRunLog(tmp / "asrun.sqlite3") as log:
            rows = log.rows(start=c.start, end=c.end, tz=c.timezone)
        made = datetime.combine(c.end + timedelta(days=1), datetime.min.time(), c.timezone) + timedelta(hours=9)
        report = build_report(broadcasts, rows, c.start, c.end, tz=c.timezone, now=made, campaign=c.name)
        write_docx(report, load_settings(REPO / "schedule.yaml"), tmp / "bao-cao.docx")
        subprocess.run(
            [
                "soffice",
                "--headless",
                f"-env:UserInstallation=file://{tmp}/lo",
                "--convert-to",
                "pdf",
                "--outdir",
                str(tmp),
                str(tmp / "bao-cao.docx"),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "80",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(tmp / "bao-cao.pdf"),
                str(tmp / "page"),
            ],
            check=True,
            timeout=120,
        )
        shutil.copyfile(tmp / "page.png", out)
    print(f"Đã ghi {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "report-sample.png"))

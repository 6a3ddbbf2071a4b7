"""Figure 4 — scale: a generated one-year schedule with more than 10 000 broadcasts.

* ``check`` + ``plan`` time in-process (``load_schedule`` + ``plan_broadcasts``) and as CLI
  processes (``broadcaster check``, ``broadcaster plan --json``, wall time);
* hot-reload latency with the daemon running on that schedule (output ``wav:DIR``): from the
  moment the edited file is saved (rename into place) to (a) the daemon's "Đã nạp lại lịch"
  line arriving on its stderr and (b) the control API's status listing the new slot in
  ``next``. Both include the watcher's 250 ms debounce, by design.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench.common import TimedDaemon, harness, log, row, summary

TARGET_MS = 1000.0
DAILY_SLOTS = 28
WEEKLY_SLOTS = 4


def schedule_text(today, extra: str = "") -> str:
    """A year-long campaign around ``today``: 28 daily slots + 4 three-times-a-week slots ≈ 10 800 broadcasts."""
    start, end = today - timedelta(days=182), today + timedelta(days=182)
    lines = [
        "campaign:",
        "  name: Chiến dịch cả năm (đo tải)",
        f"  start: {start.isoformat()}",
        f"  end: {end.isoformat()}",
        "  timezone: Asia/Ho_Chi_Minh",
        "policy: {earliest: '00:00', latest: '23:59:59', max_session_minutes: 45}",
        "defaults: {chime: audio/chime.wav, repeat: 1, gap_seconds: 1, voice: [espeak]}",
        "output: {grace_minutes: 1}",
        "slots:",
    ]
    skip = ", ".join((today + timedelta(days=30 * k)).isoformat() for k in range(1, 5))
    for i in range(DAILY_SLOTS):
        minutes = 5 * 60 + 40 * i  # 05:00, 05:40 … 23:00
        lines += [
            f"  - name: hang-ngay-{i:02d}",
            f'    at: "{minutes // 60:02d}:{minutes % 60:02d}"',
            f"    skip_dates: [{skip}]" if i % 7 == 0 else "    priority: normal",
            "    play:",
            "      - script: thu",
            f'      - text: "Bản tin số {i + 1} trong ngày."',
        ]
    for i in range(WEEKLY_SLOTS):
        lines += [
            f"  - name: tuan-{i}",
            f'    at: ["{6 + i:02d}:15", "{17 + i:02d}:15"]',
            "    days: [mon, wed, fri]",
            "    priority: priority",
            "    play:",
            "      - script: thu",
        ]
    return "\n".join(lines) + "\n" + extra


def _reload_slot(at: datetime) -> str:
    return (
        f'  - name: moi-them\n    at: "{at:%H:%M:%S}"\n    dates: [{at.date().isoformat()}]\n'
        "    play:\n      - script: thu\n"
    )


def run(pa=None, quick: bool = False) -> dict:
    from broadcaster.schedule.load import load_schedule
    from broadcaster.schedule.plan import plan_broadcasts

    reps = 3 if quick else 10
    cli_reps = 2 if quick else 5
    reloads = 4 if quick else 12
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        root = Path(tmp)
        project = harness.Project(root, chime=True, voice="espeak")
        today = harness.local_now().date()
        project.save(schedule_text(today))
        path = project.schedule_path

        load_ms, plan_ms, total_ms = [], [], []
        count = 0
        for _ in range(reps):
            t0 = time.perf_counter()
            result = load_schedule(path)
            t1 = time.perf_counter()
            assert result.ok, [str(e) for e in result.errors]
            count = len(plan_broadcasts(result.schedule))
            t2 = time.perf_counter()
            load_ms.append((t1 - t0) * 1000)
            plan_ms.append((t2 - t1) * 1000)
            total_ms.append((t2 - t0) * 1000)
        log(f"  scale: {count} broadcasts; in-process load+plan median {sorted(total_ms)[len(total_ms) // 2]:.0f} ms")

        check_ms, plan_cli_ms = [], []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for _ in range(cli_reps):
            for args, sink in ((["check"], check_ms), (["plan", "--json"], plan_cli_ms)):
                t0 = time.perf_counter()
                r = subprocess.run(
                    [*harness.BROADCASTER, *args, "--schedule", str(path)],
                    cwd=root,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                sink.append((time.perf_counter() - t0) * 1000)
                assert r.returncode == 0, r.stderr
        planned_json = r.stdout.count('"key"')

        daemon = TimedDaemon(project, {}, output=f"wav:{root / 'out'}").start(timeout=60)
        start_ms = (daemon.stamps[daemon.find("sẵn sàng")[0]] - daemon.spawned_at) * 1000
        line_ms, status_ms = [], []
        try:
            daemon.wait_for("Đã chuẩn bị sẵn giọng đọc", timeout=120)
            base = harness.local_now().replace(microsecond=0)
            for i in range(reloads):
                at = base + timedelta(minutes=3, seconds=7 * i + 1)
                text = schedule_text(today, _reload_slot(at))
                mark = len(daemon.lines)
                tmpfile = path.with_name(".schedule.yaml.tmp")
                tmpfile.write_text(text, encoding="utf-8")
                t_save = time.time()
                os.replace(tmpfile, path)
                seen = None
                deadline = time.monotonic() + 10
                while seen is None and time.monotonic() < deadline:
                    code, status = daemon.api("GET", "/api/status")
                    if code == 200 and any(
                        n["slot"] == "moi-them"
                        and abs(datetime.fromisoformat(n["at"]).timestamp() - at.timestamp()) < 0.5
                        for n in status["next"]
                    ):
                        seen = time.time()
                        break
                    time.sleep(0.01)
                _, _, stamp = daemon.wait_stamped("Đã nạp lại lịch", timeout=10, start=mark)
                line_ms.append((stamp - t_save) * 1000)
                if seen is not None:
                    status_ms.append((seen - t_save) * 1000)
                time.sleep(1.0)  # separate edits: each is its own reload, not one debounced burst
        finally:
            daemon.terminate()
    in_proc = summary(total_ms)
    s_check, s_plan = summary(check_ms), summary(plan_cli_ms)
    s_line, s_status = summary(line_ms), summary(status_ms)
    return {
        "id": "scale",
        "title": f"4. Scale: one-year schedule, {count} broadcasts",
        "rows": [
            row("load_schedule (in-process)", "ms", summary(load_ms)),
            row("plan_broadcasts, whole year (in-process)", "ms", summary(plan_ms)),
            row(
                "check + plan (in-process)",
                "ms",
                in_proc,
                target=f"≤ {TARGET_MS:g} ms",
                met=in_proc["max"] <= TARGET_MS,
            ),
            row(
                "`broadcaster check` (CLI wall)",
                "ms",
                s_check,
                target=f"≤ {TARGET_MS:g} ms",
                met=s_check["max"] <= TARGET_MS,
            ),
            row(
                "`broadcaster plan --json` (CLI wall)",
                "ms",
                s_plan,
                target=f"≤ {TARGET_MS:g} ms",
                met=s_plan["max"] <= TARGET_MS,
            ),
            row(
                "hot reload: save → 'Đã nạp lại lịch' line",
                "ms",
                s_line,
                target=f"≤ {TARGET_MS:g} ms",
                met=bool(line_ms) and s_line["max"] <= TARGET_MS,
            ),
            row(
                "hot reload: save → status API lists the new slot",
                "ms",
                s_status,
                target=f"≤ {TARGET_MS:g} ms",
                met=len(status_ms) == reloads and s_status["max"] <= TARGET_MS,
            ),
            row("daemon start → ready on this schedule", "ms", summary([start_ms])),
        ],
        "notes": [
            f"{DAILY_SLOTS} daily slots + {WEEKLY_SLOTS} slots on Mon/Wed/Fri (two times each) over 365 days = "
            f"{count} broadcasts (`plan --json` printed {planned_json}).",
            f"Hot reload: {reloads} edits, each moving a new slot (a few minutes ahead); the daemon runs the "
            "big schedule with output `wav:DIR`. Latency includes the watcher's 250 ms debounce; the status "
            "figure includes the poll interval (10 ms) and one HTTP round trip.",
            "Targets judged on the maximum, not the median.",
        ],
    }

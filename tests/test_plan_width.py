"""Trial item 9: ``plan`` at 80 columns shows every script name whole (never "attp-huong-d / an")."""

from __future__ import annotations

import os
import subprocess

from tests.support.harness import BROADCASTER, REPO


def test_plan_at_80_columns_keeps_every_script_name_whole():
    import json

    plan = subprocess.run(
        [*BROADCASTER, "plan", "--json", "--schedule", str(REPO / "schedule.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    names = {i.removeprefix("script:") for b in json.loads(plan.stdout) for i in b["items"] if i.startswith("script:")}
    r = subprocess.run(
        [*BROADCASTER, "plan", "--from", "17/4/2026", "--to", "26/4/2026", "--schedule", str(REPO / "schedule.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    cells = {word for line in lines for word in line.split()}
    assert len(names) >= 5
    for name in names:
        assert name in cells, f"'{name}' is split across lines"

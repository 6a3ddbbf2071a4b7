"""Regressions: each figure of a run against the committed results (``bench/results.json``).

A figure's row is compared by its p99 (or its single value) with the same figure and measure
in the committed file; a result more than :data:`THRESHOLD` worse is flagged. Which way is
worse follows the row's target ("≥ 100×": higher is better; "≤ 300 ms" or no target: lower is
better). A flagged row is printed, kept in ``results["regressions"]`` and listed at the top of
``docs/benchmarks.md``: fix it, or say in the figure's notes why it is expected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

THRESHOLD = 0.20
#: rows whose size is noise at this scale (a few ms, a fraction of a percent of a core)
MIN_ABSOLUTE = {"ms": 5.0, "%": 0.1, "s": 0.05, "MB": 2.0}


def _value(stats: dict[str, Any]) -> float | None:
    for key in ("p99", "value"):
        v = stats.get(key)
        if isinstance(v, int | float):
            return float(v)
    return None


def _higher_is_better(row: dict[str, Any]) -> bool:
    return str(row.get("target") or "").lstrip().startswith("≥")


def regressions(new: dict[str, Any], old: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of ``new`` more than 20 % worse than the same rows of ``old``."""
    before = {
        (f["id"], r["metric"]): (r, f.get("measured_at") or old.get("generated_at"))
        for f in old.get("figures", [])
        for r in f.get("rows", [])
    }
    found = []
    for fig in new.get("figures", []):
        for row in fig.get("rows", []):
            prior = before.get((fig["id"], row["metric"]))
            now = _value(row.get("stats", {}))
            was = _value(prior[0].get("stats", {})) if prior else None
            if now is None or was is None or was == 0:
                continue
            worse = (was - now) if _higher_is_better(row) else (now - was)
            if worse <= abs(was) * THRESHOLD or worse < MIN_ABSOLUTE.get(str(row.get("unit")), 0.0):
                continue
            found.append(
                {
                    "figure": fig["id"],
                    "metric": row["metric"],
                    "unit": row.get("unit", ""),
                    "before": was,
                    "after": now,
                    "worse_pct": round(100 * worse / abs(was), 1),
                    "before_measured": prior[1] if prior else None,
                }
            )
    return found


def committed(path: Path) -> dict[str, Any]:
    """The results file as committed (falls back to the file on disk, else nothing)."""
    import subprocess

    try:
        text = subprocess.run(
            ["git", "show", "HEAD:bench/results.json"],
            cwd=path.parent.parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def lines(found: list[dict[str, Any]]) -> list[str]:
    """One sentence per regression, for the console and the docs."""
    return [
        f"{r['figure']} — {r['metric']}: {r['before']:g} → {r['after']:g} {r['unit']} "
        f"({r['worse_pct']:g} % worse than the committed figure of {r['before_measured'] or '?'})"
        for r in found
    ]

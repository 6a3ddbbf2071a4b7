"""``python -m bench [--quick] [--only ID …]``: measure every figure, print them, write the results.

Each audio figure gets its own private PulseAudio server (a fresh null sink). Results go to
``bench/results.json`` and ``docs/benchmarks.md`` (generated). Exit status 0 when every
figure was measured, 1 when one failed to run (a missed target is a result, not a failure).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from datetime import UTC, datetime

from bench import common
from bench.common import log, pulse

FIGURES = [
    "start_accuracy",
    "start_under_load",
    "time_to_air",
    "render",
    "scale",
    "footprint",
    "normalize_speed",
    "zones",
    "console",
    "proof",
]
NEEDS_SOUND = {"start_accuracy", "start_under_load", "time_to_air", "footprint", "zones", "console", "proof"}


def _module(name: str):
    import importlib

    return importlib.import_module({"render": "bench.render_cache"}.get(name, f"bench.{name}"))


def _print(fig: dict) -> None:
    print(f"\n{fig['title']}")
    if fig.get("error"):
        print(f"  NOT MEASURED: {fig['error']}")
        return
    for row in fig["rows"]:
        s = row["stats"]
        if "value" in s:
            numbers = f"{s['value']} {row['unit']}"
        elif s.get("n"):
            numbers = f"n={s['n']} median {s['median']} p95 {s['p95']} p99 {s['p99']} max {s['max']} {row['unit']}"
        else:
            numbers = "no data"
        verdict = {True: "  [met]", False: "  [MISSED]", None: ""}[row.get("met")]
        target = f"  target {row['target']}" if row.get("target") else ""
        print(f"  {row['metric']}: {numbers}{target}{verdict}")
    for note in fig.get("notes", []):
        print(f"  - {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke run, ~3 minutes)")
    parser.add_argument("--only", nargs="+", choices=FIGURES, help="measure only these figures")
    parser.add_argument("--no-write", action="store_true", help="do not write results.json / docs/benchmarks.md")
    args = parser.parse_args(argv)

    why = pulse.pulseaudio_available()
    selected = args.only or FIGURES
    started = time.time()
    machine = common.machine()
    busy = common.busy_processes()
    print(
        f"Loa xã benchmarks ({'quick' if args.quick else 'full'}) on {machine['cpus']} CPU(s), "
        f"load {machine['loadavg_at_start']}" + (f"; busy: {', '.join(busy)}" if busy else "")
    )
    figures = []
    for name in selected:
        log(f"[{name}]")
        t0 = time.time()
        try:
            if name in NEEDS_SOUND:
                if why:
                    raise RuntimeError(f"no PulseAudio here: {why}")
                with pulse.PulseServer() as pa:
                    fig = _module(name).run(pa, quick=args.quick)
            else:
                fig = _module(name).run(None, quick=args.quick)
        except Exception as exc:  # noqa: BLE001 - one broken figure must not lose the others
            traceback.print_exc()
            fig = {"id": name, "title": name, "rows": [], "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        fig["seconds"] = round(time.time() - t0, 1)
        fig["measured_at"] = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
        fig["loadavg_after"] = [round(x, 2) for x in __import__("os").getloadavg()]
        figures.append(fig)
        _print(fig)

    load_end = [round(x, 2) for x in __import__("os").getloadavg()]
    noise = None
    if max(machine["loadavg_at_start"][0], load_end[0], *(f["loadavg_after"][0] for f in figures)) > 1.5:
        noise = (
            f"the machine was shared during this run (1-min load average up to "
            f"{max(f['loadavg_after'][0] for f in figures):.1f} on {machine['cpus']} CPUs"
            + (f"; busy at start: {', '.join(busy)}" if busy else "")
            + "); latency tails may be inflated."
        )
    results = {
        "generated_at": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "quick": args.quick,
        "duration_s": round(time.time() - started, 1),
        "machine": machine,
        "loadavg_at_end": load_end,
        "busy_at_start": busy,
        "noise": noise,
        "figures": figures,
    }
    from bench import compare, report

    merged = _merge(results) if args.only else results
    results["regressions"] = compare.regressions(results, compare.committed(report.RESULTS))
    if results["regressions"]:
        print("\nREGRESSIONS (more than 20 % worse than the committed results):")
        for line in compare.lines(results["regressions"]):
            print(f"  {line}")
    merged["regressions"] = results["regressions"]
    if not args.no_write:
        report.write(merged)
        print(f"\nWrote {report.RESULTS.relative_to(common.REPO)} and {report.DOCS.relative_to(common.REPO)}")
    return 1 if any(f.get("error") for f in figures) else 0


def _merge(results: dict) -> dict:
    """With --only, keep the other figures of the previous results file (marked with their own time)."""
    import json

    from bench import report

    try:
        old = json.loads(report.RESULTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return results
    fresh = {f["id"]: f for f in results["figures"]}
    merged = []
    for f in old.get("figures", []):
        if f["id"] in fresh:
            merged.append(fresh.pop(f["id"]))
        else:
            f.setdefault("measured_at", old.get("generated_at"))
            merged.append(f)
    merged += fresh.values()
    order = {name: i for i, name in enumerate(FIGURES)}
    merged.sort(key=lambda f: order.get(f["id"], 99))
    return {**results, "figures": merged}


if __name__ == "__main__":
    sys.exit(main())

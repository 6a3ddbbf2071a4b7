"""The report's chart: broadcasts per day, stacked by outcome (matplotlib, Agg backend, PNG bytes)."""

from __future__ import annotations

import io

from broadcaster.asrun.export import heading
from broadcaster.asrun.report import SUMMARY_ORDER, Report
from broadcaster.records import Outcome

_COLOURS = {
    Outcome.PLAYED: "#2e7d32",
    Outcome.INTERRUPTED: "#f9a825",
    Outcome.NOT_HEARD: "#ef6c00",
    Outcome.FAILED: "#c62828",
    Outcome.MISSED: "#6a1b9a",
    Outcome.SKIPPED: "#757575",
    Outcome.UNAPPROVED: "#1565c0",
    Outcome.STARTED: "#00838f",
}
NO_RECORD = "Không có bản ghi"


def chart_series(report: Report) -> dict[str, list[int]]:
    """Per legend entry, one count a day: every outcome (scheduled and ad-hoc), then no record."""
    series = {heading(o): [d.counts.total()[o] for d in report.days] for o in SUMMARY_ORDER}
    if report.plan_available:
        series[NO_RECORD] = [d.no_record for d in report.days]
    return {name: values for name, values in series.items() if any(values)}


def render_chart(report: Report, *, width_cm: float = 16.0, height_cm: float = 7.0) -> bytes:
    """PNG of the broadcasts per day and outcome; DejaVu Sans (bundled with matplotlib) has Vietnamese."""
    import matplotlib

    matplotlib.use("Agg")  # no display: the daemon and the CLI run headless
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    series = chart_series(report)
    labels = [d.day.strftime("%d/%m") if d.day else "" for d in report.days]
    with plt.rc_context({"font.family": "DejaVu Sans", "font.size": 8}):
        fig, ax = plt.subplots(figsize=(width_cm / 2.54, height_cm / 2.54), dpi=200)
        bottom = [0] * len(labels)
        colours = {heading(o): c for o, c in _COLOURS.items()}
        for name, values in series.items():
            ax.bar(
                range(len(labels)),
                values,
                bottom=bottom,
                label=name,
                width=0.7,
                color=colours.get(name, "#e0e0e0"),
                edgecolor="#9e9e9e" if name == NO_RECORD else "none",
                hatch="//" if name == NO_RECORD else None,
            )
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        step = max(1, len(labels) // 16)  # a year-long report still has readable day labels
        ax.set_xticks(range(0, len(labels), step), labels[::step], rotation=45 if len(labels) > 10 else 0)
        ax.set_ylabel("Số buổi phát")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_title("Số buổi phát theo ngày và kết quả", fontsize=9)
        if series:
            ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        else:
            ax.text(0.5, 0.5, "Không có buổi phát nào", ha="center", va="center", transform=ax.transAxes)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
    return buf.getvalue()

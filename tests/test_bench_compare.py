"""``python -m bench`` flags a figure more than 20 % worse than the committed one (bench/compare.py)."""

from __future__ import annotations

from bench.compare import regressions


def _results(p99: float, ratio: float, rss: float) -> dict:
    return {
        "generated_at": "2026-12-01T00:00:00+00:00",
        "figures": [
            {"id": "time_to_air", "rows": [{"metric": "say → chime", "unit": "ms", "target": "≤ 100 ms",
                                             "stats": {"n": 30, "p99": p99}}]},
            {"id": "render", "rows": [{"metric": "cold/warm", "unit": "×", "target": "≥ 100×",
                                        "stats": {"value": ratio}}]},
            {"id": "footprint", "rows": [{"metric": "RSS", "unit": "MB", "target": "≤ 110 MB",
                                           "stats": {"n": 20, "p99": rss}}]},
        ],
    }  # fmt: skip


def test_worse_by_more_than_a_fifth_is_flagged_in_the_right_direction():
    old = _results(p99=100.0, ratio=200.0, rss=100.0)
    assert regressions(_results(p99=119.0, ratio=170.0, rss=110.0), old) == []
    found = regressions(_results(p99=130.0, ratio=150.0, rss=101.0), old)
    assert [(r["figure"], r["worse_pct"]) for r in found] == [("time_to_air", 30.0), ("render", 25.0)]


def test_better_or_new_figures_are_not_regressions_and_tiny_absolute_changes_are_noise():
    old = _results(p99=2.0, ratio=100.0, rss=100.0)
    assert regressions(_results(p99=3.0, ratio=500.0, rss=50.0), old) == [], "1 ms more of 2 ms is noise"
    assert regressions(_results(p99=100.0, ratio=1.0, rss=1.0), {"figures": []}) == []

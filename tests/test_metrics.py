"""Metrics: what render() exposes parses as Prometheus text and holds exactly what was observed."""

from __future__ import annotations

import math
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from broadcaster.metrics import DAY, Metrics
from broadcaster.records import Outcome


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_776_000_000.0

    def __call__(self) -> float:
        return self.t


def samples(m: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, content_type = m.render()
    assert content_type.startswith("text/plain") and "version=0.0.4" in content_type
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(m: Metrics, name: str, **labels: Any) -> float:
    return samples(m)[(name, frozenset((k, str(v)) for k, v in labels.items()))]


def test_broadcasts_start_error_and_heard() -> None:
    m = Metrics(clock=FakeClock())
    m.broadcast_finished(Outcome.PLAYED, "thon-1", 12.0, True)
    m.broadcast_finished("played", "thon-1", -80.0, False)  # started 80 ms early
    m.broadcast_finished(Outcome.PLAYED, "thon-1", 300.0, True)
    m.broadcast_finished(Outcome.MISSED, "thon-2", None, None)
    assert value(m, "loaxa_broadcasts_total", outcome="played", zone="thon-1") == 3
    assert value(m, "loaxa_broadcasts_total", outcome="missed", zone="thon-2") == 1
    # the histogram holds |error|: 0.012, 0.08, 0.3 s
    assert value(m, "loaxa_start_error_seconds_count", zone="thon-1") == 3
    assert math.isclose(value(m, "loaxa_start_error_seconds_sum", zone="thon-1"), 0.392)
    assert value(m, "loaxa_start_error_seconds_bucket", zone="thon-1", le="0.01") == 0
    assert value(m, "loaxa_start_error_seconds_bucket", zone="thon-1", le="0.02") == 1
    assert value(m, "loaxa_start_error_seconds_bucket", zone="thon-1", le="0.1") == 2
    assert value(m, "loaxa_start_error_seconds_bucket", zone="thon-1", le="0.5") == 3
    assert value(m, "loaxa_last_start_error_seconds", zone="thon-1") == 0.3
    assert ("loaxa_start_error_seconds_count", frozenset({("zone", "thon-2")})) not in samples(m)  # no error known
    assert value(m, "loaxa_heard_total", zone="thon-1") == 2
    assert value(m, "loaxa_not_heard_total", zone="thon-1") == 1
    assert math.isclose(value(m, "loaxa_heard_ratio_24h"), 2 / 3)


def test_heard_ratio_forgets_after_a_day() -> None:
    clock = FakeClock()
    m = Metrics(clock=clock)
    assert math.isnan(value(m, "loaxa_heard_ratio_24h"))  # nothing checked: no data, not 100 %
    m.broadcast_finished(Outcome.PLAYED, "a", 0.0, False)
    clock.t += DAY / 2
    m.broadcast_finished(Outcome.PLAYED, "a", 0.0, True)
    assert value(m, "loaxa_heard_ratio_24h") == 0.5
    clock.t += DAY / 2 + 1
    assert value(m, "loaxa_heard_ratio_24h") == 1.0
    assert value(m, "loaxa_not_heard_total", zone="a") == 1  # the counters never forget


def test_gauges_cache_and_time_to_air() -> None:
    m = Metrics()
    assert value(m, "loaxa_render_cache_lookups_total", result="hit") == 0  # both series exist from the start
    m.render_cache_totals(hits=2, misses=0)  # the renderer's running totals, read every few seconds
    m.render_cache_totals(hits=2, misses=1)
    m.render_cache_totals(hits=0, misses=0)  # a new renderer (the voice changed): nothing new yet
    m.receivers_alive("thon-1", 4)
    m.receivers_alive("thon-1", 3)
    m.queue_length("thon-2", 2)
    m.alerts_active(5)
    m.time_to_air(2.5)
    m.time_to_air(0.4)
    assert value(m, "loaxa_render_cache_lookups_total", result="hit") == 2
    assert value(m, "loaxa_render_cache_lookups_total", result="miss") == 1
    m.render_cache_totals(hits=3, misses=0)  # …and its totals are all new
    assert value(m, "loaxa_render_cache_lookups_total", result="hit") == 5
    assert value(m, "loaxa_receivers_alive", zone="thon-1") == 3
    assert value(m, "loaxa_queue_length", zone="thon-2") == 2
    assert value(m, "loaxa_alerts_active") == 5
    assert value(m, "loaxa_time_to_air_seconds_count") == 2
    assert value(m, "loaxa_time_to_air_seconds_bucket", le="0.5") == 1
    assert value(m, "loaxa_time_to_air_seconds_bucket", le="3.0") == 2


def test_registries_are_separate() -> None:
    a, b = Metrics(), Metrics()
    a.alerts_active(1)
    assert value(b, "loaxa_alerts_active") == 0
    every = {name for name, _ in samples(a)}
    assert all(name.startswith("loaxa_") for name in every), every

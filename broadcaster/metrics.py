"""Prometheus metrics for ``/metrics``: what aired, how precisely, whether it was heard.

Every metric lives in the station's own ``CollectorRegistry`` (not the process-wide default), so
two stations in one test process never mix and nothing from a library sneaks in.

Metrics (all prefixed ``loaxa_``):

``loaxa_broadcasts_total{outcome,zone}``
    counter of finished attempts, ``outcome`` one of :class:`broadcaster.records.Outcome`.
``loaxa_start_error_seconds{zone}``
    histogram of the **absolute** start error (|actual − planned|): early and late are both
    imprecision, and a histogram cannot hold negative buckets usefully. The signed value of the
    last broadcast is ``loaxa_last_start_error_seconds{zone}`` (negative = started early); each
    row's signed error stays in the as-run log. Buckets: 5 ms … 0.5 s finely, then up to 5 s.
``loaxa_heard_total{zone}`` / ``loaxa_not_heard_total{zone}``
    counters of broadcasts the check receiver heard / did not hear (unknown counts in neither).
    The heard ratio is a PromQL division, e.g. over a day::

        sum(increase(loaxa_heard_total[24h]))
          / (sum(increase(loaxa_heard_total[24h])) + sum(increase(loaxa_not_heard_total[24h])))

``loaxa_heard_ratio_24h``
    the same ratio computed here over the last 24 h of this process (NaN when nothing was checked
    — "no data", not "all heard"); handy for a dashboard without PromQL.
``loaxa_time_to_air_seconds``
    histogram of the time from an ad-hoc request to sound on air.
``loaxa_receivers_alive{zone}``, ``loaxa_queue_length{zone}``, ``loaxa_alerts_active``
    gauges, set by the daemon whenever they change.
``loaxa_render_cache_lookups_total{result="hit"|"miss"}``
    counter of speech-cache lookups (hit ratio = hit / (hit + miss)).
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

#: buckets of |start error|: the issue's bound is well under 0.5 s, so resolve that range finely
START_ERROR_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0)
#: buckets of ad-hoc time-to-air (rendering a long text with gTTS takes seconds)
TIME_TO_AIR_BUCKETS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
DAY = 24 * 3600.0
#: the classic text format that ``generate_latest`` writes; newer prometheus-client releases set
#: CONTENT_TYPE_LATEST to "version=1.0.0", which would mislabel that body, so the type is spelled out
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: checks kept for the 24 h ratio (a station airs tens a day; this bounds memory regardless)
HEARD_KEEP = 10_000


class Metrics:
    """The station's metrics; every method is cheap and thread-safe (call it from any thread)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        """Create the registry and every metric (they show from the first scrape, at zero)."""
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._broadcasts = Counter(
            "loaxa_broadcasts", "Finished broadcast attempts by outcome", ["outcome", "zone"], registry=r
        )
        self._start_error = Histogram(
            "loaxa_start_error_seconds",
            "Absolute start error |actual - planned| of aired broadcasts",
            ["zone"],
            buckets=START_ERROR_BUCKETS,
            registry=r,
        )
        self._last_start_error = Gauge(
            "loaxa_last_start_error_seconds", "Signed start error of the last broadcast (negative = early)",
            ["zone"], registry=r,
        )  # fmt: skip
        self._heard = Counter("loaxa_heard", "Broadcasts the check receiver heard", ["zone"], registry=r)
        self._not_heard = Counter("loaxa_not_heard", "Broadcasts the check receiver did not hear", ["zone"], registry=r)
        self._ratio = Gauge("loaxa_heard_ratio_24h", "Heard / checked over the last 24 h (NaN: none)", registry=r)
        self._ratio.set_function(self.heard_ratio_24h)
        self._time_to_air = Histogram(
            "loaxa_time_to_air_seconds", "Ad-hoc request to sound on air", buckets=TIME_TO_AIR_BUCKETS, registry=r
        )
        self._receivers = Gauge("loaxa_receivers_alive", "Receivers that answered lately", ["zone"], registry=r)
        self._cache = Counter("loaxa_render_cache_lookups", "Speech cache lookups", ["result"], registry=r)
        self._queue = Gauge("loaxa_queue_length", "Broadcasts waiting for a zone's output", ["zone"], registry=r)
        self._alerts = Gauge("loaxa_alerts_active", "Active alerts", registry=r)
        for result in ("hit", "miss"):
            self._cache.labels(result=result)  # both series exist from the start, so the ratio is defined
        self._lock = threading.Lock()
        self._render_seen = (0, 0)  # the renderer's totals when last read
        self._checks: collections.deque[tuple[float, bool]] = collections.deque(maxlen=HEARD_KEEP)

    def broadcast_finished(self, outcome: str, zone: str, start_error_ms: float | None, heard: bool | None) -> None:
        """One attempt ended: count its outcome; record its start error and whether it was heard, when known."""
        self._broadcasts.labels(outcome=str(outcome), zone=zone).inc()
        if start_error_ms is not None and math.isfinite(start_error_ms):
            seconds = start_error_ms / 1000.0
            self._start_error.labels(zone=zone).observe(abs(seconds))
            self._last_start_error.labels(zone=zone).set(seconds)
        if heard is not None:
            self.checked(zone, heard)

    def checked(self, zone: str, heard: bool) -> None:
        """A broadcast's proof of play: heard or not (at the end, or when a zone's receivers report)."""
        (self._heard if heard else self._not_heard).labels(zone=zone).inc()
        with self._lock:
            self._checks.append((self.clock(), heard))

    def time_to_air(self, seconds: float) -> None:
        """An ad-hoc broadcast reached the air ``seconds`` after it was asked for."""
        self._time_to_air.observe(max(0.0, seconds))

    def receivers_alive(self, zone: str, n: int) -> None:
        """How many receivers of ``zone`` answered lately."""
        self._receivers.labels(zone=zone).set(n)

    def render_cache_totals(self, hits: int, misses: int) -> None:
        """The renderer's running totals (read every few seconds): the growth since last time is counted.

        A new renderer (the voice changed) starts again from zero: its totals are then the growth.
        """
        with self._lock:
            last_hits, last_misses = self._render_seen
            self._render_seen = (hits, misses)
        for result, now, last in (("hit", hits, last_hits), ("miss", misses, last_misses)):
            grown = now - last if now >= last else now
            if grown > 0:
                self._cache.labels(result=result).inc(grown)

    def queue_length(self, zone: str, n: int) -> None:
        """Broadcasts waiting for ``zone``'s output."""
        self._queue.labels(zone=zone).set(n)

    def alerts_active(self, n: int) -> None:
        """The number of active alerts."""
        self._alerts.set(n)

    def heard_ratio_24h(self) -> float:
        """Heard / checked over the last 24 h of this process; NaN when nothing was checked."""
        cutoff = self.clock() - DAY
        with self._lock:
            while self._checks and self._checks[0][0] < cutoff:
                self._checks.popleft()
            checked = len(self._checks)
            heard = sum(1 for _, h in self._checks if h)
        return heard / checked if checked else math.nan

    def render(self) -> tuple[bytes, str]:
        """The text exposition for ``GET /metrics``: (body, content type)."""
        return generate_latest(self.registry), CONTENT_TYPE

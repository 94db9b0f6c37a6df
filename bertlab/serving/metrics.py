"""The server's numbers in Prometheus' text format (`GET /metrics`), in a few lines (notebook 14).

Prometheus (or any scraper that reads its format) fetches `/metrics` every few seconds
and stores each line as a time series. Three kinds are enough here:

    # TYPE bertlab_requests_total counter          only goes up; rates come from differences
    bertlab_requests_total{endpoint="/classify",status="200"} 1000
    # TYPE bertlab_queue_waiting gauge              a value now
    bertlab_queue_waiting 3
    # TYPE bertlab_request_seconds histogram        counts of observations <= each bound
    bertlab_request_seconds_bucket{endpoint="/classify",le="0.05"} 970
    ...
    bertlab_request_seconds_bucket{endpoint="/classify",le="+Inf"} 1000
    bertlab_request_seconds_sum{endpoint="/classify"} 21.4
    bertlab_request_seconds_count{endpoint="/classify"} 1000

A histogram keeps counts per bucket, not every value, so a percentile read from it
(`histogram_quantile` in PromQL) is only as fine as its buckets. The format is
specified at https://prometheus.io/docs/instrumenting/exposition_formats/; the tests
parse this output with the official `prometheus_client` parser.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Request seconds: Prometheus' default buckets."""
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
"""Items per forward pass."""

Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{key}="{_escape(value)}"' for key, value in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


class Counter:
    """A number per label set that only goes up."""

    kind = "counter"

    def __init__(self, name: str, help: str) -> None:
        self.name, self.help = name, help
        self.values: dict[Labels, float] = defaultdict(int)

    def inc(self, amount: float = 1, **labels: str) -> None:
        self.values[tuple(sorted(labels.items()))] += amount

    def samples(self) -> list[str]:
        return [f"{self.name}{_labels(k)} {_number(v)}" for k, v in sorted(self.values.items())]


class Gauge:
    """A value read when scraped (`read()` is called then)."""

    kind = "gauge"

    def __init__(self, name: str, help: str, read: Callable[[], float]) -> None:
        self.name, self.help, self.read = name, help, read

    def samples(self) -> list[str]:
        return [f"{self.name} {_number(self.read())}"]


class Histogram:
    """Counts of observations at or below each bound, their sum and their count, per label set."""

    kind = "histogram"

    def __init__(self, name: str, help: str, buckets: Sequence[float]) -> None:
        self.name, self.help = name, help
        self.bounds = tuple(sorted(buckets))
        self.counts: dict[Labels, list[int]] = {}
        self.sums: dict[Labels, float] = defaultdict(float)

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        counts = self.counts.setdefault(key, [0] * (len(self.bounds) + 1))
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                counts[i] += 1
        counts[-1] += 1  # +Inf: every observation
        self.sums[key] += value

    def samples(self) -> list[str]:
        lines = []
        for key, counts in sorted(self.counts.items()):
            for bound, count in zip([*self.bounds, "+Inf"], counts):
                le = 'le="' + (bound if bound == "+Inf" else _number(bound)) + '"'
                lines.append(f"{self.name}_bucket{_labels(key, le)} {count}")
            lines.append(f"{self.name}_sum{_labels(key)} {_number(self.sums[key])}")
            lines.append(f"{self.name}_count{_labels(key)} {counts[-1]}")
        return lines


class Registry:
    """The metrics of one server, rendered together.

    Every update and every rendering happens on the server's event loop, one at a time,
    so no lock is needed.
    """

    def __init__(self) -> None:
        self.metrics: list = []

    def add(self, metric):
        self.metrics.append(metric)
        return metric

    def render(self) -> str:
        lines = []
        for metric in self.metrics:
            lines.append(f"# HELP {metric.name} {metric.help}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            lines.extend(metric.samples())
        return "\n".join(lines) + "\n"


def server_metrics(waiting: Callable[[], float], in_flight: Callable[[], float]) -> Registry:
    """The metrics `bertlab serve` keeps; `registry.requests` etc. are the objects to update."""
    registry = Registry()
    registry.requests = registry.add(
        Counter("bertlab_requests_total", "HTTP requests answered, by endpoint and status code.")
    )
    registry.errors = registry.add(
        Counter("bertlab_errors_total", "Requests refused or failed, by reason.")
    )
    registry.latency = registry.add(
        Histogram("bertlab_request_seconds", "Seconds from request to response.", LATENCY_BUCKETS)
    )
    registry.batch_size = registry.add(
        Histogram("bertlab_batch_size", "Inputs per forward pass (micro-batches).", BATCH_BUCKETS)
    )
    registry.forward = registry.add(
        Histogram("bertlab_batch_seconds", "Seconds per forward pass.", LATENCY_BUCKETS)
    )
    registry.add(Gauge("bertlab_queue_waiting", "Requests waiting for a forward pass.", waiting))
    registry.add(Gauge("bertlab_requests_in_flight", "Requests being answered now.", in_flight))
    return registry

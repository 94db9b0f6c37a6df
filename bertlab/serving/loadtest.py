"""A load test: N concurrent clients against a running server, latency percentiles and throughput.

Notebook 14 and benchmarks/bench_serving.py use it:

    result = await load_test(url, "/classify", [{"texts": [t]} for t in texts], clients=16)
    result.throughput, result.percentile(99), result.errors

Each client (an asyncio task sharing one `httpx.AsyncClient` with a connection per client)
sends its next request as soon as its last one is answered, taking payloads from one
shared list until it is empty: a closed loop, as users who wait for each answer. The
latency of a request is measured from sending to the full answer; throughput is requests
answered per second of the whole run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class LoadTestResult:
    clients: int
    seconds: float
    latencies: list[float]
    statuses: list[int]
    answers: list

    @property
    def requests(self) -> int:
        return len(self.statuses)

    @property
    def errors(self) -> int:
        return sum(status != 200 for status in self.statuses)

    @property
    def throughput(self) -> float:
        """Requests answered per second."""
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        """The q-th percentile of the latencies, in milliseconds."""
        return float(np.percentile(np.asarray(self.latencies) * 1000, q))

    def row(self) -> dict:
        return {
            "clients": self.clients,
            "requests": self.requests,
            "errors": self.errors,
            "requests/s": round(self.throughput, 1),
            "p50 ms": round(self.percentile(50), 1),
            "p95 ms": round(self.percentile(95), 1),
            "p99 ms": round(self.percentile(99), 1),
        }


async def load_test(
    url: str,
    endpoint: str,
    payloads: Sequence[dict],
    clients: int,
    *,
    timeout: float = 120.0,
) -> LoadTestResult:
    """Send every payload (POST `url + endpoint`) with `clients` concurrent clients."""
    import httpx

    if clients < 1 or not payloads:
        raise ValueError("need at least one client and one payload")
    latencies = [0.0] * len(payloads)
    statuses = [0] * len(payloads)
    answers: list = [None] * len(payloads)
    remaining = iter(range(len(payloads)))  # shared: each client takes the next index
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:

        async def one_client() -> None:
            for index in remaining:
                started = time.perf_counter()
                response = await client.post(endpoint, json=payloads[index])
                latencies[index] = time.perf_counter() - started
                statuses[index] = response.status_code
                answers[index] = response.json()

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        seconds = time.perf_counter() - started
    return LoadTestResult(clients, seconds, latencies, statuses, answers)

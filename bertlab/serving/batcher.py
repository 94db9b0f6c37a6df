"""Micro-batching: requests that arrive close together share one forward pass (notebook 14).

A BERT forward pass on one short text wastes most of a CPU: the matrices are a few rows
tall and every layer pays its fixed costs. Sixteen texts in one pass cost far less than
sixteen passes. A server sees requests one at a time, so it collects them:

    results = await batcher.submit(items)     # in each request handler

One worker coroutine takes the first waiting request, then keeps taking requests for at
most `max_wait` seconds or until `max_batch_size` items are collected, and runs
`function(all items)` once, in a worker thread (the event loop keeps accepting requests
meanwhile). Each request gets its own slice of the results. Requests that arrive during
a forward pass wait in the queue and form the next batch, so under load batches fill
without waiting at all; alone, a request waits at most `max_wait`.

The queue is bounded: when `max_queue` requests are waiting, `submit` raises `QueueFull`
at once (the server answers 503 with Retry-After) instead of letting latency grow without
limit. The batcher knows nothing about BERT: `function` is any list -> list function.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field


class QueueFull(Exception):
    """Too many requests are waiting (or the batcher is closing): try again later."""


@dataclass
class Request:
    items: Sequence
    future: asyncio.Future
    arrived: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """Collects the items of concurrent requests into batches for one `function` call each.

    `max_batch_size` counts items (a request of 5 texts counts 5); a request larger than
    it runs alone. `max_wait` is in seconds (0: take only what is already waiting).
    `on_batch(size, seconds)` is called after every batch (the server's metrics).
    """

    def __init__(
        self,
        function: Callable[[list], list],
        *,
        max_batch_size: int = 32,
        max_wait: float = 0.005,
        max_queue: int = 256,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        if max_batch_size < 1 or max_queue < 1 or max_wait < 0:
            raise ValueError("max_batch_size and max_queue must be >= 1, max_wait >= 0")
        self.function = function
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait
        self.max_queue = max_queue
        self.on_batch = on_batch
        self.queue: asyncio.Queue[Request] | None = None
        self.held: Request | None = None  # taken from the queue but left for the next batch
        self.worker: asyncio.Task | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bertlab-model")
        self.closing = False
        self.running = False  # a batch is in the worker thread
        self.batches = 0

    def start(self) -> None:
        """Start the worker (inside the running event loop: the server's startup)."""
        self.queue = asyncio.Queue(maxsize=self.max_queue)
        self.worker = asyncio.get_running_loop().create_task(self._work(), name="micro-batcher")

    @property
    def waiting(self) -> int:
        return self.queue.qsize() if self.queue is not None else 0

    async def submit(self, items: Sequence) -> list:
        """The results for `items`, computed in a batch with other requests' items."""
        if self.queue is None or self.closing:
            raise QueueFull("the server is shutting down")
        request = Request(items, asyncio.get_running_loop().create_future())
        try:
            self.queue.put_nowait(request)
        except asyncio.QueueFull:
            raise QueueFull(f"{self.max_queue} requests are already waiting") from None
        return await request.future

    async def close(self) -> None:
        """Refuse new requests, finish every waiting one, then stop the worker."""
        self.closing = True
        if self.worker is not None:
            while self.waiting or self.held is not None or self.running:
                await asyncio.sleep(0.01)
            self.worker.cancel()
            try:
                await self.worker
            except asyncio.CancelledError:
                pass
        self.executor.shutdown(wait=True)

    # ------------------------------------------------------------------ the worker
    async def _work(self) -> None:
        while True:
            batch = await self._collect()
            self.running = True
            try:
                await self._run(batch)
            finally:
                self.running = False

    async def _collect(self) -> list[Request]:
        """The next batch: the first request, then whatever arrives within `max_wait`."""
        first = self.held or await self.queue.get()
        self.held = None
        batch, size = [first], len(first.items)
        deadline = time.perf_counter() + self.max_wait
        while size < self.max_batch_size:
            timeout = deadline - time.perf_counter()
            if not self.queue.empty():
                request = self.queue.get_nowait()
            elif timeout > 0:
                try:
                    request = await asyncio.wait_for(self.queue.get(), timeout)
                except TimeoutError:
                    break
            else:
                break
            if size + len(request.items) > self.max_batch_size:
                self.held = request  # it would overflow this batch: it starts the next one
                break
            batch.append(request)
            size += len(request.items)
        return batch

    async def _run(self, batch: list[Request]) -> None:
        """One `function` call for the whole batch, in the worker thread; results handed out."""
        items = [item for request in batch for item in request.items]
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self.executor, self.function, items)
        except Exception as error:
            if len(batch) == 1:
                _fail(batch[0], error)
                return
            # One bad request must not fail the others: run each alone to find it.
            for request in batch:
                await self._run_alone(request)
            return
        self.batches += 1
        if self.on_batch is not None:
            self.on_batch(len(items), time.perf_counter() - started)
        start = 0
        for request in batch:
            end = start + len(request.items)
            if not request.future.done():  # a client that went away cancelled its future
                request.future.set_result(results[start:end])
            start = end

    async def _run_alone(self, request: Request) -> None:
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self.executor, self.function, list(request.items))
        except Exception as error:
            _fail(request, error)
            return
        if not request.future.done():
            request.future.set_result(result)


def _fail(request: Request, error: Exception) -> None:
    if not request.future.done():
        request.future.set_exception(error)

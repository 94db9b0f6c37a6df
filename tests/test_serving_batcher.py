"""The micro-batcher on its own (bertlab/serving/batcher.py): which requests share a call,
what a full queue does, and that one failing request leaves the others alone."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bertlab.serving.batcher import MicroBatcher, QueueFull


class Recorder:
    """A list -> list function that remembers every call and can be slowed or made to fail."""

    def __init__(self, delay: float = 0.0, fail_on=None):
        self.calls: list[list] = []
        self.delay, self.fail_on = delay, fail_on
        self.threads: set[str] = set()

    def __call__(self, items: list) -> list:
        self.calls.append(list(items))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"cannot handle {self.fail_on!r}")
        return [f"answer to {item}" for item in items]


def run(coroutine):
    return asyncio.run(coroutine)


async def started(function, **options) -> MicroBatcher:
    batcher = MicroBatcher(function, **options)
    batcher.start()
    return batcher


def test_concurrent_requests_share_one_call_and_get_their_own_answers():
    async def scenario():
        recorder = Recorder()
        batcher = await started(recorder, max_batch_size=32, max_wait=0.05)
        answers = await asyncio.gather(*(batcher.submit([f"t{i}"]) for i in range(10)))
        await batcher.close()
        return recorder, answers

    recorder, answers = run(scenario())
    assert answers == [[f"answer to t{i}"] for i in range(10)]
    assert recorder.calls == [[f"t{i}" for i in range(10)]]
    assert recorder.threads == {"bertlab-model_0"}  # off the event loop, in the one worker thread


def test_a_batch_never_exceeds_max_batch_size_and_a_large_request_runs_alone():
    async def scenario():
        recorder = Recorder()
        batcher = await started(recorder, max_batch_size=4, max_wait=0.05)
        requests = [["a", "b"], ["c", "d", "e"], ["f"], list("ghijkl"), ["m"]]
        answers = await asyncio.gather(*(batcher.submit(items) for items in requests))
        await batcher.close()
        return recorder, requests, answers

    recorder, requests, answers = run(scenario())
    assert answers == [[f"answer to {item}" for item in items] for items in requests]
    sizes = [len(call) for call in recorder.calls]
    assert sum(sizes) == 13
    assert all(size <= 4 for size, call in zip(sizes, recorder.calls) if call != list("ghijkl"))
    assert list("ghijkl") in recorder.calls  # larger than a batch: alone, not split
    assert [item for call in recorder.calls for item in call] == list("abcdefghijklm")  # in order


def test_requests_that_arrive_during_a_forward_pass_form_the_next_batch():
    async def scenario():
        recorder = Recorder(delay=0.2)
        batcher = await started(recorder, max_batch_size=64, max_wait=0.0)
        first = asyncio.create_task(batcher.submit(["first"]))
        await asyncio.sleep(0.05)  # the first call is running now
        later = [asyncio.create_task(batcher.submit([f"later{i}"])) for i in range(5)]
        await asyncio.gather(first, *later)
        await batcher.close()
        return recorder

    assert run(scenario()).calls == [["first"], [f"later{i}" for i in range(5)]]


def test_max_wait_zero_takes_only_what_is_waiting():
    async def scenario():
        recorder = Recorder()
        batcher = await started(recorder, max_batch_size=64, max_wait=0.0)
        for i in range(3):
            await batcher.submit([i])  # one after the other: nobody else is waiting
        await batcher.close()
        return recorder

    assert run(scenario()).calls == [[0], [1], [2]]


def test_a_full_queue_refuses_at_once():
    async def scenario():
        recorder = Recorder(delay=0.3)
        batcher = await started(recorder, max_batch_size=1, max_wait=0.0, max_queue=2)
        running = asyncio.create_task(batcher.submit(["running"]))
        await asyncio.sleep(0.05)  # taken by the worker: the queue is empty again
        queued = [asyncio.create_task(batcher.submit([f"q{i}"])) for i in range(2)]
        await asyncio.sleep(0)
        started_at = time.perf_counter()
        with pytest.raises(QueueFull, match="2 requests are already waiting"):
            await batcher.submit(["one too many"])
        refused_in = time.perf_counter() - started_at
        answers = await asyncio.gather(running, *queued)
        await batcher.close()
        return refused_in, answers

    refused_in, answers = run(scenario())
    assert refused_in < 0.1  # refused without waiting for the model
    assert answers == [["answer to running"], ["answer to q0"], ["answer to q1"]]


def test_one_failing_request_does_not_fail_the_others_in_its_batch():
    async def scenario():
        recorder = Recorder(fail_on="bad")
        batcher = await started(recorder, max_batch_size=8, max_wait=0.05)
        results = await asyncio.gather(
            batcher.submit(["good1"]),
            batcher.submit(["bad"]),
            batcher.submit(["good2"]),
            return_exceptions=True,
        )
        after = await batcher.submit(["still working"])
        await batcher.close()
        return results, after

    (good1, bad, good2), after = run(scenario())
    assert good1 == ["answer to good1"] and good2 == ["answer to good2"]
    assert isinstance(bad, ValueError) and "bad" in str(bad)
    assert after == ["answer to still working"]


def test_close_finishes_waiting_requests_then_refuses_new_ones():
    async def scenario():
        recorder = Recorder(delay=0.1)
        batcher = await started(recorder, max_batch_size=1, max_wait=0.0)
        pending = [asyncio.create_task(batcher.submit([i])) for i in range(3)]
        await asyncio.sleep(0.01)
        await batcher.close()
        answers = [task.result() for task in pending]  # all done when close() returns
        with pytest.raises(QueueFull, match="shutting down"):
            await batcher.submit(["late"])
        return answers

    assert run(scenario()) == [["answer to 0"], ["answer to 1"], ["answer to 2"]]


def test_bad_settings_are_refused():
    for options in ({"max_batch_size": 0}, {"max_queue": 0}, {"max_wait": -1}):
        with pytest.raises(ValueError, match="must be"):
            MicroBatcher(Recorder(), **options)

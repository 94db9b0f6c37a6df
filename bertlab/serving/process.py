"""`bertlab serve` as a child process that is always stopped: for notebooks, tests and benchmarks.

    with ServerProcess("runs/notebook10-sst2", "--max-batch-size", "16") as server:
        httpx.post(server.url + "/classify", json={"texts": ["a gripping film"]})

The child listens on 127.0.0.1 on a free port (`--port 0`) and announces its address on
standard error; `start()` returns once it answers `/health`. `stop()` sends SIGTERM (the
server finishes its requests in flight and exits), and kills it only if it has not
exited after `timeout` seconds. Three nets catch a parent that never calls `stop()`: the
`with` block, an `atexit` hook, and `--watch-stdin` (the child stops when the pipe to its
standard input closes, which happens even when the parent is killed).
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

READY = re.compile(r"answering on (http://\S+)")


class ServerProcess:
    """One `bertlab serve --model MODEL --port 0 ARGS...` child process."""

    def __init__(
        self,
        model: str | os.PathLike,
        *args: str,
        host: str = "127.0.0.1",
        ready_timeout: float = 180.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.command = [
            sys.executable, "-m", "bertlab", "serve", "--model", str(Path(model)),
            "--host", host, "--port", "0", "--watch-stdin", *map(str, args),
        ]  # fmt: skip
        self.ready_timeout = ready_timeout
        self.env = env
        self.process: subprocess.Popen | None = None
        self.url: str | None = None
        self.log: collections.deque[str] = collections.deque(maxlen=200)
        self.output: list[str] = []
        self._ready = threading.Event()
        self._readers: list[threading.Thread] = []

    def __repr__(self) -> str:
        state = "not started" if self.process is None else f"pid {self.process.pid}"
        return f"ServerProcess({self.url or state})"

    def start(self) -> ServerProcess:
        """Start the child and wait until it answers; a RuntimeError shows its last log lines."""
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        atexit.register(self.stop)
        self._read(self.process.stderr, self._note_log)
        self._read(self.process.stdout, self.output.append)
        deadline = time.monotonic() + self.ready_timeout
        while not self._ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"bertlab serve did not start:\n{self.last_log()}")
        self._wait_until_healthy(deadline)
        return self

    def _read(self, stream, sink) -> None:
        thread = threading.Thread(target=lambda: [sink(line) for line in stream], daemon=True)
        thread.start()
        self._readers.append(thread)

    def _note_log(self, line: str) -> None:
        self.log.append(line.rstrip("\n"))
        found = READY.search(line)
        if found and not self._ready.is_set():
            self.url = found.group(1)
            self._ready.set()

    def _wait_until_healthy(self, deadline: float) -> None:
        import httpx

        while True:
            try:
                if httpx.get(self.url + "/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"bertlab serve never answered /health:\n{self.last_log()}")
            time.sleep(0.1)

    def in_flight(self) -> int:
        """Requests the server is answering now (received, not yet answered), from /metrics."""
        import httpx

        for line in httpx.get(self.url + "/metrics", timeout=10).text.splitlines():
            if line.startswith("bertlab_requests_in_flight "):
                return int(float(line.split()[-1])) - 1  # not counting this request itself
        raise RuntimeError("the server's /metrics has no bertlab_requests_in_flight")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait up to `timeout` s, then kill; returns the exit status (None: never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin,):
            if stream and not stream.closed:
                stream.close()
        for thread in self._readers:
            thread.join(timeout=5)
        atexit.unregister(self.stop)
        return self.process.returncode

    @property
    def summary(self) -> dict | None:
        """The JSON `bertlab serve` printed when it stopped (None before, or if it crashed)."""
        text = "".join(self.output).strip()
        try:
            return json.loads(text) if text else None
        except json.JSONDecodeError:
            return None

    def last_log(self, lines: int = 20) -> str:
        return "\n".join(list(self.log)[-lines:])

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

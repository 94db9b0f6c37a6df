"""`bertlab serve`: a model folder as an HTTP service (FastAPI + uvicorn), notebook 14.

    bertlab serve --model runs/notebook10-sst2            # http://127.0.0.1:8000
    curl -s localhost:8000/classify -H 'content-type: application/json' \\
         -d '{"texts": ["a gripping, funny film"]}'

One process serves one model; the endpoint is the model's task:

    POST /classify   {"texts": [...]}                      text-classification
    POST /entities   {"texts": [...]}                      token-classification
    POST /answer     {"question": "...", "context": "..."} question-answering
    POST /fill-mask  {"texts": ["... [MASK] ..."]}         fill-mask
    POST /embed      {"texts": [...]}                      sentence-embedding
    GET  /health     the task, the model, the limits, the queue
    GET  /metrics    Prometheus text format (metrics.py)
    GET  /openapi.json, and GET / : a page to try the model (static/, no CDN)

FastAPI's /docs and /redoc pages are off: they load their scripts from a CDN.

What keeps it standing (tests/test_serving_server.py tries each):

- Requests are checked before they reach the model, and each refusal is JSON whose `error`
  says what is wrong: 422 for malformed or empty JSON, wrong types, unknown fields, too many,
  too long or blank texts; 413 for a body over the byte limit; 415 for a body not sent as
  JSON; 400 for one that is not UTF-8.
- The model runs in one worker thread, off the event loop, on micro-batches
  (batcher.py); a full queue answers 503 with `Retry-After` at once.
- An unexpected failure answers 500 for that request only; the server keeps serving.
- SIGTERM or Ctrl-C stops accepting connections, finishes the requests in flight, and exits.
"""

# No `from __future__ import annotations` here: FastAPI reads the request models from the
# handlers' annotations, and those models are built inside a function (`request_models`).

import argparse
import socket
import sys
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from starlette.exceptions import HTTPException

from bertlab import __version__
from bertlab.serving.batcher import MicroBatcher, QueueFull
from bertlab.serving.metrics import server_metrics
from bertlab.serving.pipeline import Pipeline

STATIC = Path(__file__).parent / "static"
ENDPOINTS = {
    "text-classification": "/classify",
    "token-classification": "/entities",
    "question-answering": "/answer",
    "fill-mask": "/fill-mask",
    "sentence-embedding": "/embed",
}
PAGE_HEADERS = {
    # The page may load nothing from anywhere but this server.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}
REASONS = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
REASONS |= {415: "not_json", 422: "invalid_request", 500: "internal", 503: "busy"}


@dataclass
class ServerSettings:
    """Limits and batching of `bertlab serve` (each is a flag of the same name)."""

    max_batch_size: int = 32
    max_wait_ms: float = 5.0
    max_queue: int = 256
    max_texts: int = 64
    max_chars: int = 2000
    max_context_chars: int = 10_000
    max_body_bytes: int = 1_000_000
    retry_after_seconds: int = 1

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value < (0 if name == "max_wait_ms" else 1):
                raise ValueError(f"{name} must be {'>= 0' if name == 'max_wait_ms' else '>= 1'}")


SETTING_HELP = {
    "max_batch_size": "most inputs one forward pass runs (micro-batching)",
    "max_wait_ms": "how long the first request of a batch waits for others to join it",
    "max_queue": "inputs waiting at most; beyond it requests get 503 with Retry-After",
    "max_texts": "most texts in one request",
    "max_chars": "longest text accepted, in characters",
    "max_context_chars": "longest QA context accepted, in characters",
    "max_body_bytes": "largest request body accepted",
    "retry_after_seconds": "the Retry-After a 503 answer carries",
}


# --------------------------------------------------------------------------- request and response bodies


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("is empty (only whitespace)")
    return text


def request_models(settings: ServerSettings) -> tuple[type[BaseModel], type[BaseModel]]:
    """The two request bodies, with this server's limits (they also appear in /openapi.json)."""

    def text(limit: int):
        return Annotated[str, StringConstraints(max_length=limit), AfterValidator(_not_blank)]

    class TextsRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        texts: list[text(settings.max_chars)] = Field(
            min_length=1,
            max_length=settings.max_texts,
            description="the texts, answered in this order",
            examples=[["a gripping, funny and moving film", "the jokes fall flat"]],
        )

    class QuestionRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        question: text(settings.max_chars) = Field(examples=["Who built the lighthouse?"])
        context: text(settings.max_context_chars) = Field(
            examples=["Robert Stevenson built the Bell Rock Lighthouse between 1807 and 1810."]
        )

    return TextsRequest, QuestionRequest


class Classification(BaseModel):
    label: str
    score: float
    probabilities: dict[str, float] | None = None


class Entity(BaseModel):
    entity_group: str
    score: float
    word: str
    start: int
    end: int


class Answer(BaseModel):
    answer: str
    score: float
    start: int | None
    end: int | None


class Candidate(BaseModel):
    score: float
    token: int
    token_str: str
    sequence: str


class ClassifyResponse(BaseModel):
    results: list[Classification]


class EntitiesResponse(BaseModel):
    results: list[list[Entity]]


class FillMaskResponse(BaseModel):
    results: list[list[Candidate] | list[list[Candidate]]]


class EmbedResponse(BaseModel):
    dimension: int
    embeddings: list[list[float]]


class ErrorBody(BaseModel):
    error: str
    detail: list[dict[str, Any]] | None = None


# --------------------------------------------------------------------------- errors as JSON


def describe_validation_error(errors: list[dict]) -> str:
    """One line for the first problem FastAPI/pydantic found in a request body."""
    first = errors[0]
    kind, where = first.get("type"), [str(part) for part in first.get("loc", ())]
    if kind == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "not JSON")
        return f"the body is not valid JSON ({reason} at character {where[-1]})"
    if where == ["body"] and kind == "missing":
        return "the body is empty: send a JSON object"
    if where == ["body"]:
        return f"the body must be a JSON object ({first.get('msg')})"
    field = ".".join(where[1:] if where[:1] == ["body"] else where)
    message = first.get("msg", "invalid").removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{field}: {message}{more}"


def error_response(status: int, message: str, detail=None, headers=None) -> JSONResponse:
    body = {"error": message} if detail is None else {"error": message, "detail": detail}
    return JSONResponse(body, status_code=status, headers=headers)


def add_error_handlers(app: FastAPI, settings: ServerSettings) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        errors = list(error.errors())
        detail = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in errors]
        return error_response(422, describe_validation_error(errors), detail)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        return error_response(error.status_code, str(error.detail), headers=error.headers)

    @app.exception_handler(QueueFull)
    async def busy(request: Request, error: QueueFull):
        retry = str(settings.retry_after_seconds)
        return error_response(503, f"busy: {error}; retry later", headers={"Retry-After": retry})

    @app.exception_handler(ValueError)
    async def bad_input(request: Request, error: ValueError):
        return error_response(422, str(error))

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception):
        return error_response(500, f"internal error: {type(error).__name__}: {error}")


# --------------------------------------------------------------------------- the ASGI guard


class Guard:
    """Around the whole app: the body-size limit (413 before parsing), and every request's
    status and latency into the metrics. Plain ASGI, so it costs little per request."""

    def __init__(self, app, settings: ServerSettings, metrics, known_paths: set[str]) -> None:
        self.app, self.settings, self.metrics, self.known_paths = (
            app,
            settings,
            metrics,
            known_paths,
        )
        self.in_flight = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500
        self.in_flight += 1

        async def send_and_note(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            body, refusal = await self._read_body(scope, receive)
            if refusal is not None:
                await refusal(scope, receive, send_and_note)
            else:
                await self.app(scope, _replay(body, receive), send_and_note)
        finally:
            self.in_flight -= 1
            path = scope["path"] if scope["path"] in self.known_paths else "other"
            self.metrics.requests.inc(endpoint=path, status=str(status))
            self.metrics.latency.observe(time.perf_counter() - started, endpoint=path)
            if status >= 400:
                self.metrics.errors.inc(reason=REASONS.get(status, str(status)))

    async def _read_body(self, scope, receive) -> tuple[bytes, JSONResponse | None]:
        """The whole body, or a refusal: 415 if a POST body is not declared JSON, 413 if it is
        too large, 400 if its declared length is garbled or it is not UTF-8 (as JSON must be)."""
        limit = self.settings.max_body_bytes
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if scope["method"] == "POST" and not (
            kind == b"application/json" or kind.endswith(b"+json")
        ):
            shown = kind.decode("latin-1") or "none"
            return b"", error_response(
                415, f"send the body as JSON with Content-Type: application/json (got {shown})"
            )
        if declared is not None:
            if not declared.isdigit():
                return b"", error_response(400, "Content-Length is not a number")
            if int(declared) > limit:
                return b"", error_response(413, f"the body is larger than {limit:,} bytes")
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return b"", error_response(413, f"the body is larger than {limit:,} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            return b"", error_response(400, f"the body is not UTF-8 text (byte {error.start})")
        return body, None


def _replay(body: bytes, receive):
    """An ASGI `receive` that gives the app the body read by the guard, then the real channel."""
    delivered = False

    async def replay():
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


# --------------------------------------------------------------------------- the app


def create_app(pipe: Pipeline, settings: ServerSettings | None = None):
    """The ASGI app serving `pipe` (run it with uvicorn, as `serve` does).

    Returns the app wrapped in its `Guard`; the FastAPI object is `app.fastapi`, the
    micro-batcher `app.batcher`.
    """
    settings = settings or ServerSettings()
    batcher = MicroBatcher(
        pipe.predict,
        max_batch_size=settings.max_batch_size,
        max_wait=settings.max_wait_ms / 1000,
        max_queue=settings.max_queue,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await batcher.close()

    app = FastAPI(
        title=f"bertlab: {pipe.task}",
        version=__version__,
        description=f"The model in {pipe.source}, served by bertlab (notebook 14).",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    endpoint = ENDPOINTS[pipe.task]
    metrics = server_metrics(lambda: batcher.waiting, lambda: guard.in_flight)
    guard = Guard(app, settings, metrics, {endpoint, "/", "/health", "/metrics", "/openapi.json"})

    def note_batch(size: int, seconds: float) -> None:
        metrics.batch_size.observe(size)
        metrics.forward.observe(seconds)

    batcher.on_batch = note_batch
    add_error_handlers(app, settings)
    add_task_endpoint(app, pipe, batcher, settings, endpoint)
    add_service_endpoints(app, pipe, batcher, settings, metrics, endpoint)
    guard.fastapi, guard.batcher, guard.pipeline = app, batcher, pipe
    return guard


def add_task_endpoint(app, pipe: Pipeline, batcher, settings, endpoint: str) -> None:
    """The one POST endpoint of the model's task."""
    TextsRequest, QuestionRequest = request_models(settings)
    errors = {code: {"model": ErrorBody} for code in (413, 422, 500, 503)}

    async def answers(items: list) -> list:
        checked = [pipe.steps.check(item) for item in items]  # a ValueError -> 422
        return await batcher.submit(checked)

    if pipe.task == "question-answering":

        @app.post(endpoint, response_model=Answer, responses=errors, summary="Answer a question")
        async def answer(body: QuestionRequest):
            return (await answers([{"question": body.question, "context": body.context}]))[0]

        return
    response_model = {
        "text-classification": ClassifyResponse,
        "token-classification": EntitiesResponse,
        "fill-mask": FillMaskResponse,
        "sentence-embedding": EmbedResponse,
    }[pipe.task]

    @app.post(endpoint, response_model=response_model, responses=errors, summary=pipe.task)
    async def texts(body: TextsRequest):
        results = await answers(body.texts)
        if pipe.task == "sentence-embedding":
            vectors = np.stack(results)
            return {"dimension": vectors.shape[1], "embeddings": vectors.tolist()}
        return {"results": results}


def add_service_endpoints(app, pipe: Pipeline, batcher, settings, metrics, endpoint: str) -> None:
    """/health, /metrics, the page and its files."""
    from fastapi.responses import PlainTextResponse

    @app.get("/health", summary="Is the server up, and what does it serve")
    async def health():
        return {
            "status": "shutting down" if batcher.closing else "ok",
            "task": pipe.task,
            "endpoint": endpoint,
            "model": pipe.source,
            "backend": pipe.backend.name,
            "labels": _labels(pipe),
            "waiting": batcher.waiting,
            "settings": asdict(settings),
        }

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus text format")
    async def prometheus():
        return PlainTextResponse(
            metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _labels(pipe: Pipeline) -> list[str] | None:
    if pipe.task not in ("text-classification", "token-classification"):
        return None
    id2label = pipe.config.id2label
    return [id2label[i] for i in range(len(id2label))]


# --------------------------------------------------------------------------- running it


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port), or an OSError naming the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
    # that say they are TCP, and with it on, every keep-alive response waits ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(
            f"--host {host} --port {port}: cannot listen there ({error.strerror})"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _uvicorn_server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, saying when it answers, and ending normally after SIGTERM.

        uvicorn re-raises a caught SIGTERM once it has shut down gracefully, which kills
        the process before `bertlab serve` can print its summary; here the signal only
        starts the graceful shutdown (a second Ctrl-C still forces it).
        """

        announce = ""
        stopped_by = "the server stopped"

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if self.started and self.announce:
                print(self.announce, file=sys.stderr, flush=True)

        def handle_exit(self, sig, frame) -> None:
            import signal

            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.stopped_by = f"stopped by {signal.Signals(sig).name}"
            self.should_exit = True

    return Server


def serve(
    folder: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    backend: str = "torch",
    onnx_path: str | None = None,
    device: str | None = None,
    threads: int | None = None,
    precision: str = "fp32",
    settings: ServerSettings | None = None,
    watch_stdin: bool = False,
    log_level: str = "warning",
) -> dict:
    """Serve FOLDER until SIGTERM/Ctrl-C (or end of standard input with `watch_stdin`)."""
    import torch
    import uvicorn

    if threads is not None:
        torch.set_num_threads(threads)
    pipe = Pipeline.from_pretrained(
        folder,
        backend=backend,
        onnx_path=onnx_path,
        device=device,
        threads=threads,
        precision=precision,
    )
    app = create_app(pipe, settings)
    sock = bind(host, port)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=30,
        lifespan="on",
    )
    server = _uvicorn_server_class()(config)
    server.announce = (
        f"bertlab serve: {pipe.task} ({backend}) from {folder} answering on {url} "
        f"(POST {ENDPOINTS[pipe.task]}; Ctrl-C or SIGTERM stops it)"
    )
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"bertlab serve: warning: listening on {host}: others on the network can call it",
            file=sys.stderr,
        )
    if watch_stdin:
        threading.Thread(target=_stop_at_end_of_input, args=(server,), daemon=True).start()
    started = time.perf_counter()
    server.run(sockets=[sock])
    return {
        "command": "serve",
        "model": str(folder),
        "task": pipe.task,
        "backend": backend,
        "precision": precision,
        "url": url,
        "stopped": server.stopped_by,
        "seconds": round(time.perf_counter() - started, 1),
        "requests": int(sum(app.metrics.requests.values.values())),
        "batches": app.batcher.batches,
    }


def _stop_at_end_of_input(server) -> None:
    """Stop the server when standard input closes: its parent (a notebook kernel) is gone."""
    for _ in sys.stdin:
        pass
    server.stopped_by = "stopped: standard input closed"
    server.should_exit = True


# --------------------------------------------------------------------------- the command


def add_command(commands: argparse._SubParsersAction) -> None:
    """`bertlab serve --model DIR [--host 127.0.0.1] [--port 8000] [--backend torch|onnx] ...`."""
    from bertlab.flags import non_negative_number, positive_number, whole_number
    from bertlab.training import PRECISIONS

    description = "serve a model folder over HTTP with micro-batching (notebook 14)"
    parser = commands.add_parser("serve", help=description, description=description)
    add = parser.add_argument
    add("--model", required=True, help="a model folder bertlab wrote")
    add("--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)")
    add(
        "--port", type=int, default=8000, help="the port; 0 picks a free one (default: %(default)s)"
    )
    add(
        "--backend",
        choices=("torch", "onnx"),
        default="torch",
        help="run the model with PyTorch or with ONNX Runtime on `bertlab export`'s file "
        "(default: %(default)s)",
    )
    add(
        "--onnx",
        dest="onnx_path",
        help="the ONNX file for --backend onnx (default: MODEL/model.onnx)",
    )
    add(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where the torch backend runs: a CUDA GPU when present with auto (default: %(default)s)",
    )
    add(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="the torch backend's autocast: bf16 (CPU or GPU) or fp16 (GPU only), as for "
        "`bertlab predict` (default: %(default)s)",
    )
    add("--threads", type=whole_number, help="CPU threads for the model (default: the library's)")
    defaults = ServerSettings()
    for name, value in asdict(defaults).items():
        kind = positive_number if isinstance(value, float) else whole_number
        if name == "max_wait_ms":
            kind = non_negative_number
        add(
            "--" + name.replace("_", "-"),
            type=kind,
            default=value,
            help=f"{SETTING_HELP[name]} (default: %(default)s)",
        )
    add(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        default="warning",
        help="how much uvicorn logs (default: %(default)s)",
    )
    add("--watch-stdin", action="store_true", help="stop when standard input closes")
    parser.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> dict:
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: must be in 0..65535")
    settings = ServerSettings(**{name: getattr(args, name) for name in asdict(ServerSettings())})
    return serve(
        args.model,
        host=args.host,
        port=args.port,
        backend=args.backend,
        onnx_path=args.onnx_path,
        device=None if args.device == "auto" else args.device,
        threads=args.threads,
        precision=args.precision,
        settings=settings,
        watch_stdin=args.watch_stdin,
        log_level=args.log_level,
    )

"""`bertlab serve` (bertlab/serving/server.py): every kind of bad request gets its 4xx and the
server stays healthy; a full queue answers 503; a failure is one request's 500; answers under
concurrency equal the pipeline's; /metrics parses as Prometheus text; SIGTERM finishes the
requests in flight. Servers listen on 127.0.0.1, on a free port, and are stopped by each test.

The models are tiny random BERTs with MiniLM's vocabulary (`tiny_config`): loading is instant
and answers are deterministic, which is all a server test needs.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
import torch

from bertlab.checkpoints import save_folder
from bertlab.serving import Pipeline, ServerProcess, create_app
from bertlab.serving.loadtest import load_test
from bertlab.serving.server import ServerSettings, bind

CONLL_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
REVIEWS = [
    "a gripping , funny and deeply moving film .",
    "the plot is thin and the jokes fall flat .",
    "an utterly charming and hilarious film that reaches across time and distance .",
    "it 's a bad sign when you 're rooting for the film to end .",
]


def make_folder(tmp_path_factory, tiny_config, tokenizer, model_class, seed=0, **config):
    """A tiny random model of `model_class` saved as a folder bertlab and transformers load."""
    torch.manual_seed(seed)
    model = model_class(
        tiny_config(vocab_size=tokenizer.vocab_size, max_position_embeddings=512, **config)
    )
    if hasattr(model, "classifier"):  # larger head weights: varied labels from a random encoder
        torch.nn.init.normal_(model.classifier.weight, std=2.0)
    folder = tmp_path_factory.mktemp(model_class.__name__) / "model"
    return save_folder(folder, model.eval(), tokenizer)


@pytest.fixture(scope="module")
def folders(tmp_path_factory, tiny_config, tokenizer):
    from bertlab.model import BertModel
    from bertlab.pretraining import BertForMaskedLM
    from bertlab.tasks.classification import BertForSequenceClassification
    from bertlab.tasks.ner import BertForTokenClassification
    from bertlab.tasks.qa import BertForQuestionAnswering

    def make(model_class, **config):
        return make_folder(tmp_path_factory, tiny_config, tokenizer, model_class, **config)

    return {
        "text-classification": make(
            BertForSequenceClassification, id2label={0: "negative", 1: "positive"}
        ),
        "token-classification": make(
            BertForTokenClassification, id2label=dict(enumerate(CONLL_TAGS))
        ),
        "question-answering": make(BertForQuestionAnswering),
        "fill-mask": make(BertForMaskedLM),
        "sentence-embedding": make(BertModel),
    }


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1 (a free port) in a thread of this process."""

    def __init__(self, app):
        import uvicorn

        self.app = app
        self.server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        )
        self.socket = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]})
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


@pytest.fixture(scope="module")
def classifier(folders):
    return Pipeline.from_pretrained(folders["text-classification"], device="cpu")


@pytest.fixture(scope="module")
def server(classifier):
    settings = ServerSettings(max_texts=8, max_chars=200, max_body_bytes=10_000)
    with ServerThread(create_app(classifier, settings)) as running:
        yield running


def post(url, body: bytes, content_type="application/json", path="/classify"):
    headers = {"Content-Type": content_type} if content_type else {}
    return httpx.post(url + path, content=body, headers=headers)


BAD_REQUESTS = [
    ("empty body", b"", "application/json", 422, "the body is empty"),
    ("malformed JSON", b'{"texts": [', "application/json", 422, "not valid JSON"),
    ("not an object", b'["a film"]', "application/json", 422, "must be a JSON object"),
    ("no texts", b"{}", "application/json", 422, "texts: Field required"),
    ("empty list", b'{"texts": []}', "application/json", 422, "texts: List should have at least 1"),
    ("a number", b'{"texts": ["fine", 3]}', "application/json", 422, "texts.1: Input should be a valid string"),
    ("a list in a list", b'{"texts": [["a"]]}', "application/json", 422, "texts.0: Input should be a valid string"),
    ("null", b'{"texts": null}', "application/json", 422, "texts: Input should be a valid list"),
    ("blank text", b'{"texts": ["   "]}', "application/json", 422, "texts.0: is empty"),
    ("unknown field", b'{"texts": ["a"], "top_k": 3}', "application/json", 422, "top_k: Extra inputs"),
    ("too many texts", json.dumps({"texts": ["a"] * 9}).encode(), "application/json", 422, "at most 8 items"),
    ("too long a text", json.dumps({"texts": ["a" * 201]}).encode(), "application/json", 422, "at most 200 characters"),
    ("body too large", b'{"texts": ["' + b"a" * 20_000 + b'"]}', "application/json", 413, "larger than 10,000 bytes"),
    ("no content type", b'{"texts": ["a"]}', None, 415, "Content-Type: application/json"),
    ("form data", b"texts=a", "application/x-www-form-urlencoded", 415, "Content-Type: application/json"),
    ("invalid UTF-8", b'{"texts": ["\xff\xfe"]}', "application/json", 400, "not UTF-8 text (byte 12)"),
]  # fmt: skip


@pytest.mark.parametrize(
    "body, content_type, status, message",
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_each_bad_request_gets_its_4xx_with_a_json_error_and_the_server_stays_healthy(
    server, body, content_type, status, message
):
    response = post(server.url, body, content_type)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["error"]
    assert httpx.get(server.url + "/health").json()["status"] == "ok"
    assert post(server.url, b'{"texts": ["still answering"]}').status_code == 200


def test_wrong_paths_and_methods_get_json_errors_too(server):
    assert httpx.get(server.url + "/nowhere").json() == {"error": "Not Found"}
    response = httpx.get(server.url + "/classify")
    assert response.status_code == 405 and response.json() == {"error": "Method Not Allowed"}
    assert httpx.get(server.url + "/docs").status_code == 404  # FastAPI's CDN-loading pages are off


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n",
        b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{",  # then the client hangs up
    ],
    ids=["not HTTP", "garbled length", "client leaves mid-body"],
)
def test_broken_http_never_harms_the_server(server, raw):
    import socket

    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(raw)
        connection.shutdown(socket.SHUT_WR)
        reply = connection.recv(1000)
    assert reply == b"" or reply.startswith(b"HTTP/1.1 4")
    assert post(server.url, b'{"texts": ["still answering"]}').status_code == 200


def test_answers_under_concurrency_equal_the_pipeline_and_share_forward_passes(server, classifier):
    texts = [REVIEWS[i % len(REVIEWS)] + f" ({i})" for i in range(160)]
    before = metric_value(server.url, "bertlab_batch_size_count")
    result = asyncio.run(load_test(server.url, "/classify", [{"texts": [t]} for t in texts], 16))
    assert result.errors == 0
    served = [answer["results"][0] for answer in result.answers]
    expected = classifier(texts)
    assert [a["label"] for a in served] == [e["label"] for e in expected]
    for a, e in zip(served, expected):
        assert a["score"] == pytest.approx(e["score"], abs=1e-5)  # batched with other texts
    forward_passes = metric_value(server.url, "bertlab_batch_size_count") - before
    assert forward_passes < len(texts)  # micro-batching put several requests into one pass


def metric_value(url: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(httpx.get(url + "/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise KeyError(name)


def test_metrics_are_prometheus_text_with_requests_errors_latency_and_batches(server):
    pytest.importorskip("prometheus_client")
    from prometheus_client.parser import text_string_to_metric_families

    ok = metric_value(server.url, "bertlab_requests_total", endpoint="/classify", status="200")
    post(server.url, b'{"texts": ["one more"]}')
    post(server.url, b"{", "application/json")
    response = httpx.get(server.url + "/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert {"bertlab_requests", "bertlab_errors", "bertlab_request_seconds"} <= set(families)
    assert families["bertlab_request_seconds"].type == "histogram"
    assert families["bertlab_batch_size"].type == "histogram"
    assert families["bertlab_queue_waiting"].type == "gauge"
    assert (
        metric_value(server.url, "bertlab_requests_total", endpoint="/classify", status="200")
        == ok + 1
    )
    assert metric_value(server.url, "bertlab_errors_total", reason="invalid_request") >= 1
    buckets = [s for s in families["bertlab_request_seconds"].samples if s.name.endswith("_bucket")]
    classify = [s.value for s in buckets if s.labels["endpoint"] == "/classify"]
    assert classify == sorted(classify)  # cumulative counts
    assert classify[-1] == metric_value(
        server.url, "bertlab_request_seconds_count", endpoint="/classify"
    )


def test_openapi_schema_page_and_static_files_need_nothing_from_outside(server):
    schema = httpx.get(server.url + "/openapi.json").json()
    assert "/classify" in schema["paths"] and "/health" in schema["paths"]
    texts = schema["components"]["schemas"]["TextsRequest"]["properties"]["texts"]
    assert texts["maxItems"] == 8 and texts["items"]["maxLength"] == 200
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    for path in ("/", "/static/app.js", "/static/style.css"):
        text = httpx.get(server.url + path).text
        assert "http://" not in text and "https://" not in text, f"{path} names another server"


def test_a_full_queue_answers_503_with_retry_after_at_once(classifier):
    slow = SlowPipeline(classifier, seconds=0.5)
    settings = ServerSettings(max_queue=1, max_batch_size=1, max_wait_ms=0, retry_after_seconds=2)
    with ServerThread(create_app(slow, settings)) as running:
        with ThreadPoolExecutor(6) as pool:
            responses = list(
                pool.map(
                    lambda i: post(running.url, json.dumps({"texts": [f"t{i}"]}).encode()), range(6)
                )
            )
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(200) >= 2 and 503 in statuses, statuses
        refused = next(r for r in responses if r.status_code == 503)
        assert refused.headers["retry-after"] == "2"
        assert "busy" in refused.json()["error"]
        assert post(running.url, b'{"texts": ["after the rush"]}').status_code == 200


def test_a_failure_in_the_model_is_a_500_for_that_request_only(classifier):
    failing = SlowPipeline(classifier, seconds=0.05, fail_on="boom")
    with ServerThread(create_app(failing, ServerSettings(max_wait_ms=50))) as running:
        with ThreadPoolExecutor(3) as pool:
            bodies = [b'{"texts": ["fine"]}', b'{"texts": ["boom"]}', b'{"texts": ["also fine"]}']
            responses = list(pool.map(lambda body: post(running.url, body), bodies))
        assert [r.status_code for r in responses] == [200, 500, 200]
        assert "RuntimeError: the model failed on 'boom'" in responses[1].json()["error"]
        assert httpx.get(running.url + "/health").json()["status"] == "ok"


class SlowPipeline:
    """A pipeline whose forward pass takes `seconds` longer, and fails on one input if asked."""

    def __init__(self, pipe, seconds: float, fail_on: str | None = None):
        self.pipe, self.seconds, self.fail_on = pipe, seconds, fail_on

    def __getattr__(self, name):
        return getattr(self.pipe, name)

    def predict(self, items):
        time.sleep(self.seconds)
        if self.fail_on in items:
            raise RuntimeError(f"the model failed on {self.fail_on!r}")
        return self.pipe.predict(items)


TASK_REQUESTS = {
    "text-classification": ("/classify", {"texts": REVIEWS[:2]}),
    "token-classification": ("/entities", {"texts": ["Ada Lovelace met Charles Babbage in London ."]}),
    "question-answering": ("/answer", {"question": "Who built it?", "context": "Robert Stevenson built the lighthouse."}),
    "fill-mask": ("/fill-mask", {"texts": ["The capital of France is [MASK] ."]}),
    "sentence-embedding": ("/embed", {"texts": ["A man plays a guitar.", "Hi"]}),
}  # fmt: skip


@pytest.mark.parametrize("task", list(TASK_REQUESTS))
def test_every_task_has_its_endpoint_and_answers_as_the_pipeline(folders, task):
    pipe = Pipeline.from_pretrained(folders[task], device="cpu")
    path, body = TASK_REQUESTS[task]
    with ServerThread(create_app(pipe)) as running:
        health = httpx.get(running.url + "/health").json()
        assert (health["task"], health["endpoint"]) == (task, path)
        response = httpx.post(running.url + path, json=body)
        assert response.status_code == 200, response.text
        other = next(p for p, _ in TASK_REQUESTS.values() if p != path)
        assert httpx.post(running.url + other, json=body).status_code == 404
        if task == "fill-mask":
            bad = httpx.post(running.url + path, json={"texts": ["no mask here"]})
            assert bad.status_code == 422 and "no [MASK] in the text" in bad.json()["error"]
    answer = response.json()
    if task == "question-answering":
        expected = pipe(body)
        assert (answer["answer"], answer["start"]) == (expected["answer"], expected["start"])
    elif task == "sentence-embedding":
        expected = pipe(body["texts"])
        assert answer["dimension"] == len(expected[0])
        torch.testing.assert_close(
            torch.tensor(answer["embeddings"]), torch.tensor(np.stack(expected))
        )
    else:
        assert rounded(answer["results"]) == rounded(pipe(body["texts"]))


def rounded(results):
    """Results with every float to 4 decimals (served answers come from batches of other sizes)."""
    return json.loads(json.dumps(results, default=float), parse_float=lambda x: round(float(x), 4))


def test_qa_requests_are_checked_too(folders):
    pipe = Pipeline.from_pretrained(folders["question-answering"], device="cpu")
    settings = ServerSettings(max_chars=50, max_context_chars=100)
    with ServerThread(create_app(pipe, settings)) as running:
        cases = [
            ({"question": "Who?"}, "context: Field required"),
            ({"question": "Who?", "context": " "}, "context: is empty"),
            ({"question": "Who?", "context": "x" * 101}, "context: String should have at most 100"),
            ({"question": 7, "context": "Paris."}, "question: Input should be a valid string"),
        ]
        for body, message in cases:
            response = httpx.post(running.url + "/answer", json=body)
            assert response.status_code == 422 and message in response.json()["error"], (
                response.text
            )


# --------------------------------------------------------------------------- the command


def test_sigterm_finishes_the_requests_in_flight_then_the_server_exits(folders):
    server = ServerProcess(folders["text-classification"], "--max-wait-ms", "1500").start()
    with ThreadPoolExecutor(3) as pool:
        futures = [
            pool.submit(httpx.post, server.url + "/classify", json={"texts": [text]}, timeout=60)
            for text in REVIEWS[:3]
        ]
        deadline = time.monotonic() + 30
        while server.in_flight() < 3:  # all three received: they wait in the micro-batcher
            assert time.monotonic() < deadline, server.last_log()
            time.sleep(0.01)
        code = server.stop()
        responses = [future.result() for future in futures]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert code == 0, server.last_log()
    summary = server.summary
    assert summary["stopped"] == "stopped by SIGTERM"
    assert summary["requests"] >= 4 and summary["batches"] >= 1  # /health, then the three
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url + "/health", timeout=2)


def test_the_server_stops_when_its_parent_goes_away(folders):
    server = ServerProcess(folders["text-classification"]).start()
    server.process.stdin.close()  # what the operating system does when the parent dies
    assert server.process.wait(timeout=30) == 0
    server.stop()
    assert server.summary["stopped"] == "stopped: standard input closed"


def test_the_listening_socket_says_it_is_tcp_so_responses_are_not_held_back():
    """asyncio turns Nagle's algorithm off only on sockets created with proto=IPPROTO_TCP; on a
    keep-alive connection every response would otherwise wait for the client's delayed ACK."""
    import socket

    listening = bind("127.0.0.1", 0)
    try:
        assert listening.proto == socket.IPPROTO_TCP
    finally:
        listening.close()


def run_cli(capsys, *argv):
    from bertlab.cli import main

    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_serve_refuses_bad_arguments_with_one_line(capsys, folders, tmp_path):
    folder = folders["text-classification"]
    code, err = run_cli(capsys, "serve", "--model", tmp_path / "missing")
    assert code == 2 and "missing: no such checkpoint folder" in err
    code, err = run_cli(capsys, "serve", "--model", folder, "--backend", "onnx")
    assert code == 2 and "model.onnx: no such ONNX file" in err and "bertlab export" in err
    code, err = run_cli(capsys, "serve", "--model", folder, "--port", "70000")
    assert code == 2 and "--port 70000" in err
    taken = bind("127.0.0.1", 0)
    try:
        code, err = run_cli(capsys, "serve", "--model", folder, "--port", taken.getsockname()[1])
        assert code == 2 and "cannot listen there" in err
    finally:
        taken.close()
    with pytest.raises(SystemExit):
        run_cli(capsys, "serve", "--model", folder, "--max-batch-size", "0")
    assert "--max-batch-size: must be >= 1" in capsys.readouterr().err

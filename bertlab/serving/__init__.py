"""From a saved model to a service (notebook 14).

- `pipeline` / `Pipeline` (pipeline.py): any folder bertlab writes, called in one line, for
  every task (classification, NER, QA, fill-mask, sentence embeddings); the task's steps
  around the network are in processing.py, the network itself in backends.py.
- `export_onnx` (export.py, `bertlab export`): the network as an ONNX file, checked
  against PyTorch; `Pipeline.from_pretrained(folder, backend="onnx")` runs it.
- `create_app` (server.py, `bertlab serve`): a FastAPI app with one endpoint for the
  model's task, micro-batching (batcher.py), limits and JSON errors, `/health`,
  `/metrics` (metrics.py) and a web page (static/).
- `ServerProcess` (process.py) starts `bertlab serve` in the background and stops it;
  `load_test` (loadtest.py) measures it with concurrent clients.
"""

from bertlab.serving.export import export_onnx
from bertlab.serving.pipeline import Pipeline, pipeline
from bertlab.serving.process import ServerProcess

__all__ = ["Pipeline", "ServerProcess", "create_app", "export_onnx", "load_test", "pipeline"]


def __getattr__(name: str):
    # The server and the load test import FastAPI and httpx: only when asked for.
    if name == "create_app":
        from bertlab.serving.server import create_app

        return create_app
    if name == "load_test":
        from bertlab.serving.loadtest import load_test

        return load_test
    raise AttributeError(f"module 'bertlab.serving' has no attribute {name!r}")

"""The `bertlab` command: one driver for every task, clear errors, no lost work, runs that repeat.

Most runs use a tiny random BERT with MiniLM's vocabulary (`tiny_checkpoint`), so every
command finishes in a second; the parity of the real model lives in the task tests.
"""

from __future__ import annotations

import io
import json

import pytest
import torch
import transformers
from safetensors.torch import load_file

from bertlab.cli import main
from bertlab.hub import SAMPLES_DIR

SAMPLES = {
    "classification": SAMPLES_DIR / "sst2_sample.tsv",
    "ner": SAMPLES_DIR / "conll2003_sample.txt",
    "qa": SAMPLES_DIR / "squad_sample.json",
}
FAST = ["--max-steps", "2", "--batch-size", "4", "--max-length", "48", "--quiet"]
QA_WINDOWS = ["--doc-stride", "16", "--train-max-length", "64", "--train-doc-stride", "16"]


def fast(task: str) -> list[str]:
    """Flags for a two-step run (QA's windows made to fit 48 tokens)."""
    return FAST + (QA_WINDOWS if task == "qa" else [])


def run(capsys, *argv: str) -> tuple[int, dict | None, str]:
    """Exit status, the JSON printed (None if none) and standard error of one command."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return code, json.loads(captured.out) if captured.out.strip() else None, captured.err


def finetune(capsys, task: str, model, out, *extra) -> dict:
    sample = SAMPLES[task]
    code, summary, err = run(
        capsys, "finetune", task, "--train", sample, "--dev", sample, "--model", model, "--out", out,
        *fast(task), *extra,
    )  # fmt: skip
    assert code == 0, err
    return summary


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_checkpoint):
    """One fine-tuned folder a task, made once for the module."""
    folders = {}
    for task in SAMPLES:
        out = tmp_path_factory.mktemp(task) / "model"
        sample = str(SAMPLES[task])
        argv = [
            "finetune",
            task,
            "--train",
            sample,
            "--dev",
            sample,
            "--model",
            str(tiny_checkpoint),
        ]
        assert main([*argv, "--out", str(out), *fast(task)]) == 0
        folders[task] = out
    return folders


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("bertlab 0.")


def test_every_task_prints_the_same_summary_in_percent(capsys, tmp_path, tiny_checkpoint):
    shapes = {}
    for task in SAMPLES:
        summary = finetune(capsys, task, tiny_checkpoint, tmp_path / task)
        shapes[task] = set(summary)
        assert summary["command"] == "finetune" and summary["task"] == task
        assert summary["training"]["steps"] == 2 and summary["training"]["reproducible"] is True
        assert all(0 <= value <= 100 for value in summary["metrics"].values())
        info = json.loads((tmp_path / task / "training_info.json").read_text())
        assert info["arguments"]["seed"] == 0 and info["machine"]["torch"] == torch.__version__
        assert len(info["data"]["train"]["fingerprint"]) == 64
        assert info["metrics"] == summary["metrics"]
    assert shapes["classification"] == shapes["ner"] == shapes["qa"]


def test_evaluate_repeats_the_finetune_scores_and_transformers_loads_each_folder(capsys, trained):
    auto = {
        "classification": transformers.AutoModelForSequenceClassification,
        "ner": transformers.AutoModelForTokenClassification,
        "qa": transformers.AutoModelForQuestionAnswering,
    }
    for task, folder in trained.items():
        info = json.loads((folder / "training_info.json").read_text())
        code, result, err = run(
            capsys, "evaluate", task, "--model", folder, "--data", SAMPLES[task]
        )
        assert code == 0, err
        assert result["metrics"] == info["metrics"]
        assert set(result) == {"command", "task", "model", "data", "metrics", "details"}
        model, loading = auto[task].from_pretrained(folder, output_loading_info=True)
        assert not loading["missing_keys"] and not loading["unexpected_keys"], loading


def test_same_seed_and_step_budget_give_identical_weights(capsys, tmp_path, tiny_checkpoint):
    for task in SAMPLES:
        weights = []
        for attempt in ("a", "b"):
            finetune(capsys, task, tiny_checkpoint, tmp_path / task / attempt, "--dropout", "0.1")
            weights.append(load_file(str(tmp_path / task / attempt / "model.safetensors")))
        assert weights[0].keys() == weights[1].keys()
        for name in weights[0]:
            assert torch.equal(weights[0][name], weights[1][name]), f"{task}: {name}"


def test_pretrain_twice_gives_identical_weights(capsys, tmp_path):
    tiny = ["--layers", "1", "--hidden", "32", "--heads", "2", "--seq-length", "48",
            "--vocab-size", "300", "--batch-size", "4", "--max-steps", "3", "--quiet"]  # fmt: skip
    corpus = SAMPLES_DIR / "corpus_sample.txt"
    for attempt in ("a", "b"):
        code, result, err = run(
            capsys, "pretrain", "--corpus", corpus, "--out", tmp_path / attempt, *tiny
        )
        assert code == 0, err
        assert result["reproducible"] is True and result["steps"] == 3
    a, b = (load_file(str(tmp_path / x / "model.safetensors")) for x in "ab")
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_eval_every_records_the_dev_curve(capsys, tmp_path, tiny_checkpoint):
    finetune(capsys, "ner", tiny_checkpoint, tmp_path / "curve", "--eval-every", "1")
    history = json.loads((tmp_path / "curve" / "training_info.json").read_text())["history"]
    assert [r["step"] for r in history if "dev_f1" in r] == [1, 2]


def test_a_time_budget_says_it_does_not_repeat(capsys, tmp_path, tiny_checkpoint):
    sample = SAMPLES["classification"]
    code, summary, err = run(
        capsys, "finetune", "classification", "--train", sample, "--dev", sample,
        "--model", tiny_checkpoint, "--out", tmp_path / "t", "--max-seconds", "1", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert summary["training"]["reproducible"] is False
    assert "does not repeat" in summary["training"]["note"]


def test_own_csv_with_named_columns_end_to_end(capsys, tmp_path, tiny_checkpoint):
    code, summary, err = run(
        capsys, "finetune", "classification", "--train", SAMPLES_DIR / "reviews_train.csv",
        "--dev", SAMPLES_DIR / "reviews_dev.csv", "--text-column", "review",
        "--label-column", "sentiment", "--model", tiny_checkpoint, "--out", tmp_path / "own", *FAST,
    )  # fmt: skip
    assert code == 0, err
    names = set(summary["details"]["per_class"])
    assert len(names) == 3 and summary["data"]["train"]["examples"] > 10
    code, result, err = run(
        capsys, "predict", "classification", "--model", tmp_path / "own", "It broke."
    )
    assert code == 0 and result["predictions"][0]["label"] in names


def test_predict_reads_arguments_a_file_and_standard_input(capsys, tmp_path, trained, monkeypatch):
    folder = trained["classification"]
    code, by_argument, _ = run(
        capsys, "predict", "classification", "--model", folder, "a fine film", "dull"
    )
    assert code == 0 and [p["text"] for p in by_argument["predictions"]] == ["a fine film", "dull"]
    lines = tmp_path / "texts.txt"
    lines.write_text("a fine film\n\ndull\n", encoding="utf-8")
    jsonl = tmp_path / "texts.jsonl"
    jsonl.write_text('{"text": "a fine film"}\n"dull"\n', encoding="utf-8")
    for source in (lines, jsonl):
        code, result, _ = run(
            capsys, "predict", "classification", "--model", folder, "--file", source
        )
        assert result["predictions"] == by_argument["predictions"]
    monkeypatch.setattr("sys.stdin", io.StringIO("a fine film\ndull\n"))
    code, result, _ = run(capsys, "predict", "classification", "--model", folder)
    assert result["predictions"] == by_argument["predictions"]
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps({"question": "Who?", "context": "Ada wrote it."}) + "\n")
    code, result, err = run(capsys, "predict", "qa", "--model", trained["qa"], "--file", questions)
    assert code == 0, err
    answer = result["predictions"][0]
    assert answer["answer"] == "Ada wrote it."[answer["start"] : answer["end"]]


def test_predict_qa_honours_its_decoding_options(capsys, trained, tokenizer):
    context = "The Bell Rock Lighthouse was built by Robert Stevenson between 1807 and 1810."
    argv = ["predict", "qa", "--model", trained["qa"], "--context", context, "--question", "Who?"]
    for limit in (1, 2):
        code, result, err = run(capsys, *argv, "--max-answer-length", str(limit))
        assert code == 0, err
        answer = result["predictions"][0]["answer"]
        assert 1 <= len(tokenizer.tokenize(answer)) <= limit


# ----------------------------------------------------------------------------- bad input


def assert_refused(capsys, argv, *culprits, code=2):
    status, out, err = run(capsys, *argv)
    assert status == code, err
    assert out is None
    for culprit in culprits:
        assert str(culprit) in err, err
    assert err.strip().count("\n") == 0, f"expected one line, got: {err}"
    return err


def test_wrong_checkpoint_for_the_task(capsys, trained, tiny_checkpoint):
    assert_refused(capsys, ["predict", "ner", "--model", trained["classification"], "x"],
                   "BertForSequenceClassification", "bertlab ... classification")  # fmt: skip
    assert_refused(capsys, ["predict", "classification", "--model", trained["ner"], "x"],
                   "BertForTokenClassification")  # fmt: skip
    assert_refused(capsys, ["evaluate", "classification", "--model", tiny_checkpoint],
                   "BertModel", "no trained classification head")  # fmt: skip


def test_weights_that_do_not_fit_the_config(capsys, tmp_path, trained):
    folder = tmp_path / "bent"
    folder.mkdir()
    for name in ("vocab.txt", "tokenizer_config.json", "model.safetensors"):
        (folder / name).write_bytes((trained["classification"] / name).read_bytes())
    config = json.loads((trained["classification"] / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 1}))
    assert_refused(capsys, ["predict", "classification", "--model", folder, "x"],
                   "encoder layers up to 1", "num_hidden_layers=1")  # fmt: skip
    (folder / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))
    assert_refused(capsys, ["predict", "classification", "--model", folder, "x"],
                   "missing from the weights", "layer.2")  # fmt: skip
    (folder / "config.json").write_text(json.dumps({**config, "hidden_size": 0}))
    assert_refused(capsys, ["predict", "classification", "--model", folder, "x"],
                   "config.json", "hidden_size must be a whole number >= 1, got 0")  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes((trained["qa"] / "model.safetensors").read_bytes())
    assert_refused(capsys, ["predict", "classification", "--model", folder, "x"], "qa_outputs")


def test_bad_data_files(capsys, tmp_path, tiny_checkpoint):
    def finetune_on(train, dev=SAMPLES["classification"], task="classification"):
        return ["finetune", task, "--train", train, "--dev", dev, "--model", tiny_checkpoint,
                "--out", tmp_path / "never", *fast(task)]  # fmt: skip

    latin1 = tmp_path / "latin1.tsv"
    latin1.write_bytes("sentence\tlabel\ncaf\xe9 au lait\t1\n".encode("latin-1"))
    assert_refused(capsys, finetune_on(latin1), "latin1.tsv:2", "not UTF-8")
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    assert_refused(capsys, finetune_on(empty), "empty.tsv")
    header = tmp_path / "header.tsv"
    header.write_text("sentence\tlabel\n")
    assert_refused(capsys, finetune_on(SAMPLES["classification"], header), "header.tsv")
    squad = json.loads(SAMPLES["qa"].read_text())
    squad["data"][0]["paragraphs"][0]["qas"][0]["answers"] = []
    unanswered = tmp_path / "unanswered.json"
    unanswered.write_text(json.dumps(squad))
    assert_refused(capsys, finetune_on(unanswered, task="qa"), "unanswered.json", "answers")
    squad = json.loads(SAMPLES["qa"].read_text())
    squad["data"][0]["paragraphs"][0]["context"] = " "
    blank = tmp_path / "blank.json"
    blank.write_text(json.dumps(squad))
    assert_refused(capsys, finetune_on(blank, task="qa"), "blank.json", "context")
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize(
    "flag, value",
    [("--batch-size", "0"), ("--batch-size", "-4"), ("--max-seconds", "nan"),
     ("--max-seconds", "0"), ("--max-steps", "-1"), ("--lr", "inf"), ("--epochs", "0")],
)  # fmt: skip
def test_bad_sizes_and_budgets(capsys, tmp_path, tiny_checkpoint, flag, value):
    argv = [
        "finetune",
        "classification",
        "--model",
        str(tiny_checkpoint),
        "--out",
        str(tmp_path / "o"),
    ]
    with pytest.raises(SystemExit) as exit_:
        main([*argv, flag, value])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and f"argument {flag}" in err and "Traceback" not in err


def test_bad_vocabulary_in_a_model_folder(capsys, tmp_path, trained):
    folder = tmp_path / "vocab"
    folder.mkdir()
    for path in trained["classification"].iterdir():
        if path.is_file():
            (folder / path.name).write_bytes(path.read_bytes())
    lines = (folder / "vocab.txt").read_text().splitlines()
    lines[5] = lines[9]
    (folder / "vocab.txt").write_text("\n".join(lines) + "\n")
    assert_refused(
        capsys, ["predict", "classification", "--model", folder, "x"], "vocab.txt", "line"
    )


def test_no_input_to_predict(capsys, trained, tmp_path, monkeypatch):
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n")
    assert_refused(capsys, ["predict", "classification", "--model", trained["classification"],
                            "--file", blank], "blank.txt", "no input")  # fmt: skip
    assert_refused(capsys, ["predict", "classification", "--model", trained["classification"],
                            "--file", tmp_path / "absent.txt"], "absent.txt")  # fmt: skip
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "Who?"}\n')
    assert_refused(
        capsys, ["predict", "qa", "--model", trained["qa"], "--file", bad], "bad.jsonl:1"
    )


# ----------------------------------------------------------------------------- no lost work


def test_an_existing_model_is_never_lost(capsys, tmp_path, tiny_checkpoint, trained):
    out = tmp_path / "keep"
    finetune(capsys, "classification", tiny_checkpoint, out)
    before = (out / "model.safetensors").read_bytes()
    sample = SAMPLES["classification"]
    argv = [
        "finetune",
        "classification",
        "--train",
        sample,
        "--dev",
        sample,
        "--model",
        tiny_checkpoint,
    ]
    assert_refused(capsys, [*argv, "--out", out, *FAST], "exists and is not empty", "--overwrite")
    assert_refused(
        capsys, [*argv[:-2], "--model", out, "--out", out, *FAST], "is the starting --model"
    )
    assert_refused(capsys, [*argv, "--out", out, "--resume", *FAST], "nothing to resume")
    # a run that blows up keeps the old model and says what it kept
    status, _, err = run(capsys, *argv, "--out", out, "--overwrite", "--lr", "1e30", "--max-steps",
                         "6", "--batch-size", "4", "--quiet")  # fmt: skip
    assert status == 1 and "loss is" in err and "Nothing was saved" in err
    assert (out / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]


def test_a_failed_evaluation_keeps_the_trained_model(
    capsys, tmp_path, tiny_checkpoint, monkeypatch
):
    from bertlab.tasks import classification

    def broken(*args, **kwargs):
        raise ValueError("the dev data broke")

    monkeypatch.setattr(classification, "evaluate", broken)
    status, _, err = run(capsys, "finetune", "classification", "--train", SAMPLES["classification"],
                         "--dev", SAMPLES["classification"], "--model", tiny_checkpoint,
                         "--out", tmp_path / "m", *FAST)  # fmt: skip
    assert status == 1 and "the model is saved in" in err and "the dev data broke" in err
    assert (tmp_path / "m" / "model.safetensors").is_file()


def test_finetune_resumes_from_its_checkpoint_exactly(capsys, tmp_path, tiny_checkpoint):
    sample = SAMPLES["ner"]
    base = ["finetune", "ner", "--train", sample, "--dev", sample, "--model", tiny_checkpoint,
            "--batch-size", "4", "--max-length", "48", "--quiet", "--save-every", "2"]  # fmt: skip
    assert run(capsys, *base, "--out", tmp_path / "whole", "--max-steps", "4")[0] == 0
    # the same run stopped after 2 steps, then resumed to 4
    assert run(capsys, *base, "--out", tmp_path / "split", "--max-steps", "2")[0] == 0
    checkpoint = tmp_path / "split" / "checkpoint"
    state = torch.load(checkpoint / "training_state.pt", weights_only=True)
    assert state["step"] == 2
    code, summary, err = run(
        capsys, *base, "--out", tmp_path / "split", "--max-steps", "4", "--resume"
    )
    assert code == 0, err and summary["training"]["steps"] == 4
    whole = load_file(str(tmp_path / "whole" / "model.safetensors"))
    split = load_file(str(tmp_path / "split" / "model.safetensors"))
    assert all(torch.equal(whole[k], split[k]) for k in whole)


def test_progress_lines_when_standard_error_is_a_file(capsys, tmp_path, tiny_checkpoint):
    sample = SAMPLES["classification"]
    code = main(["finetune", "classification", "--train", str(sample), "--dev", str(sample),
                 "--model", str(tiny_checkpoint), "--out", str(tmp_path / "p"), "--max-steps", "2",
                 "--batch-size", "4"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0
    assert "training: 2/2 step (100%)" in err and "evaluating:" in err
    assert "\r" not in err  # no progress bar in a log file


def test_entity_html_escapes_caller_colours():
    from bertlab.tasks.ner import entities_html

    entity = {"type": "<b>PER</b>", "text": "Ada", "start": 0, "end": 3}
    page = entities_html("Ada wrote", [entity], {"<b>PER</b>": '"><script>x</script>'})
    assert "<script>" not in page and "&lt;b&gt;PER&lt;/b&gt;" in page

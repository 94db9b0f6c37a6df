"""`bertlab finetune | evaluate | predict <task>`: one driver for every task.

The command line is written once, over the task protocol (`bertlab.finetune`): the
flags, the checks made before any training starts, the run, the saved folder and the
summary are the same for classification, NER and QA. Each command prints one JSON
summary on standard output (metrics in percent, the same keys for every task) and its
progress on standard error.

What the checks guarantee (notebook 14 and the README's troubleshooting rely on them):

- bad input stops the command before training, with one line naming the file, line,
  key or flag: the data, the output folder, the sizes and budgets are all checked first;
- an existing model is never lost: a non-empty `--out` is replaced only with
  `--overwrite` (and only once the new model is complete), `--out` may not be `--model`,
  and a run that fails after training keeps what it trained;
- the same command with the same `--seed` and a step budget gives the same weights.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from bertlab import __version__
from bertlab.checkpoints import save_folder
from bertlab.files import atomic_write_json, parse_json
from bertlab.finetune import (
    TASKS,
    finetune,
    get_task,
    load_for_finetuning,
    load_tokenizer,
)
from bertlab.flags import (
    add_model_running_flags,
    check_output_folder,
    label_list,
    log,
    non_negative_number,
    positive_number,
    probability,
    whole_number,
)
from bertlab.runtime import resolve_device, set_seed
from bertlab.training import NonFiniteLossError, TrainingConfig, autocast

DATA_FLAGS = {
    "dataset": "the benchmark used where --train/--dev/--data are not given",
    "format": "column format of a CoNLL-style file (default: detected)",
    "text_column": "the text column of your own CSV/TSV/JSONL (default: text or sentence)",
    "label_column": "the label column of your own data (default: label)",
    "tokens_column": "the column holding each sentence's words as a list (default: tokens)",
    "tags_column": "the column holding each word's IOB2 tag as a list (default: tags)",
    "question_column": "the question column of your own data (default: question)",
    "context_column": "the paragraph column of your own data (default: context)",
    "answer_column": "the answer text column (a string or a list; default: answer)",
    "answer_start_column": "the answer's character offset column (default: answer_start; "
    "absent: the answer's first occurrence)",
    "id_column": "the question id column (default: id, else the row number)",
    "label_names": "comma-separated label names, in id order, for labels given as ids",
}


def add_data_flags(parser: argparse.ArgumentParser, task: ModuleType) -> None:
    for name in task.DATA_OPTIONS:
        flag = "--" + name.replace("_", "-")
        if name == "dataset":
            parser.add_argument(
                flag,
                choices=task.DATASETS,
                default=task.DATASETS[0],
                help=DATA_FLAGS[name] + " (default: %(default)s)",
            )
        elif name == "format":
            parser.add_argument(
                flag, choices=("auto", "conll2003", "wnut17"), default="auto", help=DATA_FLAGS[name]
            )
        elif name == "label_names":
            parser.add_argument(flag, type=label_list, default=None, help=DATA_FLAGS[name])
        else:
            parser.add_argument(flag, default=None, help=DATA_FLAGS[name])


def add_settings_flags(parser: argparse.ArgumentParser, task: ModuleType, training: bool) -> None:
    """One flag per field of the task's settings (`--max-length`, `--doc-stride`, ...)."""
    for setting in fields(task.Settings):
        if setting.name.startswith("train_") and not training:
            continue
        if training:
            default = task.CLI_DEFAULTS.get(setting.name, setting.default)
            shown = "%(default)s"
        else:  # evaluate and predict read the folder's own settings first
            default, shown = None, f"as fine-tuned, else {setting.default}"
        parser.add_argument(
            "--" + setting.name.replace("_", "-"),
            type=whole_number,
            default=default,
            help=f"{setting.name.replace('_', ' ')} (default: {shown})",
        )


def add_finetune_flags(parser: argparse.ArgumentParser, task: ModuleType) -> None:
    """The flags of `bertlab finetune <task>`; the task's CLI_DEFAULTS are the defaults."""
    add = parser.add_argument
    add("--train", help="training data: a file, or hf:NAME[:CONFIG] (default: the benchmark)")
    add("--dev", help="evaluation data, same forms as --train (default: the benchmark's dev split)")
    add_data_flags(parser, task)
    add(
        "--model",
        help="the starting checkpoint: a folder (bare BERT, pretraining or fine-tuned) "
        "or a Hub id when online (default: the offline MiniLM weights)",
    )
    add("--out", required=True, help="the folder to write the fine-tuned model to")
    add(
        "--overwrite",
        action="store_true",
        help="replace a non-empty --out (once the new model is saved)",
    )
    add_budget_flags(parser, task.CLI_DEFAULTS)
    add_recipe_flags(parser, task.CLI_DEFAULTS)
    add_settings_flags(parser, task, training=True)
    add_model_running_flags(parser)


def add_budget_flags(parser: argparse.ArgumentParser, defaults: dict) -> None:
    """How long to train, how fast, and the checkpoints to resume from."""
    add = parser.add_argument
    add(
        "--max-seconds",
        type=positive_number,
        help=f"time budget in seconds (default: "
        f"{defaults['max_seconds']:g} unless --max-steps or --epochs is given; a time budget does "
        "not repeat step for step)",
    )
    add("--max-steps", type=whole_number, help="optimizer step budget (default: none)")
    add(
        "--epochs",
        type=positive_number,
        help=f"at most this many passes over the training data (default: {defaults['epochs']:g})",
    )
    add(
        "--batch-size",
        type=whole_number,
        default=defaults["batch_size"],
        help="training examples per step (default: %(default)s)",
    )
    add(
        "--lr",
        type=positive_number,
        default=defaults["lr"],
        help="peak AdamW learning rate (default: %(default)s)",
    )
    add(
        "--warmup-ratio",
        type=probability,
        default=0.1,
        help="share of the budget spent warming up the learning rate (default: %(default)s)",
    )
    add(
        "--weight-decay",
        type=non_negative_number,
        default=0.01,
        help="AdamW's decoupled weight decay (default: %(default)s)",
    )
    add(
        "--seed",
        type=int,
        default=0,
        help="seeds the new head, the data order and dropout (default: %(default)s)",
    )
    add(
        "--save-every",
        type=whole_number,
        help="write a resumable checkpoint to OUT/checkpoint every N steps",
    )
    add(
        "--resume",
        action="store_true",
        help="continue from OUT/checkpoint (give the same flags as the first run)",
    )


def add_recipe_flags(parser: argparse.ArgumentParser, defaults: dict) -> None:
    """The recipe's CPU-budget choices (README, notebook 10's appendix) and evaluation."""
    add = parser.add_argument
    add(
        "--dropout",
        type=probability,
        default=defaults["dropout"],
        help="dropout while fine-tuning (default: %(default)s); it fights overfitting, which a "
        "budget under one epoch does not reach, and costs about a fifth of each CPU step",
    )
    frozen = defaults["freeze_word_embeddings"]
    freeze = parser.add_mutually_exclusive_group()
    freeze.add_argument(
        "--freeze-word-embeddings",
        dest="freeze_word_embeddings",
        action="store_true",
        default=frozen,
        help="keep the token table fixed: "
        "faster steps, little change in accuracy" + (" (the default)" * frozen),
    )
    freeze.add_argument(
        "--train-word-embeddings",
        dest="freeze_word_embeddings",
        action="store_false",
        help="train the token table too" + (" (the default)" * (not frozen)),
    )
    add(
        "--head-lr-multiplier",
        type=positive_number,
        default=defaults["head_lr_multiplier"],
        help="the task head learns this many times faster than the encoder (default: %(default)s)",
    )
    add(
        "--eval-every",
        type=whole_number,
        help="evaluate on --dev every N steps (default: only at the end)",
    )
    add("--eval-limit", type=whole_number, help="evaluate on the first N dev examples only")


def add_evaluate_flags(parser: argparse.ArgumentParser, task: ModuleType) -> None:
    parser.add_argument(
        "--model", required=True, help=f"a folder written by `bertlab finetune {task.NAME}`"
    )
    parser.add_argument(
        "--data",
        help="evaluation data: a file, or hf:NAME[:CONFIG] (default: the benchmark's dev split)",
    )
    parser.add_argument(
        "--limit", type=whole_number, default=None, help="the first N examples only"
    )
    add_data_flags(parser, task)
    add_settings_flags(parser, task, training=False)
    add_model_running_flags(parser)


def add_predict_flags(parser: argparse.ArgumentParser, task: ModuleType) -> None:
    parser.add_argument(
        "--model", required=True, help=f"a folder written by `bertlab finetune {task.NAME}`"
    )
    source = (
        'one JSON object with "question" and "context" a line'
        if task.NAME == "qa"
        else ('one text a line, or JSON lines (a string or an object with "text")')
    )
    parser.add_argument(
        "--file", help=f"read the inputs from a file: {source}; - for standard input"
    )
    if task.NAME == "qa":
        parser.add_argument("--question", action="append", help="a question (repeatable)")
        parser.add_argument("--context", help="the paragraph the questions are about")
    else:
        parser.add_argument("texts", nargs="*", help="the texts (none: --file or standard input)")
        parser.add_argument("--text", dest="more_texts", action="append", help=argparse.SUPPRESS)
    add_settings_flags(parser, task, training=False)
    add_model_running_flags(parser)


# ----------------------------------------------------------------------------- shared steps


def settings_from(args: argparse.Namespace, task: ModuleType, folder=None):
    """The task's settings: the flags given, else those the folder was fine-tuned with, else
    the defaults (so `evaluate` reads windows the way `finetune` trained them)."""
    names = {f.name for f in fields(task.Settings)}
    recorded = {}
    info = Path(folder) / "training_info.json" if folder is not None else None
    if info is not None and info.is_file():
        recorded = parse_json(info.read_text(encoding="utf-8"), str(info)).get("settings") or {}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    values = {k: v for k, v in recorded.items() if k in names}
    return task.Settings(**{**values, **given})


def data_options(args: argparse.Namespace, task: ModuleType, label_names=None) -> dict[str, Any]:
    options = {name: getattr(args, name) for name in task.DATA_OPTIONS}
    if label_names is not None and "label_names" in options:
        options["label_names"] = label_names
    return options


def load_split(task: ModuleType, split: str, path: str | None, args, label_names=None, limit=None):
    """One split of the task's data, checked non-empty, cut to `limit` examples."""
    data = task.load_data(split, path, **data_options(args, task, label_names))
    if len(data) == 0:
        raise ValueError(f"{data.source or path}: no examples in the {split} data")
    if limit is not None and limit < len(data):
        data = cut(data, limit)
    return data


def cut(data, limit: int):
    """The first `limit` examples, keeping the dataset's type and source."""
    if hasattr(data, "subset"):
        return data.subset(range(limit), f"{data.source} (first {limit})")
    short = type(data)(data[:limit], source=f"{data.source} (first {limit})")
    if hasattr(data, "label_names") and hasattr(short, "label_names"):
        short.label_names = data.label_names
    return short


def describe(data) -> dict[str, Any]:
    return {"source": data.source, "examples": len(data), "fingerprint": data.fingerprint()}


def load_task_model(task: ModuleType, folder: str, device: torch.device):
    """A fine-tuned folder of this task, or an error saying what the folder holds instead."""
    from bertlab.auto import architecture_of, load_model

    architecture = architecture_of(folder)
    if architecture != task.MODEL_CLASS.__name__:
        other = task_of_model_name(architecture)
        hint = (
            f"it was fine-tuned for {other}: use `bertlab ... {other}`"
            if other
            else f"it holds no trained {task.NAME} head: fine-tune it with `bertlab finetune {task.NAME}` first"
        )
        raise ValueError(
            f"{folder}: config.json says {architecture}, {task.NAME} needs "
            f"{task.MODEL_CLASS.__name__}; {hint}"
        )
    model = load_model(folder).to(device)
    return model, load_tokenizer(folder)


def task_of_model_name(architecture: str) -> str | None:
    return next((name for name, t in TASKS.items() if t.MODEL_CLASS.__name__ == architecture), None)


def rounded(value: Any) -> Any:
    """Metrics as printed: percent with two decimals, at any depth of a report."""
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(item) for item in value]
    return value


def machine() -> dict[str, Any]:
    import transformers  # noqa: F401  (its version says which reference the parity was checked on)

    return {
        "bertlab": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
    }


def run_with_precision(precision: str, device: torch.device, function, *args, **kwargs):
    """Call `function` under the autocast `--precision` asks for (fp16 only on a GPU)."""
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("--precision fp16 needs a CUDA GPU (use bf16 on the CPU)")
    with autocast(precision, device):
        return function(*args, **kwargs)


def evaluate_with_flags(
    args: argparse.Namespace,
    device: torch.device,
    task: ModuleType,
    model,
    tokenizer,
    data,
    settings,
) -> dict:
    """`task.evaluate` on `data` under `--precision`, with a progress bar unless `--quiet`."""
    return run_with_precision(
        args.precision,
        device,
        task.evaluate,
        model,
        tokenizer,
        data,
        settings,
        progress=False if args.quiet else "evaluating",
    )


# ----------------------------------------------------------------------------- finetune


def budget(args: argparse.Namespace, task: ModuleType) -> dict[str, Any]:
    """Step/epoch budgets when given; the task's default time budget only when none is given."""
    explicit = args.max_steps is not None or args.epochs is not None
    seconds = args.max_seconds
    if seconds is None and not explicit:
        seconds = task.CLI_DEFAULTS["max_seconds"]
    epochs = args.epochs if args.epochs is not None else task.CLI_DEFAULTS["epochs"]
    return {"max_seconds": seconds, "max_steps": args.max_steps, "epochs": epochs}


SAME_NAMED_FLAGS = (
    "weight_decay",
    "warmup_ratio",
    "seed",
    "eval_every",
    "save_every",
    "resume",
    "precision",
    "device",
)
"""Flags that are `TrainingConfig` fields of the same name (`--weight-decay` -> weight_decay)."""


def training_config(args: argparse.Namespace, task: ModuleType, out: Path) -> TrainingConfig:
    """The TrainingConfig the flags describe: built in this one place."""
    return TrainingConfig(
        learning_rate=args.lr,
        **{name: getattr(args, name) for name in SAME_NAMED_FLAGS},
        output_dir=out if (args.save_every or args.resume) else None,
        progress=not args.quiet,
        log_every=20,
        **budget(args, task),
    )


def run_finetune(task_name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Check everything, train, save the folder, evaluate, and summarise."""
    task = get_task(task_name)
    out = check_output_folder(args)
    settings = settings_from(args, task)
    config = training_config(args, task, out)
    device = resolve_device(args.device)
    train = load_split(task, "train", args.train, args)
    names = task.label_names(train, None)
    dev = load_split(task, "dev", args.dev, args, label_names=names, limit=args.eval_limit)
    names = task.label_names(train, dev)
    log(args, f"fine-tuning on {len(train):,} examples from {train.source}; dev: {dev.source}")
    model, tokenizer = load_for_finetuning(
        task, args.model, label_names=names, dropout=args.dropout, seed=args.seed
    )
    info = {
        "command": "bertlab " + " ".join(sys.argv[1:]),
        "arguments": jsonable(vars(args)),
        "task": task.NAME,
        "model": str(args.model or "MiniLM (offline)"),
        "out": str(out),
        "data": {"train": describe(train), "dev": describe(dev)},
        "settings": asdict(settings),
        "machine": machine(),
    }
    started = time.perf_counter()
    try:
        history = finetune(
            task,
            model,
            tokenizer,
            train,
            config,
            dev_data=dev if args.eval_every else None,
            settings=settings,
            batch_size=args.batch_size,
            freeze_word_embeddings=args.freeze_word_embeddings,
            head_lr_multiplier=args.head_lr_multiplier,
        )
    except NonFiniteLossError as error:
        kept = (
            f" The last good checkpoint is {error.checkpoint}; continue with --resume and a lower --lr."
            if error.checkpoint
            else " Nothing was saved; try a lower --lr."
        )
        raise RuntimeError(f"{error}{kept}") from None
    last = history.last
    info["training"] = {
        "steps": int(last.get("step", 0)),
        "examples_seen": int(last.get("examples", 0)),
        "seconds": round(time.perf_counter() - started, 1),
        "stop_reason": history.stop_reason,
        "reproducible": history.reproducible,
        "note": ""
        if history.reproducible
        else "a time budget decided the schedule and the end: "
        "a rerun does not repeat step for step (give --max-steps for that)",
    }
    info["history"] = jsonable(history.records)  # the curve: loss, lr and any dev metrics
    model.to("cpu")
    save_folder(out, model, tokenizer, info)
    log(args, f"saved {out}; evaluating on {len(dev):,} dev examples")
    model.to(device)
    try:
        report = evaluate_with_flags(args, device, task, model, tokenizer, dev, settings)
    except Exception as error:
        raise RuntimeError(
            f"the model is saved in {out}, but evaluating it failed: {error}"
        ) from error
    headline, details = task.scores(report)
    info.update(metrics=rounded(headline), details=rounded(jsonable(details)))

    atomic_write_json(out / "training_info.json", info)
    return summary("finetune", info)


def summary(command: str, info: dict[str, Any]) -> dict[str, Any]:
    """The JSON every command prints: the same keys for every task."""
    keys = ("task", "model", "out", "data", "training", "metrics", "details", "predictions")
    return {"command": command, **{key: info[key] for key in keys if key in info}}


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# ----------------------------------------------------------------------------- evaluate, predict


def run_evaluate(task_name: str, args: argparse.Namespace) -> dict[str, Any]:
    task = get_task(task_name)
    settings = settings_from(args, task, args.model)
    device = resolve_device(args.device)
    model, tokenizer = load_task_model(task, args.model, device)
    data = load_split(
        task, "dev", args.data, args, label_names=task_label_names(model, task), limit=args.limit
    )
    report = evaluate_with_flags(args, device, task, model, tokenizer, data, settings)
    headline, details = task.scores(report)
    info = {
        "task": task.NAME,
        "model": args.model,
        "data": {"eval": describe(data)},
        "metrics": rounded(headline),
        "details": rounded(jsonable(details)),
    }
    return summary("evaluate", info)


def task_label_names(model, task: ModuleType) -> list[str] | None:
    if "label_names" not in task.DATA_OPTIONS:
        return None
    id2label = model.config.id2label
    return [id2label[i] for i in range(len(id2label))]


def run_predict(task_name: str, args: argparse.Namespace) -> dict[str, Any]:
    task = get_task(task_name)
    settings = settings_from(args, task, args.model)
    inputs = predict_inputs(task, args)
    device = resolve_device(args.device)
    model, tokenizer = load_task_model(task, args.model, device)
    predictions = run_with_precision(
        args.precision, device, task.predict, model, tokenizer, inputs, settings
    )
    return summary("predict", {"task": task.NAME, "model": args.model, "predictions": predictions})


def predict_inputs(task: ModuleType, args: argparse.Namespace) -> list:
    """The inputs from the arguments, from --file, or from standard input (in that order)."""
    if task.NAME == "qa":
        if args.question:
            if not args.context:
                raise ValueError("--question needs --context (the paragraph to read)")
            return [{"question": q, "context": args.context} for q in args.question]
    else:
        texts = list(args.texts) + list(args.more_texts or [])
        if texts:
            return texts
    if args.file in (None, "-"):
        if args.file is None and sys.stdin.isatty():
            raise ValueError(
                "no input: give "
                + ("--question and --context" if task.NAME == "qa" else "texts as arguments")
                + ", --file PATH, or lines on standard input"
            )
        return parse_lines(task, sys.stdin.read().splitlines(), "<stdin>")
    path = Path(args.file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise FileNotFoundError(f"--file {path}: no such file") from None
    except UnicodeDecodeError as error:
        raise ValueError(
            f"--file {path}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    return parse_lines(task, lines, str(path))


def parse_lines(task: ModuleType, lines: list[str], source: str) -> list:
    """One input a line: plain text, or JSON (a string, or an object with the task's keys)."""
    inputs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        value: Any = line
        if line.lstrip().startswith(("{", '"')) or task.NAME == "qa":
            value = parse_json(line, where)
        inputs.append(check_input(task, value, where))
    if not inputs:
        raise ValueError(f"{source}: no input (every line is blank)")
    return inputs


def check_input(task: ModuleType, value: Any, where: str):
    if task.NAME == "qa":
        if not isinstance(value, dict) or not all(
            isinstance(value.get(k), str) and value[k].strip() for k in ("question", "context")
        ):
            raise ValueError(
                f'{where}: expected {{"question": "...", "context": "..."}}, non-empty'
            )
        return {"question": value["question"], "context": value["context"]}
    if isinstance(value, dict):
        value = value.get("text")
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f'{where}: expected a text, a JSON string or {{"text": "..."}}')
    return value


# ----------------------------------------------------------------------------- the parsers

COMMANDS = {
    "finetune": (
        "fine-tune a BERT checkpoint on a task (notebooks 10-12)",
        add_finetune_flags,
        run_finetune,
    ),
    "evaluate": (
        "score a fine-tuned folder on data; prints metrics (percent) as JSON",
        add_evaluate_flags,
        run_evaluate,
    ),
    "predict": (
        "run a fine-tuned folder on inputs; prints predictions as JSON",
        add_predict_flags,
        run_predict,
    ),
}


def add_task_commands(commands: argparse._SubParsersAction) -> None:
    """`finetune`, `evaluate` and `predict`, each with one subcommand per task."""
    for command, (description, add_flags, run) in COMMANDS.items():
        parser = commands.add_parser(command, help=description, description=description)
        tasks = parser.add_subparsers(dest="task", required=True, metavar="TASK")
        for name, task in TASKS.items():
            sub = tasks.add_parser(
                name, help=(task.__doc__ or "").splitlines()[0], description=description
            )
            add_flags(sub, task)
            sub.set_defaults(run=lambda args, run=run, name=name: run(name, args))


def seed_everything(args: argparse.Namespace) -> None:
    if getattr(args, "seed", None) is not None:
        set_seed(args.seed)

"""Making BERT cheaper, every trade-off measured: the package side of notebook 13.

One module a technique, each importable on its own:

    measure.py        time (warm-up + median), memory (peak bytes of tensors), size, accuracy
    precision.py      fp16/bf16 formats, master weights, loss scaling, myth 11, the CPU's bf16 units
    kernels.py        explicit vs fused attention as the sequence grows; torch.compile
    quantization.py   dynamic int8 quantization, saved without pickle (`bertlab quantize`)
    pruning.py        magnitude pruning, attention-head pruning by importance, layer dropping
    distillation.py   a smaller student trained on the fine-tuned teacher's soft targets
    parallel.py       gradient accumulation and data-parallel training, checked equal
    search.py         grid, random and Optuna (TPE + pruning) hyper-parameter search
    folders.py        loading pruned and quantized folders (used by `bertlab.auto.load_model`)
    cli.py            the `bertlab quantize` command
"""

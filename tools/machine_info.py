"""Print what a test log needs to explain a machine-dependent failure.

`make test` runs this first: the CPU model, the instruction-set flags that change
which kernels PyTorch and oneDNN pick (AVX2, AVX-512, AMX, bf16), the kernel choices
in force (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA), thread counts and versions.
"""

import os
import platform
from pathlib import Path

KERNEL_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_bf16",
    "avx512_fp16",
    "avx512_vnni",
    "amx_bf16",
    "amx_int8",
    "amx_tile",
    "asimd",
    "sve",
    "bf16",
)
ENVIRONMENT = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cpu_model_and_flags() -> tuple[str, list[str]]:
    """The model name and the kernel-relevant flags from /proc/cpuinfo (Linux; else platform)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return platform.processor() or platform.machine(), []
    model, flags = platform.machine(), set()
    for line in cpuinfo.read_text().splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model") and model == platform.machine():
            model = value.strip()
        elif key in ("flags", "features"):
            flags.update(value.split())
    return model, [flag for flag in KERNEL_FLAGS if flag in flags]


def main() -> None:
    model, flags = cpu_model_and_flags()
    print(f"machine: {model} ({platform.machine()}), {os.cpu_count()} logical CPUs")
    print(f"kernel-relevant CPU flags: {' '.join(flags) or 'none found'}")
    settings = [f"{name}={os.environ[name]}" for name in ENVIRONMENT if name in os.environ]
    print(f"kernel settings: {' '.join(settings) or 'defaults'}")
    try:
        import torch

        print(
            f"torch {torch.__version__}: CPU capability {torch.backends.cpu.get_cpu_capability()}, "
            f"{torch.get_num_threads()} threads, oneDNN {torch.backends.mkldnn.is_available()}"
        )
    except ImportError:
        print("torch is not installed")


if __name__ == "__main__":
    main()

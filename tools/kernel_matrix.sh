#!/usr/bin/env bash
# Run the unit tests (or whatever pytest arguments you pass) once per kernel choice, so a
# test that depends on which CPU kernels run is caught on one machine: oneDNN capped at
# AVX2 and uncapped (AVX-512 / AMX where the CPU has them), ATen's generic and AVX2 kernels,
# one and two threads. Usage: tools/kernel_matrix.sh [pytest args]   (default: -m "not browser" tests)
set -uo pipefail
cd "$(dirname "$0")/.."
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(-q -m "not browser" -p no:cacheprovider tests)
configs=(
  "ONEDNN_MAX_CPU_ISA=AVX2"
  "ONEDNN_MAX_CPU_ISA=AVX512_CORE_AMX"
  "ATEN_CPU_CAPABILITY=default"
  "ATEN_CPU_CAPABILITY=avx2"
  "OMP_NUM_THREADS=1"
  "OMP_NUM_THREADS=2"
)
status=0
for config in "${configs[@]}"; do
  echo "=== $config"
  # Each config compiles into its own Inductor cache: kernels cached under one ATen capability
  # make torch.compile fail under another (seen with ATEN_CPU_CAPABILITY=default).
  cache=$(mktemp -d)
  env $config TORCHINDUCTOR_CACHE_DIR="$cache" MPLBACKEND=Agg .venv/bin/pytest "${args[@]}" 2>&1 | tail -n 3
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  rm -rf "$cache"
done
exit $status

#!/usr/bin/env bash
# Every CUDA path of avforge in one run (< 5 min on one GPU), printed as a table:
# bf16/fp16 autocast vs fp32, single-GPU torchrun over NCCL, batched extraction clips/s at batch
# 1 and 16 (log-mel, lip-light, Auto-AVSR-size lip encoder, WavLM-base size, random weights),
# `avforge infer` real-time factor and the 343,240-clip test-set projection. Exit 1 if a check fails.
#
#   bash benchmarks/gpu_check.sh                        # the GPU run (CUDA_VISIBLE_DEVICES picks the card)
#   bash benchmarks/gpu_check.sh --device cpu --quick   # tiny sizes on CPU: what CI runs
#   options: --device cuda|cpu  --quick  --keep (keep the scratch folder and print its path)
set -euo pipefail
device=cuda quick="" keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --quick) quick=--quick; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")"
if [ -z "$keep" ]; then trap 'rm -rf "$work"' EXIT; else echo "scratch folder: $work"; fi
python "$here/gpu_check.py" --device "$device" $quick --work "$work"

#!/usr/bin/env bash
# The GPU check of issue 45, as one command for a lent machine (under 10 minutes on an H100 or H200):
#   bash scripts/gpu_check.sh            # from the repository root; writes results/gpu/ as README's GPU block reads it
# 1. what the machine is (results/gpu/card.txt), 2. the bench, eager and compiled paths (results/gpu/bench/),
# 3. the default 15-epoch run, compiled by default on CUDA (results/gpu/default/seed_0/).
# Then, back on the development machine: python -m mnist_design.report front=true (README's GPU block).
set -euo pipefail
cd "$(dirname "$0")/.."
pip install -q -e . 2>&1 | tail -1 || true
out=results/gpu
mkdir -p "$out"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python -c "import sys, torch, lightning; print('python', sys.version.split()[0], 'torch', torch.__version__, 'lightning', lightning.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
  lscpu | grep 'Model name' || true
  nproc
} > "$out/card.txt"
rm -rf "$out/bench" "$out/default/seed_0"
timeout 300 python -m mnist_design.bench repeats=3 hydra.run.dir="$out/bench"
timeout 240 python -m mnist_design.train seed=0 hydra.run.dir="$out/default/seed_0"
echo "GPU check written under $out"

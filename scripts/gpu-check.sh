#!/usr/bin/env bash
# The GPU checks CI cannot run (it has no GPU), for a Linux machine with an NVIDIA card,
# Node >= 22.18 with the packages built (or installed), git, bubblewrap and python3 with torch:
#
#   bash scripts/gpu-check.sh [budget seconds, default 120]
#
# 1. what nvidia-smi and `autoresearch doctor` say;
# 2. the runner on the GPU (packages/runners/bench/gpu-check.ts): device nodes in the
#    sandbox, the 16 GB VRAM budget on a bigger card, peak VRAM, oom triage;
# 3. examples/lwir-sr: one experiment (the baseline) through the CLI with the budget given,
#    sandboxed, on the full synthetic task, then its journal entry and run metrics. If the
#    CLI run fails, examples/lwir-sr/bench/gpu_check.py trains the same without the harness.
# Copies of the logs go to $OUT when it is set. Exits non-zero if a check failed.
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
budget=${1:-120}
out=${OUT:-}
cli=$repo/packages/cli/dist/bin.js
[ -f "$cli" ] || cli=$repo/node_modules/@autoresearch/cli/dist/bin.js
failed=0
section() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
keep() { [ -n "$out" ] && cp "$1" "$out/$2" 2>/dev/null; return 0; }

section "machine"
nvidia-smi -L
nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used --format=csv,noheader,nounits
nvidia-smi --query-gpu=driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())'
echo "node $(node --version), $(git --version), $(bwrap --version 2>&1)"

section "autoresearch doctor"
node "$cli" doctor

section "runner on the GPU"
node "$repo/packages/runners/bench/gpu-check.ts" || failed=1

section "lwir-sr: one experiment of ${budget} s through the CLI"
research=$(mktemp -d /var/tmp/lwir-sr-XXXXXX)
cp -r "$repo/examples/lwir-sr/." "$research/"
rm -rf "$research/test" "$research/node_modules"
(cd "$research" && git init -q && git add -A && git -c user.name=check -c user.email=check@localhost commit -qm "lwir-sr")
if node "$cli" run "$research" --tag gpu --budget "$budget" --max-experiments 1 --proposer knob; then
  node "$cli" status "$research" --tag gpu
  state=$research/.autoresearch/gpu
  echo "journal:"; cat "$state/journal.jsonl"
  for file in "$state"/runs/*/metrics.json; do echo "$file: $(cat "$file")"; keep "$file" run-metrics.json; done
  for file in "$state"/runs/*/train.log; do grep -E '^(device|steps|steps_per_second|training_seconds|peak_vram_gb|train_loss):' "$file"; keep "$file" train.log; done
  keep "$state/journal.jsonl" journal.jsonl
else
  failed=1
  echo "the CLI run failed; training without the harness:"
  python3 "$repo/examples/lwir-sr/bench/gpu_check.py" "$budget"
fi
section "done"
[ "$failed" = 0 ] && echo "GPU checks passed" || echo "GPU checks FAILED"
exit "$failed"

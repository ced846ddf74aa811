"""
GPU check for the lwir-sr example, for a machine with a CUDA GPU (and possibly no Node):
builds the full data cache, trains train.py once with a 120 s budget under the 16 GB VRAM
cap, predicts, and prints steps/s, peak VRAM, val PSNR, bicubic PSNR and the gain, with
the card's name. PSNR here is numpy's (data range 1, border shave = scale), the same
definition as the PSNR-gated scorer.

    python3 examples/lwir-sr/bench/gpu_check.py [budget seconds, default 120]
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
example = os.path.dirname(here)
sys.path.insert(0, example)
sys.path.insert(0, here)
from prepare import DEFAULT_VRAM_GB, SCALE  # noqa: E402
from measure import bicubic, psnr  # noqa: E402
budget = sys.argv[1] if len(sys.argv) > 1 else "120"
if not torch.cuda.is_available():
    sys.exit("no CUDA GPU: this check needs one")

work = tempfile.mkdtemp(prefix="lwir-gpu-")
cache, run = os.path.join(work, "cache"), os.path.join(work, "run")
os.makedirs(run)
env = dict(os.environ, AUTORESEARCH_CACHE_DIR=cache, AUTORESEARCH_RUN_DIR=run, AUTORESEARCH_SEED="0",
           AUTORESEARCH_BUDGET_SECONDS=budget, AUTORESEARCH_VRAM_GB=f"{DEFAULT_VRAM_GB:g}",
           AUTORESEARCH_DATA_DIR=os.path.join(cache, "train"), AUTORESEARCH_INPUTS_DIR=os.path.join(cache, "inputs"))
for args in (["prepare.py"], ["train.py"], ["prepare.py", "predict"]):
    subprocess.run([sys.executable, *args], cwd=example, env=env, check=True)

hr = np.load(os.path.join(cache, "hidden", "hr.npy"))
lr = np.load(os.path.join(cache, "inputs", "lr.npy"))
pred = np.load(os.path.join(run, "predictions.npy"))


metrics = json.load(open(os.path.join(run, "metrics.json")))
model, base = psnr(pred, hr, SCALE), psnr(bicubic(lr, hr.shape[1], hr.shape[2]), hr, SCALE)
print(f"card: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
print(f"budget {budget} s: {metrics['steps_per_second']:.1f} steps/s, peak VRAM {metrics['peak_vram_gb']:.2f} GB (cap {DEFAULT_VRAM_GB:g} GB)")
print(f"val_psnr {model:.3f} dB, bicubic {base:.3f} dB, gain {model - base:+.3f} dB on {len(hr)} patches")

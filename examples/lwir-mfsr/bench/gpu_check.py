"""
GPU check for the lwir-mfsr example, for a machine with a CUDA GPU and no Node: builds the
full task (bursts of 8, 5000 training and 500 validation bursts), trains train.py under the
16 GB VRAM cap for the budget, predicts through the trusted step, then trains phase 1's
single-frame model (examples/lwir-sr/train.py) for the same time on the reference frames of
the same bursts. Prints the card, steps/s, peak VRAM and PSNR of: bicubic of the reference
frame, the classical multi-frame baseline, the single-frame model, and this example's
baseline, with the gains. PSNR is numpy's here, with the scorer's definition (data range 1,
border shave = scale, mean over images, each capped at 100 dB).

    python3 examples/lwir-mfsr/bench/gpu_check.py [budget seconds, default 600] [single-frame seconds, default: the same]

Both trainings run one after the other: 600 s each should need about 22 minutes of device time (an estimate, not yet run).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
example = os.path.dirname(here)
phase1 = os.path.join(os.path.dirname(example), "lwir-sr")
budget = sys.argv[1] if len(sys.argv) > 1 else "600"
single_budget = sys.argv[2] if len(sys.argv) > 2 else budget
if not torch.cuda.is_available():
    sys.exit("no CUDA GPU: this check needs one")
print(f"card: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")

work = tempfile.mkdtemp(prefix="lwir-mfsr-gpu-")
cache = os.path.join(work, "cache")
runs = {name: os.path.join(work, name) for name in ("mfsr", "single", "single-data")}
for path in runs.values():
    os.makedirs(path)
common = dict(os.environ, AUTORESEARCH_CACHE_DIR=cache, AUTORESEARCH_SEED="0", AUTORESEARCH_VRAM_GB="16",
              AUTORESEARCH_INPUTS_DIR=os.path.join(cache, "inputs"))


def step(cwd, args, **env):
    started = time.time()
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=dict(common, **env), check=True,
                            capture_output=True, text=True)
    lines = [line for line in result.stdout.splitlines() if not line.startswith("step ")]
    print(f"$ {' '.join(args)} ({time.time() - started:.0f} s)\n  " + "\n  ".join(lines[-8:]), flush=True)
    return result.stdout


step(example, ["prepare.py"])
step(example, ["train.py"], AUTORESEARCH_DATA_DIR=os.path.join(cache, "train"), AUTORESEARCH_RUN_DIR=runs["mfsr"],
     AUTORESEARCH_BUDGET_SECONDS=budget)
step(example, ["prepare.py", "predict"], AUTORESEARCH_RUN_DIR=runs["mfsr"])
np.save(os.path.join(runs["single-data"], "hr.npy"), np.load(os.path.join(cache, "train", "hr.npy")))
np.save(os.path.join(runs["single-data"], "lr.npy"), np.ascontiguousarray(np.load(os.path.join(cache, "train", "bursts.npy"))[:, 0]))
step(phase1, ["train.py"], AUTORESEARCH_DATA_DIR=runs["single-data"], AUTORESEARCH_RUN_DIR=runs["single"],
     AUTORESEARCH_BUDGET_SECONDS=single_budget)
step(phase1, ["prepare.py", "predict"], AUTORESEARCH_RUN_DIR=runs["single"])

scale = 4
hr = np.load(os.path.join(cache, "hidden", "hr.npy"))
reference = np.load(os.path.join(cache, "inputs", "lr.npy"))


def psnr(prediction):
    p = np.clip(prediction, 0, 1)[:, scale:-scale, scale:-scale].astype(np.float64)
    t = hr[:, scale:-scale, scale:-scale].astype(np.float64)
    mse = ((p - t) ** 2).mean(axis=(1, 2))
    return float(np.mean(np.minimum(10 * np.log10(1 / np.maximum(mse, 1e-30)), 100)))


bicubic = np.stack([np.array(Image.fromarray(f, mode="F").resize((f.shape[1] * scale, f.shape[0] * scale), Image.BICUBIC))
                    for f in reference])
results = {
    "bicubic (reference frame)": psnr(bicubic),
    "shift-and-add (registered mean + bicubic)": psnr(np.load(os.path.join(cache, "hidden", "shift_add.npy"))),
    f"lwir-sr single-frame, {single_budget} s": psnr(np.load(os.path.join(runs["single"], "predictions.npy"))),
    f"lwir-mfsr baseline, {budget} s": psnr(np.load(os.path.join(runs["mfsr"], "predictions.npy"))),
}
metrics = {name: json.load(open(os.path.join(runs[name], "metrics.json"))) for name in ("mfsr", "single")}
print("\nval PSNR on the same 500 validation bursts:")
for name, value in results.items():
    print(f"  {name:45s} {value:.3f} dB")
values = list(results.values())
print(f"gain of lwir-mfsr over bicubic: {values[3] - values[0]:+.3f} dB, over single-frame SR: {values[3] - values[2]:+.3f} dB")
for name, m in metrics.items():
    print(f"{name}: {m.get('steps')} steps, {m.get('steps_per_second', 0):.1f} steps/s, peak VRAM {m.get('peak_vram_gb', 0):.2f} GB "
          f"(train), {m.get('predict_peak_vram_gb', 0):.2f} GB (predict); cap 16 GB")

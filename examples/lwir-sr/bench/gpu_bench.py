"""
The old baseline against the new one, on the machine this runs on (issue 15): steps/s,
samples/s, TFLOP/s, MFU and peak VRAM from each training's metrics.json, and PSNR after the
same training time on the synthetic set and on RoadScene frames. Runs with python and torch
alone (no Node), so it can go to a lent GPU machine as one script:

    python3 examples/lwir-sr/bench/gpu_bench.py [--seconds S] [--old PATH] [--roadscene DIR] [--sweep]

--old      the old baseline's train.py (default bench/old/train.py; write it with
           `git show 586090f:examples/lwir-sr/train.py > examples/lwir-sr/bench/old/train.py`;
           without it only the new baseline runs)
--roadscene folder of RoadScene frames (default ../shared/data/lwir-real/roadscene or
           shared/data/lwir-real/roadscene, whichever exists; skipped, saying so, without one)
--sweep    after the comparison, the new baseline at several widths, depths and batches on the
           synthetic set: PSNR after S seconds against model size, and MFU

With CUDA: the full task and S = 75 by default (2 sources x 2 baselines x 75 s, about 7
minutes with the data). Without: the CPU smoke task and S = 20, and it says that the GPU
figures are pending. PSNR is the scorer's (data range 1, a border of 4 pixels shaved).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
example = os.path.dirname(here)
sys.path.insert(0, example)
sys.path.insert(0, here)
from prepare import DEFAULT_VRAM_GB, SCALE  # noqa: E402
from measure import bicubic, psnr  # noqa: E402

cuda = torch.cuda.is_available()
parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--seconds", type=int, default=75 if cuda else 20)
parser.add_argument("--old", default=os.path.join(here, "old", "train.py"))
parser.add_argument("--roadscene")
parser.add_argument("--sweep", action="store_true")
args = parser.parse_args()

roadscene = os.path.abspath(args.roadscene) if args.roadscene else next((p for p in (os.path.join(example, "../../../shared/data/lwir-real/roadscene"),
                                                 os.path.join(example, "../../shared/data/lwir-real/roadscene"))
                                    if os.path.isdir(p)), None)
card = torch.cuda.get_device_name(0) if cuda else "no CUDA device (CPU)"
print(f"card: {card}, torch {torch.__version__}, {'full' if cuda else 'smoke'} task, {args.seconds} s per training")
if not cuda:
    print("GPU figures pending: this machine has no CUDA device, so these are the CPU smoke task's")

work = tempfile.mkdtemp(prefix="lwir-gpu-bench-")


def prepare_source(name, data):
    cache = os.path.join(work, name, "cache")
    env = dict(os.environ, AUTORESEARCH_CACHE_DIR=cache, AUTORESEARCH_SEED="0")
    began = time.time()
    subprocess.run([sys.executable, "prepare.py", *([] if cuda else ["--smoke"]), *(["--data", data] if data else [])],
                   cwd=example, env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"{name}: data in {time.time() - began:.0f} s")
    return cache


def train(cache, train_py, label):
    """Trains one train.py for args.seconds, predicts, and returns its metrics.json with the PSNR."""
    folder = os.path.join(os.path.dirname(cache), label)
    run = os.path.join(folder, "run")
    os.makedirs(run)
    shutil.copy(os.path.join(example, "prepare.py"), folder)
    with open(os.path.join(folder, "train.py"), "w") as f:
        f.write(train_py)
    env = dict(os.environ, AUTORESEARCH_CACHE_DIR=cache, AUTORESEARCH_RUN_DIR=run, AUTORESEARCH_SEED="0",
               AUTORESEARCH_BUDGET_SECONDS=str(args.seconds), AUTORESEARCH_VRAM_GB=f"{DEFAULT_VRAM_GB:g}",
               AUTORESEARCH_DATA_DIR=os.path.join(cache, "train"), AUTORESEARCH_INPUTS_DIR=os.path.join(cache, "inputs"))
    for step in (["train.py"], ["prepare.py", "predict"]):
        done = subprocess.run([sys.executable, *step], cwd=folder, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"  {label}: {' '.join(step)} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
            return None
    with open(os.path.join(run, "metrics.json")) as f:
        metrics = json.load(f)
    hr = np.load(os.path.join(cache, "hidden", "hr.npy"))
    metrics["psnr"] = psnr(np.load(os.path.join(run, "predictions.npy")), hr, SCALE)
    print(f"  {label}: {metrics['steps']} steps, compile {metrics.get('compile_seconds', 0):.1f} s", flush=True)
    return metrics


def row(label, m, bicubic_psnr):
    if m is None:
        return f"| {label} | failed | | | | | | |"
    mfu = m.get("mfu")
    return (f"| {label} | {m['steps_per_second']:.1f} | {m.get('samples_per_second', float('nan')):.0f} | "
            f"{m.get('tflops', float('nan')):.3f} | {'unknown' if mfu is None else f'{100 * mfu:.2f} %'} | "
            f"{m.get('peak_vram_gb', 0):.2f} | {m['psnr']:.3f} | {m['psnr'] - bicubic_psnr:+.3f} |")


def header(first):
    return (f"| {first} | steps/s | samples/s | TFLOP/s | MFU | peak VRAM GB | PSNR dB | over bicubic |\n"
            "|---|---|---|---|---|---|---|---|")


with open(os.path.join(example, "train.py")) as f:
    new = f.read()
old = None
if os.path.exists(args.old):
    with open(args.old) as f:
        old = f.read()
else:
    print(f"no old baseline at {args.old}: only the new one runs (see --old)")

sources = [("synthetic", None)] + ([("roadscene", roadscene)] if roadscene else [])
if not roadscene:
    print("no RoadScene frames found (--roadscene): synthetic only")
prepared = {}  # source -> (cache, bicubic PSNR of its validation patches)
for name, data in sources:
    cache = prepare_source(name, data)
    hr = np.load(os.path.join(cache, "hidden", "hr.npy"))
    lr = np.load(os.path.join(cache, "inputs", "lr.npy"))
    base = psnr(bicubic(lr, hr.shape[1], hr.shape[2]), hr, SCALE)
    prepared[name] = (cache, base)
    results = [("old baseline", train(cache, old, "old"))] if old else []
    results.append(("new baseline", train(cache, new, "new")))
    print(f"\n{name}: {len(hr)} validation patches, bicubic {base:.3f} dB\n{header('baseline')}")
    for label, metrics in results:
        print(row(label, metrics, base))
    if len(results) == 2 and all(m is not None for _, m in results):
        (_, a), (_, b) = results
        print(f"new against old: {b['steps_per_second'] / a['steps_per_second']:.2f}x steps/s, "
              f"{b.get('samples_per_second', 0) / max(a.get('samples_per_second', 1e-9), 1e-9):.2f}x samples/s, "
              f"{b['psnr'] - a['psnr']:+.3f} dB")
    print(flush=True)

if args.sweep:
    # The size of the new baseline: PSNR after the same time against model size (and how busy the card is).
    points = [(32, 4, 16), (64, 8, 32), (64, 16, 64), (128, 16, 64)] if cuda else [(32, 4, 16), (48, 6, 16)]
    cache, base = prepared["synthetic"]
    print(f"sweep on synthetic, {args.seconds} s each\n{header('channels x blocks, batch')}")
    for channels, blocks, batch in points:
        text = new
        for name, value in (("CHANNELS", channels), ("BLOCKS", blocks), ("BATCH_SIZE", batch)):
            text = re.sub(rf"^{name} = \S+", f"{name} = {value}", text, count=1, flags=re.M)
        print(row(f"{channels} x {blocks}, {batch}", train(cache, text, f"sweep-{channels}-{blocks}-{batch}"), base), flush=True)

shutil.rmtree(work, ignore_errors=True)

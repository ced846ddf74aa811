"""
LWIR single-frame super-resolution (x4): the model, the optimiser and the training loop.

This is the file the research loop edits. It trains on the pairs prepare.py built, stops
itself when the time budget is spent (the first WARMUP_STEPS steps are not counted), and
saves the trained model as TorchScript (model.pt in the run directory), which the
immutable `prepare.py predict` step loads. Run it through autoresearch, or by hand:

    AUTORESEARCH_DATA_DIR=cache/train AUTORESEARCH_RUN_DIR=run python3 train.py

Runs on torch 1.13 (CPU) and torch 2.x (CUDA, with mixed precision and channels_last).
"""
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import prepare
from prepare import SCALE

# ---------------------------------------------------------------------------
# Hyperparameters

CHANNELS = 32            # @knob int 16..128
BLOCKS = 4               # @knob int 2..24
RES_SCALE = 0.2          # @knob float 0.05..1.0
LEARNING_RATE = 2e-3     # @knob log 1e-4..1e-2
WEIGHT_DECAY = 1e-4      # @knob log 1e-6..1e-2
BATCH_SIZE = 16          # @knob int 4..64
WARMUP_FRACTION = 0.05   # @knob float 0.0..0.2
LOSS = "l1"              # @knob choice l1|charbonnier|mse
WARMUP_STEPS = 5         # not counted against the time budget (allocator, cuDNN autotuning)
SEED = int(os.environ.get("AUTORESEARCH_SEED", "0"))

# ---------------------------------------------------------------------------
# Model: EDSR-style residual blocks, sub-pixel (PixelShuffle) upsampling, and a global residual over
# bicubic upscaling, so the network learns only the missing detail.


class ResidualBlock(nn.Module):
    def __init__(self, channels, res_scale):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.res_scale = res_scale

    def forward(self, x):
        return x + self.res_scale * self.conv2(F.relu(self.conv1(x)))


class SuperResolution(nn.Module):
    def __init__(self, channels, blocks, res_scale):
        super().__init__()
        self.head = nn.Conv2d(1, channels, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(channels, res_scale) for _ in range(blocks)],
                                  nn.Conv2d(channels, channels, 3, padding=1))
        # One sub-pixel convolution at LR resolution: SCALE x SCALE outputs per LR pixel.
        self.tail = nn.Sequential(nn.Conv2d(channels, SCALE * SCALE, 3, padding=1), nn.PixelShuffle(SCALE))
        # Start exactly at bicubic: the detail branch begins at zero and grows from there.
        nn.init.zeros_(self.tail[0].weight)
        nn.init.zeros_(self.tail[0].bias)

    def features(self, lr):
        """LR features (N x C x h x w): what a multi-frame pipeline (phase 3) builds on."""
        features = self.head(lr)
        return features + self.body(features)

    def forward(self, lr):
        base = F.interpolate(lr, scale_factor=SCALE, mode="bicubic", align_corners=False)
        return base + self.tail(self.features(lr))


def loss_fn(prediction, target):
    if LOSS == "mse":
        return F.mse_loss(prediction, target)
    if LOSS == "charbonnier":
        return torch.sqrt((prediction - target) ** 2 + 1e-6).mean()
    return F.l1_loss(prediction, target)

# ---------------------------------------------------------------------------
# Set-up: device, VRAM budget, data


torch.manual_seed(SEED)
rng = np.random.default_rng(SEED)
device = prepare.device()
cuda = device.type == "cuda"
vram_budget = prepare.apply_vram_budget(device)
if not cuda:
    torch.set_num_threads(prepare.threads())
if cuda:
    torch.backends.cudnn.benchmark = True
amp_dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16
memory_format = torch.channels_last if cuda else torch.contiguous_format

hr_all, lr_all = prepare.load_train()
model = SuperResolution(CHANNELS, BLOCKS, RES_SCALE).to(device).to(memory_format=memory_format)
optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
use_scaler = cuda and amp_dtype == torch.float16  # bf16 needs no loss scaling
scaler = (torch.amp.GradScaler("cuda", enabled=use_scaler) if hasattr(torch.amp, "GradScaler")  # torch >= 2.3
          else torch.cuda.amp.GradScaler(enabled=use_scaler))
budget = prepare.time_budget()
print(f"device: {device}, torch {torch.__version__}, {sum(p.numel() for p in model.parameters())} parameters, "
      f"{len(hr_all)} training pairs, budget {budget:.0f} s, vram budget {vram_budget} GB")


def batch():
    """A random batch with a random flip/rotation (the eight symmetries of the square)."""
    index = rng.integers(0, len(hr_all), size=BATCH_SIZE)
    k, flip = int(rng.integers(0, 4)), bool(rng.integers(0, 2))
    hr, lr = hr_all[index], lr_all[index]
    hr, lr = np.rot90(hr, k, axes=(1, 2)), np.rot90(lr, k, axes=(1, 2))
    if flip:
        hr, lr = hr[:, :, ::-1], lr[:, :, ::-1]
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a)).unsqueeze(1).to(device, non_blocking=True)
    return as_tensor(hr).to(memory_format=memory_format), as_tensor(lr).to(memory_format=memory_format)

# ---------------------------------------------------------------------------
# Training loop: cosine learning-rate schedule over the time budget, with linear warm-up


step, started, smoothed = 0, None, None
mark = time.time()  # the last periodic line, for its steps/s
while True:
    if step == WARMUP_STEPS:
        started = time.time()
    progress = 0.0 if started is None else (time.time() - started) / budget
    if progress >= 1.0:
        break
    lr_now = LEARNING_RATE * (min(1.0, progress / WARMUP_FRACTION) if WARMUP_FRACTION > 0 else 1.0)
    lr_now *= 0.5 * (1 + math.cos(math.pi * progress))
    for group in optimizer.param_groups:
        group["lr"] = lr_now
    hr, lr = batch()
    with torch.autocast(device_type="cuda", dtype=amp_dtype, enabled=cuda):
        loss = loss_fn(model(lr).float(), hr)
    if not torch.isfinite(loss):
        print(f"loss: {loss.item()} at step {step}")
        raise SystemExit("non-finite loss")
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    smoothed = loss.item() if smoothed is None else 0.98 * smoothed + 0.02 * loss.item()
    step += 1
    if step % 200 == 0:
        now = time.time()
        print(f"step {step}  loss {smoothed:.5f}  lr {lr_now:.2e}  {progress * 100:.0f}%  {200 / max(now - mark, 1e-9):.1f} steps/s", flush=True)
        mark = now

# ---------------------------------------------------------------------------
# Report and save (TorchScript, so predict needs no code from this file)

elapsed = time.time() - started
model.eval()
with torch.no_grad():
    example = torch.from_numpy(lr_all[:1]).unsqueeze(1).to(device)
    # forward for predict; features for `autoresearch promote` into phase 3 (examples/lwir-mfsr)
    traced = torch.jit.trace_module(model.float().to(memory_format=torch.contiguous_format),
                                    {"forward": example, "features": example})
traced.save(os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "model.pt"))
peak = prepare.peak_vram_gb(device)
# Throughput from prepare's FLOP count (a training sample: forward and backward on one LR patch).
rates = prepare.throughput(prepare.flops_per_sample(model, (1, 1) + lr_all.shape[1:]), samples=(step - WARMUP_STEPS) * BATCH_SIZE,
                           seconds=elapsed, hr_pixels=hr_all.shape[1] * hr_all.shape[2], dev=device)
prepare.write_run_metrics(peak_vram_gb=peak, steps=step, steps_per_second=(step - WARMUP_STEPS) / elapsed, **rates)
print(f"train_loss: {smoothed:.6f}")
print(f"steps: {step}")
print(f"steps_per_second: {(step - WARMUP_STEPS) / elapsed:.2f}")
print(f"training_seconds: {elapsed:.1f}")
print(f"peak_vram_gb: {peak:.2f}")
for name, value in rates.items():
    print(f"{name}: {value:.6g}")

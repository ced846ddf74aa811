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
CROP = 1.0               # @knob float 0.5..1.0
WARMUP_STEPS = 5         # not counted against the time budget (allocator, cuDNN autotuning)
LOG_EVERY = 200          # steps between loss lines: the loop's only wait for the GPU
COMPILE = True           # torch.compile on CUDA where torch has it (2.x); its compile time is reported, not budgeted
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

hr_train, lr_train = prepare.load_train()
net = SuperResolution(CHANNELS, BLOCKS, RES_SCALE).to(device).to(memory_format=memory_format)
optimizer = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
use_scaler = cuda and amp_dtype == torch.float16  # bf16 needs no loss scaling
scaler = (torch.amp.GradScaler("cuda", enabled=use_scaler) if hasattr(torch.amp, "GradScaler")  # torch >= 2.3
          else torch.cuda.amp.GradScaler(enabled=use_scaler))
budget = prepare.time_budget()

# The training set lives on the device when it takes at most a quarter of the VRAM budget, so a
# batch is gathered, cropped, turned and flipped there, with nothing copied from the host.
data_gb = (hr_train.nbytes + lr_train.nbytes) / 1e9
on_device = not cuda or data_gb <= 0.25 * vram_budget
hr_all, lr_all = torch.from_numpy(hr_train).unsqueeze(1), torch.from_numpy(lr_train).unsqueeze(1)
hr_all, lr_all = (hr_all.to(device), lr_all.to(device)) if on_device else (hr_all.pin_memory(), lr_all.pin_memory())
picker = torch.Generator(device=hr_all.device)
picker.manual_seed(SEED)
crop = (max(4, round(CROP * lr_all.shape[2])), max(4, round(CROP * lr_all.shape[3])))  # the LR window a batch trains on
print(f"device: {device}, torch {torch.__version__}, {sum(p.numel() for p in net.parameters())} parameters, "
      f"{len(hr_all)} training pairs ({data_gb:.2f} GB, {'on the device' if on_device else 'pinned on the host'}), "
      f"budget {budget:.0f} s, " + (f"vram budget {vram_budget} GB" if cuda else f"{torch.get_num_threads()} threads"))


def batch():
    """A random batch: a random crop (CROP of the patch's side, the same window for the batch) and one of
    the eight symmetries of the square, all on the device; the host only draws the window and the symmetry."""
    index = torch.randint(0, len(hr_all), (BATCH_SIZE,), device=hr_all.device, generator=picker)
    hr, lr = hr_all[index], lr_all[index]
    (ch, cw), (h, w) = crop, lr.shape[2:]
    if (ch, cw) != (h, w):
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        lr = lr[:, :, y:y + ch, x:x + cw]
        hr = hr[:, :, y * SCALE:(y + ch) * SCALE, x * SCALE:(x + cw) * SCALE]
    hr, lr = hr.to(device, non_blocking=True), lr.to(device, non_blocking=True)
    k, flip = int(rng.integers(0, 4)), bool(rng.integers(0, 2))
    hr, lr = torch.rot90(hr, k, dims=(2, 3)), torch.rot90(lr, k, dims=(2, 3))
    if flip:
        hr, lr = torch.flip(hr, dims=(3,)), torch.flip(lr, dims=(3,))
    return hr.contiguous(memory_format=memory_format), lr.contiguous(memory_format=memory_format)


def compiled(module):
    """torch.compile where it exists and runs (CUDA, torch 2.x), compiled now on one batch so that its
    time stays out of the budget's clock; else the module itself. Returns (model, seconds, state)."""
    if not (COMPILE and cuda and hasattr(torch, "compile")):
        return module, 0.0, "off"
    began = time.time()
    try:
        fast = torch.compile(module)
        hr, lr = batch()
        with torch.autocast(device_type="cuda", dtype=amp_dtype):
            loss_fn(fast(lr).float(), hr).backward()
        module.zero_grad(set_to_none=True)
        torch.cuda.synchronize(device)
        return fast, time.time() - began, "on"
    except Exception as error:  # no compiler toolchain, an unsupported op: train eagerly
        print(f"torch.compile failed, training eagerly: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
        module.zero_grad(set_to_none=True)
        return module, time.time() - began, "failed"


model, compile_seconds, compile_state = compiled(net)
if compile_state != "off":
    print(f"compile: {compile_state} in {compile_seconds:.1f} s (before the budget's clock starts)")

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
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    # The smoothed loss stays on the device; the host reads it every LOG_EVERY steps only.
    smoothed = loss.detach().clone() if smoothed is None else smoothed.mul_(0.98).add_(loss.detach(), alpha=0.02)
    step += 1
    if step % LOG_EVERY == 0:
        value, now = smoothed.item(), time.time()
        if not math.isfinite(value):
            raise SystemExit(f"non-finite loss ({value}) by step {step}")
        print(f"step {step}  loss {value:.5f}  lr {lr_now:.2e}  {progress * 100:.0f}%  {LOG_EVERY / max(now - mark, 1e-9):.1f} steps/s", flush=True)
        mark = now

# ---------------------------------------------------------------------------
# Report and save (TorchScript, so predict needs no code from this file)

if cuda:
    torch.cuda.synchronize(device)  # the queued steps belong to the budget's time
elapsed = time.time() - started
final_loss = smoothed.item()
if not math.isfinite(final_loss):
    raise SystemExit(f"non-finite loss ({final_loss}) at the end")
net.eval()
with torch.no_grad():
    example = lr_all[:1].to(device)
    # forward for predict; features for `autoresearch promote` into phase 3 (examples/lwir-mfsr)
    traced = torch.jit.trace_module(net.float().to(memory_format=torch.contiguous_format),
                                    {"forward": example, "features": example})
traced.save(os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "model.pt"))
peak = prepare.peak_vram_gb(device)
# Throughput from prepare's FLOP count (a training sample: forward and backward on one LR patch).
rates = prepare.throughput(prepare.flops_per_sample(net, (1, 1) + crop), samples=(step - WARMUP_STEPS) * BATCH_SIZE,
                           seconds=elapsed, hr_pixels=crop[0] * crop[1] * SCALE * SCALE, dev=device)
prepare.write_run_metrics(peak_vram_gb=peak, steps=step, steps_per_second=(step - WARMUP_STEPS) / elapsed,
                          compile_seconds=compile_seconds, **rates)
print(f"train_loss: {final_loss:.6f}")
print(f"steps: {step}")
print(f"steps_per_second: {(step - WARMUP_STEPS) / elapsed:.2f}")
print(f"training_seconds: {elapsed:.1f}")
print(f"peak_vram_gb: {peak:.2f}")
for name, value in rates.items():
    print(f"{name}: {value:.6g}")

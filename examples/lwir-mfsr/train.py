"""
LWIR multi-frame super-resolution (x4), phase 3: the fusion module, the loss and the training loop.

This is the file the research loop edits. The pipeline around the fusion module (encoder,
alignment, reconstruction head) is frozen in mfsr.py: train.py trains all of it, but may
change only the fusion module, the loss and how training runs. It stops itself when the
time budget is spent and saves the frozen parts' weights and the fusion module as
TorchScript (mfsr.save), which the immutable `prepare.py predict` step loads strictly.
Run it through autoresearch, or by hand:

    AUTORESEARCH_DATA_DIR=cache/train AUTORESEARCH_RUN_DIR=run python3 train.py

Runs on torch 1.13 (CPU) and torch 2.x (CUDA, with mixed precision).
"""
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import mfsr
import prepare

# ---------------------------------------------------------------------------
# Hyperparameters

FUSION = "softmax"       # @knob choice softmax|mean|max|recursive|transformer
ANCHOR = "reference"     # @knob choice reference|mean
FUSION_WIDTH = 32        # @knob int 8..128
FRAME_SHARE = 1.0        # @knob float 0.25..1.0
FRAME_DROPOUT = 0.0      # @knob float 0.0..0.5
W_L1 = 1.0               # the base term; the weights below are relative to it
W_CHARBONNIER = 0.0      # @knob float 0.0..1.0
W_SSIM = 0.0             # @knob float 0.0..1.0
W_GRADIENT = 0.0         # @knob float 0.0..1.0
W_FFT = 0.0              # @knob float 0.0..0.1
W_LR_CONSISTENCY = 0.0   # @knob float 0.0..1.0
LEARNING_RATE = 2e-3     # @knob log 1e-4..1e-2
WEIGHT_DECAY = 1e-4      # @knob log 1e-6..1e-2
BATCH_SIZE = 8           # @knob int 2..32
ENCODER_GRAD = "all"      # @knob choice all|reference
WARMUP_FRACTION = 0.05   # @knob float 0.0..0.2
WARMUP_STEPS = 3         # not counted against the time budget (allocator, cuDNN autotuning)
LOG_EVERY = 100          # steps between loss lines: the loop's only wait for the GPU
COMPILE = True           # torch.compile on CUDA where torch has it (2.x); its compile time is reported, not budgeted
SEED = int(os.environ.get("AUTORESEARCH_SEED", "0"))

# ---------------------------------------------------------------------------
# Fusion: aligned features B x N x C x h x w (reference first) -> B x C x h x w


def anchor_of(features):
    return features[:, 0] if ANCHOR == "reference" else features.mean(dim=1)


class SoftmaxFusion(mfsr.Fusion):
    """A learned per-pixel weight for every frame (softmax over frames), mixed into the
    reference frame's features through a learned gate per channel. It starts as the
    reference frame alone (the single-frame path) and learns how much the others add."""

    def __init__(self, channels, width):
        super().__init__()
        self.score = nn.Sequential(nn.Conv2d(2 * channels, width, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(width, 1, 3, padding=1))
        nn.init.zeros_(self.score[-1].weight)
        nn.init.zeros_(self.score[-1].bias)
        self.gate = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, features):
        b, n, c, h, w = features.shape
        anchor = anchor_of(features)[:, None].expand(b, n, c, h, w)
        logits = self.score(torch.cat([anchor, features], dim=2).reshape(b * n, 2 * c, h, w)).reshape(b, n, 1, h, w)
        mixed = (torch.softmax(logits, dim=1) * features).sum(dim=1)
        return features[:, 0] + self.gate * (mixed - features[:, 0])


class MeanFusion(mfsr.Fusion):
    def forward(self, features):
        return features.mean(dim=1)


class MaxFusion(mfsr.Fusion):
    def forward(self, features):
        return features.max(dim=1)[0]


class RecursiveFusion(mfsr.Fusion):
    """Pairwise: the running fused map absorbs one frame at a time (shared weights)."""

    def __init__(self, channels, width):
        super().__init__()
        self.merge = nn.Sequential(nn.Conv2d(2 * channels, width, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(width, channels, 3, padding=1))

    def forward(self, features):
        fused = anchor_of(features)
        for k in range(1, features.shape[1]):
            fused = fused + self.merge(torch.cat([fused, features[:, k]], dim=1))
        return fused


class TransformerFusion(mfsr.Fusion):
    """A small temporal transformer per pixel: N tokens of C features; the anchor's token out."""

    def __init__(self, channels, width):
        super().__init__()
        heads = 4 if channels % 4 == 0 else 1
        self.layer = nn.TransformerEncoderLayer(channels, heads, dim_feedforward=2 * width, dropout=0.0, batch_first=True)

    def forward(self, features):
        b, n, c, h, w = features.shape
        tokens = features.permute(0, 3, 4, 1, 2).reshape(b * h * w, n, c)
        if ANCHOR == "mean":
            tokens = torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)
        out = self.layer(tokens)[:, 0]
        return out.reshape(b, h, w, c).permute(0, 3, 1, 2)


def make_fusion(channels):
    if FUSION == "mean":
        return MeanFusion()
    if FUSION == "max":
        return MaxFusion()
    if FUSION == "recursive":
        return RecursiveFusion(channels, FUSION_WIDTH)
    if FUSION == "transformer":
        return TransformerFusion(channels, FUSION_WIDTH)
    return SoftmaxFusion(channels, FUSION_WIDTH)

# ---------------------------------------------------------------------------
# Loss: a weighted sum of terms (weights above)


def ssim(a, b, window=7):
    """Mean SSIM with a uniform window (differentiable; data range 1)."""
    pool = lambda x: F.avg_pool2d(x, window, stride=1)
    mu_a, mu_b = pool(a), pool(b)
    var_a, var_b, cov = pool(a * a) - mu_a ** 2, pool(b * b) - mu_b ** 2, pool(a * b) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return (((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))).mean()


def gradients(x):
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def loss_fn(prediction, target, reference_lr):
    total = prediction.new_zeros(())
    if W_L1 > 0:
        total = total + W_L1 * F.l1_loss(prediction, target)
    if W_CHARBONNIER > 0:
        total = total + W_CHARBONNIER * torch.sqrt((prediction - target) ** 2 + 1e-6).mean()
    if W_SSIM > 0:
        total = total + W_SSIM * (1 - ssim(prediction, target))
    if W_GRADIENT > 0:
        (px, py), (tx, ty) = gradients(prediction), gradients(target)
        total = total + W_GRADIENT * (F.l1_loss(px, tx) + F.l1_loss(py, ty))
    if W_FFT > 0:
        total = total + W_FFT * (torch.fft.rfft2(prediction) - torch.fft.rfft2(target)).abs().mean()
    if W_LR_CONSISTENCY > 0:  # the prediction, seen through the sensor, should give the reference frame
        total = total + W_LR_CONSISTENCY * F.l1_loss(prepare.blur_and_decimate(prediction), reference_lr)
    if not total.requires_grad:
        raise SystemExit("every loss weight is 0: nothing to train")
    return total

# ---------------------------------------------------------------------------
# Set-up: device, VRAM budget, data, model


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

hr_train, bursts_train = prepare.load_train()
frames = max(2, min(bursts_train.shape[1], round(FRAME_SHARE * bursts_train.shape[1])))  # reference first
net = mfsr.MultiFrameSR(make_fusion(mfsr.build_encoder().channels)).to(device)
net.encoder_grad = ENCODER_GRAD  # "reference": the encoder learns through the reference frame only (cheaper steps)
optimizer = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
use_scaler = cuda and amp_dtype == torch.float16
scaler = (torch.amp.GradScaler("cuda", enabled=use_scaler) if hasattr(torch.amp, "GradScaler")  # torch >= 2.3
          else torch.cuda.amp.GradScaler(enabled=use_scaler))
budget = prepare.time_budget()

# The training set lives on the device when it takes at most a quarter of the VRAM budget, so a
# batch is gathered, turned and flipped there, with nothing copied from the host.
bursts_used = np.ascontiguousarray(bursts_train[:, :frames])
data_gb = (hr_train.nbytes + bursts_used.nbytes) / 1e9
on_device = not cuda or data_gb <= 0.25 * vram_budget
hr_all, bursts_all = torch.from_numpy(hr_train).unsqueeze(1), torch.from_numpy(bursts_used)
hr_all, bursts_all = (hr_all.to(device), bursts_all.to(device)) if on_device else (hr_all.pin_memory(), bursts_all.pin_memory())
picker = torch.Generator(device=hr_all.device)
picker.manual_seed(SEED)
print(f"device: {device}, torch {torch.__version__}, {sum(p.numel() for p in net.parameters())} parameters, "
      f"fusion {FUSION}, {frames} of {bursts_train.shape[1]} frames, encoder "
      f"{'promoted' if mfsr.promoted() else 'default'}, {len(hr_all)} training bursts ({data_gb:.2f} GB, "
      f"{'on the device' if on_device else 'pinned on the host'}), budget {budget:.0f} s, "
      + (f"vram budget {vram_budget} GB" if cuda else f"{torch.get_num_threads()} threads"))


def batch():
    """A random batch, flipped or turned by 180 degrees (targets and frames alike), on the device; never
    by 90, which would turn the sensor's column noise into row noise. The host only draws the symmetry."""
    index = torch.randint(0, len(hr_all), (BATCH_SIZE,), device=hr_all.device, generator=picker)
    hr = hr_all[index].to(device, non_blocking=True)
    lr = bursts_all[index].to(device, non_blocking=True)
    if rng.integers(0, 2):
        hr, lr = torch.rot90(hr, 2, dims=(2, 3)), torch.rot90(lr, 2, dims=(2, 3))
    if rng.integers(0, 2):
        hr, lr = torch.flip(hr, dims=(3,)), torch.flip(lr, dims=(3,))
    if FRAME_DROPOUT > 0 and frames > 1:  # a dropped frame is replaced by the reference
        keep = torch.rand(lr.shape[0], frames, 1, 1, device=device) >= FRAME_DROPOUT
        keep[:, 0] = True
        lr = torch.where(keep, lr, lr[:, :1])
    return hr.contiguous(), lr.contiguous()


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
            loss_fn(fast(lr).float(), hr, lr[:, :1].float()).backward()
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
        loss = loss_fn(model(lr).float(), hr, lr[:, :1].float())
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
# Report and save (the frozen parts' weights, the fusion module as TorchScript)

if cuda:
    torch.cuda.synchronize(device)  # the queued steps belong to the budget's time
elapsed = time.time() - started
final_loss = smoothed.item()
if not math.isfinite(final_loss):
    raise SystemExit(f"non-finite loss ({final_loss}) at the end")
net.eval()
with torch.no_grad():
    example = net.aligned(batch()[1][:1])[0]
mfsr.save(net, os.environ["AUTORESEARCH_RUN_DIR"], frames, example)
peak = prepare.peak_vram_gb(device)
# Throughput from prepare's FLOP count (a training sample: forward and backward on one burst).
rates = prepare.throughput(prepare.flops_per_sample(net, (1, frames) + tuple(bursts_all.shape[2:])), samples=(step - WARMUP_STEPS) * BATCH_SIZE,
                           seconds=elapsed, hr_pixels=hr_all.shape[2] * hr_all.shape[3], dev=device)
prepare.write_run_metrics(peak_vram_gb=peak, steps=step, steps_per_second=(step - WARMUP_STEPS) / elapsed,
                          compile_seconds=compile_seconds, **rates)
print(f"train_loss: {final_loss:.6f}")
print(f"steps: {step}")
print(f"steps_per_second: {(step - WARMUP_STEPS) / elapsed:.2f}")
print(f"training_seconds: {elapsed:.1f}")
print(f"peak_vram_gb: {peak:.2f}")
for name, value in rates.items():
    print(f"{name}: {value:.6g}")

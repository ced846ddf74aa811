"""
LWIR (thermal) single-frame super-resolution: data, constants and evaluation entry points.

This file is IMMUTABLE during research. It owns everything a fair comparison needs:
the data, the degradation, the normalisation, the split and the predict step. The loop
runs it two ways:

    python3 prepare.py [--smoke] [--data DIR] [--preset bicubic|realistic]
        builds the data cache in $AUTORESEARCH_CACHE_DIR:
          train/hr.npy, train/lr.npy   training pairs (train.py reads these)
          inputs/lr.npy                validation LR inputs (the predict step reads these)
          hidden/hr.npy                validation HR targets (only the trusted scorer reads these)
          hidden/splits.json           which scenes went to training, validation and test
          test/inputs/lr.npy, test/hidden/hr.npy
                                       the test split, laid out as inputs/ and hidden/: no
                                       experiment sees it, only `autoresearch verify` reads it
    python3 prepare.py predict
        loads $AUTORESEARCH_RUN_DIR/model.pt (TorchScript, saved by train.py) and writes
        $AUTORESEARCH_RUN_DIR/predictions.npy (float32, N x H x W)

train.py imports the constants and helpers below; it never reads validation or test data.
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np
from PIL import Image

# ---------------------------------------------------------------------------
# Constants (fixed for a research run: changing them changes the task)

SCALE = 4                 # upscaling factor
TIME_BUDGET = 600         # training seconds per experiment (the runner passes the real one)
HR_PATCH = 96             # training patch size (HR pixels), a multiple of SCALE
VAL_PATCH = 128           # validation patch size (HR pixels), a multiple of SCALE
N_TRAIN = 5000            # training patches
N_VAL = 500               # validation patches
N_TEST = 500              # test patches (the same size as validation)
SMOKE_N_TRAIN = 1200      # --smoke: a CPU-sized task
SMOKE_N_VAL = 64
SMOKE_N_TEST = 64
VAL_FRACTION = 0.15       # share of scenes held out for validation (split by scene, never by patch)
EVAL_SEED = 1234          # validation crops are pinned, whatever the training seed
TEST_SEED = 4321          # test scenes and crops are pinned too, with a seed of their own
SCENE_SHAPE = (256, 320)  # synthetic scene size (H, W)
MAX_COUNTS = 16383        # 14-bit sensor counts in 16-bit containers
DEFAULT_VRAM_GB = 16.0    # the example's VRAM budget (a 16 GB consumer card)

# Normalisation (documented, fixed, never per patch):
# - 16-bit frames (raw radiometric counts, each scene its own narrow range): per frame,
#   counts are mapped linearly so that the frame's 0.5th percentile is 0 and its 99.5th
#   percentile is 1, then clipped to [0, 1]. A fixed /65535 would squeeze a scene into ~1%
#   of the range and inflate PSNR. The frame statistics are taken on the HR frame before
#   any crop, the same way for training and validation scenes.
# - 8-bit frames (already tone-mapped by the camera's AGC): counts / 255.
LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5


# ---------------------------------------------------------------------------
# Synthetic LWIR scenes: smooth temperature fields, a sky gradient, warm objects with
# sharp edges, vignetting, NETD-like temporal noise and column fixed-pattern noise.

def random_field(rng, shape, correlation):
    """Gaussian random field with unit variance and the given correlation length (pixels)."""
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    spectrum = np.exp(-0.5 * (fx ** 2 + fy ** 2) * (2 * np.pi * correlation) ** 2)
    noise = rng.standard_normal((h, w))
    field = np.fft.irfft2(np.fft.rfft2(noise) * spectrum, s=(h, w))
    return field / (field.std() + 1e-12)


def synthetic_scene(rng):
    """One scene as temperatures in kelvin, then as 14-bit counts (uint16)."""
    h, w = SCENE_SHAPE
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    ambient = rng.uniform(270.0, 300.0)
    temperature = ambient + rng.uniform(1.0, 4.0) * random_field(rng, (h, w), rng.uniform(20, 60))
    temperature += rng.uniform(0.2, 0.8) * random_field(rng, (h, w), rng.uniform(1.5, 4))  # texture

    # Ground warms towards the camera; above a tilted horizon, a cold sky.
    temperature += rng.uniform(0.0, 6.0) * (y / h)
    if rng.random() < 0.7:
        horizon = h * rng.uniform(0.2, 0.45) + np.tan(rng.uniform(-0.08, 0.08)) * (x - w / 2)
        sky = ambient - rng.uniform(15, 40) + rng.uniform(3, 10) * (y / np.maximum(horizon, 1))
        temperature = np.where(y < horizon, sky, temperature)

    # Warm objects with sharp edges: people (ellipses), vehicles and buildings (rectangles).
    for _ in range(rng.integers(3, 12)):
        cy, cx = rng.uniform(0.3 * h, h), rng.uniform(0, w)
        if rng.random() < 0.5:
            ry, rx = rng.uniform(6, 30), rng.uniform(3, 12)
            mask = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1
            temperature = np.where(mask, rng.uniform(300, 309) + 0.5 * random_field(rng, (h, w), 3), temperature)
        else:
            ry, rx = rng.uniform(5, 40), rng.uniform(10, 60)
            mask = (np.abs(y - cy) <= ry) & (np.abs(x - cx) <= rx)
            body = ambient + rng.uniform(-5, 25) + rng.uniform(0, 3) * (y - cy) / ry
            temperature = np.where(mask, body, temperature)
            if rng.random() < 0.3:  # a hot engine or window reflection, may saturate
                hot = ((y - cy) / 4) ** 2 + ((x - cx - rx / 2) / 6) ** 2 <= 1
                temperature = np.where(hot, ambient + rng.uniform(40, 150), temperature)

    # Thin structures: poles and wires (a few pixels wide), window grids on buildings.
    for _ in range(rng.integers(0, 6)):
        cx, width = rng.uniform(0, w), rng.uniform(1, 4)
        top = rng.uniform(0, 0.6 * h)
        temperature = np.where((np.abs(x - cx) <= width / 2) & (y >= top), ambient + rng.uniform(-8, 8), temperature)
    for _ in range(rng.integers(0, 3)):
        cy, cx = rng.uniform(0.2 * h, 0.8 * h), rng.uniform(0.1 * w, 0.9 * w)
        ry, rx, pitch = rng.uniform(15, 50), rng.uniform(20, 70), rng.uniform(6, 14)
        inside = (np.abs(y - cy) <= ry) & (np.abs(x - cx) <= rx)
        windows = inside & ((y - cy) % pitch < pitch / 2) & ((x - cx) % pitch < pitch / 2)
        temperature = np.where(inside, ambient + rng.uniform(0, 8), temperature)
        temperature = np.where(windows, ambient + rng.uniform(8, 20), temperature)

    # Radiometry: counts are linear in temperature around the scene, 14 bits.
    gain = rng.uniform(30.0, 60.0)            # counts per kelvin
    counts = 8000 + gain * (temperature - ambient)
    r2 = ((y - h / 2) ** 2 + (x - w / 2) ** 2) / ((h / 2) ** 2 + (w / 2) ** 2)
    counts -= rng.uniform(0, 150) * r2        # vignetting
    counts += gain * 0.05 * rng.standard_normal((h, w))          # NETD ~ 50 mK
    counts += rng.normal(0, rng.uniform(1, 6), size=(1, w))      # column fixed-pattern noise
    return np.clip(np.round(counts), 0, MAX_COUNTS).astype(np.uint16)


# ---------------------------------------------------------------------------
# Real frames: 8- or 16-bit grayscale PNG/TIFF; one scene per file, or per subfolder.

IMAGE_PATTERNS = ("*.png", "*.PNG", "*.tif", "*.tiff", "*.TIF", "*.TIFF")


def read_frame(path):
    image = Image.open(path)
    frame = np.array(image)
    if frame.ndim == 3:  # false-colour or RGB exports: use the luminance
        frame = np.array(image.convert("L"))
    return frame


def real_scenes(folder):
    """A list of scenes, each (name, list of frame paths): a file's name, or a subfolder's."""
    if not os.path.isdir(folder):
        sys.exit(f"bad input: real data folder not found: {folder}")
    files = sorted(p for pattern in IMAGE_PATTERNS for p in glob.glob(os.path.join(folder, pattern)))
    scenes = [(os.path.basename(p), [p]) for p in files]
    for sub in sorted(d for d in glob.glob(os.path.join(folder, "*")) if os.path.isdir(d)):
        frames = sorted(p for pattern in IMAGE_PATTERNS for p in glob.glob(os.path.join(sub, pattern)))
        if frames:
            scenes.append((os.path.basename(sub), frames))
    if len(scenes) < 3:
        sys.exit(f"bad input: {folder}: need at least 3 scenes (images or subfolders of images), one each for "
                 f"training, validation and test; found {len(scenes)}")
    return scenes


def normalise(frame):
    """Counts to float32 in [0, 1], as documented at the top of this file."""
    if frame.dtype == np.uint8:
        return frame.astype(np.float32) / 255.0
    values = frame.astype(np.float64)
    lo, hi = np.percentile(values, [LOW_PERCENTILE, HIGH_PERCENTILE])
    return np.clip((values - lo) / max(hi - lo, 1.0), 0.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------
# Degradation: antialiased bicubic downscaling (PIL, Keys a = -0.5), optionally after an
# optical blur and followed by sensor noise (the "realistic" preset).

def downscale(hr, preset, rng):
    h, w = hr.shape
    source = hr
    if preset == "realistic":
        source = gaussian_blur(hr, sigma=0.4 * SCALE)
    lr = np.array(Image.fromarray(source.astype(np.float32), mode="F").resize((w // SCALE, h // SCALE), Image.BICUBIC))
    if preset == "realistic":
        lr = lr + rng.normal(0, 0.01, size=lr.shape) + rng.normal(0, 0.005, size=(1, lr.shape[1]))
    return lr.astype(np.float32)


def gaussian_blur(image, sigma):
    radius = int(3 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(image, radius, mode="reflect")
    rows = np.apply_along_axis(lambda r: np.convolve(r, taps, mode="valid"), 1, padded)
    return np.apply_along_axis(lambda c: np.convolve(c, taps, mode="valid"), 0, rows)


# ---------------------------------------------------------------------------
# The cache

def split_scenes(n_scenes):
    """Indices of the validation scenes: one contiguous block of the scenes in name order,
    at a pinned offset. Frames of a video named in sequence then stay on one side, except
    at the block's two edges (put each sequence in a subfolder for a clean split). At
    least two validation scenes once there are four."""
    n_val = max(1 if n_scenes < 4 else 2, int(round(VAL_FRACTION * n_scenes)))
    start = int(np.random.default_rng(EVAL_SEED).integers(0, n_scenes - n_val + 1))
    return set(range(start, start + n_val))


def split_test(n_scenes, val_index):
    """Indices of the test scenes, for real data: as many as validation has (fewer if that
    left no training scene), one contiguous block of the other scenes in name order, at a
    pinned offset of its own. Synthetic data adds its test scenes instead (see build)."""
    rest = [i for i in range(n_scenes) if i not in val_index]
    n_test = min(len(val_index), len(rest) - 1)
    start = int(np.random.default_rng(TEST_SEED).integers(0, len(rest) - n_test + 1))
    return set(rest[start:start + n_test])


def crops(rng, frame, size, count):
    h, w = frame.shape
    if h < size or w < size:
        return []
    out = []
    for _ in range(count):
        top, left = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        out.append(frame[top:top + size, left:left + size])
    return out


def build(cache_dir, seed, smoke, data, preset):
    started = time.time()
    rng = np.random.default_rng(seed)
    n_train, n_val, n_test = (SMOKE_N_TRAIN, SMOKE_N_VAL, SMOKE_N_TEST) if smoke else (N_TRAIN, N_VAL, N_TEST)
    if data is None:
        # Training and validation scenes as before the test split existed; the test scenes
        # are new ones after them, as many as validation has, so both earlier splits stay as they were.
        n_scenes = max(12, (n_train + n_val) // 20)
        val_index = split_scenes(n_scenes)
        test_index = set(range(n_scenes, n_scenes + len(val_index)))
        n_scenes += len(test_index)
        names = list(range(n_scenes))
        scenes = [[synthetic_scene(np.random.default_rng([seed, i]))] for i in range(n_scenes)]
        source = f"synthetic ({n_scenes} scenes)"
    else:
        found = real_scenes(data)
        names = [name for name, _ in found]
        scenes = [[read_frame(p) for p in paths] for _, paths in found]
        source = f"{data} ({len(scenes)} scenes)"
        val_index = split_scenes(len(scenes))
        test_index = split_test(len(scenes), val_index)
    val_scenes = [scene for i, scene in enumerate(scenes) if i in val_index]
    test_scenes = [scene for i, scene in enumerate(scenes) if i in test_index]
    train_scenes = [scene for i, scene in enumerate(scenes) if i not in val_index and i not in test_index]
    kind = "synthetic scene numbers" if data is None else f"files or subfolders of {data}"
    splits = {"units": {"train": kind, "validation": kind, "test": kind},
              "train": [n for i, n in enumerate(names) if i not in val_index and i not in test_index],
              "validation": [n for i, n in enumerate(names) if i in val_index],
              "test": [n for i, n in enumerate(names) if i in test_index]}
    dtype = str(scenes[0][0].dtype)

    def patches(scene_list, size, count, crop_rng):
        frames = [normalise(f) for scene in scene_list for f in scene]
        frames = [f for f in frames if min(f.shape) >= size]
        if not frames:
            sys.exit(f"bad input: no frame is at least {size}x{size} pixels")
        per_frame = int(np.ceil(count / len(frames)))
        out = [p for f in frames for p in crops(crop_rng, f, size, per_frame)]
        chosen = crop_rng.permutation(len(out))[:count]
        return np.stack([out[i] for i in chosen]).astype(np.float32)

    train_hr = patches(train_scenes, HR_PATCH, n_train, rng)
    val_hr = patches(val_scenes, VAL_PATCH, n_val, np.random.default_rng(EVAL_SEED))
    test_hr = patches(test_scenes, VAL_PATCH, n_test, np.random.default_rng(TEST_SEED))
    degrade_rng = np.random.default_rng(EVAL_SEED + 1)
    train_lr = np.stack([downscale(p, preset, degrade_rng) for p in train_hr])
    val_lr = np.stack([downscale(p, preset, degrade_rng) for p in val_hr])
    test_degrade_rng = np.random.default_rng(TEST_SEED + 1)
    test_lr = np.stack([downscale(p, preset, test_degrade_rng) for p in test_hr])

    meta = {"scale": SCALE, "source": source, "dtype": dtype, "preset": preset, "smoke": smoke,
            "train": list(train_hr.shape), "val": list(val_hr.shape), "test": list(test_hr.shape),
            "normalisation": "per-frame percentiles" if dtype != "uint8" else "/255"}
    for name, array in [("train/hr.npy", train_hr), ("train/lr.npy", train_lr),
                        ("inputs/lr.npy", val_lr), ("hidden/hr.npy", val_hr),
                        ("test/inputs/lr.npy", test_lr), ("test/hidden/hr.npy", test_hr)]:
        path = os.path.join(cache_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, array)
    for part in ("train", "inputs", "test/inputs"):
        with open(os.path.join(cache_dir, part, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
    with open(os.path.join(cache_dir, "hidden", "splits.json"), "w") as f:
        json.dump(splits, f, indent=1)
    print(f"data: {source}, {dtype}; {len(train_hr)} training patches of {HR_PATCH}px from "
          f"{len(train_scenes)} scenes, {len(val_hr)} validation patches of {VAL_PATCH}px from "
          f"{len(val_scenes)} scenes, {len(test_hr)} test patches of {VAL_PATCH}px from "
          f"{len(test_scenes)} scenes; x{SCALE} {preset}; {time.time() - started:.1f} s")


# ---------------------------------------------------------------------------
# Helpers for train.py: data, device, VRAM budget, run metrics

def load_train():
    """Training pairs (HR N x H x W, LR N x H/SCALE x W/SCALE), float32 in [0, 1]."""
    data_dir = os.environ["AUTORESEARCH_DATA_DIR"]
    return np.load(os.path.join(data_dir, "hr.npy")), np.load(os.path.join(data_dir, "lr.npy"))


def time_budget():
    return float(os.environ.get("AUTORESEARCH_BUDGET_SECONDS", TIME_BUDGET))


def threads():
    """CPU threads for torch: $AUTORESEARCH_THREADS when the runner sets it (a share of the cores
    for each of several experiments at once), else $OMP_NUM_THREADS, else the cores this
    process may run on."""
    for name in ("AUTORESEARCH_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(name, "").strip().isdigit():
            return max(1, int(os.environ[name]))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def device():
    """The device to train on: $AUTORESEARCH_DEVICE, else the first GPU, else the CPU.
    A CUDA device always carries its index (torch's memory calls need one)."""
    import torch
    wanted = torch.device(os.environ.get("AUTORESEARCH_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"))
    if wanted.type == "cuda" and wanted.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return wanted


def apply_vram_budget(dev):
    """Caps this process's CUDA memory at the VRAM budget (16 GB by default), so a result
    found on a large card also fits the consumer card the example targets."""
    import torch
    if dev.type != "cuda":
        return None
    budget = float(os.environ.get("AUTORESEARCH_VRAM_GB", DEFAULT_VRAM_GB))
    total = torch.cuda.get_device_properties(dev.index).total_memory / 1e9
    fraction = min(1.0, budget / total)
    torch.cuda.set_per_process_memory_fraction(fraction, dev.index)
    return budget


def write_run_metrics(**values):
    """Adds values (e.g. peak VRAM) to $AUTORESEARCH_RUN_DIR/metrics.json for the runner."""
    path = os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "metrics.json")
    current = {}
    if os.path.exists(path):
        with open(path) as f:
            current = json.load(f)
    current.update(values)
    with open(path, "w") as f:
        json.dump(current, f)


def peak_vram_gb(dev):
    import torch
    return torch.cuda.max_memory_allocated(dev) / 1e9 if dev.type == "cuda" else 0.0


# ---------------------------------------------------------------------------
# Throughput: FLOPs per sample from the layer shapes, and the card's utilisation. Here, in
# the immutable file, so an experiment cannot count its own work more generously.

# Dense BF16 tensor-core peaks, TFLOP/s with FP32 accumulate, from NVIDIA's data sheets and
# architecture whitepapers; matched by a substring of torch.cuda.get_device_name, first match
# wins (so the PCIe H100 comes before the SXM one).
BF16_PEAK_TFLOPS = (
    ("H200", 989.4),
    ("H100 PCIe", 756.5),
    ("H100", 989.4),
    ("A100", 312.0),
    ("L40S", 362.1),
    ("RTX 5080", 112.6),
    ("RTX 4090", 165.2),
    ("RTX 3090", 71.0),
)


def peak_tflops(device_name):
    """The card's dense BF16 peak (TFLOP/s), or None for a card not in the table."""
    for name, peak in BF16_PEAK_TFLOPS:
        if name in device_name:
            return peak
    return None


def flops_per_sample(model, input_shape):
    """Training FLOPs per sample: 3 x the forward pass's multiply-adds x 2 (the backward
    pass costs about twice the forward), counted from the shapes of every convolution and
    linear layer on one dry run of a zero input of `input_shape` (batch 1), on the CPU;
    None when they cannot be counted."""
    import copy
    import torch
    import torch.nn as nn
    counted = [0]

    def conv(module, inputs, output):
        kernel = module.kernel_size[0] * module.kernel_size[1]
        counted[0] += 2 * output.numel() * (module.in_channels // module.groups) * kernel

    def linear(module, inputs, output):
        counted[0] += 2 * output.numel() * module.in_features

    try:
        probe = copy.deepcopy(model).float().cpu().eval()
        if any(isinstance(m, torch.jit.ScriptModule) for m in probe.modules()):
            return None  # a TorchScript part (a promoted backbone) hides its layers from hooks
        hooks = [m.register_forward_hook(conv) for m in probe.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        hooks += [m.register_forward_hook(linear) for m in probe.modules() if isinstance(m, nn.Linear)]
        with torch.no_grad():
            probe(torch.zeros(*input_shape))
    except Exception as error:  # the count is a report, never a reason to lose the run
        print(f"flops_per_sample: not counted ({type(error).__name__}: {error})")
        return None
    return 3 * counted[0]


def throughput(flops, samples, seconds, hr_pixels, dev):
    """What a training run achieved: samples/s, HR pixels/s, TFLOP/s and, on a known card,
    MFU (achieved over the card's BF16 peak). A dict for write_run_metrics; printed as the
    `name: value` lines the scorer reports."""
    import torch
    rate = samples / max(seconds, 1e-9)
    stats = {"samples_per_second": rate, "pixels_per_second": rate * hr_pixels}
    if flops is None:
        return stats
    stats.update(tflops=rate * flops / 1e12, flops_per_sample=float(flops))
    if dev.type == "cuda":
        peak = peak_tflops(torch.cuda.get_device_name(dev))
        if peak is not None:
            stats["mfu"] = stats["tflops"] / peak
    return stats


# ---------------------------------------------------------------------------
# Predict: the trusted step between training and scoring

def predict():
    import torch
    run_dir = os.environ["AUTORESEARCH_RUN_DIR"]
    lr = np.load(os.path.join(os.environ["AUTORESEARCH_INPUTS_DIR"], "lr.npy"))
    dev = device()
    apply_vram_budget(dev)
    torch.manual_seed(EVAL_SEED)
    model = torch.jit.load(os.path.join(run_dir, "model.pt"), map_location=dev).eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(lr), 16):
            batch = torch.from_numpy(lr[start:start + 16]).unsqueeze(1).to(dev)
            outputs.append(model(batch).float().squeeze(1).cpu().numpy())
    predictions = np.concatenate(outputs).astype(np.float32)
    expected = (len(lr), lr.shape[1] * SCALE, lr.shape[2] * SCALE)
    if predictions.shape != expected:
        sys.exit(f"model output has shape {predictions.shape}, expected {expected}")
    np.save(os.path.join(run_dir, "predictions.npy"), predictions)
    write_run_metrics(predict_peak_vram_gb=peak_vram_gb(dev))
    print(f"predictions: {predictions.shape} on {dev}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "predict":
        predict()
        sys.exit(0)
    parser = argparse.ArgumentParser(description="Build the LWIR super-resolution data cache.")
    parser.add_argument("--smoke", action="store_true", help="a small, CPU-sized task")
    parser.add_argument("--data", help="folder of real frames (8/16-bit PNG or TIFF); default: synthetic scenes")
    parser.add_argument("--preset", choices=["bicubic", "realistic"], default="bicubic", help="degradation")
    args = parser.parse_args()
    build(os.environ["AUTORESEARCH_CACHE_DIR"], int(os.environ.get("AUTORESEARCH_SEED", "0")),
          args.smoke, args.data, args.preset)

"""
LWIR (thermal) multi-frame super-resolution: burst data, constants and the trusted predict step.

This file is IMMUTABLE during research, like mfsr.py (the frozen pipeline). It owns what
a fair comparison needs: the scenes, the burst synthesis and its degradation, the split,
the classical baseline and the predict step. The loop runs it two ways:

    python3 prepare.py [--smoke] [--frames N] [--data DIR] [--sequences DIR]
        builds the data cache in $AUTORESEARCH_CACHE_DIR:
          train/hr.npy, train/bursts.npy    training bursts and targets (train.py reads these)
          inputs/bursts.npy, inputs/lr.npy  validation bursts and their reference frames (predict)
          hidden/hr.npy                     validation targets (only the trusted scorer reads these)
          hidden/shift_add.npy              the classical multi-frame baseline (registered mean + bicubic)
          hidden/splits.json                which scenes (or sequences) went to training, validation and test
          test/inputs/..., test/hidden/...  the test split, laid out as inputs/ and hidden/: no
                                            experiment sees it, only `autoresearch verify` reads it
    python3 prepare.py predict [--promoted]
        builds the pipeline from mfsr.py, loads the run's weights strictly (frozen.pt) and its
        fusion module (fusion.pt), writes predictions.npy (float32, N x H x W) and verdict.json

A burst is N frames of one scene (8 by default, 4 for --smoke). Frame 0, the reference,
sits at the grid origin; every other frame is moved by a random sub-pixel translation and
a small rotation. Each frame is blurred by the sensor's PSF (optics and pixel aperture),
decimated x4, given its own temporal noise (NETD), the burst's column fixed-pattern noise
(the same in every frame: it belongs to the sensor, not the scene), and quantised to 14 bits.
"""
import argparse
import glob
import json
import math
import os
import sys
import time

import numpy as np
from PIL import Image, UnidentifiedImageError

# ---------------------------------------------------------------------------
# Constants (fixed for a research run: changing them changes the task)

SCALE = 4                 # upscaling factor (mfsr.SCALE)
FRAMES = 8                # frames per burst
SMOKE_FRAMES = 4          # --smoke
TIME_BUDGET = 600         # training seconds per experiment (the runner passes the real one)
HR_PATCH = 96             # training target size (HR pixels), a multiple of SCALE
VAL_PATCH = 128           # validation target size (HR pixels)
N_TRAIN = 5000            # training bursts
N_VAL = 500               # validation bursts
N_TEST = 500              # test bursts (the same size as validation)
SMOKE_HR_PATCH = 64       # --smoke: a CPU-sized task
SMOKE_VAL_PATCH = 96
SMOKE_N_TRAIN = 1000
SMOKE_N_VAL = 48
SMOKE_N_TEST = 48
VAL_FRACTION = 0.15       # share of scenes held out for validation (split by scene)
EVAL_SEED = 1234          # validation bursts are pinned, whatever the training seed
TEST_SEED = 4321          # test scenes and bursts are pinned too, with a seed of their own
SCENE_SHAPE = (256, 320)  # synthetic scene size (H, W)
MAX_COUNTS = 16383        # 14-bit sensor counts
DEFAULT_VRAM_GB = 16.0    # the example's VRAM budget (a 16 GB consumer card)

# Burst motion and sensor (HR pixels unless said otherwise)
MAX_SHIFT = 2.0 * SCALE   # translation per frame, uniform in +-MAX_SHIFT (sub-pixel at LR)
MAX_ROTATION = 1.0        # degrees, uniform in +-MAX_ROTATION, about the patch centre
PSF_SIGMA = 0.3 * SCALE   # optics: a Gaussian blur before the pixel aperture (a SCALE x SCALE box)
NETD = (0.004, 0.012)     # temporal noise sd per burst, on the [0, 1] scale, drawn anew per frame
FPN = (0.002, 0.008)      # column fixed-pattern noise sd per burst
MARGIN = 5 * SCALE        # HR pixels around a crop (a multiple of SCALE), so moved frames never sample outside

# Normalisation, per source frame and never per patch (as phase 1): 16-bit frames map their
# 0.5th..99.5th percentiles to [0, 1] and clip; 8-bit frames (camera AGC) are counts / 255.
LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5


# ---------------------------------------------------------------------------
# Synthetic LWIR scenes (the same generator as examples/lwir-sr/prepare.py)

def random_field(rng, shape, correlation):
    """Gaussian random field with unit variance and the given correlation length (pixels)."""
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    spectrum = np.exp(-0.5 * (fx ** 2 + fy ** 2) * (2 * np.pi * correlation) ** 2)
    field = np.fft.irfft2(np.fft.rfft2(rng.standard_normal((h, w))) * spectrum, s=(h, w))
    return field / (field.std() + 1e-12)


def synthetic_scene(rng):
    """One scene as 14-bit counts (uint16): smooth temperatures, sky, warm objects, thin structures."""
    h, w = SCENE_SHAPE
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    ambient = rng.uniform(270.0, 300.0)
    temperature = ambient + rng.uniform(1.0, 4.0) * random_field(rng, (h, w), rng.uniform(20, 60))
    temperature += rng.uniform(0.2, 0.8) * random_field(rng, (h, w), rng.uniform(1.5, 4))
    temperature += rng.uniform(0.0, 6.0) * (y / h)
    if rng.random() < 0.7:
        horizon = h * rng.uniform(0.2, 0.45) + np.tan(rng.uniform(-0.08, 0.08)) * (x - w / 2)
        sky = ambient - rng.uniform(15, 40) + rng.uniform(3, 10) * (y / np.maximum(horizon, 1))
        temperature = np.where(y < horizon, sky, temperature)
    for _ in range(rng.integers(3, 12)):
        cy, cx = rng.uniform(0.3 * h, h), rng.uniform(0, w)
        if rng.random() < 0.5:
            ry, rx = rng.uniform(6, 30), rng.uniform(3, 12)
            mask = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1
            temperature = np.where(mask, rng.uniform(300, 309) + 0.5 * random_field(rng, (h, w), 3), temperature)
        else:
            ry, rx = rng.uniform(5, 40), rng.uniform(10, 60)
            mask = (np.abs(y - cy) <= ry) & (np.abs(x - cx) <= rx)
            temperature = np.where(mask, ambient + rng.uniform(-5, 25) + rng.uniform(0, 3) * (y - cy) / ry, temperature)
            if rng.random() < 0.3:
                hot = ((y - cy) / 4) ** 2 + ((x - cx - rx / 2) / 6) ** 2 <= 1
                temperature = np.where(hot, ambient + rng.uniform(40, 150), temperature)
    for _ in range(rng.integers(0, 6)):
        cx, width, top = rng.uniform(0, w), rng.uniform(1, 4), rng.uniform(0, 0.6 * h)
        temperature = np.where((np.abs(x - cx) <= width / 2) & (y >= top), ambient + rng.uniform(-8, 8), temperature)
    for _ in range(rng.integers(0, 3)):
        cy, cx = rng.uniform(0.2 * h, 0.8 * h), rng.uniform(0.1 * w, 0.9 * w)
        ry, rx, pitch = rng.uniform(15, 50), rng.uniform(20, 70), rng.uniform(6, 14)
        inside = (np.abs(y - cy) <= ry) & (np.abs(x - cx) <= rx)
        windows = inside & ((y - cy) % pitch < pitch / 2) & ((x - cx) % pitch < pitch / 2)
        temperature = np.where(inside, ambient + rng.uniform(0, 8), temperature)
        temperature = np.where(windows, ambient + rng.uniform(8, 20), temperature)
    counts = 8000 + rng.uniform(30.0, 60.0) * (temperature - ambient)
    r2 = ((y - h / 2) ** 2 + (x - w / 2) ** 2) / ((h / 2) ** 2 + (w / 2) ** 2)
    counts -= rng.uniform(0, 150) * r2  # vignetting; the sensor's noise is added per frame below
    return np.clip(np.round(counts), 0, MAX_COUNTS).astype(np.uint16)


# ---------------------------------------------------------------------------
# Real frames: 8- or 16-bit grayscale PNG/TIFF, checked before anything is written

IMAGE_SUFFIXES = (".png", ".tif", ".tiff")


class BadInput(Exception):
    """Real data that cannot be used as it is; the message names the file and the fix."""


def read_frame(path):
    try:
        with Image.open(path) as image:
            frame = np.array(image.convert("L") if image.mode in ("RGB", "RGBA", "P", "LA") else image)
    except (UnidentifiedImageError, OSError) as error:
        raise BadInput(f"{path}: not a readable image ({error})")
    if frame.ndim != 2:
        raise BadInput(f"{path}: expected a grayscale image, got shape {frame.shape}")
    if frame.dtype == np.int32:  # PIL's 16-bit mode I
        frame = frame.astype(np.uint16)
    if frame.dtype not in (np.uint8, np.uint16):
        raise BadInput(f"{path}: {frame.dtype} samples; expected 8- or 16-bit grayscale")
    return frame


def image_files(folder):
    """The folder's images in name order; any other file is an error (hidden files excepted)."""
    if not os.path.isdir(folder):
        raise BadInput(f"{folder}: not a folder")
    names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
    files = [os.path.join(folder, n) for n in names if os.path.isfile(os.path.join(folder, n))]
    others = [f for f in files if not f.lower().endswith(IMAGE_SUFFIXES)]
    if others:
        raise BadInput(f"{others[0]}: not an image (PNG or TIFF); move it out of {folder}")
    return [f for f in files if f.lower().endswith(IMAGE_SUFFIXES)]


def check_depths(frames, paths, where):
    depths = {str(f.dtype) for f in frames}
    if len(depths) > 1:
        eight = next(p for p, f in zip(paths, frames) if f.dtype == np.uint8)
        sixteen = next(p for p, f in zip(paths, frames) if f.dtype == np.uint16)
        raise BadInput(f"{where}: 8-bit and 16-bit frames mixed ({eight} is 8-bit, {sixteen} is 16-bit); "
                       "they are normalised differently, so use one depth")


def real_scenes(folder):
    """Single frames as scenes (one per file), normalised: for --data. Returns the scenes,
    their file names and the bit depth."""
    paths = image_files(folder)
    if len(paths) < 4:
        raise BadInput(f"{folder}: need at least 4 images (scenes), found {len(paths)}")
    frames = [read_frame(p) for p in paths]
    check_depths(frames, paths, folder)
    return [normalise(f) for f in frames], [os.path.basename(p) for p in paths], str(frames[0].dtype)


def real_sequences(folder, frames_needed):
    """Real consecutive frames, a subfolder per sequence in name order: for --sequences.
    Returns a list of (name, frames N x h x w in [0, 1])."""
    if not os.path.isdir(folder):
        raise BadInput(f"{folder}: not a folder")
    subfolders = sorted(d for d in glob.glob(os.path.join(folder, "*")) if os.path.isdir(d))
    if not subfolders:
        raise BadInput(f"{folder}: no sequence folders (put each sequence's frames in a subfolder)")
    sequences, depths = [], {}
    for sub in subfolders:
        paths = image_files(sub)
        if len(paths) < frames_needed:
            raise BadInput(f"{sub}: {len(paths)} frames, fewer than the {frames_needed} a burst needs")
        frames = [read_frame(p) for p in paths]
        check_depths(frames, paths, sub)
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            odd = next(p for p, f in zip(paths, frames) if f.shape != frames[0].shape)
            raise BadInput(f"{sub}: frames of different sizes ({paths[0]} is {frames[0].shape}, {odd} is "
                           f"{read_frame(odd).shape}); a sequence's frames must share one size")
        depths[sub] = frames[0]
        sequences.append((os.path.basename(sub), np.stack([normalise(f) for f in frames])))
    check_depths(list(depths.values()), list(depths), folder)
    if len(sequences) < 2:
        raise BadInput(f"{folder}: {len(sequences)} sequence folder; validation and test need one each "
                       "(a sequence is never split between them), so add a second")
    return sequences


def normalise(frame):
    """Counts to float32 in [0, 1], as documented at the top of this file."""
    if frame.dtype == np.uint8:
        return frame.astype(np.float32) / 255.0
    values = frame.astype(np.float64)
    lo, hi = np.percentile(values, [LOW_PERCENTILE, HIGH_PERCENTILE])
    return np.clip((values - lo) / max(hi - lo, 1.0), 0.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------
# The degradation: motion, PSF, decimation, noise, quantisation (torch, batched)

def psf_taps():
    import torch
    radius = int(math.ceil(3 * PSF_SIGMA))
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32) / PSF_SIGMA) ** 2)
    return taps / taps.sum()


def blur_and_decimate(hr):
    """The sensor without noise: Gaussian optics, then each LR pixel integrates a SCALE x SCALE
    block (so LR pixel centres sit where bicubic upscaling expects them). Torch, N x 1 x H x W,
    differentiable: train.py may use it for an LR-consistency loss."""
    import torch.nn.functional as F
    taps = psf_taps().to(hr.device, hr.dtype)
    r = (len(taps) - 1) // 2
    x = F.pad(hr, (r, r, r, r), mode="reflect")
    x = F.conv2d(x, taps.view(1, 1, 1, -1))
    x = F.conv2d(x, taps.view(1, 1, -1, 1))
    return F.avg_pool2d(x, SCALE)


def move(crops, rng, frames):
    """Each crop (M x S x S, S = size + 2 * MARGIN) as `frames` moved copies: frame 0 as is, the
    others translated and rotated about the centre (bicubic). Returns M x frames x S x S."""
    import torch
    import torch.nn.functional as F
    m, s, _ = crops.shape
    angle = np.radians(rng.uniform(-MAX_ROTATION, MAX_ROTATION, size=(m, frames)))
    shift = rng.uniform(-MAX_SHIFT, MAX_SHIFT, size=(m, frames, 2))
    angle[:, 0], shift[:, 0] = 0.0, 0.0
    cos, sin = np.cos(angle), np.sin(angle)
    theta = np.zeros((m, frames, 2, 3))
    theta[..., 0, 0], theta[..., 0, 1], theta[..., 1, 0], theta[..., 1, 1] = cos, -sin, sin, cos
    theta[..., :, 2] = shift * 2.0 / s  # affine_grid works in [-1, 1] units
    source = torch.from_numpy(np.ascontiguousarray(crops)).float()[:, None].repeat_interleave(frames, dim=0)
    grid = F.affine_grid(torch.from_numpy(theta.reshape(-1, 2, 3)).float(), list(source.shape), align_corners=False)
    moved = F.grid_sample(source, grid, mode="bicubic", padding_mode="border", align_corners=False)
    moved[::frames] = source[::frames]  # the reference exactly, not resampled
    return moved.reshape(m, frames, s, s)


def synthesise(crops, rng, frames, size):
    """Bursts from HR crops with margins: (HR targets M x size x size, bursts M x frames x size/4 x size/4).
    The sensor sees the whole moved crop, so the PSF at the patch's edge sees real scene, not padding."""
    import torch
    moved = move(crops, rng, frames)
    m, full, low, edge = len(crops), moved.shape[-1], size // SCALE, MARGIN // SCALE
    with torch.no_grad():
        sensed = blur_and_decimate(moved.reshape(m * frames, 1, full, full)).reshape(m, frames, full // SCALE, full // SCALE)
    lr = sensed[:, :, edge:edge + low, edge:edge + low].numpy().astype(np.float64)
    netd = rng.uniform(*NETD, size=(m, 1, 1, 1))
    lr += netd * rng.standard_normal(lr.shape)                                     # temporal: per frame
    lr += rng.uniform(*FPN, size=(m, 1, 1, 1)) * rng.standard_normal((m, 1, 1, lr.shape[3]))  # columns: per burst
    lr = np.round(np.clip(lr, 0.0, 1.0) * MAX_COUNTS) / MAX_COUNTS                 # 14-bit quantisation
    return moved[:, 0, MARGIN:MARGIN + size, MARGIN:MARGIN + size].numpy().astype(np.float32), lr.astype(np.float32)


def crops_with_margin(rng, frames, size, count):
    """Random crops of size + 2 * MARGIN from a list of normalised frames (H x W)."""
    full = size + 2 * MARGIN
    usable = [f for f in frames if min(f.shape) >= full]
    if not usable:
        raise BadInput(f"no frame is at least {full}x{full} pixels (a {size} px patch and its margin)")
    out = np.empty((count, full, full), dtype=np.float32)
    for i in range(count):
        f = usable[rng.integers(0, len(usable))]
        top, left = rng.integers(0, f.shape[0] - full + 1), rng.integers(0, f.shape[1] - full + 1)
        out[i] = f[top:top + full, left:left + full]
    return out


def split_scenes(n_scenes):
    """Indices of the validation scenes: one contiguous block at a pinned offset (as phase 1)."""
    n_val = max(1 if n_scenes < 4 else 2, int(round(VAL_FRACTION * n_scenes)))
    start = int(np.random.default_rng(EVAL_SEED).integers(0, n_scenes - n_val + 1))
    return set(range(start, start + n_val))


def split_test(n_scenes, val_index):
    """Indices of the test scenes, for real frames: as many as validation has (fewer if that
    left no training scene), one contiguous block of the other scenes in name order, at a
    pinned offset of its own. Synthetic data adds its test scenes instead (see build)."""
    rest = [i for i in range(n_scenes) if i not in val_index]
    n_test = min(len(val_index), len(rest) - 1)
    start = int(np.random.default_rng(TEST_SEED).integers(0, len(rest) - n_test + 1))
    return set(rest[start:start + n_test])


def split_sequences(sequences):
    """Real sequences (no training uses them) in two: validation gets one contiguous block of
    half of them, rounded up, at a pinned offset; test gets the rest. Never a sequence in both."""
    n_val = (len(sequences) + 1) // 2
    start = int(np.random.default_rng(EVAL_SEED).integers(0, len(sequences) - n_val + 1))
    val = [s for i, s in enumerate(sequences) if start <= i < start + n_val]
    return val, [s for i, s in enumerate(sequences) if not start <= i < start + n_val]


def sequence_bursts(sequences, frames, size, seed):
    """Validation or test bursts from real sequences: windows of `frames` consecutive frames, each
    the same crop (LR size x size) of every frame; the window's first frame is the reference."""
    rng = np.random.default_rng(seed)
    bursts = []
    for _, seq in sequences:
        h, w = seq.shape[1:]
        if h < size or w < size:
            raise BadInput(f"sequence frames are {h}x{w}; validation crops need {size}x{size}")
        for start in range(0, len(seq) - frames + 1, max(1, frames // 2)):
            for _ in range(4):
                top, left = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
                bursts.append(seq[start:start + frames, top:top + size, left:left + size])
    return np.stack(bursts).astype(np.float32)


# ---------------------------------------------------------------------------
# The cache

def build(cache_dir, seed, smoke, frames, data, sequences_dir):
    started = time.time()
    n_train, n_val, n_test = (SMOKE_N_TRAIN, SMOKE_N_VAL, SMOKE_N_TEST) if smoke else (N_TRAIN, N_VAL, N_TEST)
    hr_patch, val_patch = (SMOKE_HR_PATCH, SMOKE_VAL_PATCH) if smoke else (HR_PATCH, VAL_PATCH)
    real = None if sequences_dir is None else real_sequences(sequences_dir, frames)  # checked before any work
    if data is None:
        # Training and validation scenes as before the test split existed; the test scenes are
        # new ones after them, as many as validation has (none with real sequences, which hold the test split).
        n_scenes = max(12, (n_train + n_val) // 25)
        val_index = split_scenes(n_scenes)
        test_index = set() if real is not None else set(range(n_scenes, n_scenes + len(val_index)))
        names = list(range(n_scenes + len(test_index)))
        scenes = [normalise(synthetic_scene(np.random.default_rng([seed, i]))) for i in names]
        source, dtype = f"synthetic ({len(scenes)} scenes)", "uint16"
    else:
        scenes, names, dtype = real_scenes(data)
        source = f"{data} ({len(scenes)} scenes)"
        val_index = split_scenes(len(scenes))
        test_index = set() if real is not None else split_test(len(scenes), val_index)
    train_scenes = [s for i, s in enumerate(scenes) if i not in val_index and i not in test_index]
    val_scenes = [s for i, s in enumerate(scenes) if i in val_index]
    test_scenes = [s for i, s in enumerate(scenes) if i in test_index]
    kind = "synthetic scene numbers" if data is None else f"files of {data}"
    train_names = [n for i, n in enumerate(names) if i not in val_index and i not in test_index]

    import torch
    torch.set_num_threads(threads())
    rng = np.random.default_rng(seed)
    train_hr, train_bursts = synthesise(crops_with_margin(rng, train_scenes, hr_patch, n_train), rng, frames, hr_patch)
    arrays = {"train/hr.npy": train_hr, "train/bursts.npy": train_bursts}
    meta = {"scale": SCALE, "frames": frames, "source": source, "dtype": dtype, "smoke": smoke,
            "train": list(train_bursts.shape)}
    if real is None:
        splits = {"units": {"train": kind, "validation": kind, "test": kind}, "train": train_names,
                  "validation": [n for i, n in enumerate(names) if i in val_index],
                  "test": [n for i, n in enumerate(names) if i in test_index]}
        for prefix, held_out, count, split_seed in (("", val_scenes, n_val, EVAL_SEED), ("test/", test_scenes, n_test, TEST_SEED)):
            split_rng = np.random.default_rng(split_seed)
            hr, bursts = synthesise(crops_with_margin(split_rng, held_out, val_patch, count), split_rng, frames, val_patch)
            shift_add = np.concatenate([classical(bursts[i:i + 64]) for i in range(0, len(bursts), 64)])
            arrays.update({f"{prefix}hidden/hr.npy": hr, f"{prefix}hidden/shift_add.npy": shift_add,
                           f"{prefix}inputs/bursts.npy": bursts, f"{prefix}inputs/lr.npy": bursts[:, 0]})
        meta["validation"] = f"synthesised bursts from {len(val_scenes)} held-out scenes"
        meta["testing"] = f"synthesised bursts from {len(test_scenes)} other held-out scenes"
    else:
        val_sequences, test_sequences = split_sequences(real)
        splits = {"units": {"train": kind, "validation": f"sequences in {sequences_dir}", "test": f"sequences in {sequences_dir}"},
                  "train": train_names, "validation": [name for name, _ in val_sequences],
                  "test": [name for name, _ in test_sequences]}
        for prefix, held_out, split_seed in (("", val_sequences, EVAL_SEED), ("test/", test_sequences, TEST_SEED)):
            bursts = sequence_bursts(held_out, frames, val_patch // SCALE, split_seed)
            arrays.update({f"{prefix}inputs/bursts.npy": bursts, f"{prefix}inputs/lr.npy": bursts[:, 0]})
        meta["validation"] = (f"real sequences {', '.join(splits['validation'])}: no ground truth, "
                              "scored with no-reference measures only")
        meta["testing"] = f"real sequences {', '.join(splits['test'])}, no ground truth either"
    meta["val"] = list(arrays["inputs/bursts.npy"].shape)
    meta["test"] = list(arrays["test/inputs/bursts.npy"].shape)
    for name, array in arrays.items():
        path = os.path.join(cache_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, np.ascontiguousarray(array, dtype=np.float32))
    for part in ("hidden", "test/hidden"):  # with real sequences, neither holds targets
        os.makedirs(os.path.join(cache_dir, part), exist_ok=True)
    for part in ("train", "inputs", "test/inputs"):
        with open(os.path.join(cache_dir, part, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
    with open(os.path.join(cache_dir, "hidden", "splits.json"), "w") as f:
        json.dump(splits, f, indent=1)
    print(f"data: {source}, {dtype}; {len(train_bursts)} training bursts of {frames} frames "
          f"({hr_patch // SCALE} px LR, {hr_patch} px HR) from {len(train_scenes)} scenes; "
          f"{meta['val'][0]} validation bursts: {meta['validation']}; "
          f"{meta['test'][0]} test bursts: {meta['testing']}; {time.time() - started:.1f} s")


def classical(bursts):
    """The classical multi-frame baseline of mfsr.py on a numpy stack of bursts."""
    import torch
    import mfsr
    return mfsr.classical_baseline(torch.from_numpy(bursts)).numpy().astype(np.float32)


# ---------------------------------------------------------------------------
# Helpers for train.py: data, device, VRAM budget, run metrics

def load_train():
    """Training targets (N x H x W) and bursts (N x FRAMES x H/SCALE x W/SCALE), float32 in [0, 1]."""
    data_dir = os.environ["AUTORESEARCH_DATA_DIR"]
    return np.load(os.path.join(data_dir, "hr.npy")), np.load(os.path.join(data_dir, "bursts.npy"))


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
    """$AUTORESEARCH_DEVICE, else the first GPU, else the CPU; a CUDA device carries its index."""
    import torch
    wanted = torch.device(os.environ.get("AUTORESEARCH_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"))
    if wanted.type == "cuda" and wanted.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return wanted


def apply_vram_budget(dev):
    """Caps this process's CUDA memory at the VRAM budget (16 GB by default)."""
    import torch
    if dev.type != "cuda":
        return None
    budget = float(os.environ.get("AUTORESEARCH_VRAM_GB", DEFAULT_VRAM_GB))
    total = torch.cuda.get_device_properties(dev.index).total_memory / 1e9
    torch.cuda.set_per_process_memory_fraction(min(1.0, budget / total), dev.index)
    return budget


def replace_file(path, data):
    """Writes bytes to `path` as a new file, whatever the experiment left under that name or
    under the temporary one (a link is replaced, never followed; a FIFO never blocks)."""
    temporary = f"{path}.{os.getpid()}.tmp"
    if os.path.lexists(temporary):
        os.unlink(temporary)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(temporary, path)


def write_run_metrics(**values):
    """Adds values (e.g. peak VRAM) to $AUTORESEARCH_RUN_DIR/metrics.json for the runner."""
    import stat
    path = os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "metrics.json")
    current = {}
    try:
        if stat.S_ISREG(os.lstat(path).st_mode):
            with open(path, "rb") as f:
                current = json.loads(f.read(65536))
    except (OSError, ValueError):
        current = {}
    current = current if isinstance(current, dict) else {}
    current.update(values)
    replace_file(path, json.dumps(current).encode())


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
# Predict: the trusted step between training and scoring. THE FROZEN PARTS ARE ENFORCED
# HERE: the pipeline is built from mfsr.py, never from the experiment's code, and the
# experiment's weights must fit it exactly; only the fusion module comes from the run.

def write_verdict(run_dir, status, reason=None):
    verdict = {"status": status, **({} if reason is None else {"reason": reason})}
    replace_file(os.path.join(run_dir, "verdict.json"), json.dumps(verdict).encode())


def predict(use_promoted):
    import io
    import torch
    import mfsr
    run_dir = os.environ["AUTORESEARCH_RUN_DIR"]
    bursts = np.load(os.path.join(os.environ["AUTORESEARCH_INPUTS_DIR"], "bursts.npy"))
    dev = device()
    apply_vram_budget(dev)
    torch.manual_seed(EVAL_SEED)
    try:
        model, frames = mfsr.load(run_dir, bursts.shape[1], dev, use_promoted)
    except mfsr.FrozenViolation as violation:
        write_verdict(run_dir, "invalid", str(violation))
        print(f"invalid: {violation}")
        return
    outputs = []
    with torch.no_grad():
        for start in range(0, len(bursts), 16):
            batch = torch.from_numpy(bursts[start:start + 16, :frames]).to(dev)
            outputs.append(model(batch).float()[:, 0].cpu().numpy())
    predictions = np.concatenate(outputs).astype(np.float32)
    buffer = io.BytesIO()
    np.save(buffer, predictions)
    replace_file(os.path.join(run_dir, "predictions.npy"), buffer.getvalue())
    write_verdict(run_dir, "ok")
    write_run_metrics(predict_peak_vram_gb=peak_vram_gb(dev))
    encoder = "promoted backbone (promoted/model.pt)" if use_promoted else "default encoder"
    print(f"predictions: {predictions.shape} on {dev} from {frames} of {bursts.shape[1]} frames; {encoder}")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if len(sys.argv) > 1 and sys.argv[1] == "predict":
        # --promoted: the config found a committed promotion (promoted/model.pt), which is sealed
        predict("--promoted" in sys.argv[2:])
        sys.exit(0)
    parser = argparse.ArgumentParser(description="Build the LWIR multi-frame super-resolution data cache.")
    parser.add_argument("--smoke", action="store_true", help="a small, CPU-sized task (4 frames per burst)")
    parser.add_argument("--frames", type=int, help=f"frames per burst (default {FRAMES}, {SMOKE_FRAMES} with --smoke)")
    parser.add_argument("--data", help="folder of real single frames (8/16-bit PNG or TIFF) to synthesise bursts from")
    parser.add_argument("--sequences", help="folder of real sequences (a subfolder each): validate on them, no-reference")
    args = parser.parse_args()
    count = args.frames or (SMOKE_FRAMES if args.smoke else FRAMES)
    if count < 2:
        sys.exit("--frames: a burst needs at least 2 frames")
    try:
        build(os.environ["AUTORESEARCH_CACHE_DIR"], int(os.environ.get("AUTORESEARCH_SEED", "0")),
              args.smoke, count, args.data, args.sequences)
    except BadInput as error:
        sys.exit(f"bad input: {error}")

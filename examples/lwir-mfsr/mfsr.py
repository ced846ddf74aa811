"""
The frozen multi-frame super-resolution pipeline (x4) for LWIR bursts.

This file is IMMUTABLE during research: phase 2 of the method (done once, by hand) put
the single-frame backbone of phase 1 into this pipeline, and phase 3 searches only what
train.py owns: the fusion module and the loss. The trusted predict step in prepare.py
builds the encoder, the alignment and the head from this file and loads their trained
weights by name, strictly, so a train.py that changes them is refused.

    burst (B x N x h x w, frame 0 the reference, in [0, 1])
      -> encoder        per-frame features at LR             (B*N x C x h x w)
      -> alignment      every frame warped onto frame 0      (B x N x C x h x w)
      -> fusion         THE SLOT: train.py's module          (B x C x h x w)
      -> head           x4 sub-pixel reconstruction, added to the bicubic upscaling of
                        the registered mean of the burst (the classical multi-frame baseline)

Alignment: a global sub-pixel shift per frame from phase correlation at LR (no
parameters, suited to the translations a hand-held or vibrating camera makes: a median
error of 0.087 LR px on 32x32 test patches), refined by a small learned flow network at LR whose output starts
at zero (rotation, lens distortion, local motion). Features are warped with bilinear
sampling, the frames for the baseline with bicubic. Deformable alignment (EDVR) needs
torchvision's ops and hours of training, and pretrained flow networks (SpyNet, RAFT) need
weights this project cannot download; this one is right from the first step, and trains
on a CPU in CI (2,864 steps in 120 s on 4-frame bursts; not yet measured on a GPU).

Encoder: by default a small EDSR-style residual network like phase 1's baseline. After
`autoresearch promote` from a phase-1 run, `promoted/model.pt` (phase 1's TorchScript
model, with its `features` method) replaces it.
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

SCALE = 4
ENCODER_CHANNELS = 32     # default encoder width (features per frame)
ENCODER_BLOCKS = 3        # default encoder residual blocks
FLOW_CHANNELS = 24        # width of the learned flow refinement
PROMOTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "promoted", "model.pt")


# ---------------------------------------------------------------------------
# Encoder: one frame (B x 1 x h x w) to features (B x C x h x w) at LR


class ResidualBlock(nn.Module):
    def __init__(self, channels, res_scale=0.2):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.res_scale = res_scale

    def forward(self, x):
        return x + self.res_scale * self.conv2(F.relu(self.conv1(x)))


class Encoder(nn.Module):
    """The default per-frame encoder: phase 1's baseline without its upsampling tail."""

    def __init__(self):
        super().__init__()
        channels, blocks = ENCODER_CHANNELS, ENCODER_BLOCKS
        self.channels = channels
        self.head = nn.Conv2d(1, channels, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)],
                                  nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, frame):
        features = self.head(frame)
        return features + self.body(features)


class PromotedEncoder(nn.Module):
    """A phase-1 winner as the encoder: its TorchScript model's `features` method."""

    def __init__(self, path=PROMOTED):
        super().__init__()
        self.backbone = torch.jit.load(path, map_location="cpu")
        if not hasattr(self.backbone, "features"):
            raise SystemExit(f"{path} has no features() method: phase 1's train.py must save it with "
                             "torch.jit.trace_module(model, {'forward': x, 'features': x})")
        with torch.no_grad():
            probe = self.backbone.features(torch.zeros(1, 1, 16, 16))
        if probe.dim() != 4 or probe.shape[2:] != (16, 16):
            raise SystemExit(f"{path}: features() must map N x 1 x h x w to N x C x h x w, gave {tuple(probe.shape)}")
        self.channels = int(probe.shape[1])

    def forward(self, frame):
        return self.backbone.features(frame)


def promoted():
    """True when a phase-1 backbone has been promoted into this research directory."""
    return os.path.exists(PROMOTED)


def build_encoder(use_promoted=None):
    """The encoder: the promoted backbone or the default one. None looks for promoted/model.pt;
    predict says which, as the config decided from the committed files (a file an experiment
    created is never taken for a promotion)."""
    return PromotedEncoder() if (promoted() if use_promoted is None else use_promoted) else Encoder()


# ---------------------------------------------------------------------------
# Alignment: phase correlation for the global shift, a learned residual flow for the rest


def hann(n, device):
    return 0.5 - 0.5 * torch.cos(2 * torch.pi * (torch.arange(n, device=device, dtype=torch.float32) + 0.5) / n)


def global_shifts(burst):
    """Per frame, the shift (dx, dy) in LR pixels such that frame k at (x + dx, y + dy)
    shows what the reference shows at (x, y). Phase correlation, sub-pixel by a parabola
    through the peak. B x N x h x w -> B x N x 2; no gradient."""
    with torch.no_grad():
        b, n, h, w = burst.shape
        frames = burst.float()
        frames = frames - frames.mean(dim=(2, 3), keepdim=True)
        frames = frames * (hann(h, burst.device)[:, None] * hann(w, burst.device)[None, :])
        spectra = torch.fft.rfft2(frames)
        cross = spectra * spectra[:, :1].conj()
        surface = torch.fft.irfft2(cross / (cross.abs() + 1e-8), s=(h, w))  # peaks at the displacement
        peak = surface.reshape(b, n, -1).argmax(dim=2)
        py, px = peak // w, peak % w
        bi = torch.arange(b, device=burst.device)[:, None].expand(b, n)
        ni = torch.arange(n, device=burst.device)[None, :].expand(b, n)

        def at(y, x):
            return surface[bi, ni, y % h, x % w]

        def subpixel(whole, size, before, centre, after):
            curvature = before - 2 * centre + after
            offset = torch.where(curvature.abs() > 1e-12, 0.5 * (before - after) / curvature, torch.zeros_like(centre))
            return torch.where(whole > size // 2, whole - size, whole).float() + offset.clamp(-0.5, 0.5)

        centre = at(py, px)
        dx = subpixel(px, w, at(py, px - 1), centre, at(py, px + 1))
        dy = subpixel(py, h, at(py - 1, px), centre, at(py + 1, px))
        return torch.stack([dx, dy], dim=2)


def warp(images, flow, mode="bilinear"):
    """Samples images (B x C x h x w) at (x + flow_x, y + flow_y); flow is B x 2 x h x w.
    In float32 whatever the autocast dtype: bf16 would round coordinates to 1/8 pixel."""
    b, _, h, w = images.shape
    flow = flow.float()
    ys, xs = torch.meshgrid(torch.arange(h, device=images.device, dtype=torch.float32),
                            torch.arange(w, device=images.device, dtype=torch.float32), indexing="ij")
    gx = (2 * (xs[None] + flow[:, 0]) + 1) / w - 1
    gy = (2 * (ys[None] + flow[:, 1]) + 1) / h - 1
    grid = torch.stack([gx, gy], dim=3)
    sampled = F.grid_sample(images.float(), grid, mode=mode, padding_mode="border", align_corners=False)
    return sampled.to(images.dtype)


class Alignment(nn.Module):
    """Per-pixel flow of every frame onto the reference: global shift + learned residual."""

    def __init__(self):
        super().__init__()
        channels = FLOW_CHANNELS
        self.refine = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1), nn.LeakyReLU(0.1),
            nn.Conv2d(channels, channels, 3, padding=2, dilation=2), nn.LeakyReLU(0.1),
            nn.Conv2d(channels, channels, 3, padding=4, dilation=4), nn.LeakyReLU(0.1),
            nn.Conv2d(channels, 2, 3, padding=1))
        nn.init.zeros_(self.refine[-1].weight)  # start at the global shift
        nn.init.zeros_(self.refine[-1].bias)

    def forward(self, burst):
        """B x N x h x w -> flows B x N x 2 x h x w (LR pixels)."""
        b, n, h, w = burst.shape
        shifts = global_shifts(burst)
        coarse = shifts[:, :, :, None, None].expand(b, n, 2, h, w).reshape(b * n, 2, h, w)
        frames = burst.reshape(b * n, 1, h, w)
        moved = warp(frames, coarse)
        reference = burst[:, :1].expand(b, n, h, w).reshape(b * n, 1, h, w)
        residual = self.refine(torch.cat([reference, moved, moved - reference], dim=1))
        flows = (coarse + residual.float()).reshape(b, n, 2, h, w)
        # The reference is the output grid: it never moves.
        return torch.cat([torch.zeros_like(flows[:, :1]), flows[:, 1:]], dim=1)


# ---------------------------------------------------------------------------
# The fusion slot and the reconstruction head


class Fusion(nn.Module):
    """The interface of the slot train.py fills: features of N aligned frames
    (B x N x C x h x w, the reference first) in, one fused map (B x C x h x w) out."""

    def forward(self, features):
        raise NotImplementedError


class Head(nn.Module):
    """x4 reconstruction: the fused features to the detail over the classical baseline."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.out = nn.Conv2d(channels, SCALE * SCALE, 3, padding=1)
        self.shuffle = nn.PixelShuffle(SCALE)
        nn.init.zeros_(self.out.weight)  # start exactly at the classical baseline
        nn.init.zeros_(self.out.bias)

    def forward(self, fused):
        return self.shuffle(self.out(F.relu(self.conv(fused))))


class MultiFrameSR(nn.Module):
    FROZEN = ("encoder", "align", "head")

    def __init__(self, fusion, use_promoted=None):
        super().__init__()
        self.encoder = build_encoder(use_promoted)
        self.align = Alignment()
        self.fusion = fusion
        self.head = Head(self.encoder.channels)
        # How training reaches the shared encoder (train.py chooses; eval and predict ignore it):
        # "all" back-propagates through every frame's features; "reference" only through the
        # reference frame's, so the other frames cost a forward pass (about half the encoder's
        # training compute on 4-frame bursts). The weights and the output are the same either way.
        self.encoder_grad = "all"

    @property
    def channels(self):
        return self.encoder.channels

    def aligned(self, burst):
        """Encoder and alignment: B x N x h x w -> the fusion's input (B x N x C x h x w) and
        the frames registered onto the reference (B x N x h x w)."""
        b, n, h, w = burst.shape
        flows = self.align(burst).reshape(b * n, 2, h, w)
        if self.training and self.encoder_grad == "reference" and n > 1:
            first = self.encoder(burst[:, :1].reshape(b, 1, h, w))
            with torch.no_grad():
                rest = self.encoder(burst[:, 1:].reshape(b * (n - 1), 1, h, w))
            features = torch.cat([first.reshape(b, 1, -1, h, w), rest.reshape(b, n - 1, -1, h, w)], dim=1)
            features = features.reshape(b * n, -1, h, w)
        else:
            features = self.encoder(burst.reshape(b * n, 1, h, w))
        aligned = warp(features, flows).reshape(b, n, -1, h, w)
        registered = warp(burst.reshape(b * n, 1, h, w), flows, "bicubic").reshape(b, n, h, w)
        return aligned, registered

    def forward(self, burst):
        """B x N x h x w LR frames -> B x 1 x 4h x 4w."""
        aligned, registered = self.aligned(burst)
        base = F.interpolate(registered.mean(dim=1, keepdim=True).float(), scale_factor=SCALE,
                             mode="bicubic", align_corners=False)
        return base + self.head(self.fusion(aligned)).float()

    def frozen_state(self):
        """The weights predict loads strictly: everything but the fusion module."""
        return {f"{part}.{name}": value for part in self.FROZEN
                for name, value in getattr(self, part).state_dict().items()}


def classical_baseline(burst):
    """Registered mean, then bicubic: the pipeline with no learned part (B x N x h x w -> B x 4h x 4w)."""
    with torch.no_grad():
        b, n, h, w = burst.shape
        shifts = global_shifts(burst)
        flows = shifts[:, :, :, None, None].expand(b, n, 2, h, w).reshape(b * n, 2, h, w)
        flows = flows * (torch.arange(n, device=burst.device) > 0).repeat(b).float()[:, None, None, None]
        registered = warp(burst.reshape(b * n, 1, h, w).float(), flows, "bicubic").reshape(b, n, h, w)
        return F.interpolate(registered.mean(dim=1, keepdim=True), scale_factor=SCALE,
                             mode="bicubic", align_corners=False)[:, 0]


# ---------------------------------------------------------------------------
# Saving and loading: what train.py writes, what predict reads


def save(model, run_dir, frames, example):
    """Writes the frozen parts' weights (frozen.pt), the fusion module as TorchScript
    (fusion.pt, traced on `example`, aligned features B x frames x C x h x w) and
    pipeline.json (how many frames of each burst the model uses)."""
    import json
    torch.save({name: value.detach().float().cpu() for name, value in model.frozen_state().items()},
               os.path.join(run_dir, "frozen.pt"))
    fusion = model.fusion.float().eval()
    with torch.no_grad():
        traced = torch.jit.trace(fusion, example.float())
    traced.save(os.path.join(run_dir, "fusion.pt"))
    with open(os.path.join(run_dir, "pipeline.json"), "w") as f:
        json.dump({"frames": int(frames), "channels": int(model.channels)}, f)


class FrozenViolation(Exception):
    """The experiment changed what phase 3 freezes, or left a fusion module that does not fit the slot."""


class LoadedFusion(nn.Module):
    def __init__(self, scripted):
        super().__init__()
        self.scripted = scripted

    def forward(self, features):
        return self.scripted(features)


def regular_file(run_dir, name):
    """A file the experiment left in its run directory, checked before anything opens it:
    a link or a FIFO there is refused (a FIFO would hang the trusted step)."""
    import stat
    path = os.path.join(run_dir, name)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise FrozenViolation(f"{name} is missing; save with mfsr.save")
    if not stat.S_ISREG(mode):
        raise FrozenViolation(f"{name} is not a regular file")
    return path


def load(run_dir, frames_available, device, use_promoted):
    """The trained pipeline from a run directory, built here and loaded strictly.
    Raises FrozenViolation with a reason a proposer can act on."""
    import json
    try:
        with open(regular_file(run_dir, "pipeline.json"), "rb") as f:
            settings = json.loads(f.read(4096))
        frames = int(settings["frames"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise FrozenViolation(f"pipeline.json is unreadable ({error}); save with mfsr.save")
    if not 1 <= frames <= frames_available:
        raise FrozenViolation(f"pipeline.json asks for {frames} frames; the bursts have {frames_available}")
    try:
        scripted = torch.jit.load(regular_file(run_dir, "fusion.pt"), map_location=device)
    except FrozenViolation:
        raise
    except Exception as error:  # a foreign file
        raise FrozenViolation(f"fusion.pt cannot be loaded as TorchScript: {str(error).splitlines()[0]}")
    model = MultiFrameSR(LoadedFusion(scripted), use_promoted)
    try:
        state = torch.load(regular_file(run_dir, "frozen.pt"), map_location="cpu", weights_only=True)
    except FrozenViolation:
        raise
    except Exception as error:
        raise FrozenViolation(f"frozen.pt cannot be loaded: {str(error).splitlines()[0]}")
    if not isinstance(state, dict):
        raise FrozenViolation("frozen.pt does not hold a state dict")
    expected = model.frozen_state()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    reshaped = sorted(name for name in set(expected) & set(state)
                      if tuple(getattr(state[name], "shape", ())) != tuple(expected[name].shape))
    if missing or unexpected or reshaped:
        problems = ([f"{len(missing)} missing ({', '.join(missing[:2])})"] if missing else []) + \
                   ([f"{len(unexpected)} unexpected ({', '.join(unexpected[:2])})"] if unexpected else []) + \
                   [f"{name} is {tuple(state[name].shape)}, mfsr.py builds {tuple(expected[name].shape)}"
                    for name in reshaped[:2]] + \
                   ([f"{len(reshaped) - 2} more of another shape"] if len(reshaped) > 2 else [])
        raise FrozenViolation("the frozen architecture (encoder, alignment, head in mfsr.py) was changed: "
                              + "; ".join(problems) + ". Only the fusion module and the loss may change")
    for part in MultiFrameSR.FROZEN:
        prefix = f"{part}."
        getattr(model, part).load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)},
                                             strict=True)
    model = model.to(device).eval()
    with torch.no_grad():
        probe = torch.zeros(1, frames, model.channels, 8, 8, device=device)
        try:
            fused = model.fusion(probe)
        except Exception as error:
            raise FrozenViolation(f"the fusion module fails on 1 x {frames} x {model.channels} x 8 x 8 features: "
                                  f"{str(error).splitlines()[0] if str(error) else type(error).__name__}")
    if tuple(fused.shape) != (1, model.channels, 8, 8):
        raise FrozenViolation(f"the fusion module maps 1 x {frames} x {model.channels} x 8 x 8 features to "
                              f"{tuple(fused.shape)}; the slot needs 1 x {model.channels} x 8 x 8")
    return model, frames


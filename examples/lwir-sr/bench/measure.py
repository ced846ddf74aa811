"""
PSNR as the PSNR-gated scorer defines it (data range 1, a border of SCALE pixels shaved,
the mean over patches), and bicubic upscaling with PIL, for the bench scripts that run on
a GPU machine without Node.
"""
import numpy as np
from PIL import Image


def psnr(prediction, target, shave):
    a = np.clip(prediction, 0, 1)[:, shave:-shave, shave:-shave].astype(np.float64)
    b = target[:, shave:-shave, shave:-shave].astype(np.float64)
    return float(np.mean([10 * np.log10(1.0 / np.mean((x - y) ** 2)) for x, y in zip(a, b)]))


def bicubic(lr, height, width):
    return np.clip(np.stack([np.array(Image.fromarray(x, mode="F").resize((width, height), Image.BICUBIC)) for x in lr]), 0, 1)

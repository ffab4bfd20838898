"""Image corruptions at severities 1..5 (strength grows with severity), for images in [0, 1], (N, C, H, W).

Parameters are relative to the [0, 1] pixel range and to the image size, so they apply to 8x8 digits as well
as 28x28 / 32x32 images; the levels follow the spirit of Hendrycks & Dietterich's ImageNet-C/MNIST-C (mild at
1, destroying most structure at 5) but are cimsim's own choice.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cimsim.errors import DataError

# name -> parameter for severity 1..5 (index 0..4):
#   gaussian_noise: std of additive N(0, std^2) noise, then clip to [0, 1]
#   salt_pepper:    fraction of pixels set to 0 or 1 (half each)
#   blur:           gaussian blur sigma in units of (image side / 8) pixels (digits: pixels)
#   rotation:       rotation angle in degrees (sign drawn at random per image), bilinear, zero fill
#   contrast:       factor c; x -> (x - mean) * c + mean with mean per image (smaller c = less contrast)
#   occlusion:      side of one square patch set to 0, as a fraction of the image side (rounded to whole pixels,
#                   at least 1), at a uniformly random position per image: the zero-filled square of Cutout
#                   (DeVries & Taylor, arXiv:1708.04552). Fractions k/8 give distinct sides 2..6 on 8x8 digits.
CORRUPTION_PARAMS: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (0.08, 0.16, 0.24, 0.32, 0.40),
    "salt_pepper": (0.03, 0.06, 0.10, 0.15, 0.22),
    "blur": (0.5, 0.75, 1.0, 1.25, 1.5),
    "rotation": (10.0, 20.0, 30.0, 45.0, 60.0),
    "contrast": (0.6, 0.45, 0.3, 0.2, 0.1),
    "occlusion": (0.25, 0.375, 0.5, 0.625, 0.75),
}


def corrupt(name: str, x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Corrupted copy of ``x`` (N, C, H, W) in [0, 1] at ``severity`` 1..5 (float32, same shape)."""
    if name not in CORRUPTION_PARAMS:
        raise DataError(f"unknown corruption {name!r}", field="corruptions", allowed=", ".join(CORRUPTION_PARAMS))
    if not 1 <= int(severity) <= 5:
        raise DataError(f"severity {severity} out of range", field=f"corruptions.{name}", allowed="1..5")
    v = CORRUPTION_PARAMS[name][int(severity) - 1]
    x = np.asarray(x, dtype=np.float64)
    n, c, h, w = x.shape
    if name == "gaussian_noise":
        out = x + rng.normal(0.0, v, x.shape)
    elif name == "salt_pepper":
        u = rng.random((n, 1, h, w))
        salt = rng.random((n, 1, h, w)) < 0.5
        hit = np.broadcast_to(u < v, x.shape)
        out = np.where(hit, np.broadcast_to(salt, x.shape).astype(np.float64), x)
    elif name == "blur":
        sigma = v * max(h, w) / 8.0
        out = ndimage.gaussian_filter(x, sigma=(0, 0, sigma, sigma), mode="constant")
    elif name == "rotation":
        out = np.empty_like(x)
        signs = rng.choice([-1.0, 1.0], n)
        for i in range(n):
            out[i] = ndimage.rotate(x[i], signs[i] * v, axes=(2, 1), reshape=False, order=1, mode="constant")
    elif name == "occlusion":
        out = x.copy()
        sh, sw = max(1, int(round(v * h))), max(1, int(round(v * w)))
        ys = rng.integers(0, h - sh + 1, n)
        xs = rng.integers(0, w - sw + 1, n)
        for i in range(n):
            out[i, :, ys[i] : ys[i] + sh, xs[i] : xs[i] + sw] = 0.0
    else:  # contrast
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        out = (x - mean) * v + mean
    return np.clip(out, 0.0, 1.0).astype(np.float32)

"""Out-of-distribution sets, generated locally, same shape as the in-distribution images, values in [0, 1].

* ``uniform_noise``: i.i.d. U(0, 1) pixels.
* ``gaussian_noise``: i.i.d. N(0.5, 0.25^2) pixels clipped to [0, 1] (a fresh draw, not a corruption).
* ``permuted``: in-distribution test images with one fixed random pixel permutation (same for every image and
  channel; drawn from ``rng``), which keeps the pixel histogram and destroys the structure.
* ``sample_images``: random square patches (side uniform in [2*H, 8*H] pixels, capped by the photo) of
  scikit-learn's two bundled photos (``load_sample_images``; needs Pillow to decode them), grayscale (ITU-R
  601 luma) when C = 1, area-downsampled to H x W, divided by 255.
* ``inverted``: in-distribution test images with every pixel x -> 1 - x (far OOD for MNIST's dark background).
* ``upsampled_digits``: scikit-learn's bundled 8x8 digits (/16) scaled to H x W by bilinear interpolation
  (``scipy.ndimage.zoom``, order 1), repeated over the C channels: near-OOD for MNIST (the same ten classes,
  a different writer population, scanner and framing: the digit fills the frame where MNIST's sits in a 20x20
  box). On 8x8 digits themselves this set is the in-distribution data, not OOD.
"""

from __future__ import annotations

import numpy as np

from cimsim.errors import DataError

OOD_SETS = ("uniform_noise", "gaussian_noise", "permuted", "sample_images", "inverted", "upsampled_digits")

_SAMPLE_CACHE: list[np.ndarray] = []


def _sample_photos() -> list[np.ndarray]:
    if not _SAMPLE_CACHE:
        try:
            from sklearn.datasets import load_sample_images

            imgs = load_sample_images().images
        except ImportError as exc:
            raise DataError(f"the sample_images OOD set needs Pillow to decode scikit-learn's photos ({exc})",
                            field="ood", allowed="pip install pillow, or drop sample_images from ood") from None
        _SAMPLE_CACHE.extend(np.asarray(im, dtype=np.float64) for im in imgs)
    return _SAMPLE_CACHE


def _resize_area(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Area (box) downsampling of (H0, W0, C) to (h, w, C) by averaging the source pixels of each cell."""
    h0, w0 = img.shape[:2]
    ys = np.linspace(0, h0, h + 1).astype(int)
    xs = np.linspace(0, w0, w + 1).astype(int)
    out = np.empty((h, w, img.shape[2]))
    for i in range(h):
        for j in range(w):
            out[i, j] = img[ys[i] : max(ys[i + 1], ys[i] + 1), xs[j] : max(xs[j + 1], xs[j] + 1)].mean(axis=(0, 1))
    return out


def _pick(x_test: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` test images: a random subset without replacement, or with replacement when ``n`` exceeds the set."""
    idx = rng.integers(0, x_test.shape[0], n) if n > x_test.shape[0] else rng.permutation(x_test.shape[0])[:n]
    return np.asarray(x_test[idx], dtype=np.float64)


def _upsampled_digits(n: int, c: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    from scipy import ndimage
    from sklearn.datasets import load_digits

    digits = load_digits().images / 16.0
    src = digits[rng.integers(0, len(digits), n)]
    out = ndimage.zoom(src, (1, h / 8.0, w / 8.0), order=1, grid_mode=True, mode="grid-constant")
    return np.repeat(out[:, None], c, axis=1)


def make_ood(name: str, x_test: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` OOD images shaped like ``x_test`` (N, C, H, W), float32 in [0, 1]."""
    _, c, h, w = x_test.shape
    shape = (n, c, h, w)
    if name == "uniform_noise":
        out = rng.random(shape)
    elif name == "gaussian_noise":
        out = np.clip(rng.normal(0.5, 0.25, shape), 0.0, 1.0)
    elif name == "permuted":
        perm = rng.permutation(h * w)
        out = _pick(x_test, n, rng).reshape(n, c, h * w)[:, :, perm].reshape(shape)
    elif name == "inverted":
        out = 1.0 - _pick(x_test, n, rng)
    elif name == "upsampled_digits":
        out = _upsampled_digits(n, c, h, w, rng)
    elif name == "sample_images":
        photos = _sample_photos()
        out = np.empty(shape)
        for i in range(n):
            img = photos[rng.integers(len(photos))]
            side = int(min(rng.integers(2 * max(h, w), 8 * max(h, w) + 1), *img.shape[:2]))
            y0 = rng.integers(0, img.shape[0] - side + 1)
            x0 = rng.integers(0, img.shape[1] - side + 1)
            patch = img[y0 : y0 + side, x0 : x0 + side]
            if c == 1:
                patch = (patch @ np.array([0.299, 0.587, 0.114]))[:, :, None]
            elif c != 3:
                patch = np.repeat(patch.mean(axis=2, keepdims=True), c, axis=2)
            out[i] = _resize_area(patch, h, w).transpose(2, 0, 1) / 255.0
    else:
        raise DataError(f"unknown OOD set {name!r}", field="ood", allowed=", ".join(OOD_SETS))
    return np.clip(out, 0.0, 1.0).astype(np.float32)

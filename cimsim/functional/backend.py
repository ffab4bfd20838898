"""The array library the functional run computes on: numpy (default), torch (CPU or CUDA) or CuPy.

The executor is written once against the Python array API standard (through ``array-api-compat``); this module
picks the namespace and moves arrays between the host and the device. Everything random (dropout masks, sense
noise, device variation) and every converter model is drawn or evaluated on the host with numpy and moved to
the device, so no random bit and no converter decision depends on the backend (docs/performance.md,
"Backends").

Why results are bit-identical on every backend: every GEMM the executor runs multiplies ±1/0 rows by
integer-valued (or 2⁻²⁰-grid, see ``executor.GRID``) float matrices whose sums are exact in their dtype
(float32 below 2²⁴, float64 below 2⁵³), so the order in which a BLAS adds them does not matter; every other
operation is elementwise IEEE arithmetic (correctly rounded everywhere) or runs on the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from cimsim.errors import ConfigError

BackendName = Literal["numpy", "torch", "cupy"]
DeviceName = Literal["cpu", "cuda"]
BACKENDS: tuple[str, ...] = ("numpy", "torch", "cupy")
DEVICES: tuple[str, ...] = ("cpu", "cuda")


@dataclass(frozen=True)
class Backend:
    """An array namespace on one device.

    Attributes:
        name: ``numpy``, ``torch`` or ``cupy``.
        device: ``cpu`` or ``cuda``.
        xp: the array-API namespace (``array_api_compat.numpy`` / ``.torch`` / ``.cupy``).
    """

    name: str
    device: str
    xp: Any

    @property
    def is_numpy(self) -> bool:
        return self.name == "numpy"

    def asarray(self, a: np.ndarray | Any, dtype: Any = None) -> Any:
        """A device copy (or view, on the host) of host array ``a``, as ``dtype`` (a numpy dtype) if given."""
        a = np.asarray(a) if dtype is None else np.asarray(a, dtype=dtype)
        if self.name == "numpy":
            return a
        if self.name == "torch":
            import torch

            # from_numpy shares memory on the CPU; a non-writeable or negatively strided array is copied first
            t = torch.from_numpy(np.ascontiguousarray(a) if not a.flags.writeable or not a.flags.c_contiguous
                                 else a)
            return t.to(self.device) if self.device != "cpu" else t
        import cupy

        return cupy.asarray(a)

    def to_numpy(self, a: Any) -> np.ndarray:
        """Host numpy copy (or view) of a device array."""
        if self.name == "numpy":
            return np.asarray(a)
        if self.name == "torch":
            return a.detach().cpu().numpy()
        return a.get()

    def describe(self) -> str:
        """What this backend runs on, e.g. ``torch 2.13.0 on cuda (NVIDIA H100)``."""
        if self.name == "numpy":
            return f"numpy {np.__version__} on cpu"
        if self.name == "torch":
            import torch

            dev = torch.cuda.get_device_name(0) if self.device == "cuda" else "cpu"
            return f"torch {torch.__version__} on {self.device} ({dev})"
        import cupy

        return f"cupy {cupy.__version__} on cuda ({cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()})"


def get_backend(name: str = "numpy", device: str = "cpu", *, field: str = "--backend") -> Backend:
    """The backend ``name`` on ``device``.

    Raises:
        ConfigError: unknown name or device, the library is not installed, or no CUDA device is present.
    """
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}", field=field, allowed=", ".join(BACKENDS))
    if device not in DEVICES:
        raise ConfigError(f"unknown device {device!r}", field="--device", allowed=", ".join(DEVICES))
    try:
        import array_api_compat
    except ImportError:
        raise ConfigError("the functional run needs array-api-compat: pip install array-api-compat",
                          field=field) from None
    if name == "numpy":
        if device != "cpu":
            raise ConfigError("numpy runs on the CPU only", field="--device", allowed="cpu with --backend numpy; "
                              "cuda with --backend torch or cupy")
        return Backend("numpy", "cpu", array_api_compat.array_namespace(np.empty(0)))
    if name == "torch":
        try:
            import torch
        except ImportError:
            raise ConfigError("--backend torch needs PyTorch: pip install 'cimsim[torch]'", field=field) from None
        if device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("no CUDA device visible to torch", field="--device", allowed="cpu") from None
        return Backend("torch", device, array_api_compat.array_namespace(torch.empty(0)))
    if device != "cuda":
        raise ConfigError("CuPy runs on a CUDA device only", field="--device", allowed="cuda with --backend cupy")
    try:
        import cupy
    except ImportError:
        raise ConfigError("--backend cupy needs CuPy: pip install 'cimsim[gpu]'", field=field) from None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise ConfigError("no CUDA device visible to CuPy", field="--device", allowed="cpu with --backend "
                              "numpy or torch")
    except cupy.cuda.runtime.CUDARuntimeError:
        raise ConfigError("no CUDA device visible to CuPy", field="--device",
                          allowed="cpu with --backend numpy or torch") from None
    return Backend("cupy", "cuda", array_api_compat.array_namespace(cupy.empty(0)))

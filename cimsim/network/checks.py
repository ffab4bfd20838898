"""Cross-checks of data and weights against the network before a run, and of computed values after.

Each check raises a CimsimError naming the file and the field, so a data set that does not fit the network
(28×28 images into an 8×8 net, label 50 for 10 outputs, an empty test set) fails at once with one line,
not as a broadcasting error deep in the executor or a wrong metric.
"""

from __future__ import annotations

import numpy as np

from cimsim.errors import DataError, NumericalError
from cimsim.limits import layer_sizes
from cimsim.network.datasets import Dataset
from cimsim.spec.workload import NetworkSpec


def network_outputs(network: NetworkSpec) -> int:
    """Logits per input (classes the network can predict)."""
    return layer_sizes(network)[-1].out_elements


def check_data_against_network(ds: Dataset, network: NetworkSpec, *, file: str | None = None) -> None:
    """Raise DataError unless ``ds`` fits ``network``: a non-empty test set, images of ``input_shape``,
    labels in ``0..outputs-1``.

    Args:
        ds: the loaded data set.
        network: the workload's network section.
        file: the data file (or data set name) for the message.
    """
    where = file or ds.name or "dataset"
    if ds.x_test.shape[0] == 0:
        raise DataError("the test set is empty", file=where, field="x_test", allowed="at least one image")
    want = tuple(network.input_shape)
    got = tuple(ds.x_test.shape[1:])
    if got != want:
        raise DataError(f"images are {'×'.join(map(str, got))} (C×H×W) but the network takes "
                        f"{'×'.join(map(str, want))}", file=where, field="network.input_shape",
                        allowed=f"input_shape: {list(got)}, or a data set of {list(want)} images")
    k = network_outputs(network)
    for key, y in (("y_test", ds.y_test), ("y_train", ds.y_train)):
        if y.size and int(y.max()) >= k:
            raise DataError(f"label {int(y.max())} but the network has {k} outputs", file=where, field=key,
                            allowed=f"labels 0..{k - 1}")
        if y.size and int(y.min()) < 0:
            raise DataError(f"label {int(y.min())} is negative", file=where, field=key, allowed=f"labels 0..{k - 1}")


def check_finite(values: np.ndarray, what: str, *, file: str | None = None, field: str | None = None,
                 hint: str = "") -> None:
    """Raise NumericalError if ``values`` hold NaN or inf, saying how many and where the first one is."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise NumericalError(f"{int(bad.sum())} of {arr.size} {what} are not finite (first at index {first})"
                             + (f"; {hint}" if hint else ""), file=file, field=field)

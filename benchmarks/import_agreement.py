"""Agreement of imported models with torch's eval output (docs/networks.md, "Importing a PyTorch model"): max
|logit difference| and the fraction of equal predictions on 64 seeded random inputs, per model, route and
real-input bits. Run: PYTHONPATH=. python benchmarks/import_agreement.py"""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import torch

from cimsim.importers.onnx_import import import_onnx
from cimsim.importers.torch_fx import import_module
from cimsim.network.reference import reference_forward
from tests import import_models as M


def _logits(m, x, batch=None):
    step = batch or len(x)
    with torch.no_grad():
        return np.concatenate([m(torch.tensor(x[i: i + step], dtype=torch.float64)).numpy()
                               for i in range(0, len(x), step)])


def _export(m, shape, batch=1):
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.zeros(batch, *shape, dtype=torch.float64),), f, dynamo=False)
    return onnx.load_from_string(f.getvalue())


def main() -> None:
    cases = (("view", M.make_view, (1, 8, 8), 3, 1), ("droppool", M.make_droppool, (1, 8, 8), 3, 1),
             ("batch2", M.make_batch2, (1, 8, 8), 3, 2), ("downsample", M.make_downsample, (1, 8, 8), 3, 1),
             ("bireal_resnet18", M.make_bireal, (3, 8, 8), 8, 1))
    print("model route real_input_bits max_abs_diff prediction_agreement")
    for name, make, shape, bits, batch in cases:
        m = make()
        x = np.random.default_rng(0).integers(0, 2 ** bits, size=(64, *shape))
        want = _logits(m, x, batch)
        proto = _export(m, shape, batch)
        for rb in (8, 12, 16):
            imports = {"onnx": import_onnx(proto, input_bits=bits, real_input_bits=rb)}
            if batch == 1:
                imports["torch"] = import_module(m, shape, input_bits=bits, real_input_bits=rb)
            for route, imp in imports.items():
                got = reference_forward(imp.network, x)
                print(f"{name} {route} {rb} {np.abs(got - want).max():.3g} "
                      f"{(got.argmax(1) == want.argmax(1)).mean():.3f}")

if __name__ == "__main__":
    main()

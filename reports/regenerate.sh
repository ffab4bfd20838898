#!/usr/bin/env bash
# Regenerates every example report in this folder from the shipped configs (never edit the outputs by hand).
# Each `--out` directory is replaced whole (report.txt, result.json, CSVs, manifest.json are cimsim's own).
set -euo pipefail
cd "$(dirname "$0")/.."
run() { python -m cimsim run "$@" > /dev/null; }
run --out reports/spindrop_digits_mlp
run arch_configs/spindrop.yaml workloads/digits_cnn.yaml --out reports/spindrop_digits_cnn
run arch_configs/spindrop_adc.yaml --out reports/spindrop_adc_digits_mlp
run arch_configs/lfsr_dropout.yaml --out reports/lfsr_dropout_digits_mlp
run arch_configs/spindrop.yaml workloads/digits_mlp_scale.yaml --out reports/spindrop_digits_mlp_scale
run arch_configs/spindrop.yaml workloads/mnist_mlp.yaml --set chip.tiles=auto --out reports/spindrop_mnist_mlp
run arch_configs/spindrop_256.yaml workloads/mnist_cnn.yaml --out reports/spindrop256_mnist_cnn
run arch_configs/spindrop.yaml workloads/cifar10_resnet18_shapes.yaml --hardware-only --passes 20 \
  --set chip.tiles=auto --set crossbar.rows=256 --set crossbar.cols=256 --out reports/spindrop256_resnet18_hw
python -m cimsim describe arch_configs/spindrop.yaml > reports/describe_spindrop.txt
python -m cimsim margin arch_configs/spindrop.yaml > reports/margin_spindrop.txt
python -m cimsim reproduce --out docs/validation > /dev/null
python benchmarks/plot_validation.py > /dev/null

#!/usr/bin/env bash
# Regenerates every example report in this folder from the shipped configs (never edit the outputs by hand).
set -euo pipefail
cd "$(dirname "$0")/.."
cimsim run --out reports/spindrop_digits_mlp > reports/spindrop_digits_mlp/report.txt
cimsim run arch_configs/spindrop.yaml workloads/digits_cnn.yaml --out reports/spindrop_digits_cnn \
  > reports/spindrop_digits_cnn/report.txt
cimsim run arch_configs/spindrop_adc.yaml --out reports/spindrop_adc_digits_mlp > reports/spindrop_adc_digits_mlp/report.txt
cimsim run arch_configs/lfsr_dropout.yaml --out reports/lfsr_dropout_digits_mlp > reports/lfsr_dropout_digits_mlp/report.txt
cimsim describe arch_configs/spindrop.yaml > reports/describe_spindrop.txt

#!/usr/bin/env bash
# Rebuild the bundled models in assets/models from the embedded digits only (about 10 minutes
# on two cores). The settings were chosen on the validation part of the embedded sample.
# Each run is also kept as a recording in assets/recordings (same name, .json), which the
# Training page replays and compares without training. A record every 35 steps gives ~200
# points per run, as many as a run on the page; how often records are taken never changes
# the weights. One thread: a sum split across threads adds up in another order, and over
# 7,100 steps that gives other weights; with one, the same torch gives the same files.
set -euo pipefail
cd "$(dirname "$0")/.."
for cell in gru lstm rnn; do
  .venv/bin/python -m training train --cell "$cell" --hidden-size 128 --epochs 100 \
    --augment --cosine --seed 0 --record-every 35 --threads 1 \
    --out "assets/models/$cell.safetensors" \
    --recording "assets/recordings/$cell.json"
done
# a GRU for each other reading order, with the same recipe
for order in rows_reversed columns; do
  .venv/bin/python -m training train --cell gru --hidden-size 128 --epochs 100 --augment \
    --cosine --seed 0 --record-every 35 --threads 1 --reading-order "$order" \
    --out "assets/models/gru-$order.safetensors" --recording "assets/recordings/gru-$order.json"
done

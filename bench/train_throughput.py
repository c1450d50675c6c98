"""Training throughput of the engine against shared/bench/reference_loop.py, in one run.

Both train the same cell, size and batch on the same digits (the shared IDX evaluation digits,
as the reference loop does), alternately, several times; the ratio of medians is reported,
since this machine is shared and noisy.

    python bench/train_throughput.py [--cell gru] [--hidden-size 128] [--batch-size 128]
"""

import argparse
import json
import statistics
import subprocess
import sys
import threading
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rnn_model import ModelConfig  # noqa: E402
from training.data import load_idx_folder, split_by_class  # noqa: E402
from training.engine import TrainConfig, new_model, train  # noqa: E402

SHARED = ROOT.parent / "shared"


def engine_rate(digits, args) -> float:
    model = new_model(ModelConfig(cell=args.cell, hidden_size=args.hidden_size), 0)
    config = TrainConfig(
        learning_rate=1e-3, batch_size=args.batch_size, epochs=args.epochs, record_every=10
    )
    # The reference loop measures training only, so the engine is timed on its training steps:
    # the last record before the final evaluation.
    records = [r for r in train(model, digits, digits.subset([]), config, threading.Event())]
    last_step = [r for r in records if r.kind in ("progress", "eval")][-1]
    return last_step.samples_seen / last_step.elapsed_s


def reference_rate(args) -> float:
    command = [
        sys.executable,
        str(SHARED / "bench" / "reference_loop.py"),
        "--cell",
        args.cell,
        "--hidden-size",
        str(args.hidden_size),
        "--batch-size",
        str(args.batch_size),
        "--epochs",
        str(args.epochs),
        "--threads",
        str(torch.get_num_threads()),
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])["samples_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cell", default="gru", choices=("rnn", "lstm", "gru"))
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", default=str(SHARED / "data" / "mnist-test-a"))
    args = parser.parse_args()

    digits = load_idx_folder(args.data)
    digits = split_by_class(digits, val_per_class=0).train  # all of them, one set
    engine, reference = [], []
    for _ in range(args.repeats):
        reference.append(reference_rate(args))
        engine.append(engine_rate(digits, args))
    result = {
        "cell": args.cell,
        "hidden_size": args.hidden_size,
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "engine_digits_per_s": [round(r) for r in engine],
        "reference_digits_per_s": [round(r) for r in reference],
        "ratio_of_medians": round(statistics.median(engine) / statistics.median(reference), 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Command line: train a model, or measure one on a folder of IDX digits.

python -m training train --cell gru --hidden-size 128 --epochs 5 --out runs/gru.safetensors
python -m training evaluate --checkpoint assets/models/gru.safetensors --data DIR --json
"""

import argparse
import json
import platform
import sys
import threading

import torch

from rnn_model import ModelConfig, ModelFileError, bundled_path, load_model, save_model
from rnn_model.config import CELLS, MAX_HIDDEN_SIZE, MAX_LAYERS
from training.data import DataError, load_idx_folder, load_training_data
from training.engine import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    OPTIMIZERS,
    Record,
    TrainConfig,
    accuracy,
    new_model,
    train,
)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return args.command(args)
    except (DataError, ModelFileError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    t = commands.add_parser("train", help="train a model and save it")
    t.add_argument("--cell", choices=CELLS, default="gru", help="recurrent cell (default: gru)")
    t.add_argument(
        "--nonlinearity",
        choices=("tanh", "relu"),
        default="tanh",
        help="vanilla RNN's activation (default: tanh)",
    )
    t.add_argument(
        "--hidden-size",
        type=int,
        default=128,
        help=f"units in h_t, 1-{MAX_HIDDEN_SIZE} (default: 128)",
    )
    t.add_argument(
        "--layers", type=int, default=1, help=f"stacked layers, 1-{MAX_LAYERS} (default: 1)"
    )
    t.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="(default: adam)")
    t.add_argument("--lr", type=float, default=2e-3, help="learning rate (default: 0.002)")
    t.add_argument(
        "--batch-size",
        type=int,
        default=64,
        help=f"digits per step, 1-{MAX_BATCH_SIZE} (default: 64)",
    )
    t.add_argument("--epochs", type=int, default=5, help=f"1-{MAX_EPOCHS} (default: 5)")
    t.add_argument("--seed", type=int, default=0, help="(default: 0)")
    t.add_argument("--augment", action="store_true", help="randomly distort training digits")
    t.add_argument("--cosine", action="store_true", help="cosine learning-rate decay to zero")
    t.add_argument("--record-every", type=int, default=10, help="batches per record (default: 10)")
    t.add_argument(
        "--data",
        default="sample",
        help="'sample' (the embedded digits, default) or a folder of IDX files",
    )
    t.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    t.add_argument("--out", help="where to save the model (.safetensors); not saved if omitted")
    t.add_argument("--json", action="store_true", help="one JSON object per line")
    t.set_defaults(command=run_train)

    e = commands.add_parser("evaluate", help="accuracy of a model on a folder of IDX files")
    e.add_argument(
        "--checkpoint",
        default=str(bundled_path("gru")),
        help="model file (default: the bundled GRU)",
    )
    e.add_argument("--data", required=True, help="folder of IDX files")
    e.add_argument("--json", action="store_true", help="print a JSON object")
    e.set_defaults(command=run_evaluate)
    return parser.parse_args(argv)


def run_train(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    model_config = ModelConfig(
        cell=args.cell,
        nonlinearity=args.nonlinearity,
        hidden_size=args.hidden_size,
        num_layers=args.layers,
    )
    train_config = TrainConfig(
        optimizer=args.optimizer,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
        seed=args.seed,
        augment=args.augment,
        cosine_schedule=args.cosine,
        record_every=args.record_every,
    )
    data = load_training_data(args.data)
    model = new_model(model_config, train_config.seed)
    record = None
    for record in train(model, data.train, data.val, train_config, threading.Event()):
        print(json.dumps(record.to_dict()) if args.json else format_record(record), flush=True)
    if args.out and record.step > 0:
        provenance = {
            "data": data.train.name,
            "validation": data.description,
            "model_config": model_config.to_dict(),
            "train_config": vars(train_config),
            "val_accuracy": record.val_accuracy,
            "steps": record.step,
            "versions": {"torch": torch.__version__, "python": platform.python_version()},
        }
        path = save_model(model, args.out, provenance)
        print(f"saved {path}", file=sys.stderr)
    return 0 if record.kind == "end" else 1


def format_record(r: Record) -> str:
    parts = [f"{r.kind:<8}", f"step {r.step:>5}/{r.total_steps}", f"epoch {r.epoch:5.2f}"]
    if r.loss is not None:
        parts.append(f"loss {r.loss:.4f}")
    if r.train_accuracy is not None:
        parts.append(f"train {r.train_accuracy:6.2%}")
    if r.val_accuracy is not None:
        parts.append(f"val {r.val_accuracy:6.2%}")
    if r.samples_per_second:
        parts.append(f"{r.samples_per_second:7.0f} digits/s")
    parts.append(f"{r.elapsed_s:6.1f}s")
    if r.message:
        parts.append(r.message)
    return " | ".join(parts)


def run_evaluate(args) -> int:
    model, _ = load_model(args.checkpoint)
    digits = load_idx_folder(args.data)
    result = {
        "accuracy": accuracy(model, digits),
        "count": len(digits),
        "checkpoint": args.checkpoint,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"accuracy {result['accuracy']:.2%} on {result['count']:,} digits ({args.checkpoint})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

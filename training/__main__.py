"""Command line: train a model, measure one, or predict Kaggle's test.csv.

python -m training train --cell gru --hidden-size 128 --epochs 5 --out runs/gru.safetensors
python -m training train --data mnist --epochs 3   # downloads MNIST once, 11.6 MB
python -m training train --cell lstm --recording runs/lstm.json   # keep the run to replay it
python -m training train --data train.csv          # Kaggle's Digit Recognizer train.csv or .zip
python -m training evaluate --checkpoint assets/models/gru.safetensors --data DIR --json
python -m training predict-csv --checkpoint runs/gru.safetensors test.csv --out submission.csv
"""

import argparse
import json
import platform
import sys
import threading
import time
from pathlib import Path

import torch

from rnn_model import ModelConfig, ModelFileError, bundled_path, load_model, save_model
from rnn_model.config import CELLS, MAX_HIDDEN_SIZE, MAX_LAYERS, READING_ORDERS
from training.data import DataError, DigitSet, TrainValSplit, load_idx_folder, load_training_data
from training.download import DATA_DIR_VARIABLE, default_cache_dir, ensure_mnist, missing_files
from training.engine import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    OPTIMIZERS,
    Record,
    TrainConfig,
    accuracy,
    new_model,
    predict,
    train,
)
from training.kaggle import (
    load_kaggle_test,
    load_kaggle_train,
    load_kaggle_training_data,
    write_submission,
)
from training.recording import Recording, cell_name, save_recording

DATA_HELP = (
    "'sample' (the embedded digits, default), 'mnist' (downloaded once), a folder of IDX "
    "files, or Kaggle's train.csv (or a .zip of it)"
)
DATA_DIR_HELP = (
    f"folder for the MNIST files (default: ${DATA_DIR_VARIABLE}, else ~/.cache/rnn-digit-lab/mnist)"
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
    t.add_argument(
        "--reading-order",
        choices=READING_ORDERS,
        default="rows",
        help="rows top to bottom, rows_reversed bottom to top, or columns left to right "
        "(default: rows)",
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
    t.add_argument("--data", default="sample", help=DATA_HELP)
    t.add_argument("--data-dir", help=DATA_DIR_HELP)
    t.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    t.add_argument("--out", help="where to save the model (.safetensors); not saved if omitted")
    t.add_argument(
        "--recording",
        help="also save every record of the run here (.json, or .json.gz), to replay or "
        "compare it in the app",
    )
    t.add_argument("--json", action="store_true", help="one JSON object per line")
    t.set_defaults(command=run_train)

    e = commands.add_parser("evaluate", help="accuracy of a model on labelled digits")
    e.add_argument(
        "--checkpoint",
        default=str(bundled_path("gru")),
        help="model file (default: the bundled GRU)",
    )
    e.add_argument(
        "--data",
        required=True,
        help="'mnist' (its 10,000 test digits), a folder of IDX files, or Kaggle's train.csv",
    )
    e.add_argument("--data-dir", help=DATA_DIR_HELP)
    e.add_argument("--json", action="store_true", help="print a JSON object")
    e.set_defaults(command=run_evaluate)

    p = commands.add_parser(
        "predict-csv", help="read Kaggle's test.csv and write a submission file"
    )
    p.add_argument("test_csv", help="Kaggle's test.csv, or a .zip holding it")
    p.add_argument(
        "--checkpoint",
        default=str(bundled_path("gru")),
        help="model file (default: the bundled GRU)",
    )
    p.add_argument(
        "--out", default="submission.csv", help="where to write it (default: submission.csv)"
    )
    p.set_defaults(command=run_predict_csv)
    return parser.parse_args(argv)


def run_train(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    model_config = ModelConfig(
        cell=args.cell,
        nonlinearity=args.nonlinearity,
        hidden_size=args.hidden_size,
        num_layers=args.layers,
        reading_order=args.reading_order,
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
    if args.out and Path(args.out).is_dir():
        raise ValueError(
            f"--out {args.out} is a folder: give a file name such as model.safetensors"
        )
    if args.recording and Path(args.recording).is_dir():
        raise ValueError(
            f"--recording {args.recording} is a folder: give a file name such as run.json"
        )
    data = training_data(args.data, args.data_dir)
    model = new_model(model_config, train_config.seed)
    records = []
    for record in train(model, data.train, data.val, train_config, threading.Event()):
        records.append(record)
        print(json.dumps(record.to_dict()) if args.json else format_record(record), flush=True)
    record = records[-1]
    if args.recording:
        recording = Recording(
            model_config, train_config, data.train.name, cell_name(model_config), records
        )
        print(f"saved {save_recording(recording, args.recording)}", file=sys.stderr)
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
    digits = evaluation_digits(args.data, args.data_dir)
    result = {
        "accuracy": accuracy(model, digits),
        "count": len(digits),
        "data": digits.name,
        "checkpoint": args.checkpoint,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"accuracy {result['accuracy']:.2%} on {result['count']:,} digits of {digits.name} "
            f"({args.checkpoint})"
        )
    return 0


def run_predict_csv(args) -> int:
    model, _ = load_model(args.checkpoint)
    images = load_kaggle_test(args.test_csv)
    predictions = predict(model, images)
    try:
        path = write_submission(predictions, args.out)
    except OSError as error:
        raise DataError(f"Could not write {args.out}: {error.strerror}.") from None
    counts = torch.bincount(predictions, minlength=10).tolist()
    print(f"wrote {path}: {len(predictions):,} predictions by {args.checkpoint}")
    print(f"digits 0-9 predicted: {counts}")
    return 0


def is_kaggle_file(source: str) -> bool:
    return source.lower().endswith((".csv", ".zip", ".csv.gz"))


def training_data(source: str, data_dir: str | None) -> TrainValSplit:
    """'sample', 'mnist' (trains on 60,000, validates on the official 10,000), a Kaggle
    train.csv (a tenth held out), or a folder of IDX files."""
    if source == "mnist":
        return load_training_data(mnist_folder(data_dir))
    if is_kaggle_file(source):
        return load_kaggle_training_data(source)
    return load_training_data(source)


def evaluation_digits(source: str, data_dir: str | None) -> DigitSet:
    if source == "mnist":
        return load_training_data(mnist_folder(data_dir)).val  # the official test set only
    if is_kaggle_file(source):
        return load_kaggle_train(source)
    return load_idx_folder(source)


def mnist_folder(data_dir: str | None) -> Path:
    """The MNIST folder, downloading what is missing with progress on stderr."""
    folder = Path(data_dir).expanduser() if data_dir else default_cache_dir()
    if missing := missing_files(folder):
        print(
            f"downloading {len(missing)} MNIST files into {folder}; later runs read them there",
            file=sys.stderr,
        )
    progress = ProgressLine(sys.stderr)
    try:
        return ensure_mnist(folder, progress=progress)
    finally:
        progress.end()


class ProgressLine:
    """Download progress: one line redrawn in place on a terminal, a line every few seconds
    in a log, and always the line that says a file is complete."""

    def __init__(self, stream, interval_s: float | None = None, clock=time.monotonic):
        self.stream = stream
        self.tty = stream.isatty()
        self.interval_s = interval_s if interval_s is not None else (0.1 if self.tty else 2.0)
        self.clock = clock
        self.shown_at: dict[str, float] = {}
        self.open = False  # a terminal line drawn without its newline yet

    def __call__(self, name: str, done: int, total: int | None) -> None:
        finished = total is not None and done >= total
        now = self.clock()
        if not finished and now - self.shown_at.get(name, -float("inf")) < self.interval_s:
            return
        self.shown_at[name] = now
        if total:
            line = f"{name}  {done / 1e6:.1f}/{total / 1e6:.1f} MB  {done / total:4.0%}"
        else:
            line = f"{name}  {done / 1e6:.1f} MB"
        if self.tty:
            self.stream.write(f"\r{line:<60}" + ("\n" if finished else ""))
            self.open = not finished
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False


if __name__ == "__main__":
    sys.exit(main())

"""Time reading a Kaggle train.csv the size of the real one: 42,000 rows of 785 cells.

The file is synthetic (sample digits repeated, so its cells are as long as real ones), written
to a temporary folder. Prints one JSON object: seconds per load (best and median of a few),
the peak of Python-tracked memory during one load, and the file's size.

    python bench/kaggle_csv_speed.py [--rows 42000] [--repeats 3]
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.data import load_sample  # noqa: E402
from training.kaggle import TRAIN_COLUMNS, load_kaggle_train  # noqa: E402


def write_train_csv(path: Path, rows: int) -> None:
    """`rows` digits of the embedded sample, repeated, in train.csv's layout."""
    sample = load_sample()
    index = np.arange(rows) % len(sample)
    table = np.concatenate(
        [sample.labels.numpy()[index, None], sample.images.numpy()[index].reshape(rows, -1)], 1
    )
    with open(path, "w", newline="") as f:
        f.write(",".join(TRAIN_COLUMNS) + "\n")
        np.savetxt(f, table, fmt="%d", delimiter=",")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=42_000, help="(default: 42000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed loads (default: 3)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.csv"
        write_train_csv(path, args.rows)

        # time without tracemalloc, which slows allocation down
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            digits = load_kaggle_train(path)
            seconds.append(time.perf_counter() - start)
        assert len(digits) == args.rows

        # then one load under tracemalloc for its peak (numpy reports its buffers to it)
        del digits
        tracemalloc.start()
        digits = load_kaggle_train(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        result = {
            "rows": args.rows,
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "best_s": round(min(seconds), 3),
            "median_s": round(statistics.median(seconds), 3),
            "peak_mb": round(peak / 1e6, 1),
            "result_mb": round((digits.images.numel() + 8 * len(digits)) / 1e6, 1),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

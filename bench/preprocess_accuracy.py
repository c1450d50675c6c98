"""How close preprocess() brings canvas drawings to the MNIST digits they were made from.

Each canvas PNG is named index_label_style.png, where index is the digit's place in the
MNIST test set the drawing was made from; that digit is the ideal output. Prints JSON:
the mean Pearson correlation with it per style and overall, how many came out blank,
the worst few, and the time per preprocess() call. Run from the repository root:

    .venv/bin/python -m bench.preprocess_accuracy [--canvas DIR] [--mnist DIR] [--sheet PNG]
"""

import argparse
import gzip
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from rnn_model.preprocess import preprocess

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TIMING_REPEATS = 3  # calls per image, so one slow call from a busy machine stands out less
SHEET_CELL = 112  # pixels per picture in the contact sheet


def read_idx_images(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    magic, count, rows, cols = np.frombuffer(raw[:16], ">u4")
    assert magic == 0x803, f"{path} is not an IDX image file"
    return np.frombuffer(raw, np.uint8, offset=16).reshape(count, rows, cols)  # (N, 28, 28)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@dataclass(eq=False)  # compared by identity: the arrays have no single truth value
class Outcome:
    path: Path
    style: str  # the last part of the file name, e.g. "ink-on-paper"
    image: np.ndarray | None  # (28, 28) what preprocess() made; None if it said blank
    target: np.ndarray  # (28, 28) the MNIST digit the drawing was made from
    times: list[float]  # seconds per preprocess() call

    @property
    def r(self) -> float:
        return 0.0 if self.image is None else correlation(self.image, self.target)


def measure(canvas_dir: Path, digits: np.ndarray) -> list[Outcome]:
    outcomes = []
    for path in sorted(canvas_dir.glob("*.png")):
        index, _label, style = path.stem.split("_", 2)
        pixels = np.asarray(Image.open(path))

        # time only preprocess(), not the PNG decoding
        times = []
        for _ in range(TIMING_REPEATS):
            start = time.perf_counter()
            result = preprocess(pixels)
            times.append(time.perf_counter() - start)

        target = digits[int(index)].astype(np.float32) / 255
        outcomes.append(Outcome(path, style, result.image, target, times))
    return outcomes


def summarise(outcomes: list[Outcome]) -> dict:
    r = np.array([outcome.r for outcome in outcomes])
    return {
        "count": len(outcomes),
        "mean_r": round(float(r.mean()), 4),
        "min_r": round(float(r.min()), 4),
        "blank": sum(outcome.image is None for outcome in outcomes),
    }


def report(outcomes: list[Outcome], canvas_dir: Path) -> dict:
    styles = sorted({outcome.style for outcome in outcomes})
    times_ms = 1000 * np.array([t for outcome in outcomes for t in outcome.times])
    worst = sorted(outcomes, key=lambda outcome: outcome.r)[:5]
    return {
        "canvas": str(canvas_dir),
        "note": "r is Pearson correlation with the MNIST digit; a blank result counts as 0",
        "overall": summarise(outcomes),
        "styles": {s: summarise([o for o in outcomes if o.style == s]) for s in styles},
        "worst": {outcome.path.name: round(outcome.r, 4) for outcome in worst},
        "time_ms": {
            "median": round(float(np.median(times_ms)), 3),
            "p95": round(float(np.percentile(times_ms, 95)), 3),
        },
    }


def contact_sheet(outcomes: list[Outcome], path: Path) -> None:
    """Rows of: the canvas (on grey, so transparency shows), our output, the MNIST digit."""
    worst = sorted(outcomes, key=lambda outcome: outcome.r)[:4]
    rest = [outcome for outcome in outcomes if outcome not in worst]
    chosen = worst + rest[:: max(1, len(rest) // 8)][:8]

    sheet = Image.new("L", (3 * SHEET_CELL, len(chosen) * SHEET_CELL), 128)
    for row, outcome in enumerate(chosen):
        canvas = Image.open(outcome.path).convert("RGBA")
        backdrop = Image.new("RGBA", canvas.size, (128, 128, 128, 255))
        backdrop.alpha_composite(canvas)
        output = np.zeros((28, 28)) if outcome.image is None else outcome.image
        cells = [backdrop.convert("L"), _grey(output), _grey(outcome.target)]
        for col, cell in enumerate(cells):
            cell = cell.resize((SHEET_CELL - 4, SHEET_CELL - 4), Image.Resampling.NEAREST)
            sheet.paste(cell, (col * SHEET_CELL + 2, row * SHEET_CELL + 2))
    sheet.save(path)


def _grey(image: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(image * 255).astype(np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--canvas",
        type=Path,
        default=SHARED / "canvas-a",
        help="folder of index_label_style.png drawings (default: %(default)s)",
    )
    parser.add_argument(
        "--mnist",
        type=Path,
        default=SHARED / "mnist-test-a",
        help="folder with the *images-idx3-ubyte.gz they came from (default: %(default)s)",
    )
    parser.add_argument(
        "--sheet",
        type=Path,
        default=None,
        help="also save a contact sheet PNG here (default: none)",
    )
    args = parser.parse_args()

    found = sorted(args.mnist.glob("*images-idx3-ubyte.gz"))
    if not found or not args.canvas.is_dir():
        parser.error(f"need {args.canvas} with PNGs and an IDX images file in {args.mnist}")
    digits = read_idx_images(found[0])
    outcomes = measure(args.canvas, digits)
    print(json.dumps(report(outcomes, args.canvas), indent=2))
    if args.sheet:
        contact_sheet(outcomes, args.sheet)


if __name__ == "__main__":
    main()

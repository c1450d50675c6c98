"""Server-side time of the Playground, from a canvas image to prediction, trace and figures.

For each drawing: preprocess the (280, 280, 4) canvas array, trace it through the model, blank
each row in turn (which rows mattered), build the five charts the page shows and serialise them
as Streamlit does (plotly JSON). The memory's map is fitted once per model beforehand, as the
page does. Drawings are the canvas-like PNGs in shared/data/canvas-a when that folder is there,
else canvases made from the embedded digits.

    python -m bench.playground_latency [--canvas DIR] [--repeats 3]
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from app_pages import figures, inside_figures
from rnn_model import BUNDLED_CELLS, bundled_path, load_model, trace
from rnn_model.analysis import HiddenMap, fit_hidden_map, step_importance
from rnn_model.preprocess import preprocess
from training.data import load_training_data

ROOT = Path(__file__).resolve().parent.parent
CANVAS_DIR = ROOT.parent / "shared" / "data" / "canvas-a"


def canvases(folder: Path) -> list[np.ndarray]:
    if folder.is_dir():
        return [np.asarray(Image.open(p).convert("RGBA")) for p in sorted(folder.glob("*.png"))]
    digits = load_training_data("sample").val.images[::10].numpy()
    return [
        np.asarray(Image.fromarray(d).resize((200, 200)).crop((-40, -40, 240, 240)).convert("RGBA"))
        for d in digits
    ]


def one_drawing(model, hidden_map: HiddenMap, canvas: np.ndarray, step: int = 14):
    """(seconds, bytes of figure JSON) for one drawing."""
    start = time.perf_counter()
    prepared = preprocess(canvas)
    reading = trace(model, prepared.image)
    mattered = step_importance(model, prepared.image)
    top = reading.hidden[-1]  # (T, H)
    shown = [
        inside_figures.rows_figure(
            prepared.image,
            step,
            "rows",
            mattered.predicted,
            mattered.evidence_drop,
            mattered.probability_drop,
            mattered.answers,
        ),
        figures.state_heatmap(top, step),
        inside_figures.path_figure(
            hidden_map.project(top),
            step,
            hidden_map.class_ends,
            reading.probabilities,
            hidden_map.project(np.zeros(top.shape[1], dtype=np.float32)),
        ),
        figures.probability_lines(reading.probabilities, step),
        figures.final_bars(reading.probabilities[-1]),
    ]
    size = sum(len(fig.to_json()) for fig in shown)
    return time.perf_counter() - start, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--canvas", type=Path, default=CANVAS_DIR)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    drawings = canvases(args.canvas)
    result = {
        "drawings": len(drawings),
        "source": str(args.canvas) if args.canvas.is_dir() else "embedded sample",
    }
    val = load_training_data("sample").val
    for cell in BUNDLED_CELLS:
        model, _ = load_model(bundled_path(cell))
        hidden_map = fit_hidden_map(model, val.images, val.labels)
        one_drawing(model, hidden_map, drawings[0])  # warm up plotly and torch
        times, sizes = [], []
        for _ in range(args.repeats):
            for canvas in drawings:
                seconds, size = one_drawing(model, hidden_map, canvas)
                times.append(seconds * 1000)
                sizes.append(size)
        times.sort()
        result[cell] = {
            "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
            "max_ms": round(times[-1], 1),
            "figure_json_kb": round(statistics.mean(sizes) / 1024, 1),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

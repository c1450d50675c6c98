"""Figures that look inside a run: the gradient reaching each step, and the confusion matrix.

Pure functions of plain arrays (or of a run's records), so each can be unit-tested without
Streamlit; the page module diagnosis_ui puts them on screen.
"""

import numpy as np
import plotly.graph_objects as go

from app_pages.figures import (
    ACCENT,
    SEQ_LEN,
    VIRIDIS,
    axis,
    epoch_axis,
    figure,
    layout,
    step_axis,
    step_title,
    thin,
)

NUM_CLASSES = 10
MAX_DECADES = 8  # colours span at most this many powers of ten below the largest gradient
MAX_COLUMNS = 200  # records drawn in the gradient heatmap; more is slow to send, no clearer

# Mistakes in orange, right answers in blue, so the eye finds the mistakes first. One colour
# scale on 0..1: 0 to 0.5 for cells off the diagonal, 0.5 to 1 for the diagonal.
CONFUSION_SCALE = [
    [0.0, "#F3F4F6"],  # no digit: a pale grey, so the grid of cells still shows
    [0.001, "#FDE2C8"],
    [0.5, "#C2410C"],
    [0.5, "#DCE8F5"],
    [1.0, "#1F3A5F"],
]


# -- gradients per step -------------------------------------------------------------------


def gradient_series(records, max_columns: int = MAX_COLUMNS) -> tuple[np.ndarray, np.ndarray]:
    """(epoch (R,), gradient per step (R, T)) from the records that measured it.

    Two records of the same step (a progress record and the evaluation after it) keep the
    later one; a long run is thinned to `max_columns` records, first and last kept."""
    by_step = {r.step: r for r in records if getattr(r, "step_gradients", None) is not None}
    kept = [by_step[step] for step in sorted(by_step)]
    if not kept:
        return np.zeros(0), np.zeros((0, SEQ_LEN))
    index = thin(len(kept), max_columns)
    epochs = np.array([kept[i].epoch for i in index], dtype=float)  # (R,)
    sizes = np.array([kept[i].step_gradients for i in index], dtype=float)  # (R, T)
    return epochs, sizes


def _power_of_ten(exponent: int) -> str:
    return "1" if exponent == 0 else f"10<sup>{exponent}</sup>"


def gradient_heatmap(
    epochs: np.ndarray,
    sizes: np.ndarray,
    total_epochs: float | None = None,
    reading_order: str = "rows",
) -> go.Figure:
    """Steps down (step 1 at the top), training time across, colour = gradient size on a
    log scale: dark where almost nothing of the loss's gradient arrives."""
    epochs = np.asarray(epochs, dtype=float)  # (R,)
    sizes = np.asarray(sizes, dtype=float)  # (R, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.log10(sizes)  # (R, T); 0 gives -inf, shown as the darkest colour
    finite = exponent[np.isfinite(exponent)]
    top = int(np.ceil(finite.max())) if finite.size else 0
    bottom = max(int(np.floor(finite.min())) if finite.size else top - 1, top - MAX_DECADES)
    bottom = min(bottom, top - 1)  # at least one power of ten of range
    z = np.clip(np.nan_to_num(exponent, nan=bottom, neginf=bottom), bottom, top).T  # (T, R)
    ticks = list(range(bottom, top + 1))

    heatmap = {
        "type": "heatmap",
        "z": z,
        "x": epochs,
        "y": np.arange(1, z.shape[0] + 1),
        "customdata": sizes.T,
        "colorscale": VIRIDIS,
        "zmin": bottom,
        "zmax": top,
        "colorbar": {
            "title": {"text": "gradient<br>size", "side": "top"},
            "tickvals": ticks,
            "ticktext": [_power_of_ten(t) for t in ticks],
            "thickness": 14,
            "len": 0.9,
        },
        "hovertemplate": "step %{y}, epoch %{x:.2f}: %{customdata:.2g}<extra></extra>",
    }
    return figure(
        [heatmap],
        layout(
            "How much gradient reaches each step (log scale)",
            420,
            xaxis=epoch_axis(total_epochs, showgrid=False, zeroline=False),
            yaxis=step_axis(step_title(reading_order)),
        ),
    )


# -- confusion matrix ---------------------------------------------------------------------


def confusion_colours(matrix: np.ndarray) -> np.ndarray:
    """Each cell's place on CONFUSION_SCALE: right answers 0.51..1, mistakes 0..0.49 (the
    scale jumps from orange to blue at 0.5), each relative to the largest of its kind, so a
    single mistake still shows (0 stays pale grey)."""
    matrix = np.asarray(matrix, dtype=float)  # (10, 10)
    diagonal = np.eye(len(matrix), dtype=bool)
    right = np.where(diagonal, matrix, 0.0)
    wrong = np.where(diagonal, 0.0, matrix)
    most_right, most_wrong = max(right.max(), 1.0), max(wrong.max(), 1.0)
    return np.where(diagonal, 0.51 + 0.49 * right / most_right, 0.49 * wrong / most_wrong)


def confusion_figure(matrix: np.ndarray, selected: tuple[int, int] | None = None) -> go.Figure:
    """Counts of (true digit, digit read): true digits down, answers across, every count
    written in its cell (an empty cell is a mistake never made). `selected` is outlined."""
    matrix = np.asarray(matrix, dtype=int)  # (10, 10)
    digits = np.arange(NUM_CLASSES)
    diagonal = np.eye(NUM_CLASSES, dtype=bool)
    text = np.where((matrix > 0) | diagonal, matrix.astype(str), "")  # (10, 10)
    counts = {
        "type": "heatmap",
        "z": confusion_colours(matrix),
        "x": digits,
        "y": digits,
        "customdata": matrix,
        "text": text,
        "texttemplate": "%{text}",
        "colorscale": CONFUSION_SCALE,
        "zmin": 0.0,
        "zmax": 1.0,
        "showscale": False,
        "xgap": 2,
        "ygap": 2,
        "hoverinfo": "skip",  # the markers below answer the mouse
    }
    # Streamlit reports no selection for clicks on a heatmap (streamlit/streamlit#8760), so
    # each cell also holds an invisible marker: a click on it selects that cell.
    true, read_as = np.meshgrid(digits, digits, indexing="ij")  # (10, 10) each
    hidden = {"marker": {"opacity": 0}}
    targets = {
        "type": "scatter",
        "x": read_as.ravel(),
        "y": true.ravel(),
        "customdata": matrix.ravel(),
        "mode": "markers",
        "marker": {"size": 34, "symbol": "square", "opacity": 0},
        "selected": hidden,
        "unselected": hidden,
        "showlegend": False,
        "hovertemplate": "true %{y}, read as %{x}: %{customdata} digits<extra></extra>",
    }
    picked = {}
    if selected is not None:
        true, read_as = selected
        box = {"type": "rect", "x0": read_as - 0.5, "x1": read_as + 0.5}
        box |= {"y0": true - 0.5, "y1": true + 0.5, "line": {"color": ACCENT, "width": 4}}
        picked["shapes"] = [box]
    grid = {"tickvals": digits, "showgrid": False, "zeroline": False}
    return figure(
        [counts, targets],
        layout(
            "True digit (down) against the digit it read (across)",
            520,
            **picked,
            hovermode="closest",
            # any point of a cell is nearer its marker than any other: the whole cell answers
            # a click, however large the cells grow (a marker alone covers 34 px)
            hoverdistance=-1,
            clickmode="event+select",
            dragmode=False,
            xaxis=axis("read as", range=[-0.5, 9.5], **grid),
            yaxis=axis("true digit", range=[9.5, -0.5], **grid),
        ),
    )


def clicked_cell(points) -> tuple[int, int] | None:
    """(true digit, digit read) of the first point a click on the confusion figure selected,
    from Streamlit's selection points (dicts with the cell's x and y); None if none."""
    for point in points or []:
        x, y = point.get("x"), point.get("y")
        try:
            read_as, true = int(round(float(x))), int(round(float(y)))
        except (TypeError, ValueError):
            continue
        if 0 <= true < NUM_CLASSES and 0 <= read_as < NUM_CLASSES:
            return true, read_as
    return None


# -- digits -------------------------------------------------------------------------------


def enlarged_digit(image: np.ndarray, factor: int = 4) -> np.ndarray:
    """A (28, 28) digit as a (28 * factor, 28 * factor) picture of square pixels, so a browser
    showing it larger copies pixels instead of blurring them."""
    image = np.asarray(image)
    if image.shape != (SEQ_LEN, SEQ_LEN):
        raise ValueError(f"a digit is 28x28 pixels, not {image.shape}")
    return np.kron(image, np.ones((factor, factor), dtype=image.dtype))

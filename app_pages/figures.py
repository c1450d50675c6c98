"""Plotly figures for both pages, built from plain numpy arrays.

No Streamlit here, so every figure can be unit-tested and timed on its own. Steps are
counted from 1 (the first row read) on every axis, so the input image, the state heatmap
and the probability lines line up row for row.
"""

import numpy as np
import plotly.graph_objects as go

SEQ_LEN = 28  # steps per digit, one row (or column) each
NUM_CLASSES = 10

# One colour per digit, the same in every chart; one accent for "the step we are at".
CLASS_COLOURS = (
    "#4E79A7",  # 0
    "#F28E2B",  # 1
    "#E15759",  # 2
    "#76B7B2",  # 3
    "#59A14F",  # 4
    "#B8860B",  # 5
    "#B07AA1",  # 6
    "#FF9DA7",  # 7
    "#9C755F",  # 8
    "#6C757D",  # 9
)
ACCENT = "#FFB000"  # amber: visible on the black digit and on the white page
ACCENT_FILL = "rgba(255, 176, 0, 0.35)"  # lets the pixels of the current row show through
LINE = "#1F3A5F"  # training curves
VAL_LINE = "#E8590C"  # validation points

INK = "#262730"  # Streamlit's text colour
FONT_SIZE = 15  # readable on a projector
TITLE_SIZE = 18
MAX_UNITS_SHOWN = 256  # a wider heatmap is slow to send and unreadable anyway


def _colour_scale(name: str) -> list[list]:
    # figure() skips plotly's checks, which are what turn a scale's name into the list of
    # colours plotly.js needs (it does not know "gray" or "RdBu_r"): ask them once, here.
    return [list(stop) for stop in go.Heatmap(colorscale=name).colorscale]


GREYS = _colour_scale("gray")  # black paper, white ink: the digits as MNIST has them
RED_BLUE = _colour_scale("RdBu_r")  # below 0 blue, above red, 0 white
VIRIDIS = _colour_scale("Viridis")  # dark shut, bright open; readable in grey print


def text(size: int = FONT_SIZE) -> dict:
    """A font in the house colour. A new dict each time: figure() hands plotly its dicts as they
    are, and a font dict shared by two places would be enlarged twice in presentation mode."""
    return {"size": size, "color": INK}


TICKS = [1, 7, 14, 21, 28]  # steps labelled on step axes
LEGEND_BELOW = {"orientation": "h", "y": -0.25, "x": 0}


def axis(title: str | None = None, **settings) -> dict:
    """An axis's settings in the house style: its numbers and title at projector size (Streamlit's
    chart theme would otherwise shrink them)."""
    spec = {"tickfont": text(), "title": {"font": text()}}
    if title is not None:
        spec["title"]["text"] = title
    return spec | settings


def layout(title: str, height: int, **settings) -> dict:
    """A figure's layout in the house style. A setting replaces the house one of its name, but a
    dict (an axis, the legend) is added into the house dict, one level deep."""
    spec = {
        "title": {"text": title, "font": text(TITLE_SIZE), "x": 0},
        "font": text(),
        "legend": {"font": text()},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 48, "b": 10},
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
        "xaxis": axis(),
        "yaxis": axis(),
    }
    for key, value in settings.items():
        both_dicts = isinstance(spec.get(key), dict) and isinstance(value, dict)
        spec[key] = spec[key] | value if both_dicts else value
    return spec


def figure(data: list[dict], layout_: dict) -> go.Figure:
    """A figure from plain trace dicts and a layout dict, without plotly's checks.

    Why: plotly checks every property at each add_trace and update_layout, which made a
    Playground drawing cost 77 ms of server CPU; built from dicts unchecked it costs 13 ms
    (bench/playground_latency.py), and thirty drawers share two cores. The checks run where
    they cost nothing: tests/test_figures_valid.py rebuilds every builder's output with them
    (`_validate` is plotly's own switch; plotly is pinned in requirements.txt)."""
    return go.Figure({"data": data, "layout": layout_}, _validate=False)


def line_trace(
    x, y, name: str, colour: str, width: float, hover: str | None, dash: str | None = None, **more
) -> dict:
    """A scatter trace drawn as a line of one colour. `hover` is its hover template (None: the
    line answers no hover); `more` adds or replaces trace settings."""
    line = {"color": colour, "width": width} | ({"dash": dash} if dash else {})
    trace = {"type": "scatter", "x": x, "y": y, "mode": "lines", "name": name, "line": line}
    if hover is None:
        trace["hoverinfo"] = "skip"
    else:
        trace["hovertemplate"] = hover
    return trace | more


STEP_TITLES = {  # reading order -> what a step axis counts
    "rows": "step (row read)",
    "rows_reversed": "step (row read, from the bottom)",
    "columns": "step (column read)",
}


def step_title(reading_order: str) -> str:
    return STEP_TITLES.get(reading_order, STEP_TITLES["rows"])


def step_axis(title: str = STEP_TITLES["rows"], reversed_: bool = True) -> dict:
    """The y axis of step-by-row pictures: step 1 at the top, like the image."""
    return axis(
        title,
        range=[SEQ_LEN + 0.5, 0.5] if reversed_ else [0.5, SEQ_LEN + 0.5],
        tickvals=TICKS,
        showgrid=False,
        zeroline=False,
    )


def current_step_box(x0: float, x1: float, y0: float, y1: float, fill: bool = True) -> dict:
    """The accent outline around what is read at the current step."""
    box = {"type": "rect", "name": "current step", "x0": x0, "x1": x1, "y0": y0, "y1": y1}
    box["line"] = {"color": ACCENT, "width": 3}
    return box | {"fillcolor": ACCENT_FILL} if fill else box


# -- playground ---------------------------------------------------------------------------


def current_cell(step: int, reading_order: str = "rows") -> tuple[str, int]:
    """Which row or column of the image is read at `step` (1-based): ("row" | "column", index)."""
    if reading_order == "columns":
        return "column", step
    if reading_order == "rows_reversed":
        return "row", SEQ_LEN + 1 - step
    return "row", step


def input_spec(image: np.ndarray, step: int, reading_order: str = "rows") -> tuple[list, dict]:
    """input_figure's traces and layout, for figures that add to it."""
    image = np.asarray(image, dtype=np.float32)  # (28, 28) in [0, 1]
    index = np.arange(1, SEQ_LEN + 1)
    pixels = {
        "type": "heatmap",
        "z": image,
        "x": index,
        "y": index,
        "colorscale": GREYS,
        "zmin": 0.0,
        "zmax": 1.0,
        "showscale": False,
        "hovertemplate": "row %{y}, column %{x}: %{z:.2f}<extra></extra>",
    }
    kind, at = current_cell(step, reading_order)
    if kind == "row":
        box = current_step_box(0.5, SEQ_LEN + 0.5, at - 0.5, at + 0.5)
    else:
        box = current_step_box(at - 0.5, at + 0.5, 0.5, SEQ_LEN + 0.5)
    columns = axis(
        "column",
        range=[0.5, SEQ_LEN + 0.5],
        tickvals=TICKS,
        showgrid=False,
        zeroline=False,
        scaleanchor="y",
        constrain="domain",
    )
    # The image stays square: in a figure taller than wide its rows close up at the top, level
    # with the heatmap beside it (under the columns' bars: at the bottom, next to them).
    rows = step_axis("row") | {"constrain": "domain"}
    rows["constraintoward"] = "top" if kind == "row" else "bottom"
    title = f"What the network reads: {kind} {at} at step {step}"
    return [pixels], layout(title, 400, shapes=[box], xaxis=columns, yaxis=rows)


def input_figure(image: np.ndarray, step: int, reading_order: str = "rows") -> go.Figure:
    """The 28x28 input in grey, with the row read at `step` outlined in the accent colour."""
    return figure(*input_spec(image, step, reading_order))


def state_heatmap(
    states: np.ndarray,
    step: int,
    label: str = "hidden state h_t",
    gate: bool = False,
    reading_order: str = "rows",
) -> go.Figure:
    """Steps x units of a state (or of a gate, with gate=True), steps not yet read blank (NaN).

    Values share one colour range over the whole reading, so colours do not change meaning
    as more steps are revealed: symmetric around 0 for states, 0 to 1 for gates.
    """
    states = np.asarray(states, dtype=np.float32)  # (T, H)
    units = min(states.shape[1], MAX_UNITS_SHOWN)
    z = states[:, :units].copy()  # (T, units)
    z[step:] = np.nan

    if gate:  # a gate is a sigmoid: 0 shuts, 1 lets everything through
        colours = {"colorscale": VIRIDIS, "zmin": 0.0, "zmax": 1.0}
    else:  # tanh states live in [-1, 1]; LSTM cell states and ReLU states can go further
        limit = max(1.0, float(np.abs(states[:, :units]).max(initial=0.0)))
        colours = {"colorscale": RED_BLUE, "zmin": -limit, "zmax": limit, "zmid": 0.0}
    heatmap = {
        "type": "heatmap",
        "z": z,
        "x": np.arange(1, units + 1),
        "y": np.arange(1, states.shape[0] + 1),
        **colours,
        "colorbar": {"thickness": 12, "len": 0.8},
        "hovertemplate": "step %{y}, unit %{x}: %{z:.2f}<extra></extra>",
    }
    box = current_step_box(0.5, units + 0.5, step - 0.5, step + 0.5, fill=False)
    shown = "" if units == states.shape[1] else f" (first {units} of {states.shape[1]} units)"
    title = f"Gate: {label}" if gate else f"Memory: {label}"
    return figure(
        [heatmap],
        layout(
            f"{title}{shown}",
            400,
            shapes=[box],
            xaxis=axis("hidden unit", showgrid=False, zeroline=False),
            yaxis=step_axis(step_title(reading_order)),
        ),
    )


def probability_lines(
    probabilities: np.ndarray, step: int, reading_order: str = "rows"
) -> go.Figure:
    """One line per digit: its probability after each step, drawn up to `step`."""
    probabilities = np.asarray(probabilities, dtype=np.float32)  # (T, 10)
    steps = np.arange(1, probabilities.shape[0] + 1)
    leader = int(probabilities[step - 1].argmax())
    lines = []
    for digit in range(NUM_CLASSES):
        y = probabilities[:, digit].copy()  # (T,)
        y[step:] = np.nan
        width = 5 if digit == leader else 2
        hover = f"digit {digit}, step %{{x}}: %{{y:.0%}}<extra></extra>"
        lines.append(line_trace(steps, y, str(digit), CLASS_COLOURS[digit], width, hover))
    # dashed ink, not the accent: an amber line would pass for digit 1's orange one
    now = {"type": "line", "xref": "x", "x0": step, "x1": step, "yref": "y domain", "y0": 0}
    now |= {"y1": 1, "line": {"color": INK, "width": 2, "dash": "dash"}}
    return figure(
        lines,
        layout(
            f"How sure it is after each step (now step {step})",
            400,
            shapes=[now],
            legend={"title": {"text": "digit", "font": text()}, "traceorder": "normal"},
            xaxis=axis(step_title(reading_order), range=[0.5, SEQ_LEN + 0.5], showgrid=False),
            yaxis=axis("probability", range=[0, 1.02], tickformat=".0%"),
        ),
    )


def final_bars(probabilities: np.ndarray) -> go.Figure:
    """The 10 probabilities after the last step; the predicted digit's bar is outlined."""
    probabilities = np.asarray(probabilities, dtype=np.float32)  # (10,)
    predicted = int(probabilities.argmax())
    bars = {
        "type": "bar",
        "x": [str(d) for d in range(NUM_CLASSES)],
        "y": probabilities,
        "marker": {
            "color": list(CLASS_COLOURS),
            "opacity": [1.0 if d == predicted else 0.55 for d in range(NUM_CLASSES)],
            "line": {
                "color": ["#222" if d == predicted else "rgba(0,0,0,0)" for d in range(10)],
                "width": 2,
            },
        },
        "text": [f"{p:.0%}" if p >= 0.005 else "" for p in probabilities],  # no rows of 0%
        "textposition": "outside",
        "cliponaxis": False,
        "hovertemplate": "digit %{x}: %{y:.1%}<extra></extra>",
    }
    return figure(
        [bars],
        layout(
            "Final answer after all 28 steps",
            280,
            xaxis=axis("digit", type="category"),
            yaxis=axis("probability", range=[0, 1.12], tickformat=".0%"),
        ),
    )


# -- training -----------------------------------------------------------------------------


def thin(count: int, max_points: int) -> np.ndarray:
    """Indices of at most `max_points` of `count` points, evenly spread, first and last kept."""
    if count <= max_points:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, max_points).round().astype(int))


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each value and the `window - 1` before it (fewer at the start)."""
    values = np.asarray(values, dtype=float)
    sums = np.cumsum(np.concatenate([[0.0], values]))
    index = np.arange(1, len(values) + 1)
    start = np.maximum(index - window, 0)
    return (sums[index] - sums[start]) / (index - start)


def training_series(records, max_points: int = 400) -> dict[str, np.ndarray]:
    """Arrays to chart from a run's records (objects with epoch, loss, ... attributes).

    Each record's loss and accuracy cover only the few batches since the one before, so they
    jump about; the trends average about a twentieth of the run. Training points are thinned
    to `max_points` so a long run stays cheap to redraw; validation points are all kept.
    """
    trained = [r for r in records if r.loss is not None]
    window = max(1, len(trained) // 20)
    loss = np.array([r.loss for r in trained], dtype=float)
    accuracy = np.array([r.train_accuracy for r in trained], dtype=float)
    keep = thin(len(trained), max_points)
    validated = [r for r in records if r.val_accuracy is not None]
    return {
        "epoch": np.array([r.epoch for r in trained], dtype=float)[keep],
        "loss": loss[keep],
        "loss_trend": trailing_mean(loss, window)[keep],
        "train_accuracy": accuracy[keep],
        "train_accuracy_trend": trailing_mean(accuracy, window)[keep],
        "val_epoch": np.array([r.epoch for r in validated], dtype=float),
        "val_accuracy": np.array([r.val_accuracy for r in validated], dtype=float),
    }


def epoch_axis(epochs: float | None, **settings) -> dict:
    """The x axis of training curves. It spans the whole run from the start, so the curve
    grows instead of the axis rescaling."""
    if epochs:
        settings["range"] = [0, epochs]
    return axis("epoch", rangemode="tozero", **settings)


def loss_axis() -> dict:
    """The y axis of loss curves, from 0 up."""
    return axis("loss (cross-entropy)", rangemode="tozero")


def _raw_and_trend(epoch, raw, trend, name: str, hover: str) -> list[dict]:
    """The jumpy values faintly, their trend boldly, in the same colour."""
    raw_line = line_trace(
        epoch, raw, f"{name}, each record", LINE, 1.5, None, opacity=0.3, showlegend=False
    )
    trend_line = line_trace(
        epoch, trend, name, LINE, 3.5, f"epoch %{{x:.2f}}: {hover}<extra></extra>"
    )
    return [raw_line, trend_line]


def loss_figure(
    epoch: np.ndarray, loss: np.ndarray, loss_trend: np.ndarray, epochs: float | None = None
) -> go.Figure:
    return figure(
        _raw_and_trend(epoch, loss, loss_trend, "training loss", "loss %{y:.3f}"),
        layout(
            "Training loss (lower is better)",
            340,
            showlegend=False,
            xaxis=epoch_axis(epochs),
            yaxis=loss_axis(),
        ),
    )


def accuracy_figure(
    epoch: np.ndarray,
    train_accuracy: np.ndarray,
    train_accuracy_trend: np.ndarray,
    val_epoch: np.ndarray,
    val_accuracy: np.ndarray,
    epochs: float | None = None,
) -> go.Figure:
    validation = line_trace(
        val_epoch,
        val_accuracy,
        "validation digits",
        VAL_LINE,
        2,
        "epoch %{x:.2f}: %{y:.1%}<extra></extra>",
        dash="dot",
        mode="lines+markers",
        marker={"size": 10},
    )
    trained = _raw_and_trend(
        epoch, train_accuracy, train_accuracy_trend, "training digits", "%{y:.1%}"
    )
    return figure(
        [*trained, validation],
        layout(
            "Accuracy (higher is better)",
            340,
            legend=LEGEND_BELOW,
            xaxis=epoch_axis(epochs),
            yaxis=axis("accuracy", range=[0, 1.02], tickformat=".0%"),
        ),
    )


def class_counts_figure(counts, title: str = "Images per digit") -> go.Figure:
    """Digits per class in a data set (or predicted), one bar per digit in its class colour.

    The bars lie down, one row per digit, so each count is written in full at a size a
    projector shows: ten standing bars leave each number about 20 pixels of width."""
    counts = np.asarray(counts)  # (10,)
    bars = {
        "type": "bar",
        "x": counts,
        "y": [str(d) for d in range(NUM_CLASSES)],
        "orientation": "h",
        "marker": {"color": list(CLASS_COLOURS)},
        "text": [f"{c:,}" for c in counts],
        "textposition": "outside",
        "constraintext": "none",  # plotly would otherwise shrink the text to fit
        "cliponaxis": False,
        "hovertemplate": "digit %{y}: %{x:,} images<extra></extra>",
    }
    return figure(
        [bars],
        layout(
            title,
            340,
            xaxis=axis("images", range=[0, max(int(counts.max()), 1) * 1.25]),
            yaxis=axis("digit", type="category", autorange="reversed"),
        ),
    )


def digit_grid_figure(images: np.ndarray, labels: np.ndarray, columns: int = 10) -> go.Figure:
    """Digits side by side in one grey picture, each with its label above it."""
    images = np.asarray(images)  # (N, 28, 28) uint8 or float
    labels = np.asarray(labels)  # (N,)
    count = len(images)
    rows = -(-count // columns)
    gap_x, gap_y = 4, 18  # pixels of white between digits, and room for the labels
    cell_x, cell_y = SEQ_LEN + gap_x, SEQ_LEN + gap_y
    width, height = columns * cell_x - gap_x, rows * cell_y
    mosaic = np.full((height, width), np.nan, dtype=np.float32)  # NaN shows as the page
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        top, left = r * cell_y + gap_y, c * cell_x
        mosaic[top : top + SEQ_LEN, left : left + SEQ_LEN] = image / scale

    pixels = {
        "type": "heatmap",
        "z": mosaic,
        "colorscale": GREYS,
        "zmin": 0.0,
        "zmax": 1.0,
        "showscale": False,
        "hoverinfo": "skip",
    }
    names = []
    for i, label in enumerate(labels):
        r, c = divmod(i, columns)
        names.append(
            {
                "x": c * cell_x + SEQ_LEN / 2 - 0.5,
                "y": r * cell_y + gap_y - 1,
                "text": f"<b>{int(label)}</b>",
                "showarrow": False,
                "yanchor": "bottom",
                "font": {"size": FONT_SIZE + 1},
            }
        )
    across = axis(visible=False, range=[-0.5, width - 0.5])
    down = axis(visible=False, range=[height - 0.5, -0.5], scaleanchor="x", constrain="domain")
    return figure(
        [pixels],
        layout(
            "Some of the digits, with their labels",
            60 + rows * 80,
            annotations=names,
            xaxis=across,
            yaxis=down,
        ),
    )

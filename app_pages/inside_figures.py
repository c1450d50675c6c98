"""Plotly figures for the Playground's views inside the network: which steps mattered, and the
path the memory takes. Plain arrays in, figures out; no Streamlit, so each can be tested alone.

Steps are counted from 1, as on every other figure, and a step's row or column is found with
figures.current_cell, so every reading order is drawn where it reads.
"""

import numpy as np
import plotly.graph_objects as go

from app_pages import figures

BAR = "#1F3A5F"  # a step that made the network surer of its answer
DOUBT = "#9AA5B1"  # a step whose blanking made it surer: it was pulling the other way
FAINT_END = 0.28  # opacity of the class end points: a backdrop, not the story
PATH = "#262730"
LOG10 = np.log(10.0)
MIN_RANGE = 0.35  # tenfolds: the bars' axis reaches at least "2×", so tiny drops look tiny


# -- which steps mattered -----------------------------------------------------------------


def tenfolds(evidence_drop: np.ndarray) -> np.ndarray:
    """Log-odds drops (natural log) -> tenfold drops: 1 means the odds fell ten times."""
    return np.asarray(evidence_drop, dtype=np.float64) / LOG10


def rows_figure(
    image: np.ndarray,
    step: int,
    reading_order: str,
    predicted: int,
    evidence_drop: np.ndarray,
    probability_drop: np.ndarray,
    answers: np.ndarray,
) -> go.Figure:
    """The input image (figures.input_figure) with one bar per step beside it, each at the row
    (or under the column) that step reads: how much less sure of `predicted` the network is
    when that step's input is blanked. Rows: bars to the right, sharing the image's rows;
    columns: bars below, sharing its columns."""
    data, layout = figures.input_spec(image, step, reading_order)
    drops = tenfolds(evidence_drop)  # (T,)
    steps = np.arange(1, len(drops) + 1)
    kind, _ = figures.current_cell(1, reading_order)
    where = np.array([figures.current_cell(int(s), reading_order)[1] for s in steps])  # (T,)
    colours = [
        figures.ACCENT if s == step else (BAR if d >= 0 else DOUBT)
        for s, d in zip(steps, drops, strict=True)
    ]
    hover = [
        _bar_hover(kind, int(w), int(s), predicted, d, float(p), int(a))
        for w, s, d, p, a in zip(where, steps, drops, probability_drop, answers, strict=True)
    ]
    limit = max(MIN_RANGE, float(np.abs(drops).max(initial=0.0))) * 1.08
    doubt = drops.min(initial=0.0)  # the longest bar to the left, if any
    low = 1.08 * doubt if doubt < -0.02 * limit else 0.0
    bars = {"type": "bar", "marker": {"color": colours}, "hovertext": hover, "hoverinfo": "text"}
    scale = {
        "range": [low, limit],
        "zeroline": True,
        "zerolinecolor": "#888",
        "showgrid": False,
        **times_ticks(low, limit, most=1),  # two powers of ten crowd at projector sizes
        "tickfont": figures.text(figures.FONT_SIZE - 2),
        "title": {
            "text": f"times less sure<br>without the {kind}",
            "font": figures.text(figures.FONT_SIZE - 2),
        },
    }

    if kind == "row":  # bars lie beside the image, on its rows
        bars |= {"x": drops, "y": where, "orientation": "h", "xaxis": "x2", "yaxis": "y"}
        layout["xaxis"] |= {"domain": [0.0, 0.64], "constraintoward": "right"}
        layout["xaxis2"] = {"domain": [0.68, 1.0], "anchor": "y", **scale}
        height = 400
    else:  # columns: bars stand under the image, on its columns
        bars |= {"x": where, "y": drops, "xaxis": "x", "yaxis": "y2"}
        # the image's column axis is shared with the bars: its numbers go under the bars
        layout["yaxis"] |= {"domain": [0.3, 1.0]}
        layout["yaxis2"] = {"domain": [0.0, 0.24], "anchor": "x", **scale}
        layout["xaxis"] |= {"anchor": "y2"}
        height = 540
    layout |= {"showlegend": False, "height": height, "bargap": 0.15}
    return figures.figure([*data, bars], layout)


def times_ticks(low: float, high: float, most: int = 2) -> dict:
    """Ticks for an axis of tenfold drops, written as how many times less (or more) sure:
    0.3 -> "2×", 1 -> "10×", 2 -> "100×". At most two to the right (powers of ten once ten
    fits, else 2× or 5×; `most` of them), one to the left, and 0 as "same": the axis is
    short."""
    up = [t for t in (2, 5) if np.log10(t) <= high][-1:]
    tens = [10**k for k in range(1, 8) if k <= high]
    if tens:
        up = tens[-most:]
    down = [t for t in (2, 5, 10, 100, 1000) if -np.log10(t) >= low][-1:]
    values = [-np.log10(t) for t in down] + [0.0] + [np.log10(t) for t in up]
    texts = [f"{t:,}× surer" for t in down] + ["same"] + [f"{t:,}×" for t in up]
    return {"tickvals": values, "ticktext": texts}


def _bar_hover(
    kind: str, at: int, step: int, predicted: int, tenfold: float, p_drop: float, answer: int
) -> str:
    text = f"{kind} {at}, read at step {step}<br>"
    if abs(tenfold) < 0.005:
        text += "blanking it changes nothing"
    elif tenfold > 0:
        text += f"without it: {_times(10**tenfold)} times less sure of {predicted}"
    else:
        text += f"without it: {_times(10**-tenfold)} times surer of {predicted}"
    text += f"<br>probability of {predicted} falls by {p_drop:.2g}"
    if answer != predicted:
        text += f"<br><b>without it, it reads {answer}</b>"
    return text


def _times(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"


# -- the path of the memory ---------------------------------------------------------------


def path_figure(
    points: np.ndarray,
    step: int,
    class_ends: np.ndarray,
    probabilities: np.ndarray,
    start: np.ndarray,
    reading_order: str = "rows",
) -> go.Figure:
    """The memory's path on the model's 2-D map, up to `step`.

    points: (T, 2) the hidden state after each step, projected; steps after `step` are left
    out (NaN), as on the heatmap. class_ends: (C, 2) where each digit's readings typically
    end, drawn faintly with the digit. probabilities: (T, C), to colour each step by the digit
    it leans to. start: (2,) the empty memory before step 1.
    """
    points = np.asarray(points, dtype=np.float64)  # (T, 2)
    ends = np.asarray(class_ends, dtype=np.float64)  # (C, 2)
    start = np.asarray(start, dtype=np.float64)  # (2,)
    steps = np.arange(1, len(points) + 1)
    leaders = np.asarray(probabilities).argmax(axis=1)  # (T,)
    confidence = np.asarray(probabilities).max(axis=1)  # (T,)
    shown = points.copy()
    shown[step:] = np.nan
    kind = figures.current_cell(1, reading_order)[0]
    # fixed ranges from every point, so the view holds still while the path grows
    everything = np.vstack([points, ends, start[None]])
    low, high = np.nanmin(everything, axis=0), np.nanmax(everything, axis=0)
    span = float((high - low).max()) + 1e-6
    pad = 0.08 * span

    ends_trace = {
        "type": "scatter",
        "x": ends[:, 0],
        "y": ends[:, 1],
        "mode": "markers+text",
        "name": "typical ends",
        "text": [f"<b>{d}</b>" for d in range(len(ends))],
        "textposition": "middle center",
        "textfont": {"size": figures.FONT_SIZE + 5, "color": list(figures.CLASS_COLOURS)},
        "marker": {"size": 34, "color": list(figures.CLASS_COLOURS), "opacity": FAINT_END},
        "hovertemplate": "where the memory typically ends for a %{text}<extra></extra>",
    }
    start_trace = {
        "type": "scatter",
        "x": [start[0], shown[0, 0]],
        "y": [start[1], shown[0, 1]],
        "mode": "lines+markers+text",
        "name": "start",
        "text": ["start", ""],
        "textposition": "bottom center",
        "line": {"color": PATH, "width": 1.5, "dash": "dot"},
        "marker": {"size": [10, 0], "color": PATH, "symbol": "x"},
        "hovertemplate": "the empty memory, before step 1<extra></extra>",
    }
    path = {
        "type": "scatter",
        "x": shown[:, 0],
        "y": shown[:, 1],
        "mode": "lines+markers+text",
        "name": "path",
        "text": _step_labels(shown, step, span),
        "textposition": "top right",
        "textfont": {"size": figures.FONT_SIZE - 2, "color": PATH},
        "line": {"color": PATH, "width": 2},
        "marker": {
            "size": 9,
            "color": [figures.CLASS_COLOURS[d] for d in leaders],
            "line": {"color": "white", "width": 1},
        },
        "hovertext": [
            f"step {s} ({kind} {figures.current_cell(int(s), reading_order)[1]}): "
            f"leaning to {d} ({p:.0%})"
            for s, d, p in zip(steps, leaders, confidence, strict=True)
        ],
        "hoverinfo": "text",
    }
    here = points[step - 1]
    now = {
        "type": "scatter",
        "x": [here[0]],
        "y": [here[1]],
        "mode": "markers",
        "name": "now",
        "marker": {
            "size": 22,
            "color": "rgba(0,0,0,0)",
            "line": {"color": figures.ACCENT, "width": 4},
        },
        "hoverinfo": "skip",
    }
    plain = {"showticklabels": False, "showgrid": False, "zeroline": False}
    across = figures.axis("direction 1", range=[low[0] - pad, high[0] + pad], **plain)
    down = figures.axis(
        "direction 2",
        range=[low[1] - pad, high[1] + pad],
        **plain,
        scaleanchor="x",
        constrain="domain",
    )
    layout = figures.layout(
        f"Where the memory travels (now step {step})",
        420,
        showlegend=False,
        xaxis=across,
        yaxis=down,
    )
    return figures.figure([ends_trace, start_trace, path, now], layout)


def _step_labels(shown: np.ndarray, step: int, span: float, min_gap: float = 0.05) -> list[str]:
    """Step numbers for the path, leaving out a step closer than `min_gap` of the map's `span`
    to the last one labelled, so the paper before the ink (which barely moves the memory)
    does not pile numbers up. The current step always has its number."""
    labels, last = [], None
    for i, point in enumerate(shown):
        if not np.isfinite(point).all():
            labels.append("")
            continue
        near = last is not None and np.linalg.norm(point - last) < min_gap * span
        if near and i + 1 != step:
            labels.append("")
            continue
        labels.append(str(i + 1))
        last = point
    return labels

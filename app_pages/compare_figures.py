"""Figures and the summary table that put runs of different cells side by side.

Plain numbers in, a plotly figure (or rows) out; no Streamlit, so each is unit-tested.
Every cell keeps one colour in every chart, chosen to stay apart for colour-blind eyes.
"""

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from app_pages.figures import (
    LEGEND_BELOW,
    axis,
    epoch_axis,
    figure,
    layout,
    line_trace,
    loss_axis,
)

CELL_COLOURS = {  # the Okabe-Ito palette, which colour-blind readers can tell apart
    "Vanilla RNN (tanh)": "#D55E00",  # vermillion
    "Vanilla RNN (ReLU)": "#CC79A7",  # reddish purple
    "LSTM": "#0072B2",  # blue
    "GRU": "#009E73",  # bluish green
}
OTHER_COLOUR = "#6C757D"


def cell_colour(label: str) -> str:
    return CELL_COLOURS.get(label, OTHER_COLOUR)


@dataclass
class Curves:
    """What the charts need of one run: its smoothed loss and its validation points."""

    label: str  # the cell's name, which is also the legend's
    epoch: np.ndarray  # (N,) epochs of the loss points
    loss: np.ndarray  # (N,) loss, smoothed
    val_epoch: np.ndarray  # (M,) epochs of the validation measurements
    val_accuracy: np.ndarray  # (M,)


def compare_loss_figure(runs: list[Curves], epochs: float | None = None) -> go.Figure:
    """Each run's training loss, one line per cell in its colour."""
    lines = [
        line_trace(
            run.epoch,
            run.loss,
            run.label,
            cell_colour(run.label),
            3.5,
            f"{run.label}, epoch %{{x:.2f}}: loss %{{y:.3f}}<extra></extra>",
        )
        for run in runs
    ]
    return figure(
        lines,
        layout(
            "Training loss per cell (lower is better)",
            380,
            legend=LEGEND_BELOW,
            xaxis=epoch_axis(epochs),
            yaxis=loss_axis(),
        ),
    )


def compare_accuracy_figure(runs: list[Curves], epochs: float | None = None) -> go.Figure:
    """Each run's validation accuracy, one line of points per cell in its colour."""
    lines = [
        line_trace(
            run.val_epoch,
            run.val_accuracy,
            run.label,
            cell_colour(run.label),
            3,
            f"{run.label}, epoch %{{x:.2f}}: %{{y:.1%}}<extra></extra>",
            mode="lines+markers",
            marker={"size": 7},
        )
        for run in runs
    ]
    return figure(
        lines,
        layout(
            "Validation accuracy per cell (higher is better)",
            380,
            legend=LEGEND_BELOW,
            xaxis=epoch_axis(epochs),
            yaxis=axis("validation accuracy", range=[0, 1.02], tickformat=".0%"),
        ),
    )


def summary_row(
    label: str,
    parameters: int,
    seconds: float | None,
    val_accuracy: np.ndarray,
    loss: np.ndarray,
    status: str,
) -> dict:
    """One line of the summary table; a dash where a run has no number yet."""
    val_accuracy = np.asarray(val_accuracy, dtype=float)
    measured = val_accuracy[np.isfinite(val_accuracy)]
    loss = np.asarray(loss, dtype=float)
    return {
        "Cell": label,
        "Parameters": f"{parameters:,}",
        "Time taken": "–" if seconds is None else _duration(seconds),
        "Best validation accuracy": f"{measured.max():.1%}" if len(measured) else "–",
        "Final loss": f"{loss[-1]:.3f}" if len(loss) and math.isfinite(loss[-1]) else "–",
        "Status": status,
    }


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"

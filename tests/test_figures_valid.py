"""Every figure builder's output passes plotly's checks.

The builders skip those checks to stay cheap per drawing (figures.figure); here each one's
output is rebuilt with them, so a misspelt property or a bad value fails a test instead of
being dropped silently by the browser.
"""

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io
import pytest

from app_pages import compare_figures, diagnosis_figures, figures, inside_figures, show

RNG = np.random.default_rng(3)
T = figures.SEQ_LEN
PROBABILITIES = RNG.dirichlet(np.ones(10), size=T).astype(np.float32)  # (T, 10)
IMAGE = RNG.random((T, T)).astype(np.float32)
EPOCHS = np.linspace(0, 2, 40)
DROPS = RNG.standard_normal(T)
CURVES = compare_figures.Curves("GRU", EPOCHS, RNG.random(40), np.array([1.0, 2]), np.ones(2))


def _builds():
    for order in ("rows", "rows_reversed", "columns"):
        yield f"input {order}", lambda o=order: figures.input_figure(IMAGE, 5, o)
        yield (
            f"rows {order}",
            lambda o=order: inside_figures.rows_figure(
                IMAGE, 5, o, 3, DROPS, np.abs(DROPS), np.full(T, 3)
            ),
        )
        yield f"path {order}", lambda o=order: inside_figures.path_figure(
            RNG.standard_normal((T, 2)), 9, RNG.standard_normal((10, 2)), PROBABILITIES,
            np.zeros(2), o,
        )  # fmt: skip
    yield "state", lambda: figures.state_heatmap(RNG.standard_normal((T, 300)), 7)
    yield "gate", lambda: figures.state_heatmap(RNG.random((T, 16)), 28, "update gate", True)
    yield "lines", lambda: figures.probability_lines(PROBABILITIES, 12)
    yield "bars", lambda: figures.final_bars(PROBABILITIES[-1])
    yield "loss", lambda: figures.loss_figure(EPOCHS, RNG.random(40), RNG.random(40), 2)
    yield (
        "accuracy",
        lambda: figures.accuracy_figure(
            EPOCHS, RNG.random(40), RNG.random(40), np.array([1.0, 2.0]), np.array([0.5, 0.6])
        ),
    )
    yield "counts", lambda: figures.class_counts_figure(np.arange(10) * 7)
    yield (
        "grid",
        lambda: figures.digit_grid_figure(
            (RNG.random((12, T, T)) * 255).astype(np.uint8), np.arange(12) % 10
        ),
    )
    yield "compare loss", lambda: compare_figures.compare_loss_figure([CURVES], 2)
    yield "compare accuracy", lambda: compare_figures.compare_accuracy_figure([CURVES])
    yield (
        "gradients",
        lambda: diagnosis_figures.gradient_heatmap(EPOCHS, RNG.random((40, T)) ** 5, 2, "columns"),
    )
    yield "no gradients", lambda: diagnosis_figures.gradient_heatmap(np.zeros(0), np.zeros((0, T)))
    matrix = RNG.integers(0, 30, (10, 10))
    yield "confusion", lambda: diagnosis_figures.confusion_figure(matrix)
    yield "confusion picked", lambda: diagnosis_figures.confusion_figure(matrix, (2, 7))


BUILDS = dict(_builds())


def _json(fig: go.Figure) -> dict:
    return json.loads(plotly.io.to_json(fig, validate=False))


@pytest.mark.parametrize("name", BUILDS)
def test_every_figure_passes_plotlys_checks(name):
    fig = BUILDS[name]()
    checked = go.Figure(fig.to_dict())  # raises on any property plotly does not know
    # and the checks would change nothing: plotly.js gets what they would have made of it
    assert _json(checked) == _json(fig)


@pytest.mark.parametrize("name", ["rows columns", "grid", "lines"])
def test_enlarged_figures_pass_plotlys_checks(name):
    fig = show.enlarge(BUILDS[name](), show.SCALE)
    go.Figure(fig.to_dict())


def test_the_check_catches_what_figure_lets_through():
    fig = figures.figure([{"type": "scatter", "x": [1], "colour": "red"}], figures.layout("t", 9))
    with pytest.raises(ValueError, match="colour"):
        go.Figure(fig.to_dict())


def test_enlarging_a_figure_leaves_the_next_one_as_it_was():
    before = _json(BUILDS["rows rows"]())
    show.enlarge(BUILDS["rows rows"](), show.SCALE)
    assert _json(BUILDS["rows rows"]()) == before

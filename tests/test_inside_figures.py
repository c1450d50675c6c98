"""The figures of the Playground's views inside the network, from plain arrays."""

import numpy as np
import pytest

from app_pages import figures
from app_pages.inside_figures import (
    BAR,
    DOUBT,
    LOG10,
    _step_labels,
    path_figure,
    rows_figure,
    tenfolds,
    times_ticks,
)

T = 28


def _trace(fig, name):
    (trace,) = [t for t in fig.data if t.name == name]
    return trace


def _bars(fig):
    (bars,) = [t for t in fig.data if t.type == "bar"]
    return bars


@pytest.fixture
def drops():
    """Log-odds drops with one strong step (step 10), one that made the model doubt (step 3)."""
    evidence = np.zeros(T)
    evidence[9] = 3 * LOG10  # a thousand times less sure without step 10
    evidence[2] = -0.5 * LOG10
    evidence[14] = 0.5 * LOG10
    return evidence


def _rows(order, drops, step=4):
    return rows_figure(
        np.zeros((T, T), np.float32),
        step,
        order,
        predicted=7,
        evidence_drop=drops,
        probability_drop=np.full(T, 1e-4),
        answers=np.where(np.arange(T) == 9, 1, 7),
    )


def test_tenfolds_are_log_odds_in_powers_of_ten():
    np.testing.assert_allclose(tenfolds([0.0, np.log(10), np.log(1000)]), [0, 1, 3])


@pytest.mark.parametrize(
    "order,row_of_step_10", [("rows", 10), ("rows_reversed", 19), ("columns", 10)]
)
def test_each_bar_sits_at_the_row_or_column_its_step_reads(drops, order, row_of_step_10):
    fig = _rows(order, drops)
    bars = _bars(fig)
    if order == "columns":  # standing under the image, sharing its column axis
        positions, values = np.array(bars.x), np.array(bars.y)
        assert (bars.xaxis, bars.yaxis) == ("x", "y2")
        assert fig.layout.xaxis.anchor == "y2"  # column numbers under the bars
    else:  # lying beside it, sharing its row axis
        positions, values = np.array(bars.y), np.array(bars.x)
        assert (bars.xaxis, bars.yaxis, bars.orientation) == ("x2", "y", "h")
    assert sorted(positions) == list(range(1, T + 1))
    assert positions[np.argmax(values)] == row_of_step_10
    assert values.max() == pytest.approx(3.0)
    # the image figure underneath is unchanged: its first shape is the step's band
    assert fig.layout.shapes[0].name == "current step"
    assert fig.layout.title.text.startswith("What the network reads")


def test_bars_colour_the_current_step_and_the_doubts(drops):
    colours = list(_bars(_rows("rows", drops, step=4)).marker.color)
    assert colours[3] == figures.ACCENT  # step 4
    assert colours[2] == DOUBT  # blanking step 3 made it surer: it was pulling away
    assert colours[9] == BAR


def test_bar_hover_says_how_many_times_less_sure_and_a_changed_answer(drops):
    hover = list(_bars(_rows("rows_reversed", drops)).hovertext)
    assert hover[9].startswith("row 19, read at step 10")
    assert "1,000 times less sure of 7" in hover[9]
    assert "without it, it reads 1" in hover[9]
    assert "3.2 times surer of 7" in hover[2]
    assert "changes nothing" in hover[0]


def test_the_bar_axis_reaches_the_longest_bar_and_reads_in_times(drops):
    axis = _rows("rows", drops).layout.xaxis2
    low, high = axis.range
    assert -0.6 < low < -0.5 and high > 3.0  # as far left as the longest doubt, no further
    assert dict(zip(axis.ticktext, axis.tickvals, strict=True))["1,000×"] == pytest.approx(3)
    # tiny drops stay tiny: the axis reaches at least 2x
    tiny = _rows("rows", np.full(T, 0.01)).layout.xaxis2
    assert tiny.range[0] == 0 and tiny.range[1] > np.log10(2)


@pytest.mark.parametrize(
    "low,high,texts",
    [
        (-0.5, 2.2, ["2× surer", "same", "10×", "100×"]),
        (0.0, 0.4, ["same", "2×"]),
        (0.0, 0.8, ["same", "5×"]),
        (-1.2, 5.5, ["10× surer", "same", "10,000×", "100,000×"]),
    ],
)
def test_times_ticks(low, high, texts):
    ticks = times_ticks(low, high)
    assert ticks["ticktext"] == texts
    assert all(low <= v <= high for v in ticks["tickvals"])
    assert ticks["tickvals"][texts.index("same")] == 0.0


@pytest.fixture
def path():
    rng = np.random.default_rng(0)
    points = np.cumsum(rng.normal(size=(T, 2)), axis=0)  # (T, 2)
    ends = rng.normal(scale=5, size=(10, 2))  # (C, 2)
    probabilities = np.full((T, 10), 0.05)
    probabilities[:, 3] = 0.55
    probabilities[20:, 3], probabilities[20:, 8] = 0.05, 0.55
    return points, ends, probabilities


@pytest.mark.parametrize("step", [1, 12, 28])
def test_the_path_shows_the_steps_read_and_marks_the_current_one(path, step):
    points, ends, probabilities = path
    fig = path_figure(points, step, ends, probabilities, start=np.zeros(2))

    line = _trace(fig, "path")
    x, y = np.array(line.x, dtype=float), np.array(line.y, dtype=float)
    assert len(x) == T
    np.testing.assert_allclose(x[:step], points[:step, 0])
    assert np.isnan(x[step:]).all() and np.isnan(y[step:]).all()
    now = _trace(fig, "now")
    assert (now.x[0], now.y[0]) == tuple(points[step - 1])
    assert line.text[step - 1] == str(step)
    # each step's dot in the colour of the digit it leans to
    assert line.marker.color[0] == figures.CLASS_COLOURS[3]
    assert line.marker.color[27] == figures.CLASS_COLOURS[8]
    assert line.hovertext[4] == "step 5 (row 5): leaning to 3 (55%)"
    assert f"now step {step}" in fig.layout.title.text


def test_the_class_ends_are_ten_faint_digits(path):
    points, ends, probabilities = path
    fig = path_figure(points, 5, ends, probabilities, start=np.zeros(2))
    marks = _trace(fig, "typical ends")
    assert len(marks.x) == 10
    np.testing.assert_allclose(np.c_[marks.x, marks.y], ends)
    assert [t.strip("<b>/") for t in marks.text] == [str(d) for d in range(10)]
    assert marks.marker.opacity < 0.5


def test_the_map_holds_still_while_the_path_grows(path):
    points, ends, probabilities = path
    ranges = {
        step: (
            path_figure(points, step, ends, probabilities, np.zeros(2)).layout.xaxis.range,
            path_figure(points, step, ends, probabilities, np.zeros(2)).layout.yaxis.range,
        )
        for step in (1, 28)
    }
    assert ranges[1] == ranges[28]
    (x0, x1), (y0, y1) = ranges[1]
    everything = np.vstack([points, ends, np.zeros((1, 2))])
    assert x0 < everything[:, 0].min() and x1 > everything[:, 0].max()
    assert y0 < everything[:, 1].min() and y1 > everything[:, 1].max()


def test_path_hover_names_the_column_when_it_reads_columns(path):
    points, ends, probabilities = path
    fig = path_figure(points, 5, ends, probabilities, np.zeros(2), reading_order="rows_reversed")
    assert _trace(fig, "path").hovertext[4].startswith("step 5 (row 24)")
    fig = path_figure(points, 5, ends, probabilities, np.zeros(2), reading_order="columns")
    assert _trace(fig, "path").hovertext[4].startswith("step 5 (column 5)")


def test_step_labels_skip_steps_that_barely_moved():
    shown = np.zeros((T, 2))
    shown[10:] = np.arange(1, 19)[:, None] * [1.0, 0.0]  # still for 10 steps, then moving
    shown[20:] = np.nan
    labels = _step_labels(shown, step=5, span=18.0, min_gap=0.05)
    assert labels[0] == "1" and labels[4] == "5"  # the first, and the current step
    assert labels[1:4] == ["", "", ""] and labels[5:10] == [""] * 5
    assert labels[10:20] == [str(s) for s in range(11, 21)]
    assert labels[20:] == [""] * 8

"""The figure builders: shapes, what is revealed at a step, and where the highlights sit."""

import numpy as np
import pytest

from app_pages import figures
from training.engine import Record

RNG = np.random.default_rng(0)


def _rect(fig):
    (shape,) = [s for s in fig.layout.shapes if s.type == "rect"]
    return shape


@pytest.mark.parametrize("step", [1, 9, 28])
def test_input_figure_outlines_the_row_read_at_the_step(step):
    image = RNG.random((28, 28), dtype=np.float32)
    fig = figures.input_figure(image, step)

    z = np.asarray(fig.data[0].z)
    assert z.shape == (28, 28)
    np.testing.assert_allclose(z, image)
    rect = _rect(fig)
    assert (rect.y0, rect.y1) == (step - 0.5, step + 0.5)  # rows are numbered 1..28
    assert (rect.x0, rect.x1) == (0.5, 28.5)  # the whole row
    assert f"row {step} at step {step}" in fig.layout.title.text


def test_input_figure_follows_the_reading_order():
    image = np.zeros((28, 28), np.float32)

    reversed_ = _rect(figures.input_figure(image, 1, "rows_reversed"))
    assert (reversed_.y0, reversed_.y1) == (27.5, 28.5)  # the bottom row is read first

    column = _rect(figures.input_figure(image, 5, "columns"))
    assert (column.x0, column.x1, column.y0, column.y1) == (4.5, 5.5, 0.5, 28.5)


@pytest.mark.parametrize("step", [1, 12, 28])
def test_state_heatmap_blanks_the_steps_not_yet_read(step):
    states = RNG.uniform(-1, 1, (28, 64)).astype(np.float32)
    fig = figures.state_heatmap(states, step)

    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (28, 64)
    np.testing.assert_allclose(z[:step], states[:step], rtol=1e-6)
    assert np.isnan(z[step:]).all()
    assert (_rect(fig).y0, _rect(fig).y1) == (step - 0.5, step + 0.5)
    assert fig.layout.xaxis.title.text == "hidden unit"
    assert fig.layout.yaxis.title.text == "step (row read)"


def test_state_heatmap_keeps_one_symmetric_colour_range_for_the_whole_reading():
    states = np.zeros((28, 8), np.float32)
    states[27, 0] = -3.0  # an LSTM cell state can leave [-1, 1]
    early = figures.state_heatmap(states, 2).data[0]
    assert (early.zmin, early.zmax) == (-3.0, 3.0)  # set by a step not yet shown

    small = figures.state_heatmap(np.full((28, 8), 0.2, np.float32), 28).data[0]
    assert (small.zmin, small.zmax) == (-1.0, 1.0)  # tanh range at least


def test_state_heatmap_shows_at_most_256_units():
    fig = figures.state_heatmap(np.ones((28, 1024), np.float32), 28)
    assert np.asarray(fig.data[0].z).shape == (28, figures.MAX_UNITS_SHOWN)
    assert "first 256 of 1024" in fig.layout.title.text


def test_probability_lines_are_drawn_up_to_the_step():
    probabilities = RNG.dirichlet(np.ones(10), size=28).astype(np.float32)
    step = 7
    fig = figures.probability_lines(probabilities, step)

    assert [trace.name for trace in fig.data] == [str(d) for d in range(10)]
    for digit, trace in enumerate(fig.data):
        y = np.asarray(trace.y, dtype=float)
        np.testing.assert_allclose(y[:step], probabilities[:step, digit], rtol=1e-6)
        assert np.isnan(y[step:]).all()
    (marker,) = fig.layout.shapes
    assert marker.x0 == marker.x1 == step
    leader = int(probabilities[step - 1].argmax())
    assert fig.data[leader].line.width > fig.data[(leader + 1) % 10].line.width
    assert fig.layout.yaxis.title.text == "probability"


def test_final_bars_has_ten_bars_and_the_tallest_is_the_prediction():
    probabilities = np.full(10, 0.05, np.float32)
    probabilities[3] = 0.55
    fig = figures.final_bars(probabilities)

    (bars,) = fig.data
    assert list(bars.x) == [str(d) for d in range(10)]
    assert int(np.argmax(bars.y)) == 3
    assert bars.marker.opacity[3] == 1.0 and max(bars.marker.opacity[:3]) < 1.0
    assert bars.text[3] == "55%"


@pytest.mark.parametrize(("count", "max_points"), [(0, 5), (3, 5), (1000, 50), (51, 50)])
def test_thin_keeps_first_and_last_and_stays_under_the_bound(count, max_points):
    index = figures.thin(count, max_points)
    assert len(index) == count if count <= max_points else len(index) <= max_points
    if count:
        assert index[0] == 0 and index[-1] == count - 1
        assert (np.diff(index) > 0).all()


def _records(n_progress: int) -> list[Record]:
    records = [Record("start", 0, 100, 0.0, 0)]
    for i in range(1, n_progress + 1):
        records.append(
            Record("progress", i, 100, i / 10, i * 64, loss=2.0 / i, train_accuracy=i / 100)
        )
        if i % 10 == 0:
            records.append(Record("eval", i, 100, i / 10, i * 64, val_accuracy=i / 200))
    return records


def test_training_series_thins_training_points_and_keeps_every_validation_point():
    series = figures.training_series(_records(1000), max_points=100)

    for name in ("epoch", "loss", "loss_trend", "train_accuracy", "train_accuracy_trend"):
        assert len(series[name]) == 100
    assert series["loss"][0] == 2.0 and series["loss"][-1] == pytest.approx(2.0 / 1000)
    assert len(series["val_epoch"]) == len(series["val_accuracy"]) == 100  # 1000 / 10
    np.testing.assert_allclose(series["val_accuracy"][:2], [0.05, 0.1])


def test_the_trend_averages_a_twentieth_of_the_run():
    series = figures.training_series(_records(100))

    # window 5: the last trend point is the mean of the last five records
    assert series["train_accuracy_trend"][-1] == pytest.approx(np.mean([0.96, 0.97, 0.98, 0.99, 1]))
    assert series["loss_trend"][0] == series["loss"][0]  # a shorter window at the start


def test_trailing_mean():
    np.testing.assert_allclose(figures.trailing_mean([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(figures.trailing_mean([5, 7], 1), [5, 7])
    assert len(figures.trailing_mean([], 3)) == 0


def test_training_series_of_a_run_just_started_is_empty():
    series = figures.training_series([Record("start", 0, 100, 0.0, 0)])
    assert all(len(values) == 0 for values in series.values())


def test_training_charts_plot_the_series_and_the_trend():
    series = figures.training_series(_records(30))
    loss = figures.loss_figure(series["epoch"], series["loss"], series["loss_trend"], 5)
    raw, trend = loss.data
    np.testing.assert_allclose(raw.y, series["loss"])
    np.testing.assert_allclose(trend.y, series["loss_trend"])
    assert trend.line.width > raw.line.width
    assert list(loss.layout.xaxis.range) == [0, 5]  # the whole run's width from the start

    accuracy = figures.accuracy_figure(
        series["epoch"],
        series["train_accuracy"],
        series["train_accuracy_trend"],
        series["val_epoch"],
        series["val_accuracy"],
    )
    _, train, val = accuracy.data
    assert len(train.x) == 30 and len(val.x) == 3
    assert val.name == "validation digits"


def test_class_counts_figure_has_one_bar_per_digit():
    counts = [500, 501, 502, 503, 504, 505, 506, 507, 508, 509]
    (bars,) = figures.class_counts_figure(counts).data
    assert list(bars.y) == [str(d) for d in range(10)]
    assert list(bars.x) == counts


def test_class_counts_are_written_in_full_beside_bars_that_lie_down():
    fig = figures.class_counts_figure([7, 500, 4684, 6742, 10_000, 5, 5, 5, 5, 5])
    (bars,) = fig.data
    assert bars.orientation == "h" and bars.constraintext == "none"
    assert list(bars.text[:5]) == ["7", "500", "4,684", "6,742", "10,000"]
    assert fig.layout.xaxis.range[1] > 10_000  # room for the longest number


def test_digit_grid_places_each_digit_under_its_label():
    images = np.zeros((20, 28, 28), np.uint8)
    images[:, 10, 10] = 255
    labels = np.arange(20) % 10
    fig = figures.digit_grid_figure(images, labels, columns=10)

    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (2 * (28 + 18), 10 * (28 + 4) - 4)
    assert np.nansum(z) == 20  # every digit's one white pixel, scaled to 1
    assert [a.text for a in fig.layout.annotations] == [f"<b>{d}</b>" for d in labels]


def test_a_gate_heatmap_keeps_the_0_to_1_range_of_a_sigmoid():
    gate = np.full((28, 8), 0.3, np.float32)
    heatmap = figures.state_heatmap(gate, 10, "forget gate", gate=True)
    assert (heatmap.data[0].zmin, heatmap.data[0].zmax) == (0.0, 1.0)
    assert heatmap.layout.title.text.startswith("Gate: forget gate")
    assert np.isnan(np.asarray(heatmap.data[0].z, dtype=float)[10:]).all()


def test_layout_adds_dict_settings_into_the_house_ones():
    spec = figures.layout("t", 300, margin={"t": 0}, xaxis=figures.axis("epoch", range=[0, 3]))
    assert spec["height"] == 300
    assert spec["margin"] == {"l": 10, "r": 10, "t": 0, "b": 10}
    assert figures.layout("t", 300, showlegend=False)["showlegend"] is False
    assert spec["xaxis"]["title"] == {"text": "epoch", "font": figures.text()}
    assert spec["xaxis"]["tickfont"] == figures.text()  # kept from the house axis
    assert spec["xaxis"]["range"] == [0, 3]
    assert spec["yaxis"] == figures.axis()  # untouched
    legend = figures.layout("t", 300, legend={"x": 0})["legend"]
    assert legend == {"font": figures.text(), "x": 0}


@pytest.mark.parametrize(
    "order,title",
    [
        ("rows", "step (row read)"),
        ("rows_reversed", "step (row read, from the bottom)"),
        ("columns", "step (column read)"),
    ],
)
def test_step_axes_say_what_a_step_reads(order, title):
    probabilities = np.full((28, 10), 0.1, np.float32)
    assert figures.probability_lines(probabilities, 3, order).layout.xaxis.title.text == title
    heatmap = figures.state_heatmap(np.zeros((28, 4), np.float32), 3, reading_order=order)
    assert heatmap.layout.yaxis.title.text == title

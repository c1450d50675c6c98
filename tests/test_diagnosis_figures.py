from types import SimpleNamespace

import numpy as np
import pytest

from app_pages import diagnosis_figures as df


def _record(step, epoch, sizes, kind="progress"):
    return SimpleNamespace(kind=kind, step=step, epoch=epoch, step_gradients=sizes)


def test_gradient_series_keeps_measured_records_one_per_step_the_later_first():
    records = [
        _record(0, 0.0, [1.0] * 28, "start"),
        _record(5, 0.5, None),
        _record(10, 1.0, [2.0] * 28),
        _record(10, 1.0, [3.0] * 28, "eval"),
        _record(20, 2.0, [4.0] * 28, "end"),
    ]

    epochs, sizes = df.gradient_series(records)

    assert epochs.tolist() == [0.0, 1.0, 2.0]
    assert sizes.shape == (3, 28)
    assert sizes[:, 0].tolist() == [1.0, 3.0, 4.0]


def test_gradient_series_of_a_long_run_is_thinned_first_and_last_kept():
    records = [_record(s, s / 100, [float(s + 1)] * 28) for s in range(1000)]
    epochs, sizes = df.gradient_series(records, max_columns=50)
    assert len(epochs) == 50 and sizes.shape == (50, 28)
    assert (epochs[0], epochs[-1]) == (0.0, 9.99)


def test_no_measured_record_gives_empty_arrays():
    epochs, sizes = df.gradient_series([_record(0, 0.0, None, "start")])
    assert epochs.shape == (0,) and sizes.shape[0] == 0


def test_the_gradient_heatmap_has_step_1_on_top_and_log_colours():
    epochs = np.array([0.0, 0.5, 1.0])
    sizes = np.array([np.logspace(-7, 0, 28)] * 3)  # step 1 gets 1e-7, step 28 gets 1

    fig = df.gradient_heatmap(epochs, sizes, total_epochs=2, reading_order="columns")

    heat = fig.data[0]
    z = np.asarray(heat.z)
    assert z.shape == (28, 3)  # steps down, records across
    assert z[0, 0] == pytest.approx(-7) and z[-1, 0] == pytest.approx(0)
    assert (heat.zmin, heat.zmax) == (-7, 0)
    assert list(heat.colorbar.tickvals) == list(range(-7, 1))
    assert heat.colorbar.ticktext[0] == "10<sup>-7</sup>" and heat.colorbar.ticktext[-1] == "1"
    assert np.asarray(heat.customdata)[0, 0] == pytest.approx(1e-7)  # hover shows the size
    assert list(fig.layout.yaxis.range) == [28.5, 0.5]  # step 1 at the top
    assert list(fig.layout.xaxis.range) == [0, 2]  # the whole run from the start
    assert fig.layout.yaxis.title.text == "step (column read)"


def test_the_gradient_colours_span_at_most_eight_powers_of_ten_and_survive_zeros():
    sizes = np.array([[0.0] + [1e-20] + [1.0] * 26])  # a dead ReLU step, a vanished one

    heat = df.gradient_heatmap(np.array([0.0]), sizes).data[0]

    z = np.asarray(heat.z)[:, 0]
    assert (heat.zmin, heat.zmax) == (-8, 0)
    assert z[0] == z[1] == -8 and np.isfinite(z).all()


def test_the_confusion_figure_writes_every_count_true_digits_down():
    matrix = np.diag([50] * 10)
    matrix[4, 9] = 3
    matrix[4, 4] = 47

    fig = df.confusion_figure(matrix, selected=(4, 9))

    heat = fig.data[0]
    text = np.asarray(heat.text)
    assert text[4, 9] == "3" and text[4, 4] == "47" and text[9, 4] == ""  # no mistake: blank
    assert np.asarray(heat.customdata)[4, 9] == 3
    # a click lands on the marker of its cell: (true, read as) -> its count
    markers = fig.data[1]
    points = zip(markers.x, markers.y, markers.customdata, strict=True)
    cells = {(int(y), int(x)): int(n) for x, y, n in points}
    assert len(cells) == 100 and cells[(4, 9)] == 3 and cells[(9, 4)] == 0
    assert list(fig.layout.yaxis.range) == [9.5, -0.5]  # 0 at the top
    assert fig.layout.xaxis.title.text == "read as" and fig.layout.yaxis.title.text == "true digit"
    (box,) = fig.layout.shapes
    assert (box.x0, box.x1, box.y0, box.y1) == (8.5, 9.5, 3.5, 4.5)
    assert not df.confusion_figure(matrix).layout.shapes


def test_confusion_colours_separate_right_answers_from_mistakes():
    matrix = np.zeros((10, 10), dtype=int)
    matrix[0, 0], matrix[1, 1], matrix[2, 7], matrix[3, 5] = 40, 20, 4, 1

    colours = df.confusion_colours(matrix)

    assert colours[0, 0] == 1.0 and colours[1, 1] == 0.755 and colours[5, 5] == 0.51
    assert colours[2, 7] == 0.49 and colours[3, 5] == 0.1225  # a single mistake still shows
    assert colours[9, 0] == 0.0  # no mistake: white


@pytest.mark.parametrize(
    "points,cell",
    [
        ([{"x": 9, "y": 4, "z": 0.3}], (4, 9)),
        ([{"x": 2.0, "y": 2.0}], (2, 2)),
        ([], None),
        (None, None),
        ([{"x": None, "y": 3}, {"x": 1, "y": 7}], (7, 1)),
        ([{"x": 12, "y": 3}], None),
    ],
)
def test_a_click_names_the_cell_true_digit_first(points, cell):
    assert df.clicked_cell(points) == cell


def test_an_enlarged_digit_copies_its_pixels():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[3, 5] = 200

    big = df.enlarged_digit(image, 4)

    assert big.shape == (112, 112) and big.dtype == np.uint8
    assert (big[12:16, 20:24] == 200).all() and big.sum() == 200 * 16
    with pytest.raises(ValueError):
        df.enlarged_digit(np.zeros((20, 20)))


def test_a_click_anywhere_in_a_cell_picks_it():
    # plotly picks the nearest marker with no distance limit; on a grid of cell centres the
    # nearest is the cell's own (the browser test clicks near a corner)
    assert df.confusion_figure(np.eye(10, dtype=int)).layout.hoverdistance == -1

"""Presentation mode and the PNG button: app_pages/show.py alone and in the app."""

import io
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image

from app_pages import figures, inside_figures, show
from tests.test_app import _upload


def _title_sizes(at) -> dict[str, float]:
    """Title font size of each plotly figure on the page, by its key."""
    sizes = {}
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        sizes[element.proto.id.rsplit("-", 1)[-1]] = spec["layout"]["title"]["font"]["size"]
    return sizes


def test_enlarge_scales_every_font_and_the_height():
    fig = figures.final_bars(np.full(10, 0.1))
    height = fig.layout.height

    fig = show.enlarge(fig, 2.0)

    assert fig.layout.height == 2 * height
    assert fig.layout.font.size == 2 * figures.FONT_SIZE
    assert fig.layout.title.font.size == 2 * figures.TITLE_SIZE
    assert fig.layout.xaxis.tickfont.size == 2 * figures.FONT_SIZE
    assert fig.layout.yaxis.title.font.size == 2 * figures.FONT_SIZE
    assert figures.final_bars(np.full(10, 0.1)).layout.font.size == figures.FONT_SIZE  # a copy


def test_enlarge_reaches_second_axes_annotations_legend_titles_and_text_on_charts():
    grid = figures.digit_grid_figure(np.zeros((3, 28, 28), np.uint8), np.arange(3))
    grid = show.enlarge(grid, 2.0)
    assert [a.font.size for a in grid.layout.annotations] == [2 * (figures.FONT_SIZE + 1)] * 3
    drops = np.linspace(-1, 3, 28)
    rows = inside_figures.rows_figure(np.zeros((28, 28)), 3, "rows", 1, drops, drops, np.ones(28))
    assert show.enlarge(rows, 2.0).layout.xaxis2.tickfont.size == 2 * (figures.FONT_SIZE - 2)
    epochs = np.linspace(0, 1, 5)
    accuracy = figures.accuracy_figure(epochs, epochs, epochs, epochs, epochs)
    below = accuracy.layout.legend.y
    assert below < 0 and show.enlarge(accuracy, 2.0).layout.legend.y == 2 * below
    lines = show.enlarge(figures.probability_lines(np.full((28, 10), 0.1), 5), 2.0)
    assert lines.layout.legend.title.font.size == 2 * figures.FONT_SIZE
    path = inside_figures.path_figure(
        np.linspace(0, 1, 56).reshape(28, 2), 5, np.eye(10, 2), np.full((28, 10), 0.1), np.zeros(2)
    )
    sizes = [t.textfont.size for t in path.data if t.textfont.size]
    assert [t.textfont.size for t in show.enlarge(path, 2.0).data if t.textfont.size] == [
        2 * size for size in sizes
    ]  # the digits and the step numbers written on the map


def test_every_figure_offers_only_a_png_download():
    config = show.plot_config("final_bars")

    assert config["modeBarButtons"] == [["toImage"]]
    assert config["toImageButtonOptions"]["format"] == "png"
    assert config["toImageButtonOptions"]["filename"] == "rnn-digit-lab-final_bars"


def test_the_address_turns_presentation_mode_on_and_enlarges_the_figures(app):
    app.query_params["present"] = "1"
    app.run()
    app.switch_page("app_pages/training.py").run()

    assert not app.exception
    assert app.toggle(key=show.TOGGLE_KEY).value is True
    assert _title_sizes(app)["counts"] == round(figures.TITLE_SIZE * show.SCALE)
    assert app.query_params["present"] == "1"  # kept across the page switch
    assert not [m for m in app.markdown if m.value.startswith("Train your own")]  # no intro


def test_switching_presentation_off_restores_the_page(app):
    app.query_params["present"] = "1"
    app.run()
    app.switch_page("app_pages/training.py").run()

    app.toggle(key=show.TOGGLE_KEY).set_value(False).run()

    assert "present" not in app.query_params
    assert _title_sizes(app)["counts"] == figures.TITLE_SIZE


def test_presentation_mode_gives_the_step_views_the_room_of_the_final_bars(app, sample_digits):
    images, labels = sample_digits
    buffer = io.BytesIO()
    Image.fromarray(images[int(np.flatnonzero(labels == 4)[0])]).save(buffer, format="PNG")
    app.query_params["present"] = "1"
    _upload(app.run(), buffer.getvalue())

    assert not app.exception
    charts = {element.proto.id.rsplit("-", 1)[-1] for element in app.get("plotly_chart")}
    assert "final_bars" not in charts
    assert {"input_figure", "state_heatmap", "probability_lines", "hidden_path"} <= charts
    assert [m.value for m in app.metric if m.label == "Prediction"] == ["4"]


def test_a_figure_can_keep_its_height_when_enlarged():
    fig = figures.final_bars(np.full(10, 0.1))
    height = fig.layout.height

    fig = show.enlarge(fig, 2.0, scale_height=False)

    assert fig.layout.height == height
    assert fig.layout.font.size == 2 * figures.FONT_SIZE


@pytest.mark.parametrize(("setting", "threads"), [(None, 1), ("3", 3), ("many", 1), ("0", 1)])
def test_the_app_runs_torch_on_the_threads_it_is_given(app, monkeypatch, setting, threads):
    # A thread keeps the count it had; threads started later (a training run's) get the new one.
    before = torch.get_num_threads()
    if setting is None:
        monkeypatch.delenv("RNN_DIGIT_LAB_TORCH_THREADS", raising=False)
    else:
        monkeypatch.setenv("RNN_DIGIT_LAB_TORCH_THREADS", setting)
    try:
        app.run()
        assert not app.exception
        with ThreadPoolExecutor(max_workers=1) as pool:
            assert pool.submit(torch.get_num_threads).result() == threads
    finally:
        torch.set_num_threads(before)

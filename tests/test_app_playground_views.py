"""The Playground's views inside the network through AppTest: which rows mattered, the path of
the memory, the reading order, the gallery, a digit handed over, and the address that brings
a view back. Digits go in through the gallery, an upload or the address (AppTest cannot draw
on the canvas); a "drawn" 7 is the browser tests' 7 stroked with PIL at the canvas's size."""

import base64
import io
import re
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from app_pages import inside, state
from rnn_model import ModelConfig, RowClassifier, bundled_path, load_model, trace
from rnn_model.analysis import step_importance
from rnn_model.files import model_to_bytes
from tests.e2e.harness import SEVEN
from tests.test_app import _array, _button, _charts, _upload
from training.data import load_training_data
from training.engine import TrainConfig
from training.job import TrainingJob

TIMEOUT = 60
CANVAS = 280


@pytest.fixture(scope="module")
def val():
    return load_training_data("sample").val


@pytest.fixture(scope="module")
def gru():
    return load_model(bundled_path("gru"))[0]


@pytest.fixture(scope="module")
def seven_png() -> bytes:
    """The 7 the browser tests draw, stroked as the canvas does (white, 20 px, on black)."""
    picture = Image.new("L", (CANVAS, CANVAS), 0)
    pen = ImageDraw.Draw(picture)
    for stroke in SEVEN:
        points = [(x * CANVAS, y * CANVAS) for x, y in stroke]
        pen.line(points, fill=255, width=20, joint="curve")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _open(app, **params) -> AppTest:
    """The Playground opened at an address with these query parameters."""
    for key, value in params.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception
    return app


def _prediction(app) -> str:
    (metric,) = [m for m in app.metric if m.label == "Prediction"]
    return metric.value


def _named(chart: dict, name: str) -> dict:
    (trace_,) = [t for t in chart["data"] if t.get("name") == name]
    return trace_


def _bars(chart: dict) -> dict:
    (bars,) = [t for t in chart["data"] if t["type"] == "bar"]
    return bars


def _image_on_show(app) -> np.ndarray:
    return _array(_charts(app)["input_figure"]["data"][0]["z"])  # (28, 28) in [0, 1]


def _unescaped(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _first(val, digit: int) -> int:
    return int(np.flatnonzero(val.labels.numpy() == digit)[0])


# -- which rows mattered --------------------------------------------------------------------


def test_blanking_the_rows_of_a_drawn_seven_weakens_it_most_where_the_ink_is(app, seven_png, gru):
    _upload(app.run(), seven_png)
    assert not app.exception and _prediction(app) == "7"

    image = _image_on_show(app)
    bars = _bars(_charts(app)["input_figure"])
    rows, tenfolds = _array(bars["y"]).astype(int), _array(bars["x"])
    assert sorted(rows) == list(range(1, 29))  # one bar per row, at its row
    by_row = dict(zip(rows, tenfolds, strict=True))
    ink = {r for r in range(1, 29) if image[r - 1].sum() > 0}

    strongest = max(by_row, key=by_row.get)
    assert strongest in ink
    assert by_row[strongest] > 0.5  # more than three times less sure
    assert all(abs(by_row[r]) < 1e-3 for r in set(by_row) - ink)  # paper matters nothing
    # the bars are the analysis' own numbers, in tenfolds
    expected = step_importance(gru, image.astype(np.float32)).evidence_drop / np.log(10)
    np.testing.assert_allclose([by_row[r] for r in range(1, 29)], expected, atol=1e-3)
    assert any("times less sure the network is that it is a 7" in c.value for c in app.caption)


def test_row_bars_are_computed_once_per_digit_and_model(app, seven_png, monkeypatch):
    calls = []

    def counting(model, image):
        calls.append(1)
        return real(model, image)

    real = inside.step_importance
    monkeypatch.setattr(inside, "step_importance", counting)
    _upload(app.run(), seven_png)
    for step in (3, 17, 28):
        app.slider(key="step_slider").set_value(step).run()
    assert len(calls) == 1
    app.selectbox(key="model_choice").set_value("Bundled LSTM").run()
    assert len(calls) == 2
    colours = _bars(_charts(app)["input_figure"])["marker"]["color"]
    assert colours.count("#FFB000") == 1  # the current step's bar, in the accent colour


# -- the path of the memory ----------------------------------------------------------------


def test_the_path_has_28_steps_revealed_with_the_step_and_ten_class_ends(app, val, gru):
    index = _first(val, 4)
    _open(app, digit=f"sample-{index}")
    app.slider(key="step_slider").set_value(12).run()

    chart = _charts(app)["hidden_path"]
    path, ends, now = _named(chart, "path"), _named(chart, "typical ends"), _named(chart, "now")
    x, y = _array(path["x"]), _array(path["y"])
    assert len(x) == len(y) == 28
    assert np.isfinite(x[:12]).all() and np.isnan(x[12:]).all()
    assert len(_array(ends["x"])) == 10

    # the points are the digit's top-layer states on the model's shared map
    hidden_map = inside._bundled_reference("gru").hidden_map
    image = val.images[index].numpy() / 255.0
    expected = hidden_map.project(trace(gru, image).hidden[-1])  # (28, 2)
    np.testing.assert_allclose(np.c_[x[:12], y[:12]], expected[:12], atol=1e-4)
    np.testing.assert_allclose([now["x"][0], now["y"][0]], expected[11], atol=1e-4)
    # a 4 read to the end lands nearer the 4s' end than most digits' ends
    distances = np.linalg.norm(hidden_map.class_ends - expected[-1], axis=1)
    assert np.argsort(distances).tolist().index(4) <= 2
    assert "now step 12" in chart["layout"]["title"]["text"]


def test_a_bundled_models_map_is_fitted_once_for_every_digit_and_visitor(val, monkeypatch):
    fits = []

    def counting(*args, **kwargs):
        fits.append(1)
        return real(*args, **kwargs)

    real = inside.fit_hidden_map
    monkeypatch.setattr(inside, "fit_hidden_map", counting)
    inside._bundled_reference.clear()
    for index in (_first(val, 2), _first(val, 5)):  # two visitors, a digit each
        at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
        _open(at, digit=f"sample-{index}")
        at.radio(key="input_mode").set_value("Pick from the gallery").run()
        at.button(key=f"gallery-{_first(val, 8)}").click().run()  # and another digit
        assert not at.exception and _prediction(at) == "8"
    assert len(fits) == 1


def test_an_uploaded_model_is_mapped_in_its_session_and_brings_its_reading_order(app, val):
    torch.manual_seed(0)
    model = RowClassifier(ModelConfig(hidden_size=8, reading_order="columns")).eval()
    app.run()
    app.selectbox(key="model_choice").set_value("Upload a model file…").run()
    app.file_uploader(key="model_file").set_value(
        ("columns.safetensors", model_to_bytes(model), "application/octet-stream")
    )
    app.run()
    app.radio(key="input_mode").set_value("Pick from the gallery").run()
    app.button(key=f"gallery-{_first(val, 3)}").click().run()

    assert not app.exception
    assert app.radio(key="playground_order").value == "columns"
    assert app.selectbox(key="model_choice").value == "Uploaded: columns.safetensors"
    (model_id,) = app.session_state[inside.REFERENCE_KEY].keys()
    assert model_id.startswith("upload-")
    chart = _charts(app)["hidden_path"]
    assert len(_array(_named(chart, "path")["x"])) == 28
    assert app.query_params["model"] == "upload" and app.query_params["order"] == "columns"

    # choosing another order leaves the uploaded model for a bundled one that reads that way
    app.radio(key="playground_order").set_value("rows").run()
    assert app.selectbox(key="model_choice").value == "Bundled GRU"
    assert any(
        _unescaped(c.value) == "Uploaded: columns.safetensors reads column by column: "
        "choose that reading order to use it."
        for c in app.caption
    )


# -- reading order -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order,models,title,slider",
    [
        ("rows", ["Bundled GRU", "Bundled LSTM", "Bundled vanilla RNN"], "row 5 at step 5", "rows"),
        ("rows_reversed", ["Bundled GRU"], "row 24 at step 5", "rows"),
        ("columns", ["Bundled GRU"], "column 5 at step 5", "columns"),
    ],
)
def test_each_reading_order_offers_its_models_and_every_view_reads_that_way(
    app, val, order, models, title, slider
):
    app.run()
    app.radio(key="playground_order").set_value(order).run()
    options = app.selectbox(key="model_choice").options
    assert options[:-1] == models and options[-1] == "Upload a model file…"
    links = app.get("page_link")
    if order == "rows":
        assert not links
    else:
        assert [link.proto.page for link in links] == ["training"]
        assert any(
            "To watch an LSTM or a vanilla RNN read this way" in c.value for c in app.caption
        )

    app.radio(key="input_mode").set_value("Pick from the gallery").run()
    app.button(key=f"gallery-{_first(val, 7)}").click().run()
    app.slider(key="step_slider").set_value(5).run()
    assert not app.exception
    assert app.slider(key="step_slider").label == f"Step ({slider} read)"
    charts = _charts(app)
    assert charts["input_figure"]["layout"]["title"]["text"].endswith(title)
    band = charts["input_figure"]["layout"]["shapes"][0]
    kind, at = title.split()[:2]
    centre = (band["y0"] + band["y1"]) / 2 if kind == "row" else (band["x0"] + band["x1"]) / 2
    assert centre == int(at)
    # the accent bar is at the same row or column as the band
    bars = _bars(charts["input_figure"])
    positions = _array(bars["x"] if kind == "column" else bars["y"])
    assert positions[bars["marker"]["color"].index("#FFB000")] == int(at)
    hover = _named(charts["hidden_path"], "path")["hovertext"]
    assert hover[4].startswith(f"step 5 ({kind} {at})")
    assert any(
        re.search(rf"after step \d+ of 28 \(which reads {kind} \d+\)", c.value) for c in app.caption
    )
    assert app.query_params.get("order", "rows") == order  # the default is left out


def test_a_model_that_does_not_read_the_new_way_gives_way_to_the_gru(app):
    app.run()
    app.selectbox(key="model_choice").set_value("Bundled LSTM").run()
    app.radio(key="playground_order").set_value("columns").run()
    assert app.selectbox(key="model_choice").value == "Bundled GRU"
    accuracy = load_model(bundled_path("gru-columns"))[1].training["val_accuracy"]
    assert any(f"{accuracy:.1%} right" in m.value for m in app.markdown)  # the one for columns
    app.radio(key="playground_order").set_value("rows").run()
    assert app.selectbox(key="model_choice").value == "Bundled GRU"
    assert not app.exception


# -- the gallery and digits handed over ----------------------------------------------------


def test_the_gallery_has_two_of_each_digit_and_the_misread_ones_say_what_the_model_says(app, val):
    app.run()
    app.radio(key="input_mode").set_value("Pick from the gallery").run()
    assert any(i.value.startswith("Pick a digit from the gallery") for i in app.info)
    gallery = [b for b in app.button if b.key and b.key.startswith("gallery-")]
    labels = val.labels.numpy()
    by_digit, misread = gallery[:20], gallery[20:]
    assert [b.label for b in by_digit] == [str(d) for d in range(10) for _ in range(2)]
    assert all(labels[int(b.key.split("-")[1])] == int(b.label) for b in gallery)
    assert 1 <= len(misread) <= 10
    says = [c.value for c in app.caption if c.value.startswith("misread: the model says")]
    assert len(says) == len(misread)

    # a misread digit, read: the model says what its caption said
    button, caption = misread[0], says[0]
    button.click().run()
    assert not app.exception
    assert _prediction(app) == caption.rsplit(" ", 1)[-1] != button.label
    assert app.button(key=button.key).proto.type == "primary"
    assert app.query_params["digit"] == button.key.replace("gallery-", "sample-")

    _button(app, "Back to drawing").click().run()
    assert app.radio(key="input_mode").value == "Draw"
    assert state.OPENED_KEY not in app.session_state
    assert any(i.value.startswith("Draw a digit in the box") for i in app.info)
    assert "digit" not in app.query_params and "step" not in app.query_params


def test_a_digit_handed_over_is_read_instead_of_the_canvas(app, val):
    index = _first(val, 9)
    app.session_state[state.OPENED_KEY] = (
        val.images[index].numpy(),
        "From the Training page: *a* 9",
    )
    app.run()
    assert not app.exception
    assert _prediction(app) == "9"
    # shown as text, its markdown escaped
    assert any(_unescaped(c.value) == "From the Training page: *a* 9" for c in app.caption)
    assert not any("<em>" in c.value or c.value.count("*a*") for c in app.caption)
    assert app.query_params["digit"].startswith("z")  # not a gallery digit: its pixels
    _button(app, "Back to drawing").click().run()
    assert not [m for m in app.metric if m.label == "Prediction"]


def test_the_training_pages_hand_over_brings_its_model_and_reading_order(app, val):
    # as the Training page's "open in Playground" does: a digit, this session's model, a switch
    job = TrainingJob(
        ModelConfig(hidden_size=8, reading_order="rows_reversed"),
        TrainConfig(epochs=1, seed=1),
        load_training_data("sample"),
        "sample",
    ).start()
    assert job.wait(120) and job.view().state == "finished"
    app.session_state[state.JOB_KEY] = job
    app.run()
    assert app.radio(key="playground_order").value == "rows"
    assert "Trained in this session" not in app.selectbox(key="model_choice").options
    assert any("reads bottom to top: choose that reading order" in c.value for c in app.caption)

    app.switch_page("app_pages/training.py").run()
    index = _first(val, 6)
    app.session_state[state.OPENED_KEY] = (val.images[index].numpy(), "A 6 from the run")
    app.session_state["model_choice"] = "Trained in this session"
    app.switch_page("app_pages/playground.py").run()
    assert not app.exception
    assert app.radio(key="playground_order").value == "rows_reversed"
    assert app.selectbox(key="model_choice").value == "Trained in this session"
    assert any(_unescaped(c.value) == "A 6 from the run" for c in app.caption)
    assert _prediction(app) == str(trace(job.trained_model(), val.images[index] / 255.0).prediction)
    assert app.query_params["model"] == "session"
    assert app.query_params["order"] == "rows_reversed"


def test_choosing_another_input_leaves_the_digit_handed_over(app, val):
    app.session_state[state.OPENED_KEY] = (val.images[0].numpy(), "handed over")
    app.run()
    app.radio(key="input_mode").set_value("Upload a picture").run()
    assert state.OPENED_KEY not in app.session_state
    assert any(i.value.startswith("Upload a picture of one digit") for i in app.info)


# -- the address ---------------------------------------------------------------------------


def test_an_address_opens_the_digit_model_step_and_view_it_names(app, val):
    index = _first(val, 3)
    _open(app, order="rows", model="bundled-lstm", digit=f"sample-{index}", step="12",
          view="forget gate", present="1")  # fmt: skip

    assert not app.warning
    assert app.selectbox(key="model_choice").value == "Bundled LSTM"
    assert app.slider(key="step_slider").value == 12
    assert app.selectbox(key="state-view-lstm").value == "forget gate"
    assert app.radio(key="input_mode").value == "Pick from the gallery"
    assert app.button(key=f"gallery-{index}").proto.type == "primary"
    assert _prediction(app) == "3"
    charts = _charts(app)
    assert charts["state_heatmap"]["layout"]["title"]["text"].startswith("Gate: forget gate")
    assert charts["input_figure"]["layout"]["title"]["text"].endswith("row 12 at step 12")

    # the address follows the visitor, and ?present=1 stays
    app.slider(key="step_slider").set_value(20).run()
    app.selectbox(key="state-view-lstm").set_value("cell state c_t").run()
    assert app.query_params["step"] == "20" and app.query_params["view"] == "cell state"
    assert app.query_params["present"] == "1"


@pytest.mark.parametrize("view", ["cell state", "cell state c_t", "Cell_State_c_t"])
def test_an_address_may_name_a_view_as_the_page_shows_it(app, val, view):
    _open(app, model="bundled-lstm", digit=f"sample-{_first(val, 3)}", view=view)
    assert not app.warning
    assert app.selectbox(key="state-view-lstm").value == "cell state c_t"


def test_a_drawn_digit_travels_in_the_address(app, seven_png):
    _upload(app.run(), seven_png)
    app.slider(key="step_slider").set_value(7).run()
    code = app.query_params["digit"]
    assert code.startswith("z") and len(code) < 600
    image = _image_on_show(app)

    again = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    assert set(app.query_params) == {"digit", "step"}  # the defaults are left out
    _open(again, digit=code, step=app.query_params["step"])
    assert not again.warning
    assert _prediction(again) == "7"
    assert again.slider(key="step_slider").value == 7
    assert any(c.value == "A digit from a bookmarked address" for c in again.caption)
    np.testing.assert_allclose(_image_on_show(again), image, atol=1 / 30)  # 16 grey levels
    assert again.query_params["digit"] == code  # and writes the same address back


def test_a_bad_address_warns_once_and_opens_with_defaults(app):
    _open(app, model="bundled-lstm", order="sideways", step="99", digit="zNOTADIGIT", present="1")

    assert not app.exception
    (warning,) = app.warning
    for part in ("order=sideways", "step=99", "digit"):
        assert part in warning.value
    assert app.selectbox(key="model_choice").value == "Bundled LSTM"  # the good part is used
    assert app.radio(key="playground_order").value == "rows"
    assert any(i.value.startswith("Draw a digit in the box") for i in app.info)
    assert dict(app.query_params) == {"present": "1", "model": "bundled-lstm"}


@pytest.mark.parametrize(
    "params,problem",
    [
        ({"model": "bundled-lstm", "order": "columns"}, "only a GRU is bundled that reads column"),
        ({"model": "session"}, "model from another visit is not kept"),
        ({"model": "../../etc/passwd"}, "model=../../etc/passwd (no such model)"),
        ({"digit": "sample-99999"}, "digit (not a digit this page wrote)"),
        ({"digit": "sample-4", "view": "forget gate"}, "the GRU has no such view"),
        ({"digit": "sample-4", "step": "0"}, "step=0"),
        ({"digit": "sample-4", "step": "twelve"}, "step=twelve"),
    ],
)
def test_each_bad_part_of_an_address_is_named(app, params, problem):
    _open(app, **params)
    (warning,) = app.warning
    assert problem in warning.value
    assert warning.value.startswith("Part of this address could not be used")


def test_the_warning_goes_once_the_visitor_moves_on(app, val):
    _open(app, digit=f"sample-{_first(val, 1)}", step="99")
    assert app.warning
    assert app.slider(key="step_slider").value == 28  # the default for a new digit
    app.run()
    assert app.warning  # still there while nothing changed
    app.slider(key="step_slider").set_value(3).run()
    app.run()
    assert not app.warning


# -- the digit code ------------------------------------------------------------------------


def test_digit_codes_round_trip_at_16_grey_levels(val):
    for index in (0, 123, 499):
        image = val.images[index].numpy() / 255.0
        code = inside.encode_digit(image)
        assert re.fullmatch(r"z[A-Za-z0-9_-]+", code) and len(code) < 400
        np.testing.assert_allclose(inside.decode_digit(code) / 255.0, image, atol=1 / 30)
    worst = np.random.default_rng(0).random((28, 28))  # noise: zlib cannot shrink it
    assert len(inside.encode_digit(worst)) < 560


@pytest.mark.parametrize(
    "code",
    [
        "",
        "z",
        "zzzz",
        "x" + inside.encode_digit(np.zeros((28, 28)))[1:],
        inside.encode_digit(np.ones((28, 28)))[:-4],  # cut short
        "z" + "A" * 2000,  # too long to be a digit
        # a zip bomb: a megabyte of zeros in a few hundred characters
        "z" + base64.urlsafe_b64encode(zlib.compress(bytes(1 << 20), 9)).decode().rstrip("="),
        # the right length, then more
        "z" + base64.urlsafe_b64encode(zlib.compress(bytes(393), 9)).decode().rstrip("="),
    ],
)
def test_anything_but_a_digit_code_is_refused(code):
    with pytest.raises(ValueError):
        inside.decode_digit(code)


def test_the_address_names_only_what_differs_from_the_defaults(app, val):
    app.run()
    assert dict(app.query_params) == {}  # the landing page keeps a plain address
    app.selectbox(key="model_choice").set_value("Bundled LSTM").run()
    assert dict(app.query_params) == {"model": "bundled-lstm"}
    app.radio(key="input_mode").set_value("Pick from the gallery").run()
    app.button(key=f"gallery-{_first(val, 5)}").click().run()
    assert dict(app.query_params) == {
        "model": "bundled-lstm",
        "digit": f"sample-{_first(val, 5)}",
        "step": "28",
    }

"""The Training page's views inside a run, through AppTest: the gradient reaching each step,
the confusion matrix, its chosen cell, and the misread digits handed to the Playground."""

import numpy as np
import pytest

from app_pages import diagnosis_ui, state
from tests.test_app import _array, _button, _charts, _training_page

RUN_TIMEOUT_S = 600  # one short epoch; the CPU may be shared with much else


def _trained(app, **settings):
    # large batches: fewer steps, so the epoch is quick even on a busy CPU
    _training_page(app, hidden_size=16, epochs=1, seed=3, batch_size=256, **settings)
    _button(app, "Start training").click().run()
    job = app.session_state[state.JOB_KEY]
    assert job.wait(RUN_TIMEOUT_S)
    app.run()
    assert not app.exception
    return job


def _markdown(app) -> list[str]:
    return [m.value for m in app.markdown]


def _open_buttons(app, gallery: str) -> list:
    return [b for b in app.button if b.key and b.key.startswith(f"open-{gallery}-")]


@pytest.mark.parametrize(
    "settings",
    [
        {},  # GRU, rows
        {"cell": "Vanilla RNN (tanh)", "reading_order": "rows_reversed"},
        {"cell": "LSTM", "num_layers": 2, "reading_order": "columns"},
    ],
    ids=["gru", "rnn-reversed", "lstm-2-layers-columns"],
)
def test_a_finished_run_shows_its_gradients_its_confusion_matrix_and_its_mistakes(app, settings):
    job = _trained(app, **settings)

    charts = _charts(app)
    assert {"loss", "accuracy", "step_gradients", "confusion"} <= set(charts)

    # one column per record that measured the gradients, one row per step
    measured = [r for r in job.view().records if r.step_gradients is not None]
    z = _array(charts["step_gradients"]["data"][0]["z"])
    assert z.shape == (28, len(measured))
    assert any("gradient" in c.value and "step 1" in c.value for c in app.caption)

    # the matrix counts every validation digit, as the model reads them
    memo_job, diagnosis = app.session_state[diagnosis_ui.DIAGNOSIS_KEY]
    assert memo_job == id(job)
    counts = _array(charts["confusion"]["data"][0]["customdata"])
    assert counts.sum() == len(job.data.val) == 500
    assert np.array_equal(counts, diagnosis.matrix)
    assert np.array_equal(diagnosis.labels, job.data.val.labels.numpy())
    right = int(np.trace(counts))
    assert any(m.value == f"{right:,} of 500" for m in app.metric)
    assert right / 500 == pytest.approx(job.view().last.val_accuracy)

    # the mistakes, up to a gallery's worth, each with its labels and a button
    wrong = int(counts.sum() - right)
    assert f"**Digits it read wrong: {wrong:,} of 500**" in _markdown(app)
    assert len(_open_buttons(app, "wrong")) == min(wrong, diagnosis_ui.SHOWN)
    first = int(_open_buttons(app, "wrong")[0].key.rsplit("-", 1)[1])
    true, read_as = int(diagnosis.labels[first]), int(diagnosis.predictions[first])
    assert true != read_as
    assert f"true **{true}**, read as **{read_as}**" in _markdown(app)


def test_the_gradients_grow_live_while_the_run_goes(app):
    _training_page(app, hidden_size=16, epochs=20)  # a record every 7 batches
    _button(app, "Start training").click().run()
    job = app.session_state[state.JOB_KEY]

    def columns() -> int:
        charts = _charts(app)
        if "step_gradients" not in charts:
            return 0
        return _array(charts["step_gradients"]["data"][0]["z"]).shape[1]

    for _ in range(1000):  # the page's timer reruns the view every second; here we do
        app.run()
        if columns() >= 3:
            break
    assert not app.exception and not job.view().done
    assert _array(_charts(app)["step_gradients"]["data"][0]["z"]).shape[0] == 28
    assert columns() >= 3
    assert "confusion" not in _charts(app)  # only once the run has a model


def test_a_chosen_cell_shows_its_digits_and_the_matrix_outlines_it(app):
    _trained(app)
    _, diagnosis = app.session_state[diagnosis_ui.DIAGNOSIS_KEY]
    mistakes = diagnosis.matrix * (1 - np.eye(10, dtype=int))
    true, read_as = np.unravel_index(mistakes.argmax(), mistakes.shape)
    count = int(mistakes[true, read_as])
    assert count > 0

    app.session_state[diagnosis_ui.CELL_KEY] = (int(true), int(read_as))
    app.run()

    assert not app.exception
    assert f"**Digits {true} read as {read_as}: {count}**" in _markdown(app)
    assert len(_open_buttons(app, "cell")) == min(count, diagnosis_ui.SHOWN)
    (box,) = _charts(app)["confusion"]["layout"]["shapes"]
    assert (box["x0"], box["y0"]) == (read_as - 0.5, true - 0.5)


def test_an_empty_cell_says_so(app):
    _trained(app)
    _, diagnosis = app.session_state[diagnosis_ui.DIAGNOSIS_KEY]
    true, read_as = map(int, np.argwhere(diagnosis.matrix == 0)[0])

    app.session_state[diagnosis_ui.CELL_KEY] = (true, read_as)
    app.run()

    assert not app.exception
    assert any(
        f"No {true} of the validation digits was read as {read_as}" in i.value for i in app.info
    )
    assert not _open_buttons(app, "cell")


def test_the_diagnosis_is_worked_out_once_per_run(app, monkeypatch):
    calls = []
    real = diagnosis_ui.diagnose

    def counting(model, digits):
        calls.append(1)
        return real(model, digits)

    monkeypatch.setattr(diagnosis_ui, "diagnose", counting)
    job = _trained(app)
    app.run()
    app.run()

    assert len(calls) == 1
    assert app.session_state[diagnosis_ui.DIAGNOSIS_KEY][0] == id(job)


def test_open_hands_a_misread_digit_and_the_session_model_to_the_playground(app):
    job = _trained(app)
    _, diagnosis = app.session_state[diagnosis_ui.DIAGNOSIS_KEY]
    button = _open_buttons(app, "wrong")[0]
    index = int(button.key.rsplit("-", 1)[1])

    button.click().run()

    assert not app.exception
    assert app.title[0].value == "Playground"
    image, caption = app.session_state[state.OPENED_KEY]
    assert np.array_equal(image, job.data.val.images[index].numpy())
    assert image.dtype == np.uint8 and image.shape == (28, 28)
    true, read_as = diagnosis.labels[index], diagnosis.predictions[index]
    assert caption == f"Validation digit {index}: true {true}, read as {read_as}"
    assert app.session_state["model_choice"] == diagnosis_ui.SESSION_CHOICE
    assert app.selectbox(key="model_choice").value == diagnosis_ui.SESSION_CHOICE


@pytest.mark.parametrize(
    "sizes,sentence",
    [
        ([1e-7] + [0.1] * 26 + [0.4], "step 1 gets about 1/4,000,000 of the gradient"),
        ([0.03] + [0.1] * 26 + [0.1], "step 1 gets about 1/3 of the gradient"),
        ([0.3] + [0.1] * 26 + [0.4], "step 1 gets 75% of the gradient"),
        ([0.0] * 28, "no gradient reaches the last step"),
    ],
)
def test_the_sentence_under_the_heatmap_rounds_the_ratio_to_one_digit(sizes, sentence):
    assert sentence in diagnosis_ui._ratio_sentence(np.array(sizes))

"""The Training page's "Compare cells" section through AppTest: three tiny runs, their table
and charts; the bundled runs from recordings; a closed tab's comparison let go."""

import threading

import pytest

from app_pages import replay_ui, state
from app_pages.compare_figures import CELL_COLOURS
from rnn_model import ModelConfig, RowClassifier
from rnn_model.model import count_parameters
from tests.test_app import _button, _charts, _training_page
from training.comparison import Comparison
from training.data import load_training_data
from training.engine import Record, TrainConfig
from training.recording import Recording, save_recording

TIMEOUT = 60
LABELS = ["Vanilla RNN (tanh)", "LSTM", "GRU"]


def _compare_section(at, **settings):
    _training_page(at, **settings)
    at.segmented_control(key="training_section").set_value("Compare cells").run()
    return at


@pytest.fixture
def compare_app(app):
    yield app
    comparison = app.session_state.get(state.COMPARISON_KEY)
    if comparison is not None:  # a comparison left going would hold a slot in the next test
        comparison.stop()
        assert comparison.wait(TIMEOUT)


def test_three_tiny_runs_finish_with_a_table_of_three_rows(compare_app):
    at = _compare_section(compare_app, hidden_size=4, epochs=1, batch_size=512, seed=5)
    assert not at.exception
    _button(at, "Train all three").click().run()
    comparison = at.session_state[state.COMPARISON_KEY]
    assert at.sidebar.number_input(key="hidden_size").disabled  # settings held while it goes
    assert comparison.wait(TIMEOUT)
    at.run()

    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Cell"]) == LABELS
    expected = [
        count_parameters(RowClassifier(ModelConfig(cell=cell, nonlinearity="tanh", hidden_size=4)))
        for cell in ("rnn", "lstm", "gru")
    ]
    assert list(table["Parameters"]) == [f"{n:,}" for n in expected]
    assert list(table["Status"]) == ["finished"] * 3
    assert all(value.endswith("%") for value in table["Best validation accuracy"])
    assert not at.sidebar.number_input(key="hidden_size").disabled

    charts = _charts(at)
    for key in ("compare_loss", "compare_accuracy"):
        traces = charts[key]["data"]
        assert [t["name"] for t in traces] == LABELS
        assert [t["line"]["color"] for t in traces] == [CELL_COLOURS[n] for n in LABELS]
    assert any("All three have finished" in p.proto.text for p in at.get("progress"))
    # the same seed and settings for each: only the cell differs
    configs = [job.model_config for job in comparison.jobs]
    assert {(c.hidden_size, c.reading_order) for c in configs} == {(4, "rows")}
    assert {job.train_config.seed for job in comparison.jobs} == {5}


def test_stop_ends_the_comparison_and_the_rest_never_start(compare_app):
    at = _compare_section(compare_app, hidden_size=4, epochs=200, batch_size=8)
    _button(at, "Train all three").click().run()
    _button(at, "Stop").click().run()

    comparison = at.session_state[state.COMPARISON_KEY]
    assert comparison.wait(TIMEOUT)
    at.run()
    table = at.dataframe[0].value
    assert list(table["Status"])[1:] == ["not run", "not run"]
    assert list(table["Status"])[0] in ("stopped early", "cancelled")
    assert _button(at, "Train all three").disabled is False


def test_a_comparison_is_refused_while_the_tabs_own_run_goes(compare_app):
    at = _training_page(compare_app, hidden_size=4, epochs=200, batch_size=8)
    _button(at, "Start training").click().run()
    at.segmented_control(key="training_section").set_value("Compare cells").run()

    assert _button(at, "Train all three").disabled
    assert any("training run is still going" in info.value for info in at.info)


def _recording(cell: str, nonlinearity: str, label: str, accuracy: float) -> Recording:
    records = [
        Record("start", 0, 10, 0.0, 0, elapsed_s=0.0),
        Record("progress", 5, 10, 0.5, 320, 1.5, 0.4, None, 0.002, 100.0, 3.0),
        Record("eval", 5, 10, 0.5, 320, None, None, accuracy - 0.1, 0.002, 100.0, 3.5),
        Record("end", 10, 10, 1.0, 640, 0.9, 0.7, accuracy, 0.002, 100.0, 7.0),
    ]
    return Recording(
        ModelConfig(cell=cell, nonlinearity=nonlinearity, hidden_size=8),
        TrainConfig(epochs=1),
        "sample",
        label,
        records,
    )


def test_the_bundled_runs_compare_at_once_from_their_recordings(compare_app, tmp_path, monkeypatch):
    monkeypatch.setattr(replay_ui, "RECORDINGS_DIR", tmp_path)
    for name, cell, accuracy in (("rnn", "rnn", 0.5), ("lstm", "lstm", 0.8), ("gru", "gru", 0.9)):
        label = {"rnn": "Vanilla RNN (tanh)", "lstm": "LSTM", "gru": "GRU"}[name]
        save_recording(_recording(cell, "tanh", label, accuracy), tmp_path / f"{name}.json")

    at = _compare_section(compare_app)
    at.segmented_control(key="compare_mode").set_value("The bundled runs (instant)").run()

    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Cell"]) == LABELS
    assert list(table["Best validation accuracy"]) == ["50.0%", "80.0%", "90.0%"]
    assert list(table["Time taken"]) == ["7 s"] * 3
    assert state.COMPARISON_KEY not in at.session_state  # nothing trained
    assert [t["name"] for t in _charts(at)["bundled_accuracy"]["data"]] == LABELS


def test_without_bundled_recordings_it_says_so_plainly(compare_app, tmp_path, monkeypatch):
    monkeypatch.setattr(replay_ui, "RECORDINGS_DIR", tmp_path / "none")
    at = _compare_section(compare_app)
    at.segmented_control(key="compare_mode").set_value("The bundled runs (instant)").run()

    assert not at.exception
    assert any("not in this copy of the app yet" in info.value for info in at.info)
    assert not at.dataframe


class _Probe:
    def __call__(self) -> bool:
        return False  # the browser never comes back


def test_a_closed_tabs_comparison_is_discarded_with_its_models(monkeypatch):
    from training import job as job_module

    real_train = job_module.train
    started = threading.Event()

    def held(model, train_set, val_set, config, stop):
        records = real_train(model, train_set, val_set, config, stop)
        yield next(records)
        started.set()
        assert stop.wait(TIMEOUT)
        yield from records

    monkeypatch.setattr(job_module, "train", held)
    data = load_training_data("sample")
    comparison = Comparison.of_cells(ModelConfig(hidden_size=4), TrainConfig(), data, "sample")
    beat = state._Heartbeat(_Probe())
    beat.comparison = comparison.start(state.RunQueue(limit=2))
    assert started.wait(TIMEOUT)

    beat.released(0.01).join(TIMEOUT)

    assert comparison.wait(TIMEOUT)
    assert beat.comparison is None
    first = comparison.jobs[0]
    assert first.view().message == state.ABANDONED and first.model is None
    assert not comparison.submitted(comparison.jobs[1])

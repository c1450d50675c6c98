"""Many visitors at once, through AppTest: the server-wide run queue as a visitor sees it,
sessions that never see each other's run, and a closed tab whose run is stopped and let go.

Runs are real jobs on tiny networks; a test decides when each may go on, through Events, so
nothing here waits on time.
"""

import gc
import threading
import weakref

import pytest
from streamlit.runtime import caching
from streamlit.testing.v1 import AppTest

from app_pages import state
from rnn_model import ModelConfig
from tests.test_app import _button, _charts, _training_page
from training import job as job_module
from training.data import load_training_data
from training.engine import TrainConfig
from training.job import TrainingJob
from training.run_queue import RunQueue

TIMEOUT = 60  # seconds per script run, and for anything that should happen at once
REAL_TRAIN = job_module.train
APP_TEST_SESSION_ID = "test session id"  # the one session id every AppTest runs under


class HeldRuns:
    """Stands in for the engine inside jobs: a run yields its real 'start' record (so its model
    exists), then holds its slot until its gate opens (blockers) or it is stopped (everyone
    else, like a visitor's run that goes until Stop)."""

    def __init__(self):
        self.gates: dict[int, threading.Event] = {}  # id(train_config) -> gate, blockers only
        self.started: dict[int, threading.Event] = {}

    def blocker(self, data) -> TrainingJob:
        job = TrainingJob(ModelConfig(hidden_size=4), TrainConfig(), data, "another visitor")
        self.gates[id(job.train_config)] = threading.Event()
        return job

    def release(self, job: TrainingJob) -> None:
        self.gates[id(job.train_config)].set()

    def wait_started(self, job: TrainingJob) -> None:
        event = self.started.setdefault(id(job.train_config), threading.Event())
        assert event.wait(TIMEOUT), "the run never started"

    def train(self, model, train_set, val_set, config, stop):
        records = REAL_TRAIN(model, train_set, val_set, config, stop)
        yield next(records)
        self.started.setdefault(id(config), threading.Event()).set()
        gate = self.gates.get(id(config), stop)
        assert gate.wait(TIMEOUT), "the test never let the run go on"
        yield from records

    def open_all(self) -> None:
        for gate in self.gates.values():
            gate.set()


@pytest.fixture(scope="module")
def data():
    return load_training_data("sample")


@pytest.fixture
def held(monkeypatch):
    runs = HeldRuns()
    monkeypatch.setattr(job_module, "train", runs.train)
    yield runs
    runs.open_all()


@pytest.fixture
def queue(monkeypatch, held):
    """A server-wide queue of one slot for this test, its jobs all ended afterwards."""
    queue = RunQueue(limit=1)
    jobs = []
    real_submit = queue.submit

    def submit(job):
        jobs.append(job)
        return real_submit(job)

    queue.submit = submit
    monkeypatch.setattr(state, "run_queue", lambda: queue)
    yield queue
    held.open_all()
    for job in jobs:
        job.stop()
    for job in jobs:
        assert job.wait(TIMEOUT), "a run did not end"


def new_app() -> AppTest:
    return AppTest.from_file("../app.py", default_timeout=TIMEOUT)


def _infos(at) -> list[str]:
    return [info.value for info in at.info]


# -- the queue as a visitor sees it --------------------------------------------------------


def test_a_run_over_the_limit_waits_its_turn_then_starts_by_itself(queue, held, data):
    first = queue.submit(held.blocker(data))  # another visitor's run holds the only slot
    behind = [queue.submit(held.blocker(data)) for _ in range(2)]  # two wait before ours
    held.wait_started(first)
    app = new_app()
    _training_page(app, hidden_size=16, epochs=1, seed=3)

    _button(app, "Start training").click().run()

    job = app.session_state[state.JOB_KEY]
    view = job.view()
    assert (view.state, view.position, job.model) == ("queued", 3, None)
    waiting = [text for text in _infos(app) if text.startswith("Waiting for a free")]
    assert waiting and waiting[0].startswith(
        "Waiting for a free training slot: 2 runs ahead of yours. This server trains one run at"
    )
    assert _button(app, "Start training").disabled
    cancel = app.button(key="stop")
    assert cancel.label == "Cancel" and not cancel.disabled
    assert not _charts(app)  # no empty charts, no 0% bar while it waits
    assert not app.get("progress")

    # the Playground says the same, not a progress bar
    app.switch_page("app_pages/playground.py").run()
    assert any(t.startswith("Waiting for a free training slot: 2 runs") for t in _infos(app))
    assert not app.get("progress")

    # the line moves up as runs ahead end, and the page follows
    app.switch_page("app_pages/training.py").run()
    held.release(first)
    held.wait_started(behind[0])
    app.run()  # in a browser the page's one-second timer does this
    assert any(t.startswith("Waiting for a free training slot: 1 run ahead") for t in _infos(app))
    for other in behind:
        held.release(other)
    held.wait_started(job)

    app.run()

    assert not app.exception
    assert job.view().state == "running"
    assert not [t for t in _infos(app) if t.startswith("Waiting")]
    assert app.button(key="stop").label == "Stop"
    # the gradient heatmap joins once the run has measured its gradients
    assert {"loss", "accuracy"} <= set(_charts(app)) <= {"loss", "accuracy", "step_gradients"}
    assert app.get("progress")[0].proto.text.startswith("Step 0 of ")

    app.button(key="stop").click().run()
    assert job.wait(TIMEOUT)
    app.run()
    assert job.view().state == "stopped"
    assert job.trained_model() is not None


def test_cancel_takes_a_waiting_run_out_of_the_line(queue, held, data):
    first = queue.submit(held.blocker(data))
    held.wait_started(first)
    app = new_app()
    _training_page(app, hidden_size=16, epochs=1)
    _button(app, "Start training").click().run()
    job = app.session_state[state.JOB_KEY]
    assert job.view().queued and queue.counts() == (1, 1)

    app.button(key="stop").click().run()

    assert not app.exception
    assert job.view().state == "cancelled"
    assert queue.counts() == (1, 0)
    assert "Cancelled before it started. Start it again whenever you like." in _infos(app)
    assert not _button(app, "Start training").disabled
    assert app.button(key="stop").disabled and app.button(key="stop").label == "Stop"
    assert not app.error


# -- sessions kept apart -------------------------------------------------------------------


def test_two_sessions_never_see_each_others_run_or_model(queue, held):
    queue.limit = 2  # both runs may go at once
    alice, bob = new_app(), new_app()
    _training_page(alice, hidden_size=16, epochs=1, seed=1)
    _button(alice, "Start training").click().run()
    alice_job = alice.session_state[state.JOB_KEY]
    held.wait_started(alice_job)

    # Bob's training page knows nothing of Alice's run
    _training_page(bob)
    assert state.JOB_KEY not in bob.session_state
    assert not _button(bob, "Start training").disabled
    assert set(_charts(bob)) == {"digit_grid", "counts"}
    assert not [c.value for c in bob.caption if c.value.startswith("This run:")]

    # Alice's run ends: her model joins her list, not Bob's
    _button(alice, "Stop").click().run()
    assert alice_job.wait(TIMEOUT)
    alice.switch_page("app_pages/playground.py").run()
    bob.switch_page("app_pages/playground.py").run()
    assert "Trained in this session" in alice.selectbox(key="model_choice").options
    assert "Trained in this session" not in bob.selectbox(key="model_choice").options
    assert not bob.get("progress") and not bob.info[1:]

    # Bob's own run is his own job; Alice's stays hers
    bob.switch_page("app_pages/training.py").run()
    bob.number_input(key="hidden_size").set_value(8).run()
    _button(bob, "Start training").click().run()
    bob_job = bob.session_state[state.JOB_KEY]
    assert bob_job is not alice_job
    assert bob_job.model_config.hidden_size == 8
    assert alice.session_state[state.JOB_KEY] is alice_job
    assert alice.session_state[state.HEARTBEAT_KEY] is not bob.session_state[state.HEARTBEAT_KEY]
    assert not alice.exception and not bob.exception


# -- a closed tab --------------------------------------------------------------------------


class _Probe:
    """Stands in for Streamlit's answer to 'is this session's browser connected?'."""

    def __init__(self, connected: bool):
        self.value = connected

    def __call__(self) -> bool:
        return self.value


def _running_job(data, held) -> TrainingJob:
    job = TrainingJob(ModelConfig(hidden_size=16), TrainConfig(epochs=200), data, "sample")
    job.start()
    held.wait_started(job)  # its model exists
    return job


def test_a_tab_that_stays_closed_loses_its_run_and_its_model_after_the_window(held, data):
    beat = state._Heartbeat(_Probe(connected=False))
    beat.job = job = _running_job(data, held)
    model = weakref.ref(job.model)

    timer = beat.released(0.01)  # what Streamlit's release of the session starts
    timer.join(TIMEOUT)

    assert not timer.is_alive()
    assert job.wait(TIMEOUT)
    gc.collect()
    assert model() is None  # freed, though the job object is still held (as a stored session does)
    assert beat.job is None
    view = job.view()
    assert view.state == "stopped" and view.message == state.ABANDONED
    assert job.trained_model() is None


def test_a_tab_that_reconnects_within_the_window_keeps_its_run(held, data):
    beat = state._Heartbeat(_Probe(connected=True))
    beat.job = job = _running_job(data, held)

    beat.released(0.01).join(TIMEOUT)

    assert beat.job is job  # not discarded
    assert job.view().state == "running" and job.model is not None
    job.stop()
    assert job.wait(TIMEOUT)
    assert job.trained_model() is not None


def test_only_the_last_disconnect_decides(held, data):
    # away, back, away again: the first timer must not end a run only ten seconds gone
    probe = _Probe(connected=False)
    beat = state._Heartbeat(probe)
    beat.job = job = _running_job(data, held)
    first, second = beat.released(3600), beat.released(3600)
    first.cancel()
    second.cancel()

    beat.stop_if_gone(1)
    assert beat.job is job  # not discarded (a discarded job leaves the heartbeat at once)
    probe.value = True
    beat.stop_if_gone(2)  # back again when the second window ends
    assert beat.job is job
    probe.value = False
    beat.stop_if_gone(2)

    assert beat.job is None
    assert job.wait(TIMEOUT)
    assert job.view().state == "stopped" and job.trained_model() is None


def test_streamlit_releasing_the_session_starts_the_window(monkeypatch, held):
    # Through the page and Streamlit's own release of session resources, the call its
    # server makes when a browser disconnects.
    monkeypatch.setattr(state, "ABANDON_AFTER_S", 0.01)
    # every AppTest shares one session id: drop what earlier tests' sessions registered
    caching.clear_session_resource_cache(APP_TEST_SESSION_ID)
    app = new_app()
    _training_page(app, hidden_size=16, epochs=200)
    _button(app, "Start training").click().run()
    job = app.session_state[state.JOB_KEY]
    held.wait_started(job)
    beat = app.session_state[state.HEARTBEAT_KEY]
    assert beat.job is job and beat.timer is None
    model = weakref.ref(job.model)

    caching.clear_session_resource_cache(APP_TEST_SESSION_ID)

    assert beat.timer is not None
    beat.timer.join(TIMEOUT)
    assert job.wait(TIMEOUT)
    gc.collect()
    assert model() is None
    assert job.view().message == state.ABANDONED

    # the page, should the browser come back after all, says what happened
    app.run()
    assert not app.exception
    assert state.ABANDONED in _infos(app)
    assert not app.get("download_button")
    assert not _button(app, "Start training").disabled

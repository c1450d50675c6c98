"""The server-wide run queue: a bound on runs at once, first come first served, and a slot
handed on however a run ends. Real jobs on tiny models; the test decides when each run may go
on, through Events, so nothing depends on timing."""

import logging
import threading

import pytest

from rnn_model import ModelConfig
from training import job as job_module
from training.data import TrainValSplit, load_training_data
from training.engine import TrainConfig
from training.job import TrainingJob
from training.run_queue import RunQueue, max_runs_from_env

TIMEOUT_S = 30  # only reached when something is broken
REAL_TRAIN = job_module.train  # the engine, before a test puts GatedRuns.train in its place


@pytest.fixture(scope="module")
def tiny_data() -> TrainValSplit:
    data = load_training_data("sample")
    return TrainValSplit(data.train.subset(range(64)), data.val.subset(range(32)), "tiny")


def tiny_job(data: TrainValSplit) -> TrainingJob:
    return TrainingJob(
        ModelConfig(hidden_size=4), TrainConfig(epochs=2, batch_size=16), data, "tiny"
    )


class GatedRuns:
    """Stands in for the engine's train() inside the jobs: each run yields its real 'start'
    record, then holds its slot until the test opens its gate, then trains for real (or
    raises, for a job told to fail). Counts the runs going at once."""

    def __init__(self, queue: RunQueue):
        self.queue = queue
        self.lock = threading.Lock()
        self.names: dict[int, str] = {}  # id(job.train_config) -> name (the model is built later)
        self.started: dict[str, threading.Event] = {}
        self.gates: dict[str, threading.Event] = {}
        self.failing: set[str] = set()
        self.start_order: list[str] = []
        self.running = 0
        self.most_running = 0
        self.queue_running_at_start: list[int] = []

    def add(self, name: str, job: TrainingJob, fail: bool = False) -> TrainingJob:
        self.names[id(job.train_config)] = name
        self.started[name] = threading.Event()
        self.gates[name] = threading.Event()
        if fail:
            self.failing.add(name)
        return job

    def release(self, name: str) -> None:
        self.gates[name].set()

    def wait_started(self, name: str) -> None:
        assert self.started[name].wait(TIMEOUT_S), f"job {name} never started"

    def train(self, model, train_set, val_set, config, stop):
        name = self.names[id(config)]
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self.start_order.append(name)
            self.queue_running_at_start.append(self.queue.counts()[0])
        self.started[name].set()
        try:
            records = REAL_TRAIN(model, train_set, val_set, config, stop)
            yield next(records)  # the 'start' record
            if not self.gates[name].wait(TIMEOUT_S):
                raise RuntimeError(f"the test never let job {name} go on")
            if name in self.failing:
                raise RuntimeError("injected failure")
            yield from records
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def gated(monkeypatch) -> GatedRuns:
    runs = GatedRuns(RunQueue(limit=2))
    monkeypatch.setattr(job_module, "train", runs.train)
    return runs


def positions(jobs: dict[str, TrainingJob]) -> dict[str, int | None]:
    return {name: job.view().position for name, job in jobs.items()}


def test_two_run_at_once_the_rest_wait_their_turn_in_order(gated, tiny_data):
    queue = gated.queue
    jobs = {}
    for name in "ABCDE":
        jobs[name] = queue.submit(gated.add(name, tiny_job(tiny_data), fail=name == "A"))
        view = jobs[name].view()
        # at submission: the first two take the slots, the others queue at 1, 2, 3
        if name in "AB":
            assert (view.state, view.position) == ("running", None)
        else:
            assert (view.state, view.position) == ("queued", "CDE".index(name) + 1)
            assert not view.done
    assert jobs["C"].view().message == "Waiting for a free training slot: yours is next."
    assert jobs["E"].view().message == "Waiting for a free training slot: 2 runs ahead of yours."
    gated.wait_started("A")
    gated.wait_started("B")
    assert queue.counts() == (2, 3)
    assert not gated.started["C"].is_set()  # A and B hold both slots until released

    # a waiting job is cancelled: it leaves the queue and the one behind it moves up
    assert queue.cancel(jobs["D"])
    assert jobs["D"].wait(0)
    view = jobs["D"].view()
    assert (view.state, view.done, view.position) == ("cancelled", True, None)
    assert positions(jobs) == {"A": None, "B": None, "C": 1, "D": None, "E": 2}
    assert jobs["E"].view().message == "Waiting for a free training slot: 1 run ahead of yours."
    assert queue.counts() == (2, 2)
    assert not queue.cancel(jobs["D"])  # already gone

    # A raises inside its run: it ends failed and C takes its slot
    gated.release("A")
    assert jobs["A"].wait(TIMEOUT_S)
    assert jobs["A"].view().state == "failed"
    assert "injected failure" in jobs["A"].view().message
    gated.wait_started("C")
    assert positions(jobs)["E"] == 1
    assert not queue.cancel(jobs["C"])  # running jobs are stopped, not cancelled

    # B is stopped while running: E takes its slot
    jobs["B"].stop()
    gated.release("B")
    assert jobs["B"].wait(TIMEOUT_S)
    assert jobs["B"].view().state == "stopped"
    gated.wait_started("E")
    assert jobs["E"].view().state == "running"

    # C and E run to the end
    gated.release("C")
    gated.release("E")
    for name in "ABCDE":
        assert jobs[name].wait(TIMEOUT_S), f"job {name} never ended"
    states = {name: job.view().state for name, job in jobs.items()}
    assert states == {
        "A": "failed",
        "B": "stopped",
        "C": "finished",
        "D": "cancelled",
        "E": "finished",
    }
    assert gated.start_order == ["A", "B", "C", "E"]  # submit order, D never ran
    assert gated.most_running == 2
    assert max(gated.queue_running_at_start) <= 2
    assert jobs["D"].view().records == [] and jobs["D"].trained_model() is None
    assert jobs["E"].trained_model() is jobs["E"].model
    assert queue.counts() == (0, 0)


def test_slots_go_to_the_longest_waiting_whichever_run_ends_first(gated, tiny_data):
    queue = gated.queue
    jobs = {name: queue.submit(gated.add(name, tiny_job(tiny_data))) for name in "ABCDE"}
    gated.wait_started("A")
    gated.wait_started("B")

    # the second slot frees first, then the first: C and D still start in submit order
    for ending, starting in (("B", "C"), ("A", "D"), ("D", "E")):
        gated.release(ending)
        assert jobs[ending].wait(TIMEOUT_S)
        gated.wait_started(starting)
    gated.release("C")
    gated.release("E")

    for name in "ABCDE":
        assert jobs[name].wait(TIMEOUT_S), f"job {name} never ended"
        assert jobs[name].view().state == "finished"
    assert gated.start_order == list("ABCDE")
    assert gated.most_running == 2
    assert queue.counts() == (0, 0)


def test_stopping_a_queued_job_cancels_it(gated, tiny_data):
    queue = gated.queue
    first, second, waiting = (
        queue.submit(gated.add(name, tiny_job(tiny_data))) for name in ("first", "second", "w")
    )
    assert waiting.view().queued

    waiting.stop()  # what the page's Stop button and abandoned-session timer call

    assert waiting.wait(0)
    assert waiting.view().state == "cancelled"
    assert waiting.view().message == "Cancelled before it started."
    assert queue.counts() == (2, 0)
    for name, job in (("first", first), ("second", second)):
        gated.release(name)
        assert job.wait(TIMEOUT_S)
    assert "w" not in gated.start_order


def test_a_run_the_engine_refuses_hands_its_slot_on(tiny_data):
    # the real engine raises at once on an empty training set; the next job must still run
    queue = RunQueue(limit=1)
    empty = TrainValSplit(tiny_data.train.subset([]), tiny_data.val, "nothing")
    failing = queue.submit(TrainingJob(ModelConfig(hidden_size=4), TrainConfig(), empty, "none"))
    after = queue.submit(tiny_job(tiny_data))

    assert after.wait(TIMEOUT_S)
    assert failing.view().state == "failed"
    assert "no training digits" in failing.view().message
    assert after.view().state == "finished"
    assert queue.counts() == (0, 0)


def test_a_job_goes_through_one_queue_once(tiny_data):
    queue = RunQueue(limit=1)
    started = tiny_job(tiny_data).start()
    with pytest.raises(RuntimeError, match="already started or submitted"):
        queue.submit(started)
    submitted = queue.submit(tiny_job(tiny_data))
    with pytest.raises(RuntimeError, match="already started or submitted"):
        RunQueue(limit=1).submit(submitted)
    with pytest.raises(RuntimeError, match="the queue starts it"):
        submitted.start()
    assert started.wait(TIMEOUT_S) and submitted.wait(TIMEOUT_S)


def test_a_queue_needs_at_least_one_slot():
    with pytest.raises(ValueError, match="at least 1"):
        RunQueue(limit=0)


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("3", 3), (" 4 ", 4), ("", 2)])
def test_max_runs_reads_a_positive_whole_number(value, expected, caplog):
    assert max_runs_from_env({"RNN_DIGIT_LAB_MAX_RUNS": value}) == expected
    assert not caplog.records


def test_max_runs_defaults_to_two_when_unset(monkeypatch):
    monkeypatch.delenv("RNN_DIGIT_LAB_MAX_RUNS", raising=False)
    assert max_runs_from_env() == 2
    assert RunQueue().limit == 2
    monkeypatch.setenv("RNN_DIGIT_LAB_MAX_RUNS", "5")
    assert RunQueue().limit == 5


@pytest.mark.parametrize("junk", ["0", "-1", "two", "2.5", "1e3"])
def test_max_runs_refuses_junk_with_a_warning_and_uses_two(junk, caplog):
    with caplog.at_level(logging.WARNING, logger="training.run_queue"):
        assert max_runs_from_env({"RNN_DIGIT_LAB_MAX_RUNS": junk}) == 2
    [warning] = caplog.records
    assert f"RNN_DIGIT_LAB_MAX_RUNS='{junk}'" in warning.getMessage()
    assert "allowing 2 training runs at once" in warning.getMessage()

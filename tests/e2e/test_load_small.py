"""A small load test against the real app on 127.0.0.1: four visitors train under a limit of one
run at a time while four others draw in the Playground (bench/load_test.py does the work, in a
process of its own with its own app and Chromium; this reads the JSON object it writes).

The four trainers press Start in turn: the first run takes the slot and is stopped once all
have queued; the second finishes; the third is cancelled while it waits, which moves the
fourth up; the fourth's tab is closed while it runs. Each property is its own test, so a red
one names what broke; all read one run of about a minute.
"""

import warnings

import pytest

from tests.e2e.harness import run_load_script

pytestmark = pytest.mark.browser

# p95 from mouse up to the Prediction on the page while a run goes. This box (2 cores, shared
# by the app, the training, Chromium and the drawings) measured 0.6-0.75 s over 25-50
# drawings; 0.2 s of every drawing is the canvas's own wait before it sends. 3 s leaves room
# for a slower, busier CI machine; the 300 ms goal is for `python -m bench.load_test`.
P95_LIMIT_MS = 3000
SMALL = [
    "--trainers", "4",
    "--drawers", "4",
    "--max-runs", "1",
    "--epochs", "25",  # the finishing run: 10-20 s here, time for drawings while it goes
    "--pause", "0.5",  # drawers come back quickly, for enough drawings while runs go
    "--short-closed-runs",  # the closed tab's run ends by itself: no minute's wait for the server
    "--p95-limit-ms", str(P95_LIMIT_MS),
    "--wait", "120",
]  # fmt: skip
TIMEOUT_S = 300  # about a minute here; far more only when something hangs
CHECKS = [
    "completed",
    "runs_end_cleanly",
    "roles_played",
    "isolation",
    "queue_fair",
    "memory",
    "latency",
    "offline_and_alive",
    "no_error_boxes",
]


@pytest.fixture(scope="module")
def load(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("load") / "load.json"
    return run_load_script(["bench.load_test", *SMALL], out, TIMEOUT_S, "load test")


@pytest.mark.parametrize("name", CHECKS)
def test_small_load(load, name):
    check = load["checks"][name]
    assert check["ok"], f"{name}: {check['detail']}\n{load['log']}"


def test_small_load_exercised_the_queue(load):
    """The scenario happened as planned: three waited, one was cancelled and its follower
    moved up, and drawings were answered while a run went."""
    queue = load["training"]["queue"]
    assert sorted(queue["places_when_queued"].values()) == [0, 1, 2], queue
    assert queue["next_moved_up_on_cancel"] == [True], queue
    assert load["playground"]["while_training"]["drawings"] >= 4, load["playground"]


def test_small_load_exit_code_says_the_same(load):
    blocking_ok = all(c["ok"] for c in load["checks"].values() if c["blocking"])
    assert load["exit_code"] == (0 if blocking_ok else 1), load["log"]
    for name, check in load["checks"].items():
        if not check["ok"] and not check["blocking"]:  # known app faults, shown, not failing
            warnings.warn(f"load test, {name}: {check['detail']}", stacklevel=1)

"""The light load test's client (bench.ws_client) against the real app on 127.0.0.1: it must see
what a browser sees, or the load test's figures would time something else."""

import asyncio
import json
from base64 import b64decode
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from bench.light_load import CANVAS_KEY, DRAWINGS, run_state
from bench.ws_client import Run, Session
from tests.e2e.harness import AppServer

TIMEOUT_S = 120  # a whole test; a busy shared machine is slow, each step is usually < 1 s


@pytest.fixture(scope="module")
def app_url():
    server = AppServer(env={"RNN_DIGIT_LAB_MAX_RUNS": "1"}).start()
    yield server.url
    server.stop()
    server.cleanup()


def run(coroutine):
    """Run `coroutine` to its end on a loop of its own, in a thread of its own: the browser
    tests' Playwright keeps an event loop going in the main thread for the whole session."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coroutine, TIMEOUT_S)).result()


def test_the_recorded_drawings_are_canvas_values_of_a_whole_canvas():
    for digit, value in DRAWINGS.items():
        drawing = json.loads(value)["drawing"]
        assert drawing["raw"]["objects"][0]["type"] == "Path", digit
        png = b64decode(drawing["data"].split(";base64,", 1)[1])
        image = np.asarray(Image.open(BytesIO(png)))
        assert image.shape == (280, 280, 4), digit  # what st_canvas hands the page
        assert 0 < (image[..., 0] > 128).mean() < 0.3, digit  # white ink, mostly black


def test_a_drawing_is_answered_and_clear_gives_a_new_canvas(app_url):
    async def visit():
        session = await Session.open(app_url, "playground")
        try:
            first = session.find_key(CANVAS_KEY)
            assert first.id.endswith("-canvas-0")
            answers = []
            for digit in "71":
                session.set(session.find_key(CANVAS_KEY).id, json_value=DRAWINGS[digit])
                drawing = await session.rerun()
                cleared = await session.press(session.find("button", "Clear"))
                answers.append((digit, drawing, cleared))
            return first, answers, session.find_key(CANVAS_KEY)
        finally:
            await session.close()

    first, answers, last = run(visit())
    for digit, drawing, cleared in answers:
        assert drawing.metrics == {"Prediction": digit}
        assert drawing.ms is not None and drawing.ms > 0 and not drawing.exceptions
        assert "Prediction" not in cleared.metrics
        assert any(text.startswith("Draw a digit") for text in cleared.alerts)
    assert last.id.endswith("-canvas-2") and last.id != first.id  # two Clears, two new keys


def test_the_training_page_timer_is_followed_until_the_run_ends(app_url):
    async def visit():
        session = await Session.open(app_url, "training")
        try:
            for key, value in {"hidden_size": 8, "epochs": 1, "batch_size": 256}.items():
                session.set(session.find("number_input", key=key).id, int_value=value)
            await session.rerun()
            await session.press(session.find("button", "Start training"))
            seen = []
            while not seen or seen[-1] not in ("finished", "failed", "diverged"):
                # runs come from the page's own timer (st.fragment(run_every=...))
                await asyncio.sleep(0.2)  # looks at the runs made so far, not at the server
                states = [run_state(r) for r in session.runs]
                seen = [s["state"] for s in states if s is not None]
            return seen, [r for r in session.runs if r.fragment_id]
        finally:
            await session.close()

    seen, timed = run(visit())
    assert seen[-1] == "finished"
    assert "running" in seen
    assert timed, "no run of the live fragment came from its timer"


def test_run_state_reads_the_training_page_as_the_browser_probe_does():
    def page(**texts) -> Run:
        return Run(**{k: list(v) for k, v in texts.items()})

    queued = page(alerts=["Waiting for a free training slot: 2 runs ahead of yours. This…"])
    assert run_state(queued)["state"] == "queued" and run_state(queued)["ahead"] == 2
    next_one = page(alerts=["Waiting for a free training slot: yours is next."])
    assert run_state(next_one)["ahead"] == 0
    running = page(progress=["Step 3 of 70 · epoch 0.1 of 1"], markdown=["This run: GRU"])
    assert run_state(running) == {
        "state": "running",
        "ahead": None,
        "caption": "This run: GRU",
        "text": "",
    }
    over = page(alerts=["Training finished. 91.0% of…"], progress=["Step 70 of 70 · took 9 s"])
    assert run_state(over)["state"] == "finished"
    assert run_state(page(progress=["Step 70 of 70 · took 9 s"])) is None

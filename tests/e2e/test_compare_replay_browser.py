"""Compare cells and replay a run in a real browser: three tiny runs trained one after another
fill one chart per measure and a table; an uploaded recording plays back to its end."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import open_app_page, plotly_chart, set_number
from tests.test_app_replay import STEPS, _recording
from training.recording import save_recording

pytestmark = pytest.mark.browser

UPDATE_MS = 30_000
THREE_RUNS_MS = 240_000  # three small runs on a shared 2-core machine
LABELS = ["Vanilla RNN (tanh)", "LSTM", "GRU"]

_TRACES = "el => el._fullData.map((trace) => [trace.name, trace.x.length])"


def _section(page, name: str) -> None:
    """Click one option of a segmented control (a group of toggles, not plain buttons)."""
    page.get_by_test_id("stMain").get_by_test_id("stButtonGroup").get_by_text(
        name, exact=True
    ).click()


def test_compare_three_cells_then_replay_an_uploaded_run(page, app_url, tmp_path):
    open_app_page(page, f"{app_url}/training")
    main = page.get_by_test_id("stMain")
    _section(page, "Compare cells")
    start = main.get_by_role("button", name="Train all three")
    expect(start).to_be_enabled(timeout=UPDATE_MS)
    set_number(page, "Hidden size", 4)
    set_number(page, "Epochs", 1)
    set_number(page, "Batch size", 512)
    start.click()

    expect(page.get_by_text(re.compile(r"All three alike: 4 hidden units"))).to_be_visible(
        timeout=UPDATE_MS
    )
    expect(page.get_by_label("Hidden size", exact=True)).to_be_disabled()
    expect(page.get_by_text("All three have finished.")).to_be_visible(timeout=THREE_RUNS_MS)
    expect(start).to_be_enabled(timeout=UPDATE_MS)
    loss = plotly_chart(page, "Training loss per cell")
    traces = loss.evaluate(_TRACES)
    assert [name for name, _ in traces] == LABELS
    assert all(points > 0 for _, points in traces)
    table = page.get_by_test_id("stDataFrame")
    for label in LABELS:
        expect(table).to_contain_text(label)

    # a recording file, uploaded, replayed all at once and then played to its end
    path = save_recording(_recording(), tmp_path / "run.json")
    _section(page, "Replay a recorded run")
    main.get_by_role("button", name="Upload a recording").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(path)
    expect(page.get_by_text(re.compile(r"^GRU, 8 hidden units"))).to_be_visible(timeout=UPDATE_MS)
    page.keyboard.press("Escape")  # close the popover

    _section(page, "All at once")
    expect(page.get_by_text(re.compile(r"Epoch 2\.0 of 2"))).to_be_visible(timeout=UPDATE_MS)
    replay_loss = plotly_chart(page, "Training loss (lower is better)")
    expect(replay_loss).to_be_visible(timeout=UPDATE_MS)
    assert replay_loss.evaluate(_TRACES)[0][1] == STEPS

    _section(page, "10x")  # 30 s of run in about 3 s; Play at the end starts again
    main.get_by_role("button", name="Play").click()
    expect(main.get_by_role("button", name="Pause")).to_be_visible(timeout=UPDATE_MS)
    expect(main.get_by_role("button", name="Play")).to_be_visible(timeout=UPDATE_MS)  # ended
    expect(page.get_by_text(re.compile(r"Epoch 2\.0 of 2, 30 s into the run"))).to_be_visible()

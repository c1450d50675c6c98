"""The Playground in a real browser: draw with the mouse, read the prediction, clear, step."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import (
    CURRENT_CHARTS,
    ONE,
    SEVEN,
    canvas_box,
    draw,
    open_app_page,
    plotly_chart,
)

pytestmark = pytest.mark.browser

FIRST_PREDICTION_MS = 60_000  # the first trace loads the model on a busy 2-core machine
UPDATE_MS = 30_000
PROMPT = "Draw a digit in the box"
READS = "What the network reads"  # chart titles
MEMORY = "Memory: hidden state h_t"
SURE = "How sure it is"


def prediction(page):
    return page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")


def open_playground(page, app_url: str) -> None:
    open_app_page(page, f"{app_url}/playground")
    expect(page.get_by_role("heading", name="Playground", level=1)).to_be_visible()
    expect(page.get_by_text(PROMPT)).to_be_visible(timeout=UPDATE_MS)
    expect(prediction(page)).to_have_count(0)


def test_the_root_address_opens_the_playground(page, app_url):
    open_app_page(page, f"{app_url}/")
    expect(page.get_by_role("heading", name="Playground", level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/playground$"))


def draw_digit(page, strokes) -> None:
    draw(page, canvas_box(page), strokes)
    # the stroke reached fabric.js (so a missing prediction is the app's fault, not the mouse's)
    expect(page.get_by_role("button", name="Undo")).to_be_enabled(timeout=UPDATE_MS)


def expect_title(page, title: str, text: str, timeout_ms: float = UPDATE_MS) -> None:
    """The title of the chart titled `title` contains `text`, on exactly one chart."""
    titles = page.locator(f"{CURRENT_CHARTS} .gtitle").filter(has_text=title)
    expect(titles).to_have_text([re.compile(re.escape(text))], timeout=timeout_ms)


@pytest.mark.parametrize(("strokes", "digit"), [(SEVEN, "7"), (ONE, "1")], ids=["seven", "one"])
def test_drawing_a_digit_shows_its_prediction_and_the_memory(page, app_url, strokes, digit):
    open_playground(page, app_url)

    draw_digit(page, strokes)

    value = prediction(page).locator('[data-testid="stMetricValue"]')
    expect(value).to_have_text(digit, timeout=FIRST_PREDICTION_MS)
    expect(page.get_by_text(PROMPT)).to_have_count(0)
    heatmap = plotly_chart(page, MEMORY)
    expect(heatmap).to_be_visible(timeout=UPDATE_MS)
    # plotly sends arrays base64-packed; _fullData holds them decoded
    rows = heatmap.evaluate("el => el._fullData[0].y.length")
    assert rows == 28, f"the heatmap should have one row per step, has {rows}"


def test_clear_brings_the_prompt_back(page, app_url):
    open_playground(page, app_url)
    draw_digit(page, SEVEN)
    expect(prediction(page)).to_be_visible(timeout=FIRST_PREDICTION_MS)

    page.get_by_role("button", name="Clear").click()

    expect(page.get_by_text(PROMPT)).to_be_visible(timeout=UPDATE_MS)
    expect(prediction(page)).to_have_count(0)
    expect(plotly_chart(page, MEMORY)).to_have_count(0)


def test_step_slider_moves_the_step_shown(page, app_url):
    open_playground(page, app_url)
    draw_digit(page, SEVEN)
    expect(prediction(page)).to_be_visible(timeout=FIRST_PREDICTION_MS)

    # a new drawing starts fully read
    slider = page.get_by_role("slider", name="Step (rows read)")
    shown = page.get_by_test_id("stSlider").filter(has=slider).get_by_test_id("stSliderThumbValue")
    expect(slider).to_have_value("28", timeout=UPDATE_MS)
    expect(shown).to_have_text("28")
    expect_title(page, READS, "row 28 at step 28")

    slider.focus()
    slider.press("Home")
    expect(shown).to_have_text("1", timeout=UPDATE_MS)
    expect_title(page, READS, "row 1 at step 1")
    expect_title(page, SURE, "now step 1")

    slider.press("ArrowRight")
    expect(shown).to_have_text("2", timeout=UPDATE_MS)
    expect_title(page, READS, "row 2 at step 2")
    expect_title(page, SURE, "now step 2")

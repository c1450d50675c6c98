"""The Training page's views inside a run, in a real browser: the gradient heatmap grows while
the run goes; once stopped, a click anywhere in a cell of the confusion matrix lists its
digits, and one of them opens in the Playground with the model trained here."""

import re

import pytest
from playwright.sync_api import expect

from app_pages.figures import TITLE_SIZE
from tests.e2e.harness import CURRENT_CHARTS, open_app_page, plotly_chart, set_number

pytestmark = pytest.mark.browser

FIRST_MS = 120_000  # the page loads the digits and builds the model first; a busy CPU
UPDATE_MS = 30_000
GRADIENTS = "How much gradient reaches each step"
CONFUSION = "True digit (down)"

_COLUMNS = "el => (el._fullData && el._fullData[0] ? el._fullData[0].x.length : 0)"
# the cell with most mistakes, from the counts the figure's click markers carry
_WORST_CELL = """el => {
    const counts = el._fullData[1].customdata;
    let best = [0, 1, -1];
    for (let k = 0; k < 100; k++) {
        const [t, r] = [Math.floor(k / 10), k % 10];
        if (t !== r && counts[k] > best[2]) best = [t, r, counts[k]];
    }
    return best;
}"""
# the matrix drawn again, in presentation mode's larger text, with its click markers
_MATRIX_ENLARGED = f"""() => [...document.querySelectorAll("{CURRENT_CHARTS}")].some(
    (el) => (el.querySelector(".gtitle")?.textContent ?? "").includes("{CONFUSION}")
        && el._fullData?.length > 1 && el._fullLayout.title.font.size > {TITLE_SIZE})"""
# where a point of the matrix (in cells) is on the page, from plotly's own axes
_CELL_POINT = """(el, [x, y]) => {
    const box = el.getBoundingClientRect(), xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis;
    return [box.left + xa._offset + xa.l2p(x), box.top + ya._offset + ya.l2p(y)];
}"""


def test_gradients_grow_live_and_a_clicked_cell_opens_a_digit_in_the_playground(page, app_url):
    open_app_page(page, f"{app_url}/training")
    main = page.get_by_test_id("stMain")
    start = main.get_by_role("button", name="Start training")
    stop = main.get_by_role("button", name="Stop")
    expect(start).to_be_enabled(timeout=UPDATE_MS)
    set_number(page, "Hidden size", 16)
    set_number(page, "Epochs", 20)  # still running when stopped, a record every 7 batches
    start.click()

    # the heatmap grows a column at a time while the run goes
    heatmap = plotly_chart(page, GRADIENTS)
    expect(heatmap).to_be_visible(timeout=FIRST_MS)
    page.wait_for_function(
        f"""() => [...document.querySelectorAll("[data-stale='false'] .js-plotly-plot")].some(
            (el) => (el.querySelector(".gtitle")?.textContent ?? "").includes("{GRADIENTS}")
                && ({_COLUMNS})(el) >= 3)""",
        timeout=FIRST_MS,
        polling=500,
    )
    expect(page.get_by_text(re.compile(r"Right now step 1 gets"))).to_be_visible()

    stop.click()
    expect(page.get_by_text("Stopped before the end")).to_be_visible(timeout=UPDATE_MS)
    matrix = plotly_chart(page, CONFUSION)
    expect(matrix).to_be_visible(timeout=UPDATE_MS)
    expect(page.get_by_text(re.compile(r"^Digits it read wrong: \d+ of 500$"))).to_be_visible()

    # a click near a corner of the cell with most mistakes lists its digits, also when
    # presentation mode has made the cells larger than plotly's reach around a point
    page.get_by_text("Presentation mode").first.click()
    page.wait_for_function(_MATRIX_ENLARGED, timeout=UPDATE_MS, polling=200)
    matrix = plotly_chart(page, CONFUSION)
    true, read_as, count = matrix.evaluate(_WORST_CELL)
    assert count > 0
    matrix.scroll_into_view_if_needed()
    x, y = matrix.evaluate(_CELL_POINT, [read_as + 0.45, true + 0.45])
    page.mouse.click(x, y)
    heading = page.get_by_text(f"Digits {true} read as {read_as}: {count}", exact=True)
    expect(heading).to_be_visible(timeout=UPDATE_MS)

    # its first digit opens in the Playground, read by the model trained here
    cards = main.get_by_role("button", name="Open")
    expect(cards.first).to_be_visible()
    cards.first.click()
    expect(page.get_by_role("heading", name="Playground", level=1)).to_be_visible(timeout=UPDATE_MS)
    expect(
        page.get_by_text(re.compile(rf"Validation digit \d+: true {true}, read as {read_as}"))
    ).to_be_visible(timeout=UPDATE_MS)
    expect(page.get_by_role("combobox", name="Model")).to_have_value("Trained in this session")

"""The Training page in a real browser: start a small run, watch the charts grow, stop it,
and find it again after a visit to the Playground."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import (
    LOSS_TITLE,
    loss_points,
    open_app_page,
    plotly_chart,
    set_number,
    wait_for_more_points,
)

pytestmark = pytest.mark.browser

FIRST_POINTS_MS = 60_000  # the page loads the digits and builds the model first
UPDATE_MS = 30_000
STOPPED = "Stopped before the end"


def go_to(page, title: str) -> None:
    page.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible(timeout=UPDATE_MS)


def test_a_run_grows_its_charts_stops_and_survives_a_visit_to_the_playground(page, app_url):
    open_app_page(page, f"{app_url}/training")
    # the page's own buttons, not Streamlit's "Stop" in the header while a script runs
    main = page.get_by_test_id("stMain")
    start = main.get_by_role("button", name="Start training")
    stop = main.get_by_role("button", name="Stop")
    expect(start).to_be_enabled(timeout=UPDATE_MS)
    expect(stop).to_be_disabled()

    # a small network, with epochs enough to be still running when stopped
    set_number(page, "Hidden size", 16)
    set_number(page, "Epochs", 20)
    start.click()

    expect(
        page.get_by_text(re.compile(r"This run: GRU, 16 hidden units.*20 epochs"))
    ).to_be_visible(timeout=UPDATE_MS)
    expect(page.get_by_test_id("stProgress")).to_be_visible(timeout=UPDATE_MS)
    expect(plotly_chart(page, LOSS_TITLE)).to_be_visible(timeout=FIRST_POINTS_MS)
    first = wait_for_more_points(page, 0, FIRST_POINTS_MS)
    later = wait_for_more_points(page, first, UPDATE_MS)
    assert later > first
    expect(stop).to_be_enabled()

    # the run goes on while the Playground is open
    go_to(page, "Playground")
    go_to(page, "Training")
    expect(plotly_chart(page, LOSS_TITLE)).to_be_visible(timeout=UPDATE_MS)
    wait_for_more_points(page, later, UPDATE_MS)

    stop.click()
    expect(page.get_by_text(STOPPED)).to_be_visible(timeout=15_000)
    expect(start).to_be_enabled(timeout=UPDATE_MS)
    expect(stop).to_be_disabled()
    stopped_at = loss_points(page)
    progress = page.get_by_test_id("stProgress").inner_text()

    # a page visit later, the stopped run is all there and has not moved on
    go_to(page, "Playground")
    go_to(page, "Training")
    expect(page.get_by_text(STOPPED)).to_be_visible(timeout=UPDATE_MS)
    expect(plotly_chart(page, LOSS_TITLE)).to_be_visible(timeout=UPDATE_MS)
    assert loss_points(page) == stopped_at
    expect(page.get_by_test_id("stProgress")).to_have_text(progress)

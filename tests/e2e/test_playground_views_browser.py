"""The Playground's views inside the network in a real browser: a click in the gallery reads
that digit, the reading order switch changes the models and every view, and an address
brings a view back (a gallery digit, a drawn one, and a bad address)."""

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import CURRENT_CHARTS, SEVEN, canvas_box, draw, open_app_page, plotly_chart
from tests.e2e.test_playground_browser import FIRST_PREDICTION_MS, UPDATE_MS, prediction
from training.data import load_training_data

pytestmark = pytest.mark.browser

READS = "What the network reads"
PATH = "Where the memory travels"


@pytest.fixture(scope="module")
def labels():
    return load_training_data("sample").val.labels.numpy()


def first_of(labels, digit: int) -> int:
    return int((labels == digit).nonzero()[0][0])


def value(page):
    return prediction(page).locator('[data-testid="stMetricValue"]')


def expect_title(page, title: str, text: str) -> None:
    titles = page.locator(f"{CURRENT_CHARTS} .gtitle").filter(has_text=title)
    expect(titles).to_have_text([re.compile(re.escape(text))], timeout=UPDATE_MS)


def params(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def gallery_button(page, index: int):
    return page.locator(f".st-key-gallery-{index} button")


def test_a_click_in_the_gallery_reads_that_digit(page, app_url, labels):
    open_app_page(page, f"{app_url}/playground")
    page.get_by_text("Pick from the gallery", exact=True).click()
    expect(page.get_by_text("Pick a digit from the gallery")).to_be_visible(timeout=UPDATE_MS)

    four = first_of(labels, 4)
    gallery_button(page, four).click()
    expect(value(page)).to_have_text("4", timeout=FIRST_PREDICTION_MS)
    expect(gallery_button(page, four)).to_have_attribute("data-testid", "stBaseButton-primary")
    expect(plotly_chart(page, PATH)).to_be_visible(timeout=UPDATE_MS)
    expect(page).to_have_url(re.compile(rf"digit=sample-{four}\b"), timeout=UPDATE_MS)

    # a digit this model misreads: the answer is what its caption said
    page.get_by_role("tab", name=re.compile("Misread by this model")).click()
    panel = page.get_by_role("tabpanel").filter(has_text="misread: the model says")
    misread = panel.locator("[class*='st-key-gallery-']").first
    says = panel.get_by_text(re.compile(r"^misread: the model says \d$")).first
    expect(says).to_be_visible(timeout=UPDATE_MS)
    answer = says.inner_text()[-1]
    misread.locator("button").click()
    expect(value(page)).to_have_text(answer, timeout=UPDATE_MS)
    # the tab stays open across the rerun, with the pick marked
    expect(page.get_by_role("tab", name=re.compile("Misread"))).to_have_attribute(
        "aria-selected", "true"
    )
    expect(misread.locator("button")).to_have_attribute(
        "data-testid", "stBaseButton-primary", timeout=UPDATE_MS
    )

    page.get_by_role("button", name="Back to drawing").click()
    expect(page.get_by_text("Draw a digit in the box")).to_be_visible(timeout=UPDATE_MS)
    canvas_box(page)  # the canvas is back
    expect(page).not_to_have_url(re.compile("digit="), timeout=UPDATE_MS)


def test_the_reading_order_switch_changes_the_models_and_the_views(page, app_url, labels):
    open_app_page(page, f"{app_url}/playground?digit=sample-{first_of(labels, 7)}")
    expect(value(page)).to_have_text("7", timeout=FIRST_PREDICTION_MS)
    expect_title(page, READS, "row 28 at step 28")

    page.get_by_text("Bottom to top", exact=True).click()
    expect(page.get_by_role("link", name="Train one on the Training page")).to_be_visible(
        timeout=UPDATE_MS
    )
    expect(page).to_have_url(re.compile("order=rows_reversed"), timeout=UPDATE_MS)
    slider = page.get_by_role("slider", name="Step (rows read)")
    slider.focus()
    slider.press("Home")
    expect_title(page, READS, "row 28 at step 1")
    slider.press("ArrowRight")
    expect_title(page, READS, "row 27 at step 2")

    page.get_by_text("Column by column", exact=True).click()
    slider = page.get_by_role("slider", name="Step (columns read)")
    expect(slider).to_be_visible(timeout=UPDATE_MS)
    expect_title(page, READS, "column 28 at step 28")  # another model: the digit reads anew
    page.get_by_test_id("stSelectbox").filter(has_text="Model").click()
    options = page.get_by_role("option")
    expect(options).to_have_text(["Bundled GRU", "Upload a model file…"])
    page.keyboard.press("Escape")

    # the Training page is where other cells learn to read this way
    page.get_by_role("link", name="Train one on the Training page").click()
    expect(page.get_by_role("heading", name="Training", level=1)).to_be_visible(timeout=UPDATE_MS)


def test_a_bookmarked_address_opens_that_view(page, app_url, labels):
    three = first_of(labels, 3)
    open_app_page(
        page,
        f"{app_url}/playground?order=columns&model=bundled-gru&digit=sample-{three}"
        "&step=12&view=update+gate",
    )
    expect(value(page)).to_have_text("3", timeout=FIRST_PREDICTION_MS)
    expect(page.get_by_role("slider", name="Step (columns read)")).to_have_value("12")
    expect_title(page, READS, "column 12 at step 12")
    expect_title(page, "Gate", "update gate")
    expect_title(page, PATH, "now step 12")
    expect(page.get_by_test_id("stAlertContentWarning")).to_have_count(0)


def test_a_drawn_digit_comes_back_from_its_address(page, app_url):
    open_app_page(page, f"{app_url}/playground")
    draw(page, canvas_box(page), SEVEN)
    expect(value(page)).to_have_text("7", timeout=FIRST_PREDICTION_MS)
    expect(page).to_have_url(re.compile(r"digit=z"), timeout=UPDATE_MS)
    slider = page.get_by_role("slider", name="Step (rows read)")
    slider.focus()
    slider.press("Home")
    expect_title(page, READS, "row 1 at step 1")
    expect(page).to_have_url(re.compile(r"step=1\b"), timeout=UPDATE_MS)
    bookmark = page.url

    other = page.context.new_page()  # a new tab: a new session
    open_app_page(other, bookmark)
    expect(value(other)).to_have_text("7", timeout=FIRST_PREDICTION_MS)
    expect(other.get_by_text("A digit from a bookmarked address")).to_be_visible()
    expect(other.get_by_role("slider", name="Step (rows read)")).to_have_value("1")
    assert params(other)["digit"] == params(page)["digit"]
    other.close()


def test_a_bad_address_warns_and_opens_the_playground(page, app_url):
    open_app_page(page, f"{app_url}/playground?model=nope&step=99&digit=garbage&present=1")
    warning = page.get_by_test_id("stAlertContentWarning")
    expect(warning).to_have_count(1)
    expect(warning).to_contain_text("model=nope")
    expect(warning).to_contain_text("step=99")
    expect(page.get_by_text("Draw a digit in the box")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page).to_have_url(re.compile("present=1"))

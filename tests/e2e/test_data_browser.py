"""A Kaggle train.csv through the browser's own file input: the real upload path (multipart
request, the server's size limit), then a short run on it, then a bad file that leaves the run
and the good file in place."""

import re

import pytest
import torch
from playwright.sync_api import expect

from tests.e2e.harness import open_app_page, set_number
from training.data import load_sample

pytestmark = pytest.mark.browser

UPDATE_MS = 30_000
RUN_MS = 90_000
KAGGLE = "Kaggle Digit Recognizer train.csv (upload)"
HEADER = "label," + ",".join(f"pixel{i}" for i in range(784))


@pytest.fixture(scope="module")
def good_csv() -> bytes:
    """300 real digits, 30 of each, as Kaggle writes train.csv."""
    sample = load_sample()
    index = torch.cat([torch.nonzero(sample.labels == d).flatten()[:30] for d in range(10)])
    images, labels = sample.images[index].numpy(), sample.labels[index].numpy()
    rows = [f"{label}," + ",".join(map(str, image.reshape(-1))) for image, label in zip(
        images, labels, strict=True
    )]  # fmt: skip
    return "\n".join([HEADER, *rows]).encode() + b"\n"


def choose(page, label: str, option: str) -> None:
    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.get_by_role("option", name=option).click()


def upload(page, name: str, content: bytes) -> None:
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="train.csv, or its zip")
    uploader.locator("input[type='file']").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content}
    )


def test_a_train_csv_uploaded_in_the_browser_trains_and_a_bad_one_changes_nothing(
    page, app_url, good_csv
):
    open_app_page(page, f"{app_url}/training")
    main = page.get_by_test_id("stMain")
    start = main.get_by_role("button", name="Start training")
    choose(page, "Data", KAGGLE)
    expect(page.get_by_text("Upload Kaggle's train.csv (or its zip)")).to_be_visible(
        timeout=UPDATE_MS
    )
    expect(start).to_be_disabled()

    upload(page, "train.csv", good_csv)
    expect(page.get_by_text("Kaggle train.csv (300 digits)")).to_be_visible(timeout=UPDATE_MS)
    expect(start).to_be_enabled(timeout=UPDATE_MS)

    set_number(page, "Hidden size", 16)
    set_number(page, "Epochs", 1)
    start.click()
    expect(page.get_by_text("Training finished")).to_be_visible(timeout=RUN_MS)
    expect(
        page.get_by_text(re.compile(r"This run: GRU, 16 hidden units.*Kaggle train\.csv \(300"))
    ).to_be_visible()

    bad = good_csv.replace(b"\n0,", b"\nzero,", 1)
    upload(page, "bad.csv", bad)
    expect(
        page.get_by_text("bad.csv, row 2, column 1 (label): 'zero' is not a number.")
    ).to_be_visible(timeout=UPDATE_MS)
    expect(
        page.get_by_text("Training still uses the file uploaded before: train.csv.")
    ).to_be_visible()
    expect(page.get_by_text("Training finished")).to_be_visible()
    expect(start).to_be_enabled()

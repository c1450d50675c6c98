"""Two visitors on a server that trains one run at a time, in a real browser: the second one's
run waits in line with its place on show, and starts by itself, charts growing, once the first
is stopped. The page's one-second timer does the updating, which AppTest cannot show."""

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import (
    AppServer,
    new_offline_context,
    open_app_page,
    set_number,
    wait_for_more_points,
)

pytestmark = pytest.mark.browser

WAIT_MS = 60_000  # generous: two runs share a busy 2-core machine
WAITING = "Waiting for a free training slot: yours is next."


@pytest.fixture(scope="module")
def one_run_server():
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RNN_DIGIT_LAB_MAX_RUNS", "1")  # the app's process inherits it
        server = AppServer().start()
    yield server
    exit_code = server.stop()
    output = server.output()
    server.cleanup()
    assert exit_code is None, f"The app died (exit code {exit_code}).\n{output}"
    assert "Traceback" not in output, output


def _start_run(page, url: str, epochs: int) -> None:
    open_app_page(page, f"{url}/training", timeout_ms=WAIT_MS)
    set_number(page, "Hidden size", 16)
    set_number(page, "Epochs", epochs)
    page.get_by_test_id("stMain").get_by_role("button", name="Start training").click()


def test_a_second_run_waits_its_turn_then_starts_by_itself(browser, one_run_server):
    contexts = [new_offline_context(browser, 1280, 720) for _ in range(2)]
    first, second = (context.new_page() for context, _ in contexts)
    try:
        _start_run(first, one_run_server.url, epochs=200)
        wait_for_more_points(first, 0, WAIT_MS)  # the first visitor's run holds the slot

        _start_run(second, one_run_server.url, epochs=200)  # long enough to still run when seen
        main = second.get_by_test_id("stMain")
        expect(main.get_by_text(WAITING)).to_be_visible(timeout=WAIT_MS)
        expect(main.get_by_role("button", name="Cancel")).to_be_enabled()
        expect(main.get_by_role("button", name="Start training")).to_be_disabled()
        expect(second.locator(".js-plotly-plot")).to_have_count(0)

        first.get_by_test_id("stMain").get_by_role("button", name="Stop").click()
        expect(first.get_by_text("Stopped before the end")).to_be_visible(timeout=WAIT_MS)

        # nobody touches the second page: its timer finds the run started and redraws
        wait_for_more_points(second, 0, WAIT_MS)
        expect(main.get_by_text(WAITING)).to_have_count(0)
        expect(main.get_by_role("button", name="Stop")).to_be_enabled()
        main.get_by_role("button", name="Stop").click()
        expect(second.get_by_text("Stopped before the end")).to_be_visible(timeout=WAIT_MS)
    finally:
        for context, _ in contexts:
            context.close()
    refused = [url for _, offline in contexts for url in offline.attempted]
    assert not refused, f"The pages tried to reach hosts other than 127.0.0.1: {refused}"

"""Screenshots of both pages at projector sizes, to check how the app looks on a big screen.

Starts the app on a free local port, opens the Playground and the Training page at
1280x720 and 1920x1080 in headless Chromium (Debian's /usr/bin/chromium), draws a 7,
starts a short training run, and writes PNGs to --out:

    .venv/bin/python scripts/screenshots.py --out screenshots/

Nothing leaves 127.0.0.1: requests to other hosts are refused and listed at the end.
"""

import argparse
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

# the server and browser code is shared with the browser tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.harness import (  # noqa: E402
    SEVEN,
    AppServer,
    canvas_box,
    draw,
    launch_chromium,
    new_offline_context,
    open_app_page,
    plotly_chart,
    set_number,
    wait_for_more_points,
)

SIZES = [(1280, 720), (1920, 1080)]
WAIT_MS = 90_000  # generous: the app shares 2 CPU cores with whatever else runs
CHART_POINTS = 5  # wait for this many points on the loss chart before the shot


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path("screenshots"), help="folder for the PNGs (screenshots/)"
    )
    return parser.parse_args()


# the page is still: no script or fragment running, nothing faded as stale, no placeholder
# where an element is still loading, and every plotly chart drawn
SETTLED = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    const charts = [...document.querySelectorAll("[data-testid='stPlotlyChart']")];
    return app !== null && app.dataset.testScriptState === "notRunning"
        && document.querySelector("[data-stale='true']") === null
        && document.querySelector("[data-testid^='stSkeleton']") === null
        && charts.every((chart) => chart.querySelector(".main-svg") !== null);
}"""


def shoot(page, out: Path, name: str, into_view=None) -> None:
    """One viewport-sized PNG of the page once it is still. Streamlit scrolls inside its own
    container, so a page longer than the window is shot a part at a time, each part brought
    into view first."""
    if into_view is not None:
        into_view.scroll_into_view_if_needed()
    page.wait_for_function(SETTLED, timeout=WAIT_MS, polling=100)
    path = out / f"{name}.png"
    page.screenshot(path=path)
    print(f"wrote {path}")


def playground(page, url: str, out: Path, size: str) -> None:
    open_app_page(page, f"{url}/", timeout_ms=WAIT_MS)
    prompt = page.get_by_text("Draw a digit in the box")
    expect(prompt).to_be_visible(timeout=WAIT_MS)
    shoot(page, out, f"{size}-playground-empty")

    draw(page, canvas_box(page, WAIT_MS), SEVEN)
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
    expect(metric).to_be_visible(timeout=WAIT_MS)
    shoot(page, out, f"{size}-playground-drawn")

    # the step views lie below the fold at 1280x720, and plotly draws a chart once it is seen
    slider = page.get_by_role("slider", name="Step (rows read)")
    slider.scroll_into_view_if_needed()
    reading = plotly_chart(page, "Memory: hidden state")
    expect(reading).to_be_visible(timeout=WAIT_MS)
    slider.focus()
    title = plotly_chart(page, "What the network reads").locator(".gtitle")
    for step in range(27, 14, -1):  # back to step 15, half the digit read
        # one key at a time, each after the app has drawn the last: a key pressed while
        # the app is still redrawing can be lost
        slider.press("ArrowLeft")
        expect(title).to_contain_text(f"row {step} at step {step}", timeout=WAIT_MS)
    shoot(page, out, f"{size}-playground-steps", into_view=reading)


def training(page, url: str, out: Path, size: str) -> None:
    open_app_page(page, f"{url}/training", timeout_ms=WAIT_MS)
    main = page.get_by_test_id("stMain")
    start = main.get_by_role("button", name="Start training")
    expect(start).to_be_enabled(timeout=WAIT_MS)
    expect(plotly_chart(page, "Some of the digits")).to_be_visible(timeout=WAIT_MS)
    shoot(page, out, f"{size}-training-before")

    set_number(page, "Hidden size", 16)
    set_number(page, "Epochs", 20)
    start.click()
    wait_for_more_points(page, CHART_POINTS - 1, WAIT_MS)
    shoot(page, out, f"{size}-training-running")
    shoot(page, out, f"{size}-training-charts", into_view=plotly_chart(page, "Accuracy"))

    main.get_by_role("button", name="Stop").click()
    expect(page.get_by_text("Stopped before the end")).to_be_visible(timeout=WAIT_MS)
    shoot(page, out, f"{size}-training-stopped", into_view=page.get_by_text("Stopped before"))


def main() -> int:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    server = AppServer().start()
    refused = []
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for width, height in SIZES:
                size = f"{width}x{height}"
                for shots in (playground, training):
                    # a fresh context is a fresh session: each page starts as a visitor sees it
                    context, offline = new_offline_context(browser, width, height)
                    shots(context.new_page(), server.url, args.out, size)
                    context.close()
                    refused += offline.attempted
            browser.close()
    finally:
        server.stop()
        server.cleanup()
    for url in sorted(set(refused)):
        print(f"refused a request to another host: {url}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

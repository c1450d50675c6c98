"""Record what the Playground's canvas sends when a person draws, for the light load test.

Opens the real app in headless Chromium, draws each digit of DIGITS as the browser tests do,
and keeps the canvas's widget value from the web socket frame the page sends (a BackMsg whose
rerun carries the canvas's JSON: fabric.js's drawing and the PNG the server reads). The light
clients of bench.light_load send these values as they are, so the server does the same work
as for a person's drawing.

    .venv/bin/python -m bench.capture_canvas [--out bench/canvas_drawings.json]
"""

import argparse
import json
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg

from tests.e2e.harness import (
    ONE,
    SEVEN,
    AppServer,
    canvas_box,
    draw,
    launch_chromium,
    open_app_page,
)

DIGITS = {"7": SEVEN, "1": ONE}
OUT = Path(__file__).with_name("canvas_drawings.json")
CANVAS_KEY = "-canvas-"  # the end of the canvas's widget id: "$$ID-<hash>-canvas-<round>"


def canvas_value(payload: bytes) -> str | None:
    """The canvas's JSON value in one frame the page sent, if it holds one."""
    message = BackMsg()
    message.ParseFromString(payload)
    for widget in message.rerun_script.widget_states.widgets:
        if CANVAS_KEY in widget.id and widget.WhichOneof("value") == "json_value":
            return widget.json_value
    return None


def capture(url: str, browser) -> dict[str, str]:
    page = browser.new_page(viewport={"width": 900, "height": 780})
    sent: list[bytes] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    open_app_page(page, f"{url}/playground")
    values = {}
    for digit, strokes in DIGITS.items():
        sent.clear()
        draw(page, canvas_box(page), strokes)
        expect(page.get_by_test_id("stMetricValue")).to_have_text(digit, timeout=60_000)
        found = [canvas_value(p) for p in sent if isinstance(p, bytes)]
        found = [v for v in found if v is not None]
        if not found:
            raise RuntimeError(f"the page sent no canvas value for the {digit}")
        values[digit] = found[-1]
        page.get_by_role("button", name="Clear").click()
        expect(page.get_by_test_id("stMetric")).to_have_count(0, timeout=60_000)
    page.close()
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"(default {OUT})")
    args = parser.parse_args(argv)
    server = AppServer().start()
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            values = capture(server.url, browser)
            browser.close()
    finally:
        server.stop()
        server.cleanup()
    args.out.write_text(json.dumps(values, indent=1) + "\n")
    sizes = ", ".join(f"{digit}: {len(v):,} characters" for digit, v in values.items())
    print(f"wrote {args.out} ({sizes})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

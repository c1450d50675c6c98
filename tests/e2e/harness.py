"""Start the real app and a headless Chromium, for the browser tests and scripts/screenshots.py.

Everything stays on 127.0.0.1: the app listens there, and every browser context made here
aborts (and records) any request to another host, so a stray outbound call fails loudly
instead of hanging on a machine without internet.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import expect

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own download cannot work offline
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_S = 60.0  # the first start imports torch and streamlit on a busy 2-core box
POLL_INTERVAL_S = 0.25

# a health check must never go through a proxy from the environment
_LOCAL_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with _LOCAL_OPENER.open(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class AppServer:
    """`streamlit run app.py` on a free local port, its output kept in temporary files.
    `env` adds variables to the app's environment (e.g. RNN_DIGIT_LAB_MAX_RUNS)."""

    def __init__(
        self,
        port: int | None = None,
        script: str = "app.py",
        cwd: Path = REPO_ROOT,
        env: dict[str, str] | None = None,
    ):
        self.port = port or free_port()
        self.script = script
        self.cwd = cwd
        self.env = env or {}
        self.url = f"http://{HOST}:{self.port}"
        self.process: subprocess.Popen | None = None
        self._logs = tempfile.TemporaryDirectory(prefix="rnn-digit-lab-app-")
        self.stdout_path = Path(self._logs.name) / "stdout.txt"
        self.stderr_path = Path(self._logs.name) / "stderr.txt"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> "AppServer":
        command = [
            sys.executable, "-m", "streamlit", "run", self.script,
            "--server.port", str(self.port),
            "--server.address", HOST,
            "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ]  # fmt: skip
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                command, cwd=self.cwd, stdout=out, stderr=err, env={**os.environ, **self.env}
            )
        self._wait_healthy(timeout_s)
        return self

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not _healthy(self.url):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"The app exited with code {self.process.returncode} before it answered "
                    f"{self.url}/_stcore/health.\n{self.output()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"The app did not answer {self.url}/_stcore/health within {timeout_s:.0f} s."
                    f"\n{self.output()}"
                )
            time.sleep(POLL_INTERVAL_S)  # polling interval, not a synchronisation

    def died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def output(self) -> str:
        """The app's stderr and stdout so far, for a failure message."""
        parts = []
        for name, path in (("stderr", self.stderr_path), ("stdout", self.stdout_path)):
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- app {name} ---\n{text.strip() or '(empty)'}")
        return "\n".join(parts)

    def stop(self) -> int | None:
        """Terminate the app (kill it if it hangs); its exit code if it had already died."""
        if self.process is None:
            return None
        already_dead = self.process.poll() is not None
        if not already_dead:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        return self.process.returncode if already_dead else None

    def cleanup(self) -> None:
        self._logs.cleanup()


def check_chromium() -> None:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"{CHROMIUM} is missing. The browser tests need Debian's chromium: "
            "`apt-get install chromium` (scripts/test.sh does it). "
            "Do not run `playwright install`: its download cannot work offline."
        )


def launch_chromium(playwright):
    check_chromium()
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def is_local(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in ("data", "blob", "about"):
        return True
    return parsed.hostname == HOST


@dataclass
class Offline:
    """Requests to hosts other than 127.0.0.1 that a browser context tried and was refused."""

    attempted: list[str] = field(default_factory=list)

    def block(self, route) -> None:
        self.attempted.append(route.request.url)
        route.abort("blockedbyclient")

    def block_socket(self, socket_route) -> None:
        self.attempted.append(socket_route.url)
        socket_route.close()


def new_offline_context(browser, width: int, height: int):
    """A fresh context (a fresh Streamlit session) that can reach 127.0.0.1 only."""
    context = browser.new_context(viewport={"width": width, "height": height})
    offline = Offline()
    context.route("**/*", lambda route: _local_or_block(route, offline))
    context.route_web_socket(lambda url: not is_local(url), offline.block_socket)
    return context, offline


def _local_or_block(route, offline: Offline) -> None:
    if is_local(route.request.url):
        route.continue_()
    else:
        offline.block(route)


# -- drawing on streamlit-drawable-canvas ---------------------------------------------------

# strokes in fractions of the canvas side, drawn like a person would, thick and centred
SEVEN = [[(0.28, 0.24), (0.72, 0.24), (0.60, 0.45), (0.50, 0.62), (0.44, 0.80)]]
ONE = [[(0.52, 0.18), (0.50, 0.50), (0.48, 0.82)]]


# A new canvas (the first, or after Clear) lays out without its stylesheet for a moment: the
# component's styles load into its shadow root after its elements are made, and until then
# the background canvas sits in the flow above the drawing canvas, which shows ~290 px lower
# than where it ends up (longer on a busy machine: 0.3-0.4 s with six pages drawing). A box
# measured then sends the mouse below the canvas, and the drawing is lost. The canvas has
# settled once the drawing canvas covers the background canvas exactly, as the styles put it.
SETTLED_CANVAS_JS = """(upper) => {
  if (!upper.isConnected) return null;
  const background = upper.getRootNode().querySelector(".dc-background-canvas");
  if (!background) return null;
  const a = upper.getBoundingClientRect(), b = background.getBoundingClientRect();
  const same = Math.abs(a.x - b.x) < 1 && Math.abs(a.y - b.y) < 1 && a.width > 0;
  return same ? {x: a.x, y: a.y, width: a.width, height: a.height} : null;
}"""


def canvas_box(page, timeout_ms: float = 60_000) -> dict:
    """Page coordinates of the drawing surface: fabric.js's upper canvas, the one that takes
    the mouse, once it has settled (SETTLED_CANVAS_JS). streamlit-drawable-canvas 0.13 is a
    components-v2 element: no iframe, its DOM sits in a shadow root, which Playwright's CSS
    locators reach into."""
    upper = page.locator("canvas.upper-canvas")
    expect(upper).to_be_visible(timeout=timeout_ms)
    settled = page.wait_for_function(
        SETTLED_CANVAS_JS, arg=upper.element_handle(), polling="raf", timeout=timeout_ms
    )
    box = settled.json_value()
    if box is None:
        raise AssertionError("the drawing canvas has no box on the page")
    return box


def draw(page, box: dict, strokes: list, steps_per_segment: int = 12) -> None:
    """Drag the mouse along each stroke (fractions of the box) in small steps."""
    for stroke in strokes:
        points = [
            (box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in stroke
        ]
        page.mouse.move(*points[0])
        page.mouse.down()
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            for i in range(1, steps_per_segment + 1):
                t = i / steps_per_segment
                page.mouse.move(x0 + t * (x1 - x0), y0 + t * (y1 - y0))
        page.mouse.up()


# -- pages --------------------------------------------------------------------------------


def open_app_page(page, url: str, timeout_ms: float = 60_000) -> None:
    """Go to one of the app's pages and wait until its first script run is over."""
    page.goto(url)
    app = page.locator('[data-testid="stApp"]')
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout_ms)
    # an unknown url_path opens the main page under a modal that swallows every click
    expect(page.get_by_role("dialog", name="Page not found")).to_have_count(0)


def set_number(page, label: str, value: int) -> None:
    """Type into a number input; it sends its value on Enter (or when it loses focus)."""
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    expect(field).to_have_value(str(value))


# while a chart redraws, its old copy stays in the page for a moment, marked stale
CURRENT_CHARTS = "[data-stale='false'] .js-plotly-plot"
LOSS_TITLE = "Training loss"


def plotly_chart(page, title: str):
    """The plotly chart on show whose title contains `title`."""
    return page.locator(CURRENT_CHARTS).filter(has=page.locator(".gtitle", has_text=title))


# plotly sends arrays base64-packed; _fullData holds them decoded
_COUNT_POINTS = "el => (el._fullData && el._fullData[0] ? el._fullData[0].x.length : 0)"
_MORE_POINTS_THAN = """([selector, title, count]) => [...document.querySelectorAll(selector)].some(
    (el) => (el.querySelector(".gtitle")?.textContent ?? "").includes(title)
        && el._fullData !== undefined && el._fullData[0].x.length > count
)"""


def loss_points(page) -> int:
    """How many points the training loss chart shows now."""
    return plotly_chart(page, LOSS_TITLE).evaluate(_COUNT_POINTS)


def wait_for_more_points(page, count: int, timeout_ms: float) -> int:
    """Wait until the loss chart has more than `count` points; how many it has then."""
    page.wait_for_function(
        _MORE_POINTS_THAN, arg=[CURRENT_CHARTS, LOSS_TITLE, count], timeout=timeout_ms, polling=200
    )
    return loss_points(page)


def run_load_script(args: list[str], out: Path, timeout_s: float, name: str) -> dict:
    """Run a load test module (`python -m <args...> --json-out out`) from the repository root
    and return the JSON object it wrote, with its exit code and the end of its log; fail the
    calling test with the log when it hangs or writes nothing."""
    import pytest  # only the tests call this; the screenshot scripts import this module too

    command = [sys.executable, "-m", *args, "--json-out", str(out)]
    try:
        done = subprocess.run(
            command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"the {name} ran past {timeout_s} s\n{error.stderr}")
    if not out.exists():
        pytest.fail(f"the {name} wrote no result (exit {done.returncode})\n{done.stderr}")
    result = json.loads(out.read_text())
    result["exit_code"] = done.returncode
    result["log"] = done.stderr[-6000:]
    return result

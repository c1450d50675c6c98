"""Browser sessions for the load test: many Streamlit sessions (one browser context each) in one
headless Chromium, driven at once through Playwright's async API.

Every page carries a probe (PROBE_JS, an init script) that timestamps, inside the page, what
the visitor sees: when the mouse was let go, when the Prediction metric appeared, when the
app's web socket sent and received, and each change of the training run's state. The figures
come from the page's own clocks, so a Python side that is slow under load cannot enter them.

The Training page is read by its text: the patterns below are the only place that knows it.
"""

import json
import re
from dataclasses import dataclass, field

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import expect

from tests.e2e.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HOST,
    SETTLED_CANVAS_JS,
    Offline,
    check_chromium,
)

# how the Training page says where a run is; the first pattern an alert matches names its state
END_PATTERNS = {
    "finished": "Training finished",
    "stopped": "Stopped before the end",
    "cancelled": "Cancel",
    "refused": "already (?:training|going)|Try again in a minute",
    "diverged": "diverged",
    "failed": "failed|cannot be used|Change the settings",
}
QUEUED_PATTERN = "Waiting for a free training slot"
DONE = ("finished", "stopped", "cancelled", "diverged", "failed")
CAPTION_START = "This run:"
DRAW_PROMPT = "Draw a digit in the box"
SESSION_CHOICE = "Trained in this session"

# Any address but 127.0.0.1, for http(s) and web sockets alike. A pattern, not a Python
# function: Playwright then intercepts only these, and the app's own requests and web socket
# messages go straight between page and server instead of through this process.
NOT_LOCAL = re.compile(rf"^(?!(?:https?|wss?)://{re.escape(HOST)}(?::\d+)?(?:/|$))")

PROBE_JS = r"""
(() => {
  const QUEUED = new RegExp(__QUEUED__);
  const ENDS = Object.entries(__ENDS__).map(([state, pattern]) => [state, new RegExp(pattern)]);
  const lab = (window.__lab = {
    timing: false, ups: [], sent: [], recv: [], shown: [], predicting: false,
    states: [], captions: [], current: null, errors: [],
  });
  const size = (data) => data?.byteLength ?? data?.size ?? data?.length ?? 0;

  addEventListener("pointerup", () => lab.timing && lab.ups.push(performance.now()), true);

  // Playwright's web socket routing may have replaced WebSocket already: extend what is there
  const Base = window.WebSocket;
  window.WebSocket = class extends Base {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (lab.timing) lab.recv.push([performance.now(), size(event.data)]);
      });
    }
    send(data) {
      if (lab.timing) lab.sent.push([performance.now(), size(data)]);
      return super.send(data);
    }
  };

  const fresh = () => document.querySelectorAll(
    '[data-testid="stElementContainer"][data-stale="false"]');

  function runState() {
    let caption = null, queued = null, progress = null;
    const alerts = [];
    for (const box of fresh()) {
      const kind = box.firstElementChild?.getAttribute("data-testid") ?? "";
      const text = box.textContent ?? "";
      if (text.startsWith(__CAPTION__)) caption = text;
      else if (kind === "stProgress") progress = text;
      else if (kind === "stAlert" && QUEUED.test(text)) queued = text;
      else if (kind === "stAlert") alerts.push(text);
    }
    // the page may show other notes (about the data, say): a run's end is the alert that says so
    let end = null, said = "";
    for (const text of alerts) {
      end = ENDS.find(([, pattern]) => pattern.test(text));
      if (end) { said = text; break; }
    }
    let state = null, ahead = null, step = null;
    if (end) state = end[0];
    else if (queued) {
      state = "queued";
      const runs = queued.match(/(\d+) runs? ahead/);
      ahead = /yours is next/.test(queued) ? 0 : runs ? Number(runs[1]) : -1;
    } else if (progress && !/ took /.test(progress)) {  // a run over says how long it took
      state = "running";
      const done = progress.match(/Step ([\d,]+)/);
      step = done ? Number(done[1].replaceAll(",", "")) : 0;
    }
    return state && { state, ahead, step, caption, progress, text: said || queued || "" };
  }

  function prediction() {
    for (const box of fresh()) {
      const metric = box.querySelector('[data-testid="stMetric"]');
      if (metric && metric.textContent.startsWith("Prediction")) {
        return metric.querySelector('[data-testid="stMetricValue"]')?.textContent ?? "";
      }
    }
    return null;
  }

  function look() {
    for (const error of document.querySelectorAll('[data-testid="stException"]')) {
      const text = error.textContent.slice(0, 300);
      if (!lab.errors.includes(text)) lab.errors.push(text);
    }
    if (location.pathname.endsWith("/training")) {
      const now = runState();
      if (now) {
        lab.current = now;
        const last = lab.states.at(-1);
        if (!last || last.state !== now.state || last.ahead !== now.ahead) {
          lab.states.push({ t: Date.now(), state: now.state, ahead: now.ahead, text: now.text });
        }
        if (now.caption && !lab.captions.includes(now.caption)) lab.captions.push(now.caption);
      }
    }
    const value = prediction();
    if (value !== null && !lab.predicting && lab.timing) lab.shown.push([performance.now(), value]);
    lab.predicting = value !== null;
  }

  new MutationObserver(look).observe(document, {
    subtree: true, childList: true, characterData: true,
    attributes: true, attributeFilter: ["data-stale"],
  });
})();
"""

# One drawing, from the page's own clocks: mouse up -> first message out (the canvas hands its
# image to Streamlit) -> last message in before the metric showed -> metric on the page.
DRAWING_JS = """() => {
  const lab = window.__lab;
  const up = lab.ups.at(-1);
  const shown = lab.shown.find(([t]) => t >= up);
  const sent = lab.sent.filter(([t]) => t >= up && t <= shown[0]);
  const recv = lab.recv.filter(([t]) => t >= (sent.length ? sent[0][0] : up) && t <= shown[0]);
  const out = sent.length ? sent[0][0] : null;
  const back = recv.length ? recv.at(-1)[0] : null;
  const result = {
    at: Date.now() - (performance.now() - up),
    total_ms: shown[0] - up,
    browser_before_ms: out === null ? null : out - up,
    request_to_reply_ms: out === null || back === null ? null : back - out,
    browser_after_ms: back === null ? null : shown[0] - back,
    sent_bytes: sent.reduce((n, [, b]) => n + b, 0),
    received_bytes: recv.reduce((n, [, b]) => n + b, 0),
    value: shown[1],
  };
  lab.ups = []; lab.sent = []; lab.recv = []; lab.shown = [];
  return result;
}"""

_SHOWN_JS = "() => window.__lab.ups.length > 0 && window.__lab.shown.length > 0"
_UNANSWERED_JS = f"""() => {{
  const lab = window.__lab, up = lab.ups.at(-1);
  const prompt = [...document.querySelectorAll(
    '[data-testid="stElementContainer"][data-stale="false"] [data-testid="stAlert"]')]
    .some((el) => el.textContent.includes({json.dumps(DRAW_PROMPT)}));
  return {{
    sent_bytes: lab.sent.filter(([t]) => t >= up).map(([, b]) => b),
    received_after: lab.recv.filter(([t]) => t >= up).length,
    prompt_shown: prompt,
    script: document.querySelector('[data-testid="stApp"]')?.dataset.testScriptState ?? null,
  }};
}}"""
_CLEARED_JS = f"""() => !window.__lab.predicting && [...document.querySelectorAll(
    '[data-testid="stElementContainer"][data-stale="false"] [data-testid="stAlert"]')]
    .some((el) => el.textContent.includes({json.dumps(DRAW_PROMPT)}))"""
_STATE_JS = """([states, minStep]) => {
  const now = window.__lab.current;
  const found = now !== null && states.includes(now.state)
    && (now.state !== "running" || now.step >= minStep);
  return found ? now : null;
}"""
_MODEL_TEXT_JS = """(before) => [...document.querySelectorAll(
    '[data-testid="stElementContainer"][data-stale="false"] [data-testid="stMarkdown"]')]
    .map((el) => el.textContent).find((text) => / hidden units/.test(text) && text !== before)
    ?? null"""


def probe_script() -> str:
    return (
        PROBE_JS.replace("__QUEUED__", json.dumps(QUEUED_PATTERN))
        .replace("__ENDS__", json.dumps(END_PATTERNS))
        .replace("__CAPTION__", json.dumps(CAPTION_START))
    )


@dataclass
class Session:
    """One browser context, so one Streamlit session, with its page."""

    name: str
    context: object
    page: object
    offline: Offline = field(default_factory=Offline)
    closed: bool = False

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.context.close()


async def launch(playwright):
    check_chromium()
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


async def new_session(browser, name: str, viewport: tuple[int, int], timeout_ms: float) -> Session:
    """A fresh context that can reach 127.0.0.1 only, with the probe in every page."""
    width, height = viewport
    context = await browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(timeout_ms)
    session = Session(name, context, None)

    async def refuse(route):
        session.offline.attempted.append(route.request.url)
        await route.abort("blockedbyclient")

    async def refuse_socket(socket_route):
        session.offline.attempted.append(socket_route.url)
        await socket_route.close()

    await context.route(NOT_LOCAL, refuse)
    await context.route_web_socket(NOT_LOCAL, refuse_socket)
    await context.add_init_script(probe_script())
    session.page = await context.new_page()
    return session


# -- both pages ---------------------------------------------------------------------------


async def open_app_page(page, url: str, timeout_ms: float) -> None:
    """Go to a page of the app and wait until its first script run is over."""
    await page.goto(url, timeout=timeout_ms)
    app = page.locator('[data-testid="stApp"]')
    await expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout_ms)
    await expect(page.get_by_role("dialog", name="Page not found")).to_have_count(0)


async def go_to(page, title: str, timeout_ms: float) -> None:
    """Follow the top navigation to another page, in the same session."""
    await page.get_by_role("link", name=title, exact=True).click()
    heading = page.get_by_role("heading", name=title, level=1)
    await expect(heading).to_be_visible(timeout=timeout_ms)


async def model_choices(page, timeout_ms: float) -> list[str]:
    """The names in the Playground's model list (opens it and closes it again)."""
    chooser = page.get_by_test_id("stSelectbox").filter(has_text="Model")
    await chooser.click(timeout=timeout_ms)
    options = page.get_by_role("option")
    await expect(options.first).to_be_visible(timeout=timeout_ms)
    names = [text.strip() for text in await options.all_inner_texts()]
    await page.keyboard.press("Escape")
    return names


async def choose_session_model(page, timeout_ms: float) -> str:
    """Pick the model trained in this session; the description the page then shows of it."""
    before = await page.evaluate(_MODEL_TEXT_JS, None)
    chooser = page.get_by_test_id("stSelectbox").filter(has_text="Model")
    await chooser.click(timeout=timeout_ms)
    await page.get_by_role("option", name=SESSION_CHOICE, exact=True).click(timeout=timeout_ms)
    handle = await page.wait_for_function(
        _MODEL_TEXT_JS, arg=before, polling=250, timeout=timeout_ms
    )
    return await handle.json_value()


# -- the Training page --------------------------------------------------------------------


async def set_number(page, label: str, value: int, timeout_ms: float) -> None:
    """Type into a number input; it sends its value on Enter."""
    box = page.get_by_label(label, exact=True)
    await box.fill(str(value))
    await box.press("Enter")
    await expect(box).to_have_value(str(value), timeout=timeout_ms)


def main_button(page, name: str):
    """One of the page's own buttons (not Streamlit's Stop in the header), by the end of its
    name: the name also holds the icon's ligature ("stopStop", "stopCancel")."""
    return page.get_by_test_id("stMain").get_by_role("button", name=re.compile(rf"{name}$"))


def stop_button(page):
    """The enabled one of Stop and Cancel: a page may keep either label while a run goes from
    waiting to running, since the button sits outside the part of the page that redraws."""
    main = page.get_by_test_id("stMain")
    return main.get_by_role("button", name=re.compile(r"(Stop|Cancel)$"), disabled=False)


async def run_now(page) -> dict | None:
    """What the Training page shows of this session's run: state, ahead, step, caption."""
    return await page.evaluate("() => window.__lab.current")


async def wait_for_run(page, states, timeout_ms: float, min_step: int = 0) -> dict:
    """What the page shows of the run once it is in one of `states` (a running one with at
    least `min_step` steps done)."""
    handle = await page.wait_for_function(
        _STATE_JS, arg=[list(states), min_step], polling=250, timeout=timeout_ms
    )
    return await handle.json_value()


async def run_history(page) -> dict:
    """Every state change the page showed (times in ms since the epoch), every caption, and
    every error box (stException) any page of this session showed."""
    return await page.evaluate(
        "() => ({states: window.__lab.states, captions: window.__lab.captions,"
        " errors: window.__lab.errors})"
    )


# -- the Playground -----------------------------------------------------------------------


async def canvas_box(page, timeout_ms: float) -> dict:
    """Page coordinates of fabric.js's upper canvas, the one that takes the mouse, once the
    canvas sits where it stays (see SETTLED_CANVAS_JS). After Clear the canvas is made anew,
    so it can vanish between two looks: look again then."""
    upper = page.locator("canvas.upper-canvas")
    for _ in range(5):
        await expect(upper).to_have_count(1, timeout=timeout_ms)
        try:
            handle = await upper.element_handle(timeout=timeout_ms)
            settled = await page.wait_for_function(
                SETTLED_CANVAS_JS, arg=handle, polling="raf", timeout=timeout_ms
            )
        except PlaywrightError:  # replaced while we looked
            continue
        box = await settled.json_value()
        if box is not None:
            return box
    raise AssertionError("the drawing canvas never stayed on the page")


async def draw(page, box: dict, strokes: list, steps: int = 6) -> None:
    """Drag the mouse along each stroke (fractions of the box), `steps` moves per segment."""
    for stroke in strokes:
        points = [
            (box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in stroke
        ]
        await page.mouse.move(*points[0])
        await page.mouse.down()
        for x, y in points[1:]:
            await page.mouse.move(x, y, steps=steps)
        await page.mouse.up()


async def start_timing(page) -> None:
    await page.evaluate(
        "() => Object.assign(window.__lab, {timing: true, ups: [], sent: [], recv: [], shown: []})"
    )


async def timed_drawing(page, box: dict, strokes: list, stroke_ms: float, answer_ms: float) -> dict:
    """Draw, wait for the Prediction metric, and return the drawing's timing from the page,
    with its outcome: "answered", "ignored" (no stroke on the canvas within `stroke_ms`: Undo
    stays off), "unsent" (a stroke, but the canvas sent nothing to the app) or "unanswered"
    (sent, but no prediction within `answer_ms`)."""
    await start_timing(page)
    await draw(page, box, strokes)
    try:
        await expect(page.get_by_role("button", name="Undo")).to_be_enabled(timeout=stroke_ms)
    except AssertionError:
        return {"outcome": "ignored"}
    try:
        await page.wait_for_function(_SHOWN_JS, polling=100, timeout=answer_ms)
    except PlaywrightError:
        seen = await page.evaluate(_UNANSWERED_JS)
        return {"outcome": "unanswered" if seen["sent_bytes"] else "unsent", **seen}
    return {"outcome": "answered", **await page.evaluate(DRAWING_JS)}


async def clear_canvas(page, timeout_ms: float) -> dict:
    """Press Clear, wait for the prompt and an empty canvas; the canvas's new box."""
    await page.get_by_role("button", name="Clear").click()
    await page.wait_for_function(_CLEARED_JS, polling=100, timeout=timeout_ms)
    undo = page.get_by_role("button", name="Undo")
    await expect(undo).to_be_disabled(timeout=timeout_ms)  # a fresh canvas, no stroke yet
    return await canvas_box(page, timeout_ms)

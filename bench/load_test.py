"""Load test: many visitors at once against the real app on 127.0.0.1.

Starts the app with RNN_DIGIT_LAB_MAX_RUNS set, opens one headless Chromium, and in it one
browser context per visitor (each a Streamlit session of its own), all driven at once through
Playwright's async API: one browser process and one event loop for every visitor, where the
sync API would need a Playwright, and so a Chromium, per thread.

- Trainers open /training, each with its own hidden size and seed (so every run, caption and
  model says whose it is) and press Start one after the other, each once the page before
  shows its run, so the server gets them in a known order. The first --max-runs take the free
  slots with long runs that are stopped once everyone has pressed Start; the others queue and
  take turns: finish (sees its run to the end), cancel (leaves the queue once the next one
  has joined it, who must move up) and close (closes its tab while its run goes; by default
  that run is long, so only the server's own stop of a closed tab's run can end it).
  Afterwards each one with a model picks "Trained in this session" in the Playground, which
  must describe its own model; a cancelled one must have none.
- Drawers draw a 7 or a 1 on the Playground, wait for the answer, look at it (--pause), press
  Clear, and again, until the runs are over. Each drawing is timed inside the page, from mouse
  up to the Prediction metric on the page, and split into the browser's share before the
  drawing leaves, the wait for the server's reply, and the browser's share after it.
- A thread reads the server's resident memory and the CPU time of the server, the browser and
  this process from /proc every half second.

    .venv/bin/python -m bench.load_test [--trainers 8] [--drawers 30] [--max-runs 2] [--epochs 10]

Prints one JSON object and exits 1 when a blocking check fails: every run ends finished,
stopped or cancelled, as its visitor meant, and the server falls quiet after (no run left);
no session sees another's run or model; runs start in the order Start was pressed, never more
than the limit at once; the server's peak memory stays under --memory-limit-mb; drawings while
a run goes are answered under --p95-limit-ms at the 95th percentile; no page shows an error;
nothing leaves 127.0.0.1. The check "glitches" reports, without failing, drawings the canvas
did not take and presses of Stop or Cancel that did nothing: a visitor would try again.
Times come from the pages, which show the server's state late under load: see fairness().
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright, expect

from bench import load_sessions as ui
from bench.memory_idle import status_kb
from tests.e2e.harness import ONE, REPO_ROOT, SEVEN, AppServer
from training.engine import MAX_EPOCHS

MAX_RUNS_VARIABLE = "RNN_DIGIT_LAB_MAX_RUNS"  # read by training.run_queue
ROLES = ("stop", "finish", "cancel", "close")
# The first max_runs trainers take the free slots and hold them (runs long enough to be
# stopped) until everyone has pressed Start, so all later ones queue; those take turns below.
QUEUED_ROLES = ("finish", "cancel", "close")
ROLE_ENDS = {"finish": "finished", "stop": "stopped", "cancel": "cancelled"}
OVER = (*ui.DONE, "refused")  # states after which a run will not go on
STOP_EPOCHS = MAX_EPOCHS  # a run meant to be stopped (or left) must still go when that comes
STOP_TAKES_S = 30.0  # a run that does not show as over this long after Stop ignored it
STROKE_WAIT_S = 5.0  # a canvas that shows no stroke (Undo) this long after drawing took none
DIGITS = [(SEVEN, "7"), (ONE, "1")]
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


@dataclass
class LoadConfig:
    trainers: int = 8  # sessions that train
    drawers: int = 30  # sessions that draw in the Playground
    max_runs: int = 2  # RNN_DIGIT_LAB_MAX_RUNS for the app
    # of the runs that finish (the others get STOP_EPOCHS). An epoch of the embedded 4,500
    # digits takes 1-2 s here under load; a shorter run can end before a busy page shows it
    epochs: int = 10
    batch_size: int = 64
    hidden_base: int = 8  # trainer i trains hidden_base + i units, seed seed_base + i
    seed_base: int = 100
    roles: tuple[str, ...] = ()  # one per trainer; empty: see role()
    pause_s: float = 2.0  # a drawer looks at each answer this long before the next drawing
    abandon: bool = True  # closed tabs' runs are long: only the server's own stop ends them
    p95_limit_ms: float = 300.0  # drawings answered under this while runs go, 95th percentile
    memory_limit_mb: float = 1024.0  # the server's peak resident memory, children included
    margin_s: float = 5.0  # how late a page may show a run's start or end (see fairness())
    wait_s: float = 300.0  # the longest wait for any one thing (a run's end, a page)
    answer_wait_s: float = 60.0  # a drawing not answered in this long counts as lost
    viewport: tuple[int, int] = (900, 780)  # small, but the whole canvas on screen
    app_dir: Path = REPO_ROOT

    def role(self, index: int) -> str:
        if self.roles:
            return self.roles[index]
        if index < self.max_runs:
            return "stop"
        return QUEUED_ROLES[(index - self.max_runs) % len(QUEUED_ROLES)]


def log(message: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the server, seen from /proc ----------------------------------------------------------


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, CPU ticks used) for every process now."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # it ended while we looked
            continue
        found[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return found


def _tree(root: int, processes: dict) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo.extend(children.get(pid, []))
    return tree


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


@dataclass
class Sample:
    t: float  # time.time()
    rss_mb: float  # the server and its children
    server_cpu_s: float  # CPU seconds used so far, per side
    browser_cpu_s: float
    harness_cpu_s: float
    machine_busy_s: float
    machine_total_s: float
    load_1m: float


class ServerWatch:
    """Every `interval_s`, the server's resident memory and the CPU time used by the server,
    the browser (everything else below this process) and this process, from /proc."""

    def __init__(self, server_pid: int, interval_s: float = 0.5):
        self.server_pid = server_pid
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self._ticks: dict[int, tuple[str, int]] = {}  # pid -> (side, last ticks seen)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="server-watch", daemon=True)

    def start(self) -> "ServerWatch":
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        processes = _processes()
        server = _tree(self.server_pid, processes)
        me = os.getpid()
        for pid in _tree(me, processes):
            side = "server" if pid in server else "harness" if pid == me else "browser"
            self._ticks[pid] = (side, processes[pid][1])
        rss_kb = 0
        for pid in server:
            with contextlib.suppress(OSError):
                rss_kb += status_kb(pid).get("VmRSS", 0)
        used = {"server": 0, "browser": 0, "harness": 0}
        for side, ticks in self._ticks.values():  # ended processes keep their last count
            used[side] += ticks
        busy, total = _machine_ticks()
        self.samples.append(
            Sample(
                t=time.time(),
                rss_mb=rss_kb / 1024,
                server_cpu_s=used["server"] * TICK_S,
                browser_cpu_s=used["browser"] * TICK_S,
                harness_cpu_s=used["harness"] * TICK_S,
                machine_busy_s=busy * TICK_S,
                machine_total_s=total * TICK_S,
                load_1m=float(Path("/proc/loadavg").read_text().split()[0]),
            )
        )

    def peak_rss_mb(self) -> float:
        return max(s.rss_mb for s in self.samples)

    def cores(self, start: float, end: float) -> dict:
        """Average CPU cores used by each side between two times, and the machine's load."""
        inside = [s for s in self.samples if start <= s.t <= end]
        if len(inside) < 2:
            return {}
        a, b = inside[0], inside[-1]
        span = b.t - a.t
        return {
            "window_s": round(span, 1),
            "server_cores": round((b.server_cpu_s - a.server_cpu_s) / span, 2),
            "browser_cores": round((b.browser_cpu_s - a.browser_cpu_s) / span, 2),
            "harness_cores": round((b.harness_cpu_s - a.harness_cpu_s) / span, 2),
            "machine_busy": round(
                (b.machine_busy_s - a.machine_busy_s) / (b.machine_total_s - a.machine_total_s), 2
            ),
            "load_1m_max": max(s.load_1m for s in inside),
        }

    def server_cores_lately(self, window_s: float) -> float | None:
        now = self.samples[-1]
        earlier = [s for s in self.samples if s.t <= now.t - window_s]
        if not earlier:
            return None
        return (now.server_cpu_s - earlier[-1].server_cpu_s) / (now.t - earlier[-1].t)


def server_hwm_mb(server_pid: int) -> float:
    """The peak resident memory the kernel recorded for the server and its children."""
    processes = _processes()
    total = 0
    for pid in _tree(server_pid, processes):
        with contextlib.suppress(OSError):
            total += status_kb(pid).get("VmHWM", 0)
    return total / 1024


# -- visitors -----------------------------------------------------------------------------


@dataclass
class Trainer:
    index: int
    role: str
    hidden: int
    seed: int
    epochs: int
    session: ui.Session | None = None
    ack: dict | None = None  # what the page showed just after Start
    end: dict | None = None  # what it showed when the run was over
    closed_at: float | None = None  # time.time() when its tab was closed
    behind_moved_up: bool | None = None  # for a cancel: the next one in line moved up
    ignored_stops: int = 0  # presses of Stop or Cancel after which the run went on
    history: dict = field(default_factory=dict)  # every state the page showed, and captions
    choices: list[str] | None = None  # the Playground's model list, afterwards
    model_text: str | None = None  # the Playground's description of "Trained in this session"
    notes: list[str] = field(default_factory=list)


@dataclass
class Drawer:
    index: int
    session: ui.Session | None = None
    drawings: list[dict] = field(default_factory=list)
    lost: int = 0  # drawings the canvas took but the app never answered
    ignored: int = 0  # drawings the canvas did not take (no stroke on it)
    unsent: int = 0  # drawings the canvas took but never sent to the app
    unanswered: list[dict] = field(default_factory=list)  # what the page showed of those lost
    choices: list[str] | None = None
    page_errors: list[str] = field(default_factory=list)  # error boxes the page showed
    error: str = ""
    warm: asyncio.Event = field(default_factory=asyncio.Event)  # first drawing answered


def make_trainers(config: LoadConfig) -> list[Trainer]:
    trainers = []
    for i in range(config.trainers):
        role = config.role(i)
        long = role == "stop" or (role == "close" and config.abandon)
        epochs = STOP_EPOCHS if long else config.epochs
        trainers.append(
            Trainer(i, role, config.hidden_base + i, config.seed_base + i, epochs=epochs)
        )
    return trainers


async def open_trainer(trainer: Trainer, url: str, config: LoadConfig) -> None:
    page, ms = trainer.session.page, config.wait_s * 1000
    await ui.open_app_page(page, f"{url}/training", ms)
    settings = {
        "Hidden size": trainer.hidden,
        "Epochs": trainer.epochs,
        "Seed": trainer.seed,
        "Batch size": config.batch_size,
    }
    for label, value in settings.items():
        await ui.set_number(page, label, value, ms)
    await expect(ui.main_button(page, "Start training")).to_be_enabled(timeout=ms)


async def open_drawer(drawer: Drawer, url: str, config: LoadConfig) -> None:
    page, ms = drawer.session.page, config.wait_s * 1000
    await ui.open_app_page(page, f"{url}/playground", ms)
    await expect(page.get_by_text(ui.DRAW_PROMPT)).to_be_visible(timeout=ms)


async def keep_drawing(drawer: Drawer, config: LoadConfig, stop: asyncio.Event) -> None:
    """Draw, wait for the answer, look at it, clear; again until `stop`."""
    page, ms = drawer.session.page, config.wait_s * 1000
    try:
        box = await ui.canvas_box(page, ms)
        n = drawer.index
        while not stop.is_set():
            strokes, digit = DIGITS[n % len(DIGITS)]
            n += 1
            timing = await ui.timed_drawing(
                page, box, strokes, STROKE_WAIT_S * 1000, config.answer_wait_s * 1000
            )
            if timing["outcome"] == "answered":
                drawer.drawings.append({**timing, "expected": digit})
                drawer.warm.set()
                with contextlib.suppress(TimeoutError):  # a person looks at the answer a moment
                    await asyncio.wait_for(stop.wait(), config.pause_s)
            elif timing["outcome"] == "ignored":
                drawer.ignored += 1  # the canvas took no stroke: Clear, as a person would
            elif timing["outcome"] == "unsent":
                drawer.unsent += 1
            else:
                drawer.lost += 1
                drawer.unanswered.append(timing)
            box = await ui.clear_canvas(page, ms)
    except (PlaywrightError, AssertionError) as error:
        drawer.error = str(error).splitlines()[0]
    finally:
        drawer.warm.set()


async def submit(trainer: Trainer, config: LoadConfig) -> None:
    page = trainer.session.page
    await ui.main_button(page, "Start training").click()
    trainer.ack = await ui.wait_for_run(page, ("queued", "running", *OVER), config.wait_s * 1000)


async def press_stop(trainer: Trainer, config: LoadConfig) -> dict:
    """Press Stop (or Cancel) and wait for the run to show as over. A press the page ignores
    is noted, and pressed again once, as a person would."""
    page = trainer.session.page
    for attempt in (1, 2):
        try:
            await ui.stop_button(page).click(timeout=STOP_TAKES_S * 1000)
        except PlaywrightError:
            now = await ui.run_now(page)
            trainer.notes.append(f"no Stop or Cancel to press; the run was {now['state']}")
        try:
            return await ui.wait_for_run(page, OVER, STOP_TAKES_S * 1000)
        except PlaywrightError:
            now = await ui.run_now(page)
            trainer.ignored_stops += 1
            trainer.notes.append(
                f"press {attempt} of Stop/Cancel did nothing in {STOP_TAKES_S:.0f} s: the run "
                f"was still {now['state']}"
            )
    return await ui.wait_for_run(page, OVER, config.wait_s * 1000)


async def cancel(trainer: Trainer, behind: Trainer | None, config: LoadConfig) -> None:
    """Leave the queue; then the one behind, if it waits too, must move up a place."""
    page, ms = trainer.session.page, config.wait_s * 1000
    now = await ui.run_now(page)
    if now["state"] != "queued":  # then it sees its run through, as a finish would
        trainer.notes.append(f"its run was {now['state']}, not queued, when it came to Cancel")
        return
    trainer.end = await press_stop(trainer, config)
    if behind is None or behind.ack is None or behind.ack["state"] != "queued":
        return
    ahead = behind.ack["ahead"]
    moved = """(ahead) => window.__lab.current.state !== "queued"
        || window.__lab.current.ahead < ahead"""
    with contextlib.suppress(PlaywrightError):
        await behind.session.page.wait_for_function(moved, arg=ahead, polling=250, timeout=ms)
    later = await ui.run_now(behind.session.page)
    trainer.behind_moved_up = later["state"] != "queued" or later["ahead"] < ahead


async def play_role(trainer: Trainer, config: LoadConfig) -> None:
    """See the run through as the role says, then look for its model in the Playground."""
    page, ms = trainer.session.page, config.wait_s * 1000
    if trainer.role == "stop":
        now = await ui.wait_for_run(page, ("running", *OVER), ms, min_step=1)
        if now["state"] == "running":
            trainer.end = await press_stop(trainer, config)
        else:
            trainer.notes.append(f"its run was {now['state']} before Stop could come")
    elif trainer.role == "close":
        await ui.wait_for_run(page, ("running", *OVER), ms)
        trainer.history = await ui.run_history(page)
        trainer.closed_at = time.time()
        await trainer.session.close()
        return
    if trainer.end is None:  # a finish, or a cancel that came too late
        trainer.end = await ui.wait_for_run(page, OVER, ms)
    trainer.history = await ui.run_history(page)
    await ui.go_to(page, "Playground", ms)
    trainer.choices = await ui.model_choices(page, ms)
    if ui.SESSION_CHOICE in trainer.choices:
        trainer.model_text = await ui.choose_session_model(page, ms)


async def train_in_order(trainers: list[Trainer], config: LoadConfig) -> None:
    """Press Start in each trainer's page in turn, each once the last one's page shows its run
    (so the server got them in this order). A cancel comes once the next one has queued."""
    for trainer in trainers:
        await submit(trainer, config)
        log(f"trainer {trainer.index} ({trainer.role}): {trainer.ack['state']}")
        previous = trainers[trainer.index - 1] if trainer.index > 0 else None
        if previous is not None and previous.role == "cancel":
            await cancel(previous, trainer, config)
    if trainers and trainers[-1].role == "cancel":
        await cancel(trainers[-1], None, config)


async def drawer_checks(drawer: Drawer, config: LoadConfig) -> None:
    with contextlib.suppress(PlaywrightError):
        drawer.page_errors = await drawer.session.page.evaluate("() => window.__lab.errors")
        drawer.choices = await ui.model_choices(drawer.session.page, config.wait_s * 1000)


async def wait_quiet(watch: ServerWatch, timeout_s: float, cores: float = 0.15) -> float | None:
    """Seconds until the server's CPU use over the last 3 s fell under `cores`; None if never.
    No run may go on by then: a running job keeps a core busy."""
    start = time.time()
    while time.time() - start < timeout_s:
        lately = watch.server_cores_lately(3.0)
        if lately is not None and lately < cores:
            return round(time.time() - start, 1)
        await asyncio.sleep(watch.interval_s)  # waits for the next sample, not for the app
    return None


async def gather_limited(limit: int, coroutines) -> None:
    """Run the coroutines at most `limit` at a time (page loads thrash a 2-core box)."""
    gate = asyncio.Semaphore(limit)

    async def one(coroutine):
        async with gate:
            await coroutine

    await asyncio.gather(*(one(c) for c in coroutines))


@dataclass
class Visit:
    """What the visitors did and saw, filled in as the load test goes."""

    trainers: list[Trainer]
    drawers: list[Drawer]
    times: dict[str, float] = field(default_factory=lambda: {"start": time.time()})
    quiet_after_s: float | None = None
    error: str = ""  # why the load test broke off, if it did
    screenshots: str = ""  # where the pages were shot when it broke off

    def visitors(self) -> list:
        return [*self.trainers, *self.drawers]


async def drive(browser, url: str, config: LoadConfig, watch: ServerWatch, visit: Visit) -> None:
    ms = config.wait_s * 1000
    trainers, drawers = visit.trainers, visit.drawers
    for visitor in visit.visitors():
        kind = "trainer" if isinstance(visitor, Trainer) else "drawer"
        name = f"{kind}-{visitor.index}"
        visitor.session = await ui.new_session(browser, name, config.viewport, ms)

    # every page open and ready before anyone starts; the first alone, as the first visitor
    # of a fresh server, so that it fills the server's shared caches (data, bundled models)
    log(f"opening {len(trainers)} Training and {len(drawers)} Playground pages")
    openings = [open_trainer(t, url, config) for t in trainers]
    openings += [open_drawer(d, url, config) for d in drawers]
    await openings[0]
    await gather_limited(4, openings[1:])
    visit.times["pages_open"] = time.time()

    # drawers draw from now on; each is answered once before the first run starts
    log("drawers start drawing")
    stop_drawing = asyncio.Event()
    drawing = [asyncio.create_task(keep_drawing(d, config, stop_drawing)) for d in drawers]
    try:
        await asyncio.gather(*(d.warm.wait() for d in drawers))
        visit.times["training_start"] = time.time()

        log("trainers press Start in turn")
        await train_in_order(trainers, config)
        await asyncio.gather(*(play_role(t, config) for t in trainers))
        visit.times["training_end"] = time.time()
        log("runs over: drawers stop, then the server should fall quiet")
    finally:
        stop_drawing.set()
        await asyncio.gather(*drawing)
    await gather_limited(4, [drawer_checks(d, config) for d in drawers])
    visit.quiet_after_s = await wait_quiet(watch, config.wait_s)
    visit.times["quiet"] = time.time()


async def keep_evidence(visit: Visit) -> None:
    """After a break-off: what each training page showed so far, and a shot of every page."""
    folder = Path(tempfile.mkdtemp(prefix="rnn-digit-lab-load-"))
    for visitor in visit.visitors():
        if visitor.session is None or visitor.session.closed:
            continue
        page = visitor.session.page
        with contextlib.suppress(PlaywrightError):
            if isinstance(visitor, Trainer) and not visitor.history:
                visitor.history = await ui.run_history(page)
            await page.screenshot(path=folder / f"{visitor.session.name}.png", timeout=10_000)
            probe = await page.evaluate("() => JSON.stringify(window.__lab)")
            (folder / f"{visitor.session.name}.json").write_text(probe)
    visit.screenshots = str(folder)


# -- what the pages saw -------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)], 1)


def run_spans(trainers: list[Trainer]) -> list[dict]:
    """Per trainer whose run started: when its page first showed it running (first_running),
    last showed it waiting (last_queued) and showed it over (ended), in epoch seconds."""
    spans = []
    for trainer in trainers:
        states = trainer.history.get("states", [])
        running = [s["t"] / 1000 for s in states if s["state"] == "running"]
        if not running:
            continue
        first = running[0]
        queued = [s["t"] / 1000 for s in states if s["state"] == "queued" and s["t"] / 1000 < first]
        ended = [s["t"] / 1000 for s in states if s["state"] in ui.DONE and s["t"] / 1000 > first]
        end = ended[0] if ended else trainer.closed_at
        spans.append(
            {"index": trainer.index, "first_running": first, "ended": end}
            | {"last_queued": queued[-1] if queued else None}
        )
    return spans


def fairness(trainers: list[Trainer], spans: list[dict], config: LoadConfig) -> dict:
    """Whether runs started in the order Start was pressed, and how many went at once, as the
    pages showed it. A page shows a run's start or end late (a timer tick, then a rerun of the
    whole page: several seconds on a busy box), so only what shows beyond `margin_s` counts:
    trainer j overtook i if j showed running more than margin_s before i last showed waiting;
    runs went together if they showed running at once for longer than margin_s. Exact figures
    need the page to show the server's own start and end time of a run, which it does not."""
    started = sorted(spans, key=lambda s: s["first_running"])
    seen = {s["index"] for s in spans}
    overtaken, too_close = [], 0
    for earlier in spans:
        for later in spans:
            if later["index"] <= earlier["index"] or earlier["last_queued"] is None:
                continue
            gap = earlier["last_queued"] - later["first_running"]
            if gap > config.margin_s:
                overtaken.append(
                    f"trainer {later['index']} was running {gap:.1f} s before trainer "
                    f"{earlier['index']}, ahead of it, stopped waiting"
                )
            elif later["first_running"] < earlier["first_running"]:
                too_close += 1
    # at any moment, how many runs were surely going (each span less the margin at its end)
    edges = []
    for s in spans:
        end = s["ended"] if s["ended"] is not None else time.time()
        if end - config.margin_s > s["first_running"]:
            edges += [(s["first_running"], 1), (end - config.margin_s, -1)]
    running = most = 0
    for _, step in sorted(edges):
        running += step
        most = max(most, running)
    first_ones = trainers[: config.max_runs]
    return {
        "pressed_order": sorted(s["index"] for s in spans),  # of the runs seen starting
        "never_seen_running": [  # over before their page showed them going: order unknown
            t.index
            for t in trainers
            if t.end and t.end["state"] in ("finished", "stopped") and t.index not in seen
        ],
        "start_order": [s["index"] for s in started],
        "overtaken": overtaken,
        "too_close_to_tell": too_close,
        "most_running_at_once": most,
        "first_ones_ran_at_once": all(t.ack and t.ack["state"] == "running" for t in first_ones),
        "places_when_queued": {
            t.index: t.ack["ahead"] for t in trainers if t.ack and t.ack["state"] == "queued"
        },
        "next_moved_up_on_cancel": [
            t.behind_moved_up for t in trainers if t.behind_moved_up is not None
        ],
    }


def trainer_report(trainer: Trainer, origin: float) -> dict:
    """What one trainer saw; times in seconds after `origin`, when the first Start came."""
    own = re.compile(rf"\b{trainer.hidden} hidden units\b.*\bseed {trainer.seed}\b")
    captions = trainer.history.get("captions", [])
    model = re.search(r"(\d+) hidden units", trainer.model_text or "")
    score = re.search(r"(\d+\.\d)% of the validation", (trainer.end or {}).get("text", ""))
    took = re.search(r"took (?:(\d+) min )?(\d+) s\b", (trainer.end or {}).get("progress") or "")
    took_s = int(took[1] or 0) * 60 + int(took[2]) if took else None
    span = next((x for x in run_spans([trainer]) if x["ended"] is not None), None)
    shown_s = span["ended"] - span["first_running"] if span else None
    return {
        "index": trainer.index,
        "role": trainer.role,
        "hidden": trainer.hidden,
        "seed": trainer.seed,
        "epochs": trainer.epochs,
        "when_pressed": trainer.ack["state"] if trainer.ack else None,
        "place": trainer.ack["ahead"] if trainer.ack else None,
        "ended": (trainer.end or {}).get("state", "tab closed" if trainer.closed_at else None),
        "took_s": took_s,  # the run's own clock, from its last record
        "closed_s": round(trainer.closed_at - origin, 1) if trainer.closed_at else None,
        # how much longer the page showed it running than it ran: its end showed that much
        # later than its start did (page lag, under load)
        "shown_longer_s": round(shown_s - took_s, 1) if shown_s and took_s is not None else None,
        "captions_all_own": bool(captions) and all(own.search(c) for c in captions),
        "foreign_captions": [c for c in captions if not own.search(c)],
        "session_model_hidden": int(model[1]) if model else None,
        "session_model_score_matches": bool(score and f"{score[1]}% right" in trainer.model_text)
        if score and trainer.model_text
        else None,
        "has_session_model": ui.SESSION_CHOICE in (trainer.choices or []),
        "ignored_stops": trainer.ignored_stops,
        "page_errors": trainer.history.get("errors", []),
        "notes": trainer.notes,
        "seen": [  # each state the page showed: when, state, place in line
            [round(s["t"] / 1000 - origin, 1), s["state"], s["ahead"]]
            for s in trainer.history.get("states", [])
        ],
    }


def drawing_report(drawers: list[Drawer], spans: list[dict]) -> dict:
    """Drawing times in three groups: each session's first drawing (cold: before any run, all
    sessions at once), later ones while a page showed a run going, and later ones without."""

    def during(at_ms: float) -> bool:
        at = at_ms / 1000
        return any(s["first_running"] <= at <= (s["ended"] or math.inf) for s in spans)

    drawings = [d for drawer in drawers for d in drawer.drawings]
    first = [drawer.drawings[0] for drawer in drawers if drawer.drawings]
    later = [d for drawer in drawers for d in drawer.drawings[1:]]
    busy = [d for d in later if during(d["at"])]
    idle = [d for d in later if not during(d["at"])]

    def summary(group: list[dict]) -> dict:
        out = {"drawings": len(group)}
        for key in ("total_ms", "browser_before_ms", "request_to_reply_ms", "browser_after_ms"):
            values = [d[key] for d in group if d[key] is not None]
            out[key] = {"p50": percentile(values, 50), "p95": percentile(values, 95)}
        out["max_ms"] = percentile([d["total_ms"] for d in group], 100)
        return out

    return {
        "while_training": summary(busy),
        "first_drawing": summary(first),
        "no_run_going": summary(idle),
        "lost": sum(d.lost for d in drawers),
        "lost_seen": [u for d in drawers for u in d.unanswered][:5],
        "ignored_by_canvas": sum(d.ignored for d in drawers),
        "taken_but_not_sent_by_canvas": sum(d.unsent for d in drawers),
        "wrong": sum(d["value"] != d["expected"] for d in drawings),
        "request_kb": round(
            sum(d["sent_bytes"] for d in drawings) / max(len(drawings), 1) / 1024, 1
        ),
        "reply_kb": round(
            sum(d["received_bytes"] for d in drawings) / max(len(drawings), 1) / 1024, 1
        ),
        "drawers_with_a_session_model": [
            d.index for d in drawers if ui.SESSION_CHOICE in (d.choices or [])
        ],
        "drawers_unchecked": [d.index for d in drawers if d.choices is None],
        "page_errors": sorted({e for d in drawers for e in d.page_errors}),
        "errors": sorted({d.error for d in drawers if d.error}),
    }


def checks(result: dict, config: LoadConfig) -> dict[str, dict]:
    """name -> {"ok": bool, "detail": str}."""
    trainers, fair = result["training"]["trainers"], result["training"]["queue"]
    draw = result["playground"]
    out = {}

    def check(name: str, problems: list[str], fine: str, blocking: bool = True) -> None:
        out[name] = {"ok": not problems, "detail": "; ".join(problems) or fine}
        out[name]["blocking"] = blocking

    problems = []
    for t in trainers:
        if t["ended"] not in ("finished", "stopped", "cancelled", "tab closed"):
            problems.append(f"trainer {t['index']}'s run ended {t['ended']}")
    if result["server"]["quiet_after_s"] is None:
        problems.append("the server never fell quiet: a run (or something) kept it busy")
    check("runs_end_cleanly", problems, "every run finished, stopped or was cancelled; quiet after")

    problems = []
    for t in trainers:
        want = ROLE_ENDS.get(t["role"], "tab closed")
        if t["ended"] != want:
            problems.append(f"trainer {t['index']} ({t['role']}) ended {t['ended']}: {t['notes']}")
    check("roles_played", problems, "each run was stopped, finished, cancelled or left as planned")

    problems = []
    for t in trainers:
        if t["foreign_captions"]:
            problems.append(f"trainer {t['index']} showed {t['foreign_captions']}")
        if t["ended"] in ("finished", "stopped"):
            if t["session_model_hidden"] != t["hidden"]:
                problems.append(
                    f"trainer {t['index']}'s Playground offered {t['session_model_hidden']} "
                    f"hidden units as its model, not {t['hidden']}"
                )
            if t["session_model_score_matches"] is False:
                problems.append(f"trainer {t['index']}'s model scores differ between pages")
        if t["ended"] == "cancelled" and t["has_session_model"]:
            problems.append(f"trainer {t['index']} was cancelled yet has a session model")
    if draw["drawers_with_a_session_model"]:
        problems.append(f"drawers {draw['drawers_with_a_session_model']} see a session model")
    if draw["wrong"]:
        problems.append(f"{draw['wrong']} drawings read as another digit than the bundled GRU's")
    check("isolation", problems, "each session saw its own run and model only")

    problems = list(fair["overtaken"])
    if fair["most_running_at_once"] > config.max_runs:
        problems.append(f"{fair['most_running_at_once']} runs went at once")
    if not fair["first_ones_ran_at_once"]:
        problems.append(f"the first {config.max_runs} runs did not start at once")
    if False in fair["next_moved_up_on_cancel"]:
        problems.append("a cancel did not move the next visitor up")
    check(
        "queue_fair", problems, f"started in the order pressed, at most {config.max_runs} at once"
    )

    peak = result["server"]["peak_rss_mb"]
    problems = [f"peak {peak:.0f} MB"] if peak >= config.memory_limit_mb else []
    check("memory", problems, f"peak {peak:.0f} MB < {config.memory_limit_mb:.0f} MB")

    p95 = draw["while_training"]["total_ms"]["p95"]
    problems = []
    if p95 is None:
        problems.append("no drawing was answered while a run went")
    elif p95 >= config.p95_limit_ms:
        problems.append(f"p95 {p95:.0f} ms")
    if draw["lost"]:
        problems.append(
            f"{draw['lost']} drawings sent but not answered in {config.answer_wait_s} s"
        )
    check("latency", problems, f"p95 {p95} ms < {config.p95_limit_ms:.0f} ms while training")

    problems = [f"broke off: {result['error']} (pages: {result['screenshots']})"]
    check("completed", problems if result["error"] else [], "every step was done")

    problems = [f"tried {result['offline']}"] if result["offline"] else []
    problems += [] if result["server"]["alive"] else ["the app died"]
    check("offline_and_alive", problems, "127.0.0.1 only; the app stayed up")

    shown = sorted({e for t in trainers for e in t["page_errors"]} | set(draw["page_errors"]))
    check("no_error_boxes", [f"pages showed {shown}"] if shown else [], "no page showed an error")

    # Reported, not failing: each costs a visitor a second try. Drawings after Clear that the
    # canvas ignored were the harness drawing where a new canvas showed for a moment before
    # its styles came (see load_sessions.canvas_box); any seen now are new.
    problems = []
    if draw["ignored_by_canvas"]:
        problems.append(
            f"{draw['ignored_by_canvas']} drawings after Clear were ignored by the canvas"
        )
    stops = sum(t["ignored_stops"] for t in trainers)
    if stops:
        problems.append(f"{stops} presses of Stop/Cancel did nothing")
    check("glitches", problems, "no drawing or press was ignored", blocking=False)
    return out


def report(visit: Visit, config: LoadConfig, watch: ServerWatch, hwm_mb: float, alive: bool):
    times = visit.times
    now = times.get("end", time.time())
    training = (times.get("training_start", now), times.get("training_end", now))
    spans = run_spans(visit.trainers)
    result = {
        "config": {k: v for k, v in asdict(config).items() if k != "app_dir"}
        | {
            "app_dir": str(config.app_dir),
            "roles": [config.role(i) for i in range(config.trainers)],
        },
        "elapsed_s": round(now - times["start"], 1),
        "phases_s": {
            "open_pages": round(times.get("pages_open", now) - times["start"], 1),
            "first_drawings": round(training[0] - times.get("pages_open", now), 1),
            "training": round(training[1] - training[0], 1),
        },
        "server": {
            "peak_rss_mb": round(max(hwm_mb, watch.peak_rss_mb()), 1),
            "peak_rss_sampled_mb": round(watch.peak_rss_mb(), 1),
            "rss_at_start_mb": round(watch.samples[0].rss_mb, 1),
            "rss_at_end_mb": round(watch.samples[-1].rss_mb, 1),
            "quiet_after_s": visit.quiet_after_s,  # after the drawers stopped
            "quiet_s": round(times["quiet"] - training[0], 1) if "quiet" in times else None,
            "alive": alive,
        },
        "load_while_training": watch.cores(*training),
        "cpu_cores": os.cpu_count(),
        "playground": drawing_report(visit.drawers, spans),
        "training": {
            "trainers": [trainer_report(t, training[0]) for t in visit.trainers],
            "queue": fairness(visit.trainers, spans, config),
        },
        "offline": sorted(
            {u for v in visit.visitors() if v.session for u in v.session.offline.attempted}
        ),
        "error": visit.error,
        "screenshots": visit.screenshots,
    }
    result["checks"] = checks(result, config)
    result["ok"] = all(c["ok"] for c in result["checks"].values() if c["blocking"])
    return result


async def run(config: LoadConfig) -> dict:
    server = AppServer(cwd=config.app_dir, env={MAX_RUNS_VARIABLE: str(config.max_runs)})
    log(f"starting the app from {config.app_dir} with {MAX_RUNS_VARIABLE}={config.max_runs}")
    server.start()
    watch = ServerWatch(server.process.pid).start()
    visit = Visit(make_trainers(config), [Drawer(i) for i in range(config.drawers)])
    try:
        async with async_playwright() as playwright:
            browser = await ui.launch(playwright)
            try:
                await drive(browser, server.url, config, watch, visit)
            except Exception as error:  # reported, with what the pages showed until then
                visit.error = f"{type(error).__name__}: {str(error).splitlines()[0]}"
                log(f"the load test broke off: {visit.error}")
                await keep_evidence(visit)
            finally:
                visit.times["end"] = time.time()
                await browser.close()
        hwm_mb = server_hwm_mb(server.process.pid)
        alive = not server.died()
        if visit.error or not alive:
            log(f"the app said:\n{server.output()[-3000:]}")
    finally:
        watch.stop()
        server.stop()
        server.cleanup()
    return report(visit, config, watch, hwm_mb, alive)


def parse_args(argv: list[str] | None = None) -> tuple[LoadConfig, Path | None]:
    defaults = LoadConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--trainers", type=int, default=defaults.trainers, help="sessions that train (8)")
    add("--drawers", type=int, default=defaults.drawers, help="sessions that draw (30)")
    add("--max-runs", type=int, default=defaults.max_runs, help="the app's run limit (2)")
    add("--epochs", type=int, default=defaults.epochs, help="epochs of runs that finish (10)")
    add("--batch-size", type=int, default=defaults.batch_size, help="batch size of runs (64)")
    add("--roles", default="", help="comma list, one per trainer: finish,stop,cancel,close")
    add("--pause", type=float, default=defaults.pause_s, help="drawer's look at an answer (2 s)")
    add(
        "--short-closed-runs",
        action="store_true",
        help="closed tabs' runs end by themselves (default: long, so the server must stop them)",
    )
    add("--p95-limit-ms", type=float, default=defaults.p95_limit_ms, help="(300)")
    add("--memory-limit-mb", type=float, default=defaults.memory_limit_mb, help="(1024)")
    add("--wait", type=float, default=defaults.wait_s, help="longest wait for one thing (300 s)")
    add("--app-dir", type=Path, default=REPO_ROOT, help="the checkout to run (this one)")
    add("--json-out", type=Path, help="also write the JSON object to this file")
    args = parser.parse_args(argv)
    roles = tuple(r.strip() for r in args.roles.split(",") if r.strip())
    unknown = set(roles) - set(ROLES)
    if unknown or (roles and len(roles) != args.trainers):
        parser.error(f"--roles needs {args.trainers} of {', '.join(ROLES)}")
    config = LoadConfig(
        trainers=args.trainers,
        drawers=args.drawers,
        max_runs=args.max_runs,
        epochs=args.epochs,
        batch_size=args.batch_size,
        roles=roles,
        pause_s=args.pause,
        abandon=not args.short_closed_runs,
        p95_limit_ms=args.p95_limit_ms,
        memory_limit_mb=args.memory_limit_mb,
        wait_s=args.wait,
        app_dir=args.app_dir.resolve(),
    )
    return config, args.json_out


def main(argv: list[str] | None = None) -> int:
    config, json_out = parse_args(argv)
    result = run_sync(config)
    text = json.dumps(result, indent=1)
    if json_out is not None:
        json_out.write_text(text)
    print(text)
    for name, outcome in result["checks"].items():
        verdict = "ok  " if outcome["ok"] else "FAIL" if outcome["blocking"] else "warn"
        log(f"{verdict} {name}: {outcome['detail']}")
    return 0 if result["ok"] else 1


def run_sync(config: LoadConfig) -> dict:
    return asyncio.run(run(config))


if __name__ == "__main__":
    sys.exit(main())

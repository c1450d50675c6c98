"""Light load test: many visitors at once against the real app on 127.0.0.1, each a web socket
session spoken in Streamlit's own protocol (bench.ws_client) instead of a browser, so that the
server has the machine's cores to itself and its answer times are its own.

Drawers send the canvas's value of a real drawing (bench/canvas_drawings.json, recorded from
Chromium by bench.capture_canvas) as the browser does, alternating a 7 and a 1; each drawing is
timed from the rerun leaving to the server's word that the run is over, and must come back as
a Prediction of the digit drawn. Then they look at it (0.5 to 1.5 times --pause, each at its
own pace), press Clear, and draw on the new canvas. Trainers set their settings in the
Training page's widgets, press Start, and rerun the page's live fragment on its timer, as an
open tab does, so watching a run costs the server what it costs with a browser.

    .venv/bin/python -m bench.light_load measure [--drawers 30] [--trainers 8] [--seconds 30]
    .venv/bin/python -m bench.light_load scenario [--drawers 30] [--trainers 8] [--max-runs 2]

`measure` times drawings with no run going, then while the trainers' runs go (--max-runs at
once, the rest queued), and prints p50/p95/max of each. `scenario` plays the browser load
test's visitors (bench.load_test): the first --max-runs trainers take the slots and are
stopped once all have pressed Start; the others queue and finish, cancel while waiting, or
close their session while running. It prints one JSON object and exits 1 when a blocking
check fails: runs end as their visitors meant, sessions see only their own runs and models,
runs start in the order pressed and never more than the limit at once, the server's peak
memory stays under --memory-limit-mb, and drawings while runs go are answered under
--p95-limit-ms at the 95th percentile.
"""

import argparse
import asyncio
import json
import math
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.load_sessions import CAPTION_START, END_PATTERNS, QUEUED_PATTERN, SESSION_CHOICE
from bench.load_test import (
    MAX_RUNS_VARIABLE,
    TICK_S,
    ServerWatch,
    percentile,
    server_hwm_mb,
)
from bench.ws_client import Run, Session
from tests.e2e.harness import REPO_ROOT, AppServer
from training.engine import MAX_EPOCHS
from training.job import NICE_VARIABLE

DRAWINGS = json.loads(Path(__file__).with_name("canvas_drawings.json").read_text())
CANVAS_KEY = r"canvas-\d+"  # the Playground's canvas; Clear moves it to the next round
CLEAR_PAUSE_S = 0.3  # from pressing Clear to the next stroke, as a quick hand
DONE = ("finished", "stopped", "cancelled", "diverged", "failed")
ROLE_ENDS = {"stop": "stopped", "finish": "finished", "cancel": "cancelled", "close": "closed"}
QUEUED_ROLES = ("finish", "cancel", "close")


def log(message: str) -> None:
    print(f"[light {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Config:
    trainers: int = 8
    drawers: int = 30
    max_runs: int = 2
    epochs: int = 3  # of the runs that finish; the others get MAX_EPOCHS and are stopped
    batch_size: int = 64
    hidden_base: int = 8  # trainer i trains hidden_base + i units with seed seed_base + i
    seed_base: int = 100
    pause_s: float = 2.0  # a drawer looks at each answer this long before Clear
    seconds: float = 30.0  # measure: how long each phase draws
    short_closed_runs: bool = False  # a closed session's run ends by itself (else: long)
    p95_limit_ms: float = 300.0
    memory_limit_mb: float = 1024.0
    wait_s: float = 300.0  # the longest wait for one thing
    app_dir: Path = REPO_ROOT
    training_nice: str = ""  # RNN_DIGIT_LAB_TRAINING_NICE for the app; "" leaves its default

    def role(self, index: int) -> str:
        if index < self.max_runs:
            return "stop"
        return QUEUED_ROLES[(index - self.max_runs) % len(QUEUED_ROLES)]


# -- what a Training page run shows -------------------------------------------------------


def run_state(run: Run) -> dict | None:
    """The state of this session's run as the run's elements show it, as load_sessions's
    probe reads it in a browser: {state, ahead, caption}; None if the run showed none."""
    caption = next((t for t in run.markdown if t.startswith(CAPTION_START)), None)
    for text in run.alerts:
        for state, pattern in END_PATTERNS.items():
            if re.search(pattern, text):
                return {"state": state, "ahead": None, "caption": caption, "text": text}
    queued = next((t for t in run.alerts if re.search(QUEUED_PATTERN, t)), None)
    if queued is not None:
        runs = re.search(r"(\d+) runs? ahead", queued)
        ahead = 0 if "yours is next" in queued else int(runs[1]) if runs else -1
        return {"state": "queued", "ahead": ahead, "caption": caption, "text": queued}
    if any(" took " not in text for text in run.progress):
        return {"state": "running", "ahead": None, "caption": caption, "text": ""}
    return None


# -- visitors -----------------------------------------------------------------------------


@dataclass
class Trainer:
    index: int
    role: str
    hidden: int
    seed: int
    epochs: int
    session: Session | None = None
    states: list[tuple[float, str, int | None]] = field(default_factory=list)  # (t, state, ahead)
    captions: set[str] = field(default_factory=set)
    pressed_at: float | None = None
    ack: dict | None = None  # the state shown by the run after Start
    ended: str | None = None
    closed_at: float | None = None
    moved_up: bool | None = None  # for a cancel: the one behind moved up a place
    model_choices: tuple[str, ...] = ()
    model_text: str = ""
    errors: list[str] = field(default_factory=list)
    seen: int = 0  # runs of its session already read

    def watch(self) -> dict | None:
        """Read the runs its session made since the last look; the latest state."""
        latest = None
        for run in self.session.runs[self.seen :]:
            self.errors += [f"Training: {e}" for e in run.exceptions]
            now = run_state(run)
            if now is None:
                continue
            latest = now
            if now["caption"]:
                self.captions.add(now["caption"])
            last = self.states[-1] if self.states else None
            if last is None or last[1:] != (now["state"], now["ahead"]):
                self.states.append((run.finished_at, now["state"], now["ahead"]))
        self.seen = len(self.session.runs)
        return latest

    def state(self) -> str | None:
        self.watch()
        return self.states[-1][1] if self.states else None


@dataclass
class Drawer:
    index: int
    session: Session | None = None
    drawings: list[dict] = field(default_factory=list)  # t, ms, expected, shown, phase
    clears: list[float] = field(default_factory=list)  # ms of each Clear
    model_choices: tuple[str, ...] = ()
    errors: list[str] = field(default_factory=list)


async def draw_once(drawer: Drawer, digit: str, phase: str) -> dict:
    session = drawer.session
    canvas = session.find_key(CANVAS_KEY)
    session.set(canvas.id, json_value=DRAWINGS[digit])
    run = await session.rerun()
    drawer.errors += [f"Playground: {e}" for e in run.exceptions]
    drawing = {
        "t": run.sent_at,  # perf_counter, as the runs' times the trainers' states come from
        "ms": run.ms,
        "expected": digit,
        "shown": run.metrics.get("Prediction"),
        "phase": phase,
        "kb": run.received_bytes / 1024,
    }
    drawer.drawings.append(drawing)
    return drawing


async def keep_drawing(drawer: Drawer, config: Config, phase: dict, stop: asyncio.Event):
    """Draw, look, Clear, again until `stop`; each drawing tagged with phase["name"] as it
    was when the drawing left."""
    n = drawer.index
    # Visitors do not act in step: each starts at its own moment within one pause and looks at
    # each answer for 0.5 to 1.5 times the pause (seeded per visitor). Drawers in lockstep
    # would all send at once and time a burst instead of a classroom.
    rng = random.Random(drawer.index)
    try:
        if await _pause(stop, rng.uniform(0, config.pause_s)):
            return
        while not stop.is_set():
            digit = "71"[n % 2]
            n += 1
            await draw_once(drawer, digit, phase["name"])
            if await _pause(stop, rng.uniform(0.5, 1.5) * config.pause_s):
                return
            clear = await drawer.session.press(drawer.session.find("button", "Clear"))
            drawer.clears.append(clear.ms)
            if await _pause(stop, CLEAR_PAUSE_S):
                return
    except (ConnectionError, TimeoutError, LookupError) as error:
        drawer.errors.append(f"{type(error).__name__}: {error}")


async def _pause(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` (a visitor's pause, not a synchronisation); True if `stop` came."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def open_trainer(trainer: Trainer, url: str, config: Config) -> None:
    session = trainer.session = await Session.open(url, "training", config.wait_s)
    settings = {
        "hidden_size": trainer.hidden,
        "epochs": trainer.epochs,
        "seed": trainer.seed,
        "batch_size": config.batch_size,
    }
    for key, value in settings.items():
        session.set(session.find("number_input", key=key).id, int_value=value)
    await session.rerun(timeout_s=config.wait_s)


async def wait_state(trainer: Trainer, states: tuple[str, ...], timeout_s: float) -> str:
    """Wait until the trainer's page shows its run in one of `states` (its own timer reruns
    the page; this looks at each run it makes)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = trainer.state()
        if now in states:
            return now
        await asyncio.sleep(0.1)  # looks at runs the session made, not at the server
    raise TimeoutError(f"trainer {trainer.index}'s run never showed {states}")


async def press_start(trainer: Trainer, config: Config) -> None:
    session = trainer.session
    trainer.pressed_at = time.perf_counter()
    await session.press(session.find("button", "Start training"), config.wait_s)
    await wait_state(trainer, ("queued", "running", *DONE, "refused"), config.wait_s)
    trainer.ack = {"state": trainer.states[-1][1], "ahead": trainer.states[-1][2]}


async def press_stop(trainer: Trainer, config: Config) -> None:
    session = trainer.session
    await session.press(session.find("button", key="stop"), config.wait_s)
    trainer.ended = await wait_state(trainer, DONE, config.wait_s)


async def cancel(trainer: Trainer, behind: Trainer | None, config: Config) -> None:
    if trainer.state() != "queued":
        trainer.errors.append(f"its run was {trainer.state()}, not queued, at Cancel")
        return
    await press_stop(trainer, config)
    if behind is None or behind.ack is None or behind.ack["state"] != "queued":
        return
    deadline = time.monotonic() + config.wait_s
    while time.monotonic() < deadline:
        behind.watch()
        _, state, ahead = behind.states[-1]
        if state != "queued" or ahead < behind.ack["ahead"]:
            trainer.moved_up = True
            return
        await asyncio.sleep(0.1)  # looks at runs the session made
    trainer.moved_up = False


async def look_for_model(trainer: Trainer, url: str, config: Config) -> None:
    """Open the Playground in the same session and read the model list and the description
    of "Trained in this session" when it is there."""
    session = trainer.session
    session.follow_timers = False
    session.page_script_hash = ""
    session.page = "playground"
    await session.rerun(timeout_s=config.wait_s)
    chooser = session.find("selectbox", "Model")
    trainer.model_choices = chooser.options
    if SESSION_CHOICE in chooser.options:
        session.set(chooser.id, string_value=SESSION_CHOICE)
        run = await session.rerun(timeout_s=config.wait_s)
        trainer.model_text = next((t for t in run.markdown if " hidden units" in t), "")


async def play_role(trainer: Trainer, url: str, config: Config, all_pressed: asyncio.Event):
    if trainer.role == "stop":
        await all_pressed.wait()
        await wait_state(trainer, ("running", *DONE), config.wait_s)
        if trainer.state() == "running":
            await press_stop(trainer, config)
    elif trainer.role == "close":
        await wait_state(trainer, ("running", *DONE), config.wait_s)
        trainer.closed_at = time.perf_counter()
        trainer.ended = "closed"
        await trainer.session.close()
        return
    if trainer.ended is None:
        trainer.ended = await wait_state(trainer, DONE, config.wait_s)
    await look_for_model(trainer, url, config)


async def train_in_order(trainers: list[Trainer], config: Config, all_pressed: asyncio.Event):
    """Press Start in each trainer's session in turn, each once the last one's page shows
    its run; a cancel comes once the one behind it has queued."""
    for trainer in trainers:
        await press_start(trainer, config)
        log(f"trainer {trainer.index} ({trainer.role}): {trainer.ack['state']}")
        previous = trainers[trainer.index - 1] if trainer.index else None
        if previous is not None and previous.role == "cancel":
            await cancel(previous, trainer, config)
    if trainers and trainers[-1].role == "cancel":
        await cancel(trainers[-1], None, config)
    all_pressed.set()


def make_trainers(config: Config) -> list[Trainer]:
    trainers = []
    for i in range(config.trainers):
        role = config.role(i)
        long = role == "stop" or (role == "close" and not config.short_closed_runs)
        epochs = MAX_EPOCHS if long else config.epochs
        trainers.append(Trainer(i, role, config.hidden_base + i, config.seed_base + i, epochs))
    return trainers


async def open_all(url: str, trainers: list[Trainer], drawers: list[Drawer], config: Config):
    """Every session open; the first alone, so it fills the server's shared caches."""
    gate = asyncio.Semaphore(4)

    async def one(coroutine):
        async with gate:
            await coroutine

    async def open_drawer(drawer: Drawer) -> None:
        drawer.session = await Session.open(url, "playground", config.wait_s)

    openings = [open_drawer(d) for d in drawers] + [open_trainer(t, url, config) for t in trainers]
    await openings[0]
    await asyncio.gather(*(one(c) for c in openings[1:]))
    # each drawer's first drawing is cold (first trace, first charts): not timed with the rest
    await asyncio.gather(*(draw_once(d, "7", "cold") for d in drawers))
    for drawer in drawers:
        await drawer.session.press(drawer.session.find("button", "Clear"))


# -- where the server's CPU goes ----------------------------------------------------------


def thread_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds used so far by the server process as a whole ("all"), and by its live
    threads grouped by name: "training-job" (runs), "MainThread" (the event loop: web socket,
    protobuf) and the rest. A script run's thread ends with its run, so script work is the
    whole less the long-lived threads."""
    out = {"all": 0.0, "training": 0.0, "main": 0.0}
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    out["all"] = (int(fields[11]) + int(fields[12])) * TICK_S
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended while we looked
            continue
        used = (int(stat[11]) + int(stat[12])) * TICK_S
        if name.startswith("training-job"):
            out["training"] += used
        elif int(task.name) == pid:
            out["main"] += used
    return out


def cpu_split(before: dict, after: dict, seconds: float, drawings: int) -> dict:
    """Cores used by each part of the server over a phase, and script CPU ms per drawing.
    Training threads that ended in the phase count under "scripts and the rest"."""
    used = {k: after[k] - before[k] for k in before}
    rest = used["all"] - used["training"] - used["main"]
    return {
        "training_cores": round(used["training"] / seconds, 2),
        "event_loop_cores": round(used["main"] / seconds, 2),
        "scripts_and_rest_cores": round(rest / seconds, 2),
        "scripts_and_rest_ms_per_drawing": round(1000 * rest / max(drawings, 1), 1),
    }


# -- the two modes ------------------------------------------------------------------------


async def measure(url: str, config: Config, watch: ServerWatch) -> dict:
    """Drawings with no run going, then while every trainer has pressed Start."""
    trainers = [
        Trainer(i, "stop", config.hidden_base + i, config.seed_base + i, MAX_EPOCHS)
        for i in range(config.trainers)
    ]
    drawers = [Drawer(i) for i in range(config.drawers)]
    await open_all(url, trainers, drawers, config)
    phase, stop, windows, cpu = {"name": "idle"}, asyncio.Event(), {}, {}
    tasks = [asyncio.create_task(keep_drawing(d, config, phase, stop)) for d in drawers]

    async def phase_of(name: str) -> None:
        phase["name"], before, start = name, thread_cpu_s(watch.server_pid), time.time()
        await asyncio.sleep(config.seconds)  # the phase's length, not a synchronisation
        windows[name] = (start, time.time())
        cpu[name] = (before, thread_cpu_s(watch.server_pid))

    await phase_of("idle")
    phase["name"] = "starting"
    for trainer in trainers:  # as fast as the server takes them: the order is not checked
        await press_start(trainer, config)
    await phase_of("training")
    phase["name"] = "stopping"
    stop.set()
    await asyncio.gather(*tasks)
    for trainer in trainers:
        if trainer.state() in ("queued", "running"):
            await press_stop(trainer, config)
    for visitor in [*trainers, *drawers]:
        await visitor.session.close()

    out = {}
    for name, (start, end) in windows.items():
        group = [d for drawer in drawers for d in drawer.drawings if d["phase"] == name]
        split = cpu_split(*cpu[name], end - start, len(group))
        out[name] = summary(group) | {"load": watch.cores(start, end), "server_cpu": split}
    out["running_while_training"] = sum(t.ack["state"] == "running" for t in trainers)
    out["queued_while_training"] = sum(t.ack["state"] == "queued" for t in trainers)
    out["wrong"] = sum(d["shown"] != d["expected"] for dr in drawers for d in dr.drawings)
    out["errors"] = sorted({e for v in [*trainers, *drawers] for e in v.errors})
    return out


def summary(drawings: list[dict]) -> dict:
    times = [d["ms"] for d in drawings]
    return {
        "drawings": len(drawings),
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "max_ms": percentile(times, 100),
        "reply_kb": round(sum(d["kb"] for d in drawings) / max(len(drawings), 1), 1),
    }


async def scenario(url: str, config: Config, watch: ServerWatch) -> dict:
    trainers = make_trainers(config)
    drawers = [Drawer(i) for i in range(config.drawers)]
    await open_all(url, trainers, drawers, config)
    phase, stop = {"name": "drawing"}, asyncio.Event()
    tasks = [asyncio.create_task(keep_drawing(d, config, phase, stop)) for d in drawers]
    start, origin = time.time(), time.perf_counter()
    all_pressed = asyncio.Event()
    roles = [play_role(t, url, config, all_pressed) for t in trainers]
    await asyncio.gather(train_in_order(trainers, config, all_pressed), *roles)
    end = time.time()
    stop.set()
    await asyncio.gather(*tasks)
    for drawer in drawers:
        session = drawer.session
        drawer.model_choices = session.find("selectbox", "Model").options
    for visitor in [*trainers, *drawers]:
        if not visitor.session.closed:
            await visitor.session.close()
    quiet = await wait_quiet(watch, config.wait_s)
    return scenario_report(trainers, drawers, config, (start, end, origin), quiet, watch)


async def wait_quiet(watch: ServerWatch, timeout_s: float, cores: float = 0.15) -> float | None:
    """Seconds until the server's CPU use over 3 s fell under `cores`; None if never."""
    start = time.time()
    while time.time() - start < timeout_s:
        lately = watch.server_cores_lately(3.0)
        if lately is not None and lately < cores:
            return round(time.time() - start, 1)
        await asyncio.sleep(watch.interval_s)  # the next sample, not the app
    return None


# -- what the sessions saw ----------------------------------------------------------------


def running_spans(trainers: list[Trainer]) -> list[dict]:
    """Per run seen running: its first and last sighting as running (a page shows a run's
    state at most one timer period, 1 s, late) and when it was over."""
    spans = []
    for t in trainers:
        running = [s[0] for s in t.states if s[1] == "running"]
        if not running:
            continue
        over = [s[0] for s in t.states if s[1] in DONE and s[0] > running[0]]
        queued = [s[0] for s in t.states if s[1] == "queued" and s[0] < running[0]]
        end = over[0] if over else t.closed_at
        spans.append(
            {"index": t.index, "first": running[0], "end": end or math.inf}
            | {"last_queued": queued[-1] if queued else None}
        )
    return spans


def scenario_report(trainers, drawers, config, window, quiet, watch) -> dict:
    """`window`: (start, end) in time.time() for the server's samples, and the start in
    time.perf_counter(), the clock of every run, drawing and state seen."""
    spans = running_spans(trainers)
    start, end, origin = window

    def during(t: float) -> bool:
        return any(s["first"] <= t <= s["end"] for s in spans)

    later = [d for dr in drawers for d in dr.drawings if d["phase"] != "cold"]
    result = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(config).items()},
        "roles": [t.role for t in trainers],
        "playground": {
            "while_training": summary([d for d in later if during(d["t"])]),
            "no_run_going": summary([d for d in later if not during(d["t"])]),
            "clear_p95_ms": percentile([c for dr in drawers for c in dr.clears], 95),
            "wrong": sum(d["shown"] != d["expected"] for dr in drawers for d in dr.drawings),
            "with_a_session_model": [d.index for d in drawers if SESSION_CHOICE in d.model_choices],
            "errors": sorted({e for d in drawers for e in d.errors}),
        },
        "trainers": [trainer_report(t, origin) for t in trainers],
        "queue": fairness(trainers, spans, config),
        "server": {
            "peak_rss_mb": round(max(watch.peak_rss_mb(), server_hwm_mb(watch.server_pid)), 1),
            "quiet_after_s": quiet,
        },
        "load_while_training": watch.cores(start, end),
    }
    result["checks"] = checks(result, config)
    result["ok"] = all(c["ok"] for c in result["checks"].values())
    return result


def trainer_report(t: Trainer, origin: float) -> dict:
    own = re.compile(rf"\b{t.hidden} hidden units\b.*\bseed {t.seed}\b")
    model = re.search(r"(\d+) hidden units", t.model_text)
    return {
        "index": t.index,
        "role": t.role,
        "ack": t.ack,
        "ended": t.ended,
        "foreign_captions": sorted(c for c in t.captions if not own.search(c)),
        "captions_seen": len(t.captions),
        "session_model_hidden": int(model[1]) if model else None,
        "has_session_model": SESSION_CHOICE in t.model_choices,
        "moved_up": t.moved_up,
        "errors": t.errors,
        "seen": [[round(s[0] - origin, 1), s[1], s[2]] for s in t.states],
    }


def fairness(trainers: list[Trainer], spans: list[dict], config: Config) -> dict:
    """Runs start in the order Start was pressed; never more than max_runs at once. The
    pages show a run's state at most one timer period late, so overlaps under that are
    allowed for."""
    margin = 1.5  # s: a timer period of the live view, and a slow run
    overtaken = []
    for a in spans:
        for b in spans:
            late = a["last_queued"] is not None and b["first"] < a["last_queued"] - margin
            if b["index"] > a["index"] and late:
                overtaken.append(f"trainer {b['index']} ran before {a['index']}")
    edges = []
    for s in spans:
        if s["end"] - margin > s["first"]:
            edges += [(s["first"], 1), (s["end"] - margin, -1)]
    running = most = 0
    for _, step in sorted(edges):
        running += step
        most = max(most, running)
    return {
        "start_order": [s["index"] for s in sorted(spans, key=lambda s: s["first"])],
        "overtaken": overtaken,
        "most_running_at_once": most,
        "first_ones_ran_at_once": all(
            t.ack and t.ack["state"] == "running" for t in trainers[: config.max_runs]
        ),
        "places_when_queued": {
            t.index: t.ack["ahead"] for t in trainers if t.ack and t.ack["state"] == "queued"
        },
        "moved_up_on_cancel": [t.moved_up for t in trainers if t.moved_up is not None],
    }


def checks(result: dict, config: Config) -> dict[str, dict]:
    out = {}

    def check(name: str, problems: list[str], fine: str) -> None:
        out[name] = {"ok": not problems, "detail": "; ".join(problems) or fine}

    trainers, draw, queue = result["trainers"], result["playground"], result["queue"]
    check(
        "runs_end_cleanly",
        [
            f"trainer {t['index']} ({t['role']}) ended {t['ended']}"
            for t in trainers
            if t["ended"] != ROLE_ENDS[t["role"]]
        ]  # fmt: skip
        + ([] if result["server"]["quiet_after_s"] is not None else ["the server stayed busy"]),
        "each run ended as its visitor meant; the server fell quiet after",
    )
    problems = [f"trainer {t['index']} saw {t['foreign_captions']}" for t in trainers if
                t["foreign_captions"]]  # fmt: skip
    for t in trainers:
        if (
            t["role"] in ("stop", "finish")
            and t["session_model_hidden"] != config.hidden_base + t["index"]
        ):
            problems.append(f"trainer {t['index']} was offered {t['session_model_hidden']} units")
        if t["role"] == "cancel" and t["has_session_model"]:
            problems.append(f"trainer {t['index']} was cancelled yet has a model")
    if draw["with_a_session_model"]:
        problems.append(f"drawers {draw['with_a_session_model']} see a session model")
    if draw["wrong"]:
        problems.append(f"{draw['wrong']} drawings read as another digit")
    check("isolation", problems, "each session saw its own run and model only")
    problems = list(queue["overtaken"])
    if queue["most_running_at_once"] > config.max_runs:
        problems.append(f"{queue['most_running_at_once']} runs went at once")
    if not queue["first_ones_ran_at_once"]:
        problems.append(f"the first {config.max_runs} did not run at once")
    if False in queue["moved_up_on_cancel"]:
        problems.append("a cancel did not move the next one up")
    check("queue_fair", problems, f"in the order pressed, at most {config.max_runs} at once")
    peak = result["server"]["peak_rss_mb"]
    check(
        "memory",
        [f"peak {peak:.0f} MB"] if peak >= config.memory_limit_mb else [],
        f"peak {peak:.0f} MB < {config.memory_limit_mb:.0f} MB",
    )
    p95 = draw["while_training"]["p95_ms"]
    problems = ["no drawing while a run went"] if p95 is None else []
    if p95 is not None and p95 >= config.p95_limit_ms:
        problems.append(f"p95 {p95:.0f} ms")
    check("latency", problems, f"p95 {p95} ms < {config.p95_limit_ms:.0f} ms while training")
    errors = draw["errors"] + [e for t in trainers for e in t["errors"]]
    check("no_errors", [str(errors[:5])] if errors else [], "no error box, no broken session")
    return out


# -- command line -------------------------------------------------------------------------


async def run(mode: str, config: Config) -> dict:
    env = {MAX_RUNS_VARIABLE: str(config.max_runs)}
    if config.training_nice:
        env[NICE_VARIABLE] = config.training_nice
    server = AppServer(cwd=config.app_dir, env=env)
    server.start()
    watch = ServerWatch(server.process.pid).start()
    log(
        f"{mode}: {config.drawers} drawers, {config.trainers} trainers, {config.max_runs} runs,"
        f" training nice {config.training_nice or 'default'}"
    )
    try:
        if mode == "measure":
            result = await measure(server.url, config, watch)
        else:
            result = await scenario(server.url, config, watch)
        result["server_alive"] = not server.died()
    finally:
        watch.stop()
        if server.died():
            log(server.output()[-3000:])
        server.stop()
        server.cleanup()
    result["training_nice"] = config.training_nice or "default"
    result["load_average"] = os.getloadavg()
    result["cpu_cores"] = os.cpu_count()
    return result


def parse_args(argv: list[str] | None) -> tuple[str, Config, Path | None]:
    d = Config()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("mode", choices=("measure", "scenario"))
    add("--trainers", type=int, default=d.trainers, help="sessions that train (8)")
    add("--drawers", type=int, default=d.drawers, help="sessions that draw (30)")
    add("--max-runs", type=int, default=d.max_runs, help="the app's run limit (2)")
    add("--epochs", type=int, default=d.epochs, help="epochs of runs that finish (3)")
    add("--pause", type=float, default=d.pause_s, help="a drawer's look at an answer (2 s)")
    add("--seconds", type=float, default=d.seconds, help="measure: length of each phase (30)")
    add("--short-closed-runs", action="store_true", help="a closed session's run ends itself")
    add("--p95-limit-ms", type=float, default=d.p95_limit_ms, help="(300)")
    add("--memory-limit-mb", type=float, default=d.memory_limit_mb, help="(1024)")
    add("--wait", type=float, default=d.wait_s, help="longest wait for one thing (300 s)")
    add("--app-dir", type=Path, default=REPO_ROOT, help="the checkout to run (this one)")
    add(
        "--training-nice",
        default="",
        help="RNN_DIGIT_LAB_TRAINING_NICE for the app; a comma list (0,10) measures each in turn",
    )
    add("--json-out", type=Path, help="also write the JSON object to this file")
    a = parser.parse_args(argv)
    config = Config(
        trainers=a.trainers,
        drawers=a.drawers,
        max_runs=a.max_runs,
        epochs=a.epochs,
        pause_s=a.pause,
        seconds=a.seconds,
        short_closed_runs=a.short_closed_runs,
        p95_limit_ms=a.p95_limit_ms,
        memory_limit_mb=a.memory_limit_mb,
        wait_s=a.wait,
        app_dir=a.app_dir.resolve(),
        training_nice=a.training_nice,
    )
    return a.mode, config, a.json_out


def main(argv: list[str] | None = None) -> int:
    mode, config, json_out = parse_args(argv)
    nices = config.training_nice.split(",") if "," in config.training_nice else None
    if nices:  # one after the other in this command, so the two see the same machine
        results = [asyncio.run(run(mode, replace(config, training_nice=n))) for n in nices]
        result = {"by_training_nice": results, "ok": all(r.get("ok", True) for r in results)}
        result["server_alive"] = all(r["server_alive"] for r in results)
    else:
        result = asyncio.run(run(mode, config))
    text = json.dumps(result, indent=1, default=str)
    if json_out is not None:
        json_out.write_text(text)
    print(text)
    for name, outcome in result.get("checks", {}).items():
        log(f"{'ok  ' if outcome['ok'] else 'FAIL'} {name}: {outcome['detail']}")
    return 0 if result.get("ok", True) and result["server_alive"] else 1


if __name__ == "__main__":
    sys.exit(main())

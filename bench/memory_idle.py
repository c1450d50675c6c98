"""Resident memory of the app server, idle, once the Playground has loaded the bundled models.

Starts the real app on a free local port, opens the Playground in headless Chromium (Debian's
/usr/bin/chromium), waits until the page shows its draw prompt (by then the bundled models are
loaded), then reads VmRSS and VmHWM (the peak) of the server and its children from /proc. With
--breakdown it also measures, each in a fresh Python, what importing the app's libraries and
loading the bundled models costs on its own, to show where the memory goes.

    .venv/bin/python -m bench.memory_idle [--sessions 1] [--breakdown]

Prints one JSON object. The target is under 450 MB resident (Streamlit Community Cloud gives
an app 1 GB). Nothing leaves 127.0.0.1.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.e2e.harness import AppServer, launch_chromium, new_offline_context, open_app_page

TARGET_MB = 450
PROMPT = "Draw a digit in the box"
WAIT_MS = 90_000  # the first run imports torch and loads three models on a shared 2-core box
ROOT = Path(__file__).resolve().parent.parent

# what each fresh Python imports or loads before it reads its own memory; the canvas component
# is left out: it only imports inside a running Streamlit server
STEPS = {
    "python": "pass",
    "numpy": "import numpy",
    "torch": "import torch",
    "plotly": "import plotly.graph_objects",
    "streamlit": "import streamlit",
    "app imports": (
        "import streamlit, torch, plotly.graph_objects; "
        "import app_pages.figures, rnn_model, rnn_model.preprocess, training.job"
    ),
    "app imports + bundled models": (
        "import streamlit, torch, plotly.graph_objects; "
        "import app_pages.figures, rnn_model, rnn_model.preprocess, training.job; "
        "[rnn_model.load_model(rnn_model.bundled_path(c)) for c in rnn_model.BUNDLED_CELLS]"
    ),
}
READ_RSS = "; print(open('/proc/self/status').read())"


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of one process, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended while we looked
            continue
        # the command name sits in brackets and may hold spaces; the parent pid follows it
        parent = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def tree_mb(pid: int) -> dict:
    per_process = [status_kb(p) for p in process_tree(pid)]
    return {
        "rss_mb": round(sum(p.get("VmRSS", 0) for p in per_process) / 1024, 1),
        "peak_rss_mb": round(sum(p.get("VmHWM", 0) for p in per_process) / 1024, 1),
        "processes": len(per_process),
    }


def open_playgrounds(url: str, sessions: int) -> None:
    """Open the Playground in `sessions` fresh browser sessions and wait for each prompt."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for _ in range(sessions):
                context, offline = new_offline_context(browser, 1280, 800)
                page = context.new_page()
                open_app_page(page, f"{url}/", timeout_ms=WAIT_MS)
                expect(page.get_by_text(PROMPT)).to_be_visible(timeout=WAIT_MS)
                context.close()  # the session stays on the server until it notices
                if offline.attempted:
                    raise RuntimeError(f"the page tried to leave 127.0.0.1: {offline.attempted}")
        finally:
            browser.close()


def breakdown() -> dict[str, float]:
    """Resident MB of a fresh Python after each step of STEPS."""
    result = {}
    for name, code in STEPS.items():
        out = subprocess.run(
            [sys.executable, "-c", code + READ_RSS],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rss = next(line for line in out.splitlines() if line.startswith("VmRSS:"))
        result[name] = round(int(rss.split()[1]) / 1024, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1, help="browser sessions to open (1)")
    parser.add_argument("--breakdown", action="store_true", help="also measure each library alone")
    args = parser.parse_args()

    server = AppServer().start()
    try:
        result = {"server_started": tree_mb(server.process.pid)}
        open_playgrounds(server.url, args.sessions)
        if server.died():
            raise RuntimeError(f"the app died\n{server.output()}")
        result["playground_idle"] = tree_mb(server.process.pid)
    finally:
        server.stop()
        server.cleanup()
    result["sessions"] = args.sessions
    result["target_mb"] = TARGET_MB
    result["under_target"] = result["playground_idle"]["rss_mb"] < TARGET_MB
    if args.breakdown:
        result["fresh_python_rss_mb"] = breakdown()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

"""What watching a run in the browser costs the training, against the command line.

The same run (cell, size, batch, epochs, seed) is trained by `python -m training train` and by
the app's Training page watched in headless Chromium, alternately, `--repeats` times each. The
trainer gets core 0 and one torch thread in both cases; the browser gets core 1, as it would be
on a visitor's own machine. Reported: each run's digits per second and the ratio of medians.

    python -m bench.live_chart_overhead [--cell gru] [--hidden-size 64] [--epochs 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

from playwright.sync_api import expect, sync_playwright

from tests.e2e.harness import AppServer, launch_chromium, open_app_page, set_number

TRAINER_CORE, BROWSER_CORE = {0}, {1}
CELL_OPTIONS = {"rnn": "Vanilla RNN (tanh)", "lstm": "LSTM"}


def cli_rate(args) -> float:
    command = [
        sys.executable, "-m", "training", "train", "--json", "--cell", args.cell,
        "--hidden-size", str(args.hidden_size), "--epochs", str(args.epochs), "--seed", "0",
    ]  # fmt: skip
    out = subprocess.run(
        command, capture_output=True, text=True, check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, TRAINER_CORE),
    ).stdout  # fmt: skip
    return json.loads(out.splitlines()[-1])["samples_per_second"]


def app_rate(browser, url: str, args) -> float:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    open_app_page(page, f"{url}/training")
    if args.cell != "gru":  # GRU is the page's default
        page.get_by_label("Cell").click()
        page.get_by_role("option", name=CELL_OPTIONS[args.cell]).click()
    set_number(page, "Hidden size", args.hidden_size)
    set_number(page, "Epochs", args.epochs)
    page.locator('[data-testid="stMain"]').get_by_role("button", name="Start training").click()
    done = page.get_by_role("button", name="Download the model")
    expect(done).to_be_visible(timeout=600_000)
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Digits per second")
    rate = float(metric.locator('[data-testid="stMetricValue"]').inner_text().replace(",", ""))
    context.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cell", default="gru", choices=("rnn", "lstm", "gru"))
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    # One torch thread for the trainer in both cases, so the two compare like for like.
    os.environ["OMP_NUM_THREADS"] = "1"
    os.sched_setaffinity(0, TRAINER_CORE)
    server = AppServer().start()  # inherits core 0
    os.sched_setaffinity(0, BROWSER_CORE)
    cli, app = [], []
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)  # inherits core 1
            for _ in range(args.repeats):
                cli.append(cli_rate(args))
                app.append(app_rate(browser, server.url, args))
            browser.close()
    finally:
        server.stop()
        server.cleanup()
    print(json.dumps({
        "cell": args.cell, "hidden_size": args.hidden_size, "epochs": args.epochs,
        "cli_digits_per_s": [round(r) for r in cli],
        "watched_app_digits_per_s": [round(r) for r in app],
        "app_over_cli": round(statistics.median(app) / statistics.median(cli), 3),
    }))  # fmt: skip


if __name__ == "__main__":
    main()

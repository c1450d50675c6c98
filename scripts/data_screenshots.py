"""Screenshots of the Training page's data choices at 1280x720: the sample, MNIST missing,
failing, downloading and ready, a Kaggle train.csv before, after and with a bad file, a run on
it, and the Kaggle submission.

    .venv/bin/python scripts/data_screenshots.py --out screenshots/data/

Nothing leaves 127.0.0.1. MNIST comes from a mirror this script serves, holding MNIST
look-alike files made of the embedded digits; the app finds that mirror and those files'
checksums through a sitecustomize module on its PYTHONPATH, in a temporary folder, so the
product's own mirror list and checksums stay the real ones. The MNIST folder is temporary too.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import torch
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.e2e.harness import (  # noqa: E402
    AppServer,
    launch_chromium,
    new_offline_context,
    open_app_page,
    set_number,
)
from tests.test_data import write_pair  # noqa: E402
from training.data import load_sample  # noqa: E402
from training.download import CHUNK_BYTES, MNIST_MD5  # noqa: E402

SIZE = (1280, 720)
WAIT_MS = 90_000
PATCH_VARIABLE = "RNN_DIGIT_LAB_SCREENSHOT_MNIST"
SITECUSTOMIZE = f'''
import json, os
if os.environ.get("{PATCH_VARIABLE}"):
    from training import download
    _patch = json.loads(os.environ["{PATCH_VARIABLE}"])
    download.MIRRORS = tuple(_patch["mirrors"])
    download.MNIST_MD5 = _patch["md5"]
'''
SETTLED = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    const charts = [...document.querySelectorAll("[data-testid='stPlotlyChart']")];
    return app !== null && app.dataset.testScriptState === "notRunning"
        && document.querySelector("[data-stale='true']") === null
        && document.querySelector("[data-testid^='stSkeleton']") === null
        && charts.every((chart) => chart.querySelector(".main-svg") !== null);
}"""
HEADER = "label," + ",".join(f"pixel{i}" for i in range(784))


class Mirror:
    """Answers 404 until `serving` is set; then serves the files, holding all but the first
    chunks of the first file until `gate` is set, so the progress bar can be shot."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.serving, self.gate = threading.Event(), threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/mnist/"

    def close(self):
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = mirror.files.get(self.path.rsplit("/", 1)[-1])
                if not mirror.serving.is_set() or body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body is mirror.files["train-images-idx3-ubyte.gz"]:
                    self.wfile.write(body[: 3 * CHUNK_BYTES])
                    self.wfile.flush()
                    mirror.gate.wait(120)
                    body = body[3 * CHUNK_BYTES :]
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler


def make_files(folder: Path) -> tuple[dict[str, bytes], bytes, bytes, bytes]:
    """MNIST look-alike files, a good and a bad train.csv, and a test.csv."""
    sample = load_sample()
    order = torch.randperm(len(sample), generator=torch.Generator().manual_seed(0))
    images, labels = sample.images[order].numpy(), sample.labels[order].numpy()  # mixed classes
    write_pair(folder, "train", images[:4000], labels[:4000])
    write_pair(folder, "t10k", images[4000:], labels[4000:])
    mnist = {name: (folder / name).read_bytes() for name in MNIST_MD5}

    rows = [
        f"{y}," + ",".join(map(str, x.reshape(-1))) for x, y in zip(images, labels, strict=True)
    ]
    train = "\n".join([HEADER, *rows[:3000]]).encode() + b"\n"
    bad = train.replace(b"\n5,0,0", b"\n5,0,O", 1)  # a letter O for a zero, as typed by hand
    test = "\n".join(
        [HEADER.removeprefix("label,"), *(r.split(",", 1)[1] for r in rows[4000:4400])]
    )
    return mnist, train, bad, test.encode() + b"\n"


def shoot(page, out: Path, name: str, into_view=None) -> None:
    if into_view is not None:
        into_view.scroll_into_view_if_needed()
    page.wait_for_function(SETTLED, timeout=WAIT_MS, polling=100)
    path = out / f"{name}.png"
    page.screenshot(path=path)
    print(f"wrote {path}")


def choose(page, option: str) -> None:
    page.get_by_test_id("stSelectbox").filter(has_text="Data").click()
    page.get_by_role("option", name=option).click()


def upload(page, uploader_text: str, name: str, content: bytes) -> None:
    uploader = page.get_by_test_id("stFileUploader").filter(has_text=uploader_text)
    uploader.locator("input[type='file']").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content}
    )


def mnist_shots(page, url: str, out: Path, mirror: Mirror) -> None:
    open_app_page(page, f"{url}/training", timeout_ms=WAIT_MS)
    expect(page.get_by_text("Embedded sample: 5,000 MNIST digits").first).to_be_visible()
    shoot(page, out, "1-sample")

    choose(page, "MNIST (60,000 + 10,000 digits, downloaded once)")
    download = page.get_by_role("button", name="Download MNIST (about 11 MB)")
    expect(download).to_be_visible(timeout=WAIT_MS)
    shoot(page, out, "2-mnist-missing")

    download.click()  # the mirror answers 404 for now
    expect(page.get_by_text("Could not download MNIST")).to_be_visible(timeout=WAIT_MS)
    shoot(page, out, "3-mnist-failed")

    mirror.serving.set()
    choose(page, "MNIST (60,000 + 10,000 digits, downloaded once)")
    download.click()
    expect(page.get_by_test_id("stProgress")).to_contain_text("File 1 of 4", timeout=WAIT_MS)
    shoot(page, out, "4-mnist-downloading")

    mirror.gate.set()
    expect(page.get_by_text("MNIST (4,000 training + 1,000 test digits)")).to_be_visible(
        timeout=WAIT_MS
    )
    shoot(page, out, "5-mnist-ready")


def kaggle_shots(page, url: str, out: Path, train: bytes, bad: bytes, test: bytes) -> None:
    open_app_page(page, f"{url}/training", timeout_ms=WAIT_MS)
    choose(page, "Kaggle Digit Recognizer train.csv (upload)")
    expect(page.get_by_text("Upload Kaggle's train.csv (or its zip)")).to_be_visible()
    shoot(page, out, "6-kaggle-empty")

    upload(page, "train.csv, or its zip", "train.csv", train)
    expect(page.get_by_text("Kaggle train.csv (3,000 digits)")).to_be_visible(timeout=WAIT_MS)
    shoot(page, out, "7-kaggle-ready")

    upload(page, "train.csv, or its zip", "bad.csv", bad)
    expect(page.get_by_text("is not a number")).to_be_visible(timeout=WAIT_MS)
    shoot(page, out, "8-kaggle-bad")

    upload(page, "train.csv, or its zip", "train.csv", train)
    set_number(page, "Hidden size", 32)
    set_number(page, "Epochs", 2)
    page.get_by_test_id("stMain").get_by_role("button", name="Start training").click()
    expect(page.get_by_text("Training finished")).to_be_visible(timeout=WAIT_MS)
    shoot(page, out, "9-kaggle-run")
    shoot(
        page,
        out,
        "10-kaggle-run-charts",
        into_view=page.get_by_text("validation accuracy measured"),
    )

    page.get_by_text("Kaggle submission: predict test.csv").click()
    upload(page, "test.csv, or its zip", "test.csv", test)
    page.get_by_role("button", name="Predict 400 digits").click()
    expect(page.get_by_role("button", name="Download submission.csv")).to_be_visible(
        timeout=WAIT_MS
    )
    shoot(
        page,
        out,
        "11-submission",
        into_view=page.get_by_text("Kaggle submission: predict test.csv"),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots/data"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="rnn-digit-lab-shots-") as temp:
        temp = Path(temp)
        (temp / "served").mkdir()
        (temp / "site").mkdir()
        (temp / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
        mnist, train, bad, test = make_files(temp / "served")
        mirror = Mirror(mnist)
        checksums = {name: hashlib.md5(body).hexdigest() for name, body in mnist.items()}
        os.environ.update(
            {
                PATCH_VARIABLE: json.dumps({"mirrors": [mirror.url], "md5": checksums}),
                "PYTHONPATH": f"{temp / 'site'}{os.pathsep}{ROOT}",
                "RNN_DIGIT_LAB_DATA": str(temp / "mnist"),
            }
        )
        server = AppServer().start()
        refused = []
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                for shots, extra in ((mnist_shots, (mirror,)), (kaggle_shots, (train, bad, test))):
                    context, offline = new_offline_context(browser, *SIZE)
                    shots(context.new_page(), server.url, args.out, *extra)
                    context.close()
                    refused += offline.attempted
                browser.close()
        finally:
            server.stop()
            server.cleanup()
            mirror.close()
    for url in sorted(set(refused)):
        print(f"refused a request to another host: {url}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

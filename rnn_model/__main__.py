"""Command line: predict the digit in image files, with exactly the playground's preprocessing.

python -m rnn_model predict [--checkpoint PATH] [--json] IMAGE...
"""

import argparse
import json
import sys

from rnn_model import ModelFileError, bundled_path, load_model, trace
from rnn_model.preprocess import ImageError, load_image, preprocess


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnn_model", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    p = commands.add_parser("predict", help="predict the digit drawn in each image")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG or other image files")
    p.add_argument(
        "--checkpoint",
        default=str(bundled_path("gru")),
        help="model file (default: the bundled GRU)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)

    try:
        model, _ = load_model(args.checkpoint)
    except ModelFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failures = 0
    for path in args.images:
        result = predict_file(model, path)
        failures += "error" in result
        print(json.dumps(result) if args.json else format_result(result), flush=True)
    return 1 if failures else 0


NO_DIGIT = "no digit found: the image is blank, one colour, or holds only a speck"


def predict_file(model, path: str) -> dict:
    """One line of output: the digit (None when nothing is drawn) and the 10 probabilities."""
    try:
        prepared = preprocess(load_image(path))
    except ImageError as error:
        return {"image": path, "digit": None, "probabilities": None, "error": str(error)}
    except OSError as error:  # missing file, a folder, no permission
        message = f"cannot read {path}: {error.strerror or error}"
        return {"image": path, "digit": None, "probabilities": None, "error": message}
    if prepared.is_blank:
        return {"image": path, "digit": None, "probabilities": None, "message": NO_DIGIT}
    reading = trace(model, prepared.image)
    probabilities = [round(float(p), 6) for p in reading.probabilities[-1]]
    return {"image": path, "digit": reading.prediction, "probabilities": probabilities}


def format_result(result: dict) -> str:
    if result["digit"] is None:
        return f"{result['image']}: {result.get('error') or result.get('message')}"
    confidence = result["probabilities"][result["digit"]]
    return f"{result['image']}: {result['digit']} ({confidence:.1%})"


if __name__ == "__main__":
    sys.exit(main())

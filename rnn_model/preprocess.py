"""Turn a canvas drawing or an uploaded picture into the 28x28 image the RNN reads.

MNIST was made this way: the ink is cropped to its bounding box, scaled to fit a
20x20 box keeping its aspect ratio (anti-aliasing makes the grey edges), and pasted
into a 28x28 image so that its centre of mass sits at the centre. Doing the same to
a drawing makes it look like the digits the model was trained on, whatever the size,
place, colour or background of the drawing.

Known shortcomings: the paper's colour is read from the image border, so a strong shadow
or lighting gradient on a photo can read as ink. Only lone specks are dropped: a larger
blot, a ruled line or a second digit counts as part of the digit and shrinks it. Strokes
much broader than MNIST's pen are thinned by a pixel at most, so they stay bold. A
small, round, solid blob (a dab of the brush, or a tiny heavily inked 0) under 8% of the
image side is taken for a dot.
"""

import io
import math
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SIZE = 28  # side of an MNIST image: seq_len rows of input_size pixels
BOX_SIZE = 20  # MNIST scaled each digit to fit a box this size ...
CENTRE = 14.0  # ... and put its centre of mass here (row and column index)

MAX_WORK_SIDE = 1024  # larger inputs are block-averaged to about this first, for speed
MIN_CONTRAST = 0.1  # ink must differ from the paper by this much (values in [0, 1])
NOISE_SIGMAS = 3.0  # paper texture within this many noise levels of the paper is not ink
RIM_LEVEL = 0.1  # the box takes in anti-aliased edges down to this; fainter blur is left out
MIN_INK_PIXELS = 16  # fewer solid ink pixels than this are stray specks
MIN_BOX_FRACTION = 0.02  # an ink box smaller than this part of the image side is a dot
DOT_BOX_FRACTION = 0.08  # a box up to this part of the image side, about square ...
DOT_FILL = 0.6  # ... and mostly filled with ink is a dab of the brush, not a digit

MNIST_STROKE = 2.0  # typical MNIST stroke width, in pixels of the 20x20 box, as measured below
MAX_RIM_POWER = 2.0  # the most a thick stroke's grey rim is darkened (see _match_stroke)

MAX_LOAD_SIDE = 4096  # load_image refuses images wider or taller than this
# Mean pixel of a prepared image above which it is no digit: the embedded sample's 4,500
# training digits stay under 0.31 (their mean is 0.13); a zigzag over the canvas gives 0.41.
MAX_INK = 0.35

NOTHING_DRAWN = "Nothing drawn yet: draw a digit with the mouse."
ONLY_A_DOT = "That is only a dot or a few specks: draw a whole digit, larger."


@dataclass(frozen=True)
class Preprocessed:
    image: np.ndarray | None  # (28, 28) float32 in [0, 1], white ink on black; None if blank
    message: str  # "" when fine, else a sentence for the person saying what to do

    @property
    def is_blank(self) -> bool:
        return self.image is None


def more_ink_than_a_digit(image: np.ndarray) -> bool:
    """Whether a prepared (28, 28) image holds more ink than any MNIST digit: a scribble or a
    filled shape. The network still reads it as one of 0 to 9, often very sure."""
    return float(np.mean(image)) > MAX_INK


class ImageError(ValueError):
    """An upload that cannot become a digit image; str(error) is a sentence for the person."""


def preprocess(image) -> Preprocessed:
    """Make an MNIST-style digit from an RGBA, RGB or grey array (any size) or a PIL image."""
    channels = _shrink(_as_channels(image))  # (H, W, C) float32 in [0, 1]

    # how far each pixel is from the paper, then paper -> 0 and solid ink -> 1
    ink = _stretch(_ink_strength(channels))
    if ink is None:
        return Preprocessed(None, NOTHING_DRAWN)

    box = _ink_box(ink)
    if box is None:
        return Preprocessed(None, ONLY_A_DOT)

    crop = ink[box]
    digit = _fit_box(crop)
    digit = _match_stroke(digit, _stroke_width(crop > 0.5) * BOX_SIZE / max(crop.shape))
    return Preprocessed(_centre_by_mass(digit), "")


# -- from whatever came in to (H, W, C) floats ------------------------------------------


def _as_channels(image) -> np.ndarray:
    raw = np.asarray(_plain_mode(image) if isinstance(image, Image.Image) else image)
    if raw.ndim == 2:
        raw = raw[:, :, None]
    if raw.ndim != 3 or raw.shape[2] not in (1, 2, 3, 4) or raw.size == 0:
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got {raw.shape}")

    values = raw.astype(np.float32)
    if raw.dtype.kind == "f":
        np.nan_to_num(values, copy=False)
    values *= 1.0 / _full_scale(raw.dtype, values)
    return values if raw.dtype == np.uint8 else np.clip(values, 0.0, 1.0)  # (H, W, C)


def _full_scale(dtype: np.dtype, values: np.ndarray) -> float:
    # uint8, and any values up to 255, mean 0-255; up to 1 means 0-1; above 255, its own top
    top = float(values.max())
    if dtype == np.uint8 or 1.0 < top <= 255.0:
        return 255.0
    return max(top, 1.0)


def _plain_mode(image: Image.Image) -> Image.Image:
    """Convert palette, CMYK, 16-bit and other modes to L, LA, RGB or RGBA."""
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if image.mode.startswith("I;16"):
        values = np.asarray(image, dtype=np.float64) / 257  # 16-bit to 8-bit, 65535 -> 255
        return Image.fromarray(np.round(values).astype(np.uint8))
    if image.mode in ("I", "F") or image.mode.startswith("I;"):
        # 32-bit integers or floats say nothing of their range: use the picture's own
        values = np.asarray(image, dtype=np.float64)
        low, high = values.min(), values.max()
        scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
        return Image.fromarray(np.round(scaled * 255).astype(np.uint8))
    if image.mode in ("1", "La"):
        return image.convert("L" if image.mode == "1" else "LA")
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        return image.convert("RGBA")
    return image.convert("RGB")


def _shrink(channels: np.ndarray) -> np.ndarray:
    # the mean of each k x k block is exact area resampling; up to k - 1 edge pixels are dropped
    k = math.ceil(max(channels.shape[:2]) / MAX_WORK_SIDE)
    if k == 1:
        return channels
    height, width = channels.shape[0] // k * k, channels.shape[1] // k * k
    blocks = channels[:height, :width]
    total = blocks[::k, ::k].copy()
    for dy in range(k):
        for dx in range(k):
            if dy or dx:
                total += blocks[dy::k, dx::k]
    return total / (k * k)  # (H / k, W / k, C)


# -- finding the ink ---------------------------------------------------------------------


def _ink_strength(channels: np.ndarray) -> np.ndarray:
    """How far each pixel is from the paper, (H, W) in [0, 1], whatever the colours."""
    n = channels.shape[2]
    has_alpha = n in (2, 4)
    colour = channels[:, :, : n - 1] if has_alpha else channels

    # a transparent background: the ink is whatever was painted, in any colour
    if has_alpha and np.median(_border(channels[:, :, -1:])) < 0.5:
        return channels[:, :, -1]

    # the paper is the usual colour along the border; this handles either polarity
    paper = np.median(_border(colour), axis=0)  # (C,)
    strength = np.abs(colour[:, :, 0] - paper[0])
    for c in range(1, colour.shape[2]):
        np.maximum(strength, np.abs(colour[:, :, c] - paper[c]), out=strength)
    return strength  # (H, W) the largest difference in any colour channel


def _border(values: np.ndarray) -> np.ndarray:
    rows = (values[0], values[-1], values[:, 0], values[:, -1])
    return np.concatenate(rows)  # (2H + 2W, ...) the outermost pixels


def _stretch(strength: np.ndarray) -> np.ndarray | None:
    """Map paper (and its texture) to 0 and the ink's core to 1; None if there is no ink."""
    # the border is paper even when a big digit touches it here and there, so its median
    # and median absolute deviation measure the paper and its noise
    border = _border(strength)
    paper = float(np.median(border))
    noise = 1.4826 * float(np.median(np.abs(border - paper)))
    floor = paper + NOISE_SIGMAS * noise
    peak = float(strength.max())
    if peak - floor < MIN_CONTRAST:
        return None

    # the ink's core level: the middle of the pixels in the upper half of the range
    core = float(np.median(strength[strength > (floor + peak) / 2]))
    if core - paper < max(MIN_CONTRAST, 2 * NOISE_SIGMAS * noise):
        return None
    return np.clip((strength - floor) / (core - floor), 0.0, 1.0)


def _ink_box(ink: np.ndarray) -> tuple[slice, slice] | None:
    """The bounding box of the ink, or None when it is only specks or a dot."""
    solid = ink > 0.5
    solid &= _neighbours(solid) >= 2  # lone specks of paper noise would stretch the box
    if solid.sum() < MIN_INK_PIXELS:
        return None

    rows, cols = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    height, width = bottom - top, right - left
    side, image_side = max(height, width), max(ink.shape)
    dab = 3 * min(height, width) >= 2 * side and solid[top:bottom, left:right].mean() > DOT_FILL
    if side < MIN_BOX_FRACTION * image_side or (dab and side < DOT_BOX_FRACTION * image_side):
        return None

    # widen to take in the anti-aliased rim around the solid ink, about one output pixel
    margin = max(1, round(side / BOX_SIZE))
    top, left = max(top - margin, 0), max(left - margin, 0)
    near = ink[top : bottom + margin, left : right + margin] > RIM_LEVEL
    rows, cols = np.flatnonzero(near.any(axis=1)), np.flatnonzero(near.any(axis=0))
    return slice(top + rows[0], top + rows[-1] + 1), slice(left + cols[0], left + cols[-1] + 1)


def _neighbours(mask: np.ndarray) -> np.ndarray:
    padded = np.pad(mask, 1).astype(np.uint8)
    height, width = mask.shape
    count = np.zeros(mask.shape, np.uint8)
    for dy in range(3):
        for dx in range(3):
            if dy != 1 or dx != 1:
                count += padded[dy : dy + height, dx : dx + width]
    return count  # (H, W) how many of the 8 neighbours are set


# -- MNIST's size and place --------------------------------------------------------------


def _fit_box(crop: np.ndarray) -> np.ndarray:
    """Scale the cropped ink so its longer side is BOX_SIZE, keeping its aspect ratio."""
    height, width = crop.shape
    scale = BOX_SIZE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))

    # area averaging when shrinking is the anti-aliasing; Lanczos keeps small drawings sharp
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.LANCZOS
    digit = np.asarray(Image.fromarray(crop.astype(np.float32)).resize(size, resample))

    # thin strokes shrunk a long way come out faint: MNIST's stroke cores are full white
    digit = np.clip(digit, 0.0, None)
    return digit / max(float(digit.max()), 1e-6)  # (h, w) with max(h, w) == BOX_SIZE


def _stroke_width(solid: np.ndarray) -> float:
    """Mean stroke width in pixels: twice the ink area over the length of its outline.

    The outline is counted along pixel edges, so slanted strokes read a little thin;
    MNIST_STROKE was measured the same way, on upscaled MNIST digits.
    """
    across = np.count_nonzero(solid[1:] != solid[:-1])  # edges between vertical neighbours
    along = np.count_nonzero(solid[:, 1:] != solid[:, :-1])
    on_frame = solid[[0, -1]].sum() + solid[:, [0, -1]].sum()
    outline = across + along + on_frame
    return 2.0 * solid.sum() / max(outline, 1)


def _match_stroke(digit: np.ndarray, width: float) -> np.ndarray:
    """Darken the grey rim of strokes thicker than MNIST's; solid cores stay at 1.

    A brush is often broader than MNIST's pen, and its soft edge makes the digit look
    bolder still. Raising the grey levels to a power above 1 narrows the stroke by up to
    about a pixel and leaves strokes of MNIST's own width untouched.
    """
    power = float(np.clip((width / MNIST_STROKE) ** 2, 1.0, MAX_RIM_POWER))
    return digit**power


def _centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Paste the digit into 28x28 so its centre of mass is at (CENTRE, CENTRE)."""
    height, width = digit.shape
    mass = digit.sum()
    row = (digit.sum(axis=1) * np.arange(height)).sum() / mass
    col = (digit.sum(axis=0) * np.arange(width)).sum() / mass

    # a whole-pixel shift, clipped so no ink falls off the edge
    top = int(np.clip(np.floor(CENTRE - row + 0.5), 0, IMAGE_SIZE - height))
    left = int(np.clip(np.floor(CENTRE - col + 0.5), 0, IMAGE_SIZE - width))
    image = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    image[top : top + height, left : left + width] = digit
    return image  # (28, 28) float32 in [0, 1]


# -- reading an uploaded file ------------------------------------------------------------


def load_image(source) -> Image.Image:
    """Open a path, bytes or file-like as a still image in a mode preprocess accepts.

    Raises ImageError, with a sentence for the person, for anything that is not a
    single-frame image of reasonable size.
    """
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as file:
            return _decode(file)
    if isinstance(source, bytes | bytearray | memoryview):
        return _decode(io.BytesIO(source))
    return _decode(source)


def _decode(file) -> Image.Image:
    # Image.open reads only the header, so the size is checked before any pixel is decoded
    try:
        image = Image.open(file)
    except Image.DecompressionBombError as error:
        raise ImageError(_too_large_message()) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError("That file is not an image: upload a PNG or JPEG of a digit.") from error

    with image:
        width, height = image.size
        if width > MAX_LOAD_SIDE or height > MAX_LOAD_SIDE:
            raise ImageError(_too_large_message(width, height))
        try:
            frames = getattr(image, "n_frames", 1)
            image.load()
            still = ImageOps.exif_transpose(image)  # phone photos are often stored sideways
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            raise ImageError(
                "That image file is damaged or cut short: save it again and re-upload it."
            ) from error
        if frames > 1:
            raise ImageError(
                f"That image is animated ({frames} frames): upload a single still picture."
            )
        return _plain_mode(still)


def _too_large_message(width: int | None = None, height: int | None = None) -> str:
    size = f" ({width} x {height} pixels)" if width else ""
    return (
        f"That image is too large{size}: the limit is {MAX_LOAD_SIDE} x {MAX_LOAD_SIDE}; "
        "crop it to the digit and try again."
    )

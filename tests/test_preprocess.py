"""Preprocessing: canvas drawings and uploads of real MNIST digits become MNIST-style inputs.

The drawings are made here from the bundled digits: scaled up, moved, thickened, put on
paper or a transparent canvas. Whatever was done to them, the result must have MNIST's
size and place and still look like the digit it came from.
"""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from rnn_model.preprocess import (
    NOTHING_DRAWN,
    ONLY_A_DOT,
    ImageError,
    Preprocessed,
    load_image,
    more_ink_than_a_digit,
    preprocess,
)

CANVAS = (280, 280)  # (H, W) of the app's drawing canvas
NAVY = np.array([20, 30, 110], np.float32)  # a ballpoint pen


# -- making drawings from MNIST digits ---------------------------------------------------


def draw(digit: np.ndarray, side: int, at=None, canvas=CANVAS, thick: int = 1) -> np.ndarray:
    """White ink on black: the digit's ink scaled so its longer side is `side` px, top-left
    at `at` (centred if None)."""
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    ink = Image.fromarray(digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    scale = side / max(ink.size)
    width, height = max(1, round(ink.width * scale)), max(1, round(ink.height * scale))
    ink = ink.resize((width, height), Image.Resampling.BILINEAR)
    if thick > 1:
        ink = ink.filter(ImageFilter.MaxFilter(thick))  # a broader brush

    if at is None:
        at = ((canvas[0] - height) // 2, (canvas[1] - width) // 2)
    page = Image.new("L", (canvas[1], canvas[0]), 0)
    page.paste(ink, (at[1], at[0]))
    return np.asarray(page)  # (H, W) uint8


def white_on_black(ink: np.ndarray) -> np.ndarray:
    return np.stack([ink] * 3, axis=-1)  # (H, W, 3)


def opaque_canvas(ink: np.ndarray) -> np.ndarray:
    return np.dstack([ink, ink, ink, np.full_like(ink, 255)])  # (H, W, 4)


def black_on_transparent(ink: np.ndarray) -> np.ndarray:
    black = np.zeros_like(ink)
    return np.dstack([black, black, black, ink])  # (H, W, 4): the ink is only in alpha


def pen_on_paper(ink: np.ndarray) -> np.ndarray:
    cover = ink[..., None].astype(np.float32) / 255
    return np.round(255 + (NAVY - 255) * cover).astype(np.uint8)  # (H, W, 3)


def pencil_on_grey_paper(ink: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    paper = 175 + rng.normal(0, 8, ink.shape)  # the paper's texture
    cover = ink.astype(np.float32) / 255
    grey = np.clip(paper + (50 - paper) * cover, 0, 255)
    return np.stack([grey, grey, grey * 0.95], axis=-1).astype(np.uint8)  # (H, W, 3)


# -- measuring the result ----------------------------------------------------------------


def box_size(image: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[:28, :28]
    return (ys * image).sum() / image.sum(), (xs * image).sum() / image.sum()


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def near_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation, allowing the one-pixel shift by which centring may round differently."""
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return max(correlation(np.roll(a, shift, axis=(0, 1)), b) for shift in shifts)


def assert_mnist_like(result: Preprocessed) -> np.ndarray:
    assert not result.is_blank and result.message == ""
    image = result.image
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() == pytest.approx(1.0)

    # MNIST's layout: fits a 20x20 box, centre of mass at (14, 14)
    height, width = box_size(image)
    assert max(height, width) in (19, 20) and min(height, width) <= 20
    row, col = centre_of_mass(image)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1
    return image


@pytest.fixture(scope="module")
def digits(sample_digits) -> list[np.ndarray]:
    """Three of each class, in class order."""
    images, labels = sample_digits
    return [images[np.flatnonzero(labels == label)[k]] for label in range(10) for k in range(3)]


# -- the drawings ------------------------------------------------------------------------

DRAWINGS = {
    "plain": lambda d: white_on_black(draw(d, 200)),
    "opaque canvas": lambda d: opaque_canvas(draw(d, 200)),
    "corner": lambda d: white_on_black(draw(d, 115, at=(160, 160))),
    "tiny": lambda d: white_on_black(draw(d, 30, at=(5, 240))),
    "huge": lambda d: white_on_black(draw(d, 280, at=(0, 0))),
    "thick": lambda d: white_on_black(draw(d, 200, thick=9)),
    "black on transparent": lambda d: black_on_transparent(draw(d, 160, at=(10, 20))),
    "pen on paper": lambda d: pen_on_paper(draw(d, 180, at=(90, 30))),
    "pencil on grey paper": lambda d: pencil_on_grey_paper(draw(d, 180)),
    "big photo": lambda d: pen_on_paper(draw(d, 70, at=(1020, 30), canvas=(1100, 1500))),
}


@pytest.mark.parametrize("style", DRAWINGS)
def test_drawings_take_mnist_size_and_place(digits, style):
    for digit in digits:
        assert_mnist_like(preprocess(DRAWINGS[style](digit)))


@pytest.mark.parametrize("style", DRAWINGS)
def test_drawings_still_look_like_their_digit(digits, style):
    # the reference: the same MNIST digit, preprocessed as it is
    r = [
        near_correlation(preprocess(DRAWINGS[style](d)).image, preprocess(d).image) for d in digits
    ]
    assert np.mean(r) > 0.93 and min(r) > 0.8, np.round(r, 2)


def test_an_mnist_digit_comes_back_almost_unchanged(digits):
    # one digit has a stray speck that MNIST kept in its box and preprocessing drops
    r = [near_correlation(preprocess(d).image, d) for d in digits]
    assert np.mean(r) > 0.98 and min(r) > 0.8, np.round(r, 3)


def test_polarity_and_transparency_do_not_change_the_result(digits):
    ink = draw(digits[7], 200)
    reference = preprocess(white_on_black(ink)).image
    for drawing in (opaque_canvas(ink), black_on_transparent(ink), 255 - white_on_black(ink)):
        assert np.abs(preprocess(drawing).image - reference).max() < 0.02


def test_any_ink_colour_on_white_gives_the_same_digit(digits):
    ink = draw(digits[12], 200)
    navy = preprocess(pen_on_paper(ink)).image
    black = preprocess(255 - ink).image
    assert correlation(navy, black) > 0.98


def test_specks_of_dust_away_from_the_digit_are_ignored(digits):
    ink = draw(digits[4], 150)
    dusty = ink.copy()
    dusty[[5, 10, 270, 275, 276], [270, 8, 12, 260, 260]] = 255  # four specks, one 2 px long
    assert np.array_equal(preprocess(dusty).image, preprocess(ink).image)


def test_a_thin_one_keeps_its_aspect_ratio():
    stroke = np.zeros(CANVAS, np.uint8)
    stroke[40:240, 137:143] = 255  # 200 px tall, 6 px wide
    image = assert_mnist_like(preprocess(stroke))
    assert box_size(image) == (20, 1)


def test_a_small_one_is_not_mistaken_for_a_dot(sample_digits):
    images, labels = sample_digits
    one = images[np.flatnonzero(labels == 1)[0]]
    assert_mnist_like(preprocess(white_on_black(draw(one, 20, at=(100, 100)))))


def test_a_wide_drawing_is_fitted_by_its_width():
    dash = np.zeros(CANVAS, np.uint8)
    dash[120:180, 20:260] = 255  # 60 x 240: a quarter as tall as wide
    image = assert_mnist_like(preprocess(dash))
    assert box_size(image) == (5, 20)


def test_grey_and_float_and_pil_inputs_agree(digits):
    ink = draw(digits[20], 200)
    reference = preprocess(ink).image
    for same in (
        ink.astype(np.float32) / 255,
        ink.astype(np.float64),  # floats above 1 are read as 0-255
        Image.fromarray(ink),
        Image.fromarray(black_on_transparent(ink)),
        Image.fromarray(ink).convert("P"),
        Image.fromarray(ink.astype(np.uint16) * 257),  # 16-bit grey
    ):
        assert np.abs(preprocess(same).image - reference).max() < 0.02


def test_a_shape_that_is_not_an_image_is_a_programming_error():
    with pytest.raises(ValueError, match="expected"):
        preprocess(np.zeros((28, 28, 5), np.uint8))


# -- nothing drawn -----------------------------------------------------------------------


def blank_canvases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    specks = np.zeros(CANVAS, np.uint8)
    specks[rng.integers(0, 280, 6), rng.integers(0, 280, 6)] = 255
    ys, xs = np.mgrid[:280, :280]
    dot = (((ys - 140) ** 2 + (xs - 100) ** 2) < 9**2).astype(np.uint8) * 255  # one brush dab
    return {
        "empty canvas": np.zeros((*CANVAS, 4), np.uint8),
        "black canvas": opaque_canvas(np.zeros(CANVAS, np.uint8)),
        "white paper": np.full((*CANVAS, 3), 255, np.uint8),
        "one grey": np.full((50, 80), 0.4, np.float32),
        "bare grey paper": pencil_on_grey_paper(np.zeros(CANVAS, np.uint8), seed=3),
        "stray specks": specks,
        "one dot": white_on_black(dot),
        "a dot on paper": pen_on_paper(dot),
    }


@pytest.mark.parametrize("name", blank_canvases())
def test_nothing_drawn_is_blank_with_a_message(name):
    result = preprocess(blank_canvases()[name])
    assert result.is_blank and result.image is None
    assert result.message in (NOTHING_DRAWN, ONLY_A_DOT) and "draw" in result.message


def test_an_empty_canvas_says_nothing_is_drawn_yet():
    assert preprocess(np.zeros((*CANVAS, 4), np.uint8)).message == NOTHING_DRAWN


# -- loading uploads ---------------------------------------------------------------------


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG file that claims a size: its header, then one empty block of pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    pixels = zlib.compress(b"")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def noise_png() -> bytes:
    noise = np.random.default_rng(1).integers(0, 256, (100, 100), np.uint8)
    return png_bytes(Image.fromarray(noise))  # noise does not compress: about 10 kB


def two_frame_gif() -> bytes:
    frames = [Image.new("L", (28, 28), 0), Image.new("L", (28, 28), 255)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def test_load_image_reads_a_path_bytes_and_a_file(digits, tmp_path):
    ink = draw(digits[3], 200)
    data = png_bytes(Image.fromarray(ink))
    path = tmp_path / "digit.png"
    path.write_bytes(data)
    for source in (path, str(path), data, io.BytesIO(data)):
        image = load_image(source)
        assert image.mode == "L" and image.size == (280, 280)
        assert np.array_equal(np.asarray(image), ink)


def test_load_image_turns_a_photo_upright(digits):
    ink = draw(digits[9], 200)
    exif = Image.Exif()
    exif[0x0112] = 3  # Orientation: stored upside down
    buffer = io.BytesIO()
    Image.fromarray(np.rot90(ink, 2)).save(buffer, format="PNG", exif=exif)
    assert np.array_equal(np.asarray(load_image(buffer.getvalue())), ink)


@pytest.mark.parametrize(
    ("mode", "expected"), [("P", "RGB"), ("CMYK", "RGB"), ("1", "L"), ("I;16", "L"), ("LA", "LA")]
)
def test_load_image_converts_modes_preprocess_accepts(digits, mode, expected):
    ink = draw(digits[25], 200)
    if mode == "I;16":
        image = Image.fromarray(ink.astype(np.uint16) * 257)  # 16 bits per pixel
    else:
        image = Image.fromarray(ink).convert("RGB").convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="TIFF")  # TIFF keeps every one of these modes
    loaded = load_image(buffer.getvalue())
    assert loaded.mode == expected
    assert correlation(preprocess(loaded).image, preprocess(ink).image) > 0.95


@pytest.mark.parametrize(
    ("make", "word"),
    [
        (lambda: np.random.default_rng(0).bytes(5000), "not an image"),
        (lambda: b"7,2,1,0,4\nnot a picture at all\n", "not an image"),
        (two_frame_gif, "animated"),
        (lambda: png_header(8000, 8000), "too large"),
        (lambda: png_header(20_000, 20_000), "too large"),  # PIL's decompression bomb guard
        (lambda: noise_png()[:2000], "damaged"),
    ],
    ids=["random bytes", "text", "animated gif", "8000 px", "bomb", "truncated png"],
)
def test_load_image_refuses_with_a_sentence(make, word):
    with pytest.raises(ImageError, match=word) as caught:
        load_image(make())
    assert str(caught.value).endswith(".")


def _zigzag(lines: int = 21, width: int = 18) -> np.ndarray:
    """A scribble: a thick zigzag from side to side of the canvas."""
    picture = Image.new("L", CANVAS[::-1], 0)
    corners = [(20 + i * 12, 20 if i % 2 == 0 else 260) for i in range(lines)]
    ImageDraw.Draw(picture).line(corners, fill=255, width=width)
    return white_on_black(np.asarray(picture))


def test_a_scribble_holds_more_ink_than_a_digit():
    scribble = preprocess(_zigzag())
    assert not scribble.is_blank  # it is still read: the page warns beside the answer
    assert more_ink_than_a_digit(scribble.image)


@pytest.mark.parametrize("style", ["plain", "thick", "pen on paper"])
def test_no_digit_holds_more_ink_than_a_digit(digits, style):
    for digit in digits:
        assert not more_ink_than_a_digit(preprocess(DRAWINGS[style](digit)).image)

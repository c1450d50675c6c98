"""What the Playground's views inside the network keep between reruns, and the address that
brings a view back.

- Which steps mattered: computed once per drawing and model (a session memo, as the trace).
- The memory's map: fitted once per model on the embedded sample's validation digits, so a
  position means the same from drawing to drawing (shared for bundled models, per session for
  the session's and the uploaded model). The same pass reads those digits for the gallery.
- The address: ?order=rows&model=bundled-gru&digit=sample-12&step=12&view=forget+gate.
"""

import base64
import binascii
import hashlib
import time
import zlib
from dataclasses import dataclass

import numpy as np
import streamlit as st

from app_pages import state
from rnn_model import RowClassifier
from rnn_model.analysis import (
    HiddenMap,
    StepImportance,
    fit_hidden_map,
    read_digits,
    step_importance,
    top_states,
)

SEQ_LEN = 28
REFERENCE_KEY = "inside_references"  # model id -> Reference, for non-bundled models
IMPORTANCE_KEY = "inside_importance"  # ((model id, digest), StepImportance)
SOURCE_KEY = "inside_opened_source"  # (digest, address value) of the digit opened from here
ADDRESS_DONE_KEY = "inside_address_read"  # the address has been read in this session
ADDRESS_WARNING_KEY = "inside_address_warning"
PENDING_STEP_KEY = "inside_pending_step"  # a step from the address, for the digit it opens
LAST_PARAMS_KEY = "inside_last_params"  # what this page last wrote to the address
SESSION_REFERENCES = 2  # the session's model and one uploaded: the most a session can have

PER_DIGIT = 2  # gallery: this many of each digit
MISREADS = 10  # and up to this many the current model gets wrong

READING_ORDERS = {  # reading order -> the Playground's label
    "rows": "Top to bottom",
    "rows_reversed": "Bottom to top",
    "columns": "Column by column",
}
PARAMS = ("order", "model", "digit", "step", "view")  # this page's; ?present belongs to show.py
DIGIT_CODE = "z"  # first letter of a pixel-coded digit: zlib of 4-bit greys, base64url
MAX_DIGIT_CODE = 1200  # characters: a 28x28 digit needs at most about 530


# -- the map of the memory, and the gallery's readings ------------------------------------


@dataclass
class Reference:
    """A model's readings of the embedded sample's validation digits."""

    hidden_map: HiddenMap  # fitted on every step of every one of those digits
    readings: np.ndarray  # (N,) the class the model reads for each digit
    fit_s: float  # seconds the pass and the fit took


def _reference(model: RowClassifier) -> Reference:
    started = time.perf_counter()
    val = state.training_data("sample").val
    states = top_states(model, val.images)  # (N, T, H), one pass for both
    hidden_map = fit_hidden_map(model, val.images, val.labels, states=states)
    readings = read_digits(model, val.images, states=states)
    return Reference(hidden_map, readings, time.perf_counter() - started)


@st.cache_resource(show_spinner="Mapping the model's memory on 500 digits…")
def _bundled_reference(name: str) -> Reference:
    """A bundled model's reference, once per server: every visitor sees the same map."""
    return _reference(state.bundled_model(name)[0])


def reference(model_id: str, model: RowClassifier) -> Reference:
    """The model's reference: shared for a bundled model, kept in this session for others."""
    if model_id.startswith("bundled-"):
        return _bundled_reference(model_id.removeprefix("bundled-"))
    memo: dict = st.session_state.setdefault(REFERENCE_KEY, {})
    if model_id not in memo:
        with st.spinner("Mapping this model's memory on 500 digits…"):
            memo[model_id] = _reference(model)
        while len(memo) > SESSION_REFERENCES:  # the oldest first: dicts keep their order
            memo.pop(next(iter(memo)))
    return memo[model_id]


# -- which steps mattered -----------------------------------------------------------------


def digest(image: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).hexdigest()


def importance_once(model_id: str, model: RowClassifier, image: np.ndarray) -> StepImportance:
    """What blanking each step does, computed once per drawing and model (29 readings)."""
    key = (model_id, digest(image))
    memo = st.session_state.get(IMPORTANCE_KEY)
    if memo is not None and memo[0] == key:
        return memo[1]
    result = step_importance(model, image)
    st.session_state[IMPORTANCE_KEY] = (key, result)
    return result


# -- the gallery ----------------------------------------------------------------------------


@dataclass
class GalleryDigit:
    index: int  # in the embedded sample's validation part
    label: int
    reading: int  # what the current model reads

    @property
    def misread(self) -> bool:
        return self.reading != self.label

    @property
    def address(self) -> str:
        return f"sample-{self.index}"

    @property
    def caption(self) -> str:
        text = f"Gallery digit {self.index}: a {self.label} from the embedded sample"
        if self.misread:
            text += f", which this model misreads as {self.reading}"
        return text


def gallery(readings: np.ndarray) -> tuple[list[GalleryDigit], list[GalleryDigit]]:
    """(two of each digit, up to ten others that the model misreads), from the validation
    digits; the misread ones a digit at a time (the first 0, the first 1, ..., then the
    second of each), so one hard digit cannot fill the row."""
    labels = state.training_data("sample").val.labels.numpy()
    every = [GalleryDigit(int(i), int(labels[i]), int(readings[i])) for i in range(len(labels))]
    by_digit = [d for c in range(10) for d in [g for g in every if g.label == c][:PER_DIGIT]]
    shown = {d.index for d in by_digit}
    wrong = [
        [g for g in every if g.misread and g.label == c and g.index not in shown] for c in range(10)
    ]
    misread = [row[k] for k in range(max(map(len, wrong))) for row in wrong if k < len(row)]
    return by_digit, misread[:MISREADS]


def gallery_image(index: int) -> np.ndarray:
    """Validation digit `index` (28, 28) uint8."""
    return state.training_data("sample").val.images[index].numpy()


def open_gallery_digit(digit: GalleryDigit) -> None:
    """Read this gallery digit (a button's callback: the page reruns after it)."""
    image = gallery_image(digit.index)
    state.open_in_playground(image, digit.caption)
    st.session_state[SOURCE_KEY] = (digest(image), digit.address)


def opened_source() -> str | None:
    """The address value of the opened digit when it came from the gallery or the address."""
    opened = state.opened_digit()
    source = st.session_state.get(SOURCE_KEY)
    if opened is None or source is None or source[0] != digest(opened[0]):
        return None
    return source[1]


def enlarged(image: np.ndarray, factor: int) -> np.ndarray:
    """A digit `factor` times larger with sharp pixels (a browser would blur a small one)."""
    return np.kron(np.asarray(image), np.ones((factor, factor), dtype=np.uint8))


# -- a digit in the address -----------------------------------------------------------------


def encode_digit(image: np.ndarray) -> str:
    """A 28x28 digit with values in [0, 1] as a short text for an address: 16 grey levels,
    two pixels a byte, zlib, base64url. Usually 150-300 characters; never over about 530."""
    levels = np.clip(np.rint(np.asarray(image, dtype=np.float32) * 15), 0, 15).astype(np.uint8)
    packed = (levels[:, 0::2] << 4) | levels[:, 1::2]  # (28, 14)
    code = base64.urlsafe_b64encode(zlib.compress(packed.tobytes(), 9)).rstrip(b"=")
    return DIGIT_CODE + code.decode("ascii")


def decode_digit(text: str) -> np.ndarray:
    """The digit encode_digit wrote, as (28, 28) uint8; ValueError for anything else."""
    if not text.startswith(DIGIT_CODE) or len(text) > MAX_DIGIT_CODE:
        raise ValueError("not a digit code")
    body = text[len(DIGIT_CODE) :]
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        unpacker = zlib.decompressobj()
        raw = unpacker.decompress(packed, SEQ_LEN * SEQ_LEN // 2 + 1)  # bounded: no zip bomb
    except (binascii.Error, ValueError, zlib.error) as error:
        raise ValueError("not a digit code") from error
    if len(raw) != SEQ_LEN * SEQ_LEN // 2 or not unpacker.eof:
        raise ValueError("not a digit code")
    packed = np.frombuffer(raw, dtype=np.uint8).reshape(SEQ_LEN, SEQ_LEN // 2)
    levels = np.empty((SEQ_LEN, SEQ_LEN), dtype=np.uint8)
    levels[:, 0::2], levels[:, 1::2] = packed >> 4, packed & 15
    return levels * 17  # 0..15 -> 0..255


@dataclass
class Address:
    """What a bookmarked address asks for, each part checked; None where it asks nothing."""

    order: str | None = None
    model: str | None = None  # "bundled-gru", "session" or "upload"
    digit: tuple[np.ndarray, str, str] | None = None  # (image uint8, caption, address value)
    step: int | None = None
    view: str | None = None  # a key of the Playground's STATE_VIEWS


def read_address(params: dict[str, str], views: list[str], cells: dict[str, str]) -> tuple:
    """Check this page's query parameters: (Address, problems as short phrases).

    `views` are the heatmap's view names; `cells` maps a model parameter ("bundled-lstm") to
    a name ("LSTM"). A bad part is left out with a problem, never raised."""
    address, problems = Address(), []
    order = params.get("order")
    if order is not None:
        if order in READING_ORDERS:
            address.order = order
        else:
            problems.append(f"order={order[:20]} (no such reading order)")
    model = params.get("model")
    if model is not None:
        if model in cells or model in ("session", "upload"):
            address.model = model
        else:
            problems.append(f"model={model[:30]} (no such model)")
    digit = params.get("digit")
    if digit is not None:
        address.digit = _address_digit(digit)
        if address.digit is None:
            problems.append("digit (not a digit this page wrote)")
    step = params.get("step")
    if step is not None:
        if step.isdigit() and 1 <= int(step) <= SEQ_LEN:
            address.step = int(step)
        else:
            problems.append(f"step={step[:10]} (steps go from 1 to {SEQ_LEN})")
    view = params.get("view")
    if view is not None:
        wanted = _plain(view)
        # the short name this page writes, or the label the page shows ("hidden state h_t")
        names = {_plain(short_view(v)): v for v in views} | {_plain(v): v for v in views}
        if wanted in names:
            address.view = names[wanted]
        else:
            problems.append(f"view={view[:20]} (no such view)")
    return address, problems


def _plain(name: str) -> str:
    return name.strip().lower().replace("-", " ").replace("_", " ")


def short_view(view: str) -> str:
    """A view's name in the address: "hidden state h_t" -> "hidden state"."""
    return view.removesuffix(" h_t").removesuffix(" c_t")


def _address_digit(value: str) -> tuple[np.ndarray, str, str] | None:
    if value.startswith("sample-"):
        number = value.removeprefix("sample-")
        labels = state.training_data("sample").val.labels
        if not number.isdigit() or int(number) >= len(labels):
            return None
        index = int(number)
        caption = (
            f"Gallery digit {index}: a {int(labels[index])} from the embedded sample "
            "(from the address)"
        )
        return gallery_image(index), caption, value
    try:
        image = decode_digit(value)
    except ValueError:
        return None
    if image.max() == 0:
        return None
    return image, "A digit from a bookmarked address", value


def open_address_digit(image: np.ndarray, caption: str, value: str) -> None:
    state.open_in_playground(image, caption)
    st.session_state[SOURCE_KEY] = (digest(image), value)


def address_problems_warning(problems: list[str]) -> None:
    """Keep one short warning to show until the visitor changes what the address says."""
    if problems:
        st.session_state[ADDRESS_WARNING_KEY] = (
            "Part of this address could not be used, so the page opened with its defaults "
            f"there: {'; '.join(problems)}."
        )


def address_warning() -> str | None:
    return st.session_state.get(ADDRESS_WARNING_KEY)


def first_visit() -> bool:
    """True once per session: the first Playground run reads the address."""
    if st.session_state.get(ADDRESS_DONE_KEY):
        return False
    st.session_state[ADDRESS_DONE_KEY] = True
    return True


def take_pending_step() -> int | None:
    return st.session_state.pop(PENDING_STEP_KEY, None)


def set_pending_step(step: int) -> None:
    st.session_state[PENDING_STEP_KEY] = step


DEFAULTS = {"order": "rows", "model": "bundled-gru", "view": "hidden state"}  # left out


def write_address(values: dict[str, str | None]) -> None:
    """Keep this page's query parameters in step with what is on show (None: left out, and
    so are the defaults, so the landing page's address stays plain).

    Only parameters that changed are written, and others (?present=1) are left alone."""
    wanted = {k: v for k, v in values.items() if v is not None and DEFAULTS.get(k) != v}
    last = st.session_state.get(LAST_PARAMS_KEY)
    if last is not None and last != wanted:
        st.session_state.pop(ADDRESS_WARNING_KEY, None)  # the visitor has moved on
    st.session_state[LAST_PARAMS_KEY] = wanted
    current = st.query_params
    for key in PARAMS:
        if key in wanted:
            if current.get(key) != wanted[key]:
                current[key] = wanted[key]
        elif key in current:
            del current[key]

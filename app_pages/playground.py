"""Playground: draw a digit and watch a recurrent network read it, one row per step."""

from dataclasses import dataclass

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from app_pages import figures, inside, inside_figures, show, state
from app_pages.text import plain, uploaded_label
from rnn_model import BUNDLED_MODELS, ModelConfig, ModelFileError, Trace
from rnn_model.analysis import StepImportance, decided_at
from rnn_model.preprocess import (
    ImageError,
    Preprocessed,
    load_image,
    more_ink_than_a_digit,
    preprocess,
)

CELL_NAMES = {"gru": "GRU", "lstm": "LSTM", "rnn": "vanilla RNN"}
A_CELL = {"GRU": "a GRU", "LSTM": "an LSTM", "vanilla RNN": "a vanilla RNN"}
SESSION_CHOICE = "Trained in this session"
ORDER_KEY = "playground_order"  # the Training page's own setting is "reading_order"
ORDER_PICKED_KEY = "playground_order_picked"  # the visitor has just chosen a reading order
TRAINING_ORDERS = {  # as the Training page's sidebar names them
    "rows": "Rows, top to bottom",
    "rows_reversed": "Rows, bottom to top",
    "columns": "Columns, left to right",
}
GALLERY_CHOICE = "Pick from the gallery"
INPUTS = ["Draw", "Upload a picture", GALLERY_CHOICE]
GALLERY_PROMPT = "Pick a digit from the gallery: the network will read it."
UPLOAD_CHOICE = "Upload a model file…"
MODEL_FILE_MB = 64  # as rnn_model.files.MAX_FILE_BYTES: far above any model the limits allow
LAST_CHOICE_KEY = "last_model_choice"  # the model in use while a file is being chosen
UPLOAD_ERROR_KEY = "model_file_error"
DRAW_PROMPT = "Draw a digit in the box: the network will read it one row at a time."
NO_DIGIT_IN_PICTURE = (
    "No digit found in that picture: it is all one colour, or holds only a speck. "
    "Upload a picture of one digit, dark on light or light on dark."
)
UPLOAD_PROMPT = "Upload a picture of one digit (PNG or JPEG), dark on light or light on dark."
PLAY_INTERVAL_S = 0.25  # seconds per step while playing: the whole digit in about 7 s
TRAINING_CHECK_S = 2.0  # how often to look at this session's run from here
CANVAS_SIZE = 280  # ten canvas pixels per MNIST pixel
HOW_IT_READS = {  # reading order -> how one step takes in the picture
    "rows": "one row of 28 pixels at a time, top to bottom",
    "rows_reversed": "one row of 28 pixels at a time, bottom to top",
    "columns": "one column of 28 pixels at a time, left to right",
}
STEP_UNITS = {"rows": "rows", "rows_reversed": "rows", "columns": "columns"}

state.keep_alive()


# -- widgets ------------------------------------------------------------------------------


def describe(info) -> str:
    c = info.config
    cell = f"vanilla RNN ({c.nonlinearity})" if c.cell == "rnn" else CELL_NAMES[c.cell]
    layers = "1 layer" if c.num_layers == 1 else f"{c.num_layers} layers"
    parts = [f"**{cell}**", f"{c.hidden_size} hidden units", layers]
    accuracy = info.training.get("val_accuracy")
    if isinstance(accuracy, int | float):
        parts.append(f"{accuracy:.1%} right on its validation digits")
    else:
        parts.append("accuracy not recorded")
    if info.training.get("data"):  # from the file: shown as text, never as markdown
        parts.append(f"trained on {plain(str(info.training['data'])[:120])}")
    return " · ".join(parts)


def _model_file_changed() -> None:
    # A callback runs before the page does, so the model list can switch to a good file at
    # once; a bad one leaves everything as it was, with a reason to show.
    upload = st.session_state.get("model_file")
    st.session_state.pop(UPLOAD_ERROR_KEY, None)
    if upload is None:
        return
    try:
        state.load_upload(upload.getvalue(), upload.name)
    except ModelFileError as error:
        st.session_state[UPLOAD_ERROR_KEY] = str(error)
        return
    st.session_state.model_choice = uploaded_label(upload.name)


def _order_picked() -> None:
    st.session_state[ORDER_PICKED_KEY] = True


def _model_order(entry) -> str:
    return entry[2].config.reading_order


def _order_follows_model(own, uploaded) -> None:
    """A model chosen elsewhere (the Training page's hand-over, a new upload) brings its
    reading order along; a reading order the visitor has just picked wins instead."""
    if st.session_state.pop(ORDER_PICKED_KEY, False):
        return
    choice = st.session_state.get("model_choice")
    entry = None
    if choice == SESSION_CHOICE and own is not None:
        entry = own
    elif uploaded is not None and choice == uploaded_label(uploaded[0]):
        entry = uploaded[1]
    if entry is not None:
        st.session_state[ORDER_KEY] = _model_order(entry)


def bundled_choices(order: str) -> dict:
    """Label -> (model id, model, info) of the bundled models that read in `order`."""
    choices = {}
    try:
        for name in BUNDLED_MODELS:
            model, info = state.bundled_model(name)
            if info.config.reading_order == order:
                choices[f"Bundled {CELL_NAMES[info.config.cell]}"] = (
                    f"bundled-{name}",
                    model,
                    info,
                )
    except ModelFileError as error:
        st.error(f"A bundled model could not be loaded: {error} Reinstall the app's assets.")
        st.stop()
    return choices


def model_ui():
    """The reading order and the model chooser; returns ((model id, model, info), a container
    for notes below them), or stops the page with a message."""
    own = state.session_model()
    uploaded = state.uploaded_model()
    _order_follows_model(own, uploaded)

    order_column, left, right = st.columns([5, 3, 4], vertical_alignment="bottom")
    order = order_column.radio(
        "Reading order",
        list(inside.READING_ORDERS),
        format_func=inside.READING_ORDERS.get,
        horizontal=True,
        key=ORDER_KEY,
        persist_state="session",
        on_change=_order_picked,
        help="How the digit becomes 28 steps: one row at a time from the top, from the "
        "bottom, or one column at a time from the left. The model list offers the models "
        "that read that way.",
    )
    choices = bundled_choices(order)
    elsewhere = []  # this session's models that read another way
    candidates = [(SESSION_CHOICE, own)]
    if uploaded is not None:
        candidates.append((uploaded_label(uploaded[0]), uploaded[1]))
    for label, entry in candidates:
        if entry is None:
            continue
        if _model_order(entry) == order:
            choices[label] = entry
        else:
            elsewhere.append((label, _model_order(entry)))
    if st.session_state.get("model_choice") not in [*choices, UPLOAD_CHOICE]:
        st.session_state.model_choice = next(iter(choices))

    # Always drawn, whatever it holds: a block that came and went would move the canvas
    # below, and the browser would redraw it empty.
    notes = st.container()
    name = left.selectbox(
        "Model",
        [*choices, UPLOAD_CHOICE],
        key="model_choice",
        persist_state="session",
        help="The bundled models were trained on the embedded sample of MNIST digits. "
        "A model you train on the Training page appears here when its run ends; "
        "a model file you downloaded from there can be uploaded.",
    )
    with notes:
        order_notes(order, choices, elsewhere)
    if name != UPLOAD_CHOICE:
        st.session_state[LAST_CHOICE_KEY] = name
        st.session_state.pop(UPLOAD_ERROR_KEY, None)  # about a file no longer on show
        right.markdown(describe(choices[name][2]))
        return choices[name], notes

    # while a file is being chosen, the model in use stays the one chosen before
    name = st.session_state.get(LAST_CHOICE_KEY)
    name = name if name in choices else next(iter(choices))
    right.file_uploader(
        "Model file (.safetensors, from the Training page's download button)",
        type=["safetensors"],
        key="model_file",
        max_upload_size=MODEL_FILE_MB,
        on_change=_model_file_changed,
    )
    error = st.session_state.get(UPLOAD_ERROR_KEY)
    if error:
        notes.error(plain(error), icon=":material/error:")
    notes.caption(f"Until a model file is loaded, the Playground reads with {plain(name)}.")
    return choices[name], notes


def order_notes(order: str, choices: dict, elsewhere: list) -> None:
    """What the model list leaves out for this reading order, and where to get it."""
    for label, other in elsewhere:
        st.caption(
            f"{plain(label)} reads {inside.READING_ORDERS[other].lower()}: choose that reading "
            "order to use it."
        )
    cells = {CELL_NAMES[entry[2].config.cell] for entry in choices.values()}
    missing = [name for name in CELL_NAMES.values() if name not in cells]
    if order == "rows" or not missing:
        return
    left, right = st.columns([3, 2], vertical_alignment="center")
    left.caption(
        f"Only a GRU is bundled that reads {inside.READING_ORDERS[order].lower()}. To watch "
        f"{' or '.join(A_CELL[m] for m in missing)} read "
        f"this way, train one: set the Training page's Reading order to "
        f"“{TRAINING_ORDERS[order]}”."
    )
    right.page_link(
        "app_pages/training.py", label="Train one on the Training page", icon=":material/school:"
    )


def training_status() -> None:
    """While this session's run goes, say so, and offer its model as soon as it ends."""
    job = state.current_job()
    if not state.is_running(job):
        return

    @st.fragment(run_every=TRAINING_CHECK_S)
    def status():
        state.keep_alive()  # a run watched from here is not abandoned
        view = job.view()
        if view.done:
            st.rerun()  # the whole page, so the model list gains the new model
        if view.queued:
            st.info(
                f"{view.message} Your model trains when its turn comes, and joins the model "
                "list when its run ends.",
                icon=":material/hourglass_top:",
            )
            return
        last = view.last
        done = last.step / max(last.total_steps, 1) if last is not None else 0.0
        st.progress(
            done,
            text=f"Your model is training ({done:.0%}): it joins the model list when the run ends.",
        )

    status()


def _clear_canvas() -> None:
    # A new key gives a fresh, empty canvas component.
    st.session_state.canvas_round = st.session_state.get("canvas_round", 0) + 1


def _input_changed() -> None:
    state.close_opened_digit()  # choosing how to give a digit leaves the one opened


def _back_to_drawing() -> None:
    state.close_opened_digit()
    st.session_state.input_mode = "Draw"
    _clear_canvas()  # a fresh canvas: the one left behind may still hold an old drawing


def input_ui(reference) -> Preprocessed | None:
    """The drawing, the uploaded picture, the gallery's digit or a digit handed over from
    elsewhere as a 28x28 image; None after a bad upload. `reference()` gives the model's
    readings of the gallery's digits."""
    mode = st.radio(
        "Input",
        INPUTS,
        horizontal=True,
        key="input_mode",
        persist_state="session",
        label_visibility="collapsed",
        on_change=_input_changed,
    )
    opened = state.opened_digit()
    from_gallery = (inside.opened_source() or "").startswith("sample-")
    if mode == GALLERY_CHOICE and (opened is None or from_gallery):
        return gallery_ui(reference().readings, opened)
    if opened is not None:
        return opened_ui(*opened)
    if mode == "Draw":
        st.space("small")  # room for the canvas's own toolbar, which floats above it
        result = st_canvas(
            stroke_width=20,
            stroke_color="#FFFFFF",
            background_color="#000000",
            height=CANVAS_SIZE,
            width=CANVAS_SIZE,
            drawing_mode="freedraw",
            update_streamlit=True,
            return_image_data=True,
            key=f"canvas-{st.session_state.get('canvas_round', 0)}",
        )
        st.button("Clear", icon=":material/ink_eraser:", on_click=_clear_canvas)
        if result.image_data is None:
            return Preprocessed(None, DRAW_PROMPT)
        return preprocess(result.image_data)

    upload = st.file_uploader(
        "Picture of a digit",
        type=["png", "jpg", "jpeg", "gif", "webp", "bmp"],  # load_image explains what it refuses
        key="upload",
        max_upload_size=10,
    )
    if upload is None:
        return Preprocessed(None, UPLOAD_PROMPT)
    try:
        picture = load_image(upload.getvalue())
        processed = preprocess(picture)
    except ImageError as error:
        st.error(str(error))
        return None
    except ValueError:
        st.error("That picture could not be read as a digit: try a PNG or JPEG of one digit.")
        return None
    st.image(picture, caption="Your picture", width=CANVAS_SIZE)
    if processed.is_blank:  # the preprocessing's own words speak of drawing with the mouse
        return Preprocessed(None, NO_DIGIT_IN_PICTURE)
    return processed


def opened_ui(image: np.ndarray, caption: str) -> Preprocessed:
    """A digit handed to the Playground (from the Training page or an address), read instead
    of the canvas until the visitor goes back to drawing."""
    st.image(inside.enlarged(image, 10), width=CANVAS_SIZE)
    st.caption(plain(caption))
    st.button("Back to drawing", icon=":material/draw:", on_click=_back_to_drawing)
    return Preprocessed(image.astype(np.float32) / 255.0, "")


def gallery_ui(readings: np.ndarray, opened) -> Preprocessed:
    """Digits from the embedded sample's validation part, a button under each: two of each
    digit, then up to ten that this model misreads."""
    by_digit, misread = inside.gallery(readings)
    picked = inside.opened_source()
    each, wrong = st.tabs(["Two of each digit", f"Misread by this model ({len(misread)})"])
    with each:
        st.caption("From the embedded sample's validation digits: press one to read it.")
        # larger text in presentation mode needs wider buttons for their digits to show
        _gallery_grid(by_digit, picked, columns=5 if show.presenting() else 10, factor=2)
    with wrong:
        if misread:
            columns = 3 if show.presenting() else 5
            _gallery_grid(misread, picked, columns=columns, factor=3, captions=True)
        else:
            st.caption("This model reads every one of the validation digits right.")
    if opened is None:
        return Preprocessed(None, GALLERY_PROMPT)
    st.caption(plain(opened[1]))
    st.button("Back to drawing", icon=":material/draw:", on_click=_back_to_drawing)
    return Preprocessed(opened[0].astype(np.float32) / 255.0, "")


def _gallery_grid(digits, picked: str | None, columns: int, factor: int, captions=False) -> None:
    for row in range(0, len(digits), columns):
        cells = st.columns(columns, gap="xsmall")
        for cell, digit in zip(cells, digits[row : row + columns], strict=False):
            with cell:
                st.image(
                    inside.enlarged(inside.gallery_image(digit.index), factor), width="stretch"
                )
                if digit.misread and captions:
                    st.caption(f"misread: the model says {digit.reading}")
                st.button(
                    str(digit.label),
                    key=f"gallery-{digit.index}",
                    on_click=inside.open_gallery_digit,
                    args=(digit,),
                    type="primary" if digit.address == picked else "secondary",
                    width="stretch",
                )


# -- views --------------------------------------------------------------------------------


STATE_VIEWS = {  # what the heatmap can show -> one plain sentence about it
    "hidden state h_t": "Each row is the network's memory after one step (step 1 at the top), "
    "one column per hidden unit: red for positive, blue for negative values.",
    "cell state c_t": "The LSTM's long-term memory, which the gates write to and erase; it can "
    "grow beyond -1 and 1.",
    "input gate": "How much of what this row brings is written into the memory: yellow lets it "
    "in, dark blue keeps it out.",
    "forget gate": "How much of the old memory each unit keeps at this step: yellow keeps it, "
    "dark blue wipes it.",
    "output gate": "How much of its memory each unit shows as its hidden state at this step.",
    "update gate": "How much each unit keeps its old value (yellow) instead of taking the new "
    "one made from this row (dark blue).",
    "reset gate": "How much of the old memory is used to make the new value: dark blue means "
    "this unit starts afresh.",
}
CELL_VIEWS = {
    "rnn": ("hidden state h_t",),
    "lstm": ("hidden state h_t", "cell state c_t", "input gate", "forget gate", "output gate"),
    "gru": ("hidden state h_t", "update gate", "reset gate"),
}


def state_views(cell: str) -> dict[str, str]:
    return {view: STATE_VIEWS[view] for view in CELL_VIEWS[cell]}


def prediction_view(trace, image: np.ndarray, reading_order: str) -> None:
    st.metric(
        "Prediction",
        str(trace.prediction),
        delta=f"{trace.confidence:.0%} sure",
        delta_color="off",
        delta_arrow="off",
    )
    if more_ink_than_a_digit(image):
        st.warning(
            "This holds more ink than any digit the network learned from: a scribble, or a "
            "digit so small that the brush fills it in (draw it larger). The network has no "
            'answer for "none of these": it must pick one of 0 to 9, so how sure it says it '
            "is means little here.",
            icon=":material/gesture:",
        )
    if not show.presenting():  # on a projector the step views need the room
        show.chart(figures.final_bars(trace.probabilities[-1]), key="final_bars")
    decided = decided_at(trace.probabilities)
    kind, at = figures.current_cell(decided, reading_order)
    st.caption(
        "After reading all 28 steps the network picks the digit with the tallest bar. "
        f"It settled on {trace.prediction} after step {decided} of 28 (which reads {kind} "
        f"{at}), and kept it to the end."
    )


def _slider_moved() -> None:
    st.session_state.reading_step = st.session_state.step_slider


def _play() -> None:
    st.session_state.update(reading_step=1, playing=True, play_started=True)


def _pause() -> None:
    st.session_state.playing = False


@dataclass
class Reading:
    """What the step-by-step views show for one digit and model, all computed before."""

    trace: Trace
    image: np.ndarray  # (28, 28) in [0, 1]
    config: ModelConfig
    importance: StepImportance  # what blanking each step does
    reference: inside.Reference  # the model's map of its memory
    address: dict  # the address's parameters other than the step and the view


def reading_view(reading: Reading) -> None:
    """Step control and the step-by-step views, in a fragment so a step redraws only them."""
    playing = st.session_state.get("playing", False)

    @st.fragment(run_every=PLAY_INTERVAL_S if playing else None)
    def steps():
        _reading(reading, polling=playing)

    steps()


def _reading(reading: Reading, polling: bool) -> None:
    # The step lives in `reading_step`, not in the slider: a timer tick that crossed a
    # slow run would otherwise send back an old slider value and stop the animation.
    trace, config = reading.trace, reading.config
    order = config.reading_order
    step = st.session_state.get("reading_step", figures.SEQ_LEN)
    playing = st.session_state.get("playing", False)
    if playing != polling:
        st.rerun()  # only a full run can start or drop the fragment's timer
    if playing and not st.session_state.pop("play_started", False):
        step = min(step + 1, figures.SEQ_LEN)
        st.session_state.reading_step = step
        playing = st.session_state.playing = step < figures.SEQ_LEN

    play, slider, options = st.columns([1, 4, 2], vertical_alignment="bottom")
    step_label = f"Step ({STEP_UNITS[order]} read)"
    with play:
        if playing:
            st.button("Pause", icon=":material/pause:", width="stretch", on_click=_pause)
        else:
            st.button("Play", icon=":material/play_arrow:", width="stretch", on_click=_play)
    with slider:
        if playing:
            st.progress(step / figures.SEQ_LEN, text=f"{step_label}: {step} of 28")
        else:
            st.session_state.step_slider = step
            st.slider(step_label, 1, figures.SEQ_LEN, key="step_slider", on_change=_slider_moved)
    with options:
        layer = 0
        if config.num_layers > 1:
            layer = st.radio(
                "Layer",
                range(config.num_layers),
                format_func=lambda i: str(i + 1),
                horizontal=True,
                key=f"layer-of-{config.num_layers}",  # another model may have fewer layers
            )
        views = state_views(config.cell)
        view = st.selectbox(
            "Show", list(views), key=f"state-view-{config.cell}", help="What the heatmap shows."
        )
    inside.write_address({**reading.address, "step": str(step), "view": inside.short_view(view)})

    top_left, top_right = st.columns(2, gap="medium")
    with top_left:
        rows_view(reading, step)
    with top_right:
        heatmap_view(trace, config, layer, view, views[view], step)
    bottom_left, bottom_right = st.columns(2, gap="medium")
    with bottom_left:
        path_view(reading, step)
    with bottom_right:
        fig = figures.probability_lines(trace.probabilities, step, order)
        show.chart(fig, key="probability_lines")
        st.caption(
            f"How likely each digit looks after every {STEP_UNITS[order][:-1]}: the network "
            "changes its mind as more of the digit comes in."
        )


def rows_view(reading: Reading, step: int) -> None:
    """The input with the step's row outlined, and beside it how much each row mattered."""
    order = reading.config.reading_order
    importance = reading.importance
    kind = figures.current_cell(1, order)[0]
    fig = inside_figures.rows_figure(
        reading.image,
        step,
        order,
        importance.predicted,
        importance.evidence_drop,
        importance.probability_drop,
        importance.answers,
    )
    # it grows in presentation mode like the heatmap beside it, so their rows stay level
    show.chart(fig, key="input_figure")
    where = "beside" if kind == "row" else "under"
    st.caption(
        f"The network gets the picture {HOW_IT_READS[order]}; the highlighted band is what "
        f"it reads at this step. The bars {where} it: blank out that {kind}, read the whole "
        f"digit again, and see how many times less sure the network is that it is a "
        f"{importance.predicted}. Long bars mark the {kind}s that carried the digit; a grey "
        f"bar to the left, a {kind} that made it doubt."
    )


def heatmap_view(trace, config, layer: int, view: str, sentence: str, step: int) -> None:
    if view == "hidden state h_t":
        states = trace.hidden[layer]
    elif view == "cell state c_t":
        states = trace.cell_state[layer]
    else:
        states = trace.gates[layer][view.removesuffix(" gate")]
    label = view if config.num_layers == 1 else f"{view}, layer {layer + 1}"
    gate = view.endswith(" gate")
    fig = figures.state_heatmap(states, step, label, gate, config.reading_order)
    show.chart(fig, key="state_heatmap")
    st.caption(sentence)


def path_view(reading: Reading, step: int) -> None:
    """The top layer's hidden state after each step on the model's own 2-D map."""
    hidden_map = reading.reference.hidden_map
    top = reading.trace.hidden[-1]  # (T, H)
    fig = inside_figures.path_figure(
        hidden_map.project(top),
        step,
        hidden_map.class_ends,
        reading.trace.probabilities,
        hidden_map.project(np.zeros(top.shape[1], dtype=np.float32)),
        reading.config.reading_order,
    )
    show.chart(fig, key="hidden_path")
    st.caption(
        f"Each dot is the memory after one step, its {top.shape[1]} numbers squeezed onto a "
        "flat map (the same map for every digit this model reads, made from 500 digits; it "
        f"keeps {reading.reference.hidden_map.explained:.0%} of how the memory varies). A dot's "
        "colour is the digit the network leans to then. The faint digits mark where the memory "
        "usually ends for each digit: a path that ends near the 7 is read as a 7."
    )


# -- the address --------------------------------------------------------------------------


def model_param(model_id: str, config: ModelConfig) -> str:
    if model_id.startswith("bundled-"):
        return f"bundled-{config.cell}"
    return "session" if model_id.startswith("session-") else "upload"


def digit_param(image: np.ndarray | None) -> str | None:
    if image is None:
        return None
    return inside.opened_source() or inside.encode_digit(image)


def restore_address() -> None:
    """Open what a bookmarked address asks for: reading order, model, digit, step and view.
    Anything it cannot use is named in one warning and left at its default."""
    params = {key: st.query_params[key] for key in inside.PARAMS if key in st.query_params}
    if not params:
        return
    cells = {f"bundled-{cell}": name for cell, name in CELL_NAMES.items()}
    address, problems = inside.read_address(params, list(STATE_VIEWS), cells)
    order = address.order or "rows"
    st.session_state[ORDER_KEY] = order
    cell = "gru"
    if address.model in ("session", "upload"):
        problems.append(
            f"model={address.model} (a model from another visit is not kept: "
            "the bundled GRU reads instead)"
        )
    elif address.model is not None:
        cell = address.model.removeprefix("bundled-")
        offered = bundled_choices(order)
        if f"Bundled {CELL_NAMES[cell]}" not in offered:
            problems.append(
                f"model={address.model} (only a GRU is bundled that reads "
                f"{inside.READING_ORDERS[order].lower()})"
            )
            cell = "gru"
    st.session_state.model_choice = f"Bundled {CELL_NAMES[cell]}"
    if address.view is not None:
        if address.view in CELL_VIEWS[cell]:
            st.session_state[f"state-view-{cell}"] = address.view
        else:
            problems.append(f"view={params['view'][:20]} (the {CELL_NAMES[cell]} has no such view)")
    if address.digit is not None:
        inside.open_address_digit(*address.digit)
        if address.digit[2].startswith("sample-"):
            st.session_state.input_mode = GALLERY_CHOICE
        if address.step is not None:
            inside.set_pending_step(address.step)
    inside.address_problems_warning(problems)


# -- page ---------------------------------------------------------------------------------

show.header(
    "Playground",
    "Draw a digit and watch a recurrent network read it **one row per step**: 28 steps, "
    "28 pixels each, with a memory carried from one step to the next.",
)
# Always drawn, so a warning that comes and goes cannot move the canvas below.
address_notes = st.container()
if inside.first_visit():
    restore_address()
(model_id, model, info), notes = model_ui()
with notes:
    training_status()


def model_reference() -> inside.Reference:
    return inside.reference(model_id, model)


order = model.config.reading_order
left, right = st.columns([2, 3], gap="large")
with left:
    processed = input_ui(model_reference)
with right:
    trace = image = None
    if processed is not None and processed.is_blank:
        st.info(processed.message, icon=":material/draw:")
    elif processed is not None:
        image = processed.image
        trace, is_new = state.trace_once(model_id, model, image)
        if is_new:  # a new drawing starts fully read, or at the step its address names
            step = inside.take_pending_step() or figures.SEQ_LEN
            st.session_state.update(reading_step=step, playing=False)
        prediction_view(trace, image, order)

address = {
    "order": order,
    "model": model_param(model_id, model.config),
    "digit": digit_param(image),
}
if trace is not None:
    st.divider()
    reading = Reading(
        trace,
        image,
        model.config,
        inside.importance_once(model_id, model, image),
        model_reference(),
        address,
    )
    reading_view(reading)
else:
    inside.write_address(address)
warning = inside.address_warning()
if warning:
    address_notes.warning(warning, icon=":material/link_off:")

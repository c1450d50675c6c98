"""Playground: draw a digit and watch a recurrent network read it, one row per step."""

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from app_pages import figures, show, state
from app_pages.text import plain, uploaded_label
from rnn_model import BUNDLED_CELLS, ModelFileError
from rnn_model.analysis import decided_at
from rnn_model.preprocess import ImageError, Preprocessed, load_image, preprocess

CELL_NAMES = {"gru": "GRU", "lstm": "LSTM", "rnn": "vanilla RNN"}
SESSION_CHOICE = "Trained in this session"
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


def model_ui():
    """The model chooser; returns ((model id, model, info), a container for notes below it),
    or stops the page with a message."""
    choices = {}
    try:
        for cell in BUNDLED_CELLS:
            model, info = state.bundled_model(cell)
            choices[f"Bundled {CELL_NAMES[cell]}"] = (f"bundled-{cell}", model, info)
    except ModelFileError as error:
        st.error(f"A bundled model could not be loaded: {error} Reinstall the app's assets.")
        st.stop()
    own = state.session_model()
    if own is not None:
        choices[SESSION_CHOICE] = own
    uploaded = state.uploaded_model()
    if uploaded is not None:
        choices[uploaded_label(uploaded[0])] = uploaded[1]

    left, right = st.columns([1, 2], vertical_alignment="bottom")
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


def input_ui() -> Preprocessed | None:
    """The drawing or the uploaded picture as a 28x28 image; None after a bad upload."""
    mode = st.radio(
        "Input",
        ["Draw", "Upload a picture"],
        horizontal=True,
        key="input_mode",
        persist_state="session",
        label_visibility="collapsed",
    )
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


# -- views --------------------------------------------------------------------------------


STATE_VIEWS = {  # what the heatmap can show -> one plain sentence about it
    "hidden state h_t": "Each row is the network's memory after reading that row: one column "
    "per unit, red for positive, blue for negative values.",
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


def prediction_view(trace) -> None:
    st.metric(
        "Prediction",
        str(trace.prediction),
        delta=f"{trace.confidence:.0%} sure",
        delta_color="off",
        delta_arrow="off",
    )
    show.chart(figures.final_bars(trace.probabilities[-1]), key="final_bars")
    decided = decided_at(trace.probabilities)
    st.caption(
        "After reading all 28 steps the network picks the digit with the tallest bar. "
        f"It settled on {trace.prediction} after step {decided} of 28, and kept it to the end."
    )


def _slider_moved() -> None:
    st.session_state.reading_step = st.session_state.step_slider


def _play() -> None:
    st.session_state.update(reading_step=1, playing=True, play_started=True)


def _pause() -> None:
    st.session_state.playing = False


def reading_view(trace, image: np.ndarray, config) -> None:
    """Step control and the step-by-step views, in a fragment so a step redraws only them."""
    playing = st.session_state.get("playing", False)

    @st.fragment(run_every=PLAY_INTERVAL_S if playing else None)
    def steps():
        _reading(trace, image, config, polling=playing)

    steps()


def _reading(trace, image, config, polling: bool) -> None:
    # The step lives in `reading_step`, not in the slider: a timer tick that crossed a
    # slow run would otherwise send back an old slider value and stop the animation.
    step = st.session_state.get("reading_step", figures.SEQ_LEN)
    playing = st.session_state.get("playing", False)
    if playing != polling:
        st.rerun()  # only a full run can start or drop the fragment's timer
    if playing and not st.session_state.pop("play_started", False):
        step = min(step + 1, figures.SEQ_LEN)
        st.session_state.reading_step = step
        playing = st.session_state.playing = step < figures.SEQ_LEN

    play, slider, options = st.columns([1, 4, 2], vertical_alignment="bottom")
    with play:
        if playing:
            st.button("Pause", icon=":material/pause:", width="stretch", on_click=_pause)
        else:
            st.button("Play", icon=":material/play_arrow:", width="stretch", on_click=_play)
    with slider:
        if playing:
            st.progress(step / figures.SEQ_LEN, text=f"Step (rows read): {step} of 28")
        else:
            st.session_state.step_slider = step
            st.slider(
                "Step (rows read)", 1, figures.SEQ_LEN, key="step_slider", on_change=_slider_moved
            )
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

    left, middle, right = st.columns(3, gap="medium")
    with left:
        show.chart(
            figures.input_figure(image, step, config.reading_order),
            key="input_figure",
        )
        st.caption(
            f"The network gets the picture {HOW_IT_READS[config.reading_order]}; "
            "the highlighted band is what it reads at this step."
        )
    with middle:
        if view == "hidden state h_t":
            states = trace.hidden[layer]
        elif view == "cell state c_t":
            states = trace.cell_state[layer]
        else:
            states = trace.gates[layer][view.removesuffix(" gate")]
        label = view if config.num_layers == 1 else f"{view}, layer {layer + 1}"
        gate = view.endswith(" gate")
        show.chart(
            figures.state_heatmap(states, step, label, gate=gate),
            key="state_heatmap",
        )
        st.caption(views[view])
    with right:
        show.chart(
            figures.probability_lines(trace.probabilities, step),
            key="probability_lines",
        )
        st.caption(
            "How likely each digit looks after every row: the network changes its mind "
            "as more of the digit comes in."
        )


# -- page ---------------------------------------------------------------------------------

show.header(
    "Playground",
    "Draw a digit and watch a recurrent network read it **one row per step**: 28 steps, "
    "28 pixels each, with a memory carried from one step to the next.",
)
(model_id, model, info), notes = model_ui()
with notes:
    training_status()

left, right = st.columns([2, 3], gap="large")
with left:
    processed = input_ui()
with right:
    trace = image = None
    if processed is not None and processed.is_blank:
        st.info(processed.message, icon=":material/draw:")
    elif processed is not None:
        image = processed.image
        trace, is_new = state.trace_once(model_id, model, image)
        if is_new:  # a new drawing starts fully read
            st.session_state.update(reading_step=figures.SEQ_LEN, playing=False)
        prediction_view(trace)

if trace is not None:
    st.divider()
    reading_view(trace, image, model.config)

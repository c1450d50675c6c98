"""Training: train a recurrent network on digits in this browser session and watch it learn."""

import math

import streamlit as st

from app_pages import compare_ui, data_ui, diagnosis_ui, figures, kaggle_ui, replay_ui, show, state
from rnn_model import ModelConfig
from rnn_model.config import MAX_HIDDEN_SIZE, MAX_LAYERS
from training.data import DataError
from training.engine import MAX_BATCH_SIZE, MAX_EPOCHS, TrainConfig
from training.limits import (
    KEPT_MODELS_MB,
    estimated_memory_mb,
    parameter_count,
    run_budget_mb,
)

CELLS = {  # label -> (cell, nonlinearity)
    "Vanilla RNN (tanh)": ("rnn", "tanh"),
    "Vanilla RNN (ReLU)": ("rnn", "relu"),
    "LSTM": ("lstm", "tanh"),
    "GRU": ("gru", "tanh"),
}
CELL_LABELS = {value: label for label, value in CELLS.items()}
READING_ORDERS = {  # reading order -> its label
    "rows": "Rows, top to bottom",
    "rows_reversed": "Rows, bottom to top",
    "columns": "Columns, left to right",
}
REFRESH_S = 1.0  # redraw period while a run goes: each redraw costs the server a rerun
RECORDS_PER_RUN = 200  # about this many progress records, whatever the run's length
STOP_WAIT_S = 3.0  # how long Stop waits for the current batch, so the result shows at once

state.keep_alive()


# -- settings -----------------------------------------------------------------------------


def settings_ui(disabled: bool):
    """The settings in the sidebar; returns (ModelConfig, TrainConfig, digits, their label)
    or a message."""
    keep = {"persist_state": "session", "disabled": disabled}  # settings survive page visits
    with st.sidebar:
        st.header("Settings")
        choice = data_ui.data_ui(**keep)  # what it learns from comes first, with its upload
        cell_label = st.selectbox(
            "Cell",
            list(CELLS),
            index=3,
            key="cell",
            help="How each step mixes the new row into the memory. "
            "LSTM and GRU have gates that decide what to keep.",
            **keep,
        )
        hidden_size = st.number_input(
            "Hidden size",
            1,
            MAX_HIDDEN_SIZE,
            128,
            key="hidden_size",
            help=f"Units in the memory h_t: 1 to {MAX_HIDDEN_SIZE}.",
            **keep,
        )
        num_layers = st.number_input(
            "Layers",
            1,
            MAX_LAYERS,
            1,
            key="num_layers",
            help=f"Recurrent layers stacked on each other: 1 to {MAX_LAYERS}.",
            **keep,
        )
        reading_order = st.selectbox(
            "Reading order",
            list(READING_ORDERS),
            format_func=READING_ORDERS.get,
            key="reading_order",
            help="How the digit becomes 28 steps: one row at a time from the top (as MNIST "
            "RNNs usually read), from the bottom, or one column at a time from the left.",
            **keep,
        )
        optimizer = st.selectbox("Optimizer", ["Adam", "SGD"], key="optimizer", **keep)
        learning_rate = st.number_input(
            "Learning rate",
            0.0001,
            10.0,
            0.002,
            step=0.0005,
            format="%.4f",
            key="learning_rate",
            help="Size of each step of the optimizer: 0.0001 to 10. "
            "Adam likes about 0.002, SGD about 0.05; too large and training diverges.",
            **keep,
        )
        batch_size = st.number_input(
            "Batch size",
            1,
            MAX_BATCH_SIZE,
            64,
            key="batch_size",
            help=f"Digits per gradient step: 1 to {MAX_BATCH_SIZE}.",
            **keep,
        )
        epochs = st.number_input(
            "Epochs",
            1,
            MAX_EPOCHS,
            5,
            key="epochs",
            help=f"Passes over the training digits: 1 to {MAX_EPOCHS}.",
            **keep,
        )
        seed = st.number_input(
            "Seed",
            0,
            2**31 - 1,
            0,
            key="seed",
            help="The same seed and settings give the same run.",
            **keep,
        )
        augment = st.toggle(
            "Augment",
            key="augment",
            help="Rotate, scale and shift each training digit a little at random, "
            "so the model copes better with drawings. Slower to learn.",
            **keep,
        )

    if isinstance(choice, data_ui.NotReady):
        return choice  # no digits yet: data_ui.messages() says how to get them
    cell, nonlinearity = CELLS[cell_label]
    try:
        model_config = ModelConfig(
            cell=cell,
            nonlinearity=nonlinearity,
            hidden_size=int(hidden_size),
            num_layers=int(num_layers),
            reading_order=reading_order,
        )
        steps = math.ceil(len(choice.data.train) / int(batch_size)) * int(epochs)
        train_config = TrainConfig(
            optimizer=optimizer.lower(),
            learning_rate=float(learning_rate),
            batch_size=int(batch_size),
            epochs=int(epochs),
            seed=int(seed),
            augment=augment,
            record_every=max(1, steps // RECORDS_PER_RUN),
        )
    except (DataError, ValueError) as error:
        return f"These settings cannot be used: {error}. Change them in the sidebar."
    # Each setting is bounded on its own, but together they can ask for gigabytes: refuse
    # a run before it starts rather than have the server killed halfway through.
    memory = estimated_memory_mb(model_config, train_config.batch_size)
    budget = run_budget_mb(state.run_queue().limit)
    st.sidebar.caption(
        f"Limits on this server: hidden size up to {MAX_HIDDEN_SIZE}, {MAX_LAYERS} layers, "
        f"batch {MAX_BATCH_SIZE}, {MAX_EPOCHS} epochs, and {budget:,.0f} MB of memory per run. "
        f"These settings need about {memory:,.0f} MB."
    )
    if memory > budget:
        return (
            f"This network and batch size would need about {memory:,.0f} MB while training, "
            f"more than the {budget:,.0f} MB this server allows a run. Choose a smaller "
            "hidden size, fewer layers or a smaller batch."
        )
    weights = 4 * parameter_count(model_config) / 2**20
    if weights > KEPT_MODELS_MB:
        return (
            f"This network has {weights:,.0f} MB of weights, more than the {KEPT_MODELS_MB} MB "
            "this server keeps for trained models. Choose a smaller hidden size or fewer layers."
        )
    return model_config, train_config, choice.data, choice.label


def describe_run(job) -> str:
    m, t = job.model_config, job.train_config
    cell = CELL_LABELS.get((m.cell, m.nonlinearity), m.cell.upper())
    layers = "1 layer" if m.num_layers == 1 else f"{m.num_layers} layers"
    optimizer = "Adam" if t.optimizer == "adam" else "SGD"
    epochs = "1 epoch" if t.epochs == 1 else f"{t.epochs} epochs"
    augmented = ", augmented" if t.augment else ""
    order = "" if m.reading_order == "rows" else f", {READING_ORDERS[m.reading_order].lower()}"
    return (
        f"This run: {cell}, {m.hidden_size} hidden units, {layers}{order} · {optimizer}, "
        "learning rate "
        f"{t.learning_rate:g}, batch {t.batch_size}, {epochs}, seed {t.seed}"
        f"{augmented} · {job.data_label}"
    )


# -- views --------------------------------------------------------------------------------


def data_preview(choice: data_ui.DataChoice | None) -> None:
    if choice is None:
        return  # no digits yet: data_ui.messages() said how to get them
    data = choice.data
    train, val = data.train, data.val
    st.subheader("The digits it will learn from")
    st.markdown(
        f"**{choice.label}**: {len(train):,} to train on, checked on {data.description}. "
        "Each is 28 x 28 pixels, read one row per step."
    )
    labels = train.labels.numpy()
    first_two = [(labels == d).nonzero()[0][:2] for d in range(10)]  # fewer if a digit is rare
    picks = [int(index[k]) for k in range(2) for index in first_two if k < len(index)]
    counts = [a + b for a, b in zip(train.class_counts(), val.class_counts(), strict=True)]
    left, right = st.columns([3, 2], gap="large")
    with left:
        show.chart(
            figures.digit_grid_figure(train.images[picks].numpy(), labels[picks]), key="digit_grid"
        )
    with right:
        show.chart(figures.class_counts_figure(counts), key="counts")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"


def queue_view(view) -> None:
    limit = state.run_queue().limit
    at_once = "one run at a time" if limit == 1 else f"{limit} runs at once"
    st.info(
        f"{view.message} This server trains {at_once}, first come first served: yours starts "
        "by itself, and its charts grow here. Keep this tab open.",
        icon=":material/hourglass_top:",
    )


def progress_view(job, view) -> None:
    last = view.last
    if last is None:
        st.progress(0.0, text="Starting…")
        return
    text = (
        f"Step {last.step:,} of {last.total_steps:,} · epoch {last.epoch:.1f} of "
        f"{job.train_config.epochs}"
    )
    if not view.done and last.step > 0 and last.elapsed_s > 0:
        left = (last.total_steps - last.step) * last.elapsed_s / last.step
        text += f" · about {_duration(left)} left"
    elif view.done:
        text += f" · took {_duration(last.elapsed_s)}"
    st.progress(min(last.step / max(last.total_steps, 1), 1.0), text=text)


def numbers_view(view, series) -> None:
    def last(values):
        return values[-1] if len(values) else None

    loss, train_acc = last(series["loss_trend"]), last(series["train_accuracy_trend"])
    val_acc = last(series["val_accuracy"])
    rate = view.last.samples_per_second if view.last is not None else None
    recent = "Averaged over the last records, like the bold line in the chart."
    cols = st.columns(4)
    cols[0].metric("Loss", "–" if loss is None else f"{loss:.3f}", help=recent)
    cols[1].metric(
        "Training accuracy", "–" if train_acc is None else f"{train_acc:.1%}", help=recent
    )
    cols[2].metric("Validation accuracy", "–" if val_acc is None else f"{val_acc:.1%}")
    cols[3].metric("Digits per second", "–" if rate is None else f"{rate:,.0f}")


def charts_view(job, series) -> None:
    show.training_charts(series, job.train_config.epochs)
    st.caption(
        f"Trained on {job.data_label}; validation accuracy measured on {job.data.description}."
    )


def result_view(job, view) -> None:
    last = view.last
    val = last.val_accuracy if last is not None else None
    score = f" {val:.1%} of the validation digits are read right." if val is not None else ""
    if view.state == "finished":
        st.success(f"Training finished.{score}", icon=":material/check_circle:")
    elif view.state == "stopped" and job.trained_model() is None:
        st.info(view.message)  # stopped and let go while its browser was away
    elif view.state == "stopped":
        st.info(f"Stopped before the end; the model so far is kept.{score}")
    elif view.state == "cancelled":
        st.info("Cancelled before it started. Start it again whenever you like.")
    elif view.state == "diverged":
        st.warning(view.message)
    else:
        st.error(f"{view.message} Change the settings and start again.")

    state.session_model()  # counts the finished model on the server's shelf
    if job.trained_model() is None:
        if view.state != "stopped" and view.message == state.LET_GO:
            st.info(view.message)
        return
    m = job.model_config
    left, right = st.columns([1, 2], vertical_alignment="center")
    left.download_button(
        "Download the model",
        data=job.model_file(),
        file_name=f"rnn-digit-lab-{m.cell}-{m.hidden_size}.safetensors",
        mime="application/octet-stream",
        icon=":material/download:",
    )
    with left:
        replay_ui.recording_download(job, key="result_save")  # to replay this run later
    with right:
        st.page_link(
            "app_pages/playground.py",
            label="Try it in the Playground: choose “Trained in this session”.",
            icon=":material/draw:",
        )
    st.caption(
        "The model lives in this browser tab: reloading the page or typing an address starts "
        "afresh, so download it to keep it. The page's own links keep it."
    )
    diagnosis_ui.after_training(job)


def run_view(job, polling: bool) -> None:
    """Progress, numbers and charts, redrawn on a timer only while the run goes or waits."""
    queued = job.view().queued  # as the buttons above were drawn

    @st.fragment(run_every=REFRESH_S if polling else None)
    def live():
        state.keep_alive()  # the timer's runs show the browser is still here
        view = job.view()
        if polling and (view.done or view.queued != queued):
            st.rerun()  # the whole page: Start comes back, or Cancel becomes Stop
        st.caption(describe_run(job))
        if view.queued:
            queue_view(view)
            return
        if view.done and not view.records:  # cancelled, or failed before its first step
            result_view(job, view)
            return
        progress_view(job, view)
        series = figures.training_series(view.records)
        numbers_view(view, series)
        charts_view(job, series)
        diagnosis_ui.during_training(job, view)
        if view.done:
            result_view(job, view)

    live()


def train_section(job, running: bool, settings) -> None:
    """Start and stop this tab's run, and watch it."""
    with st.container(horizontal=True):
        start = st.button(
            "Start training",
            type="primary",
            icon=":material/play_arrow:",
            disabled=running or isinstance(settings, str),
            help="Starts a new run with the settings in the sidebar. It replaces the model of the "
            "last run: download that first to keep it.",
        )
        queued = job is not None and job.view().queued
        stop = st.button(  # a key, so a click counts even if the run starts as it is made
            "Cancel" if queued else "Stop",
            icon=":material/close:" if queued else ":material/stop:",
            key="stop",
            disabled=not running,
        )

    if isinstance(settings, str) and not isinstance(settings, data_ui.NotReady):
        st.error(settings)
    data_ui.messages()  # what the data choice needs: a download, an upload, a better file
    if stop and job is not None:
        job.stop()
        job.wait(STOP_WAIT_S)
        st.rerun()
    if start and not isinstance(settings, str):
        try:
            state.start_job(*settings)
        except (state.BusyError, DataError, ValueError) as error:
            st.warning(str(error))
        else:
            st.rerun()  # draws Start disabled and starts the timer

    if job is None:
        data_preview(data_ui.chosen())
    else:
        run_view(job, polling=running)
    kaggle_ui.submission_ui()


# -- page ---------------------------------------------------------------------------------

show.header(
    "Training",
    "Train your own recurrent network on handwritten digits and watch it learn. "
    "The run belongs to this browser tab and goes on while you visit the Playground.",
)

SECTIONS = ("Train a model", "Compare cells", "Replay a recorded run")

job = state.current_job()
running = state.is_running(job)
settings = settings_ui(disabled=running or state.comparison_running())
section = st.segmented_control(
    "Section",
    SECTIONS,
    default=SECTIONS[0],
    key="training_section",
    persist_state="session",
    label_visibility="collapsed",
)
if section == SECTIONS[1]:
    compare_ui.compare_section(settings)
elif section == SECTIONS[2]:
    replay_ui.replay_section()
else:
    train_section(job, running, settings)

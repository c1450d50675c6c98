"""Training page: what a run shows beyond its curves. While it trains, how much gradient reaches
each step; once it has a model, its confusion matrix and the digits it reads wrong, each of
which opens in the Playground."""

import numpy as np
import streamlit as st

from app_pages import diagnosis_figures, show, state
from training.diagnosis import Diagnosis, diagnose, in_cell, misclassified

DIAGNOSIS_KEY = "diagnosis_memo"  # (id of the job, its Diagnosis): computed once per run
CELL_KEY = "confusion_cell"  # (true digit, digit read) of the cell chosen in the matrix
CHART_KEY = "confusion"
SESSION_CHOICE = "Trained in this session"  # the Playground's name for this session's model
PLAYGROUND = "app_pages/playground.py"
PER_ROW = 6  # digits side by side in a gallery
SHOWN = 24  # digits shown at most in a gallery
PRESENT_SHOWN = 6  # in presentation mode, where each is larger


def during_training(job, view) -> None:
    """Views shown under the charts while a run goes and after it ends."""
    gradients_view(job, view.records)


def after_training(job) -> None:
    """Views shown once a run has a trained model."""
    model = job.trained_model()
    if model is None or len(job.data.val) == 0:
        return
    diagnosis = _diagnosis(job, model)
    st.subheader("What it gets right and wrong")
    confusion_view(diagnosis)
    chosen_cell_view(job, diagnosis)
    mistakes_view(job, diagnosis)


# -- gradients per step -------------------------------------------------------------------


def gradients_view(job, records) -> None:
    epochs, sizes = diagnosis_figures.gradient_series(records)
    if len(epochs) == 0:
        return  # a recording made without gradients, or no record yet
    m = job.model_config
    fig = diagnosis_figures.gradient_heatmap(
        epochs, sizes, job.train_config.epochs, m.reading_order
    )
    show.chart(fig, key="step_gradients")
    layer = " of the first layer" if m.num_layers > 1 else ""
    st.caption(
        "Learning works backwards from the answer given after the last step: the gradient is "
        "the signal telling each weight how to change. Each row is one step of reading (step 1 "
        f"at the top) and each column a moment of training; the colour is how much{layer} of "
        "that signal still arrives at the step, dark meaning almost none. A vanilla RNN loses "
        "it step after step, so it can hardly learn from what it read first; the gates of an "
        "LSTM or GRU learn to pass it on."
    )
    st.caption(_ratio_sentence(sizes[-1]))


def _ratio_sentence(latest: np.ndarray) -> str:
    first, last = float(latest[0]), float(latest[-1])
    if not last > 0:
        return "Right now no gradient reaches the last step."
    ratio = first / last
    if ratio >= 0.5:
        return f"Right now step 1 gets {ratio:.0%} of the gradient that the last step gets."
    times = float(f"{1 / max(ratio, 1e-30):.1g}")  # one significant digit: 4,173,146 -> 4 million
    return f"Right now step 1 gets about 1/{times:,.0f} of the gradient that the last step gets."


# -- confusion matrix ---------------------------------------------------------------------


def _diagnosis(job, model) -> Diagnosis:
    """The model's answers on the validation digits, worked out once per run."""
    memo = st.session_state.get(DIAGNOSIS_KEY)
    if memo is not None and memo[0] == id(job):
        return memo[1]
    with st.spinner("Reading every validation digit…"):
        result = diagnose(model, job.data.val)
    st.session_state[DIAGNOSIS_KEY] = (id(job), result)
    st.session_state.pop(CELL_KEY, None)  # a cell of the last run's matrix means nothing now
    return result


def _cell_clicked() -> None:
    event = st.session_state.get(CHART_KEY)
    points = event["selection"]["points"] if event is not None else []
    st.session_state[CELL_KEY] = diagnosis_figures.clicked_cell(points)


def confusion_view(diagnosis: Diagnosis) -> None:
    chosen = st.session_state.get(CELL_KEY)
    left, right = st.columns([3, 2], gap="large")
    with left:
        show.chart(
            diagnosis_figures.confusion_figure(diagnosis.matrix, chosen),
            key=CHART_KEY,
            on_select=_cell_clicked,
            selection_mode="points",
        )
    with right:
        total, right_count = int(diagnosis.matrix.sum()), int(np.trace(diagnosis.matrix))
        st.metric("Validation digits read right", f"{right_count:,} of {total:,}")
        st.caption(
            "Each row is a true digit, each column the digit the network read. The blue "
            "diagonal counts the digits read right; an orange cell counts one kind of mistake, "
            "such as a 4 read as a 9. Click a cell to see its digits."
        )


def chosen_cell_view(job, diagnosis: Diagnosis) -> None:
    chosen = st.session_state.get(CELL_KEY)
    if chosen is None:
        return
    true, read_as = chosen
    index = in_cell(diagnosis, true, read_as)
    if true == read_as:
        title = f"Digits {true} read right: {len(index):,}"
    else:
        title = f"Digits {true} read as {read_as}: {len(index):,}"
    st.markdown(f"**{title}**")
    if len(index) == 0:
        st.info(f"No {true} of the validation digits was read as {read_as}.")
        return
    gallery(job, diagnosis, index, "cell")


# -- misclassified digits -----------------------------------------------------------------


def mistakes_view(job, diagnosis: Diagnosis) -> None:
    wrong = misclassified(diagnosis)
    st.markdown(f"**Digits it read wrong: {len(wrong):,} of {len(diagnosis.labels):,}**")
    if len(wrong) == 0:
        st.success("It reads every validation digit right.")
        return
    gallery(job, diagnosis, wrong, "wrong")
    st.caption(
        "The mistakes it was surest about come first. Some are badly written; others show "
        "what the network has not learned yet. Open one in the Playground to watch it being "
        "read step by step."
    )


def gallery(job, diagnosis: Diagnosis, index: np.ndarray, key: str) -> None:
    """Digits side by side with their true and read labels, each with a button that opens
    it in the Playground."""
    limit = PRESENT_SHOWN if show.presenting() else SHOWN
    shown = index[:limit]
    images = job.data.val.images
    for start in range(0, len(shown), PER_ROW):
        columns = st.columns(PER_ROW)
        for column, i in zip(columns, shown[start : start + PER_ROW], strict=False):
            with column:
                _digit_card(images[int(i)].numpy(), diagnosis, int(i), key)
    if len(index) > limit:
        st.caption(f"The first {limit} of {len(index):,}.")


def _digit_card(image: np.ndarray, diagnosis: Diagnosis, i: int, key: str) -> None:
    true, read_as = int(diagnosis.labels[i]), int(diagnosis.predictions[i])
    sure = float(diagnosis.confidence[i])
    st.image(diagnosis_figures.enlarged_digit(image, 4), width=112 if show.presenting() else 84)
    st.markdown(f"true **{true}**, read as **{read_as}**")
    if st.button(
        "Open",
        key=f"open-{key}-{i}",
        icon=":material/draw:",
        help=f"It was {sure:.0%} sure. Opens this digit in the Playground, read by the model "
        "trained here.",
    ):
        _open_in_playground(image, f"Validation digit {i}: true {true}, read as {read_as}")


def _open_in_playground(image: np.ndarray, caption: str) -> None:
    state.open_in_playground(image, caption)
    st.session_state["model_choice"] = SESSION_CHOICE
    st.switch_page(PLAYGROUND)

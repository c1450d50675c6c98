"""Kaggle submission, at the bottom of the Training page: the Digit Recognizer's test.csv in,
the submission.csv the competition asks for out, predicted by a bundled model or the model
trained in this session, or a model file uploaded on the Playground.

The parsed test digits and the last submission are kept per session, one of each, so a rerun
reads nothing again; predicting 28,000 digits takes a few seconds and happens on a click.
"""

import hashlib
from dataclasses import dataclass

import streamlit as st
import torch

from app_pages import figures, show, state
from rnn_model import BUNDLED_CELLS, ModelFileError
from training.data import DataError
from training.engine import predict
from training.kaggle import format_submission, load_kaggle_test

CELL_NAMES = {"gru": "GRU", "lstm": "LSTM", "rnn": "vanilla RNN"}
SESSION_CHOICE = "Trained in this session"
BATCH = 1000  # digits per forward pass; the progress bar moves after each
UPLOAD_KEY = "kaggle_test"
MODEL_KEY = "submission_model"
TEST_KEY = "kaggle_test_data"  # KaggleTest of the upload read last
RESULT_KEY = "kaggle_submission"  # Submission of that file by one model


@dataclass(frozen=True)
class KaggleTest:
    file_id: str  # the upload it was read from
    digest: str  # of its bytes
    images: torch.Tensor | None  # (N, 28, 28) uint8; None when the file cannot be used
    error: str = ""


@dataclass(frozen=True)
class Submission:
    key: tuple[str, str]  # (digest of test.csv, model id)
    model_name: str
    csv: str
    counts: list[int]  # digits predicted as 0, 1, ..., 9


def submission_ui() -> None:
    with st.expander("Kaggle submission: predict test.csv", icon=":material/upload_file:"):
        st.markdown(
            "Upload the Digit Recognizer's **test.csv** and choose a model: you get the "
            "**submission.csv** Kaggle asks for, one predicted digit per image."
        )
        left, right = st.columns(2, gap="large")
        with left:
            upload = st.file_uploader(
                "Kaggle's test.csv, or its zip", type=["csv", "zip"], key=UPLOAD_KEY
            )
        with right:
            chosen = model_ui()
        if upload is None or chosen is None:
            return
        test = read_test(upload)
        if test.error:
            st.error(test.error)
            return

        model_name, model_id, model = chosen
        key = (test.digest, model_id)
        result = st.session_state.get(RESULT_KEY)
        if result is None or result.key != key:
            slot = st.empty()  # the button goes once its work is done
            label = f"Predict {len(test.images):,} digits"
            if not slot.button(label, type="primary", icon=":material/bolt:"):
                return
            result = make_submission(key, model_name, model, test.images)
            st.session_state[RESULT_KEY] = result  # the last one only
            slot.empty()
        submission_view(result)


def model_ui() -> tuple[str, str, torch.nn.Module] | None:
    """The model chooser; returns (name, model id, model), or None when there is none."""
    choices = {}
    for cell in BUNDLED_CELLS:
        try:
            model, _ = state.bundled_model(cell)
        except ModelFileError as error:
            st.error(f"The bundled {CELL_NAMES[cell]} could not be loaded: {error}")
            continue
        choices[f"Bundled {CELL_NAMES[cell]}"] = (f"bundled-{cell}", model)
    own = state.session_model()
    if own is not None:
        choices[SESSION_CHOICE] = own[:2]
    uploaded = state.uploaded_model()  # a model file uploaded on the Playground
    if uploaded is not None:
        file_name, (model_id, model, _) = uploaded
        choices[f"Uploaded: {file_name}"] = (model_id, model)
    if not choices:
        return None
    name = st.selectbox(
        "Model",
        list(choices),
        key=MODEL_KEY,
        help="A model you train on this page joins the list when its run ends, and a model "
        "file you upload on the Playground does too.",
    )
    return (name, *choices[name])


def read_test(upload) -> KaggleTest:
    """The upload's digits, read once per upload; one file is kept per session."""
    test = st.session_state.get(TEST_KEY)
    if test is not None and test.file_id == upload.file_id:
        return test

    content = upload.getvalue()
    digest = hashlib.blake2b(content, digest_size=16).hexdigest()
    try:
        with st.spinner(f"Reading {upload.name}…"):
            images = load_kaggle_test(content, name=upload.name)
    except DataError as error:
        test = KaggleTest(upload.file_id, digest, None, str(error))
    else:
        test = KaggleTest(upload.file_id, digest, images)
    st.session_state[TEST_KEY] = test
    return test


def make_submission(key: tuple[str, str], model_name: str, model, images) -> Submission:
    bar = st.progress(0.0, text="Reading the digits…")
    parts = []
    for start in range(0, len(images), BATCH):
        parts.append(predict(model, images[start : start + BATCH]))
        done = min(start + BATCH, len(images))
        bar.progress(done / len(images), text=f"{done:,} of {len(images):,} digits read")
    bar.empty()
    predictions = torch.cat(parts)  # (N,)
    counts = torch.bincount(predictions, minlength=10).tolist()
    return Submission(key, model_name, format_submission(predictions), counts)


def submission_view(result: Submission) -> None:
    st.download_button(
        "Download submission.csv",
        data=result.csv,
        file_name="submission.csv",
        mime="text/csv",
        icon=":material/download:",
        type="primary",
    )
    chart, _ = st.columns(2, gap="large")  # ten short bars need no more than half the width
    with chart:
        show.chart(
            figures.class_counts_figure(result.counts, title="Predicted digits"),
            key="submission_counts",
        )
    chart.caption(
        f"{result.model_name}: how many of the {sum(result.counts):,} test digits it read as "
        "each digit."
    )

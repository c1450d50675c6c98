"""The Training page's data: which digits a run learns from, and what each choice needs.

Three choices: the embedded sample; full MNIST, downloaded once per server into its cache
folder; and a Kaggle Digit Recognizer train.csv that this browser session uploads.

The download runs in a background thread, one per server, rather than in the script: a
script run is stopped by the next click or page switch, which would cancel the download
halfway, and two visitors asking at once would fetch the files twice. The sidebar watches
it with a fragment on a timer, as the page watches a training run.

Data problems are kept as messages for the main area (`messages()`), where long sentences
read well, and the sidebar keeps only the controls.
"""

import hashlib
from dataclasses import dataclass

import streamlit as st

from app_pages import state
from training.data import DataError, TrainValSplit
from training.download import default_cache_dir, missing_files
from training.download_job import DownloadView, MnistDownload
from training.kaggle import load_kaggle_training_data

SOURCES = {  # source -> label in the Data choice
    "sample": state.DATA_SOURCES["sample"],
    "mnist": "MNIST (60,000 + 10,000 digits, downloaded once)",
    "kaggle": "Kaggle Digit Recognizer train.csv (upload)",
}
DOWNLOAD_LABEL = "Download MNIST (about 11 MB)"
PROGRESS_REFRESH_S = 0.5  # a download of a few seconds shows a few steps
MIN_DIGITS = 100  # fewer leave too little to learn from and to check on

DATA_KEY = "data"  # the Data choice
UPLOAD_KEY = "kaggle_train"  # the train.csv uploader
KAGGLE_KEY = "kaggle_train_data"  # the last good upload, parsed: one copy per session
SEEN_KEY = "kaggle_train_seen"  # (file id, error) of the upload read last, so it is read once
WATCH_KEY = "mnist_download_watched"  # this session waits for the download to end
NOTICE_KEY = "data_notice"  # a failed download, said until the data choice changes
MESSAGES_KEY = "data_messages"  # [(kind, text)] from this script run, for the main area
CHOICE_KEY = "data_choice"  # the DataChoice of this script run, for the preview


@dataclass(frozen=True)
class DataChoice:
    data: TrainValSplit
    label: str  # names the digits in the run's caption, its charts and its model file


@dataclass(frozen=True)
class KaggleTrain:
    digest: str  # of the uploaded bytes: the same file uploaded again is not read again
    name: str
    data: TrainValSplit


class NotReady(str):
    """Why no digits can be trained on yet. The main area says it, and what to do."""


# -- the choice -----------------------------------------------------------------------------


def data_ui(disabled: bool = False, **widget) -> DataChoice | NotReady:
    """The Data choice and the control it needs, in the sidebar; `widget` goes to the
    selectbox (persist_state)."""
    _follow_download()  # before the selectbox: a failed download puts the choice back
    st.session_state[MESSAGES_KEY] = []
    source = st.selectbox(
        "Data",
        list(SOURCES),
        format_func=SOURCES.get,
        key=DATA_KEY,
        on_change=_forget_notice,
        disabled=disabled,
        help="The digits to learn from. MNIST validates on its own 10,000 test digits; "
        "the sample and a train.csv hold a tenth of each digit back to check the model.",
        **widget,
    )
    if source == "mnist":
        choice = mnist_ui(disabled)
    elif source == "kaggle":
        choice = kaggle_ui(disabled)
    else:
        choice = sample_ui()
    st.session_state[CHOICE_KEY] = choice if isinstance(choice, DataChoice) else None
    return choice


def chosen() -> DataChoice | None:
    """The digits chosen in this script run, when they can be used."""
    return st.session_state.get(CHOICE_KEY)


def messages() -> None:
    """What the data choice has to say, in the main area."""
    notice = st.session_state.get(NOTICE_KEY)
    if notice:
        st.warning(notice, icon=":material/cloud_off:")
    for kind, text in st.session_state.get(MESSAGES_KEY, []):
        if kind == "error":
            st.error(text, icon=":material/error:")
        else:
            st.info(text, icon=":material/info:")


def _say(kind: str, text: str) -> None:
    st.session_state.setdefault(MESSAGES_KEY, []).append((kind, text))


def _not_ready(kind: str, text: str) -> NotReady:
    _say(kind, text)
    return NotReady(text)


def _forget_notice() -> None:
    st.session_state.pop(NOTICE_KEY, None)


def sample_ui() -> DataChoice | NotReady:
    try:
        return DataChoice(state.training_data("sample"), SOURCES["sample"])
    except DataError as error:
        return _not_ready("error", f"The embedded digits could not be loaded: {error}")


# -- MNIST ----------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def mnist_download(folder: str) -> MnistDownload:
    # One per server and folder: the files are the server's, shared by every visitor.
    return MnistDownload(folder)


def mnist_ui(disabled: bool) -> DataChoice | NotReady:
    folder = default_cache_dir()
    download = mnist_download(str(folder))
    if download.view().state == "running":
        st.session_state[WATCH_KEY] = True
        _progress_view(download)
        return _not_ready("info", "MNIST is downloading: training can start once it is here.")

    try:
        missing = missing_files(folder)
    except DataError as error:  # a damaged file: said, never overwritten
        return _not_ready("error", str(error))
    if missing:
        st.button(
            DOWNLOAD_LABEL,
            icon=":material/download:",
            on_click=_start_download,
            args=(str(folder),),
            disabled=disabled,
            help=f"Downloaded once into {folder}, for every visitor of this server.",
        )
        return _not_ready(
            "info",
            "MNIST is not on this server yet: download it with the button in the sidebar, "
            "once, for everyone. Until then, train on the embedded sample.",
        )

    try:
        data = state.training_data(str(folder))
    except DataError as error:
        return _not_ready("error", f"The MNIST files could not be read: {error}")
    return DataChoice(data, f"MNIST ({len(data.train):,} training + {len(data.val):,} test digits)")


def _start_download(folder: str) -> None:
    # a callback: it runs before the page, so the page already sees the download going
    mnist_download(folder).start()
    st.session_state[WATCH_KEY] = True
    _forget_notice()


def _follow_download() -> None:
    """Once the download this session waited for has failed, go from MNIST back to the
    sample."""
    if not st.session_state.get(WATCH_KEY):
        return
    view = mnist_download(str(default_cache_dir())).view()
    if view.state == "running":
        return
    st.session_state[WATCH_KEY] = False
    if view.state == "failed" and st.session_state.get(DATA_KEY) == "mnist":
        st.session_state[DATA_KEY] = "sample"
        st.session_state[NOTICE_KEY] = f"**Back on the embedded sample.** {view.message}"


def _progress_view(download: MnistDownload) -> None:
    @st.fragment(run_every=PROGRESS_REFRESH_S)
    def progress():
        view = download.view()
        if view.state != "running":
            st.rerun()  # the whole page: the digits are here, or the choice goes back
        st.progress(view.fraction or 0.0, text=describe_progress(view))

    progress()


def describe_progress(view: DownloadView) -> str:
    if not view.file_name:
        return "Starting the download…"
    file = f"File {view.files_done + 1} of {view.files_total}"
    done = view.bytes_done / 1e6
    if view.fraction is None:
        return f"{file}: {done:.1f} MB"
    return f"{file}: {done:.1f} of {view.bytes_total / 1e6:.1f} MB ({view.fraction:.0%})"


# -- Kaggle train.csv -----------------------------------------------------------------------


def kaggle_ui(disabled: bool) -> DataChoice | NotReady:
    upload = st.file_uploader(
        "Kaggle's train.csv, or its zip",
        type=["csv", "zip"],
        key=UPLOAD_KEY,
        disabled=disabled,
        help="From the Digit Recognizer competition on kaggle.com: a label column, then 784 "
        "pixel columns. The zip uploads faster. A tenth of each digit is held back to check "
        "the model.",
    )
    error = _read_upload(upload) if upload is not None else ""
    if error:
        _say("error", error)
    current: KaggleTrain | None = st.session_state.get(KAGGLE_KEY)
    if current is None:
        if error:
            return NotReady(error)
        return _not_ready(
            "info", "Upload Kaggle's train.csv (or its zip) in the sidebar to train on it."
        )

    count = len(current.data.train) + len(current.data.val)
    if error:
        _say("info", f"Training still uses the file uploaded before: {current.name}.")
    elif upload is None:
        st.caption(f"Using {current.name}, uploaded earlier.")
    return DataChoice(current.data, f"Kaggle {current.name} ({count:,} digits)")


def _read_upload(upload) -> str:
    """Parse an upload once; keeps it when good. Returns its error message, or ""."""
    seen = st.session_state.get(SEEN_KEY)
    if seen is not None and seen[0] == upload.file_id:
        return seen[1]

    content = upload.getvalue()
    digest = hashlib.blake2b(content, digest_size=16).hexdigest()
    current = st.session_state.get(KAGGLE_KEY)
    error = ""
    if current is None or current.digest != digest:
        try:
            with st.spinner(f"Reading {upload.name}…"):
                data = load_kaggle_training_data(content, name=upload.name)
            _check_size(data, upload.name)
        except DataError as problem:
            error = str(problem)
        else:
            # the old set goes as the new one comes: one copy per session
            st.session_state[KAGGLE_KEY] = KaggleTrain(digest, upload.name, data)
    st.session_state[SEEN_KEY] = (upload.file_id, error)
    return error


def _check_size(data: TrainValSplit, name: str) -> None:
    count = len(data.train) + len(data.val)
    if count < MIN_DIGITS:
        raise DataError(
            f"{name} holds only {count:,} digits: at least {MIN_DIGITS} are needed to train "
            "a model and check it."
        )

"""Training page: play back a recorded run, growing the same charts the live run draws.

A recording is a bundled one (assets/recordings, made by scripts/train_bundled.sh), a file
uploaded here, or this tab's last run. Playing moves a position in seconds of the run forward
on a timer; the charts show the records up to it. Nothing is trained.
"""

import os
import time
from pathlib import Path

import streamlit as st

from app_pages import figures, show, state
from training.recording import (
    MAX_FILE_BYTES,
    Recording,
    RecordingError,
    from_job,
    load_recording,
    recording_from_bytes,
    recording_to_bytes,
)

# the bundled recordings; RNN_DIGIT_LAB_RECORDINGS points elsewhere (the browser tests do)
RECORDINGS_DIR = Path(
    os.environ.get("RNN_DIGIT_LAB_RECORDINGS")
    or Path(__file__).resolve().parents[1] / "assets" / "recordings"
)
SPEEDS = {"1x (real time)": 1.0, "10x": 10.0, "100x": 100.0, "All at once": None}
DEFAULT_SPEED = "All at once"  # the whole run at first sight; a speed and Play replay it
TICK_S = 0.5  # redraw period while playing: each costs the server a rerun of the fragment
THIS_RUN = "This tab's last run"
ORDER_WORDS = {"rows_reversed": "reading rows bottom to top", "columns": "reading columns"}

SOURCE_KEY = "replay_source"
UPLOAD_KEY = "replay_upload"
UPLOADED_KEY = "replay_uploaded"  # (file name, Recording) of the last good upload
ERROR_KEY = "replay_upload_error"
AT_KEY = "replay_at"  # seconds into the run shown now; the position slider's value
PLAYING_KEY = "replay_playing"
TICK_KEY = "replay_tick"  # time.monotonic() of the last step forward
SHOWN_KEY = "replay_shown"  # the source whose position is held, to start a new one afresh
SPEED_KEY = "replay_speed"


# -- recordings ---------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _read_bundled(path: str, mtime_ns: int) -> Recording | str:
    """A bundled recording, read once per server and version of the file (never changed);
    the reason as text when it cannot be used."""
    try:
        return load_recording(path)
    except RecordingError as error:
        return str(error)


def bundled_recordings() -> tuple[dict[str, Recording], list[str]]:
    """The recordings in RECORDINGS_DIR by name (file stem), and the reasons for any that
    cannot be read."""
    found, problems = {}, []
    paths = sorted(RECORDINGS_DIR.glob("*.json")) if RECORDINGS_DIR.is_dir() else []
    for path in paths:
        result = _read_bundled(str(path), path.stat().st_mtime_ns)
        if isinstance(result, str):
            problems.append(result)
        else:
            found[path.name.removesuffix(".json")] = result
    return found, problems


def describe(recording: Recording) -> str:
    m, t = recording.model_config, recording.train_config
    layers = "" if m.num_layers == 1 else f", {m.num_layers} layers"
    order = f", {ORDER_WORDS[m.reading_order]}" if m.reading_order in ORDER_WORDS else ""
    epochs = "1 epoch" if t.epochs == 1 else f"{t.epochs} epochs"
    augmented = ", augmented" if t.augment else ""
    return (
        f"{recording.cell_label}, {m.hidden_size} hidden units{layers}{order} · "
        f"{t.optimizer.upper() if t.optimizer == 'sgd' else 'Adam'}, learning rate "
        f"{t.learning_rate:g}, batch {t.batch_size}, {epochs}, seed {t.seed}{augmented} · "
        f"{recording.data_label}"
    )


def _sources() -> dict[str, Recording]:
    """What can be replayed now, by the label the chooser shows: this tab's own run first,
    then the last upload, then the bundled runs."""
    sources = {}
    job = state.current_job()
    if job is not None and job.view().records:
        sources[THIS_RUN] = from_job(job)
    uploaded = st.session_state.get(UPLOADED_KEY)
    if uploaded is not None:
        sources[f"Uploaded: {uploaded[0]}"] = uploaded[1]
    bundled, _ = bundled_recordings()
    for recording in bundled.values():
        order = recording.model_config.reading_order
        suffix = f", {ORDER_WORDS[order]}" if order in ORDER_WORDS else ""
        sources[f"Bundled: {recording.cell_label}{suffix}"] = recording
    return sources


def _uploaded() -> None:
    """A new upload: a good one is chosen at once; a bad one only leaves its reason."""
    file = st.session_state.get(UPLOAD_KEY)
    if file is None:
        return  # the upload was cleared: keep what was chosen
    try:
        recording = recording_from_bytes(file.getvalue(), file.name)
    except RecordingError as error:
        st.session_state[ERROR_KEY] = str(error)
        return
    st.session_state.pop(ERROR_KEY, None)
    st.session_state[UPLOADED_KEY] = (file.name, recording)
    st.session_state[SOURCE_KEY] = f"Uploaded: {file.name}"


def recording_download(job, key: str) -> None:
    """A button that saves this tab's run (so far) as a recording file."""
    recording = from_job(job)
    m = recording.model_config
    st.download_button(
        "Save the run as a recording",
        data=recording_to_bytes(recording),
        file_name=f"rnn-digit-lab-{m.cell}-{m.hidden_size}-run.json",
        mime="application/json",
        icon=":material/save:",
        key=key,
        help="Every record of this run in a small file: replay it here later, even on "
        "another computer, without training again.",
    )


# -- playing ------------------------------------------------------------------------------


def _start_afresh(source: str, duration: float) -> None:
    if st.session_state.get(SHOWN_KEY) == source:
        return
    st.session_state[SHOWN_KEY] = source
    st.session_state[PLAYING_KEY] = False
    all_at_once = SPEEDS.get(st.session_state.get(SPEED_KEY, DEFAULT_SPEED)) is None
    st.session_state[AT_KEY] = duration if all_at_once else 0.0


def _play_or_pause(duration: float) -> None:
    if st.session_state.get(PLAYING_KEY):
        st.session_state[PLAYING_KEY] = False
        return
    if st.session_state.get(AT_KEY, 0.0) >= duration:
        st.session_state[AT_KEY] = 0.0  # played to the end: Play starts again
    st.session_state[PLAYING_KEY] = True
    st.session_state[TICK_KEY] = time.monotonic()


def _speed_changed(duration: float) -> None:
    if SPEEDS.get(st.session_state.get(SPEED_KEY) or DEFAULT_SPEED) is None:
        st.session_state[AT_KEY] = duration  # all at once: jump to the end of the run


def _controls(duration: float) -> float | None:
    """Speed and Play/Pause; returns the speed (None: all at once)."""
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    with left:
        label = st.segmented_control(
            "Speed",
            list(SPEEDS),
            default=DEFAULT_SPEED,
            key=SPEED_KEY,
            persist_state="session",
            on_change=_speed_changed,
            args=(duration,),
        )
    speed = SPEEDS[label or DEFAULT_SPEED]
    if speed is None:
        st.session_state[PLAYING_KEY] = False  # nothing to play; the slider still moves
    playing = st.session_state.get(PLAYING_KEY, False)
    right.button(
        "Pause" if playing else "Play",
        icon=":material/pause:" if playing else ":material/play_arrow:",
        type="primary",
        key="replay_play",
        disabled=speed is None,
        on_click=_play_or_pause,
        args=(duration,),
        width="stretch",
    )
    return speed


def _step_forward(speed: float, duration: float) -> None:
    now = time.monotonic()
    elapsed = now - st.session_state.get(TICK_KEY, now)
    st.session_state[TICK_KEY] = now
    at = min(st.session_state.get(AT_KEY, 0.0) + speed * elapsed, duration)
    st.session_state[AT_KEY] = at
    if at >= duration:
        st.session_state[PLAYING_KEY] = False
        st.rerun()  # the whole page: the timer stops and Pause turns back into Play


def player(recording: Recording) -> None:
    duration = max(recording.duration_s, 0.1)  # a slider needs some width
    speed = _controls(duration)
    playing = st.session_state.get(PLAYING_KEY, False) and speed is not None

    @st.fragment(run_every=TICK_S if playing else None)
    def frame():
        if playing:
            state.keep_alive()  # the timer's runs show the browser is still here
            _step_forward(speed, duration)
        at = min(max(float(st.session_state.get(AT_KEY, 0.0)), 0.0), duration)
        st.session_state[AT_KEY] = at
        st.slider(
            "Seconds into the run",
            0.0,
            duration,
            key=AT_KEY,
            step=0.1 if duration < 100 else 1.0,
            format="%.1f s",
            help="Drag to jump to any moment of the run.",
        )
        shown = [r for r in recording.records if r.elapsed_s <= at]
        _progress(recording, shown, at, duration)
        _charts(recording, shown)

    frame()


def _progress(recording: Recording, shown, at: float, duration: float) -> None:
    # a line, not a bar: the slider above already shows how far along it is
    epoch = shown[-1].epoch if shown else 0.0
    epochs = recording.train_config.epochs
    st.markdown(
        f"**Epoch {epoch:.1f} of {epochs}**, {at:.0f} s into the run "
        f"(it took {duration:.0f} s in all)"
    )


def _charts(recording: Recording, shown) -> None:
    show.training_charts(figures.training_series(shown), recording.train_config.epochs, "replay_")
    st.caption(
        "The charts grow as they did while this run trained: the loss falls and the accuracy "
        "rises fastest in the first epochs, then slowly. Drag the slider to jump to any moment."
    )


# -- section ------------------------------------------------------------------------------


def _chooser(sources: dict[str, Recording]) -> str | None:
    """The recording to play, with an upload beside it; returns the chosen source's label."""
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    with left:
        if not sources:
            st.info(
                "No recorded runs are bundled with this copy of the app yet (assets/recordings "
                "is empty; scripts/train_bundled.sh makes them), and this tab has not trained "
                "a model. Upload a recording, or train a model and come back.",
                icon=":material/info:",
            )
        else:
            if st.session_state.get(SOURCE_KEY) not in sources:
                st.session_state[SOURCE_KEY] = next(iter(sources))
            st.selectbox("Recording", list(sources), key=SOURCE_KEY)
    if not show.presenting():
        with right.popover("Upload a recording", icon=":material/upload:", width="stretch"):
            st.file_uploader(
                "A recording saved by this app (.json or .json.gz)",
                type=["json", "gz"],
                key=UPLOAD_KEY,
                on_change=_uploaded,
                max_upload_size=MAX_FILE_BYTES // 2**20,
            )
    if error := st.session_state.pop(ERROR_KEY, None):
        kept = " The recording chosen before is still shown." if sources else ""
        st.warning(f"{error}{kept}", icon=":material/warning:")
    return st.session_state.get(SOURCE_KEY) if sources else None


def replay_section() -> None:
    sources = _sources()
    source = _chooser(sources)
    for problem in bundled_recordings()[1]:
        st.warning(f"A bundled recording cannot be read: {problem}")
    if source is None:
        return
    recording = sources[source]
    if not show.presenting():
        st.caption(describe(recording))
        job = state.current_job()
        if source == THIS_RUN and job is not None:
            recording_download(job, key="replay_save")
    _start_afresh(source, recording.duration_s)
    player(recording)

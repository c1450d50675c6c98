"""Training page: train a vanilla RNN, an LSTM and a GRU alike and compare them, or compare
the bundled runs' recordings at once, without training."""

import streamlit as st

from app_pages import compare_figures, data_ui, figures, replay_ui, show, state
from app_pages.compare_figures import Curves
from training.data import DataError
from training.limits import parameter_count
from training.recording import cell_name

REFRESH_S = 1.0  # redraw period while the comparison trains
STOP_WAIT_S = 3.0  # how long Stop waits for the current batch, so the result shows at once
MODES = ("Train them here", "The bundled runs (instant)")
BUNDLED = ("rnn", "lstm", "gru")  # the recordings compared, by file name
STATES = {  # a job's state -> what the table says
    "queued": "waiting for a free slot",
    "running": "training",
    "finished": "finished",
    "stopped": "stopped early",
    "diverged": "diverged",
    "failed": "failed",
    "cancelled": "cancelled",
}


def _settings_line(model_config, train_config, data_label: str) -> str:
    m, t = model_config, train_config
    layers = "1 layer" if m.num_layers == 1 else f"{m.num_layers} layers"
    order = "" if m.reading_order == "rows" else f", {replay_ui.ORDER_WORDS[m.reading_order]}"
    epochs = "1 epoch" if t.epochs == 1 else f"{t.epochs} epochs"
    augmented = ", augmented" if t.augment else ""
    optimizer = "Adam" if t.optimizer == "adam" else "SGD"
    return (
        f"All three alike: {m.hidden_size} hidden units, {layers}{order} · {optimizer}, "
        f"learning rate {t.learning_rate:g}, batch {t.batch_size}, {epochs}, seed {t.seed}"
        f"{augmented} · {data_label}"
    )


def comparison_view(runs: list[dict], epochs: int, key: str) -> None:
    """Both charts and the table. Each run: label, model_config, records, status."""
    curves, rows = [], []
    for run in runs:
        series = figures.training_series(run["records"])
        curves.append(
            Curves(
                run["label"],
                series["epoch"],
                series["loss_trend"],
                series["val_epoch"],
                series["val_accuracy"],
            )
        )
        last = run["records"][-1] if run["records"] else None
        rows.append(
            compare_figures.summary_row(
                run["label"],
                parameter_count(run["model_config"]),
                last.elapsed_s if last is not None else None,
                series["val_accuracy"],
                series["loss_trend"],
                run["status"],
            )
        )
    left, right = st.columns(2, gap="large")
    with left:
        show.chart(compare_figures.compare_loss_figure(curves, epochs), key=f"{key}_loss")
    with right:
        show.chart(compare_figures.compare_accuracy_figure(curves, epochs), key=f"{key}_accuracy")
    st.dataframe(rows, hide_index=True, width="stretch", key=f"{key}_table")
    st.caption(
        "Each colour is one kind of memory cell, trained on the same digits with the same "
        "settings. Watch which line falls fastest and which ends highest: the LSTM and GRU "
        "have gates that decide what to keep, and usually learn faster than the plain RNN. "
        "Parameters are the weights each network learns; the final loss is averaged over "
        "the last records."
    )


# -- training the three here --------------------------------------------------------------


def _status(comparison, job) -> str:
    if not comparison.submitted(job):
        return "not run" if comparison.stopped else "waits for the one before"
    view = job.view()
    if view.queued and view.position:
        return f"waiting for a free slot (place {view.position})"
    return STATES.get(view.state, view.state)


def _progress(comparison, runs: list[dict]) -> None:
    steps = sum(r["records"][-1].step for r in runs if r["records"])
    per_run = max((r["records"][0].total_steps for r in runs if r["records"]), default=1)
    going = next((i for i, r in enumerate(runs) if r["status"] == "training"), None)
    if going is not None:
        run = runs[going]
        epoch = run["records"][-1].epoch if run["records"] else 0.0
        text = (
            f"Training the {run['label']} ({going + 1} of {len(runs)}) · epoch {epoch:.1f} "
            f"of {run['epochs']}"
        )
    elif comparison.done:
        text = "Stopped before the end." if comparison.stopped else "All three have finished."
    else:
        text = "Waiting for a free training slot…"
    st.progress(min(steps / (per_run * len(runs)), 1.0), text=text)


def live_view(comparison, polling: bool) -> None:
    """Progress, charts and table, redrawn on a timer only while the comparison goes."""

    @st.fragment(run_every=REFRESH_S if polling else None)
    def live():
        state.keep_alive()  # the timer's runs show the browser is still here
        if polling and comparison.done:
            st.rerun()  # the whole page: the buttons and the sidebar come back
        jobs = comparison.jobs
        first = jobs[0]
        st.caption(_settings_line(first.model_config, first.train_config, first.data_label))
        runs = [
            {
                "label": cell_name(job.model_config),
                "model_config": job.model_config,
                "records": job.view().records,
                "status": _status(comparison, job),
                "epochs": job.train_config.epochs,
            }
            for job in jobs
        ]
        _progress(comparison, runs)
        comparison_view(runs, first.train_config.epochs, key="compare")

    live()


def train_view(settings) -> None:
    comparison = state.current_comparison()
    running = state.comparison_running()
    busy = state.is_running(state.current_job())
    with st.container(horizontal=True):
        start = st.button(
            "Train all three",
            type="primary",
            icon=":material/play_arrow:",
            key="compare_start",
            disabled=running or busy or isinstance(settings, str),
            help="Trains a vanilla RNN, an LSTM and a GRU one after another, each with the "
            "settings in the sidebar (the Cell setting aside).",
        )
        stop = st.button("Stop", icon=":material/stop:", key="compare_stop", disabled=not running)

    if isinstance(settings, str) and not isinstance(settings, data_ui.NotReady):
        st.error(settings)
    data_ui.messages()  # what the data choice needs: a download, an upload, a better file
    if busy:
        st.info(
            "This tab's training run is still going (Train a model): stop it or let it finish, "
            "then compare the cells. Or compare the bundled runs, which needs no training."
        )
    if stop and comparison is not None:
        comparison.stop()
        comparison.wait(STOP_WAIT_S)
        st.rerun()
    if start and not isinstance(settings, str):
        try:
            state.start_comparison(*settings)
        except (state.BusyError, DataError, ValueError) as error:
            st.warning(str(error))
        else:
            st.rerun()  # draws Start disabled and starts the timer

    if comparison is None:
        if not show.presenting():
            st.caption(
                "Three networks that differ only in their memory cell learn the same digits "
                "one after another, so their curves can be laid side by side. It takes about "
                "three times as long as one run: choose few epochs and a small hidden size in "
                "the sidebar for a quick look."
            )
        return
    live_view(comparison, polling=running)


# -- the bundled runs ---------------------------------------------------------------------


def bundled_view() -> None:
    recordings, problems = replay_ui.bundled_recordings()
    for problem in problems:
        st.warning(f"A bundled recording cannot be read: {problem}")
    missing = [name for name in BUNDLED if name not in recordings]
    if missing:
        st.info(
            "The recorded runs of the bundled models are not in this copy of the app yet "
            f"(missing in assets/recordings: {', '.join(n + '.json' for n in missing)}; "
            "scripts/train_bundled.sh makes them). Train the three here instead.",
            icon=":material/info:",
        )
        return
    chosen = [recordings[name] for name in BUNDLED]
    runs = [
        {
            "label": rec.cell_label,
            "model_config": rec.model_config,
            "records": rec.records,
            "status": "recorded",
        }
        for rec in chosen
    ]
    first = chosen[0]
    st.caption(_settings_line(first.model_config, first.train_config, first.data_label))
    epochs = max(rec.train_config.epochs for rec in chosen)
    comparison_view(runs, epochs, key="bundled")
    if not show.presenting():
        st.caption(
            "These are the runs that made the bundled models, recorded when they were trained; "
            "the time taken is on the machine that trained them."
        )


def compare_section(settings) -> None:
    mode = st.segmented_control(
        "Runs to compare",
        MODES,
        default=MODES[0],
        key="compare_mode",
        persist_state="session",
        label_visibility="collapsed",
    )
    if mode == MODES[1]:
        bundled_view()
    else:
        train_view(settings)

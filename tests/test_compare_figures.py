"""The comparison's figures and table: one trace per cell, named and coloured alike."""

import numpy as np
import pytest

from app_pages.compare_figures import (
    CELL_COLOURS,
    Curves,
    cell_colour,
    compare_accuracy_figure,
    compare_loss_figure,
    summary_row,
)

LABELS = ("Vanilla RNN (tanh)", "LSTM", "GRU")


def _runs() -> list[Curves]:
    rng = np.random.default_rng(0)
    runs = []
    for i, label in enumerate(LABELS):
        epoch = np.linspace(0.1, 2.0, 12 + i)  # a different length per run
        runs.append(
            Curves(
                label=label,
                epoch=epoch,
                loss=2.3 / (1 + epoch) + rng.random(len(epoch)) * 0.01,
                val_epoch=np.array([1.0, 2.0]),
                val_accuracy=np.array([0.5 + i / 10, 0.6 + i / 10]),
            )
        )
    return runs


@pytest.mark.parametrize("build", [compare_loss_figure, compare_accuracy_figure])
def test_one_trace_per_cell_with_its_name_and_colour(build):
    runs = _runs()
    fig = build(runs, epochs=2)

    assert [t.name for t in fig.data] == list(LABELS)
    assert [t.line.color for t in fig.data] == [CELL_COLOURS[label] for label in LABELS]
    assert fig.layout.xaxis.range == (0, 2)
    assert fig.layout.showlegend is not False


def test_colours_are_the_same_in_both_charts_and_all_different():
    runs = _runs()
    loss = {t.name: t.line.color for t in compare_loss_figure(runs).data}
    accuracy = {t.name: t.line.color for t in compare_accuracy_figure(runs).data}
    assert loss == accuracy
    assert len(set(CELL_COLOURS.values())) == len(CELL_COLOURS)
    assert cell_colour("something else") not in CELL_COLOURS.values()


def test_the_traces_carry_each_runs_own_numbers():
    runs = _runs()
    loss = compare_loss_figure(runs)
    accuracy = compare_accuracy_figure(runs)
    for run, line, points in zip(runs, loss.data, accuracy.data, strict=True):
        np.testing.assert_allclose(line.x, run.epoch)
        np.testing.assert_allclose(line.y, run.loss)
        np.testing.assert_allclose(points.y, run.val_accuracy)
    assert accuracy.layout.yaxis.tickformat == ".0%"


def test_a_run_with_no_points_yet_still_has_its_trace():
    empty = Curves("LSTM", np.array([]), np.array([]), np.array([]), np.array([]))
    fig = compare_loss_figure([*_runs()[:1], empty])
    assert [t.name for t in fig.data] == ["Vanilla RNN (tanh)", "LSTM"]
    assert len(fig.data[1].x) == 0


def test_summary_row_takes_the_best_accuracy_and_the_last_loss():
    row = summary_row("GRU", 12_345, 75.2, np.array([0.5, np.nan, 0.91, 0.88]), [1.0, 0.4], "done")
    assert row == {
        "Cell": "GRU",
        "Parameters": "12,345",
        "Time taken": "1 min 15 s",
        "Best validation accuracy": "91.0%",
        "Final loss": "0.400",
        "Status": "done",
    }


def test_summary_row_of_a_run_not_started_has_dashes():
    row = summary_row("LSTM", 9, None, np.array([]), np.array([]), "waiting")
    assert row["Time taken"] == row["Best validation accuracy"] == row["Final loss"] == "–"

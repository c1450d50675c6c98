import numpy as np
import pytest
import torch

from rnn_model import ModelConfig, RowClassifier, bundled_path, load_model, trace
from rnn_model.analysis import (
    decided_at,
    fit_hidden_map,
    read_digits,
    step_importance,
    top_states,
)
from training.data import load_training_data


def one_hot_steps(tops: list[int]) -> np.ndarray:
    probabilities = np.full((len(tops), 10), 0.01)
    probabilities[np.arange(len(tops)), tops] = 0.91
    return probabilities


@pytest.mark.parametrize(
    "tops,step",
    [
        ([3] * 28, 1),
        ([1] * 16 + [7] * 12, 17),
        ([7] * 5 + [1] * 5 + [7] * 18, 11),
        ([2] * 27 + [5], 28),
    ],
)
def test_decided_at_is_the_first_step_of_the_final_run(tops, step):
    assert decided_at(one_hot_steps(tops)) == step


@pytest.fixture(scope="module")
def gru():
    return load_model(bundled_path("gru"))[0]


@pytest.fixture(scope="module")
def val():
    return load_training_data("sample").val


def test_blank_rows_matter_nothing_and_ink_rows_do(gru, val):
    image = val.images[val.labels == 7][0].numpy() / 255.0
    importance = step_importance(gru, image)

    assert importance.predicted == 7
    assert importance.probability_drop.shape == importance.evidence_drop.shape == (28,)
    blank_rows = np.flatnonzero(image.sum(axis=1) == 0)
    # Blanking a row that is already blank changes nothing.
    np.testing.assert_allclose(importance.evidence_drop[blank_rows], 0, atol=1e-4)
    # some row with ink carries real evidence: the odds fall by more than 1.6x without it
    assert importance.evidence_drop.max() > 0.5
    ink_rows = np.flatnonzero(image.sum(axis=1) > 0)
    assert importance.evidence_drop.argmax() in ink_rows
    # without a blank row the answer is the same; each answer is that blanked copy's reading
    assert importance.answers.shape == (28,)
    assert (importance.answers[blank_rows] == 7).all()
    for row in (int(importance.evidence_drop.argmax()), int(blank_rows[0])):
        blanked = image.copy()
        blanked[row] = 0
        assert importance.answers[row] == trace(gru, blanked).prediction


@pytest.mark.parametrize("order,step", [("rows", 5), ("rows_reversed", 22), ("columns", 5)])
def test_step_importance_blanks_the_step_in_the_reading_order(order, step):
    torch.manual_seed(0)
    model = RowClassifier(ModelConfig(hidden_size=8, reading_order=order)).eval()
    image = np.zeros((28, 28), np.float32)
    if order == "columns":
        image[:, 5] = 1.0  # one inked column: read at step 6
    else:
        image[5] = 1.0  # one inked row: step 6 top down, step 23 bottom up
    drops = np.abs(step_importance(model, image).evidence_drop)
    # Blanking a blank step feeds the same input, so only the inked step can change anything.
    assert drops.argmax() == step and drops[step] > 0
    assert np.delete(drops, step).max() < 1e-3 * drops[step]


def test_hidden_map_puts_each_class_end_near_its_digits(gru, val):
    hidden_map = fit_hidden_map(gru, val.images, val.labels)
    assert hidden_map.components.shape == (2, 128)
    np.testing.assert_allclose(
        hidden_map.components @ hidden_map.components.T, np.eye(2), atol=1e-4
    )

    # A digit's own final position is nearer its class's end than most other classes' ends.
    nearest_right = 0
    for label in range(10):
        image = val.images[val.labels == label][0].numpy() / 255.0
        end = hidden_map.project(trace(gru, image).hidden[-1][-1])
        distances = np.linalg.norm(hidden_map.class_ends - end, axis=1)
        nearest_right += int(distances.argmin() == label)
    assert nearest_right >= 6


def test_hidden_map_directions_are_the_states_principal_components(gru, val):
    images, labels = val.images[::3], val.labels[::3]  # every digit (they are sorted by label)
    states = top_states(gru, images)
    assert states.shape == (len(images), 28, 128)
    hidden_map = fit_hidden_map(gru, images, labels, states=states)

    # the same directions as an SVD of every centred state, up to their signs
    flat = states.reshape(-1, 128).double()
    _, singular, v = torch.linalg.svd(flat - flat.mean(dim=0), full_matrices=False)
    overlap = np.abs(hidden_map.components @ v[:2].numpy().T)
    np.testing.assert_allclose(overlap, np.eye(2), atol=1e-3)
    share = float((singular[:2] ** 2).sum() / (singular**2).sum())
    assert hidden_map.explained == pytest.approx(share, rel=1e-3)
    # the signs are fixed: the class ends lie on the + side of each direction on average
    assert (hidden_map.class_ends.sum(axis=0) > 0).all()


def test_read_digits_is_the_models_answer(gru, val):
    images = val.images[:64]
    expected = gru(images.float() / 255).argmax(dim=-1).numpy()
    np.testing.assert_array_equal(read_digits(gru, images), expected)
    np.testing.assert_array_equal(read_digits(gru, images, top_states(gru, images)), expected)


def test_a_class_without_digits_has_no_end_and_spoils_nothing(gru, val):
    hidden_map = fit_hidden_map(gru, val.images[:120], val.labels[:120])  # 0s, 1s and 2s
    assert np.isnan(hidden_map.class_ends[3:]).all()
    assert np.isfinite(hidden_map.class_ends[:3]).all()
    assert np.isfinite(hidden_map.components).all()

import numpy as np
import pytest
import torch

from rnn_model import ModelConfig
from training.data import DigitSet, load_training_data
from training.diagnosis import (
    Diagnosis,
    answers,
    confusion_matrix,
    diagnose,
    in_cell,
    misclassified,
)
from training.engine import new_model, predict


def _diagnosis(labels, predictions, confidence) -> Diagnosis:
    labels, predictions = np.array(labels), np.array(predictions)
    matrix = confusion_matrix(labels, predictions)
    return Diagnosis(labels, predictions, np.array(confidence, dtype=np.float32), matrix)


def test_the_confusion_matrix_counts_true_digits_down_and_answers_across():
    labels = [0, 0, 0, 4, 4, 9, 9, 9, 9]
    predictions = [0, 0, 6, 9, 4, 9, 9, 4, 9]

    matrix = confusion_matrix(labels, predictions)

    assert matrix.shape == (10, 10) and matrix.sum() == 9
    assert (matrix[0, 0], matrix[0, 6]) == (2, 1)
    assert (matrix[4, 4], matrix[4, 9]) == (1, 1)
    assert (matrix[9, 9], matrix[9, 4]) == (3, 1)
    assert np.trace(matrix) == 6
    assert matrix.sum(axis=1).tolist() == [3, 0, 0, 0, 2, 0, 0, 0, 0, 4]  # digits of each kind


def test_labels_and_answers_of_different_lengths_are_refused():
    with pytest.raises(ValueError):
        confusion_matrix([1, 2, 3], [1, 2])


def test_misclassified_digits_come_most_confident_first_with_their_labels():
    d = _diagnosis(
        labels=[3, 5, 7, 1, 8, 2],
        predictions=[3, 6, 1, 1, 3, 2],
        confidence=[0.9, 0.55, 0.97, 0.8, 0.7, 0.6],
    )

    wrong = misclassified(d)

    assert wrong.tolist() == [2, 4, 1]  # 0.97, 0.7, 0.55
    assert [(d.labels[i], d.predictions[i]) for i in wrong] == [(7, 1), (8, 3), (5, 6)]
    assert misclassified(d, limit=2).tolist() == [2, 4]
    assert d.accuracy == pytest.approx(0.5)


def test_a_cell_lists_its_digits_most_confident_first_ties_in_order():
    d = _diagnosis(
        labels=[4, 4, 4, 4, 9],
        predictions=[9, 4, 9, 9, 4],
        confidence=[0.6, 0.99, 0.8, 0.6, 0.7],
    )
    assert in_cell(d, 4, 9).tolist() == [2, 0, 3]
    assert in_cell(d, 4, 4).tolist() == [1]
    assert in_cell(d, 9, 4).tolist() == [4]
    assert in_cell(d, 1, 7).tolist() == []


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_diagnose_agrees_with_the_engines_predictions(cell):
    val = load_training_data("sample").val
    model = new_model(ModelConfig(cell=cell, hidden_size=16, num_layers=2), 0)

    d = diagnose(model, val)

    assert np.array_equal(d.predictions, predict(model, val.images).numpy())
    assert np.array_equal(d.labels, val.labels.numpy())
    assert d.matrix.sum() == len(val) == 500
    assert d.matrix.sum(axis=1).tolist() == val.class_counts()
    assert ((d.confidence >= 0.1) & (d.confidence <= 1)).all()  # the largest of ten
    assert model.training  # left as it was found


def test_answers_in_small_chunks_match_one_pass():
    images = load_training_data("sample").val.images[:50]
    model = new_model(ModelConfig(cell="gru", hidden_size=16), 0)
    whole = answers(model, images)
    pieces = answers(model, images, batch_size=7)
    assert np.array_equal(whole[0], pieces[0])
    np.testing.assert_allclose(whole[1], pieces[1], rtol=1e-5)


def test_no_digits_give_an_empty_diagnosis():
    empty = DigitSet(torch.zeros(0, 28, 28, dtype=torch.uint8), torch.zeros(0).long(), "none")
    d = diagnose(new_model(ModelConfig(hidden_size=8), 0), empty)
    assert d.matrix.sum() == 0 and len(misclassified(d)) == 0 and np.isnan(d.accuracy)

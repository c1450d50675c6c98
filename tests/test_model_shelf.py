"""The server-wide bound on kept models: what is let go, in which order, and what never is."""

import itertools

import pytest
import torch

from rnn_model import ModelConfig, RowClassifier
from training.model_shelf import ModelShelf, ModelTooLarge, model_bytes


def _shelf(limit: int) -> tuple[ModelShelf, list]:
    """A shelf with a clock that ticks once per reading, and the list of what it let go."""
    ticks = itertools.count()
    return ModelShelf(limit, clock=lambda: float(next(ticks))), []


def test_model_bytes_counts_every_weight_in_float32():
    model = RowClassifier(ModelConfig(cell="gru", hidden_size=16))

    # GRU: 3 blocks of (28 inputs + 16 hidden + 2 biases) x 16 units, readout 16 x 10 + 10
    assert model_bytes(model) == 4 * (3 * 16 * (28 + 16 + 2) + 16 * 10 + 10)


def test_models_within_the_bound_are_all_kept():
    shelf, gone = _shelf(100)

    for name in "abc":
        assert shelf.keep(name, 30, lambda n=name: gone.append(n)) == []

    assert shelf.total_bytes == 90
    assert gone == []


def test_the_least_recently_used_models_make_room():
    shelf, gone = _shelf(100)
    for name in "abc":
        shelf.keep(name, 30, lambda n=name: gone.append(n))
    assert shelf.touch("a")  # a is now the most recently used

    evicted = shelf.keep("d", 50, lambda: gone.append("d"))

    assert evicted == ["b", "c"]
    assert gone == ["b", "c"]
    assert "a" in shelf and "d" in shelf and "b" not in shelf
    assert shelf.total_bytes == 80
    assert not shelf.touch("b")  # its owner is told it is gone


def test_keeping_again_under_the_same_key_replaces_instead_of_adding():
    shelf, gone = _shelf(100)
    shelf.keep("a", 60, lambda: gone.append("a"))

    shelf.keep("a", 70, lambda: gone.append("a2"))

    assert shelf.total_bytes == 70
    assert gone == []


def test_a_model_larger_than_the_whole_shelf_is_refused_and_nothing_is_let_go():
    shelf, gone = _shelf(100)
    shelf.keep("a", 60, lambda: gone.append("a"))

    with pytest.raises(ModelTooLarge, match="more than the"):
        shelf.keep("huge", 101, lambda: None)

    assert gone == [] and shelf.total_bytes == 60 and "huge" not in shelf


def test_a_callback_may_use_the_shelf_while_it_lets_go():
    # An owner's callback runs outside the shelf's lock, so it may ask the shelf things.
    shelf, seen = _shelf(100)
    shelf.keep("a", 60, lambda: seen.append(shelf.total_bytes))

    shelf.keep("b", 60, lambda: None)

    assert seen == [60]  # the shelf is already as it will stay: a off, b on


def test_forget_stops_counting_without_calling_back():
    shelf, gone = _shelf(100)
    shelf.keep("a", 60, lambda: gone.append("a"))

    shelf.forget("a")
    shelf.forget("never kept")

    assert shelf.total_bytes == 0 and gone == []


def test_a_shelf_needs_room_for_something():
    with pytest.raises(ValueError):
        ModelShelf(0)


def test_model_bytes_of_a_real_model_is_its_parameter_memory():
    model = torch.nn.Linear(3, 2)

    assert model_bytes(model) == (3 * 2 + 2) * 4

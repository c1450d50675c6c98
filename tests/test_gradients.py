import pytest
import torch

from rnn_model import ModelConfig
from training.data import DigitSet, load_training_data
from training.engine import new_model
from training.gradients import probe_batch, probe_chunk, step_gradients, unrolled_forward

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


@pytest.fixture(scope="module")
def probe():
    return probe_batch(load_training_data("sample").train, seed=0)


@pytest.mark.parametrize("cell,nonlinearity", CELLS)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("reading_order", ["rows", "rows_reversed", "columns"])
def test_the_unrolled_network_gives_the_models_own_logits(
    probe, cell, nonlinearity, num_layers, reading_order
):
    config = ModelConfig(
        cell=cell,
        nonlinearity=nonlinearity,
        hidden_size=24,
        num_layers=num_layers,
        reading_order=reading_order,
    )
    model = new_model(config, seed=1)
    images = probe.images[:8].float() / 255  # (8, 28, 28)

    logits, states = unrolled_forward(model, images)

    with torch.no_grad():
        expected = model(images)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-4)
    assert logits.shape == (8, 10)
    assert len(states) == 28 and all(h.shape == (8, 24) for h in states)


@pytest.mark.parametrize("cell,nonlinearity", CELLS)
def test_one_size_per_step_and_the_weights_keep_no_gradient(probe, cell, nonlinearity):
    model = new_model(ModelConfig(cell=cell, nonlinearity=nonlinearity, hidden_size=32), 0)
    before = [p.detach().clone() for p in model.parameters()]

    sizes = step_gradients(model, probe)

    assert len(sizes) == 28 and all(isinstance(s, float) and s >= 0 for s in sizes)
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))


def test_an_untrained_vanilla_rnn_passes_almost_nothing_back_to_the_first_rows(probe):
    model = new_model(ModelConfig(cell="rnn", nonlinearity="tanh", hidden_size=128), 0)

    sizes = step_gradients(model, probe)

    # each step back multiplies by W_hh and tanh' (< 1): 27 of them leave almost nothing
    assert sizes[0] < 1e-4 * sizes[-1]
    assert sizes == sorted(sizes)  # shrinking all the way from the last step to the first


@pytest.mark.parametrize("cell,gate_rows", [("lstm", slice(32, 64)), ("gru", slice(32, 64))])
def test_gates_held_open_carry_the_gradient_back(probe, cell, gate_rows):
    """An LSTM's forget gate (rows H..2H of its biases) or a GRU's update gate (also H..2H)
    held near 1 copies the memory from step to step, and the gradient with it."""
    rnn = step_gradients(new_model(ModelConfig(cell="rnn", hidden_size=32), 0), probe)
    model = new_model(ModelConfig(cell=cell, hidden_size=32), 0)
    closed = step_gradients(model, probe)
    with torch.no_grad():
        model.layers[0].bias_ih_l0[gate_rows] = 6.0  # sigmoid(6) = 0.998

    held = step_gradients(model, probe)

    assert held[0] / held[-1] > 0.1
    assert held[0] / held[-1] > 1e4 * rnn[0] / rnn[-1]
    assert held[0] / held[-1] > 1e3 * closed[0] / closed[-1]


def test_the_sizes_do_not_depend_on_how_the_probe_is_split(probe, monkeypatch):
    model = new_model(ModelConfig(cell="gru", hidden_size=16, num_layers=2), 0)
    whole = step_gradients(model, probe)

    monkeypatch.setattr("training.gradients.probe_chunk", lambda model: 5)
    pieces = step_gradients(model, probe)

    assert pieces == pytest.approx(whole, rel=1e-5)


def test_a_wide_deep_network_goes_through_in_smaller_chunks():
    narrow = new_model(ModelConfig(cell="rnn", hidden_size=16), 0)
    wide = new_model(ModelConfig(cell="lstm", hidden_size=1024, num_layers=4), 0)
    assert probe_chunk(narrow) >= 64
    assert 1 <= probe_chunk(wide) < 8


def test_the_probe_is_fixed_by_the_seed_and_empty_sets_give_none():
    digits = load_training_data("sample").train
    first, again, other = probe_batch(digits, 3), probe_batch(digits, 3), probe_batch(digits, 4)
    assert len(first) == 64
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    assert not torch.equal(first.labels, other.labels)
    assert len(probe_batch(digits.subset(range(10)), 0)) == 10

    empty = DigitSet(torch.zeros(0, 28, 28, dtype=torch.uint8), torch.zeros(0).long(), "none")
    assert step_gradients(new_model(ModelConfig(hidden_size=8), 0), empty) is None


def test_sizes_that_are_not_finite_give_none(probe):
    model = new_model(ModelConfig(cell="rnn", nonlinearity="relu", hidden_size=16), 0)
    with torch.no_grad():
        model.readout.weight.fill_(float("inf"))
    assert step_gradients(model, probe) is None

"""The memory one run may use and the estimate a run is checked against before it starts."""

import pytest
import torch

from rnn_model import ModelConfig, RowClassifier
from training import engine
from training.limits import (
    estimated_memory_mb,
    eval_chunk,
    parameter_count,
    run_budget_mb,
)


@pytest.mark.parametrize(("runs", "budget"), [(1, 574.0), (2, 287.0), (4, 143.5)])
def test_the_budget_of_a_run_shrinks_as_more_runs_go_at_once(runs, budget):
    assert run_budget_mb(runs) == budget


def test_a_budget_needs_at_least_one_run():
    with pytest.raises(ValueError, match="at least 1"):
        run_budget_mb(0)


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(cell="rnn", hidden_size=7),
        ModelConfig(cell="gru", hidden_size=5, num_layers=3),
        ModelConfig(cell="lstm", hidden_size=6, num_layers=2),
    ],
)
def test_parameters_are_counted_as_the_network_has_them(config):
    real = sum(p.numel() for p in RowClassifier(config).parameters())
    assert parameter_count(config) == real


def test_the_estimate_adds_activations_and_five_copies_of_the_weights():
    config = ModelConfig(cell="lstm", hidden_size=512, num_layers=2)
    activations = 28 * 64 * 512 * 2 * 18 * 4  # steps, batch, units, layers, floats kept, bytes
    weights = 5 * 4 * parameter_count(config)
    assert estimated_memory_mb(config, 64) == pytest.approx((activations + weights) / 2**20)
    assert 180 < estimated_memory_mb(config, 64) < 195


def test_a_wide_network_with_a_small_batch_is_bounded_by_its_evaluation_pass():
    config = ModelConfig(cell="gru", hidden_size=1024)
    assert eval_chunk(config) == 99  # 64 MB / (1024 units x 660 bytes)
    evaluation = 99 * 1024 * 660
    weights = 5 * 4 * parameter_count(config)
    assert estimated_memory_mb(config, 8) == pytest.approx((evaluation + weights) / 2**20)
    # the same number whatever the batch, until the training step needs more
    assert estimated_memory_mb(config, 1) == estimated_memory_mb(config, 8)
    assert estimated_memory_mb(config, 64) > estimated_memory_mb(config, 8)


def test_small_networks_evaluate_a_thousand_digits_at_a_time():
    assert eval_chunk(ModelConfig(cell="rnn", hidden_size=16)) == 1000
    assert eval_chunk(ModelConfig(cell="gru", hidden_size=128)) == 794


def test_the_largest_settings_are_far_over_any_budget_and_the_defaults_well_under():
    biggest = ModelConfig(cell="lstm", hidden_size=1024, num_layers=4)
    assert estimated_memory_mb(biggest, 1024) > 10 * run_budget_mb(1)
    assert estimated_memory_mb(ModelConfig(), 64) < run_budget_mb(4)


def test_predict_goes_through_the_digits_in_chunks_of_the_evaluation_size(monkeypatch):
    config = ModelConfig(cell="gru", hidden_size=8)
    model = RowClassifier(config)
    sizes = []
    model.register_forward_hook(lambda module, args, out: sizes.append(len(args[0])))
    monkeypatch.setattr(engine, "eval_chunk", lambda config: 300)
    torch.manual_seed(0)
    images = torch.randint(0, 256, (1000, 28, 28), dtype=torch.uint8)

    predictions = engine.predict(model, images)

    assert sizes == [300, 300, 300, 100]
    assert predictions.shape == (1000,)
    assert torch.equal(predictions, engine.predict(model, images, batch_size=1000))

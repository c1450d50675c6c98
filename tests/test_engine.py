import math
import threading
from dataclasses import replace

import pytest
import torch

from rnn_model import ModelConfig
from training.data import load_training_data
from training.engine import TrainConfig, accuracy, new_model, train


@pytest.fixture(scope="module")
def small():
    """1,000 real training digits and the 500 validation digits of the embedded sample."""
    data = load_training_data("sample")
    return data.train.subset(torch.arange(0, 4500, 4.5).long()), data.val


def run(model_config, train_config, small, stop=None):
    model = new_model(model_config, train_config.seed)
    records = list(train(model, *small, train_config, stop))
    return model, records


def test_training_on_real_digits_lowers_the_loss(small):
    model_config, train_config = ModelConfig(cell="gru", hidden_size=32), TrainConfig(epochs=3)
    model, records = run(model_config, replace(train_config, learning_rate=1e-2), small)
    losses = [r.loss for r in records if r.kind == "progress"]

    assert records[0].kind == "start" and records[-1].kind == "end"
    assert losses[-1] < 0.7 * losses[0]
    assert records[-1].val_accuracy > 0.5  # chance is 0.1
    assert records[-1].val_accuracy == pytest.approx(accuracy(model, small[1]))
    assert [r.step for r in records] == sorted(r.step for r in records)
    assert records[-1].step == records[-1].total_steps == 3 * math.ceil(1000 / 64)
    assert [r.kind for r in records].count("eval") == 2  # after each epoch but the last

    # every record measures the gradient reaching each step; learning opens the GRU's
    # update gates, so more of it reaches the first rows at the end than at the start
    measured = [r.step_gradients for r in records if r.step_gradients is not None]
    assert len(measured) >= 6 and all(len(sizes) == 28 for sizes in measured)
    first, last = records[0].step_gradients, records[-1].step_gradients
    assert last[0] / last[-1] > 10 * first[0] / first[-1]


def test_measuring_the_gradients_changes_nothing_the_run_learns(small):
    model_config = ModelConfig(cell="lstm", hidden_size=16, num_layers=2)
    config = TrainConfig(epochs=1, seed=5, augment=True, record_every=3, gradient_every=3)
    measured, with_probe = run(model_config, config, small)
    plain, without = run(model_config, replace(config, gradient_probe=0), small)

    for a, b in zip(measured.parameters(), plain.parameters(), strict=True):
        assert torch.equal(a, b)
    assert [r.loss for r in with_probe] == [r.loss for r in without]
    assert all(r.step_gradients is None for r in without)
    assert all(len(r.step_gradients) == 28 for r in with_probe)
    assert isinstance(with_probe[1].to_dict()["step_gradients"][0], float)  # plain data


def test_short_runs_measure_the_gradients_every_few_batches_and_at_start_and_end(small):
    config = TrainConfig(epochs=2, record_every=1, gradient_every=4)
    _, records = run(ModelConfig(cell="rnn", hidden_size=8), config, small)

    measured = [(r.kind, r.step) for r in records if r.step_gradients is not None]
    steps = math.ceil(1000 / 64)  # 16 per epoch
    # a progress record every 4 batches, but none again at the end of the first epoch:
    # the progress record of that step has just measured it
    progress = [("progress", s) for s in range(4, 2 * steps, 4)]
    assert measured == [("start", 0), *progress, ("end", 2 * steps)]
    assert [r.kind for r in records if r.step == steps] == ["progress", "eval"]


def test_the_same_seed_gives_the_same_run(small):
    config = TrainConfig(epochs=1, seed=7, augment=True)
    _, first = run(ModelConfig(cell="rnn", hidden_size=16), config, small)
    _, second = run(ModelConfig(cell="rnn", hidden_size=16), config, small)
    assert [r.loss for r in first] == [r.loss for r in second]


def test_stop_ends_the_run_after_the_current_batch(small):
    stop = threading.Event()
    model = new_model(ModelConfig(cell="lstm", hidden_size=16), 0)
    records = []
    for record in train(model, *small, TrainConfig(epochs=50, record_every=2), stop):
        records.append(record)
        if record.kind == "progress":
            stop.set()

    assert [r.kind for r in records] == ["start", "progress", "stopped"]
    assert records[-1].step == records[1].step == 2
    assert records[-1].val_accuracy is not None


def test_a_diverging_run_stops_with_a_message_and_keeps_the_last_good_weights(small):
    model_config = ModelConfig(cell="rnn", nonlinearity="relu", hidden_size=128)
    train_config = TrainConfig(optimizer="sgd", learning_rate=5.0, epochs=3, record_every=1)
    data = load_training_data("sample")
    model, records = run(model_config, train_config, (data.train, data.val))

    last = records[-1]
    assert last.kind == "diverged"
    assert "diverged" in last.message and "smaller learning rate" in last.message
    assert last.step < last.total_steps
    assert all(torch.isfinite(p).all() for p in model.parameters())
    # The weights kept are those of the last step whose loss was finite: they give a finite loss.
    x, y = small[0].images[:256].float() / 255, small[0].labels[:256]
    with torch.no_grad():
        assert torch.isfinite(torch.nn.functional.cross_entropy(model(x), y))


@pytest.mark.parametrize(
    "values,word",
    [
        ({"learning_rate": 0}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"batch_size": 10**6}, "batch_size"),
        ({"epochs": 0}, "epochs"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"gradient_probe": -1}, "gradient_probe"),
        ({"gradient_every": 0}, "gradient_every"),
    ],
)
def test_absurd_training_settings_are_refused(values, word):
    with pytest.raises(ValueError, match=word):
        TrainConfig(**values)

import numpy as np
import pytest
import torch

from rnn_model import ModelConfig, RowClassifier, trace
from rnn_model.model import to_sequence

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


def make_model(cell, nonlinearity="tanh", hidden_size=12, num_layers=2, reading_order="rows"):
    torch.manual_seed(0)
    config = ModelConfig(
        cell=cell,
        nonlinearity=nonlinearity,
        hidden_size=hidden_size,
        num_layers=num_layers,
        reading_order=reading_order,
    )
    return RowClassifier(config).eval()


@pytest.mark.parametrize("cell,nonlinearity", CELLS)
def test_forward_gives_one_logit_per_class(cell, nonlinearity):
    model = make_model(cell, nonlinearity)
    logits = model(torch.rand(5, 28, 28))
    assert logits.shape == (5, 10)


@pytest.mark.parametrize("cell,nonlinearity", CELLS)
def test_trace_shapes(cell, nonlinearity):
    model = make_model(cell, nonlinearity, hidden_size=12, num_layers=2)
    reading = trace(model, np.random.default_rng(0).random((28, 28), dtype=np.float32))

    assert reading.sequence.shape == (28, 28)
    assert [h.shape for h in reading.hidden] == [(28, 12), (28, 12)]
    assert reading.probabilities.shape == (28, 10)
    np.testing.assert_allclose(reading.probabilities.sum(axis=1), 1, rtol=1e-5)
    expected_gates = {
        "rnn": set(),
        "lstm": {"input", "forget", "output"},
        "gru": {"reset", "update"},
    }
    for layer_gates in reading.gates:
        assert set(layer_gates) == expected_gates[cell]
        for values in layer_gates.values():
            assert values.shape == (28, 12)
            assert values.min() >= 0 and values.max() <= 1
    if cell == "lstm":
        assert [c.shape for c in reading.cell_state] == [(28, 12), (28, 12)]
    else:
        assert reading.cell_state is None


@pytest.mark.parametrize("cell,nonlinearity", CELLS)
def test_trace_agrees_with_forward_at_every_step(cell, nonlinearity):
    """The hand-unrolled trace must compute exactly what PyTorch's fused modules compute."""
    model = make_model(cell, nonlinearity)
    image = np.random.default_rng(1).random((28, 28), dtype=np.float32)
    reading = trace(model, image)

    with torch.no_grad():
        h = torch.from_numpy(image)[None]
        for layer in model.layers:
            h, _ = layer(h)
        expected = torch.softmax(model.readout(h[0]), dim=-1).numpy()  # (T, C)
    np.testing.assert_allclose(reading.hidden[-1], h[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(reading.probabilities, expected, atol=1e-5)
    assert reading.prediction == int(expected[-1].argmax())


def test_reading_orders_feed_rows_in_the_promised_order():
    image = torch.arange(28 * 28, dtype=torch.float32).reshape(1, 28, 28)
    assert torch.equal(to_sequence(image, "rows")[0, 0], image[0, 0])
    assert torch.equal(to_sequence(image, "rows_reversed")[0, 0], image[0, 27])
    assert torch.equal(to_sequence(image, "columns")[0, 0], image[0, :, 0])

    model = make_model("gru", reading_order="columns")
    reading = trace(model, image[0].numpy() / 784)
    np.testing.assert_allclose(reading.sequence, image[0].T.numpy() / 784)


@pytest.mark.parametrize(
    "values,word",
    [
        ({"cell": "transformer"}, "cell"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"hidden_size": 10**9}, "hidden_size"),
        ({"num_layers": 50}, "num_layers"),
        ({"nonlinearity": "sigmoid"}, "nonlinearity"),
        ({"seq_len": 30}, "28"),
        ({"reading_order": "diagonal"}, "reading_order"),
    ],
)
def test_absurd_configs_are_refused_with_a_reason(values, word):
    with pytest.raises(ValueError, match=word):
        ModelConfig(**values)


def test_config_from_dict_refuses_unknown_fields_and_wrong_types():
    assert ModelConfig.from_dict({"cell": "lstm", "hidden_size": 64}).hidden_size == 64
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict({"cell": "gru", "dropout": 0.5})
    with pytest.raises(ValueError, match="hidden_size"):
        ModelConfig.from_dict({"hidden_size": "128"})

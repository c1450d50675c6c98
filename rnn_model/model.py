"""A recurrent classifier that reads a digit one row at a time, and a trace of one reading."""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rnn_model.config import ModelConfig

RECURRENT_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

# The gates a trace keeps, per cell (the LSTM's candidate g is not a gate, so it is left out).
GATE_NAMES = {"rnn": (), "lstm": ("input", "forget", "output"), "gru": ("reset", "update")}


def to_sequence(images: torch.Tensor, reading_order: str = "rows") -> torch.Tensor:
    """Turn images (B, 28, 28) into sequences (B, seq_len, input_size) in the reading order."""
    if reading_order == "rows":
        return images
    if reading_order == "rows_reversed":
        return images.flip(1)
    if reading_order == "columns":
        return images.transpose(1, 2)
    raise ValueError(f"unknown reading order {reading_order!r}")


class RowClassifier(nn.Module):
    """Stacked recurrent layers read x_1..x_T; a linear readout of the last h_T gives logits."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        # One single-layer module per layer, so a trace can reach every layer's states.
        self.layers = nn.ModuleList(self._make_layer(i) for i in range(config.num_layers))
        self.readout = nn.Linear(config.hidden_size, config.num_classes)

    def _make_layer(self, index: int) -> nn.Module:
        c = self.config
        size_in = c.input_size if index == 0 else c.hidden_size
        module = RECURRENT_MODULES[c.cell]
        if c.cell == "rnn":
            return module(size_in, c.hidden_size, nonlinearity=c.nonlinearity, batch_first=True)
        return module(size_in, c.hidden_size, batch_first=True)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, 28, 28) with values in [0, 1] -> logits (B, num_classes)."""
        h = to_sequence(images, self.config.reading_order)  # (B, T, I)
        for layer in self.layers:
            h, _ = layer(h)  # (B, T, H)
        return self.readout(h[:, -1])  # (B, C)


@dataclass
class Trace:
    """What the network did with one digit, step by step."""

    sequence: np.ndarray  # (T, I) the inputs x_t in the order they were read
    hidden: list[np.ndarray]  # per layer, (T, H): h_t after each step
    cell_state: list[np.ndarray] | None  # LSTM only, per layer, (T, H): c_t after each step
    gates: list[dict[str, np.ndarray]]  # per layer, gate name -> (T, H) activations in [0, 1]
    probabilities: np.ndarray  # (T, C) softmax of the readout applied to h_t of the top layer

    @property
    def prediction(self) -> int:
        return int(self.probabilities[-1].argmax())

    @property
    def confidence(self) -> float:
        return float(self.probabilities[-1].max())


@torch.no_grad()
def trace(model: RowClassifier, image: np.ndarray) -> Trace:
    """Run one image (28, 28) through the model step by step, keeping every state."""
    config = model.config
    x = torch.as_tensor(np.asarray(image, dtype=np.float32))[None]  # (1, 28, 28)
    sequence = to_sequence(x, config.reading_order)[0]  # (T, I)

    layer_input = sequence
    hidden, cell_states, gates = [], [], []
    for layer in model.layers:
        h_seq, c_seq, g = _step_layer(layer, config, layer_input)
        hidden.append(h_seq.numpy())
        if c_seq is not None:
            cell_states.append(c_seq.numpy())
        gates.append({name: value.numpy() for name, value in g.items()})
        layer_input = h_seq

    probabilities = F.softmax(model.readout(layer_input), dim=-1)  # (T, C)
    return Trace(
        sequence=sequence.numpy(),
        hidden=hidden,
        cell_state=cell_states or None,
        gates=gates,
        probabilities=probabilities.numpy(),
    )


def _step_layer(layer: nn.Module, config: ModelConfig, inputs: torch.Tensor):
    """Unroll one single-layer module over inputs (T, I) with PyTorch's own cell equations."""
    w_ih, w_hh = layer.weight_ih_l0, layer.weight_hh_l0
    b_ih, b_hh = layer.bias_ih_l0, layer.bias_hh_l0
    size = config.hidden_size
    h = torch.zeros(size)
    c = torch.zeros(size)
    # The input projections of all steps at once; only the recurrence needs a loop.
    projected = inputs @ w_ih.T + b_ih  # (T, G*H)
    hs, cs, gate_steps = [], [], []
    for x_proj in projected:
        h_proj = w_hh @ h + b_hh  # (G*H,)
        if config.cell == "rnn":
            act = torch.tanh if config.nonlinearity == "tanh" else torch.relu
            h = act(x_proj + h_proj)
            gate_steps.append(())
        elif config.cell == "lstm":
            i, f, g, o = (x_proj + h_proj).split(size)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g
            h = o * torch.tanh(c)
            cs.append(c)
            gate_steps.append((i, f, o))
        else:
            x_r, x_z, x_n = x_proj.split(size)
            h_r, h_z, h_n = h_proj.split(size)
            r = torch.sigmoid(x_r + h_r)
            z = torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + r * h_n)
            h = (1 - z) * n + z * h
            gate_steps.append((r, z))
        hs.append(h)

    names = GATE_NAMES[config.cell]
    gates = {name: torch.stack([step[k] for step in gate_steps]) for k, name in enumerate(names)}
    return torch.stack(hs), (torch.stack(cs) if cs else None), gates


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

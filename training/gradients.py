"""How much gradient reaches each step: the picture behind "vanishing gradients".

The loss of a digit is measured after the last step, so what the network learns about an early
row has to travel back through every later step. Here we measure how big that signal still is
when it arrives: the norm of dLoss/dh_t, the gradient of the loss with respect to the first
layer's hidden state after step t, averaged over a few fixed digits (a probe batch).

The fused nn.RNN / nn.LSTM / nn.GRU modules keep their steps inside one kernel, so their h_t
cannot be reached by autograd. The network is unrolled here step by step with PyTorch's own cell
equations and the same weights, which gives the same logits (a test checks it).
"""

import torch
from torch.nn import functional as F

from rnn_model import RowClassifier
from rnn_model.model import to_sequence
from training.data import DigitSet

PROBE_SIZE = 64  # digits in the probe batch
PROBE_CHUNK_MB = 32  # the probe goes through in chunks that keep about this much for backprop
FLOATS_PER_UNIT = {"rnn": 8, "gru": 24, "lstm": 30}  # kept per unit and step when unrolled


def probe_batch(digits: DigitSet, seed: int, size: int = PROBE_SIZE) -> DigitSet:
    """`size` digits picked with `seed`, from a generator of their own, so picking them
    takes nothing from the run's shuffling."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(digits), generator=generator)
    return digits.subset(order[:size])


def probe_chunk(model: RowClassifier) -> int:
    """Digits per unrolled pass, so a wide or deep network stays within PROBE_CHUNK_MB."""
    c = model.config
    per_digit = c.seq_len * c.hidden_size * c.num_layers * FLOATS_PER_UNIT[c.cell] * 4
    return max(1, PROBE_CHUNK_MB * 2**20 // per_digit)


def unrolled_forward(
    model: RowClassifier, images: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Images (B, 28, 28) in [0, 1] -> (logits (B, C), the first layer's h_t for each step).

    The same network as model(images), one step at a time, so each h_t (B, H) is a tensor
    of its own that autograd can give a gradient for."""
    config = model.config
    inputs = to_sequence(images, config.reading_order)  # (B, T, I)
    first_layer_states = None
    for layer in model.layers:
        states = _unroll_layer(layer, config, inputs)  # T tensors (B, H)
        if first_layer_states is None:
            first_layer_states = states
        inputs = torch.stack(states, dim=1)  # (B, T, H)
    return model.readout(inputs[:, -1]), first_layer_states  # (B, C)


def _unroll_layer(layer, config, inputs: torch.Tensor) -> list[torch.Tensor]:
    """One single-layer module over inputs (B, T, I); returns h_t (B, H) for each step."""
    size = config.hidden_size
    w_hh, b_hh = layer.weight_hh_l0, layer.bias_hh_l0
    # the input side of every step at once; only the recurrence needs a loop
    projected = inputs @ layer.weight_ih_l0.T + layer.bias_ih_l0  # (B, T, G*H)
    h = inputs.new_zeros(inputs.shape[0], size)  # (B, H)
    c = torch.zeros_like(h)  # LSTM cell state
    states = []
    for t in range(inputs.shape[1]):
        x_proj = projected[:, t]  # (B, G*H)
        h_proj = h @ w_hh.T + b_hh  # (B, G*H)
        if config.cell == "rnn":
            act = torch.tanh if config.nonlinearity == "tanh" else torch.relu
            h = act(x_proj + h_proj)
        elif config.cell == "lstm":
            i, f, g, o = (x_proj + h_proj).split(size, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        else:
            x_r, x_z, x_n = x_proj.split(size, dim=1)
            h_r, h_z, h_n = h_proj.split(size, dim=1)
            r = torch.sigmoid(x_r + h_r)
            z = torch.sigmoid(x_z + h_z)
            h = (1 - z) * torch.tanh(x_n + r * h_n) + z * h
        states.append(h)
    return states


def step_gradients(model: RowClassifier, probe: DigitSet) -> list[float] | None:
    """Mean over the probe digits of |dLoss/dh_t| for each step t = 1..T, as plain floats.

    Each digit's own loss is used (a sum, not a mean), so the sizes do not depend on how many
    digits the probe has. Only the hidden states get gradients: the weights' .grad is left
    alone, so measuring changes nothing in the run. None when the sizes are not finite (a
    run blowing up) or there are no digits."""
    if len(probe) == 0:
        return None
    totals = torch.zeros(model.config.seq_len, dtype=torch.float64)  # (T,)
    for images, labels in zip(
        probe.images.split(probe_chunk(model)), probe.labels.split(probe_chunk(model)), strict=True
    ):
        totals += _chunk_gradient_norms(model, images.float() / 255, labels)
    sizes = totals / len(probe)  # (T,)
    if not torch.isfinite(sizes).all():
        return None
    return sizes.tolist()


def _chunk_gradient_norms(model, images, labels) -> torch.Tensor:
    """Sum over the digits of |dLoss_i/dh_t| for each step: (T,)."""
    with torch.enable_grad():
        logits, states = unrolled_forward(model, images)  # (B, C), T x (B, H)
        loss = F.cross_entropy(logits, labels, reduction="sum")
        grads = torch.autograd.grad(loss, states)  # T x (B, H)
    return torch.stack([g.norm(dim=1).sum() for g in grads]).double()  # (T,)

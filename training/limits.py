"""How much memory one training run needs, and how much a small shared server can give it.

Streamlit Community Cloud gives an app about 1 GB, and the app itself takes about 350 MB of it
(torch, Streamlit, the data, the bundled models, the libraries a first training step loads),
and 100 MB is set aside for the models visitors keep after their runs and uploads
(`training.model_shelf`). The rest is shared by the runs going at once (`training.run_queue`),
so the budget of one run follows that limit. A run over its budget is refused before it
starts: a server killed for memory halfway through takes every visitor's session down with it.

The figures below were measured as peak resident memory of a fresh process around two Adam steps
and one evaluation pass (CPU, torch 2.x); the estimate is rough, within about a fifth.
"""

from rnn_model import ModelConfig

SERVER_MEMORY_MB = 1024
APP_MEMORY_MB = 350  # the idle server (344 MB, bench/memory_idle.py) and a first backward pass
# The models visitors keep after a run or an upload, all sessions together
# (training.model_shelf lets go of the least recently used beyond this).
KEPT_MODELS_MB = 100

FLOATS_KEPT = {"rnn": 6, "gru": 12, "lstm": 18}  # per unit and step, kept for backprop
GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # weight blocks per layer
WEIGHT_COPIES = (
    5  # weights, gradients, Adam's two moments, the last weights that gave a finite loss
)

# Evaluation needs no gradients but goes through many digits at once: the cells precompute
# every step's input gates for the whole chunk. Bytes per digit and hidden unit, all 28 steps.
EVAL_BYTES_PER_UNIT = {"rnn": 400, "gru": 660, "lstm": 420}
EVAL_CHUNK_MB = 64  # evaluation goes in chunks of digits that need about this much
MAX_EVAL_CHUNK = 1000


def run_budget_mb(max_runs: int) -> float:
    """Memory one run may use when `max_runs` go at once: what the app and the kept models
    leave, shared evenly."""
    if max_runs < 1:
        raise ValueError(f"max_runs must be at least 1, not {max_runs}")
    return (SERVER_MEMORY_MB - APP_MEMORY_MB - KEPT_MODELS_MB) / max_runs


def parameter_count(config: ModelConfig) -> int:
    """Weights and biases of the network `config` describes, without building it."""
    h, g = config.hidden_size, GATES[config.cell]
    count = 0
    for layer in range(config.num_layers):
        size_in = config.input_size if layer == 0 else h
        count += g * h * (size_in + h) + 2 * g * h  # weight_ih, weight_hh, two biases
    return count + h * config.num_classes + config.num_classes  # the readout


def eval_chunk(config: ModelConfig) -> int:
    """Digits per forward pass when measuring accuracy, so a wide network stays in budget."""
    per_digit = config.hidden_size * EVAL_BYTES_PER_UNIT[config.cell]
    return max(1, min(MAX_EVAL_CHUNK, EVAL_CHUNK_MB * 2**20 // per_digit))


def estimated_memory_mb(config: ModelConfig, batch_size: int) -> float:
    """Rough peak memory of a run beyond the idle app: the larger of a training step's
    activations and an evaluation chunk's, plus the weights and their copies."""
    units = config.seq_len * batch_size * config.hidden_size * config.num_layers
    training = units * FLOATS_KEPT[config.cell] * 4
    # without gradients one layer's outputs are freed as the next layer reads them
    evaluation = eval_chunk(config) * config.hidden_size * EVAL_BYTES_PER_UNIT[config.cell]
    weights = WEIGHT_COPIES * 4 * parameter_count(config)
    return (max(training, evaluation) + weights) / 2**20

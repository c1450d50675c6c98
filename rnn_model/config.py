"""The configuration of a row-by-row classifier, saved inside every model file."""

from dataclasses import asdict, dataclass, fields

CELLS = ("rnn", "lstm", "gru")
NONLINEARITIES = ("tanh", "relu")
READING_ORDERS = ("rows", "rows_reversed", "columns")

# Bounds on what a config may ask for, so a model file cannot make the app allocate gigabytes.
MAX_HIDDEN_SIZE = 1024
MAX_LAYERS = 4


@dataclass(frozen=True)
class ModelConfig:
    cell: str = "gru"  # recurrent cell: "rnn", "lstm" or "gru"
    nonlinearity: str = "tanh"  # vanilla RNN only: "tanh" or "relu"
    hidden_size: int = 128  # units in each layer's hidden state h_t
    num_layers: int = 1  # stacked recurrent layers
    input_size: int = 28  # pixels fed at each step (one row)
    seq_len: int = 28  # steps per digit (rows)
    num_classes: int = 10  # digits 0-9
    reading_order: str = "rows"  # "rows" top to bottom, "rows_reversed", or "columns"

    def __post_init__(self):
        problems = config_problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        """Build a config from plain values, refusing unknown keys and wrong types."""
        if not isinstance(values, dict):
            raise ValueError("the model config is not a JSON object")
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"the model config has unknown fields: {', '.join(unknown)}")
        for name, value in values.items():
            expected = int if known[name] in (int, "int") else str
            if type(value) is not expected:
                raise ValueError(f"the model config field {name!r} should be {expected.__name__}")
        return cls(**values)


def config_problems(config: ModelConfig) -> list[str]:
    """Every way a config is unusable, said so a person can fix it."""
    problems = []
    if config.cell not in CELLS:
        problems.append(f"cell must be one of {', '.join(CELLS)}, not {config.cell!r}")
    if config.nonlinearity not in NONLINEARITIES:
        problems.append(f"nonlinearity must be tanh or relu, not {config.nonlinearity!r}")
    if not 1 <= config.hidden_size <= MAX_HIDDEN_SIZE:
        problems.append(f"hidden_size must be between 1 and {MAX_HIDDEN_SIZE}")
    if not 1 <= config.num_layers <= MAX_LAYERS:
        problems.append(f"num_layers must be between 1 and {MAX_LAYERS}")
    if (config.input_size, config.seq_len, config.num_classes) != (28, 28, 10):
        problems.append("input_size, seq_len and num_classes must be 28, 28 and 10 for MNIST")
    if config.reading_order not in READING_ORDERS:
        problems.append(f"reading_order must be one of {', '.join(READING_ORDERS)}")
    return problems

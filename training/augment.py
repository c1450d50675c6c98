"""Small random distortions of a batch, so a model trained on 4,500 digits copes with drawings."""

import math

import torch
from torch.nn import functional as F


def random_affine(
    images: torch.Tensor,  # (B, 28, 28) float in [0, 1]
    generator: torch.Generator,
    max_degrees: float = 12.0,
    max_shift: float = 2.0,  # pixels
    scale_range: tuple[float, float] = (0.9, 1.1),
    max_shear: float = 0.15,
) -> torch.Tensor:
    """Rotate, scale, shear and shift each digit a little, each by its own random amount."""
    batch = images.shape[0]

    def uniform(low, high):
        return torch.rand(batch, generator=generator) * (high - low) + low

    angle = uniform(-max_degrees, max_degrees) * math.pi / 180
    scale = uniform(*scale_range)
    shear = uniform(-max_shear, max_shear)
    shift = uniform(-max_shift, max_shift) * 2 / 28, uniform(-max_shift, max_shift) * 2 / 28

    # affine_grid maps output to input coordinates, so this is the inverse transform.
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin + shear, shift[0]], dim=1),
            torch.stack([sin, cos, shift[1]], dim=1),
        ],
        dim=1,
    )  # (B, 2, 3)
    grid = F.affine_grid(theta, (batch, 1, 28, 28), align_corners=False)
    return F.grid_sample(images[:, None], grid, align_corners=False, padding_mode="zeros")[:, 0]

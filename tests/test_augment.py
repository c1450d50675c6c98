import torch

from training.augment import random_affine
from training.data import load_sample


def test_augmentation_moves_the_ink_a_little_and_keeps_the_digit():
    images = load_sample().images[::500].float() / 255  # one digit of each class
    out = random_affine(images, torch.Generator().manual_seed(0))

    assert out.shape == images.shape
    assert out.min() >= 0 and out.max() <= 1
    changed = (out - images).abs().mean(dim=(1, 2))
    assert (changed > 0.01).all()  # every digit was moved
    # The amount of ink stays within the squared scale range (0.9-1.1) plus resampling blur.
    ratio = out.sum(dim=(1, 2)) / images.sum(dim=(1, 2))
    assert ((ratio > 0.75) & (ratio < 1.3)).all()
    # And it still looks like itself: strongly correlated with the original.
    a = images.flatten(1) - images.flatten(1).mean(1, keepdim=True)
    b = out.flatten(1) - out.flatten(1).mean(1, keepdim=True)
    correlation = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
    assert (correlation > 0.3).all()


def test_the_same_generator_seed_gives_the_same_distortion():
    images = load_sample().images[:8].float() / 255
    first = random_affine(images, torch.Generator().manual_seed(3))
    second = random_affine(images, torch.Generator().manual_seed(3))
    assert torch.equal(first, second)

"""Shared setup of the shipped-GAN tests: skip when a model is not shipped; sample a shipped
generator and load the shipped predictor that judges it."""

import pytest
import torch

import latentatlas
from latentatlas.io.registry import available_models


def requires_shipped(*names: str):
    """A skip mark for tests that need every zoo model in ``names``."""
    missing = sorted(set(names) - set(available_models()))
    return pytest.mark.skipif(bool(missing), reason=f"not shipped: {', '.join(missing)}")


def shipped_samples(generator: str, predictor: str, n: int, seed: int):
    """(images [n, C, H, W] in [-1, 1], predictor in eval mode): ``n`` samples of shipped
    ``generator`` from its most specific latent space (w+ for StyleGAN2, z otherwise), noise
    fixed, and the shipped ``predictor``."""
    g = latentatlas.load(generator).eval()
    space = "wp" if "wp" in g.spaces else "z"
    with torch.no_grad():
        latent = g.sample(n, space=space, rng=seed)
        images = g.synthesize(latent, space=space, noise_mode="const").float().clamp(-1, 1)
    return images, latentatlas.load(predictor).eval()

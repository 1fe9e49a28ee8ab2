"""Random number handling: every random choice takes an explicit numpy Generator (or a seed)."""

from __future__ import annotations

import numpy as np
import torch


def check_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Return a numpy Generator. An int is a seed; None means seed 0 (reproducible by default)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a numpy.random.Generator, an int seed or None, not {type(rng).__name__}"
    )


def torch_generator(rng: np.random.Generator | int | None, device: str | torch.device = "cpu"):
    """A torch.Generator seeded from a numpy Generator (consumes one draw) or a seed."""
    seed = int(check_rng(rng).integers(0, 2**63 - 1))
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g

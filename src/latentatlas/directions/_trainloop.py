"""The training loop shared by the trained walks (GANalyze, steerability): Adam, a progress bar
with the loss, checkpoints written atomically, exact resume.

Each step draws its batch from a torch generator seeded with ``(seed, step)``, so a run resumed
from a checkpoint sees the same batches as an uninterrupted one and ends with the same weights.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from latentatlas.utils.atomic import atomic_path
from latentatlas.utils.errors import CheckpointError

CHECKPOINT_NAME = "train_state.pt"


def step_generator(seed: int, step: int) -> torch.Generator:
    """The torch generator of one training step (a function of the seed and the step only)."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(step)) % (2**63 - 1))


def train_walk(
    module: torch.nn.Module,
    loss_fn: Callable[[torch.Generator], torch.Tensor],
    *,
    steps: int,
    lr: float,
    seed: int,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 50,
    progress: bool = False,
    desc: str = "walk",
    betas: tuple[float, float] = (0.9, 0.999),
) -> list[float]:
    """Train ``module``'s parameters for ``steps`` Adam steps on ``loss_fn(step_generator)``.

    ``checkpoint``: a folder; the state (weights, optimiser, step, losses) is written there every
    ``checkpoint_every`` steps and at the end, and a later call with the same folder continues
    from it (a finished run returns at once). Returns the loss of every step.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, betas=betas)
    losses: list[float] = []
    start = 0
    path = None if checkpoint is None else Path(checkpoint) / CHECKPOINT_NAME
    if path is not None and path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            module.load_state_dict(state["module"])
            opt.load_state_dict(state["optimizer"])
            start, losses = int(state["step"]), [float(v) for v in state["losses"]]
        except (RuntimeError, KeyError, ValueError) as e:
            raise CheckpointError(f"{path}: cannot resume from this checkpoint ({e})") from e
        if int(state.get("seed", seed)) != int(seed):
            raise CheckpointError(f"{path}: written with seed {state.get('seed')}, not {seed}")

    def save(step: int) -> None:
        if path is None:
            return
        with atomic_path(path) as tmp:
            torch.save({"module": module.state_dict(), "optimizer": opt.state_dict(),
                        "step": step, "losses": losses, "seed": int(seed)}, tmp)

    bar = tqdm(range(start, steps), desc=desc, disable=not progress, initial=start, total=steps)
    for step in bar:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(step_generator(seed, step))
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.4g}")
        if (step + 1) % checkpoint_every == 0:
            save(step + 1)
    if path is not None and start < steps:
        save(steps)
    return losses


def uniform(gen: torch.Generator, shape: Any, lo: float, hi: float) -> torch.Tensor:
    """U(lo, hi) samples drawn from ``gen``."""
    return lo + (hi - lo) * torch.rand(shape, generator=gen)

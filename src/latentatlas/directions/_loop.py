"""The optimisation loop the trained direction finders share (latent discovery, Hessian /
OroJaR discovery, LatentCLR): per-step seeds, a progress bar with the running metric, atomic
checkpoints and exact resume, NaN guard and run record.

Every random draw of step t comes from a torch.Generator seeded by (seed, t), so a run resumed
from its checkpoint (modules, optimisers, history) gives bit-identical results to an
uninterrupted one. ``n_steps`` may grow between sittings (the checkpoint's settings must
otherwise match: :func:`settings_fingerprint`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from latentatlas.training.checkpoint import (
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from latentatlas.utils.errors import CheckpointError, LatentAtlasError
from latentatlas.utils.fingerprint import hash_json, module_fingerprint
from latentatlas.utils.rng import check_rng

#: Settings that may change between sittings of one run (they do not change the result).
RESUMABLE_KEYS = ("n_steps", "progress", "out_dir", "checkpoint_every", "eval_every")


class DiscoveryDivergedError(LatentAtlasError):
    """A discovery loss became NaN / Inf; the run stopped (the last checkpoint is kept)."""


def seed_of(rng: Any) -> int:
    """An int seed from fit's ``rng`` (an int, a numpy Generator or None = 0)."""
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return int(rng)
    return int(check_rng(rng).integers(0, 2**31 - 1))


def step_generator(seed: int, step: int, phase: int = 0) -> torch.Generator:
    """The torch.Generator of step ``step`` (and phase) of a run seeded ``seed``."""
    state = np.random.SeedSequence([int(seed), int(step), int(phase)]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def settings_fingerprint(params: Mapping[str, Any], generator: torch.nn.Module,
                         seed: int) -> str:
    """Hash of the settings a checkpoint must share with the run that resumes it."""
    kept = {k: v for k, v in params.items() if k not in RESUMABLE_KEYS}
    return hash_json({"params": kept, "seed": seed, "generator": module_fingerprint(generator)})


def run_loop(
    *,
    step_fn: Callable[[int], dict[str, float]],
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    n_steps: int,
    fingerprint: str,
    out_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 500,
    progress: bool = True,
    desc: str = "discovery",
    running: str = "loss",
    eval_fn: Callable[[int], dict[str, float]] | None = None,
    eval_every: int = 0,
    keep: int = 2,
) -> list[dict[str, float]]:
    """Run ``step_fn(step)`` for steps [start, n_steps), resuming from ``out_dir``'s newest
    checkpoint; returns the history (one dict per logged step, resumed entries included).

    ``step_fn`` does one optimisation step and returns its metrics (``loss`` is checked for
    NaN / Inf). ``running``: the metric shown as an exponential running mean on the bar.
    ``eval_fn(step)`` runs every ``eval_every`` steps and at the end; its metrics join the
    history and the bar.
    """
    history: list[dict[str, float]] = []
    start = 0
    folder = Path(out_dir) if out_dir is not None else None
    if folder is not None:
        found = list_checkpoints(folder)
        if found:
            step0, path = found[-1]
            state = load_checkpoint(path)
            if state.get("fingerprint") != fingerprint:
                raise CheckpointError(
                    f"{path}: this checkpoint belongs to a run with other settings, generator or "
                    "seed; use another out_dir (or the same settings) to resume"
                )
            for name, module in modules.items():
                module.load_state_dict(state["modules"][name])
            for name, opt in optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
            history = list(state.get("history", []))
            start = int(step0)

    def save(step: int) -> None:
        if folder is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        state = {
            "fingerprint": fingerprint,
            "step": step,
            "modules": {n: m.state_dict() for n, m in modules.items()},
            "optimizers": {n: o.state_dict() for n, o in optimizers.items()},
            "history": history,
        }
        save_checkpoint(state, checkpoint_path(folder, step))
        prune_checkpoints(folder, keep)

    run_mean = None
    bar = tqdm(range(start, n_steps), desc=desc, disable=not progress, initial=start,
               total=n_steps, dynamic_ncols=True)
    last_eval: dict[str, float] = {}
    for step in bar:
        metrics = step_fn(step)
        loss = metrics.get("loss", 0.0)
        if not math.isfinite(loss):
            raise DiscoveryDivergedError(
                f"{desc}: the loss became {loss} at step {step}"
                + (f"; the last good checkpoint is kept in {folder}" if folder else "")
            )
        value = metrics.get(running, loss)
        run_mean = value if run_mean is None else 0.98 * run_mean + 0.02 * value
        done = step + 1
        entry = {"step": done, **metrics}
        evaluated = eval_fn is not None and eval_every > 0 and (
            done % eval_every == 0 or done == n_steps)
        if evaluated:
            last_eval = eval_fn(done)
            entry.update(last_eval)
        if done % 50 == 0 or done == n_steps or evaluated:
            history.append(entry)
        bar.set_postfix({running: f"{run_mean:.3f}", **{k: f"{v:.3f}" for k, v in
                                                         last_eval.items()}}, refresh=False)
        if folder is not None and (done % checkpoint_every == 0 or done == n_steps):
            save(done)
    bar.close()
    if eval_fn is not None and (eval_every <= 0 or start >= n_steps):
        entry = {"step": max(start, n_steps), **eval_fn(max(start, n_steps))}
        history.append(entry)
    return history


__all__ = [
    "DiscoveryDivergedError",
    "RESUMABLE_KEYS",
    "run_loop",
    "seed_of",
    "settings_fingerprint",
    "step_generator",
]

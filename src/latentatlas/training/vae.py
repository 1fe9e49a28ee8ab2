"""Training loop for the VAE family: Adam, streaming batches, bf16 autocast, exact resume.

``train_vae(model, objective, data, out_dir, config)`` trains on a :class:`GroundTruthData`
(fresh batches from ``data.sample_observations(n, rng)``) or on an NHWC float array in [0, 1]
(batches drawn with replacement). It writes into ``out_dir``:

- ``checkpoint.safetensors``: model, optimiser(s), both RNG states, step and cumulative train
  time, written atomically every ``checkpoint_every`` steps and at the end. ``resume=True``
  continues from it and gives bit-identical weights to an uninterrupted run of the same total steps.
- ``log.jsonl``: one JSON line per ``log_every`` steps (losses, KL, images/s).
- ``model/``: the final model folder (config.json + model.safetensors), loadable with
  ``latentatlas.load``.
- ``run.json``: resolved config, seed, versions and final metrics.

Checkpoints use :mod:`latentatlas.training.checkpoint` (one safetensors file, no pickle).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentatlas.data.base import GroundTruthData
from latentatlas.io.persistence import save_model
from latentatlas.models.vae import VAE
from latentatlas.training.checkpoint import load_checkpoint as _load_checkpoint_file
from latentatlas.training.checkpoint import save_checkpoint
from latentatlas.training.vae_losses import FactorVAE, Objective, gaussian_kl
from latentatlas.utils.atomic import trim_jsonl_log
from latentatlas.utils.errors import CheckpointError, DataError, ShapeError
from latentatlas.utils.runinfo import write_run_record

CHECKPOINT_NAME = "checkpoint.safetensors"
LOG_NAME = "log.jsonl"
MODEL_DIR = "model"


@dataclass
class VAETrainConfig:
    """Training settings (disentanglement_lib's defaults: Adam 1e-4, batch 64)."""

    steps: int = 10_000
    batch_size: int = 64
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    seed: int = 0
    bf16: bool = False
    checkpoint_every: int = 1_000
    log_every: int = 100

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d


class _BatchSource:
    """Yields NCHW float32 batches from a GroundTruthData or an NHWC array, driven by ``rng``."""

    def __init__(self, data: GroundTruthData | np.ndarray, model: VAE):
        expected = (model.image_size, model.image_size, model.channels)
        if isinstance(data, GroundTruthData):
            if tuple(data.observation_shape) != expected:
                raise ShapeError(
                    f"data {data.name!r} has observation_shape {tuple(data.observation_shape)}, "
                    f"the model expects {expected}"
                )
            self.data: GroundTruthData | np.ndarray = data
            self.name = data.name
        else:
            arr = np.asarray(data)
            if arr.ndim == 3 and model.channels == 1:
                arr = arr[..., None]
            if arr.ndim != 4 or tuple(arr.shape[1:]) != expected:
                raise ShapeError(f"data array must be NHWC {expected}, got shape {arr.shape}")
            if arr.shape[0] == 0:
                raise DataError("data array is empty")
            if not np.issubdtype(arr.dtype, np.floating):
                raise DataError(f"data array must be float in [0, 1], got dtype {arr.dtype}")
            if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
                raise DataError("data array must be finite and in [0, 1]")
            self.data = arr
            self.name = f"array{list(arr.shape)}"

    def batch(self, n: int, rng: np.random.Generator) -> torch.Tensor:
        if isinstance(self.data, GroundTruthData):
            x = self.data.sample_observations(n, rng)
        else:
            x = self.data[rng.integers(0, self.data.shape[0], size=n)]
        x = np.asarray(x, np.float32).transpose(0, 3, 1, 2)
        return torch.from_numpy(np.ascontiguousarray(x))


def _vae_step(
    model: VAE,
    objective: Objective,
    x: torch.Tensor,
    step: int,
    generator: torch.Generator,
    bf16: bool,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """Forward pass and loss. Returns (loss, sampled codes, scalars to log)."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        mu, logvar = model.encode(x)
    # The Gaussian sampling and every loss term run in float32 whatever the autocast setting.
    mu, logvar = mu.float(), logvar.float()
    z = model.reparameterize(mu, logvar, generator)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model.decode(z)
    recon = model.reconstruction_loss(x, logits).mean()
    kl = gaussian_kl(mu, logvar).mean()
    reg, extra = objective.regulariser(kl, mu, logvar, z, step, generator)
    loss = recon + reg
    scalars = {"loss": float(loss.detach()), "recon": float(recon.detach()),
               "kl": float(kl.detach()), **extra}
    return loss, z, scalars


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a VAE trainer checkpoint (safetensors; nothing is unpickled)."""
    state = _load_checkpoint_file(path)
    if not isinstance(state, dict) or "step" not in state or "model" not in state:
        raise CheckpointError(f"{path}: not a latentatlas VAE trainer checkpoint")
    return state


def train_vae(
    model: VAE,
    objective: Objective,
    data: GroundTruthData | np.ndarray,
    out_dir: str | os.PathLike,
    config: VAETrainConfig | None = None,
    resume: bool = False,
    progress: bool = True,
    command: str = "train_vae",
    save_final: bool = True,
) -> dict[str, Any]:
    """Train ``model`` with ``objective`` for ``config.steps`` steps; returns the final metrics.

    With ``resume=True`` and a checkpoint in ``out_dir``, training continues from it (the
    checkpoint must come from the same objective and batch size); without a checkpoint it starts
    from scratch. Without ``resume`` an existing checkpoint is an error (nothing is overwritten).
    """
    from tqdm.auto import tqdm

    config = config or VAETrainConfig()
    if config.steps < 0 or config.batch_size < 1:
        raise ValueError(f"steps must be >= 0 and batch_size >= 1, got {config}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path = out_dir / CHECKPOINT_NAME, out_dir / LOG_NAME
    source = _BatchSource(data, model)

    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)
    d_optimizer = objective.make_optimizer() if isinstance(objective, FactorVAE) else None
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    step, train_seconds = 0, 0.0
    objective_config = objective.config()

    from latentatlas.utils.outputs import remove_stale_temporaries

    if resume:
        remove_stale_temporaries(out_dir)  # left by a killed write (SIGKILL cannot be caught)
    if ckpt_path.is_file() and not resume:
        raise CheckpointError(
            f"{ckpt_path} exists; pass resume=True (--resume) to continue it or choose another out"
        )
    if resume and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        saved_obj = json.loads(state["objective"])
        if saved_obj.get("objective") != objective_config["objective"]:
            raise CheckpointError(
                f"{ckpt_path}: was trained with objective {saved_obj.get('objective')!r}, "
                f"not {objective_config['objective']!r}"
            )
        if int(state["batch_size"]) != config.batch_size:
            raise CheckpointError(
                f"{ckpt_path}: batch size {int(state['batch_size'])} != {config.batch_size}"
            )
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            if d_optimizer is not None:
                objective.discriminator.load_state_dict(state["discriminator"])  # type: ignore[attr-defined]
                d_optimizer.load_state_dict(state["d_optimizer"])
        except (RuntimeError, KeyError, ValueError) as e:
            raise CheckpointError(f"{ckpt_path}: does not fit this model ({e})") from e
        rng.bit_generator.state = json.loads(state["numpy_rng"])
        generator.set_state(state["torch_rng"])
        step = int(state["step"])
        train_seconds = float(state["train_seconds"])
        trim_jsonl_log(log_path, step)
    elif log_path.exists():  # a fresh start: drop a stale log of an earlier, unfinished run
        log_path.unlink()

    def checkpoint() -> None:
        state = {
            "step": step,
            "batch_size": config.batch_size,
            "train_seconds": train_seconds,
            "objective": json.dumps(objective_config),
            "config": json.dumps(config.to_dict()),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "numpy_rng": json.dumps(rng.bit_generator.state),
            "torch_rng": generator.get_state(),
        }
        if d_optimizer is not None:
            state["discriminator"] = objective.discriminator.state_dict()  # type: ignore[attr-defined]
            state["d_optimizer"] = d_optimizer.state_dict()
        save_checkpoint(state, ckpt_path)

    last: dict[str, float] = {}
    window_images, window_start = 0, time.perf_counter()
    bar = tqdm(total=config.steps, initial=min(step, config.steps), disable=not progress,
               desc=f"{objective_config['objective']}", unit="step", dynamic_ncols=True)
    with open(log_path, "a", encoding="utf-8") as log:
        while step < config.steps:
            t0 = time.perf_counter()
            x = source.batch(config.batch_size, rng)
            loss, z, scalars = _vae_step(model, objective, x, step, generator, config.bf16)
            if not np.isfinite(scalars["loss"]):
                raise FloatingPointError(
                    f"loss became {scalars['loss']} at step {step}; lower lr or disable bf16"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if d_optimizer is not None:
                # Same batch, detached codes (disentanglement_lib updates both on one forward pass;
                # the VAE loss's gradient in the discriminator is discarded here).
                d_optimizer.zero_grad(set_to_none=True)
                d_loss, d_scalars = objective.discriminator_loss(z, generator)  # type: ignore[attr-defined]
                d_loss.backward()
                scalars.update(d_scalars)
            optimizer.step()
            if d_optimizer is not None:
                d_optimizer.step()
            step += 1
            train_seconds += time.perf_counter() - t0
            window_images += config.batch_size
            last = scalars
            if step % config.log_every == 0 or step == config.steps:
                elapsed = time.perf_counter() - window_start
                ips = window_images / max(elapsed, 1e-9)
                record = {"step": step, **{k: round(v, 6) for k, v in scalars.items()},
                          "images_per_s": round(ips, 1)}
                log.write(json.dumps(record) + "\n")
                log.flush()
                bar.set_postfix(loss=f"{scalars['loss']:.1f}", kl=f"{scalars['kl']:.2f}",
                                img_s=f"{ips:.0f}")
                window_images, window_start = 0, time.perf_counter()
            bar.update(1)
            if step % config.checkpoint_every == 0 or step == config.steps:
                checkpoint()
    bar.close()
    if not ckpt_path.is_file():
        checkpoint()
    if not last and log_path.is_file():
        # Nothing left to train (resumed at the end): report the last logged losses.
        lines = log_path.read_text("utf-8").splitlines()
        if lines:
            last = {k: v for k, v in json.loads(lines[-1]).items()
                    if k not in ("step", "images_per_s")}

    metrics = {
        "final_step": step,
        "train_seconds": round(train_seconds, 2),
        "images_per_s": round(step * config.batch_size / max(train_seconds, 1e-9), 1),
        **{f"final_{k}": v for k, v in last.items()},
    }
    metadata = {"objective": objective_config, "train": config.to_dict(), "data": source.name,
                "steps": step}
    if save_final:
        save_model(model, out_dir / MODEL_DIR, metadata=metadata)
    write_run_record(out_dir, command=command,
                     config={**metadata, "model": model.init_kwargs}, seed=config.seed,
                     metrics=metrics)
    model.eval()
    return metrics

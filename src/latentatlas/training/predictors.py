"""Training and evaluation of :class:`~latentatlas.models.predictors.AttributePredictor` models.

Data are in-memory arrays: ``images`` uint8 NHWC (or float32 NHWC in [0, 1]) and ``targets``
float32 [N, num_heads], one column per head: 0/1 for binary heads, the class index for multiclass
heads, the value for regression heads. A NaN target means "label missing" and is left out of the
loss and the metrics.

:func:`train_predictor` writes into ``out_dir``:

- ``checkpoint.safetensors`` (model, optimiser, best weights, early-stopping state; atomic, no
  pickle). ``resume=True`` continues from it; every batch and augmentation is a function of
  (seed, step) only, so a resumed run sees exactly the batches an uninterrupted run sees.
- ``log.jsonl``: train loss / images per second every ``log_every`` steps and validation metrics at
  every evaluation.
- ``model/``: the best model on the validation split (config.json + model.safetensors).
- ``run.json``: resolved config, seed, versions and metrics.

Training: Adam with a cosine learning-rate decay, optional horizontal flips and small integer
shifts (faces), evaluation on the validation split every ``eval_every`` steps, early stopping after
``patience`` evaluations without a lower validation loss; the best weights are kept.

Recipes (:func:`train_recipe`) bind this to the real data sets: ``celeba`` (40 attributes,
held-out split by image order), ``mnist`` (official test set), ``dsprites`` and ``shapes3d``
(procedural renderers: one multiclass head per ground-truth factor; positions are classified over
their 32 grid values rather than regressed, so every factor gets the same accuracy measure).

Over 600 lines: one trainer plus its four data-set recipes and their evaluations.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from latentatlas.data.dsprites import SYMMETRY_PERIODS
from latentatlas.io.cards import save_model_card
from latentatlas.io.images import to_model_images
from latentatlas.io.persistence import save_model
from latentatlas.models.predictors import AttributePredictor
from latentatlas.training.checkpoint import load_checkpoint, save_checkpoint
from latentatlas.utils.atomic import atomic_write_json, trim_jsonl_log
from latentatlas.utils.errors import CheckpointError, DataError, ShapeError
from latentatlas.utils.hardware import resolve_bf16
from latentatlas.utils.runinfo import environment_info, write_run_record

CHECKPOINT_NAME = "checkpoint.safetensors"
LOG_NAME = "log.jsonl"
MODEL_DIR = "model"


@dataclass
class PredictorTrainConfig:
    """Training settings for :func:`train_predictor`."""

    steps: int = 4000
    batch_size: int = 64
    lr: float = 2e-3
    min_lr_ratio: float = 0.02  # cosine decay from lr to lr * min_lr_ratio over `steps`
    weight_decay: float = 0.0  # L2 term of Adam
    hflip: bool = False  # random horizontal flips (faces; not digits or sprites)
    max_shift: int = 0  # random integer shifts in [-max_shift, max_shift] pixels (edge-replicated)
    eval_every: int = 250
    patience: int = 6  # evaluations without a lower validation loss before stopping (0: never)
    log_every: int = 50
    seed: int = 0
    # bfloat16 autocast + channels_last for training; "auto": only where bf16 is native (AMX).
    bf16: bool | str = "auto"
    eval_batch_size: int = 256
    # Optional wall-clock budget for the training steps (seconds). The cosine schedule then
    # follows whichever of steps / time runs out first, and training stops when it is spent.
    # Runs with a budget are not bit-reproducible (the schedule depends on measured time).
    max_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- data helpers
def check_arrays(
    images: np.ndarray, targets: np.ndarray, model: AttributePredictor, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Validate an (images NHWC, targets [N, heads]) pair against ``model``."""
    images = np.asarray(images)
    targets = np.asarray(targets, dtype=np.float32)
    if targets.ndim == 1 and len(model.heads) == 1:
        targets = targets[:, None]
    if images.ndim != 4 or images.shape[-1] != model.in_channels:
        raise ShapeError(
            f"{name} images must be NHWC with {model.in_channels} channel(s), got {images.shape}"
        )
    if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
        raise ShapeError(f"{name} images must be uint8 or float in [0, 1], got {images.dtype}")
    if targets.shape != (len(images), len(model.heads)):
        raise ShapeError(
            f"{name} targets must have shape [{len(images)}, {len(model.heads)}] (one column per "
            f"head: {model.head_names}), got {targets.shape}"
        )
    for j, h in enumerate(model.heads):
        col = targets[:, j]
        known = col[~np.isnan(col)]
        if h["kind"] == "binary" and not np.isin(known, (0.0, 1.0)).all():
            raise DataError(f"{name} targets for binary head {h['name']!r} must be 0/1 (or NaN)")
        if h["kind"] == "multiclass" and (
            (known != np.round(known)).any() or (known < 0).any()
            or (known >= h["num_classes"]).any()
        ):
            raise DataError(
                f"{name} targets for head {h['name']!r} must be class indices in "
                f"[0, {h['num_classes']})"
            )
        if h["kind"] == "regression" and not np.isfinite(known).all():
            raise DataError(f"{name} targets for regression head {h['name']!r} contain Inf")
    return images, targets


def augment_batch(
    x: torch.Tensor, rng: np.random.Generator, hflip: bool, max_shift: int
) -> torch.Tensor:
    """Random horizontal flips (p = 0.5) and integer shifts (edge-replicated) per sample."""
    n = x.shape[0]
    if hflip:
        flip = torch.from_numpy(rng.random(n) < 0.5)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if max_shift > 0:
        s = max_shift
        shifts = rng.integers(-s, s + 1, size=(n, 2))
        padded = F.pad(x, (s, s, s, s), mode="replicate")
        h, w = x.shape[-2:]
        x = torch.stack(
            [padded[i, :, s + dy : s + dy + h, s + dx : s + dx + w] for i, (dy, dx) in
             enumerate(shifts.tolist())]
        )
    return x


def _batch_indices(step: int, batch_size: int, n: int, seed: int) -> np.ndarray:
    """Indices of batch ``step``: consecutive slices of per-epoch permutations seeded by
    (seed, epoch), so the batch sequence depends on (seed, step) only."""
    pos = np.arange(step * batch_size, (step + 1) * batch_size, dtype=np.int64)
    epochs, offsets = pos // n, pos % n
    out = np.empty_like(pos)
    for e in np.unique(epochs):
        perm = np.random.default_rng([seed, 7, int(e)]).permutation(n)
        sel = epochs == e
        out[sel] = perm[offsets[sel]]
    return out


# --------------------------------------------------------------------------- loss and metrics
def predictor_loss(
    model: AttributePredictor, logits: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Mean over heads of each head's loss (BCE / cross-entropy / MSE); NaN targets are ignored."""
    losses = []
    slices = model.head_slices()
    binary_cols = [j for j, h in enumerate(model.heads) if h["kind"] == "binary"]
    if binary_cols:
        # All binary heads in one vectorised BCE (CelebA has 40 of them).
        cols = [slices[model.heads[j]["name"]].start for j in binary_cols]
        logit_b, target_b = logits[:, cols], targets[:, binary_cols]
        mask = ~torch.isnan(target_b)
        per = F.binary_cross_entropy_with_logits(
            logit_b, torch.nan_to_num(target_b), reduction="none"
        )
        per_head = (per * mask).sum(0) / mask.sum(0).clamp_min(1)
        losses.append(per_head)
    for j, h in enumerate(model.heads):
        if h["kind"] == "binary":
            continue
        t = targets[:, j]
        mask = ~torch.isnan(t)
        if not mask.any():
            losses.append(logits.new_zeros(1))
            continue
        out = logits[mask, slices[h["name"]]]
        if h["kind"] == "multiclass":
            losses.append(F.cross_entropy(out, t[mask].long()).reshape(1))
        else:
            # MSE in standardised units, so a head's loss does not depend on its target scale.
            scale = model.output_scale[slices[h["name"]].start]
            losses.append(F.mse_loss(out[:, 0] / scale, t[mask] / scale).reshape(1))
    return torch.cat(losses).mean()


@torch.no_grad()
def predict_logits(
    model: AttributePredictor, images: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Raw outputs [N, sum(num_classes)] for NHWC uint8 / [0, 1] float images (eval mode)."""
    was_training = model.training
    model.eval()
    outs = [
        model.logits(to_model_images(images[i : i + batch_size]), validate=False)
        for i in range(0, len(images), batch_size)
    ]
    model.train(was_training)
    return torch.cat(outs).numpy()


def evaluate_outputs(
    model: AttributePredictor, logits: np.ndarray, targets: np.ndarray
) -> dict[str, Any]:
    """Per-head metrics from raw outputs.

    binary: accuracy at P = 0.5, ROC-AUC (None when only one class is present), positive rate;
    multiclass: accuracy; regression: R^2 and mean absolute error. Plus ``mean_accuracy`` over
    classification heads and ``mean_auc`` over binary heads with a defined AUC.
    """
    from sklearn.metrics import roc_auc_score

    per_head: dict[str, dict[str, Any]] = {}
    accs, aucs = [], []
    for j, (h, sl) in enumerate(zip(model.heads, model.head_slices().values(), strict=True)):
        t = targets[:, j]
        mask = ~np.isnan(t)
        t, out = t[mask], logits[mask, sl]
        entry: dict[str, Any] = {"n": int(mask.sum())}
        if h["kind"] == "binary":
            pred = out[:, 0] > 0
            entry["accuracy"] = float((pred == (t > 0.5)).mean()) if len(t) else None
            entry["positive_rate"] = float(t.mean()) if len(t) else None
            both = len(np.unique(t)) == 2
            entry["roc_auc"] = float(roc_auc_score(t, out[:, 0])) if both else None
            if entry["roc_auc"] is not None:
                aucs.append(entry["roc_auc"])
            accs.append(entry["accuracy"])
        elif h["kind"] == "multiclass":
            entry["accuracy"] = float((out.argmax(1) == t).mean()) if len(t) else None
            accs.append(entry["accuracy"])
        else:
            resid = out[:, 0] - t
            var = float(t.var()) if len(t) > 1 else 0.0
            entry["r2"] = float(1 - (resid**2).mean() / var) if var > 0 else None
            entry["mae"] = float(np.abs(resid).mean()) if len(t) else None
        per_head[h["name"]] = entry
    summary: dict[str, Any] = {"per_head": per_head}
    accs = [a for a in accs if a is not None]
    summary["mean_accuracy"] = float(np.mean(accs)) if accs else None
    summary["mean_auc"] = float(np.mean(aucs)) if aucs else None
    return summary


def evaluate_predictor(
    model: AttributePredictor, images: np.ndarray, targets: np.ndarray, batch_size: int = 256
) -> dict[str, Any]:
    """Metrics of :func:`evaluate_outputs` plus the mean loss on (images, targets)."""
    images, targets = check_arrays(images, targets, model, "evaluation")
    logits = predict_logits(model, images, batch_size)
    metrics = evaluate_outputs(model, logits, targets)
    metrics["loss"] = float(
        predictor_loss(model, torch.from_numpy(logits), torch.from_numpy(targets))
    )
    return metrics


# --------------------------------------------------------------------------- training loop
def _lr_at(step: int, config: PredictorTrainConfig, seconds: float = 0.0) -> float:
    frac = step / max(config.steps, 1)
    if config.max_seconds:
        frac = max(frac, seconds / config.max_seconds)
    frac = min(frac, 1.0)
    cos = 0.5 * (1 + math.cos(math.pi * frac))
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * cos)


def _clone_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def train_predictor(
    model: AttributePredictor,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    out_dir: str | os.PathLike,
    config: PredictorTrainConfig | None = None,
    resume: bool = True,
    progress: bool = True,
    metadata: dict[str, Any] | None = None,
    command: str = "train_predictor",
    stop_at_step: int | None = None,
) -> dict[str, Any]:
    """Train ``model`` on ``train`` with early stopping on ``val``; keep the best weights.

    Args:
        model: the predictor (modified in place; holds the best weights on return).
        train, val: (images NHWC uint8 or float [0, 1], targets [N, num_heads]) pairs.
        out_dir: folder for checkpoint, log, model/ and run.json.
        config: training settings.
        resume: continue from ``out_dir/checkpoint.safetensors`` when present.
        progress: show a tqdm bar.
        metadata: extra entries for the saved model's config.json metadata.
        stop_at_step: pause (checkpoint and return ``{"paused_at": step}``) once this step is
            reached, before ``config.steps``; a later call with ``resume=True`` continues exactly
            (time-sliced jobs; tests of resuming).

    Returns a dict with ``best_step``, ``stopped_step``, ``val`` (metrics of the best model),
    ``train_seconds`` and ``images_per_second``.
    """
    config = config or PredictorTrainConfig()
    device = next(model.parameters()).device
    config = dataclasses.replace(config, bf16=resolve_bf16(config.bf16, device))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_x, train_y = check_arrays(*train, model, "train")
    val_x, val_y = check_arrays(*val, model, "val")
    if len(train_x) == 0 or len(val_x) == 0:
        raise DataError("train and val splits must both be non-empty")

    model.train()
    for j, h in enumerate(model.heads):
        if h["kind"] == "regression":
            col = train_y[:, j][~np.isnan(train_y[:, j])]
            if len(col) > 1 and col.std() > 0:
                model.set_target_standardisation(h["name"], float(col.mean()), float(col.std()))
    model.set_fast(config.bf16)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    ckpt_path, log_path = out / CHECKPOINT_NAME, out / LOG_NAME
    from latentatlas.utils.outputs import remove_stale_temporaries

    if resume:
        remove_stale_temporaries(out)  # left by a killed write (SIGKILL cannot be caught)
    if not resume and (ckpt_path.is_file() or (out / "model").exists()):
        from latentatlas.utils.errors import OutputExistsError

        raise OutputExistsError(f"{out} already holds a predictor run; resume=True continues "
                                "it, or choose another out_dir")
    step, train_seconds, bad_evals = 0, 0.0, 0
    best: dict[str, Any] = {"loss": math.inf, "step": -1, "metrics": None}
    best_state = _clone_state(model)
    if resume and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        if not isinstance(state, dict) or state.get("kind") != "predictor-trainer":
            raise CheckpointError(f"{ckpt_path}: not a predictor trainer checkpoint")
        if state["config"] != config.to_dict():
            raise CheckpointError(
                f"{ckpt_path}: written with a different training config; use a new out_dir or "
                "resume=False"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        best_state = state["best_state"]
        step, train_seconds, bad_evals = state["step"], state["train_seconds"], state["bad_evals"]
        best = json.loads(state["best"])
        trim_jsonl_log(log_path, step)
    elif log_path.exists():
        log_path.unlink()

    def checkpoint() -> None:
        save_checkpoint(
            {
                "kind": "predictor-trainer",
                "config": config.to_dict(),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "best_state": best_state,
                "best": json.dumps(best),
                "step": step,
                "train_seconds": train_seconds,
                "bad_evals": bad_evals,
            },
            ckpt_path,
        )

    stopped = bad_evals >= config.patience > 0 or (
        config.max_seconds is not None and train_seconds >= config.max_seconds)
    bar = tqdm(total=config.steps, initial=step, disable=not progress, unit="step",
               desc="train predictor")
    window_loss, window_n, window_t = 0.0, 0, time.perf_counter()
    with open(log_path, "a", encoding="utf-8") as log:
        while step < config.steps and not stopped:
            t0 = time.perf_counter()
            rng = np.random.default_rng([config.seed, 11, step])
            idx = _batch_indices(step, config.batch_size, len(train_x), config.seed)
            x = augment_batch(to_model_images(train_x[idx]), rng, config.hflip, config.max_shift)
            y = torch.from_numpy(train_y[idx])
            for group in optimizer.param_groups:
                group["lr"] = _lr_at(step, config, train_seconds)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed * 1_000_003 + step)  # dropout, per step
                loss = predictor_loss(model, model.logits(x, validate=False), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            if not torch.isfinite(loss.detach()):
                raise DataError(f"training diverged at step {step} (loss {float(loss.detach())})")
            step += 1
            train_seconds += time.perf_counter() - t0
            window_loss += float(loss.detach())
            window_n += 1
            bar.update(1)
            if step % config.log_every == 0:
                ips = window_n * config.batch_size / max(time.perf_counter() - window_t, 1e-9)
                rec = {"step": step, "loss": window_loss / window_n,
                       "lr": _lr_at(step, config, train_seconds), "images_per_second": ips}
                log.write(json.dumps(rec) + "\n")
                log.flush()
                bar.set_postfix(loss=f"{rec['loss']:.4f}", img_s=f"{ips:.0f}")
                window_loss, window_n, window_t = 0.0, 0, time.perf_counter()
            out_of_time = config.max_seconds is not None and train_seconds >= config.max_seconds
            if step % config.eval_every == 0 or step == config.steps or out_of_time:
                metrics = evaluate_predictor(model, val_x, val_y, config.eval_batch_size)
                model.train()
                improved = metrics["loss"] < best["loss"]
                if improved:
                    best = {"loss": metrics["loss"], "step": step,
                            "metrics": {k: v for k, v in metrics.items() if k != "per_head"}}
                    best_state = _clone_state(model)
                    bad_evals = 0
                else:
                    bad_evals += 1
                rec = {"step": step, "val_loss": metrics["loss"],
                       "val_mean_accuracy": metrics["mean_accuracy"],
                       "val_mean_auc": metrics["mean_auc"], "improved": improved}
                log.write(json.dumps(rec) + "\n")
                log.flush()
                stopped = bad_evals >= config.patience > 0 or out_of_time
                checkpoint()
            if stop_at_step is not None and step >= stop_at_step and step < config.steps:
                checkpoint()
                bar.close()
                return {"paused_at": step}
    bar.close()
    if best["step"] < 0:  # no evaluation happened (steps == 0 on resume of a finished run)
        best = {"loss": math.inf, "step": step, "metrics": None}
    model.load_state_dict(best_state)
    model.eval()
    model.set_fast(False)
    val_metrics = evaluate_predictor(model, val_x, val_y, config.eval_batch_size)
    meta = {"trained_steps": step, "best_step": best["step"], **(metadata or {})}
    save_model(model, out / MODEL_DIR, metadata=meta)
    result = {
        "best_step": best["step"],
        "stopped_step": step,
        "early_stopped": step < config.steps,
        "out_of_time": config.max_seconds is not None and train_seconds >= config.max_seconds,
        "val": val_metrics,
        "train_seconds": train_seconds,
        "images_per_second": step * config.batch_size / max(train_seconds, 1e-9),
    }
    write_run_record(out, command=command, config=config.to_dict(), seed=config.seed,
                     metrics={k: v for k, v in result.items() if k != "val"}
                     | {"val_loss": val_metrics["loss"],
                        "val_mean_accuracy": val_metrics["mean_accuracy"],
                        "val_mean_auc": val_metrics["mean_auc"]})
    return result


# --------------------------------------------------------------------------- recipes
@dataclass
class Recipe:
    """A data set bound to a predictor architecture and training settings."""

    name: str
    model_kwargs: dict[str, Any]
    config: PredictorTrainConfig
    description: str


RECIPES: dict[str, Recipe] = {
    "celeba": Recipe(
        "celeba",
        dict(in_channels=3, resolution=64, width=16, max_width=128, blocks_per_stage=1,
             final_size=4, embedding_dim=256, dropout=0.3, stem_stride=2),
        PredictorTrainConfig(steps=1500, batch_size=64, lr=2e-3, weight_decay=5e-5, hflip=True,
                             max_shift=4, eval_every=150, patience=5),
        "CelebA 40 attributes (binary heads) at 64 px, crop [40:188, 15:163] of the aligned "
        "faces; the first 8,000 images train, the next 1,000 validate (early stopping) and the "
        "last 1,000 are held out for the reported metrics.",
    ),
    "mnist": Recipe(
        "mnist",
        dict(in_channels=1, resolution=28, width=16, max_width=64, blocks_per_stage=1,
             final_size=4, embedding_dim=128, dropout=0.2, stem_stride=1),
        PredictorTrainConfig(steps=1200, batch_size=64, lr=2e-3, max_shift=2, eval_every=400,
                             patience=3),
        "MNIST digit class; the first 55,000 official training images train, the last 5,000 "
        "validate; reported numbers are on the official 10,000-image test set.",
    ),
    "dsprites": Recipe(
        "dsprites",
        dict(in_channels=1, resolution=64, width=16, max_width=128, blocks_per_stage=1,
             final_size=4, embedding_dim=256, dropout=0.0, stem_stride=2),
        PredictorTrainConfig(steps=3000, batch_size=64, lr=2e-3, eval_every=300, patience=4),
        "dSprites-like renders: one multiclass head per factor (positions classified over their "
        "32 values); 60,000 fresh renders train, 5,000 validate, 10,000 other fresh renders test. "
        "Orientation is only identifiable modulo the shape's symmetry (squares 90 degrees, "
        "ellipses 180 degrees; 0 and 2 pi are the same image), which caps the 40-way "
        "orientation head's accuracy well below 1; two regression heads "
        "(orientation_folded_cos / _sin) predict the identifiable part: the angle folded by the "
        "shape's symmetry period, as a point on the unit circle.",
    ),
    "shapes3d": Recipe(
        "shapes3d",
        dict(in_channels=3, resolution=64, width=16, max_width=128, blocks_per_stage=1,
             final_size=4, embedding_dim=256, dropout=0.0, stem_stride=2),
        PredictorTrainConfig(steps=3000, batch_size=64, lr=2e-3, eval_every=300, patience=4),
        "Shapes3D-like renders: one multiclass head per factor; 60,000 fresh renders train, "
        "5,000 validate, 10,000 other fresh renders test.",
    ),
}


def _labeled(obj: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(images, labels, label_names) from a loader result (attribute or tuple style)."""
    if hasattr(obj, "images"):
        return np.asarray(obj.images), np.asarray(obj.labels), list(
            getattr(obj, "label_names", None) or []
        )
    images, labels = obj[0], obj[1]
    return np.asarray(images), np.asarray(labels), list(obj[2]) if len(obj) > 2 else []


def prepare_celeba(
    root: str | os.PathLike | None = None, n_val: int = 1000, n_test: int = 1000,
    max_images: int | None = None,
) -> dict[str, Any]:
    """CelebA at 64 px, split by image order: train | val (n_val) | test (n_test, held out)."""
    from latentatlas.data.registry import get_dataset

    data = get_dataset("celeba", root=root, resolution=64, max_images=max_images)
    images, labels, names = _labeled(data)
    targets = (labels > 0).astype(np.float32)  # the attribute file says +1 / -1
    n = len(images)
    if n <= n_val + n_test:
        raise DataError(f"CelebA: {n} images are too few for {n_val} val + {n_test} test")
    a, b = n - n_val - n_test, n - n_test
    heads = [{"name": nm, "kind": "binary"} for nm in names]
    return {
        "heads": heads, "train": (images[:a], targets[:a]), "val": (images[a:b], targets[a:b]),
        "test": (images[b:], targets[b:]), "source": str(getattr(data, "source", root)),
        "split": {"train": [0, a], "val": [a, b], "test": [b, n]},
    }


def prepare_mnist(root: str | os.PathLike | None = None, n_val: int = 5000) -> dict[str, Any]:
    """MNIST: official train split into train | val (last n_val); official test set as test."""
    from latentatlas.data.registry import get_dataset

    tr_x, tr_y, _ = _labeled(get_dataset("mnist", root=root, split="train"))
    te_x, te_y, _ = _labeled(get_dataset("mnist", root=root, split="test"))
    if tr_x.ndim == 3:
        tr_x, te_x = tr_x[..., None], te_x[..., None]
    a = len(tr_x) - n_val
    heads = [{"name": "digit", "kind": "multiclass", "num_classes": 10,
              "classes": [str(i) for i in range(10)]}]
    y = tr_y.astype(np.float32)[:, None]
    return {
        "heads": heads, "train": (tr_x[:a], y[:a]), "val": (tr_x[a:], y[a:]),
        "test": (te_x, te_y.astype(np.float32)[:, None]),
        "split": {"train": [0, a], "val": [a, len(tr_x)], "test": "official t10k"},
    }


def prepare_ground_truth(
    data: Any, n_train: int = 60_000, n_val: int = 5000, n_test: int = 10_000, seed: int = 0
) -> dict[str, Any]:
    """Fresh renders of a GroundTruthData set: one multiclass head per factor."""
    heads = [{"name": nm, "kind": "multiclass", "num_classes": int(k)}
             for nm, k in zip(data.factor_names, data.factors_num_values, strict=True)]
    splits = {}
    for i, (part, n) in enumerate((("train", n_train), ("val", n_val), ("test", n_test))):
        rng = np.random.default_rng([seed, 101, i])
        factors, obs = data.sample(n, rng)
        images = np.clip(np.rint(np.asarray(obs) * 255), 0, 255).astype(np.uint8)
        splits[part] = (images, factors.astype(np.float32))
    return {"heads": heads, **splits,
            "split": {"train": n_train, "val": n_val, "test": n_test, "seed": seed}}


#: dSprites shapes' rotational symmetry periods (square, ellipse, heart), in radians.
DSPRITES_SYMMETRY_PERIODS = SYMMETRY_PERIODS


def dsprites_orientation_accuracy_modulo_symmetry(
    predicted: np.ndarray, true: np.ndarray, shapes: np.ndarray, num_values: int = 40
) -> float:
    """Orientation accuracy that forgives the shapes' symmetries.

    Orientation class k is the angle linspace(0, 2 pi, num_values)[k]. A prediction counts as
    correct when its angle differs from the true one by at most half a class step after folding
    by the shape's symmetry period (90 degrees for squares, 180 for ellipses, 360 for hearts;
    0 and 2 pi are the same image), i.e. when it names an orientation that renders the same
    sprite up to the grid's rounding (the grid step, 360/39 degrees, does not divide 90 or 180,
    so a symmetric twin can lie exactly half a step from two classes: both count).
    """
    angles = np.linspace(0.0, 2 * np.pi, num_values)
    step = angles[1] - angles[0]
    period = np.asarray(DSPRITES_SYMMETRY_PERIODS)[np.asarray(shapes, dtype=np.int64)]
    diff = np.mod(angles[np.asarray(predicted, np.int64)] - angles[np.asarray(true, np.int64)],
                  period)
    diff = np.minimum(diff, period - diff)
    return float((diff <= step / 2 + 1e-9).mean())


def dsprites_folded_orientation(
    orientation: np.ndarray, shapes: np.ndarray, num_values: int = 40
) -> np.ndarray:
    """(cos, sin) of the orientation folded by the shape's symmetry: [N, 2].

    The angle linspace(0, 2 pi, num_values)[k] is multiplied by 2 pi / period (period 90 degrees
    for squares, 180 for ellipses, 360 for hearts), so that every two orientations that render
    the same sprite map to the same point of the unit circle: the identifiable part of the
    factor, as a continuous target (issue 4: R^2 for continuous factors)."""
    angles = np.linspace(0.0, 2 * np.pi, num_values)[np.asarray(orientation, np.int64)]
    period = np.asarray(DSPRITES_SYMMETRY_PERIODS)[np.asarray(shapes, dtype=np.int64)]
    folded = angles * (2 * np.pi / period)
    return np.stack([np.cos(folded), np.sin(folded)], axis=1)


#: The regression heads added to the dSprites predictor (see dsprites_folded_orientation).
DSPRITES_FOLDED_HEADS = ("orientation_folded_cos", "orientation_folded_sin")


def _add_dsprites_folded_heads(prepared: dict[str, Any]) -> dict[str, Any]:
    prepared["heads"] = list(prepared["heads"]) + [
        {"name": h, "kind": "regression"} for h in DSPRITES_FOLDED_HEADS]
    for part in ("train", "val", "test"):
        images, factors = prepared[part]
        extra = dsprites_folded_orientation(factors[:, 2], factors[:, 0]).astype(np.float32)
        prepared[part] = (images, np.concatenate([factors, extra], axis=1))
    return prepared


def folded_angle_error_degrees(pred_cos_sin: np.ndarray, true_cos_sin: np.ndarray,
                               shapes: np.ndarray) -> np.ndarray:
    """Absolute error [N] in degrees of the real orientation, from folded (cos, sin) outputs."""
    pred = np.arctan2(pred_cos_sin[:, 1], pred_cos_sin[:, 0])
    true = np.arctan2(true_cos_sin[:, 1], true_cos_sin[:, 0])
    diff = np.abs(np.angle(np.exp(1j * (pred - true))))  # folded-circle error in [0, pi]
    period = np.asarray(DSPRITES_SYMMETRY_PERIODS)[np.asarray(shapes, dtype=np.int64)]
    return np.degrees(diff * period / (2 * np.pi))


def prepare_recipe_data(name: str, root: str | os.PathLike | None = None) -> dict[str, Any]:
    """Load / render the data of recipe ``name`` (see :data:`RECIPES`)."""
    if name == "celeba":
        return prepare_celeba(root)
    if name == "mnist":
        return prepare_mnist(root)
    if name in ("dsprites", "shapes3d"):
        from latentatlas.data.registry import get_dataset

        prepared = prepare_ground_truth(get_dataset(name))
        return _add_dsprites_folded_heads(prepared) if name == "dsprites" else prepared
    raise DataError(f"unknown predictor recipe {name!r}; known: {', '.join(RECIPES)}")


def train_recipe(
    name: str,
    out_dir: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    resume: bool = True,
    progress: bool = True,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train the predictor of recipe ``name`` and evaluate it on its held-out test split.

    Writes ``out_dir/model`` (the best model), ``out_dir/metrics.json`` (validation and test
    metrics, per head), ``out_dir/MODEL_CARD.md`` and ``out_dir/run.json``.
    """
    if name not in RECIPES:
        raise DataError(f"unknown predictor recipe {name!r}; known: {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    config = dataclasses.replace(recipe.config, seed=seed, **(overrides or {}))
    if steps is not None:
        config.steps = int(steps)
    if batch_size is not None:
        config.batch_size = int(batch_size)
    t_start = time.perf_counter()
    prepared = prepare_recipe_data(name, data_root)
    torch.manual_seed(seed)  # weight initialisation
    model = AttributePredictor(heads=prepared["heads"], **recipe.model_kwargs)
    result = train_predictor(
        model, prepared["train"], prepared["val"], out_dir, config, resume=resume,
        progress=progress, command=f"latentatlas predictors train {name}",
        metadata={"recipe": name, "description": recipe.description,
                  "split": prepared.get("split")},
    )
    test = evaluate_predictor(model, *prepared["test"])
    if name == "dsprites":
        test_x, test_y = prepared["test"]
        pred = predict_logits(model, test_x)[:, model.head_slices()["orientation"]].argmax(1)
        test["orientation_accuracy_modulo_symmetry"] = (
            dsprites_orientation_accuracy_modulo_symmetry(pred, test_y[:, 2], test_y[:, 0]))
        outputs = predict_logits(model, test_x)
        cols = [model.head_slices()[h].start for h in DSPRITES_FOLDED_HEADS]
        err = folded_angle_error_degrees(outputs[:, cols], test_y[:, 5:7], test_y[:, 0])
        test["orientation_folded_error_degrees"] = {
            "mean": float(err.mean()), "median": float(np.median(err)),
            "p95": float(np.percentile(err, 95)),
            "within_half_step": float((err <= 0.5 * 360 / 39 + 1e-9).mean())}
    wall = time.perf_counter() - t_start
    metrics = {
        "recipe": name, "description": recipe.description, "config": config.to_dict(),
        "model_kwargs": recipe.model_kwargs, "split": prepared.get("split"),
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "best_step": result["best_step"], "stopped_step": result["stopped_step"],
        "train_seconds": result["train_seconds"], "wall_seconds": wall,
        "train_images_per_second": result["images_per_second"],
        "val": result["val"], "test": test,
        "environment": environment_info(),
    }
    atomic_write_json(Path(out_dir) / "metrics.json", metrics)
    # The shipped model folder carries its measured quality in config.json's metadata.
    save_model(model, Path(out_dir) / MODEL_DIR, metadata={
        "recipe": name, "description": recipe.description, "split": prepared.get("split"),
        "best_step": result["best_step"],
        "test": {k: v for k, v in test.items() if k != "per_head"},
    })
    write_run_record(out_dir, command=f"latentatlas predictors train {name}",
                     config={"recipe": name, "train": config.to_dict(),
                             "model": recipe.model_kwargs, "data_root": data_root},
                     seed=seed, metrics={
                         "test_loss": test["loss"], "test_mean_accuracy": test["mean_accuracy"],
                         "test_mean_auc": test["mean_auc"], "wall_seconds": wall,
                         "best_step": result["best_step"]})
    write_model_card(Path(out_dir), metrics, data_root)
    return metrics


#: Quality aims of issue 4, checked in the model cards: (metric, heads or None for the mean, bound).
AIMS: dict[str, list[tuple[str, Sequence[str] | None, float]]] = {
    "celeba": [("roc_auc", None, 0.88),
               ("roc_auc", ("Smiling", "Male", "Eyeglasses", "Young", "Blond_Hair", "Black_Hair",
                            "Bald", "Wearing_Hat"), 0.95)],
    "mnist": [("accuracy", ("digit",), 0.985)],
    # Orientation is only identifiable modulo the shape's symmetry: its aim is the R^2 of the
    # folded (cos, sin) regression heads; the 40-way class head's accuracy is reported beside it.
    "dsprites": [("accuracy", ("shape", "scale", "posX", "posY"), 0.95),
                 ("r2", DSPRITES_FOLDED_HEADS, 0.95)],
    "shapes3d": [("accuracy", ("floor_hue", "wall_hue", "object_hue", "scale", "shape",
                               "orientation"), 0.95)],
}


def aims_report(metrics: dict[str, Any]) -> list[str]:
    """Markdown lines comparing measured test metrics with the recipe's aims."""
    lines = []
    per = metrics["test"]["per_head"]
    for metric, heads, bound in AIMS.get(metrics["recipe"], []):
        if heads is None:
            vals = [v[metric] for v in per.values() if v.get(metric) is not None]
            value = float(np.mean(vals))
            verdict = "met" if value >= bound else "NOT met"
            lines.append(f"- mean {metric} >= {bound}: {value:.4f} ({verdict})")
            continue
        for h in heads:
            value = per.get(h, {}).get(metric)
            if value is None:
                lines.append(f"- {h} {metric} >= {bound}: not measured")
                continue
            verdict = "met" if value >= bound else "NOT met"
            lines.append(f"- {h} {metric} >= {bound}: {value:.4f} ({verdict})")
    return lines


def write_model_card(
    out_dir: Path, metrics: dict[str, Any], data_root: str | os.PathLike | None = None
) -> Path:
    """Write ``out_dir/MODEL_CARD.md`` from the measured metrics of :func:`train_recipe`."""
    env = metrics.get("environment") or environment_info()
    test, name = metrics["test"], metrics["recipe"]
    summary = [f"- test loss: {test['loss']:.4f}"]
    if test.get("mean_accuracy") is not None:
        summary.append(f"- mean accuracy over heads: {test['mean_accuracy']:.4f}")
    if test.get("mean_auc") is not None:
        summary.append(f"- mean ROC-AUC over binary heads: {test['mean_auc']:.4f}")
    if test.get("orientation_accuracy_modulo_symmetry") is not None:
        summary.append(
            "- orientation accuracy modulo the shape's symmetry (squares 90, ellipses 180 "
            f"degrees; 0 = 2 pi): {test['orientation_accuracy_modulo_symmetry']:.4f}")
    folded = test.get("orientation_folded_error_degrees")
    if folded is not None:
        summary.append(
            "- orientation from the folded (cos, sin) regression heads: absolute error "
            f"{folded['mean']:.2f} degrees on average (median {folded['median']:.2f}, 95th "
            f"percentile {folded['p95']:.2f}); within half a grid step (4.6 degrees): "
            f"{folded['within_half_step']:.4f}")
    small_split_note = (
        "\nThe held-out split is small for rare labels (a few dozen positives), so per-head "
        "figures carry\nsampling noise of a few hundredths of AUC / accuracy.\n"
        if name == "celeba" else ""
    )
    max_s = metrics["config"].get("max_seconds")
    budget = f" --max-minutes {max_s / 60:g}" if max_s else ""
    text = f"""# predictor ({name})

{metrics['description']}

## Architecture

`AttributePredictor({', '.join(f'{k}={v!r}' for k, v in metrics['model_kwargs'].items())})`,
{metrics['num_parameters']:,} parameters, inputs float NCHW in [-1, 1] (other sizes are resized).

## Training

- split: `{json.dumps(metrics['split'])}`
- settings: `{json.dumps(metrics['config'])}`
- best validation step {metrics['best_step']} of {metrics['stopped_step']} trained
  (early stopping on the validation loss; the best weights are kept)
- wall time {metrics['wall_seconds'] / 60:.1f} min
  (training {metrics['train_seconds'] / 60:.1f} min,
  {metrics['train_images_per_second']:.0f} training images/s)
- hardware: {env.get('processor')}, {env.get('cpu_count')} CPU cores visible,
  {env.get('torch_threads')} torch threads (shared machine), torch {env.get('torch')}

Load it with `latentatlas.load("<folder name>")` or score with
`latentatlas.scoring.PredictorScorer(...)`.

## Measured quality on the held-out test split

{chr(10).join(summary)}

{format_metrics_table(metrics)}

## Against the aims of issue 4

{chr(10).join(aims_report(metrics)) or "- (no aims for this recipe)"}
{small_split_note}
## Reproduce

```bash
latentatlas predictors train {name} --out runs/predictor_{name} --threads 1 \\
  --steps {metrics['config']['steps']} --seed {metrics['config']['seed']}{budget}
```
"""
    return save_model_card(out_dir, text)


def format_metrics_table(
    metrics: dict[str, Any], keys: Sequence[str] = ("accuracy", "roc_auc", "r2")
) -> str:
    """A Markdown table of per-head test metrics (for model cards and docs)."""
    per = metrics["test"]["per_head"]
    cols = [k for k in keys if any(k in v for v in per.values())]
    lines = ["| head | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, v in per.items():
        cells = [("-" if v.get(k) is None else f"{v[k]:.4f}") for k in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

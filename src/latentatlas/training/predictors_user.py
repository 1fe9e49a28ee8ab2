"""A predictor for the user's own labelled data: ``latentatlas predictors train --data
FOLDER_OR_NPZ --labels labels.csv --out DIR``.

One head per label column (binary: a logit; categorical: one logit per class; continuous: a
regression), missing labels masked, a seeded random train / validation / test split, early
stopping on the validation loss, and a model card with per-head AUC / accuracy / R^2 on the
held-out test split. The saved model folder (``DIR/model``) carries the per-head test metrics in
its config.json metadata, which is where ``latentatlas explore --predictor DIR/model`` reads the
AUCs that choose its attributes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentatlas.data.labels import parse_kinds
from latentatlas.io.persistence import save_model
from latentatlas.models.predictors import AttributePredictor
from latentatlas.training.predictors import (
    MODEL_DIR,
    PredictorTrainConfig,
    evaluate_predictor,
    format_metrics_table,
    train_predictor,
    train_recipe,
)
from latentatlas.utils.atomic import atomic_write_bytes, atomic_write_json
from latentatlas.utils.errors import DataError, OptionError
from latentatlas.utils.runinfo import environment_info, write_run_record

#: The predictor's default working resolution cap (larger images are resized to it).
MAX_PREDICTOR_RESOLUTION = 64
#: The smallest data set that splits into train / validation / test.
MIN_IMAGES = 20


def predictor_model_kwargs(resolution: int, channels: int) -> dict[str, Any]:
    """Architecture for a user's data set, after the recipes: the CelebA one at >= 48 px (stride-2
    stem, 256-d embedding, dropout 0.3), the MNIST one below (stride-1 stem, 128-d)."""
    if resolution >= 48:
        return dict(in_channels=channels, resolution=resolution, width=16, max_width=128,
                    blocks_per_stage=1, final_size=4, embedding_dim=256, dropout=0.3,
                    stem_stride=2)
    return dict(in_channels=channels, resolution=resolution, width=16, max_width=128,
                blocks_per_stage=1, final_size=4, embedding_dim=128, dropout=0.2, stem_stride=1)


def default_user_config(resolution: int, hflip: bool = False) -> PredictorTrainConfig:
    """The CelebA recipe's schedule (1500 steps of 64, lr 2e-3, early stopping every 150 steps
    with patience 5) with shifts of resolution / 16 pixels; flips only when asked (``hflip``:
    flipping must not change any label)."""
    return PredictorTrainConfig(steps=1500, batch_size=64, lr=2e-3, weight_decay=5e-5,
                                hflip=hflip, max_shift=max(1, resolution // 16),
                                eval_every=150, patience=5)


def _predictor_resolution(data: str | os.PathLike, resolution: int | None,
                          max_images: int | None) -> int | None:
    """The resolution to load at: the user's; else None (native size) for square images up to
    :data:`MAX_PREDICTOR_RESOLUTION`; else a centre crop at min(short side, that cap)."""
    from latentatlas.data.registry import describe_data

    if resolution is not None:
        return int(resolution)
    info = describe_data(data, max_images=max_images)
    if not info.uniform:
        return None  # the loader names the mixed sizes and asks for --resolution
    if info.square and info.size <= MAX_PREDICTOR_RESOLUTION:
        return None
    return min(info.size, MAX_PREDICTOR_RESOLUTION)


def split_indices(n: int, val_fraction: float, test_fraction: float, seed: int
                  ) -> dict[str, np.ndarray]:
    """A seeded random split of ``range(n)`` into train / val / test (each non-empty)."""
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DataError(f"--val-fraction {val_fraction} and --test-fraction {test_fraction} must "
                        "be in (0, 1) with a sum below 1")
    if n < MIN_IMAGES:
        raise DataError(f"--data: {n} images are too few for a train / validation / test split "
                        f"(need at least {MIN_IMAGES})")
    n_test = max(1, round(n * test_fraction))
    n_val = max(1, round(n * val_fraction))
    perm = np.random.default_rng([seed, 2024]).permutation(n)
    return {"test": np.sort(perm[:n_test]), "val": np.sort(perm[n_test:n_test + n_val]),
            "train": np.sort(perm[n_test + n_val:])}


def prepare_user_data(
    data: str | os.PathLike,
    labels: str | os.PathLike | None = None,
    resolution: int | None = None,
    kinds: dict[str, str] | None = None,
    max_images: int | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
) -> dict[str, Any]:
    """Load a user's folder / npz with its labels: heads, split arrays and a label summary."""
    from latentatlas.data.labels import stack_targets
    from latentatlas.data.registry import is_dataset_name, load_data

    if is_dataset_name(str(data)):
        raise DataError(f"--data {data}: a built-in data set; train its recipe with "
                        f"`latentatlas predictors train {data}`")
    load_res = _predictor_resolution(data, resolution, max_images)
    loaded = load_data(data, labels=labels, resolution=load_res, kinds=kinds,
                       max_images=max_images)
    columns = loaded.metadata.get("label_columns")
    if not columns:
        raise DataError(f"--labels: {data} has no labels; give a labels CSV (--labels "
                        "labels.csv: a file column and one column per label) or, for an .npz, "
                        "label arrays beside 'images'")
    images = loaded.images
    targets = stack_targets(columns)
    parts = split_indices(len(images), val_fraction, test_fraction, seed)
    split = {k: int(len(v)) for k, v in parts.items()}
    split.update(seed=seed, kind="random", val_fraction=val_fraction, test_fraction=test_fraction)
    return {
        "heads": [c.head() for c in columns],
        **{k: (images[v], targets[v]) for k, v in parts.items()},
        "split": split,
        "labels": {c.name: c.describe() for c in columns},
        "resolution": int(images.shape[1]), "channels": int(images.shape[-1]),
        "num_images": int(len(images)), "source": loaded.source,
    }


def train_user_predictor(
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    labels: str | os.PathLike | None = None,
    resolution: int | None = None,
    kinds: dict[str, str] | None = None,
    max_images: int | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    hflip: bool = False,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    resume: bool = True,
    progress: bool = True,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train a predictor with one head per label column on a user's data and evaluate it on a
    held-out test split.

    Writes ``out_dir/model`` (the best model; its config.json metadata holds the per-head test
    metrics), ``out_dir/metrics.json`` (validation and test metrics, per head; ``test.per_head``),
    ``out_dir/MODEL_CARD.md`` (also copied into ``model/``) and ``out_dir/run.json``.
    Returns the metrics dict.
    """
    t_start = time.perf_counter()
    prepared = prepare_user_data(data, labels, resolution, kinds, max_images, val_fraction,
                                 test_fraction, seed)
    res, channels = prepared["resolution"], prepared["channels"]
    config = dataclasses.replace(default_user_config(res, hflip), seed=seed, **(overrides or {}))
    if steps is not None:
        config.steps = int(steps)
        config.eval_every = min(config.eval_every, max(1, config.steps))
    if batch_size is not None:
        config.batch_size = int(batch_size)
    model_kwargs = predictor_model_kwargs(res, channels)
    command = _command(data, labels, out_dir, config, resolution, kinds, max_images, hflip)
    description = (f"User data {Path(data).name} ({prepared['num_images']} images, "
                   f"{res}x{res}x{channels}) with labels "
                   f"{Path(labels).name if labels else 'from the npz'}: "
                   f"{len(prepared['heads'])} heads.")
    torch.manual_seed(seed)
    model = AttributePredictor(heads=prepared["heads"], **model_kwargs)
    result = train_predictor(
        model, prepared["train"], prepared["val"], out_dir, config, resume=resume,
        progress=progress, command=command,
        metadata={"recipe": "user", "description": description, "split": prepared["split"],
                  "labels": prepared["labels"]})
    test = evaluate_predictor(model, *prepared["test"])
    wall = time.perf_counter() - t_start
    metrics = {
        "recipe": "user", "description": description, "data": str(data),
        "labels_file": None if labels is None else str(labels), "labels": prepared["labels"],
        "config": config.to_dict(), "model_kwargs": model_kwargs, "split": prepared["split"],
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "best_step": result["best_step"], "stopped_step": result["stopped_step"],
        "train_seconds": result["train_seconds"], "wall_seconds": wall,
        "train_images_per_second": result["images_per_second"],
        "val": result["val"], "test": test, "command": command,
        "environment": environment_info(),
    }
    out = Path(out_dir)
    atomic_write_json(out / "metrics.json", metrics)
    # explore reads per-head held-out AUCs from the model's metadata (test.per_head).
    save_model(model, out / MODEL_DIR, metadata={
        "recipe": "user", "description": description, "split": prepared["split"],
        "labels": prepared["labels"], "best_step": result["best_step"], "test": test})
    write_run_record(out, command=command,
                     config={"data": str(data), "labels": None if labels is None else str(labels),
                             "train": config.to_dict(), "model": model_kwargs},
                     seed=seed, metrics={
                         "test_loss": test["loss"], "test_mean_accuracy": test["mean_accuracy"],
                         "test_mean_auc": test["mean_auc"], "wall_seconds": wall,
                         "best_step": result["best_step"]})
    card = write_user_model_card(out, metrics)
    atomic_write_bytes(out / MODEL_DIR / "MODEL_CARD.md", card.read_bytes())
    return metrics


def _command(data, labels, out_dir, config, resolution, kinds, max_images, hflip) -> str:
    parts = ["latentatlas predictors train", "--data", str(data)]
    if labels is not None:
        parts += ["--labels", str(labels)]
    parts += ["--out", str(out_dir), "--steps", str(config.steps), "--seed", str(config.seed)]
    if resolution is not None:
        parts += ["--resolution", str(resolution)]
    for col, kind in (kinds or {}).items():
        parts += ["--label-kind", f"{col}={kind}"]
    if max_images is not None:
        parts += ["--max-images", str(max_images)]
    if hflip:
        parts.append("--hflip")
    return " ".join(shlex.quote(p) if i else p for i, p in enumerate(parts))


def _label_line(name: str, info: dict[str, Any]) -> str:
    text = f"- `{name}`: {info['kind']}, {info['n_labelled']} labelled"
    if info["n_missing"]:
        text += f", {info['n_missing']} missing (masked)"
    if info.get("classes") is not None:
        counts = ", ".join(f"{c} {k}" for c, k in zip(info["classes"], info["class_counts"],
                                                        strict=True))
        text += f"; classes (target order): {counts}"
    else:
        text += f"; mean {info['mean']:.4g}, std {info['std']:.4g}"
    return text


def write_user_model_card(out_dir: Path, metrics: dict[str, Any]) -> Path:
    """``out_dir/MODEL_CARD.md`` of :func:`train_user_predictor`: labels, split, per-head test
    AUC / accuracy / R^2, how it was trained and how to reproduce it."""
    env = metrics.get("environment") or environment_info()
    test = metrics["test"]
    summary = [f"- test loss: {test['loss']:.4f}"]
    if test.get("mean_accuracy") is not None:
        summary.append(f"- mean accuracy over binary / categorical heads: "
                       f"{test['mean_accuracy']:.4f}")
    if test.get("mean_auc") is not None:
        summary.append(f"- mean ROC-AUC over binary heads: {test['mean_auc']:.4f}")
    split = metrics["split"]
    text = f"""# predictor (user data)

{metrics['description']}

## Labels

{chr(10).join(_label_line(k, v) for k, v in metrics['labels'].items())}

## Architecture

`AttributePredictor({', '.join(f'{k}={v!r}' for k, v in metrics['model_kwargs'].items())})`,
{metrics['num_parameters']:,} parameters, inputs float NCHW in [-1, 1] (other sizes are resized).

## Training

- split: random (seed {split['seed']}): {split['train']} train, {split['val']} validation (early
  stopping), {split['test']} held-out test images
- settings: `{json.dumps(metrics['config'])}`
- best validation step {metrics['best_step']} of {metrics['stopped_step']} trained
- wall time {metrics['wall_seconds'] / 60:.1f} min (training {metrics['train_seconds'] / 60:.1f}
  min, {metrics['train_images_per_second']:.0f} training images/s)
- hardware: {env.get('processor')}, {env.get('cpu_count')} CPU cores visible,
  {env.get('torch_threads')} torch threads, torch {env.get('torch')}

## Measured quality on the held-out test split

{chr(10).join(summary)}

{format_metrics_table(metrics)}

AUC: binary heads (none when the test split holds one class only); accuracy: binary (at P = 0.5)
and categorical heads; R^2: continuous heads. Missing labels are left out of every figure.

## Use

```bash
latentatlas explore --model RUN/model --predictor {out_dir / MODEL_DIR} --out runs/explore_mine
```

## Reproduce

```bash
{metrics['command']}
```
"""
    return atomic_write_bytes(out_dir / "MODEL_CARD.md", text.encode("utf-8"))


def train_predictor_job(
    dataset: str | None,
    out_dir: str | os.PathLike,
    *,
    data: str | os.PathLike | None = None,
    labels: str | os.PathLike | None = None,
    label_kinds: Sequence[str] = (),
    resolution: int | None = None,
    max_images: int | None = None,
    hflip: bool = False,
    data_root: str | os.PathLike | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    max_minutes: float | None = None,
    seed: int = 0,
    resume: bool = True,
) -> dict[str, Any]:
    """What ``latentatlas predictors train`` runs: a built-in recipe (``dataset``) or the user's
    data (``data`` + ``labels``), exactly one of them. Returns the metrics dict."""
    if (dataset is None) == (data is None):
        raise OptionError("give a DATASET recipe or --data FOLDER_OR_NPZ (not both)")
    overrides = {"max_seconds": max_minutes * 60} if max_minutes else None
    if dataset is not None:
        return train_recipe(dataset, out_dir, data_root=data_root, steps=steps,
                            batch_size=batch_size, seed=seed, resume=resume, overrides=overrides)
    return train_user_predictor(
        data, out_dir, labels=labels, resolution=resolution, kinds=parse_kinds(label_kinds),
        max_images=max_images, steps=steps, batch_size=batch_size, hflip=hflip, seed=seed,
        resume=resume, overrides=overrides)

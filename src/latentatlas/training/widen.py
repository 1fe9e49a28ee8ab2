"""Warm-start a wider generator from a trained run: function-preserving channel widening.

A narrow StyleGAN2 generator that has plateaued can continue as a wider one without starting over
(the Net2Net idea, Chen et al. 2016, in its "new units with zero outgoing weights" form). For every
parameter that grows, the trained values fill the leading slice and the new entries keep the fresh
initialisation of the wide network, except the weights *from* new input channels *into* existing
output channels, which are set to zero. So:

- the old output channels of each layer see exactly the old inputs (weight demodulation sums
  squared weights over the inputs, and zero weights add nothing to it; toRGB has no
  demodulation), so the wide generator draws the same images as the narrow one;
- the new channels compute freshly initialised features that nothing reads yet; the first
  optimiser steps move the zero weights off zero and the new channels start to contribute.

:func:`widen_state_dict` is the rule, :func:`widen_run` applies it to a training checkpoint (G,
G_ema and G's Adam moments; D, its optimiser, augmentation state, RNG and step unchanged) and
writes a new run folder that ``latentatlas train gan --resume`` continues with the wider
``--channel-base`` (and the old ``--d-channel-base``). The result is checked: the wide G_ema must
reproduce the narrow one's images (max abs difference ``atol``), otherwise nothing is written.
CLI: ``latentatlas train widen-gan``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from latentatlas.utils.errors import CheckpointError, DataError, LatentAtlasError


def fan_in_scale(old_shape: torch.Size, new_shape: torch.Size) -> float:
    """Factor on a widened weight's trained entries that keeps their runtime value: equalised-lr
    layers multiply the stored weight by 1 / sqrt(fan_in) at run time, and fan_in grows with the
    number of input channels (dimension 1)."""
    if len(old_shape) < 2 or new_shape[1] == old_shape[1]:
        return 1.0
    return math.sqrt(new_shape[1] / old_shape[1])


def widen_tensor(old: torch.Tensor, fresh: torch.Tensor, name: str = "tensor") -> torch.Tensor:
    """``fresh`` (the wide network's initial value) with ``old`` (times :func:`fan_in_scale`) in
    its leading slice and the entries [:old_out, old_in:, ...] (new inputs -> old outputs)
    zeroed."""
    if old.shape == fresh.shape:
        return old.detach().clone()
    if old.ndim != fresh.ndim or any(o > f for o, f in zip(old.shape, fresh.shape, strict=True)):
        raise LatentAtlasError(f"{name}: cannot widen shape {tuple(old.shape)} to "
                               f"{tuple(fresh.shape)} (only growing dimensions are supported)")
    out = fresh.detach().clone().to(old.dtype)
    out[tuple(slice(0, n) for n in old.shape)] = old * fan_in_scale(old.shape, fresh.shape)
    if old.ndim >= 2 and fresh.shape[1] > old.shape[1]:
        out[: old.shape[0], old.shape[1]:] = 0
    return out


def widen_state_dict(old: dict[str, torch.Tensor],
                     fresh: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Apply :func:`widen_tensor` to every entry; both dicts must have the same keys."""
    if set(old) != set(fresh):
        missing, extra = sorted(set(fresh) - set(old)), sorted(set(old) - set(fresh))
        raise LatentAtlasError(f"state dicts differ in keys (missing {missing[:3]}, unexpected "
                               f"{extra[:3]}): not the same architecture family")
    return {k: widen_tensor(old[k], fresh[k], k) for k in fresh}


def _widen_adam(opt_state: dict[str, Any], names: list[str],
                wide_sd: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Pad Adam's moments to the wide shapes: first moment 0, second moment the mean of the
    tensor's trained entries, so new weights take steps of the same size as their neighbours
    (with beta1 = 0 and a zero second moment they would take ~10x larger first steps). Trained
    entries whose weight was scaled by c = :func:`fan_in_scale` see gradients 1/c as large: their
    moments are divided by c and c^2."""
    if len(names) != sum(len(g["params"]) for g in opt_state["param_groups"]):
        raise CheckpointError("optimiser state does not list one entry per generator parameter")
    state = {"state": {}, "param_groups": opt_state["param_groups"]}
    for idx, entry in opt_state["state"].items():
        name = names[int(idx)]
        shape = wide_sd[name].shape
        new = dict(entry)
        for key, power in (("exp_avg", 1), ("exp_avg_sq", 2)):
            t = entry.get(key)
            if t is None or t.shape == shape:
                continue
            t = t / fan_in_scale(t.shape, shape) ** power
            fill = t.float().mean().item() if key == "exp_avg_sq" else 0.0
            padded = torch.full(shape, fill, dtype=t.dtype)
            padded[tuple(slice(0, n) for n in t.shape)] = t
            new[key] = padded
        state["state"][idx] = new
    return state


@torch.no_grad()
def max_image_difference(G_a: nn.Module, G_b: nn.Module, n: int = 8, seed: int = 0) -> float:
    """Largest absolute pixel difference between two generators on the same z and noise."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, G_a.z_dim, generator=g)
    a = G_a.synthesize(z, space="z", noise_mode="const")
    b = G_b.synthesize(z, space="z", noise_mode="const")
    return float((a.float() - b.float()).abs().max())


def widen_generator(G_old: nn.Module, G_wide: nn.Module, atol: float = 1e-4) -> nn.Module:
    """Load ``G_old``'s weights into the freshly initialised ``G_wide`` (in place) by the
    widening rule and check that both draw the same images. Returns ``G_wide``."""
    G_wide.load_state_dict(widen_state_dict(G_old.state_dict(), G_wide.state_dict()))
    diff = max_image_difference(G_old.eval(), G_wide.eval())
    if not diff <= atol:
        raise LatentAtlasError(f"widening changed the generator's images (max abs difference "
                               f"{diff:.3g} > {atol}); this architecture is not supported")
    return G_wide


def widen_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike, generator_kwargs: dict,
              step: int | None = None, seed: int = 0, atol: float = 1e-4) -> Path:
    """Write ``out_dir`` = run ``run_dir`` at checkpoint ``step`` (default newest) with its
    generator widened to ``generator_kwargs`` (e.g. ``{"channel_base": 2048}``, merged over the
    run's own). Returns the new checkpoint's path. Resume it with the same preset / options and
    the new generator width."""
    from latentatlas.io.persistence import model_classes
    from latentatlas.training.checkpoint import (
        checkpoint_path,
        list_checkpoints,
        load_checkpoint,
        save_checkpoint,
    )
    from latentatlas.training.export import _training_config

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise DataError(f"{out_dir}: exists and is not empty; widening writes a new run folder")
    config = _training_config(run_dir)
    found = dict(list_checkpoints(run_dir / "checkpoints"))
    if not found:
        raise CheckpointError(f"{run_dir / 'checkpoints'}: no checkpoints")
    step = max(found) if step is None else int(step)
    if step not in found:
        raise CheckpointError(f"{run_dir}: no checkpoint at step {step}; have {sorted(found)}")
    gen = config["generator"]
    classes = model_classes()
    if gen["class"] not in classes:
        raise DataError(f"{run_dir}: generator class {gen['class']!r} is not registered")
    old_kwargs = {**gen["kwargs"], "dtype": "float32"}
    unknown = sorted(set(generator_kwargs) - set(old_kwargs))
    if unknown:
        raise DataError(f"unknown generator options {unknown}; {gen['class']} takes "
                        f"{sorted(old_kwargs)}")
    new_kwargs = {**old_kwargs, **generator_kwargs}
    state = load_checkpoint(found[step])
    for key in ("G", "G_ema", "opt_G"):
        if key not in state:
            raise CheckpointError(f"{found[step]}: holds no {key}")
    cls = classes[gen["class"]]
    torch.manual_seed(seed)  # the new channels' initialisation
    fresh = cls(**new_kwargs).state_dict()
    names = [n for n, _ in cls(**new_kwargs).named_parameters()]
    widened = {}
    for key in ("G", "G_ema"):
        G_old = cls(**old_kwargs)
        try:
            G_old.load_state_dict(state[key])
        except RuntimeError as e:
            raise CheckpointError(f"{found[step]}: {key} does not fit the run's generator "
                                  f"({e})") from e
        G_wide = cls(**new_kwargs)
        G_wide.load_state_dict(fresh)
        widen_generator(G_old, G_wide, atol=atol)
        widened[key] = G_wide.state_dict()
    state["opt_G"] = _widen_adam(state["opt_G"], names, widened["G"])
    state["G"], state["G_ema"] = widened["G"], widened["G_ema"]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "checkpoints").mkdir(exist_ok=True)
    path = save_checkpoint(state, checkpoint_path(out_dir / "checkpoints", step))
    if (run_dir / "metrics.jsonl").is_file():
        shutil.copyfile(run_dir / "metrics.jsonl", out_dir / "metrics.jsonl")
    config["generator"] = {**gen, "kwargs": {**new_kwargs, "dtype": gen["kwargs"].get("dtype")}}
    config["widened_from"] = {"run": str(run_dir), "step": step, "generator_kwargs":
                              gen["kwargs"], "seed": seed}
    for name, payload in (("training_config.json", config),
                          ("widened.json", config["widened_from"])):
        tmp = out_dir / f"{name}.tmp"
        tmp.write_text(json.dumps(payload, indent=2) + "\n", "utf-8")
        tmp.replace(out_dir / name)
    return path

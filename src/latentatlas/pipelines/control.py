"""GAN-Control pipelines: fit a run's controllers, sample with attributes set (CLI ``train
controllers`` and ``control``)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from latentatlas.utils.errors import OptionError

#: Where a GAN-Control model folder keeps its controllers.
CONTROLLERS = "controllers"


def parse_settings(specs: Sequence[str]) -> dict[str, float]:
    """``["floor_hue=3", "scale=2.5"]`` -> ``{"floor_hue": 3.0, "scale": 2.5}``."""
    import math

    out: dict[str, float] = {}
    for spec in specs:
        name, sep, value = str(spec).partition("=")
        name = name.strip()
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not name or not math.isfinite(number):
            raise OptionError(f"--set expects NAME=NUMBER (e.g. floor_hue=3), got {spec!r}")
        if name in out:
            raise OptionError(f"--set {name} given twice")
        out[name] = number
    return out


def load_controlled(model: str | os.PathLike):
    """(generator, controllers) of a GAN-Control model: a zoo name or a folder whose
    ``controllers/`` holds the ControllerSet; controllers recorded as fitted on other generator
    weights (the fingerprint ``train controllers`` stores) are refused."""
    from latentatlas.io.registry import resolve_model_path
    from latentatlas.models import load
    from latentatlas.models.controller import ControllerSet
    from latentatlas.utils.fingerprint import module_fingerprint

    folder = resolve_model_path(model)
    if not (folder / CONTROLLERS / "config.json").is_file():
        raise OptionError(f"{model}: no controllers ({folder / CONTROLLERS} is missing); train "
                          "them with `latentatlas train controllers --run RUN`")
    G = load(folder).eval()
    if not hasattr(G, "group_slices"):
        raise OptionError(f"{model}: {type(G).__name__} is not a grouped (GAN-Control) generator")
    cs = load(folder / CONTROLLERS).eval()
    if not isinstance(cs, ControllerSet):
        raise OptionError(f"{folder / CONTROLLERS}: not a ControllerSet")
    fitted_on = getattr(cs, "model_metadata", {}).get("generator_fingerprint")
    if fitted_on is not None and fitted_on != module_fingerprint(G):
        # e.g. a resumed run re-exported its model beside the old controllers
        raise OptionError(f"{folder / CONTROLLERS}: fitted on another generator than "
                          f"{folder}; refit them with `latentatlas train controllers --run RUN "
                          "--overwrite`")
    return G, cs


def train_controllers(run_dir: str | os.PathLike, *, continuous: Sequence[str] = (),
                      n_samples: int = 20000, steps: int = 2000, attribute_steps: int = 300,
                      attribute_weight: float = 1.0, keep_weight: float = 1.0,
                      anchor_candidates: int = 16, anchor_rests: int = 16,
                      hidden: int = 512, seed: int = 0,
                      overwrite: bool = False, threads: int | None = None,
                      command: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Fit controllers for every attribute of a ``train control`` run (its control.json) on
    its model (G_ema) and save them in ``RUN/model/controllers`` with a report
    (``controllers.json``): the L1 fit, then ``attribute_steps`` of attribute reconstruction
    through G and the run's predictor (0: the reference's effective L1 alone), keeping the other
    attributes' readings with ``keep_weight``; categorical classes start from anchors chosen
    among ``anchor_candidates`` codes each (0: the L1 median; see
    :mod:`latentatlas.training.controllers`).
    Returns the report."""
    import torch

    from latentatlas.io.persistence import save_model
    from latentatlas.models import load
    from latentatlas.training.controllers import (
        default_kinds,
        fit_controllers,
        predictor_reader,
        predictor_values,
    )
    from latentatlas.utils.atomic import atomic_write_json
    from latentatlas.utils.fingerprint import module_fingerprint
    from latentatlas.utils.outputs import check_new_folder
    from latentatlas.utils.runinfo import write_run_record

    if threads:
        torch.set_num_threads(int(threads))
    run = Path(run_dir)
    record_path, model_dir = run / "control.json", run / "model"
    if not record_path.is_file() or not (model_dir / "config.json").is_file():
        raise OptionError(f"{run}: not a finished `train control` run (control.json and model/ "
                          "are needed)")
    record = json.loads(record_path.read_text())
    out = model_dir / CONTROLLERS
    check_new_folder(out, overwrite)
    G = load(model_dir).eval()
    P = load(record["predictor"]).eval()
    unknown = [c for c in continuous if c not in record["attributes"]]
    if unknown:
        raise OptionError(f"--continuous {unknown[0]}: not a controlled attribute "
                          f"({', '.join(record['attributes'])})")
    attrs = [dict(a, group=a["name"]) for a in
             default_kinds(P, record["attributes"], continuous)]
    cs, report = fit_controllers(G, predictor_values(P, attrs), attrs, n_samples=n_samples,
                                 steps=steps, seed=seed, reader=predictor_reader(P, attrs),
                                 attribute_steps=attribute_steps,
                                 attribute_weight=attribute_weight, keep_weight=keep_weight,
                                 anchor_candidates=anchor_candidates,
                                 anchor_rests=anchor_rests, hidden=hidden, progress=progress)
    config = {"n_samples": n_samples, "steps": steps, "attribute_steps": attribute_steps,
              "attribute_weight": attribute_weight, "keep_weight": keep_weight,
              "anchor_candidates": anchor_candidates, "anchor_rests": anchor_rests,
              "hidden": hidden, "seed": seed,
              "continuous": list(continuous)}
    save_model(cs, out, metadata={"predictor": record["predictor"],
                                  "generator_fingerprint": module_fingerprint(G), **config})
    result = {"folder": str(out), "attributes": report, "command": command, "config": config}
    atomic_write_json(out / "controllers.json", result)
    write_run_record(out, command=command or "latentatlas train controllers",
                     config={"run": str(run), **result["config"]}, seed=seed, metrics=report)
    return result


def control_grid(model: str | os.PathLike, settings: dict[str, Any], *, n: int = 16,
                 truncation_psi: float = 1.0, seed: int = 0, out: str | os.PathLike,
                 overwrite: bool = False, command: str | None = None) -> Path:
    """A PNG grid of ``n`` samples with ``settings`` set; its run record beside it."""
    from latentatlas.editing.control import controlled_images
    from latentatlas.io.images import save_grid
    from latentatlas.utils.outputs import check_new_file
    from latentatlas.utils.runinfo import write_run_record

    path = check_new_file(out, overwrite)
    G, cs = load_controlled(model)
    images = controlled_images(G, cs, settings, n, rng=seed, truncation_psi=truncation_psi)
    save_grid(images, path)
    write_run_record(path.parent, command=command or "latentatlas control",
                     config={"model": str(model), "settings": settings, "n": n,
                             "truncation_psi": truncation_psi}, seed=seed,
                     filename=f"{path.stem}.run.json")
    return path


__all__ = ["CONTROLLERS", "control_grid", "load_controlled", "parse_settings",
           "train_controllers"]

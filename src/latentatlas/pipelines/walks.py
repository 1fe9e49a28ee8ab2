"""Train and measure a GANalyze or steerability walk: what ``latentatlas ganalyze`` and
``latentatlas steer`` do.

Each run writes into ``out``: ``checkpoint/`` (the training state; a re-run resumes from it),
``walk/`` (the walk as a model folder, ``latentatlas.load`` reads it), ``results.json`` (the
curves, scores and side-effect tables), ``figure.png`` (the curve and a sample strip per amount)
and ``run.json`` (config, seed, versions, metrics). A finished run is not trained again.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.errors import OptionError
from latentatlas.utils.outputs import claim_folder

#: The measure of each transform when none is given: image moments, or a pixel statistic.
DEFAULT_MEASURES = {
    "shift_x": "moments:centroid_x",
    "shift_y": "moments:centroid_y",
    "zoom": "moments:area",
    "rotate": "moments:orientation",
    "color": "pixel:brightness",
}
#: Evaluation grids of the amounts (steerability units, see directions.steerability).
DEFAULT_GRIDS = {
    "shift_x": np.linspace(-0.6, 0.6, 13),
    "shift_y": np.linspace(-0.6, 0.6, 13),
    "zoom": np.linspace(-1.5, 1.5, 13),
    "rotate": np.linspace(-1.5, 1.5, 13),
    "color": np.linspace(-1.0, 1.0, 9),
}


def split_spec(spec: str, what: str) -> tuple[str, str]:
    """'SCORER:COLUMN' -> (scorer, column); a one-line error otherwise."""
    scorer, sep, column = str(spec).rpartition(":")
    if not sep or not scorer or not column:
        raise OptionError(f"{what} must be SCORER:COLUMN (e.g. celeba:Smiling, pixel:brightness),"
                          f" got {spec!r}")
    return scorer, column


def build_scorer(name: str, column: str, channels: int, logits: bool = False) -> Any:
    """A scorer by name with ``column`` (a one-line error when it has none); a predictor gives
    its per-factor columns (scale, posX, orientation, ...) when ``column`` is one of them, or
    its raw logits with ``logits``."""
    from latentatlas.scoring import factor_scorer, make_scorer
    from latentatlas.scoring.base import ScoringError
    from latentatlas.scoring.predictor import PredictorScorer

    if name == "pixel" and column == "colourfulness":
        from latentatlas.scoring.pixels import ColourfulnessScorer

        return make_scorer(ColourfulnessScorer(), clamp="display")
    scorer = make_scorer(name, channels=channels, clamp="display")
    if logits:
        if not isinstance(scorer, PredictorScorer):
            raise ScoringError(f"logits apply to predictor assessors; {name} is not one")
        scorer = PredictorScorer(scorer.model, output="logits", clamp="display")
    if isinstance(scorer, PredictorScorer) and column not in scorer.names:
        factors, _ = factor_scorer(scorer)
        if column in factors.names:
            return factors
    if column not in scorer.names:
        raise ScoringError(f"unknown column {column!r}; {name} gives {list(scorer.names)}")
    return scorer


def side_scorer_of(model: str, channels: int) -> Any:
    """The model's predictor as factor columns, or the pixel statistics."""
    from latentatlas.io.registry import zoo_entry
    from latentatlas.scoring import factor_scorer, make_scorer

    key = zoo_entry(model).get("predictor")  # the zoo's pairing, as explore's
    if key is None:  # a user's generator: the pixel statistics
        return make_scorer("pixel", channels=channels, clamp="display")
    return factor_scorer(make_scorer(key, clamp="display"))[0]


def _check_space(generator: Any, space: str) -> None:
    """The walk's space exists on ``generator`` (checked before the output folder is claimed)."""
    if space not in ("z", "w") or space not in generator.spaces:
        raise OptionError(f"space must be 'z' or 'w' (this generator has {generator.spaces}), "
                          f"got {space!r}")


def _finished(out: Path) -> dict[str, Any] | None:
    import json

    path = out / "results.json"
    if path.is_file() and (out / "walk" / "config.json").is_file():
        return json.loads(path.read_text("utf-8"))
    return None


def _strip_figure(out: Path, title: str, amounts: Any, curves: list[tuple[str, Any, str]],
                  images: torch.Tensor, xlabel: str, ylabel: str) -> Path:
    from latentatlas.report.figures import _new_figure, save_figure

    imgs = ((images.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()
    k = imgs.shape[0]
    fig = _new_figure(max(6.0, 0.9 * k), 4.2)
    gs = fig.add_gridspec(2, k, height_ratios=[3, 1])
    ax = fig.add_subplot(gs[0, :])
    for label, ys, style in curves:
        ax.plot(amounts, ys, style, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    for i in range(k):
        a = fig.add_subplot(gs[1, i])
        a.imshow(imgs[i].squeeze(-1) if imgs.shape[-1] == 1 else imgs[i],
                 cmap="gray" if imgs.shape[-1] == 1 else None, vmin=0, vmax=1)
        a.set_axis_off()
    return save_figure(fig, out / "figure.png")


def run_ganalyze(model: str, assessor: str, out: str | os.PathLike, *, space: str = "z",
                 steps: int = 500, batch_size: int = 8, lr: float = 1e-3,
                 alpha_max: float = 0.5, class_dependent: bool = False, alpha: float = 0.1,
                 logits: bool = False, n_eval: int = 64, seed: int = 0, progress: bool = True,
                 command: str = "ganalyze") -> dict[str, Any]:
    """Train GANalyze toward ``assessor`` ('SCORER:COLUMN') on ``model``; measure bigger_step and
    iterative curves and the side-effect table (every column of the assessor's scorer)."""
    from latentatlas.analysis.ganalyze import ganalyze_curve
    from latentatlas.directions.ganalyze import GANalyze
    from latentatlas.models.zoo import load as load_model
    from latentatlas.utils.runinfo import write_run_record

    out = Path(out)
    owner = {"command": command, "model": model, "assessor": assessor, "space": space}
    done = _finished(out)
    if done is not None:  # kept, unless it is another model's or settings' run
        claim_folder(out, owner, flag=None, legacy_marker="results.json")
        return done
    scorer_name, column = split_spec(assessor, "--assessor")
    generator = load_model(model).eval()
    scorer = build_scorer(scorer_name, column, generator.img_channels, logits)
    side = side_scorer_of(model, generator.img_channels)
    eval_scorer = scorer
    if not set(side.names) & set(scorer.names):
        from latentatlas.scoring.base import CombinedScorer

        eval_scorer = CombinedScorer([scorer, side])
    config = {"model": model, "assessor": assessor, "space": space, "steps": steps,
              "batch_size": batch_size, "lr": lr, "alpha_max": alpha_max,
              "class_dependent": class_dependent, "alpha": alpha, "logits": logits,
              "n_eval": n_eval}
    _check_space(generator, space)
    if class_dependent and not int(getattr(generator, "c_dim", 0)):
        raise OptionError("class_dependent=True needs a class-conditional generator")
    claim_folder(out, owner, flag=None, legacy_marker="checkpoint")
    t0 = time.process_time()
    finder = GANalyze(column, space=space, steps=steps, batch_size=batch_size, lr=lr,
                      alpha_max=alpha_max, class_dependent=class_dependent,
                      checkpoint=out / "checkpoint", progress=progress)
    finder.fit(generator=generator, scorer=scorer, rng=seed)
    cpu_train = time.process_time() - t0
    finder.walk_.save(out / "walk", metadata={"model": model, "assessor": assessor})
    curves = {mode: ganalyze_curve(generator, finder.walk_, eval_scorer, column, alpha=alpha,
                                   mode=mode, n=n_eval, seed=seed + 1)
              for mode in ("bigger_step", "iterative")}
    big = curves["bigger_step"]
    for c in curves.values():
        c["side_effects"] = c["side_effects"][:12]
        c["scores"] = {k: v for k, v in c["scores"].items()
                       if k in {r["column"] for r in c["side_effects"]}}
    results = {"method": "ganalyze", **config, "cpu_seconds_train": round(cpu_train, 1),
               "loss_first": finder.losses_[0], "loss_last_mean": float(np.mean(
                   finder.losses_[-max(1, len(finder.losses_) // 10):])),
               "slope_per_unit_alpha": big["slope"], "curves": curves}
    with torch.no_grad():
        x = torch.randn(1, generator.latent_shape(space)[0],
                        generator=torch.Generator().manual_seed(seed + 2))
        if space != "z":
            x = generator.z_to_latent(x, space)
        codes = torch.cat([finder.walk_.walk(x, k * alpha) for k in big["k"]])
        strip = generator.synthesize_batched(codes, space=space)
    _strip_figure(out, f"GANalyze {model} {assessor}: mean score per step (n={n_eval})",
                  big["amounts"], [("bigger_step", big["assessor_curve"], "o-"),
                                   ("iterative", curves["iterative"]["assessor_curve"], "s--")],
                  strip, "amount k alpha", column)
    atomic_write_json(out / "results.json", results)
    write_run_record(out, command=command, config=config, seed=seed,
                     metrics={"slope_per_unit_alpha": big["slope"],
                              "cpu_seconds_train": round(cpu_train, 1)})
    return results


def run_steer(model: str, transform: str, out: str | os.PathLike, *, walk: str = "linear",
              space: str = "z", steps: int = 300, batch_size: int = 8, lr: float = 1e-3,
              alpha_max: float | None = None, n_steps: int = 5, measure: str | None = None,
              n_eval: int = 64, tol: float = 0.25, seed: int = 0, progress: bool = True,
              command: str = "steer") -> dict[str, Any]:
    """Train a steerability walk for ``transform`` on ``model``; measure the achieved-vs-target
    curve with ``measure`` ('SCORER:COLUMN', default per transform), the steerability score and
    the side effects on the model's predictor factors."""
    from latentatlas.analysis.steerability import steerability_curve
    from latentatlas.directions.steerability import Steerability, check_transform
    from latentatlas.models.zoo import load as load_model
    from latentatlas.utils.runinfo import write_run_record

    out = Path(out)
    owner = {"command": command, "model": model, "transform": transform, "walk": walk,
             "space": space}
    done = _finished(out)
    if done is not None:  # kept, unless it is another model's or settings' run
        claim_folder(out, owner, flag=None, legacy_marker="results.json")
        return done
    generator = load_model(model).eval()
    check_transform(transform, generator)
    measure = measure or DEFAULT_MEASURES[transform]
    m_name, m_col = split_spec(measure, "--measure")
    m_scorer = build_scorer(m_name, m_col, generator.img_channels)
    config = {"model": model, "transform": transform, "walk": walk, "space": space,
              "steps": steps, "batch_size": batch_size, "lr": lr, "alpha_max": alpha_max,
              "n_steps": n_steps, "measure": measure, "n_eval": n_eval, "tol": tol}
    _check_space(generator, space)
    if walk == "nonlinear" and transform == "color":
        raise OptionError("the non-linear walk takes one amount; colour needs walk=linear "
                          "(one slider per channel)")
    claim_folder(out, owner, flag=None, legacy_marker="checkpoint")
    t0 = time.process_time()
    finder = Steerability(transform, walk=walk, space=space, steps=steps,
                          batch_size=batch_size, lr=lr, alpha_max=alpha_max, n_steps=n_steps,
                          checkpoint=out / "checkpoint", progress=progress)
    finder.fit(generator=generator, rng=seed)
    cpu_train = time.process_time() - t0
    finder.walk_.save(out / "walk", metadata={"model": model, "transform": transform})
    grid = DEFAULT_GRIDS[transform]
    res = steerability_curve(generator, finder.walk_, transform, grid, m_scorer, m_col,
                             side_scorer=side_scorer_of(model, generator.img_channels),
                             space=space, n=n_eval, seed=seed + 1, tol=tol,
                             period=180.0 if m_col == "orientation" and m_name == "moments"
                             else None)
    res["side_effects"] = res.get("side_effects", [])[:12]
    results = {"method": "steerability", **config, "cpu_seconds_train": round(cpu_train, 1),
               "loss_first": finder.losses_[0], "loss_last_mean": float(np.mean(
                   finder.losses_[-max(1, len(finder.losses_) // 10):])),
               **res, "measure": measure}
    with torch.no_grad():
        x = torch.randn(1, generator.z_dim, generator=torch.Generator().manual_seed(seed + 2))
        if space != "z":
            x = generator.z_to_latent(x, space)
        codes = torch.cat([finder.walk_.walk(x, float(a)) for a in grid])
        strip = generator.synthesize_batched(codes, space=space)
    rows = res["curve"]
    _strip_figure(out, f"steer {model} {transform} ({walk}, {space}): score "
                       f"{res['score']['range_fraction']:.2f}, reach "
                       f"{res['score']['reach_fraction']:.2f}",
                  grid, [("target edit", [r["target"] for r in rows], "k--"),
                         ("walk", [r["achieved"] for r in rows], "o-")],
                  strip, "amount a", f"change of {m_col}")
    atomic_write_json(out / "results.json", results)
    write_run_record(out, command=command, config=config, seed=seed,
                     metrics={**res["score"], "cpu_seconds_train": round(cpu_train, 1)})
    return results


__all__ = ["DEFAULT_MEASURES", "run_ganalyze", "run_steer", "split_spec"]

"""``gan_metrics()``: VP, PPL and the disentanglement suite of a Z-space GAN in one record
(``latentatlas gan-metrics``)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from latentatlas.utils.errors import OptionError

#: What ``gan_metrics`` can measure.
MEASURES = ("vp", "ppl", "suite")


def gan_metrics(model: Any, *, measures: tuple[str, ...] = MEASURES, vp_seeds: int = 3,
                vp_pairs: int = 10_000, ppl_n: int = 2_000, ppl_space: str = "z",
                embedder: Any = "auto", data: str | None = "auto", directions: Any = None,
                suite_sizes: dict | None = None, encoder_steps: int = 3000, seed: int = 0,
                progress: bool = False) -> dict[str, Any]:
    """VP (mean and sd over ``vp_seeds`` runs of the metric), PPL in ``ppl_space`` (distance in
    ``embedder``'s embedding: "auto" = the model's shipped predictor, None = pixels) and the
    suite (MIG, DCI, FactorVAE) through a fitted z encoder on ``data``'s real images ("auto":
    the model's ground-truth set, dsprites / shapes3d by the paired predictor)."""
    from latentatlas.metrics.gan import perceptual_path_length, variation_predictability
    from latentatlas.models.zoo import load

    unknown = [m for m in measures if m not in MEASURES]
    if unknown:
        raise OptionError(f"unknown measure(s) {unknown}; choose from {list(MEASURES)}")
    G = model if not isinstance(model, (str, os.PathLike)) else load(model)
    G.eval()
    out: dict[str, Any] = {"model": str(model) if isinstance(model, (str, os.PathLike))
                           else type(G).__name__, "z_dim": int(G.z_dim)}
    if "vp" in measures:
        runs = [variation_predictability(G, n_pairs=vp_pairs, directions=directions,
                                         seed=seed + s, progress=progress)
                for s in range(int(vp_seeds))]
        acc = [r["accuracy"] for r in runs]
        out["vp"] = {"mean": float(np.mean(acc)),
                     "sd": float(np.std(acc, ddof=1)) if len(acc) > 1 else None,
                     "runs": runs, "chance": runs[0]["chance"]}
    if "ppl" in measures:
        emb = _embedder(model, embedder)
        out["ppl"] = perceptual_path_length(G, space=ppl_space, n=ppl_n, embedder=emb,
                                            seed=seed)
        out["ppl"]["embedding"] = "pixels" if emb is None else _name(embedder, model)
    if "suite" in measures:
        from latentatlas.analysis.gan_disentanglement import gan_disentanglement

        gt = _ground_truth(model, data)
        out["suite"] = gan_disentanglement(G, gt, encoder_steps=encoder_steps,
                                           sizes=suite_sizes, seed=seed, progress=progress)
        out["suite"]["data"] = gt.name
    return out


def _paired_predictor(model: Any) -> str | None:
    from latentatlas.io.registry import zoo_entry

    if not isinstance(model, (str, os.PathLike)):
        return None
    return zoo_entry(model).get("predictor")


def _embedder(model: Any, embedder: Any) -> Any:
    if embedder != "auto":
        if isinstance(embedder, (str, os.PathLike)):
            from latentatlas.models.zoo import load

            return load(embedder).eval()
        return embedder
    key = _paired_predictor(model)
    if key is None:
        return None
    from latentatlas.models.zoo import load

    return load(key).eval()


def _name(embedder: Any, model: Any) -> str:
    if embedder == "auto":
        return str(_paired_predictor(model))
    return str(embedder) if isinstance(embedder, (str, os.PathLike)) else type(embedder).__name__


def _ground_truth(model: Any, data: str | None):
    from latentatlas.data.registry import load_data

    if data == "auto":
        key = _paired_predictor(model) or ""
        data = {"predictor_dsprites": "dsprites", "predictor_shapes3d": "shapes3d"}.get(key)
        if data is None:
            raise OptionError("no ground-truth data set is paired with this model; pass --data "
                              "(dsprites, shapes3d) or leave the suite out")
    return load_data(data)


__all__ = ["MEASURES", "gan_metrics"]

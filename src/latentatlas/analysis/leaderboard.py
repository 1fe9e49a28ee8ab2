"""The direction-discovery leaderboard: every method on one generator, labelled the same way.

:func:`run_leaderboard` fits each registered method (:mod:`latentatlas.directions.registry`) on
the same generator, keeps its top-K directions, labels them with one scorer
(:func:`~latentatlas.analysis.labelling.label_directions`, on the same codes for every method)
and scores the method against the scorer's factors:

- ``dedicated``: the factors whose best direction *targets* them with purity >= ``threshold``
  (and a standardised mean change of at least ``min_effect`` sd);
- ``mean_best_purity``: the mean over factors of the purity of the best direction targeting
  the factor (0 where none does);
- ``fit_seconds``, and ``rca`` where the method reports one (``rca_``: trained methods).

As the supervised reference, an InterFaceGAN SVM boundary is fitted per factor column on a
small scored bank and labelled identically, layer ranges included (``svm``). It is the best
*linear separator* of the factor, not the purest direction: where attributes are correlated in
the data (Male and Bald, Young and Eyeglasses) the boundary moves them together, so unsupervised
directions restricted to a layer range can be purer. A method that does not apply to the
generator (e.g. StyleSpace on a Z-only GAN) is recorded with ``skipped`` and its reason.

A method may also be ``file:PATH``: directions found elsewhere (a long latent-discovery run, a
user's own method), a :class:`~latentatlas.directions.Directions` file labelled and ranked
like the fitted ones; its ``rca`` is the file's metadata ``rca`` when it records one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentatlas.analysis.labelling import (
    LabelResult,
    fit_images,
    label_directions,
    sample_codes,
    scorer_resolution,
)
from latentatlas.directions import Directions, SVMBoundary
from latentatlas.directions.registry import make_method, method_class
from latentatlas.scoring.base import CallableScorer
from latentatlas.utils.errors import LatentAtlasError, ShapeError

DEFAULT_METHODS = ("sefa", "ganspace", "stylespace")
#: Prefix of a method that is a directions file (module docstring).
FILE_METHOD = "file:"


def directions_file(name: str) -> Path | None:
    """The path of a ``file:PATH`` method (checked to exist), None for a registered method."""
    if not str(name).startswith(FILE_METHOD):
        return None
    path = Path(str(name)[len(FILE_METHOD):]).expanduser()
    if not path.is_file():
        raise ShapeError(f"method {name!r}: no directions file {path}; give file:PATH of a "
                         "Directions .safetensors file")
    return path


def check_method(name: str) -> None:
    """A registered method name or a readable Directions ``file:PATH`` (a one-line error
    otherwise), checked before any output is written."""
    path = directions_file(name)
    if path is None:
        method_class(name)
    else:
        Directions.load(path)


def method_label(name: str) -> str:
    """The name a method has in the leaderboard: its registry name, ``file:<stem>`` for a file."""
    path = directions_file(name)
    return str(name) if path is None else f"{FILE_METHOD}{path.stem}"


def method_stem(label: str) -> str:
    """A file name for a method's outputs (``file:ld`` -> ``file_ld``)."""
    from latentatlas.scoring.base import safe_name

    return safe_name(str(label).replace(FILE_METHOD, "file_", 1))


def file_digest(path: Path) -> str:
    """sha256 of a directions file (its identity in caches)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:24]


def _load_directions_file(name: str, generator: Any, top_k: int) -> tuple[Directions, dict]:
    path = directions_file(name)
    assert path is not None
    dirs = Directions.load(path)
    spaces = getattr(generator, "spaces", ("z",))
    if dirs.space not in spaces:
        raise ShapeError(f"{path}: directions in space {dirs.space!r}, the generator has "
                         f"{list(spaces)}")
    params = {"file": str(path), "sha256": file_digest(path)}
    return (dirs[:top_k] if len(dirs) > top_k else dirs), params
#: Smallest |standardised mean change| (sd) for a direction to count for its target factor.
MIN_EFFECT = 0.2


def fitted_scorer(scorer: Any, generator: Any, image_fit: str = "error") -> Any:
    """``scorer`` on the generator's images fitted to its resolution (:func:`fit_images`);
    a mismatch with ``image_fit="error"`` is a one-line ShapeError now, not mid-run."""
    size = scorer_resolution(scorer)
    res = int(getattr(generator, "img_resolution", 0) or 0)
    if size is None or size == res:
        return scorer
    fit_images(torch.zeros(1, 1, res, res), size, image_fit)  # raises for "error"

    def fn(images: torch.Tensor) -> torch.Tensor:
        return scorer(fit_images(images, size, image_fit))

    return CallableScorer(fn, list(scorer.names), differentiable=True, clamp="none",
                          description=f"{image_fit} to {size} px")


def default_params(name: str, generator: Any, top_k: int, seed: int,
                   truncation_psi: float) -> dict[str, Any]:
    """The leaderboard's settings of the built-in methods (others: their defaults)."""
    has_w = "w" in getattr(generator, "spaces", ("z",))
    d = int(generator.w_dim if has_w else generator.z_dim)
    k = min(top_k, d)
    if name == "sefa":
        return {"n_components": k}
    if name == "ganspace":
        return {"n_components": k, "estimator": "randomized", "seed": seed,
                "n_samples": 100_000 if has_w else 10_000, "truncation_psi": 1.0}
    if name == "stylespace":
        return {"n_components": top_k, "seed": seed, "truncation_psi": truncation_psi}
    return {}


def per_factor(candidates: Sequence[Mapping[str, Any]], factors: Sequence[str],
               threshold: float, min_effect: float = MIN_EFFECT) -> dict[str, Any]:
    """Each factor's best direction: the highest purity among the candidates that target it
    with a standardised mean change of at least ``min_effect`` sd (a purity measured on a
    change lost in the sampling noise means nothing)."""
    out: dict[str, Any] = {}
    for f in factors:
        rows = [r for r in candidates if r["target"] == f and abs(r["effect"]) >= min_effect]
        share = max((r["factor_share"][f] for r in candidates
                     if abs(r["effects"].get(r["target_column"], 0.0)) >= min_effect),
                    default=0.0)
        if not rows:
            out[f] = {"purity": 0.0, "direction": None, "layers": None, "effect": None,
                      "dedicated": False, "best_share": share}
            continue
        r = max(rows, key=lambda r: (r["purity"], r["change"]))
        out[f] = {"purity": r["purity"], "direction": r["direction"], "layers": r["layers"],
                  "effect": r["effect"], "column": r["target_column"],
                  "dedicated": bool(r["purity"] >= threshold), "best_share": share}
    return out


def summarise(labels: Mapping[str, Any], threshold: float, min_effect: float = MIN_EFFECT
              ) -> dict[str, Any]:
    """Per-factor bests and the method's scores from a :meth:`LabelResult.to_json` dict."""
    facts = per_factor(labels["candidates"], list(labels["groups"]), threshold, min_effect)
    return {"per_factor": facts,
            "dedicated": [f for f, v in facts.items() if v["dedicated"]],
            "dedicated_factors": sum(v["dedicated"] for v in facts.values()),
            "mean_best_purity": float(np.mean([v["purity"] for v in facts.values()])),
            "labels": list(labels["labels"])}


def column_sd(generator: Any, scorer: Any, n: int, seed: int, truncation_psi: float,
              batch_size: int = 64) -> np.ndarray:
    """Each scorer column's standard deviation over ``n`` fresh samples (seed ``[seed, 3]``)."""
    codes, space = sample_codes(generator, n, int(np.random.default_rng([seed, 3]).integers(
        2**31)), truncation_psi)
    out = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            img = generator.synthesize(torch.as_tensor(codes[start:start + batch_size]).to(
                generator.device), space)
            s = scorer(img)
            out.append(np.asarray(s.detach().cpu().numpy() if isinstance(s, torch.Tensor)
                                  else s, dtype=np.float64))
    scores = np.concatenate(out)
    if not np.isfinite(scores).all():
        raise ShapeError("the scorer returned NaN / Inf scores")
    return scores.std(axis=0)


def svm_upper_bound(generator: Any, scorer: Any, groups: Mapping[str, Sequence[str]],
                    codes: np.ndarray, *, n: int, seed: int, truncation_psi: float,
                    alpha: float, change: str, batch_size: int, progress: bool,
                    min_effect: float = MIN_EFFECT, score_sd: Any = None
                    ) -> tuple[dict[str, Any], Directions | None]:
    """SVM boundaries of every factor column on ``n`` scored samples, labelled like the rest
    (layer ranges included): per factor the purest SVM direction targeting it."""
    rng = np.random.default_rng([seed, 7])
    space = "w" if "w" in generator.spaces else "z"
    lat = generator.sample(n, space, rng=rng,
                           truncation_psi=truncation_psi if space == "w" else 1.0)
    lat = lat.detach().float().cpu()
    scores = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            img = generator.synthesize(lat[start:start + batch_size].to(generator.device), space)
            scores.append(np.asarray(scorer(img).detach().cpu().numpy(), dtype=np.float64))
    s = np.concatenate(scores)
    if not np.isfinite(s).all():
        raise ShapeError("the scorer returned NaN / Inf scores on the SVM bank")
    names = list(scorer.names)
    vectors, kept = [], []
    for cols in groups.values():
        for c in cols:
            svm = SVMBoundary(space=space, chosen_num_or_ratio=0.1, seed=seed, name=c,
                              progress=False)
            try:
                svm.fit(lat.numpy(), s[:, names.index(c)])
            except (ShapeError, ValueError):
                continue
            vectors.append(svm.normal_)
            kept.append(c)
    if not vectors:
        return {"per_factor": {}, "mean_purity": None}, None
    dirs = Directions(np.stack(vectors), space, names=[f"svm_{c}" for c in kept],
                      method="interfacegan_svm", normalize=True)
    res = label_directions(generator, dirs, scorer, groups=groups, codes=codes, alpha=alpha,
                           change=change, batch_size=batch_size, score_sd=score_sd,
                           progress=progress)
    per: dict[str, Any] = {}
    for f, cols in groups.items():
        rows = [r for r in res.candidates if r["direction"][len("svm_"):] in cols]
        hits = [r for r in rows if r["target"] == f and abs(r["effect"]) >= min_effect]
        if hits:
            r = max(hits, key=lambda r: (r["purity"], r["change"]))
            per[f] = {"purity": r["purity"], "column": r["direction"][len("svm_"):],
                      "effect": r["effect"], "layers": r["layers"]}
        elif rows:  # no SVM direction targets its factor: its best share of the change
            r = max(rows, key=lambda r: r["factor_share"][f])
            per[f] = {"purity": r["factor_share"][f], "column": r["direction"][len("svm_"):],
                      "effect": r["effects"][r["direction"][len("svm_"):]],
                      "layers": r["layers"], "not_target": True}
        else:
            per[f] = {"purity": None}
    vals = [v["purity"] for v in per.values() if v["purity"] is not None]
    return {"per_factor": per, "mean_purity": float(np.mean(vals)) if vals else None,
            "n": n, "labels": res.labels()}, dirs


def run_leaderboard(
    generator: Any,
    scorer: Any,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    groups: Mapping[str, Sequence[str]] | None = None,
    top_k: int = 10,
    n: int = 128,
    alpha: float = 2.0,
    change: str = "mean",
    threshold: float = 0.5,
    min_effect: float = MIN_EFFECT,
    svm_n: int = 2000,
    seed: int = 0,
    truncation_psi: float = 0.7,
    method_params: Mapping[str, Mapping[str, Any]] | None = None,
    image_fit: str = "error",
    batch_size: int = 64,
    score_sd: Any = None,
    sd_n: int = 1000,
    progress: bool = False,
) -> dict[str, Any]:
    """Fit, label and rank ``methods`` on ``generator`` (module docstring).

    Changes are standardised by each column's sd over ``sd_n`` fresh samples (``score_sd``
    when given; 0: over the ``n`` labelled samples), steadier for rare attributes.

    Returns a dict: ``leaderboard`` (JSON-serialisable: settings, factors, per-method summaries,
    the SVM upper bound), ``directions`` ({method: Directions, "svm": ...}) and ``labels``
    ({method: LabelResult}).
    """
    if top_k < 1:
        raise ShapeError(f"top_k must be >= 1, got {top_k}")
    if not methods:
        raise ShapeError("give at least one method")
    for m in methods:
        check_method(m)  # unknown names fail before any work
    scorer = fitted_scorer(scorer, generator, image_fit)
    groups = {str(f): list(c) for f, c in (groups or {c: [c] for c in scorer.names}).items()}
    t_all = time.perf_counter()
    codes, _ = sample_codes(generator, n, seed, truncation_psi)
    if score_sd is None and sd_n:
        score_sd = column_sd(generator, scorer, sd_n, seed, truncation_psi, batch_size)
    board: dict[str, Any] = {}
    directions: dict[str, Directions] = {}
    labels: dict[str, LabelResult] = {}
    images = 0
    for method in methods:
        name = method_label(method)
        t0 = time.perf_counter()
        if directions_file(method) is not None:
            dirs, params = _load_directions_file(method, generator, top_k)
            rca = (getattr(dirs, "metadata", None) or {}).get("rca")
        else:
            params = {**default_params(name, generator, top_k, seed, truncation_psi),
                      **dict((method_params or {}).get(name, {}))}
            finder = make_method(name, **params)
            try:
                finder.fit(generator=generator, scorer=scorer, rng=seed)
            except (ShapeError, LatentAtlasError, ValueError) as e:
                if "has no" in str(e):  # the method does not apply to this generator
                    board[name] = {"skipped": str(e), "params": params}
                    continue
                raise
            dirs, rca = finder.directions_, getattr(finder, "rca_", None)
            if len(dirs) > top_k:
                dirs = dirs[:top_k]
        fit_s = time.perf_counter() - t0
        res = label_directions(generator, dirs, scorer, groups=groups, codes=codes, alpha=alpha,
                               change=change, batch_size=batch_size, score_sd=score_sd,
                               progress=progress)
        images += res.images
        directions[name], labels[name] = dirs, res
        board[name] = {"fit_seconds": fit_s, "n_directions": len(dirs), "params": params,
                       "rca": rca, "space": dirs.space,
                       **summarise(res.to_json(), threshold, min_effect)}
    svm, svm_dirs = ({"per_factor": {}, "mean_purity": None}, None)
    if svm_n:
        svm, svm_dirs = svm_upper_bound(generator, scorer, groups, codes, n=svm_n, seed=seed,
                                        truncation_psi=truncation_psi, alpha=alpha,
                                        change=change, batch_size=batch_size, progress=progress,
                                        min_effect=min_effect, score_sd=score_sd)
    if svm_dirs is not None:
        directions["svm"] = svm_dirs
    board_json = {
        "factors": list(groups), "groups": groups, "methods": board, "svm": svm,
        "settings": {"methods": list(methods), "top_k": top_k, "n": n, "alpha": alpha,
                     "alpha_units": "sd", "change": change, "threshold": threshold,
                     "min_effect": min_effect,
                     "svm_n": svm_n, "sd_n": sd_n, "seed": seed, "truncation_psi": truncation_psi,
                     "image_fit": image_fit},
        "images_labelled": images, "seconds": time.perf_counter() - t_all,
    }
    return {"leaderboard": board_json, "directions": directions, "labels": labels,
            "codes": codes, "scorer": scorer}


def leaderboard_table(board: Mapping[str, Any]) -> list[list[Any]]:
    """Rows: method, dedicated factors (of all), mean best purity, SVM reference, RCA, fit s."""
    nf = len(board["factors"])
    svm = board["svm"].get("mean_purity")
    rows = []
    for name, m in board["methods"].items():
        if "skipped" in m:
            rows.append([name, "n/a", "n/a", svm, None, None])
            continue
        rows.append([name, f"{m['dedicated_factors']}/{nf}", m["mean_best_purity"], svm,
                     m.get("rca"),
                     None if "file" in m.get("params", {}) else m["fit_seconds"]])
    return rows


TABLE_HEADER = ["method", "dedicated (purity >= thr)", "mean best purity", "SVM reference",
                "RCA", "fit s"]

__all__ = ["DEFAULT_METHODS", "MIN_EFFECT", "TABLE_HEADER", "column_sd", "default_params",
           "fitted_scorer", "leaderboard_table", "per_factor", "run_leaderboard", "summarise",
           "svm_upper_bound"]

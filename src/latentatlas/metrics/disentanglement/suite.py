"""Run every disentanglement metric on one representation."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from latentatlas.data.base import GroundTruthData
from latentatlas.metrics.disentanglement._common import (
    DEFAULT_REPR_BATCH_SIZE,
    RepresentationFn,
    drop_single_valued_factors,
)
from latentatlas.metrics.disentanglement.information import (
    mig,
    modularity_explicitness,
    unsupervised,
)
from latentatlas.metrics.disentanglement.intervention import beta_vae, factor_vae
from latentatlas.metrics.disentanglement.irs import irs
from latentatlas.metrics.disentanglement.predictors import dci, sap
from latentatlas.utils.errors import LatentAtlasError

#: Sample sizes of ``compute_suite(fast=True)`` (the defaults are disentanglement_lib's).
FAST_SETTINGS: dict[str, dict[str, int]] = {
    "beta_vae": {"num_train": 2_000, "num_eval": 1_000},
    "factor_vae": {"num_train": 2_000, "num_eval": 1_000, "num_variance_estimate": 5_000},
    "mig": {"num_train": 5_000},
    "dci": {"num_train": 2_000, "num_test": 1_000},
    "sap": {"num_train": 2_000, "num_test": 1_000},
    "modularity_explicitness": {"num_train": 5_000, "num_test": 2_500},
    "irs": {"num_train": 5_000},
    "unsupervised": {"num_train": 5_000},
}

#: Reduced sample sizes for a loaded 2-core CPU (``latentatlas metrics --sizes card``), used for
#: the shipped models' cards: encoding ~93k images instead of the ~2.4M the defaults need (the
#: BetaVAE and FactorVAE metrics encode 128 / 64 images per point). Accuracy-type scores then carry
#: roughly +-0.05 of sampling noise (100 evaluation points).
CARD_SIZES: dict[str, dict[str, int]] = {
    "beta_vae": {"num_train": 200, "num_eval": 100},
    "factor_vae": {"num_train": 200, "num_eval": 100, "num_variance_estimate": 2_000},
    "mig": {"num_train": 10_000},
    "dci": {"num_train": 2_000, "num_test": 1_000},
    "sap": {"num_train": 2_000, "num_test": 1_000},
    "modularity_explicitness": {"num_train": 5_000, "num_test": 2_500},
    "irs": {"num_train": 5_000},
    "unsupervised": {"num_train": 5_000},
}

METRICS: dict[str, Callable[..., dict[str, Any]]] = {
    "beta_vae": beta_vae,
    "factor_vae": factor_vae,
    "mig": mig,
    "dci": dci,
    "sap": sap,
    "modularity_explicitness": modularity_explicitness,
    "irs": irs,
    "unsupervised": unsupervised,
}

#: The headline number of each metric (for tables).
HEADLINE: dict[str, str] = {
    "beta_vae": "eval_accuracy",
    "factor_vae": "eval_accuracy",
    "mig": "discrete_mig",
    "dci": "disentanglement",
    "sap": "SAP_score",
    "modularity_explicitness": "modularity_score",
    "irs": "IRS",
    "unsupervised": "gaussian_total_correlation",
}


def compute_suite(
    data: GroundTruthData,
    representation_fn: RepresentationFn,
    rng: np.random.Generator | int | None = 0,
    fast: bool = False,
    *,
    metrics: list[str] | None = None,
    repr_batch_size: int = DEFAULT_REPR_BATCH_SIZE,
    progress: bool = False,
    sizes: dict[str, dict[str, int]] | None = None,
    log: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Run the metric suite -> ``{metric: scores, ..., "timings_s": {...}, "settings": {...}}``.

    With an int seed (default 0) every metric is seeded with it independently, as
    disentanglement_lib does, so a metric run alone with the same seed gives the same number;
    a Generator is split into one independent child stream per metric. ``fast=True`` uses
    :data:`FAST_SETTINGS` sample sizes instead of the defaults; ``sizes`` (e.g.
    :data:`CARD_SIZES`; metrics it leaves out keep their defaults) replaces both. ``metrics``
    selects a subset. ``progress`` shows a bar; ``log`` gets one line per finished metric.
    """

    names = list(METRICS) if metrics is None else list(metrics)
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise LatentAtlasError(f"unknown metric(s) {unknown}; choose from {sorted(METRICS)}")
    unknown = sorted(set(sizes or {}) - set(METRICS))
    if unknown:
        raise LatentAtlasError(f"unknown metrics {unknown}; known: {sorted(METRICS)}")
    if isinstance(rng, np.random.Generator):
        streams = dict(zip(names, rng.spawn(len(names)), strict=True))
    else:
        seed = 0 if rng is None else int(rng)
        streams = {m: np.random.default_rng(seed) for m in names}
    data, warnings_ = drop_single_valued_factors(data)
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    timings: dict[str, float] = {}
    settings: dict[str, Any] = {"fast": fast and sizes is None,
                                "repr_batch_size": repr_batch_size, "sizes": {}}
    iterator: Any = names
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(names, desc="metrics", unit="metric")
    for name in iterator:
        if sizes is not None:
            kwargs = dict(sizes.get(name, {}))
            settings["sizes"][name] = sizes.get(name, "defaults")
        else:
            kwargs = dict(FAST_SETTINGS[name]) if fast else {}
            settings["sizes"][name] = kwargs or "defaults"
        start = time.perf_counter()
        try:
            results[name] = METRICS[name](
                data, representation_fn, streams[name], repr_batch_size=repr_batch_size,
                **kwargs)
        except (LatentAtlasError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            # One failing metric never discards the others: its error is the result.
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            errors[name] = results[name]["error"]
        timings[name] = time.perf_counter() - start
        if log is not None:
            log(f"  {name}: {timings[name]:.0f} s"
                + (f" (failed: {errors[name]})" if name in errors else ""))
    results["timings_s"] = timings
    results["settings"] = settings
    if errors:
        results["errors"] = errors
    if warnings_:
        results["warnings"] = warnings_
    return results


def headline_scores(results: dict[str, Any]) -> dict[str, float]:
    """One number per metric from :func:`compute_suite` output (see :data:`HEADLINE`); a metric
    that failed (``{"error": ...}``) gives NaN."""
    return {m: float(results[m].get(key, float("nan"))) for m, key in HEADLINE.items()
            if m in results}


def evaluate_vae(model_name: str, data: str = "dsprites", fast: bool = False, seed: int = 0,
                 random_init: bool = False, progress: bool = False,
                 sizes: dict[str, dict[str, int]] | None = None,
                 log: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Load a VAE (folder or shipped name) and run the metric suite on its encoder mean.

    ``seed`` seeds every metric independently (as disentanglement_lib does); with
    ``random_init`` the scores are those of a freshly initialised encoder of the same
    architecture (torch seed ``seed``): the baseline a trained model must beat. ``sizes`` gives
    per-metric sample sizes (e.g. :data:`CARD_SIZES`) and replaces ``fast``. ``data`` is a name of
    :func:`~latentatlas.data.vae_sets.load_vae_data` with ground truth (not a ``.npy`` array).
    With ``progress``: a bar, or with ``sizes`` one line per metric to ``log``.
    """
    import torch

    from latentatlas.data.vae_sets import load_vae_data
    from latentatlas.models import load
    from latentatlas.models.vae import VAE
    from latentatlas.utils.errors import CheckpointError, OptionError

    model = load(model_name)
    if not isinstance(model, VAE):
        raise CheckpointError(f"{model_name}: is a {type(model).__name__}, not a VAE")
    if random_init:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = VAE(**model.init_kwargs).eval()
    dataset = load_vae_data(data)
    if isinstance(dataset, np.ndarray):
        raise OptionError("metrics need a ground-truth data set (dsprites...), not an array")
    return compute_suite(dataset, model.representation, seed, fast=fast,
                         progress=progress and sizes is None, sizes=sizes,
                         log=log if progress and sizes is not None else None)

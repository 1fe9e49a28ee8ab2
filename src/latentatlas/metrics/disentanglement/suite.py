"""Run every disentanglement metric on one representation."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from latentatlas.data.base import GroundTruthData
from latentatlas.metrics.disentanglement._common import DEFAULT_REPR_BATCH_SIZE, RepresentationFn
from latentatlas.metrics.disentanglement.information import (
    mig,
    modularity_explicitness,
    unsupervised,
)
from latentatlas.metrics.disentanglement.intervention import beta_vae, factor_vae
from latentatlas.metrics.disentanglement.irs import irs
from latentatlas.metrics.disentanglement.predictors import dci, sap

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
) -> dict[str, Any]:
    """Run the metric suite -> ``{metric: scores, ..., "timings_s": {...}, "settings": {...}}``.

    With an int seed (default 0) every metric is seeded with it independently, as
    disentanglement_lib does, so a metric run alone with the same seed gives the same number;
    a Generator is split into one independent child stream per metric. ``fast=True`` uses
    :data:`FAST_SETTINGS` sample sizes instead of the defaults. ``metrics`` selects a subset.
    """
    names = list(METRICS) if metrics is None else list(metrics)
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        from latentatlas.utils.errors import LatentAtlasError

        raise LatentAtlasError(f"unknown metric(s) {unknown}; choose from {sorted(METRICS)}")
    if isinstance(rng, np.random.Generator):
        streams = dict(zip(names, rng.spawn(len(names)), strict=True))
    else:
        seed = 0 if rng is None else int(rng)
        streams = {m: np.random.default_rng(seed) for m in names}
    results: dict[str, Any] = {}
    timings: dict[str, float] = {}
    settings: dict[str, Any] = {"fast": fast, "repr_batch_size": repr_batch_size, "sizes": {}}
    iterator: Any = names
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(names, desc="metrics", unit="metric")
    for name in iterator:
        kwargs = dict(FAST_SETTINGS[name]) if fast else {}
        settings["sizes"][name] = kwargs or "defaults"
        start = time.perf_counter()
        results[name] = METRICS[name](
            data, representation_fn, streams[name], repr_batch_size=repr_batch_size, **kwargs
        )
        timings[name] = time.perf_counter() - start
    results["timings_s"] = timings
    results["settings"] = settings
    return results


def headline_scores(results: dict[str, Any]) -> dict[str, float]:
    """One number per metric from :func:`compute_suite` output (see :data:`HEADLINE`)."""
    return {m: float(results[m][key]) for m, key in HEADLINE.items() if m in results}

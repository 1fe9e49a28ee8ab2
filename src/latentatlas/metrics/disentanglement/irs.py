"""Interventional Robustness Score (Suter et al. 2019) with disentanglement_lib's defaults."""

from __future__ import annotations

from typing import Any

import numpy as np

from latentatlas.data.base import GroundTruthData
from latentatlas.metrics.disentanglement._common import (
    DEFAULT_REPR_BATCH_SIZE,
    RepresentationFn,
    as_codes,
    as_labels,
    histogram_discretize,
    on_varying_factors,
    sample_codes,
    varying_factors,
    with_warnings,
)
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.rng import check_rng


def irs_matrix(
    factors: np.ndarray, latents: np.ndarray, diff_quantile: float = 0.99
) -> tuple[np.ndarray, np.ndarray]:
    """IRS matrix [L, F] and per-latent maximal deviations [L].

    For factor i and each of its values v: the ``diff_quantile`` quantile of |z - E[z | g_i = v]|
    within the group, averaged over values and divided by max |z - E[z]|; IRS = 1 - that.
    """
    num_latents = latents.shape[1]
    max_dev = np.abs(latents - latents.mean(axis=0)).max(axis=0)
    cum = np.zeros((num_latents, factors.shape[1]))
    for i in range(factors.shape[1]):  # per factor, per value group: vectorised over latents
        values, groups = np.unique(factors[:, i], return_inverse=True)
        groups = groups.reshape(-1)
        order = np.argsort(groups, kind="stable")
        bounds = np.searchsorted(groups[order], np.arange(len(values) + 1))
        sorted_latents = latents[order]
        for g in range(len(values)):
            block = sorted_latents[bounds[g] : bounds[g + 1]]
            diffs = np.abs(block - block.mean(axis=0))
            cum[:, i] += np.quantile(diffs, diff_quantile, axis=0)
        cum[:, i] /= len(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        normalized = cum / max_dev[:, None]
    return 1.0 - normalized, max_dev


def irs_from_codes(
    codes: Any, factors: Any, *, diff_quantile: float = 0.99, num_bins: int = 20
) -> dict[str, float]:
    """IRS from codes [N, d] and discrete factors [N, F].

    As disentanglement_lib: factors are histogram-discretised into ``num_bins`` bins (this merges
    values of factors with more than ``num_bins`` values), constant code dimensions are dropped,
    and the per-latent scores (max over factors of the IRS matrix) are averaged with weights
    max |z - E z|. Returns ``{"IRS", "num_active_dims"}`` (IRS 0 when no dimension varies;
    ``num_active_dims`` counts them; disentanglement_lib sums code values there, a bug).
    """
    if not 0.0 < diff_quantile <= 1.0:
        raise ShapeError(f"diff_quantile must be in (0, 1], got {diff_quantile}")
    codes = as_codes(codes)
    factors = as_labels(factors, n=codes.shape[0])
    keep, warnings = varying_factors(factors)
    discrete = histogram_discretize(factors[:, keep], num_bins)
    active = codes.var(axis=0) > 0.0
    if not active.any():
        return with_warnings({"IRS": 0.0, "num_active_dims": 0}, warnings)
    matrix, max_dev = irs_matrix(discrete, codes[:, active], diff_quantile)
    per_latent = matrix.max(axis=1)
    score = np.average(per_latent, weights=max_dev) if max_dev.sum() > 0 else per_latent.mean()
    return with_warnings({"IRS": float(score), "num_active_dims": int(active.sum())}, warnings)


@on_varying_factors
def irs(
    data: GroundTruthData,
    representation_fn: RepresentationFn,
    rng: np.random.Generator | int | None = 0,
    *,
    num_train: int = 10_000,
    diff_quantile: float = 0.99,
    repr_batch_size: int = DEFAULT_REPR_BATCH_SIZE,
) -> dict[str, float]:
    """IRS on ``num_train`` random observations (see :func:`irs_from_codes`)."""
    codes, factors = sample_codes(data, representation_fn, num_train, check_rng(rng),
                                  repr_batch_size)
    return irs_from_codes(codes, factors, diff_quantile=diff_quantile)

"""Metrics that need interventions on the data: BetaVAE (Higgins et al. 2017) and FactorVAE (Kim &
Mnih 2018), with disentanglement_lib's defaults.

Both draw groups of ``batch_size`` observations that share one factor value; all factor tuples are
drawn at once, then encoded in batches of ``repr_batch_size`` (no per-group Python loop), block by
block of whole groups so that memory stays bounded for wide codes.
"""

from __future__ import annotations

import numpy as np

from latentatlas.data.base import GroundTruthData
from latentatlas.metrics.disentanglement._common import (
    DEFAULT_REPR_BATCH_SIZE,
    RepresentationFn,
    check_positive,
    encode_factors,
    on_varying_factors,
    sample_codes,
)
from latentatlas.metrics.disentanglement._linear import fit_ovr_logistic, logistic_predict
from latentatlas.utils.rng import check_rng


def _fixed_factor_groups(
    data: GroundTruthData, num_groups: int, batch_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Factor indices k [G] (uniform) and factors [G, batch_size, F] sharing factor k per group."""
    k = rng.integers(0, data.num_factors, size=num_groups)
    factors = data.sample_factors(num_groups * batch_size, rng).reshape(
        num_groups, batch_size, data.num_factors
    )
    return k, factors


def _group_blocks(num_groups: int, batch_size: int, max_observations: int = 1 << 17):
    """Slices of whole groups with at most ~``max_observations`` observations each."""
    step = max(1, max_observations // batch_size)
    return [slice(start, min(start + step, num_groups)) for start in range(0, num_groups, step)]


@on_varying_factors
def beta_vae(
    data: GroundTruthData,
    representation_fn: RepresentationFn,
    rng: np.random.Generator | int | None = 0,
    *,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    repr_batch_size: int = DEFAULT_REPR_BATCH_SIZE,
) -> dict[str, float]:
    """BetaVAE metric (Higgins et al.): accuracy of predicting the fixed factor from mean |r1 - r2|.

    Each point: a factor k, ``batch_size`` pairs of observations sharing the value of factor k
    (everything else drawn independently); feature = mean over the pairs of |code1 - code2|.
    A one-vs-rest logistic regression (C=1, liblinear objective; see ``_linear``) is trained on
    ``num_train`` points and scored on ``num_eval`` fresh points.

    Returns ``{"train_accuracy", "eval_accuracy"}``.
    """
    rng = check_rng(rng)
    check_positive(batch_size, "batch_size")
    num_points = check_positive(num_train, "num_train") + check_positive(num_eval, "num_eval")
    k, factors1 = _fixed_factor_groups(data, num_points, batch_size, rng)
    factors2 = data.sample_factors(num_points * batch_size, rng).reshape(factors1.shape)
    groups = np.arange(num_points)
    factors2[groups, :, k] = factors1[groups, :, k]
    features = None
    for block in _group_blocks(num_points, batch_size):  # bounded memory for wide codes
        both = np.concatenate([factors1[block], factors2[block]]).reshape(-1, data.num_factors)
        codes = encode_factors(data, representation_fn, both, rng, repr_batch_size)
        codes = codes.reshape(2, -1, batch_size, codes.shape[1])
        if features is None:
            features = np.empty((num_points, codes.shape[-1]))
        features[block] = np.abs(codes[0] - codes[1]).mean(axis=1)  # [points, d]
    theta = fit_ovr_logistic(features[:num_train], k[:num_train], data.num_factors)
    train_acc = float(np.mean(logistic_predict(theta, features[:num_train]) == k[:num_train]))
    eval_acc = float(np.mean(logistic_predict(theta, features[num_train:]) == k[num_train:]))
    return {"train_accuracy": train_acc, "eval_accuracy": eval_acc}


@on_varying_factors
def factor_vae(
    data: GroundTruthData,
    representation_fn: RepresentationFn,
    rng: np.random.Generator | int | None = 0,
    *,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    num_variance_estimate: int = 10_000,
    prune_threshold: float = 0.05,
    repr_batch_size: int = DEFAULT_REPR_BATCH_SIZE,
) -> dict[str, float]:
    """FactorVAE metric (Kim & Mnih): majority-vote accuracy of argmin normalised variance.

    Global per-dimension variances (ddof=1) come from ``num_variance_estimate`` random
    observations; dimensions with std < ``prune_threshold`` are dropped. Each point: a factor k,
    ``batch_size`` observations sharing one value of factor k; vote for the active dimension with
    the smallest variance / global variance. The classifier maps each dimension to the factor with
    most training votes; accuracies are the fraction of votes it gets right.

    Returns ``{"train_accuracy", "eval_accuracy", "num_active_dims"}`` (all 0 when no dimension
    is active). ``num_active_dims`` is the count of active dimensions (disentanglement_lib
    reports the total dimension count there, a bug).
    """
    rng = check_rng(rng)
    check_positive(batch_size, "batch_size", minimum=2)
    num_points = check_positive(num_train, "num_train") + check_positive(num_eval, "num_eval")
    check_positive(num_variance_estimate, "num_variance_estimate", minimum=2)
    codes, _ = sample_codes(data, representation_fn, num_variance_estimate, rng, repr_batch_size)
    global_var = codes.var(axis=0, ddof=1)
    active = np.sqrt(global_var) >= prune_threshold
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    active_idx = np.flatnonzero(active)
    k, factors = _fixed_factor_groups(data, num_points, batch_size, rng)
    groups = np.arange(num_points)
    factors[groups, :, k] = factors[groups, 0, k][:, None]
    argmin = np.empty(num_points, dtype=np.int64)
    for block in _group_blocks(num_points, batch_size):  # bounded memory for wide codes
        codes = encode_factors(
            data, representation_fn, factors[block].reshape(-1, data.num_factors), rng,
            repr_batch_size,
        ).reshape(-1, batch_size, global_var.shape[0])
        local_var = codes[:, :, active_idx].var(axis=1, ddof=1)
        argmin[block] = active_idx[np.argmin(local_var / global_var[active_idx], axis=1)]
    d = global_var.shape[0]

    def votes(sel: slice) -> np.ndarray:
        flat = k[sel] * d + argmin[sel]
        return np.bincount(flat, minlength=data.num_factors * d).reshape(data.num_factors, d)

    train_votes, eval_votes = votes(slice(0, num_train)), votes(slice(num_train, None))
    classifier = train_votes.argmax(axis=0)  # dimension -> factor
    dims = np.arange(d)
    train_acc = train_votes[classifier, dims].sum() / train_votes.sum()
    eval_acc = eval_votes[classifier, dims].sum() / eval_votes.sum()
    return {
        "train_accuracy": float(train_acc),
        "eval_accuracy": float(eval_acc),
        "num_active_dims": int(active.sum()),
    }

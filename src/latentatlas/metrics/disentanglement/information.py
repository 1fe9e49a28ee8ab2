"""Information-based metrics on (codes, factors): MIG, Modularity + Explicitness, and the
unsupervised scores, with disentanglement_lib's defaults (20-bin histogram discretisation of the
codes, information in nats)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from latentatlas.data.base import GroundTruthData
from latentatlas.metrics.disentanglement._common import (
    DEFAULT_REPR_BATCH_SIZE,
    RepresentationFn,
    as_codes,
    as_factors,
    as_labels,
    check_positive,
    discrete_entropy,
    discrete_mutual_info,
    encode_labels,
    histogram_discretize,
    normalize_columns,
    on_varying_factors,
    sample_codes,
    split_train_test,
    varying_factors,
    with_warnings,
)
from latentatlas.metrics.disentanglement._linear import fit_ovr_logistic, logistic_predict_proba
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.rng import check_rng


# ----------------------------------------------------------------------------- MIG
def mig_from_codes(codes: Any, factors: Any, *, num_bins: int = 20) -> dict[str, float]:
    """Mutual Information Gap (Chen et al. 2018) from codes [N, d] and discrete factors [N, F].

    Codes are discretised into ``num_bins`` equal-width bins per dimension; for every factor the
    gap between the two largest I(code_i; factor) is divided by H(factor) and the gaps averaged.
    Factors that are constant in the sample (H = 0; disentanglement_lib divides by zero there)
    are left out, with a warning in the result (the rule of every metric); with one code
    dimension the second-largest MI is taken as 0.

    Returns ``{"discrete_mig"}``.
    """
    codes = as_codes(codes)
    factors = as_factors(factors, n=codes.shape[0])
    keep, warnings = varying_factors(factors)
    factors = factors[:, keep]
    mi = discrete_mutual_info(histogram_discretize(codes, num_bins), factors)  # [d, F]
    entropy = discrete_entropy(factors)
    top = np.sort(mi, axis=0)[::-1]
    second = top[1] if top.shape[0] > 1 else np.zeros(top.shape[1])
    gaps = (top[0] - second) / entropy
    return with_warnings({"discrete_mig": float(gaps.mean())}, warnings)


@on_varying_factors
def mig(
    data: GroundTruthData,
    representation_fn: RepresentationFn,
    rng: np.random.Generator | int | None = 0,
    *,
    num_train: int = 10_000,
    num_bins: int = 20,
    repr_batch_size: int = DEFAULT_REPR_BATCH_SIZE,
) -> dict[str, float]:
    """MIG on ``num_train`` random observations (see :func:`mig_from_codes`)."""
    codes, factors = sample_codes(data, representation_fn, num_train, check_rng(rng),
                                  repr_batch_size)
    return mig_from_codes(codes, factors, num_bins=num_bins)


# ----------------------------------------------------------------------------- modularity
def modularity_score(mutual_information: np.ndarray) -> float:
    """Ridgeway & Zemel modularity from an MI matrix [d, F]: mean over codes of
    1 - (sum of squared MI - max) / (max * (F - 1)); codes with no information score 0."""
    sq = np.square(np.asarray(mutual_information, dtype=np.float64))
    max_sq = sq.max(axis=1)
    num_factors = sq.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (sq.sum(axis=1) - max_sq) / (max_sq * (num_factors - 1.0))
    score = np.where(max_sq == 0.0, 0.0, 1.0 - np.nan_to_num(delta, nan=0.0))
    return float(score.mean())


def _macro_ovr_auc(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean over classes of the one-vs-rest ROC AUC (ties count 1/2), classes that have both
    positives and negatives in ``labels`` only. ``probs`` [n, K], ``labels`` in 0..K-1 or -1."""
    ranks = rankdata(probs, axis=0)  # average ranks for ties
    positives = labels[:, None] == np.arange(probs.shape[1])[None, :]
    n_pos = positives.sum(axis=0)
    n_neg = len(labels) - n_pos
    ok = (n_pos > 0) & (n_neg > 0)
    if not ok.any():
        return float("nan")
    rank_sum = np.where(positives, ranks, 0.0).sum(axis=0)
    auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / np.maximum(n_pos * n_neg, 1)
    return float(auc[ok].mean())


def modularity_explicitness_from_codes(
    codes: Any,
    factors: Any,
    codes_test: Any = None,
    factors_test: Any = None,
    *,
    num_bins: int = 20,
    test_fraction: float = 1 / 3,
    rng: np.random.Generator | int | None = 0,
) -> dict[str, float]:
    """Modularity and Explicitness (Ridgeway & Zemel 2018).

    Modularity from the MI of ``num_bins``-discretised training codes with the factors.
    Explicitness: codes standardised with the training mean/std (constant dims: std 1), one
    one-vs-rest logistic regression (C=1) per factor, mean over classes of the one-vs-rest ROC AUC
    of sklearn's normalised probabilities, averaged over factors, on train and test.
    Without ``codes_test`` a random ``test_fraction`` of the rows is held out (seeded by ``rng``).

    Returns ``{"modularity_score", "explicitness_score_train", "explicitness_score_test"}``.
    """
    codes = as_codes(codes)
    factors = as_labels(factors, n=codes.shape[0])
    keep, warnings = varying_factors(factors, factors_test)
    codes, factors, codes_test, factors_test = split_train_test(
        codes, factors, codes_test, factors_test, test_fraction, rng
    )
    factors_test = as_labels(factors_test, "factors_test", num_columns=factors.shape[1])
    factors, factors_test = factors[:, keep], factors_test[:, keep]
    mi = discrete_mutual_info(histogram_discretize(codes, num_bins), factors)
    train_norm, mean, std = normalize_columns(codes)
    test_norm, _, _ = normalize_columns(codes_test, mean, std)
    auc_train, auc_test = [], []
    for j in range(factors.shape[1]):  # one multi-class fit per factor (classes vectorised)
        y_train, y_test, num_classes = encode_labels(factors[:, j], factors_test[:, j])
        if num_classes < 2:
            continue
        theta = fit_ovr_logistic(train_norm, y_train, num_classes)
        auc_train.append(_macro_ovr_auc(y_train, logistic_predict_proba(theta, train_norm)))
        auc_test.append(_macro_ovr_auc(y_test, logistic_predict_proba(theta, test_norm)))
    return with_warnings({
        "modularity_score": modularity_score(mi),
        "explicitness_score_train": float(np.nanmean(auc_train)) if auc_train else float("nan"),
        "explicitness_score_test": float(np.nanmean(auc_test)) if auc_test else float("nan"),
    }, warnings)


@on_varying_factors
def modularity_explicitness(
    data: GroundTruthData,
    representation_fn: RepresentationFn,
    rng: np.random.Generator | int | None = 0,
    *,
    num_train: int = 10_000,
    num_test: int = 5_000,
    num_bins: int = 20,
    repr_batch_size: int = DEFAULT_REPR_BATCH_SIZE,
) -> dict[str, float]:
    """Modularity/Explicitness on ``num_train`` + ``num_test`` random observations."""
    rng = check_rng(rng)
    codes, factors = sample_codes(data, representation_fn, num_train, rng, repr_batch_size)
    codes_t, factors_t = sample_codes(data, representation_fn, num_test, rng, repr_batch_size)
    return modularity_explicitness_from_codes(codes, factors, codes_t, factors_t,
                                              num_bins=num_bins)


# ----------------------------------------------------------------------------- unsupervised
def gaussian_total_correlation(cov: Any) -> float:
    """Total correlation of N(0, cov): 0.5 (sum log diag(cov) - log det cov) = -0.5 log det corr."""
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ShapeError(f"cov must be a square matrix, got shape {cov.shape}")
    if not np.isfinite(cov).all() or (np.diag(cov) <= 0).any():
        raise ShapeError("cov must be finite with a positive diagonal")
    d = np.sqrt(np.diag(cov))
    corr_eig = np.linalg.eigvalsh(cov / d[:, None] / d[None, :])
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0 or corr_eig.min() <= cov.shape[0] * np.finfo(np.float64).eps:
        # Collinear codes: the reference's 0.5 (sum log diag - log det) with det 0 is +inf.
        return float("inf")
    return float(0.5 * (np.log(np.diag(cov)).sum() - logdet))


def gaussian_wasserstein_correlation(cov: Any) -> float:
    """Squared 2-Wasserstein distance between N(0, cov) and N(0, diag(cov)):
    2 tr(cov) - 2 tr(sqrt(D^1/2 cov D^1/2)), D = diag(cov) (disentanglement_lib takes sqrtm of
    cov * diag(cov)[:, None], which has the same eigenvalues; the symmetric form is exact and
    stabler)."""
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ShapeError(f"cov must be a square matrix, got shape {cov.shape}")
    d_half = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    sym = cov * d_half[:, None] * d_half[None, :]
    eig = np.clip(np.linalg.eigvalsh(sym), 0.0, None)
    return float(2.0 * np.trace(cov) - 2.0 * np.sqrt(eig).sum())


def unsupervised_from_codes(codes: Any, *, num_bins: int = 20) -> dict[str, float]:
    """disentanglement_lib's unsupervised scores of codes [N, d].

    Gaussian total correlation and Wasserstein correlation of the sample covariance (ddof=1),
    the latter also divided by tr(cov); ``mutual_info_score`` = mean off-diagonal MI between
    ``num_bins``-discretised code dimensions. Constant dimensions make the Gaussian scores
    undefined (disentanglement_lib returns NaN): they are left out of those two and counted in
    ``num_active_dims``; with no active dimension they are 0.
    """
    codes = as_codes(codes)
    if codes.shape[0] < 2:
        raise ShapeError("codes need at least 2 rows for a covariance")
    active = codes.var(axis=0) > 0
    scores: dict[str, float] = {}
    if active.any():
        cov = np.atleast_2d(np.cov(codes[:, active], rowvar=False))
        scores["gaussian_total_correlation"] = gaussian_total_correlation(cov)
        wc = gaussian_wasserstein_correlation(cov)
        scores["gaussian_wasserstein_correlation"] = wc
        scores["gaussian_wasserstein_correlation_norm"] = float(wc / np.trace(cov))
    else:
        scores["gaussian_total_correlation"] = 0.0
        scores["gaussian_wasserstein_correlation"] = 0.0
        scores["gaussian_wasserstein_correlation_norm"] = 0.0
    d = codes.shape[1]
    discrete = histogram_discretize(codes, num_bins)
    mi = discrete_mutual_info(discrete, discrete)
    np.fill_diagonal(mi, 0.0)
    scores["mutual_info_score"] = float(mi.sum() / (d * d - d)) if d > 1 else 0.0
    scores["num_active_dims"] = int(active.sum())
    return scores


def unsupervised(
    data: GroundTruthData,
    representation_fn: RepresentationFn,
    rng: np.random.Generator | int | None = 0,
    *,
    num_train: int = 10_000,
    num_bins: int = 20,
    repr_batch_size: int = DEFAULT_REPR_BATCH_SIZE,
) -> dict[str, float]:
    """Unsupervised scores of ``num_train`` random observations' codes (see
    :func:`unsupervised_from_codes`)."""
    check_positive(num_train, "num_train", minimum=2)
    codes, _ = sample_codes(data, representation_fn, num_train, check_rng(rng), repr_batch_size)
    return unsupervised_from_codes(codes, num_bins=num_bins)

"""Predictor-based metrics on (codes, factors): DCI (Eastwood & Williams 2018) and SAP (Kumar et al.
2018), with disentanglement_lib's defaults and pinned estimators."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import entropy as _entropy

from latentatlas.data.base import GroundTruthData
from latentatlas.metrics.disentanglement._boosting import gbt_importance
from latentatlas.metrics.disentanglement._common import (
    DEFAULT_REPR_BATCH_SIZE,
    RepresentationFn,
    as_codes,
    as_labels,
    encode_labels,
    on_varying_factors,
    sample_codes,
    split_train_test,
    varying_factors,
    with_warnings,
)
from latentatlas.metrics.disentanglement._linear import fit_ovr_svm_1d, svm_1d_predict
from latentatlas.utils.rng import check_rng


# ----------------------------------------------------------------------------- DCI
def dci_disentanglement(importance: np.ndarray) -> float:
    """Per code 1 - entropy (base F) of its importance over factors, weighted by the code's share of
    the total importance (uniform weights when all importances are 0). ``importance`` [d, F]."""
    importance = np.asarray(importance, dtype=np.float64)
    per_code = 1.0 - _entropy(importance.T + 1e-11, base=importance.shape[1])
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    code_weight = weights.sum(axis=1) / weights.sum()
    return float((per_code * code_weight).sum())


def dci_completeness(importance: np.ndarray) -> float:
    """Per factor 1 - entropy (base d) of its importance over codes, weighted by the factor's share
    of the total importance. ``importance`` [d, F]."""
    importance = np.asarray(importance, dtype=np.float64)
    per_factor = 1.0 - _entropy(importance + 1e-11, base=importance.shape[0])
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    factor_weight = weights.sum(axis=0) / weights.sum()
    return float((per_factor * factor_weight).sum())


def dci_from_codes(
    codes: Any,
    factors: Any,
    codes_test: Any = None,
    factors_test: Any = None,
    *,
    n_estimators: int = 100,
    learning_rate: float = 0.1,
    max_depth: int = 3,
    max_bins: int = 128,
    test_fraction: float = 1 / 3,
    rng: np.random.Generator | int | None = 0,
    return_importance: bool = False,
) -> dict[str, Any]:
    """DCI disentanglement, completeness and informativeness.

    One gradient-boosted classifier per factor (sklearn ``GradientBoostingClassifier()``
    defaults: 100 stages, learning rate 0.1, depth 3, log loss; see ``_boosting`` for the binned
    split search) gives the importance matrix [d, F] (impurity importance, each factor's column
    summing to 1) and train/test accuracy. Informativeness is the mean accuracy over factors (as
    disentanglement_lib reports it). Without ``codes_test`` a random ``test_fraction`` is held out.

    Returns ``{"informativeness_train", "informativeness_test", "disentanglement",
    "completeness"}`` (plus ``"importance_matrix"`` when ``return_importance``).
    """
    codes = as_codes(codes)
    factors = as_labels(factors, n=codes.shape[0])
    keep, warnings = varying_factors(factors, factors_test)
    codes, factors, codes_test, factors_test = split_train_test(
        codes, factors, codes_test, factors_test, test_fraction, rng
    )
    factors_test = as_labels(factors_test, "factors_test", num_columns=factors.shape[1])
    factors, factors_test = factors[:, keep], factors_test[:, keep]
    num_factors = factors.shape[1]
    importance = np.zeros((codes.shape[1], num_factors))
    train_acc, test_acc = np.zeros(num_factors), np.zeros(num_factors)
    for j in range(num_factors):  # one boosted model per factor (all its trees vectorised)
        importance[:, j], train_acc[j], test_acc[j] = gbt_importance(
            codes, factors[:, j], codes_test, factors_test[:, j],
            n_estimators=n_estimators, learning_rate=learning_rate, max_depth=max_depth,
            max_bins=max_bins,
        )
    scores: dict[str, Any] = {
        "informativeness_train": float(train_acc.mean()),
        "informativeness_test": float(test_acc.mean()),
        "disentanglement": dci_disentanglement(importance),
        "completeness": dci_completeness(importance),
    }
    if return_importance:  # [d, F] over the factors that vary (warnings name the others)
        scores["importance_matrix"] = importance
    return with_warnings(scores, warnings)


@on_varying_factors
def dci(
    data: GroundTruthData,
    representation_fn: RepresentationFn,
    rng: np.random.Generator | int | None = 0,
    *,
    num_train: int = 10_000,
    num_test: int = 5_000,
    repr_batch_size: int = DEFAULT_REPR_BATCH_SIZE,
    **kwargs: Any,
) -> dict[str, Any]:
    """DCI on ``num_train`` + ``num_test`` random observations (see :func:`dci_from_codes`)."""
    rng = check_rng(rng)
    codes, factors = sample_codes(data, representation_fn, num_train, rng, repr_batch_size)
    codes_t, factors_t = sample_codes(data, representation_fn, num_test, rng, repr_batch_size)
    return dci_from_codes(codes, factors, codes_t, factors_t, **kwargs)


# ----------------------------------------------------------------------------- SAP
def sap_score_matrix(
    codes: np.ndarray,
    factors: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    continuous_factors: bool = False,
    c: float = 0.01,
) -> np.ndarray:
    """SAP's score matrix [d, F].

    Discrete factors: test accuracy of ``LinearSVC(C=c, class_weight="balanced")`` predicting the
    factor from one code dimension. Continuous factors: squared correlation of code and factor on
    the training split (0 for codes with variance <= 1e-12).
    """
    d, num_factors = codes.shape[1], factors.shape[1]
    scores = np.zeros((d, num_factors))
    if continuous_factors:
        y = factors.astype(np.float64)
        cx = codes - codes.mean(axis=0)
        cy = y - y.mean(axis=0)
        cov = cx.T @ cy
        var_x = (cx**2).sum(axis=0)
        var_y = (cy**2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = cov**2 / (var_x[:, None] * var_y[None, :])
        ok = (var_x / max(len(codes) - 1, 1) > 1e-12)[:, None] & (var_y > 0)[None, :]
        return np.where(ok, r2, 0.0)
    for j in range(num_factors):  # all code dims x classes of a factor in one vectorised solve
        y_train, y_test, num_classes = encode_labels(factors[:, j], factors_test[:, j])
        if num_classes < 2:
            scores[:, j] = np.mean(y_test == 0)
            continue
        w, b = fit_ovr_svm_1d(codes, y_train, num_classes, c=c)
        pred = svm_1d_predict(w, b, codes_test)  # [n_test, d]
        scores[:, j] = (pred == y_test[:, None]).mean(axis=0)
    return scores


def sap_from_codes(
    codes: Any,
    factors: Any,
    codes_test: Any = None,
    factors_test: Any = None,
    *,
    continuous_factors: bool = False,
    c: float = 0.01,
    test_fraction: float = 1 / 3,
    rng: np.random.Generator | int | None = 0,
) -> dict[str, float]:
    """Separated Attribute Predictability: mean over factors of the gap between the two best
    single-code scores (see :func:`sap_score_matrix`). With one code dimension the second-best is
    taken as 0. Without ``codes_test`` a random ``test_fraction`` is held out.

    Returns ``{"SAP_score"}``.
    """
    codes = as_codes(codes)
    if continuous_factors:
        factors = as_codes(factors, "factors", n=codes.shape[0])
    else:
        factors = as_labels(factors, n=codes.shape[0])
    keep, warnings = varying_factors(factors, factors_test)
    codes, factors, codes_test, factors_test = split_train_test(
        codes, factors, codes_test, factors_test, test_fraction, rng
    )
    if not continuous_factors:
        factors_test = as_labels(factors_test, "factors_test", num_columns=factors.shape[1])
    factors, factors_test = factors[:, keep], np.asarray(factors_test)[:, keep]
    matrix = sap_score_matrix(codes, factors, codes_test, factors_test, continuous_factors, c)
    top = np.sort(matrix, axis=0)[::-1]
    second = top[1] if top.shape[0] > 1 else np.zeros(top.shape[1])
    return with_warnings({"SAP_score": float(np.mean(top[0] - second))}, warnings)


@on_varying_factors
def sap(
    data: GroundTruthData,
    representation_fn: RepresentationFn,
    rng: np.random.Generator | int | None = 0,
    *,
    num_train: int = 10_000,
    num_test: int = 5_000,
    continuous_factors: bool = False,
    repr_batch_size: int = DEFAULT_REPR_BATCH_SIZE,
) -> dict[str, float]:
    """SAP on ``num_train`` + ``num_test`` random observations (see :func:`sap_from_codes`)."""
    rng = check_rng(rng)
    codes, factors = sample_codes(data, representation_fn, num_train, rng, repr_batch_size)
    codes_t, factors_t = sample_codes(data, representation_fn, num_test, rng, repr_batch_size)
    return sap_from_codes(codes, factors, codes_t, factors_t,
                          continuous_factors=continuous_factors)

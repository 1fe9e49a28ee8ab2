"""Shared pieces of the disentanglement metrics: input checks, batched encoding, discretisation and
discrete information measures.

Conventions (as in disentanglement_lib, but row-major): ``codes`` are float arrays [N, d] (one
row per observation), ``factors`` are integer class indices [N, F]. Information is in nats.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from latentatlas.data.base import GroundTruthData
from latentatlas.utils.errors import LatentAtlasError, ShapeError
from latentatlas.utils.rng import check_rng

RepresentationFn = Callable[[np.ndarray], Any]
"""Maps a float32 NHWC batch in [0, 1] to codes [N, d] (numpy array or torch tensor)."""

DEFAULT_REPR_BATCH_SIZE = 256


def single_blas_thread():
    """Context manager limiting BLAS to one thread.

    The metric solvers multiply many small matrices; on a busy 2-core machine a multi-threaded
    BLAS spin-waits and was measured 10-35x slower on these shapes than one thread.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


# ----------------------------------------------------------------------------- input checks
def _as_2d(values: Any, name: str, shape: str) -> np.ndarray:
    """A numpy array [N, k] of a tensor / array (1-D becomes one column)."""
    if hasattr(values, "detach"):  # torch tensor
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ShapeError(f"{name} must have shape {shape}, got shape {arr.shape}")
    return arr


def as_codes(codes: Any, name: str = "codes", n: int | None = None) -> np.ndarray:
    """Return ``codes`` as a finite float64 array [N, d]; raise ShapeError naming ``name``."""
    arr = _as_2d(codes, name, "[N, d]")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
            or arr.dtype == np.bool_):
        raise ShapeError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if n is not None and arr.shape[0] != n:
        raise ShapeError(f"{name} has {arr.shape[0]} rows, expected {n}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ShapeError(f"{name} is empty (shape {arr.shape})")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise ShapeError(f"{name} contains NaN or infinite values in {bad} rows")
    return arr


def as_factors(factors: Any, name: str = "factors", n: int | None = None) -> np.ndarray:
    """Return discrete ``factors`` [N, F] as int64 class indices 0..K_f-1 per column.

    Integer-valued arrays of any dtype are accepted (their distinct values are relabelled in
    sorted order); continuous values raise ShapeError: discretise them first, e.g. with
    :func:`histogram_discretize`.
    """
    arr = _as_2d(factors, name, "[N, F]")
    if n is not None and arr.shape[0] != n:
        raise ShapeError(f"{name} has {arr.shape[0]} rows, expected {n} (one per code row)")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ShapeError(f"{name} is empty (shape {arr.shape})")
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        if not np.issubdtype(arr.dtype, np.floating):
            raise ShapeError(f"{name} must be numeric class labels, got dtype {arr.dtype}")
        if not np.isfinite(arr).all():
            raise ShapeError(f"{name} contains NaN or infinite values")
        if not np.array_equal(arr, np.round(arr)):
            raise ShapeError(
                f"{name} must be discrete (integer-valued) class labels; discretise continuous "
                "factors first, e.g. with latentatlas.metrics.histogram_discretize(factors, 20)"
            )
    return relabel_columns(arr)


def as_labels(factors: Any, name: str = "factors", n: int | None = None,
              num_columns: int | None = None) -> np.ndarray:
    """Validate discrete ``factors`` [N, F] and return them as int64 *without* relabelling (so that
    train and test splits keep one label space)."""
    if hasattr(factors, "detach"):
        factors = factors.detach().cpu().numpy()
    arr = np.asarray(factors)
    if arr.ndim == 1:
        arr = arr[:, None]
    as_factors(arr, name, n)  # shape / dtype / discreteness checks
    if num_columns is not None and arr.shape[1] != num_columns:
        raise ShapeError(f"{name} has {arr.shape[1]} factor columns, expected {num_columns}")
    return np.round(arr).astype(np.int64) if arr.dtype != np.int64 else arr


def encode_labels(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Map train labels to 0..K-1 and test labels into the same space (-1 = unseen in training)."""
    classes, y_train = np.unique(train, return_inverse=True)
    pos = np.clip(np.searchsorted(classes, test), 0, len(classes) - 1)
    y_test = np.where(classes[pos] == test, pos, -1)
    return y_train.reshape(-1).astype(np.int64), y_test.astype(np.int64), len(classes)


def relabel_columns(arr: np.ndarray) -> np.ndarray:
    """Map each column's distinct values to 0..K-1 (sorted order), int64 [N, F]."""
    out = np.empty(arr.shape, dtype=np.int64)
    for j in range(arr.shape[1]):  # one pass per column, vectorised over rows
        out[:, j] = np.unique(arr[:, j], return_inverse=True)[1].reshape(-1)
    return out


def check_positive(value: int, name: str, minimum: int = 1) -> int:
    if int(value) != value or value < minimum:
        raise ShapeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# ----------------------------------------------------------------------------- encoding
def encode_factors(
    data: GroundTruthData,
    representation_fn: RepresentationFn,
    factors: np.ndarray,
    rng: np.random.Generator,
    repr_batch_size: int = DEFAULT_REPR_BATCH_SIZE,
) -> np.ndarray:
    """Render observations for ``factors`` [M, F] and encode them in batches -> codes [M, d].

    Large encodes (>= 50,000 observations, e.g. BetaVAE's 1.92 M) show a tqdm bar on a terminal.
    """
    check_positive(repr_batch_size, "repr_batch_size")
    total = factors.shape[0]
    out: np.ndarray | None = None
    starts: Any = range(0, total, repr_batch_size)
    if total >= 50_000:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="encoding", unit="batch", leave=False, disable=None)
    for start in starts:
        chunk = factors[start : start + repr_batch_size]
        observations = data.sample_observations_from_factors(chunk, rng)
        codes = as_codes(representation_fn(observations), "representation_fn output", len(chunk))
        if out is None:
            out = np.empty((total, codes.shape[1]), dtype=np.float64)
        elif codes.shape[1] != out.shape[1]:
            raise ShapeError(
                f"representation_fn returned {codes.shape[1]} code dimensions, earlier "
                f"batches had {out.shape[1]}"
            )
        out[start : start + len(chunk)] = codes
    assert out is not None
    return out


def sample_codes(
    data: GroundTruthData,
    representation_fn: RepresentationFn,
    num_points: int,
    rng: np.random.Generator,
    repr_batch_size: int = DEFAULT_REPR_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``num_points`` factor tuples uniformly, encode their observations.

    Returns (codes [N, d] float64, factors [N, F] int64).
    """
    check_positive(num_points, "num_points")
    factors = data.sample_factors(num_points, rng)
    return encode_factors(data, representation_fn, factors, rng, repr_batch_size), factors


def split_train_test(
    codes: np.ndarray,
    factors: np.ndarray,
    codes_test: Any,
    factors_test: Any,
    test_fraction: float,
    rng: np.random.Generator | int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Use the given test arrays, or hold out ``test_fraction`` of the rows (random, seeded)."""
    if (codes_test is None) != (factors_test is None):
        raise ShapeError("give both codes_test and factors_test, or neither")
    if codes_test is not None:
        codes_test = as_codes(codes_test, "codes_test")
        if codes_test.shape[1] != codes.shape[1]:
            raise ShapeError(
                f"codes_test has {codes_test.shape[1]} dimensions, codes has {codes.shape[1]}"
            )
        factors_test = np.asarray(factors_test)
        if factors_test.ndim == 1:
            factors_test = factors_test[:, None]
        if factors_test.shape != (codes_test.shape[0], factors.shape[1]):
            raise ShapeError(
                f"factors_test must have shape {(codes_test.shape[0], factors.shape[1])}, "
                f"got {factors_test.shape}"
            )
        return codes, factors, codes_test, factors_test
    if not 0.0 < test_fraction < 1.0:
        raise ShapeError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n = codes.shape[0]
    n_test = int(round(n * test_fraction))
    if n_test < 1 or n - n_test < 2:
        raise ShapeError(f"{n} rows are too few to hold out a test split")
    perm = check_rng(rng).permutation(n)
    test, train = perm[:n_test], perm[n_test:]
    return codes[train], factors[train], codes[test], factors[test]


# ----------------------------------------------------------------------------- discretisation
def histogram_discretize(values: Any, num_bins: int = 20) -> np.ndarray:
    """disentanglement_lib's histogram discretiser per column: [N, d] -> int64 in 1..num_bins.

    Bin edges are ``np.histogram``'s (``num_bins`` equal-width bins over [min, max]; a constant
    column gets the range [v - 0.5, v + 0.5]); the value is ``np.digitize`` on all edges but the
    last, so the maximum falls into bin ``num_bins``.
    """
    check_positive(num_bins, "num_bins")
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ShapeError(f"values must have shape [N, d], got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ShapeError("values to discretise contain NaN or infinite values")
    out = np.empty(arr.shape, dtype=np.int64)
    for j in range(arr.shape[1]):  # per column: its own edges; vectorised over rows
        edges = np.histogram_bin_edges(arr[:, j], bins=num_bins)[:-1]
        # np.digitize(x, edges) with increasing edges == searchsorted(edges, x, side="right").
        out[:, j] = np.searchsorted(edges, arr[:, j], side="right")
    return out


def discrete_mutual_info(a: Any, b: Any, block: int = 64) -> np.ndarray:
    """Mutual information (nats) between every column of ``a`` [N, d] and of ``b`` [N, F] -> [d, F].

    Both hold discrete labels (any values). The contingency tables are counted with one
    ``bincount`` per column of ``a`` over ``block`` columns of ``b`` at a time (memory ~ N x block,
    whatever d and F are); this equals sklearn's ``mutual_info_score`` per pair.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    a = a[:, None] if a.ndim == 1 else a
    b = b[:, None] if b.ndim == 1 else b
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise ShapeError(f"label arrays must be [N, d] and [N, F] with equal N, got {a.shape}, "
                         f"{b.shape}")
    out = np.empty((a.shape[1], b.shape[1]))
    for j in range(0, b.shape[1], block):
        out[:, j:j + block] = _mutual_info_block(a, b[:, j:j + block])
    return out


def _mutual_info_block(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MI of every column pair: joint counts by one ``bincount`` per column of ``a``."""
    n = a.shape[0]
    ca, cb = relabel_columns(a), relabel_columns(b)
    ka, kb = int(ca.max()) + 1, int(cb.max()) + 1
    f = cb.shape[1]
    cols = np.arange(f, dtype=np.int64)[None, :] * (ka * kb)
    pb = np.stack([np.bincount(cb[:, j], minlength=kb) for j in range(f)])  # [F, kb]
    out = np.empty((ca.shape[1], f))
    for i in range(ca.shape[1]):
        idx = cols + ca[:, i:i + 1].astype(np.int64) * kb + cb
        joint = np.bincount(idx.ravel(), minlength=f * ka * kb).reshape(f, ka, kb)
        pa = np.bincount(ca[:, i], minlength=ka)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(joint > 0, joint / n * np.log(
                joint * n / (pa[None, :, None] * pb[:, None, :])), 0.0)
        out[i] = terms.sum(axis=(1, 2))
    return np.clip(out, 0.0, None)


def discrete_entropy(labels: Any) -> np.ndarray:
    """Entropy (nats) of each column of discrete ``labels`` [N, F] -> [F]."""
    arr = np.asarray(labels)
    arr = arr[:, None] if arr.ndim == 1 else arr
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ShapeError(f"labels must have shape [N, F], got {arr.shape}")
    compact = relabel_columns(arr)
    out = np.empty(arr.shape[1])
    for j in range(arr.shape[1]):
        p = np.bincount(compact[:, j]) / arr.shape[0]
        p = p[p > 0]
        out[j] = float(-(p * np.log(p)).sum())
    return out


def normalize_columns(
    values: np.ndarray, mean: np.ndarray | None = None, std: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardise columns (population std). Constant columns get std 1 instead of dividing by 0
    (disentanglement_lib divides by 0 there and returns NaN)."""
    if mean is None:
        mean = values.mean(axis=0)
    if std is None:
        std = values.std(axis=0)
        std = np.where(std > 0, std, 1.0)
    return (values - mean) / std, mean, std


# ---------------------------------------------------------------- factors that do not vary
# One rule for every metric: a factor that does not vary carries no information (every metric
# would divide by its zero entropy, fit a one-class classifier or score a trivial gap), so it is
# excluded, and the result says so in its "warnings".


class _ActiveFactors(GroundTruthData):
    """``data`` without its single-valued factors (they carry no information: every metric
    would divide by their zero entropy or fit a one-class classifier)."""

    def __init__(self, data: GroundTruthData, active: list[int]) -> None:
        self.base, self.active = data, active
        self.name = data.name
        self.factor_names = [data.factor_names[i] for i in active]
        self.factors_num_values = [data.factors_num_values[i] for i in active]
        self.observation_shape = data.observation_shape

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         rng: np.random.Generator) -> np.ndarray:
        factors = self._check_factors(factors)
        full = np.zeros((factors.shape[0], self.base.num_factors), np.int64)
        full[:, self.active] = factors
        return self.base.sample_observations_from_factors(full, rng)


def drop_single_valued_factors(data: GroundTruthData) -> tuple[GroundTruthData, list[str]]:
    """``data`` without factors that take one value, and the warnings naming them (the suite's
    one rule for such factors: excluded from every metric, with a warning in the result)."""
    sizes = list(data.factors_num_values)
    active = [i for i, k in enumerate(sizes) if k > 1]
    if len(active) == len(sizes):
        return data, []
    if not active:
        raise LatentAtlasError(f"{data.name}: every factor takes a single value; nothing to "
                               "measure")
    names = [data.factor_names[i] for i, k in enumerate(sizes) if k <= 1]
    return _ActiveFactors(data, active), [
        f"factor {n!r} takes a single value: excluded from every metric" for n in names]


def varying_factors(factors: np.ndarray, factors_test: Any = None) -> tuple[np.ndarray, list[str]]:
    """Columns of ``factors`` (and ``factors_test``, rows together) that take more than one value
    in the sample, as a boolean mask, and a warning for each column left out."""
    rows = factors if factors_test is None else np.concatenate(
        [factors, np.asarray(factors_test).reshape(-1, factors.shape[1])])
    keep = (rows != rows[:1]).any(axis=0) if rows.shape[0] else np.zeros(rows.shape[1], bool)
    if not keep.any():
        raise ShapeError("every factor is constant in the sample: the metric is undefined")
    return keep, [f"factor {j} is constant in the sample: excluded from this metric"
                  for j in np.flatnonzero(~keep)]


def with_warnings(result: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """``result`` with ``warnings`` appended to its "warnings" list (none: unchanged)."""
    if warnings:
        result["warnings"] = [*result.get("warnings", []), *warnings]
    return result


def on_varying_factors(metric: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Decorate a metric of (data, representation_fn, rng, ...): it runs on ``data`` without its
    single-valued factors (:func:`drop_single_valued_factors`), the warnings in its result."""

    @functools.wraps(metric)
    def wrapper(data: GroundTruthData, representation_fn: RepresentationFn, *args: Any,
                **kwargs: Any) -> dict[str, Any]:
        data, warnings = drop_single_valued_factors(data)
        return with_warnings(metric(data, representation_fn, *args, **kwargs), warnings)

    return wrapper

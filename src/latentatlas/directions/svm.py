"""InterFaceGAN / HiGAN linear-SVM boundaries (``SVMBoundary``), with a fast solver for big banks.

Sample selection follows InterFaceGAN's ``train_boundary`` exactly (see docs/directions.md):

1. rows whose score equals ``invalid_value`` are dropped;
2. the rest are sorted by score, descending;
3. ``chosen = int(N * r)`` if ``0 < r <= 1`` else ``int(r)``, capped at ``N // 2``;
4. the top ``chosen`` rows are positives, the bottom ``chosen`` negatives; each group is shuffled
   (seeded) and split into ``int(chosen * split_ratio)`` training and the rest validation rows;
5. the middle ("remaining") rows are labelled positive when ``score >= (max + min) / 2`` (max / min
   over all valid scores; InterFaceGAN labels ``score < threshold`` negative) and the accuracy of
   the boundary on them is reported.

With binary labels (HiGAN's ``labels`` mode) every positive and every negative row is used, each
class split by ``split_ratio``; there is no remaining set.

The classifier is a linear SVM with C=1 on the raw (unscaled) codes. Unlike the references, the
intercept is kept: ``n = coef / ||coef||`` and ``b = intercept / ||coef||`` so that ``n . x + b`` is
the signed Euclidean distance of x to the hyperplane (positive on the positive side).

Over 600 lines: SVMBoundary with its three interchangeable solvers (libsvm, liblinear, a fast one).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.linalg.blas import dsyrk, ssyrk
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from latentatlas.directions.base import SPACES, Directions
from latentatlas.directions.finder import DirectionFinder
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.rng import check_rng

SOLVERS = ("auto", "libsvm", "fast", "liblinear")
#: Train / validation split modes: ``"default"`` (numpy Generator permutations, stable sort) or
#: ``"interfacegan"`` (the reference's ``np.argsort(scores, axis=0)[::-1]`` order and two
#: ``RandomState(seed).shuffle`` calls, positives first: the same seed on the same codes gives
#: the reference's training set, hence its normal).
SPLITS = ("default", "interfacegan")
#: "auto" uses libsvm up to this many training rows, the fast solver above.
AUTO_LIBSVM_MAX_TRAIN = 4000


def _fit_libsvm(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    from sklearn.svm import SVC

    clf = SVC(kernel="linear", C=c)
    clf.fit(x, y)
    return clf.coef_.reshape(-1).astype(np.float64), float(clf.intercept_[0])


def _l2svm_newton(
    x: np.ndarray, sign: np.ndarray, c: float, max_iter: int = 15
) -> tuple[np.ndarray, float]:
    """Squared-hinge SVM ``0.5 |w|^2 + C sum max(0, 1 - s (w.x + b))^2`` by finite Newton.

    Each step solves a (d+1)-dimensional linear system over the active rows (s f < 1), so the
    cost is a few BLAS-3 products; it converges in a handful of steps. Used only to rank the
    rows by margin before the exact hinge-loss solve, so it runs in float32 (the (d+1)-sized
    Cholesky solve in float64) and stops after ``max_iter`` steps.
    """
    n, d = x.shape
    xt = np.hstack([x, np.ones((n, 1))]).astype(np.float32)
    sign = sign.astype(np.float32)
    reg = np.ones(d + 1)
    reg[-1] = 1e-8  # the bias is (almost) unregularised, as in libsvm
    # Start from the class-mean difference scaled so the class means sit at margins +-1: about
    # half the rows start inside the margin, which halves the first (largest) Newton step.
    pos, neg = sign > 0, sign < 0
    direction = xt[pos, :-1].mean(axis=0) - xt[neg, :-1].mean(axis=0)
    proj = xt[:, :-1] @ direction
    mp, mn = float(proj[pos].mean()), float(proj[neg].mean())
    scale = 2.0 / (mp - mn) if mp > mn else 0.0
    z = np.append(scale * direction.astype(np.float64), -scale * (mp + mn) / 2.0)
    f = (xt @ z.astype(np.float32)).astype(np.float64)

    def objective(zz: np.ndarray, ff: np.ndarray) -> float:
        slack = np.maximum(0.0, 1.0 - sign * ff)
        return 0.5 * float(reg[:-1] @ zz[:-1] ** 2) + c * float(slack @ slack)

    obj = objective(z, f)
    active_prev = None
    for _ in range(max_iter):
        active = sign * f < 1.0
        xa = xt[active]
        resid = (sign[active] - f[active]).astype(np.float32)
        grad = reg * z - 2.0 * c * (xa.T @ resid).astype(np.float64)
        # Upper triangle of xa' xa by a symmetric rank-k update (half a GEMM's work).
        hess = 2.0 * c * ssyrk(1.0, xa.T).astype(np.float64)
        hess[np.diag_indices_from(hess)] += reg
        # np.linalg.solve is pathologically slow on busy machines here; Cholesky is not.
        step = cho_solve(cho_factor(hess), grad)
        fstep = (xt @ step.astype(np.float32)).astype(np.float64)
        t = 1.0
        while True:  # backtracking on the exact (piecewise quadratic) objective
            z_new, f_new = z - t * step, f - t * fstep
            obj_new = objective(z_new, f_new)
            if obj_new <= obj - 1e-4 * t * float(grad @ step) or t < 1e-6:
                break
            t *= 0.5
        converged = (
            active_prev is not None
            and np.array_equal(active, active_prev)
            and obj - obj_new <= 1e-10 * max(1.0, abs(obj))
        )
        z, f, obj, active_prev = z_new, f_new, obj_new, active
        if converged:
            break
    return z[:-1], float(z[-1])


class _NewtonSystem:
    """Solves the interior-point Newton system ``(Q + D) da + y dr = r, y'da = -r_eq``.

    ``Q = Z Z'`` with ``Z = diag(y) X`` (m x d). For m <= d+1 the m x m matrix ``Q + D`` is
    factorised directly. For m > d+1 the equivalent (d+1)-sized normal equations are used:
    with ``Zt = [Z, y]`` and ``du = [dw; dr]``,
    ``(Zt' D^-1 Zt + E) du = Zt' D^-1 r + [0; r_eq]`` (E = diag(1, ..., 1, 0)), then
    ``da = D^-1 (r - Zt du)``; the cost is m d^2 instead of m^3.
    """

    def __init__(self, z: np.ndarray, q: np.ndarray | None, sign: np.ndarray, diag: np.ndarray):
        self.z, self.sign, self.diag = z, sign, diag
        self.dense = q is not None
        if self.dense:
            mat = q.copy()
            mat[np.diag_indices_from(mat)] += diag
            self.factor = _cholesky(mat)
            self.v = cho_solve(self.factor, sign)
        else:
            self.zt = np.hstack([z, sign[:, None]])
            inv = 1.0 / diag
            scaled = self.zt * np.sqrt(inv)[:, None]
            # Upper triangle of scaled' scaled (symmetric rank-k update: half a GEMM's work);
            # cho_factor reads the upper triangle only.
            mat = dsyrk(1.0, scaled.T)
            idx = np.arange(z.shape[1])
            mat[idx, idx] += 1.0
            self.inv = inv
            self.factor = _cholesky(mat)

    def solve(self, rhs: np.ndarray, r_eq: float) -> tuple[np.ndarray, float]:
        if self.dense:
            u = cho_solve(self.factor, rhs)
            d_rho = (self.sign @ u + r_eq) / (self.sign @ self.v)
            return u - d_rho * self.v, float(d_rho)
        b = self.zt.T @ (self.inv * rhs)
        b[-1] += r_eq
        du = cho_solve(self.factor, b)
        return self.inv * (rhs - self.zt @ du), float(du[-1])


def _cholesky(mat: np.ndarray) -> Any:
    try:
        return cho_factor(mat)
    except LinAlgError:  # numerically semi-definite: a tiny ridge keeps the step well defined
        mat = mat.copy()
        mat[np.diag_indices_from(mat)] += 1e-10 * (1.0 + np.abs(mat).max())
        return cho_factor(mat)


def _max_step(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Largest t <= 1 keeping every value + t * delta non-negative."""
    step = 1.0
    for val, delta in pairs:
        neg = delta < 0
        if neg.any():
            step = min(step, float(np.min(-val[neg] / delta[neg])))
    return step


def _svm_dual_ipm(
    x: np.ndarray,
    sign: np.ndarray,
    c: float,
    tol: float = 1e-8,
    max_iter: int = 100,
    alpha0: np.ndarray | None = None,
    rho0: float = 0.0,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Hinge-loss SVM dual ``min 0.5 a'Qa - 1'a, y'a = 0, 0 <= a <= C`` by a primal-dual
    interior-point method (Mehrotra predictor-corrector), ``Q = (y x)(y x)'``.

    Converges in ~10-20 iterations, each one factorisation of size min(m, d+1) (see
    :class:`_NewtonSystem`). ``alpha0`` / ``rho0`` warm-start from a previous solution (pulled
    back into the interior). Returns (w, b, alpha) with decision function ``w.x + b``.
    """
    m, d = x.shape
    z = x * sign[:, None]
    q = z @ z.T if m <= d + 1 else None
    if alpha0 is None:
        alpha = np.full(m, c / 2.0)
        s_mult = np.ones(m)  # multipliers of alpha >= 0
        t_mult = np.ones(m)  # multipliers of alpha <= C
    else:
        alpha = np.clip(alpha0, 1e-3 * c, (1 - 1e-3) * c)
        mu0 = 1e-3 * c
        s_mult, t_mult = mu0 / alpha, mu0 / (c - alpha)
    rho = float(rho0)  # multiplier of y'a = 0 (= the bias of the decision function)
    scale = 1.0 + float(np.max(np.einsum("ij,ij->i", z, z)))
    for _ in range(max_iter):
        upper = c - alpha
        w = z.T @ alpha
        r_dual = z @ w - 1.0 + rho * sign - s_mult + t_mult
        r_eq = float(sign @ alpha)
        mu = (s_mult @ alpha + t_mult @ upper) / (2 * m)
        if mu < tol * c and np.abs(r_dual).max() < 1e-7 * scale and abs(r_eq) < 1e-9 * m * c:
            break
        system = _NewtonSystem(z, q, sign, s_mult / alpha + t_mult / upper)
        base = -r_dual - s_mult + t_mult

        def direction(
            tau_s,
            tau_t,
            system=system,
            base=base,
            upper=upper,
            r_eq=r_eq,
            alpha=alpha,
            s_mult=s_mult,
            t_mult=t_mult,
        ):
            d_alpha, d_rho = system.solve(base + tau_s / alpha - tau_t / upper, r_eq)
            d_s = tau_s / alpha - s_mult - (s_mult / alpha) * d_alpha
            d_t = tau_t / upper - t_mult + (t_mult / upper) * d_alpha
            return d_alpha, d_rho, d_s, d_t

        zero = np.zeros(m)
        da, _dr, ds, dt = direction(zero, zero)  # affine-scaling predictor
        step = _max_step([(alpha, da), (upper, -da), (s_mult, ds), (t_mult, dt)])
        mu_aff = (
            (s_mult + step * ds) @ (alpha + step * da) + (t_mult + step * dt) @ (upper - step * da)
        ) / (2 * m)
        sigma = (mu_aff / mu) ** 3
        da, dr, ds, dt = direction(sigma * mu - da * ds, sigma * mu + da * dt)  # corrector
        step = min(1.0, 0.99 * _max_step([(alpha, da), (upper, -da), (s_mult, ds), (t_mult, dt)]))
        alpha = alpha + step * da
        rho = rho + step * dr
        s_mult = s_mult + step * ds
        t_mult = t_mult + step * dt
    return z.T @ alpha, float(rho), alpha


def _fit_fast(
    x: np.ndarray,
    y: np.ndarray,
    c: float,
    tol: float = 1e-3,
    max_rounds: int = 30,
    min_working_set: int = 600,
    working_set_factor: float = 2.5,
) -> tuple[np.ndarray, float]:
    """The hinge-loss SVM solution (libsvm's objective), solved on a small working set of rows.

    A linear SVM's solution depends only on its support vectors (rows with margin
    ``s (w.x + b) <= 1``); rows with larger margin have zero dual weight. So:

    1. rank the rows by their margin under a cheap squared-hinge SVM (:func:`_l2svm_newton`);
    2. solve the hinge-loss dual with an interior-point method (:func:`_svm_dual_ipm`) on the
       lowest-margin rows only (``working_set_factor`` times the number of rows inside the
       squared-hinge margin, at least ``min_working_set``);
    3. if a row outside the working set violates the margin (``s f < 1 - tol``; tol = 1e-3 like
       libsvm's stopping tolerance), add those rows plus the next-lowest-margin ones and solve
       again (warm-started); otherwise the subproblem's solution satisfies the full problem's
       optimality conditions (outside rows have zero dual weight) and is returned.

    The result is the optimum of the same objective libsvm solves (agreement measured in
    benchmarks/results/boundary.json).
    """
    n = x.shape[0]
    sign = np.where(y > 0, 1.0, -1.0)
    w0, b0 = _l2svm_newton(x, sign, c, max_iter=20)
    margin = sign * (x @ w0 + b0)
    size = int(min(n, max(min_working_set, int(working_set_factor * (margin < 1.0).sum()))))
    in_set = np.zeros(n, dtype=bool)
    in_set[np.argsort(margin, kind="stable")[:size]] = True
    for cls in (1.0, -1.0):  # both classes must be present in the working set
        rows = np.flatnonzero(sign == cls)
        in_set[rows[np.argmin(margin[rows])]] = True
    alpha_full = None
    b = 0.0
    for _ in range(max_rounds):
        idx = np.flatnonzero(in_set)
        warm = None if alpha_full is None else alpha_full[idx]
        coef, b, alpha = _svm_dual_ipm(x[idx].astype(np.float64), sign[idx], c, alpha0=warm, rho0=b)
        alpha_full = np.zeros(n)
        alpha_full[idx] = alpha
        margin = sign * (x @ coef + b)
        violators = (~in_set) & (margin < 1.0 - tol)
        if not violators.any():
            return coef, b
        # Add the violators plus as many next-lowest-margin rows: fewer re-solves.
        outside = np.flatnonzero(~in_set)
        extra = min(outside.size, 4 * int(violators.sum()) + 100)
        in_set[outside[np.argsort(margin[outside], kind="stable")[:extra]]] = True
        in_set |= violators
    warnings.warn(
        f"fast SVM solver: margin violators remain after {max_rounds} rounds; result may differ "
        "from libsvm's",
        RuntimeWarning,
        stacklevel=3,
    )
    return coef, b


def _fit_liblinear(
    x: np.ndarray,
    y: np.ndarray,
    c: float,
    tol: float = 1e-4,
    max_iter: int = 200_000,
    intercept_scaling: float = 10.0,
) -> tuple[np.ndarray, float]:
    """sklearn LinearSVC (liblinear dual coordinate descent, hinge loss) on centred codes.

    liblinear regularises the bias (as a weight on a constant feature); centring the codes and a
    large constant feature make that negligible. Kept for comparison: on the benchmark bank it is
    no faster than libsvm (see benchmarks/results/boundary.json).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    mean = x.mean(axis=0)
    clf = LinearSVC(
        loss="hinge",
        dual=True,
        C=c,
        tol=tol,
        max_iter=max_iter,
        intercept_scaling=intercept_scaling,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(x - mean, y)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        warnings.warn(
            f"liblinear did not converge in max_iter={max_iter} iterations",
            RuntimeWarning,
            stacklevel=3,
        )
    coef = clf.coef_.reshape(-1).astype(np.float64)
    return coef, float(clf.intercept_[0]) - float(coef @ mean)


def _all_distances(x: np.ndarray, normal: np.ndarray, intercept: float) -> np.ndarray:
    """``x . normal + intercept`` for every row, in x's precision (float32 banks stay float32:
    one pass over the bank, no float64 copy; only used to count correct signs)."""
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    return (x.astype(dtype, copy=False) @ normal.astype(dtype)).astype(np.float64) + intercept


class SVMBoundary(DirectionFinder):
    """Train a semantic boundary (unit normal + intercept) with InterFaceGAN's semantics.

    Parameters
    ----------
    space:
        Latent space of the codes (``"z"``, ``"w"`` or ``"wp"``); [N, L, d] codes need ``"wp"``.
    chosen_num_or_ratio:
        Positives (and negatives) per side: a ratio in (0, 1] of the valid rows, or a count.
    split_ratio:
        Training fraction of each chosen group (rest: validation).
    invalid_value:
        Rows whose score equals this value are dropped (``float('nan')`` drops NaN rows).
    C:
        SVM penalty (InterFaceGAN: 1).
    solver:
        ``"libsvm"`` (sklearn ``SVC(kernel='linear')``, the reference), ``"fast"`` (the same
        solution from libsvm on a small working set of low-margin rows, see :func:`_fit_fast`),
        ``"liblinear"`` (sklearn LinearSVC, hinge loss, on centred codes; for comparison) or
        ``"auto"`` (libsvm up to :data:`AUTO_LIBSVM_MAX_TRAIN` training rows, fast above).
    layer:
        For W+ codes: None fits one SVM per layer (HiGAN; vectors [1, L, d]); an int fits one SVM
        on that layer's codes only and returns a [1, d] direction (space ``"w"``) whose layer
        selection is that layer, so editing W+ codes moves only that layer.
    seed:
        Seed of the train/validation shuffles.
    split:
        ``"default"`` or ``"interfacegan"`` (:data:`SPLITS`): the latter reproduces InterFaceGAN's
        ``train_boundary`` run after ``np.random.seed(seed)`` exactly (its sort order, its
        legacy ``RandomState`` shuffles; with ``solver="auto"`` libsvm, the reference's
        ``SVC(kernel='linear')``), so the normal equals the reference's (cosine 1.0).
    name:
        Name of the direction (default ``"boundary"``).
    blas_threads:
        BLAS threads while fitting (None: leave the library default). Default 1: libsvm is
        single-threaded, and on an oversubscribed 2-core machine (load ~10) multi-threaded
        OpenBLAS was measured 5x slower on the fast solver's matrix products and ~90x slower on
        its 513 x 513 Cholesky factorisations than one thread.
    tol:
        Fast solver: margin tolerance of the optimality check (libsvm's own KKT tolerance).
    min_working_set:
        Fast solver: smallest working set handed to libsvm.
    progress:
        Show a tqdm bar over layers for per-layer fits.

    Attributes (after :meth:`fit`)
    ------------------------------
    directions_ : Directions
        One direction, ``[1, d]`` or ``[1, L, d]``, with intercept and scores.
    normal_ : ndarray
        The unit normal, [d] or [L, d].
    intercept_ : float or ndarray
        b with signed distance ``n . x + b`` (float, or [L] per layer).
    train_accuracy_, val_accuracy_, remaining_accuracy_ : float or ndarray
        Accuracies (NaN when the set is empty); [L] per layer.
    counts_ : dict
        Numbers of valid, dropped, chosen, training, validation and remaining rows.
    split_ : dict
        Row indices (into the input) and labels of the ``train`` / ``val`` / ``remaining`` sets.
    solver_ : str
        The solver actually used.
    label_mode_ : str
        ``"scores"`` or ``"labels"``.

    A scikit-learn estimator (the finder protocol, :mod:`latentatlas.directions.finder`):
    ``get_params`` / ``set_params`` / ``sklearn.base.clone`` work, hyperparameters are checked
    in :meth:`fit`, ``fit(X, y)`` means ``fit(codes, scores)`` and :meth:`score` is the accuracy
    on held-out top / bottom rows, so ``GridSearchCV(SVMBoundary(...), {"C": [...]})`` runs.
    """

    fit_requires = ("bank", "scores")

    def __init__(
        self,
        space: str = "w",
        chosen_num_or_ratio: float = 0.02,
        split_ratio: float = 0.7,
        invalid_value: float | None = None,
        C: float = 1.0,
        solver: str = "auto",
        layer: int | None = None,
        seed: int = 0,
        name: str | None = None,
        tol: float = 1e-3,
        min_working_set: int = 600,
        blas_threads: int | None = 1,
        progress: bool = True,
        split: str = "default",
    ) -> None:
        self.space = space
        self.chosen_num_or_ratio = chosen_num_or_ratio
        self.split_ratio = split_ratio
        self.invalid_value = invalid_value
        self.C = C
        self.solver = solver
        self.layer = layer
        self.seed = seed
        self.name = name
        self.tol = tol
        self.min_working_set = min_working_set
        self.blas_threads = blas_threads
        self.progress = progress
        self.split = split

    #: The constructor arguments recorded in ``directions_.metadata["params"]``.
    RECORDED_PARAMS = (
        "space", "chosen_num_or_ratio", "split_ratio", "invalid_value", "C", "solver", "layer",
        "seed", "name", "tol", "min_working_set", "blas_threads", "split",
    )

    def _validate_params(self) -> None:
        """Hyperparameter checks (in ``fit``, not ``__init__``, as scikit-learn requires)."""
        if self.space not in SPACES:
            raise ShapeError(f"space must be one of {SPACES}, got {self.space!r}")
        if self.solver not in SOLVERS:
            raise ShapeError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        if self.split not in SPLITS:
            raise ShapeError(f"split must be one of {SPLITS}, got {self.split!r}")
        for name, low in (("chosen_num_or_ratio", 0.0), ("C", 0.0), ("tol", 0.0)):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.number)) or not value > low:
                raise ShapeError(f"{name} must be positive, got {value!r}")
        if not isinstance(self.split_ratio, (int, float, np.number)) or not (
            0 < self.split_ratio <= 1
        ):
            raise ShapeError(f"split_ratio must be in (0, 1], got {self.split_ratio!r}")
        if self.layer is not None and not isinstance(self.layer, (int, np.integer)):
            raise ShapeError(f"layer must be None or an int, got {self.layer!r}")
        if not isinstance(self.min_working_set, (int, np.integer)) or self.min_working_set < 2:
            raise ShapeError(f"min_working_set must be an int >= 2, got {self.min_working_set!r}")

    # ------------------------------------------------------------------ input handling
    def _check_latents(self, latents: Any) -> np.ndarray:
        x = np.asarray(latents.detach().cpu().numpy() if hasattr(latents, "detach") else latents)
        if x.dtype.kind not in "fiu":
            raise ShapeError(f"latents must be numeric, got dtype {x.dtype}")
        if x.ndim == 3:
            if self.space != "wp":
                raise ShapeError(f"latents of shape {x.shape} are W+ codes: use space='wp'")
        elif x.ndim != 2:
            raise ShapeError(f"latents must have shape [N, d] or [N, L, d], got {x.shape}")
        if x.shape[0] < 2:
            raise ShapeError(f"need at least 2 latent codes, got {x.shape[0]}")
        if not np.isfinite(x).all():
            raise ShapeError("latents contain NaN or Inf")
        return x

    def _select(self, scores: Any, labels: Any, n: int) -> dict[str, Any]:
        """The positive / negative rows (unshuffled) and the remaining rows (InterFaceGAN /
        HiGAN selection, steps 1-3 and 5 of the module docstring)."""
        use_labels = labels is not None
        values = np.asarray(labels if use_labels else scores)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        what = "labels" if use_labels else "scores"
        if values.ndim != 1 or values.shape[0] != n:
            raise ShapeError(f"{what} must have shape [{n}] or [{n}, 1], got {values.shape}")
        if values.dtype == bool:
            values = values.astype(np.float64)
            use_labels = True
        if values.dtype.kind not in "fiu":
            raise ShapeError(f"{what} must be numeric or boolean, got dtype {values.dtype}")
        values = values.astype(np.float64)
        rows = np.arange(n)
        inv = self.invalid_value
        if inv is not None and np.isnan(inv):
            keep = ~np.isnan(values)
        elif inv is not None:
            keep = values != inv
        else:
            keep = np.ones(n, dtype=bool)
        if np.isnan(values[keep]).any() or np.isinf(values[keep]).any():
            raise ShapeError(
                f"{what} contain NaN or Inf; drop those rows or pass invalid_value=float('nan')"
            )
        rows, values = rows[keep], values[keep]
        valid = rows.size
        uniq = np.unique(values)
        if (
            not use_labels
            and uniq.size == 2
            and set(uniq.tolist()) <= {-1.0, 0.0, 1.0}
            and 1 in uniq
        ):
            use_labels = True  # binary labels given as numbers: HiGAN's labels mode
        counts: dict[str, Any] = {"num_samples": n, "num_invalid": n - valid, "num_valid": valid}
        if use_labels:
            if uniq.size > 2:
                raise ShapeError(f"labels must be binary, got values {uniq[:6]}...")
            positive = values > 0.5 if uniq.min() >= 0 else values > 0
            pos = rows[positive]
            neg = rows[~positive]
            if pos.size == 0 or neg.size == 0:
                raise ShapeError("labels contain a single class; need positives and negatives")
            remaining, remaining_labels = np.empty(0, int), np.empty(0, bool)
            counts.update(positives=int(pos.size), negatives=int(neg.size))
        else:
            if uniq.size < 2:
                raise ShapeError(f"{what} are constant ({uniq[0]:g} on every valid row): no "
                                 "boundary separates them; score an attribute that varies")
            if self.split == "interfacegan":  # the reference's (unstable) descending order
                order = np.argsort(values[:, None], axis=0)[::-1, 0]
            else:
                order = np.argsort(-values, kind="stable")
            r = self.chosen_num_or_ratio
            chosen = int(valid * r) if 0 < r <= 1 else int(r)
            chosen = min(chosen, valid // 2)
            sorted_rows, sorted_vals = rows[order], values[order]
            pos = sorted_rows[:chosen]
            neg = sorted_rows[valid - chosen :]
            remaining = sorted_rows[chosen : valid - chosen]
            if chosen and sorted_vals[chosen - 1] <= sorted_vals[valid - chosen]:
                raise ShapeError(
                    f"the top and bottom {chosen} {what} overlap (both hold "
                    f"{sorted_vals[chosen - 1]:g}): positives and negatives are not separated "
                    "by score; use fewer chosen rows or a score with more distinct values")
            threshold = (sorted_vals[0] + sorted_vals[-1]) / 2
            remaining_labels = sorted_vals[chosen : valid - chosen] >= threshold
            counts.update(chosen_num=chosen, decision_value=float(threshold))
        return {
            "use_labels": use_labels,
            "pos": pos,
            "neg": neg,
            "remaining": remaining,
            "remaining_y": remaining_labels,
            "counts": counts,
        }

    def _split(
        self, scores: Any, labels: Any, n: int, rng: np.random.Generator | None = None
    ) -> dict[str, Any]:
        """Row indices of the training / validation / remaining sets (InterFaceGAN / HiGAN)."""
        rng = np.random.default_rng(self.seed) if rng is None else rng
        sel = self._select(scores, labels, n)
        counts = sel["counts"]
        if self.split == "interfacegan" and not sel["use_labels"]:
            legacy = np.random.RandomState(self.seed)  # noqa: NPY002  the reference's stream
            pidx, nidx = np.arange(sel["pos"].size), np.arange(sel["neg"].size)
            legacy.shuffle(pidx)
            legacy.shuffle(nidx)
            pos, neg = sel["pos"][pidx], sel["neg"][nidx]
        else:
            pos, neg = rng.permutation(sel["pos"]), rng.permutation(sel["neg"])
        if sel["use_labels"]:
            ptr, ntr = int(pos.size * self.split_ratio), int(neg.size * self.split_ratio)
        else:
            ptr = ntr = int(counts["chosen_num"] * self.split_ratio)
        remaining, remaining_labels = sel["remaining"], sel["remaining_y"]
        if ptr < 1 or ntr < 1:
            raise ShapeError(
                f"too few samples: {pos.size} positives / {neg.size} negatives with "
                f"split_ratio={self.split_ratio} leave an empty training class; use more codes "
                "or a larger chosen_num_or_ratio"
            )
        train = np.concatenate([pos[:ptr], neg[:ntr]])
        train_y = np.concatenate([np.ones(ptr, bool), np.zeros(ntr, bool)])
        val = np.concatenate([pos[ptr:], neg[ntr:]])
        val_y = np.concatenate([np.ones(pos.size - ptr, bool), np.zeros(neg.size - ntr, bool)])
        counts.update(
            train_positive=ptr,
            train_negative=ntr,
            val_positive=int(pos.size - ptr),
            val_negative=int(neg.size - ntr),
            remaining=int(remaining.size),
            remaining_positive=int(remaining_labels.sum()),
        )
        return {
            "use_labels": sel["use_labels"],
            "train": train,
            "train_y": train_y,
            "val": val,
            "val_y": val_y,
            "remaining": remaining,
            "remaining_y": remaining_labels,
            "counts": counts,
        }

    def _resolve_inputs(self, bank: Any, scores: Any, labels: Any) -> tuple[Any, Any, Any]:
        """Codes and scores / labels from arrays, or from a latent bank object (anything with
        ``latents(space)`` and a ``scores`` mapping, e.g. :class:`latentatlas.analysis.Bank`)
        with score / label names."""
        if callable(getattr(bank, "latents", None)):
            table = getattr(bank, "scores", {})

            def column(value: Any) -> Any:
                if not isinstance(value, str):
                    return value
                if value not in table:
                    raise ShapeError(f"the bank has no scores {value!r}; it has {list(table)}")
                return table[value]

            return bank.latents(self.space), column(scores), column(labels)
        for value in (scores, labels):
            if isinstance(value, str):
                raise ShapeError(f"a score name ({value!r}) needs a bank object, not an array")
        return bank, scores, labels

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        bank: Any = None,
        scores: Any = None,
        *,
        labels: Any = None,
        name: str | None = None,
        generator: Any = None,
        scorer: Any = None,
        rng: np.random.Generator | int | None = None,
    ) -> SVMBoundary:
        """Fit on codes (``bank``: [N, d] or W+ [N, L, d]) and ``scores`` [N] / [N, 1], or binary
        ``labels`` (the finder protocol, :mod:`latentatlas.directions.finder`).

        ``fit(X, y)`` is ``fit(codes, scores)``, what scikit-learn's model selection calls.
        Scores whose valid values are exactly two of {-1, 0, 1} (or a boolean array) are treated
        as binary labels (HiGAN's labels mode). ``bank`` may also be a latent bank object
        (``latents(space)`` and a ``scores`` mapping) with ``scores`` / ``labels`` given by name.
        ``rng`` (a seed or numpy Generator) replaces ``seed`` for the train / validation
        shuffles; ``generator`` and ``scorer`` are not used.
        """
        self._validate_params()
        if (scores is None) == (labels is None):
            raise ShapeError("pass exactly one of scores or labels")
        self._check_fit_inputs(bank=bank, scores=scores if labels is None else labels)
        latents, scores, labels = self._resolve_inputs(bank, scores, labels)
        shuffle = None if rng is None else check_rng(rng)
        with threadpool_limits(limits=self.blas_threads):
            return self._fit(latents, scores, labels, name, shuffle)

    def _fit(
        self,
        latents: Any,
        scores: Any,
        labels: Any,
        name: str | None,
        rng: np.random.Generator | None = None,
    ) -> SVMBoundary:
        x = self._check_latents(latents)
        split = self._split(scores, labels, x.shape[0], rng)
        n_train = split["train"].size
        solver = self.solver
        if solver == "auto":
            solver = ("libsvm" if n_train <= AUTO_LIBSVM_MAX_TRAIN or self.split == "interfacegan"
                      else "fast")

        if x.ndim == 3 and self.layer is None:
            layer_ids: list[int] | None = list(range(x.shape[1]))
        elif x.ndim == 3:
            if not isinstance(self.layer, (int, np.integer)) or not 0 <= self.layer < x.shape[1]:
                raise ShapeError(f"layer must be an int in [0, {x.shape[1]}), got {self.layer!r}")
            layer_ids = None
        else:
            if self.layer is not None and self.space != "wp":
                raise ShapeError("layer= needs W+ codes [N, L, d] with space='wp'")
            layer_ids = None

        def views():
            if layer_ids is None:
                yield x[:, self.layer] if x.ndim == 3 else x
            else:
                for i in layer_ids:
                    yield x[:, i]

        normals, intercepts = [], []
        acc: dict[str, list[float]] = {"train": [], "val": [], "remaining": []}
        total = 1 if layer_ids is None else len(layer_ids)
        for xl in tqdm(
            views(), total=total, desc="SVM per layer", disable=not self.progress or total == 1
        ):
            xt = xl[split["train"]].astype(np.float64)
            yt = split["train_y"].astype(np.int64)
            if solver == "libsvm":
                coef, b = _fit_libsvm(xt, yt, self.C)
            elif solver == "liblinear":
                coef, b = _fit_liblinear(xt, yt, self.C)
            else:
                coef, b = _fit_fast(
                    xt, yt, self.C, tol=self.tol, min_working_set=self.min_working_set
                )
            norm = float(np.linalg.norm(coef))
            if norm == 0 or not np.isfinite(norm):
                raise ShapeError(
                    "the SVM found no boundary (zero normal): are the classes identical?"
                )
            normal, icpt = coef / norm, b / norm
            normals.append(normal)
            intercepts.append(icpt)
            positive = _all_distances(xl, normal, icpt) > 0
            for key in ("train", "val", "remaining"):
                idx = split[key]
                if idx.size == 0:
                    acc[key].append(float("nan"))
                    continue
                acc[key].append(float((positive[idx] == split[f"{key}_y"]).mean()))

        name = name or self.name or "boundary"
        layerwise = layer_ids is not None
        normal_arr = np.stack(normals) if layerwise else normals[0]
        icpt_arr = np.asarray(intercepts) if layerwise else np.asarray(intercepts[0])
        self.solver_ = solver
        self.label_mode_ = "labels" if split["use_labels"] else "scores"
        self.counts_ = split["counts"]
        self.split_ = {k: split[k] for k in ("train", "train_y", "val", "val_y")}
        self.split_.update(remaining=split["remaining"], remaining_y=split["remaining_y"])
        self.normal_ = normal_arr.astype(np.float32)
        self.intercept_ = icpt_arr if layerwise else float(icpt_arr)
        self.train_accuracy_ = np.asarray(acc["train"]) if layerwise else acc["train"][0]
        self.val_accuracy_ = np.asarray(acc["val"]) if layerwise else acc["val"][0]
        self.remaining_accuracy_ = (
            np.asarray(acc["remaining"]) if layerwise else acc["remaining"][0]
        )
        space = "wp" if layerwise else ("w" if self.layer is not None else self.space)
        self.directions_ = Directions(
            normal_arr[None],
            space,
            names=[name],
            layers=None if self.layer is None else [int(self.layer)],
            intercepts=icpt_arr[None],
            method="svm",
            scores={
                "train_accuracy": [self.train_accuracy_],
                "val_accuracy": [self.val_accuracy_],
                "remaining_accuracy": [self.remaining_accuracy_],
            },
            metadata={
                "params": {k: getattr(self, k) for k in self.RECORDED_PARAMS},
                "solver": solver,
                "label_mode": self.label_mode_,
                "counts": self.counts_,
                "fitted_space": self.space,
            },
            normalize=True,
        )
        return self

    # ------------------------------------------------------------------ inference
    def _fitted(self) -> None:
        self._check_fitted()

    def decision_function(self, latents: Any) -> np.ndarray:
        """Signed distances ``n . x + b``: [N] (or [N, L] for per-layer boundaries)."""
        self._fitted()
        x = self._check_latents(latents).astype(np.float64)
        if self.normal_.ndim == 2:
            if x.ndim != 3 or x.shape[1:] != self.normal_.shape:
                raise ShapeError(f"expected W+ codes [N, {self.normal_.shape}], got {x.shape}")
            return (x * self.normal_).sum(-1) + self.intercept_
        if x.ndim == 3:
            if self.layer is None:
                raise ShapeError("this boundary was fitted on [N, d] codes; got W+ codes")
            x = x[:, self.layer]
        if x.shape[-1] != self.normal_.shape[-1]:
            raise ShapeError(f"latent dim {x.shape[-1]} != boundary dim {self.normal_.shape[-1]}")
        return x @ self.normal_.astype(np.float64) + self.intercept_

    def predict(self, latents: Any) -> np.ndarray:
        """Boolean positive-side predictions."""
        return self.decision_function(latents) > 0

    def score(self, bank: Any, scores: Any = None, *, labels: Any = None) -> float:
        """Accuracy on the rows ``fit`` would learn from: of ``bank``'s codes, the top and bottom
        ``chosen_num_or_ratio`` by ``scores`` (labelled positive / negative, as in ``fit``, all
        of them: there is no train / validation split here), or every valid row for binary
        ``labels``. Per-layer boundaries: the mean over layers.

        With ``fit(X, y)`` this is the ``score(X, y)`` scikit-learn's model selection calls on
        held-out folds (e.g. ``GridSearchCV(SVMBoundary(), {"C": [...]})``): the fraction of
        the held-out top / bottom rows on the right side of the boundary.
        """
        self._fitted()
        if (scores is None) == (labels is None):
            raise ShapeError("pass exactly one of scores or labels")
        latents, scores, labels = self._resolve_inputs(bank, scores, labels)
        x = self._check_latents(latents)
        sel = self._select(scores, labels, x.shape[0])
        pos, neg = sel["pos"], sel["neg"]
        if pos.size == 0 or neg.size == 0:
            raise ShapeError(
                f"too few samples to score: {pos.size} positives / {neg.size} negatives"
            )
        rows = np.concatenate([pos, neg])
        truth = np.concatenate([np.ones(pos.size, bool), np.zeros(neg.size, bool)])
        pred = self.predict(x[rows])
        if pred.ndim == 2:
            truth = truth[:, None]
        return float((pred == truth).mean())

"""Vectorised linear classifiers that solve exactly the problems disentanglement_lib's sklearn
estimators solved, many at once.

* :func:`fit_ovr_logistic`: one-vs-rest L2-regularised logistic regression with the intercept
  regularised like a feature (liblinear, ``intercept_scaling=1``), C=1: the
  ``LogisticRegression()`` of sklearn <= 0.21 that disentanglement_lib ran (solver liblinear,
  one-vs-rest). All K binary problems are solved together by Newton's method with a backtracking
  line search (L-BFGS when the feature count makes Hessians expensive).
* :func:`fit_ovr_svm_1d`: ``LinearSVC(C, class_weight="balanced")`` (squared hinge, L2, intercept
  regularised) on one feature at a time, as SAP uses it, for every (code, class) problem of a
  factor at once; 2x2 Newton steps.

liblinear's multi-class one-vs-rest weights the positives of class k by ``C * class_weight[k]``
and every negative by ``C``; with two classes it solves one problem weighted ``C * class_weight``
on both sides. Both are reproduced here.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy.special import expit, log_expit

from latentatlas.metrics.disentanglement._common import single_blas_thread


# ----------------------------------------------------------------------------- logistic regression
def _binary_targets(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """+-1 targets [n, P]: one column per class (P = K), or a single column for K = 2 (class 1)."""
    if num_classes == 2:
        return np.where(labels == 1, 1.0, -1.0)[:, None]
    return np.where(labels[:, None] == np.arange(num_classes)[None, :], 1.0, -1.0)


def _logistic_objective(theta: np.ndarray, xa: np.ndarray, targets: np.ndarray, c: float):
    margins = targets * (xa @ theta.T)  # [n, P]
    values = 0.5 * (theta**2).sum(axis=1) - c * log_expit(margins).sum(axis=0)
    return values, margins


def fit_ovr_logistic(
    features: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    c: float = 1.0,
    tol: float = 1e-8,
    max_iter: int = 100,
) -> np.ndarray:
    """Fit one-vs-rest logistic regressions; returns theta [P, p + 1] (last column: intercept).

    ``labels`` are ints in 0..num_classes-1; P = num_classes, or 1 when num_classes == 2.
    Stops when every gradient norm is below ``tol`` times its initial value.
    """
    with single_blas_thread():
        return _fit_ovr_logistic(features, labels, num_classes, c, tol, max_iter)


def _fit_ovr_logistic(features, labels, num_classes, c, tol, max_iter) -> np.ndarray:
    n, p = features.shape
    xa = np.concatenate([features, np.ones((n, 1))], axis=1)
    targets = _binary_targets(labels, num_classes)
    num_problems = targets.shape[1]
    p1 = p + 1
    if p1 * p1 * n > 5e7:  # Hessians too costly: quasi-Newton on the (separable) sum
        return _fit_logistic_lbfgs(xa, targets, c, tol, max_iter * 50)

    outer = (xa[:, :, None] * xa[:, None, :]).reshape(n, p1 * p1)
    theta = np.zeros((num_problems, p1))
    values, margins = _logistic_objective(theta, xa, targets, c)
    grad0 = None
    eye = np.eye(p1)
    stalled = np.zeros(num_problems, dtype=bool)  # line search found no decrease: at float limit
    for _ in range(max_iter):
        sig = expit(margins)  # sigma(y z)
        grad = theta + c * ((sig - 1.0) * targets).T @ xa
        norms = np.linalg.norm(grad, axis=1)
        if grad0 is None:
            grad0 = np.maximum(norms, 1e-300)
        active = (norms > tol * grad0) & ~stalled
        if not active.any():
            break
        curvature = c * sig * (1.0 - sig)  # [n, P]
        hess = (curvature.T @ outer).reshape(num_problems, p1, p1) + eye
        step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        step[~active] = 0.0
        slope = (grad * step).sum(axis=1)
        t = np.ones(num_problems)
        todo = active.copy()
        new_theta = theta.copy()
        for _ls in range(30):  # backtracking (Armijo) per problem, all at once
            cand = theta - t[:, None] * step
            cand_values, cand_margins = _logistic_objective(cand, xa, targets, c)
            ok = todo & (cand_values <= values - 1e-4 * t * slope)
            new_theta[ok] = cand[ok]
            values = np.where(ok, cand_values, values)
            margins[:, ok] = cand_margins[:, ok]
            todo &= ~ok
            if not todo.any():
                break
            t = np.where(todo, t * 0.5, t)
        stalled |= todo
        theta = new_theta
    return theta


def _fit_logistic_lbfgs(xa, targets, c, tol, max_iter):
    num_problems, p1 = targets.shape[1], xa.shape[1]

    def fun(flat):
        theta = flat.reshape(num_problems, p1)
        values, margins = _logistic_objective(theta, xa, targets, c)
        grad = theta + c * ((expit(margins) - 1.0) * targets).T @ xa
        return values.sum(), grad.ravel()

    res = optimize.minimize(
        fun, np.zeros(num_problems * p1), jac=True, method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": tol, "ftol": 1e-15},
    )
    return res.x.reshape(num_problems, p1)


def logistic_decision(theta: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Decision values [n, P] of fitted one-vs-rest problems."""
    return features @ theta[:, :-1].T + theta[:, -1]


def logistic_predict(theta: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Class predictions (argmax of decisions; sign for a single binary problem)."""
    decision = logistic_decision(theta, features)
    if decision.shape[1] == 1:
        return (decision[:, 0] > 0).astype(np.int64)
    return decision.argmax(axis=1)


def logistic_predict_proba(theta: np.ndarray, features: np.ndarray) -> np.ndarray:
    """sklearn's one-vs-rest probabilities: per-class sigmoids normalised to sum 1 -> [n, K]."""
    decision = logistic_decision(theta, features)
    if decision.shape[1] == 1:
        p1 = expit(decision[:, 0])
        return np.stack([1.0 - p1, p1], axis=1)
    probs = expit(decision)
    return probs / probs.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------- 1-D linear SVM
def fit_ovr_svm_1d(
    x: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    c: float = 0.01,
    tol: float = 1e-8,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """LinearSVC(C=c, class_weight="balanced") on each column of ``x`` [n, m] separately.

    Returns (w [m, P], b [m, P]) with P = num_classes (one-vs-rest) or 1 (binary, positive =
    class 1). Objective per problem: 0.5 (w^2 + b^2) + sum_i c_i max(0, 1 - y_i (w x_i + b))^2.

    With one feature the active set of each side is a prefix or suffix of the sorted values, so
    every sum the Newton step needs (count, sum x, sum x^2 of the active samples) is a lookup in
    per-class cumulative tables: O(n K) per column to build, O(P log n) per iteration.
    """
    n, m = x.shape
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    class_weight = np.zeros(num_classes)
    class_weight[present] = n / (present.sum() * counts[present])  # sklearn's "balanced"
    if num_classes == 2:
        pos_class, cost_pos, cost_neg = np.array([1]), c * class_weight[[1]], c * class_weight[[0]]
    else:
        pos_class = np.arange(num_classes)
        cost_pos, cost_neg = c * class_weight, np.full(num_classes, c)  # negatives: plain C
    num_problems = len(pos_class)
    one_hot = labels[:, None] == np.arange(num_classes)[None, :]
    w_all = np.zeros((m, num_problems))
    b_all = np.zeros((m, num_problems))
    for j in range(m):  # per code: all problems at once
        order = np.argsort(x[:, j], kind="stable")
        xs = x[order, j]
        moments = np.stack([np.ones(n), xs, xs * xs], axis=1)  # [n, 3]
        # Cumulative moments per class over the sorted order, with a leading zero row.
        per_class = np.zeros((n + 1, num_classes, 3))
        np.cumsum(one_hot[order][:, :, None] * moments[:, None, :], axis=0, out=per_class[1:])
        if num_classes == 2:
            pos_table, neg_table = per_class[:, 1:2], per_class[:, 0:1]
        else:
            all_table = np.zeros((n + 1, 1, 3))
            np.cumsum(moments, axis=0, out=all_table[1:, 0])
            pos_table, neg_table = per_class, all_table - per_class
        cols = np.arange(num_problems)

        def active_sums(w, b, xs=xs, pos_table=pos_table, neg_table=neg_table, cols=cols):
            """(n, sum x, sum x^2) [P, 3] of the active positives and negatives at (w, b)."""
            safe_w = np.where(w == 0, 1.0, w)
            t_pos, t_neg = (1.0 - b) / safe_w, (-1.0 - b) / safe_w
            up = w > 0
            # w > 0: positives with x < t_pos (prefix), negatives with x > t_neg (suffix);
            # w < 0: the reverse. w == 0: a side is all active or none.
            r_pos = np.where(up, np.searchsorted(xs, t_pos, "left"),
                             np.searchsorted(xs, t_pos, "right"))
            r_neg = np.where(up, np.searchsorted(xs, t_neg, "right"),
                             np.searchsorted(xs, t_neg, "left"))
            pos_prefix, pos_total = pos_table[r_pos, cols], pos_table[n, cols]
            neg_prefix, neg_total = neg_table[r_neg, cols], neg_table[n, cols]
            pos = np.where(up[:, None], pos_prefix, pos_total - pos_prefix)
            neg = np.where(up[:, None], neg_total - neg_prefix, neg_prefix)
            flat = (w == 0)[:, None]
            pos = np.where(flat, np.where((b < 1.0)[:, None], pos_total, 0.0), pos)
            neg = np.where(flat, np.where((b > -1.0)[:, None], neg_total, 0.0), neg)
            return pos, neg

        def objective(w, b):
            pos, neg = active_sums(w, b)
            return (0.5 * (w**2 + b**2)
                    + cost_pos * ((1 - b) ** 2 * pos[:, 0] - 2 * (1 - b) * w * pos[:, 1]
                                  + w**2 * pos[:, 2])
                    + cost_neg * ((1 + b) ** 2 * neg[:, 0] + 2 * (1 + b) * w * neg[:, 1]
                                  + w**2 * neg[:, 2]))

        w = np.zeros(num_problems)
        b = np.zeros(num_problems)
        values = objective(w, b)
        grad0 = None
        stalled = np.zeros(num_problems, dtype=bool)
        for _ in range(max_iter):
            pos, neg = active_sums(w, b)
            gw = (w - 2 * cost_pos * ((1 - b) * pos[:, 1] - w * pos[:, 2])
                  + 2 * cost_neg * ((1 + b) * neg[:, 1] + w * neg[:, 2]))
            gb = (b - 2 * cost_pos * ((1 - b) * pos[:, 0] - w * pos[:, 1])
                  + 2 * cost_neg * ((1 + b) * neg[:, 0] + w * neg[:, 1]))
            norms = np.hypot(gw, gb)
            if grad0 is None:
                grad0 = np.maximum(norms, 1e-300)
            todo = (norms > tol * grad0) & ~stalled
            if not todo.any():
                break
            h_ww = 1.0 + 2.0 * (cost_pos * pos[:, 2] + cost_neg * neg[:, 2])
            h_wb = 2.0 * (cost_pos * pos[:, 1] + cost_neg * neg[:, 1])
            h_bb = 1.0 + 2.0 * (cost_pos * pos[:, 0] + cost_neg * neg[:, 0])
            det = h_ww * h_bb - h_wb**2
            sw = np.where(todo, (h_bb * gw - h_wb * gb) / det, 0.0)
            sb = np.where(todo, (h_ww * gb - h_wb * gw) / det, 0.0)
            slope = gw * sw + gb * sb
            t = np.ones(num_problems)
            for _ls in range(30):  # backtracking (Armijo), all problems at once
                cand = objective(w - t * sw, b - t * sb)
                ok = cand <= values - 1e-4 * t * slope
                if ok.all():
                    break
                t = np.where(ok, t, t * 0.5)
            stalled |= ~ok
            t = np.where(ok, t, 0.0)
            w = w - t * sw
            b = b - t * sb
            values = objective(w, b)
        w_all[j], b_all[j] = w, b
    return w_all, b_all


def svm_1d_predict(w: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Predictions [n, m] of :func:`fit_ovr_svm_1d` models on ``x`` [n, m]."""
    decision = x[:, :, None] * w[None, :, :] + b[None, :, :]  # [n, m, P]
    if decision.shape[2] == 1:
        return (decision[:, :, 0] > 0).astype(np.int64)
    return decision.argmax(axis=2)

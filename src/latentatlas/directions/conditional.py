"""Conditional boundaries (InterFaceGAN's ``project_boundary``) and entanglement measures.

Projection removes from a primal unit normal n its components along condition normals
c_1..c_k so that moving along the result leaves the conditions' signed distances unchanged
(to first order, in the latent space); the result is renormalised to unit norm.

- 1 condition: ``n - (n . c) c``
- 2 conditions (InterFaceGAN's closed form, with ``c12 = c1 . c2``, ``p_i = n . c_i``):
  ``a = (p1 - p2 c12) / (1 - c12^2 + 1e-8)``, ``b = (p2 - p1 c12) / (1 - c12^2 + 1e-8)``,
  result ``n - a c1 - b c2``
- N conditions: with C the [N, d] matrix of conditions, ``x = solve(C C^T, C n)``, result
  ``n - C^T x`` (the exact orthogonal projection onto the complement of span(C)).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from latentatlas.directions.base import Directions, Key
from latentatlas.utils.errors import ShapeError

#: InterFaceGAN's regulariser in the 2-condition closed form.
TWO_CONDITION_EPS = 1e-8
#: Conditions whose [N, d] matrix (unit rows) has a singular value below this are collinear.
COLLINEAR_TOL = 1e-6


def _as_vector(v: Any, what: str) -> np.ndarray:
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise ShapeError(f"{what} must have shape [d] or [1, d], got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ShapeError(f"{what} contains NaN or Inf")
    norm = np.linalg.norm(arr)
    if norm == 0:
        raise ShapeError(f"{what} is a zero vector")
    return arr / norm


def project_boundary(primal: Any, *conditions: Any, method: str = "auto") -> np.ndarray:
    """Unit vector orthogonal to every condition, closest to ``primal`` (InterFaceGAN).

    ``primal`` and each condition: [d] or [1, d] (renormalised first). ``method``: ``"auto"``
    (the closed forms for 1 and 2 conditions, the linear solve for more), or ``"solve"`` (the
    N-condition solve for any number). The result has ``primal``'s shape, float64.
    Collinear (linearly dependent) conditions raise :class:`ShapeError`: no formula gives a
    vector orthogonal to them that means anything, and the result is checked orthogonal.
    """
    shape = np.shape(primal)
    n = _as_vector(primal, "primal")
    conds = [_as_vector(c, f"condition {i}") for i, c in enumerate(conditions)]
    for i, c in enumerate(conds):
        if c.shape != n.shape:
            raise ShapeError(f"condition {i} has dim {c.shape[0]}, primal has {n.shape[0]}")
    if method not in ("auto", "solve"):
        raise ShapeError(f"method must be 'auto' or 'solve', got {method!r}")
    if len(conds) >= 2:
        smallest = float(np.linalg.svd(np.stack(conds), compute_uv=False).min())
        if smallest < COLLINEAR_TOL:
            raise ShapeError(f"the {len(conds)} condition directions are collinear (linearly "
                             f"dependent: smallest singular value {smallest:.2e}); drop the "
                             "redundant condition")
    if not conds:
        out = n
    elif len(conds) == 1 and method == "auto":
        c = conds[0]
        out = n - (n @ c) * c
    elif len(conds) == 2 and method == "auto":
        c1, c2 = conds
        c12, p1, p2 = c1 @ c2, n @ c1, n @ c2
        denom = 1.0 - c12**2 + TWO_CONDITION_EPS
        a = (p1 - p2 * c12) / denom
        b = (p2 - p1 * c12) / denom
        out = n - a * c1 - b * c2
    else:
        cmat = np.stack(conds)
        gram = cmat @ cmat.T
        if np.linalg.matrix_rank(gram) < len(conds):
            raise ShapeError("condition directions are linearly dependent")
        x = np.linalg.solve(gram, cmat @ n)
        out = n - cmat.T @ x
    norm = np.linalg.norm(out)
    if norm < 1e-6:
        raise ShapeError("the primal direction lies in the span of the conditions")
    out = out / norm
    off = max((abs(float(out @ c)) for c in conds), default=0.0)
    if off > 1e-5:
        raise ShapeError(f"the projection is not orthogonal to the conditions (cosine {off:.2e}):"
                         " they are nearly collinear; drop the redundant condition")
    return out.reshape(shape)


def conditional_directions(
    directions: Directions,
    primal: Key,
    conditions: Sequence[Key],
    name: str | None = None,
    method: str = "auto",
) -> Directions:
    """Directions entry ``primal`` made orthogonal to the entries ``conditions`` (by name/index).

    Per-layer [K, L, d] directions are projected layer by layer. The result has no intercept:
    the projected normal defines a different hyperplane, so edits along it are offsets (or
    distances to the plane through the origin).
    """
    pi = directions.index(primal)
    ci = [directions.index(c) for c in conditions]
    if pi in ci:
        raise ShapeError(f"{directions.names[pi]!r} cannot be its own condition")
    if directions.is_layerwise:
        vec = np.stack(
            [
                project_boundary(
                    directions.vectors[pi, layer],
                    *[directions.vectors[j, layer] for j in ci],
                    method=method,
                )
                for layer in range(directions.num_layers or 0)
            ]
        )
    else:
        vec = project_boundary(
            directions.vectors[pi], *[directions.vectors[j] for j in ci], method=method
        )
    cond_names = [directions.names[j] for j in ci]
    return Directions(
        vec[None],
        directions.space,
        names=[name or f"{directions.names[pi]}|{','.join(cond_names)}"],
        layers=[directions.layers_of(pi)],
        method="conditional",
        metadata={
            "primal": directions.names[pi],
            "conditions": cond_names,
            "base": directions.method,
        },
        normalize=True,
    )


def cosine_matrix(directions: Directions | np.ndarray) -> np.ndarray:
    """[K, K] cosines between directions (per-layer vectors: the mean per-layer cosine)."""
    vec = directions.vectors if isinstance(directions, Directions) else np.asarray(directions)
    vec = np.asarray(vec, dtype=np.float64)
    if vec.ndim == 3:
        return np.einsum("ild,jld->ij", vec, vec) / vec.shape[1]
    if vec.ndim != 2:
        raise ShapeError(f"directions must be [K, d] or [K, L, d], got {vec.shape}")
    unit = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    return unit @ unit.T


def score_change_matrix(before: Any, after: Any, kind: str = "correlation") -> np.ndarray:
    """[m, m] correlation (or covariance) across samples of the score changes ``after - before``.

    ``before`` / ``after``: [N, m] scores of N codes before and after an edit. A semantic whose
    change is constant over the samples has undefined correlation: its row / column are NaN
    except for the diagonal 1. (InterFaceGAN reports the covariance of scores along edits.)
    """
    b = np.asarray(before, dtype=np.float64)
    a = np.asarray(after, dtype=np.float64)
    if b.shape != a.shape or b.ndim != 2:
        raise ShapeError(f"before/after must both be [N, m], got {b.shape} and {a.shape}")
    if b.shape[0] < 2:
        raise ShapeError("need at least 2 samples")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ShapeError("scores contain NaN or Inf")
    delta = a - b
    delta = delta - delta.mean(axis=0)
    cov = delta.T @ delta / (delta.shape[0] - 1)
    if kind == "covariance":
        return cov
    if kind != "correlation":
        raise ShapeError(f"kind must be 'correlation' or 'covariance', got {kind!r}")
    std = np.sqrt(np.diag(cov))
    scale = np.max(np.abs(delta)) if delta.size else 0.0
    ok = std > 1e-12 * max(scale, 1.0)
    corr = np.full_like(cov, np.nan)
    corr[np.ix_(ok, ok)] = cov[np.ix_(ok, ok)] / np.outer(std[ok], std[ok])
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, -1.0, 1.0)

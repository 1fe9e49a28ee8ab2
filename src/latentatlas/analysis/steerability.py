"""How far a walk steers a generator: achieved-vs-target curves and a scalar steerability score.

For each amount ``a`` of a grid, N codes are walked and the attribute the transform changes is
measured with a scorer that does not need the walk (object moments or the ground-truth predictor
heads for position / scale / orientation, a pixel statistic for colour):

- ``target``: the change of the measure between ``edit(G(x), a)`` and ``G(x)`` (what the exact
  transformation would give);
- ``achieved``: the change between ``G(walk(x, a))`` and ``G(x)``.

:func:`steerability_score` summarises the curve:

- ``range_fraction``: the widest interval of grid amounts containing 0 over which
  ``|achieved - target| <= tol max(|target|, 0.1 max|target|)`` at every grid point (the floor
  keeps amounts near 0, where the target is ~0, judgeable), as a fraction of the grid's span
  (1: the walk follows the target everywhere; 0: nowhere but at a = 0);
- ``reach_fraction``: the part of the target's range ``[min target, max target]`` that the
  achieved values cover (in [0, 1]).

Side effects: the change of every other column of a scorer, as a least-squares slope per unit of
``a`` in standard deviations of that column over the unedited samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from latentatlas.directions.ganalyze import sample_codes
from latentatlas.directions.steerability import get_transform, masked_l2
from latentatlas.utils.errors import ShapeError


def _score(scorer: Any, images: torch.Tensor, batch_size: int) -> np.ndarray:
    out = scorer.score_numpy(images, batch_size=batch_size) if hasattr(scorer, "score_numpy") \
        else np.asarray(scorer(images))
    return np.asarray(out, dtype=np.float64)


def _synth(generator: Any, codes: torch.Tensor, space: str, c: Any, batch_size: int):
    return generator.synthesize_batched(codes, space=space, batch_size=batch_size, c=c)


def steerability_score(alphas: Any, target: Any, achieved: Any, tol: float = 0.25) -> dict:
    """``range_fraction``, ``range`` ([lo, hi]) and ``reach_fraction`` (module docstring)."""
    a = np.asarray(alphas, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    h = np.asarray(achieved, dtype=np.float64)
    if a.ndim != 1 or a.shape != t.shape or a.shape != h.shape or a.size < 2:
        raise ShapeError("alphas, target and achieved must be 1-D of one length >= 2")
    order = np.argsort(a)
    a, t, h = a[order], t[order], h[order]
    floor = 0.1 * float(np.abs(t).max())  # near a = 0 the target is ~0: a small floor
    ok = np.abs(h - t) <= tol * np.maximum(np.abs(t), floor) + 1e-12
    i0 = int(np.argmin(np.abs(a)))
    lo = hi = i0
    if ok[i0]:
        while lo > 0 and ok[lo - 1]:
            lo -= 1
        while hi < a.size - 1 and ok[hi + 1]:
            hi += 1
    span = float(a[-1] - a[0])
    t_lo, t_hi = float(t.min()), float(t.max())
    covered = min(float(h.max()), t_hi) - max(float(h.min()), t_lo)
    reach = 0.0 if t_hi - t_lo <= 0 else float(np.clip(covered / (t_hi - t_lo), 0.0, 1.0))
    return {"range_fraction": float(a[hi] - a[lo]) / span if ok[i0] else 0.0,
            "range": [float(a[lo]), float(a[hi])], "reach_fraction": reach, "tolerance": tol}


def _wrap(delta: np.ndarray, period: float | None) -> np.ndarray:
    if period is None:
        return delta
    return (delta + period / 2) % period - period / 2


def steerability_curve(
    generator: Any,
    walk: Any,
    transform: str,
    alphas: Any,
    measure: Any,
    column: Any = 0,
    *,
    side_scorer: Any = None,
    space: str | None = None,
    n: int = 64,
    seed: int = 0,
    batch_size: int = 32,
    tol: float = 0.25,
    period: float | None = None,
) -> dict[str, Any]:
    """The achieved-vs-target curve of ``walk`` for ``transform`` over ``alphas`` (see the
    module docstring). ``measure``: a scorer; ``column``: its column (name or index) that the
    transform moves. ``side_scorer``: a scorer whose columns are reported as side effects.
    ``period``: the measure is an angle of this period (180 for an axis orientation in
    degrees): each sample's change is wrapped to [-period/2, period/2) before averaging.
    Colour amounts are applied to every channel (a brightness change)."""
    fn, _, _ = get_transform(transform)
    space = space or getattr(walk, "space", "z")
    names = list(measure.names)
    col = names.index(column) if isinstance(column, str) else int(column)
    grid = np.asarray(alphas, dtype=np.float32).reshape(-1)
    g = torch.Generator().manual_seed(int(seed))
    x, c = sample_codes(generator, n, space, g)
    base = _synth(generator, x, space, c, batch_size)
    m0 = _score(measure, base, batch_size)[:, col]
    s0 = None if side_scorer is None else _score(side_scorer, base, batch_size)
    rows = []
    side = []
    for a in grid:
        with torch.no_grad():
            target, mask = fn(base, float(a))
            moved = _synth(generator, walk.walk(x, float(a)), space, c, batch_size)
            l2 = float(masked_l2(moved, target, mask))
        mt = _wrap(_score(measure, target, batch_size)[:, col] - m0, period)
        mh = _wrap(_score(measure, moved, batch_size)[:, col] - m0, period)
        rows.append({"alpha": float(a), "target": float(mt.mean()), "achieved": float(mh.mean()),
                     "achieved_sd": float(mh.std()), "target_sd": float(mt.std()),
                     "masked_l2": l2})
        if s0 is not None:
            side.append((_score(side_scorer, moved, batch_size) - s0).mean(0))
    result: dict[str, Any] = {
        "transform": transform, "measure": names[col], "n": n, "seed": seed, "space": space,
        "curve": rows,
        "score": steerability_score(grid, [r["target"] for r in rows],
                                    [r["achieved"] for r in rows], tol),
    }
    if s0 is not None:
        result["side_effects"] = side_effect_table(grid, np.stack(side), s0,
                                                   list(side_scorer.names))
    return result


def side_effect_table(alphas: Any, mean_change: np.ndarray, base_scores: np.ndarray,
                      names: list[str]) -> list[dict[str, Any]]:
    """Per column: the least-squares slope of the mean change per unit alpha, raw and in sd of
    the column over the unedited samples, sorted by |slope in sd|."""
    a = np.asarray(alphas, dtype=np.float64)
    d = np.asarray(mean_change, dtype=np.float64)
    denom = float(((a - a.mean()) ** 2).sum()) or 1.0
    slopes = ((a - a.mean())[:, None] * (d - d.mean(0))).sum(0) / denom
    sd = np.asarray(base_scores, dtype=np.float64).std(0)
    rows = [{"column": nm, "slope": float(s), "slope_sd": float(s / sd_i) if sd_i > 0 else 0.0}
            for nm, s, sd_i in zip(names, slopes, sd, strict=True)]
    return sorted(rows, key=lambda r: -abs(r["slope_sd"]))


__all__ = ["side_effect_table", "steerability_curve", "steerability_score"]

"""GANalyze's tests: ``bigger_step`` (T(z, k a) for k = -K..K) and ``iterative`` (T applied |k|
times with +-a), with the assessor's score curve and a side-effect table over every scorer
column (the least-squares change per unit alpha, raw and in sd of the column)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from latentatlas.analysis.steerability import side_effect_table
from latentatlas.directions.ganalyze import sample_codes
from latentatlas.utils.errors import OptionError

MODES = ("bigger_step", "iterative")


def _moved(walk: Any, x: torch.Tensor, k: int, alpha: float, mode: str, c: Any) -> torch.Tensor:
    kw = {"c": c} if getattr(walk, "n_classes", 0) else {}
    if mode == "bigger_step" or k == 0:
        return walk.walk(x, k * alpha, **kw)
    out = x
    for _ in range(abs(k)):
        out = walk.walk(out, float(np.sign(k)) * alpha, **kw)
    return out


def ganalyze_curve(
    generator: Any,
    walk: Any,
    scorer: Any,
    assessor: Any,
    *,
    alpha: float = 0.1,
    k_max: int = 3,
    mode: str = "bigger_step",
    n: int = 64,
    seed: int = 0,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Scores of every column at k = -k_max..k_max (amount k alpha) for ``mode`` (see the
    module docstring); ``slope``: the assessor's mean change per unit amount (1 is what the
    walk was trained for)."""
    if mode not in MODES:
        raise OptionError(f"mode must be one of {MODES}, got {mode!r}")
    names = list(scorer.names)
    col = names.index(assessor) if isinstance(assessor, str) else int(assessor)
    space = getattr(walk, "space", "z")
    g = torch.Generator().manual_seed(int(seed))
    x, c = sample_codes(generator, n, space, g)
    ks = list(range(-k_max, k_max + 1))
    means = []
    base = None
    with torch.no_grad():
        for k in ks:
            codes = _moved(walk, x, k, alpha, mode, c)
            imgs = generator.synthesize_batched(codes, space=space, batch_size=batch_size, c=c)
            s = np.asarray(scorer.score_numpy(imgs, batch_size=batch_size), dtype=np.float64)
            if k == 0:
                base = s
            means.append(s.mean(0))
    means_a = np.stack(means)
    amounts = np.asarray(ks, dtype=np.float64) * alpha
    change = means_a - means_a[ks.index(0)]
    table = side_effect_table(amounts, change, base, names)
    slope = next(r["slope"] for r in table if r["column"] == names[col])
    return {
        "mode": mode, "alpha": alpha, "k": ks, "amounts": amounts.tolist(),
        "assessor": names[col], "assessor_curve": means_a[:, col].tolist(),
        "scores": {nm: means_a[:, i].tolist() for i, nm in enumerate(names)},
        "slope": slope, "side_effects": table, "n": n, "seed": seed,
    }


__all__ = ["MODES", "ganalyze_curve"]

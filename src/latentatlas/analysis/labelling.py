"""Automatic labelling of directions and walks with any scorer.

For each direction (or walk) N codes are moved by ``+alpha`` and ``-alpha``, both images are
scored and the per-sample change ``delta = (s(+alpha) - s(-alpha)) / 2`` is standardised by each
column's standard deviation over the unedited samples. Per direction and column:

- ``effect``: the standardised mean change ``mean(delta) / sd`` (signed, in sd of the column);
- ``change``: what the purity shares out: ``|effect|`` (default, ``change="mean"``: jitter that
  goes both ways cancels) or the standardised mean absolute change ``mean(|delta|) / sd``
  (``change="abs"``: also catches moves that go both ways, e.g. a wrapping orientation).

Columns can be grouped into factors (the one-vs-rest probability columns of an unordered factor):
a factor's change is the largest change of its columns. A direction's **target** is the factor it
changes most; its **purity** is the target's share of the total change over all factors
(1 = it moves nothing else). ``alpha`` is in standard deviations of the sampled codes along each
direction (``alpha_units="sd"``, comparable across methods and spaces) or in latent units.

On generators with W+ the directions that move every layer are also measured on each layer range
of ``layer_ranges`` (default coarse / middle / fine, like SeFa's 0-1, 2-5, 6-13 presets), so that
"direction 7" becomes "direction 7: Smiling (+0.41 sd, purity 0.62, layers 2-5)".

:func:`latentatlas.scoring.factor_scorer` turns a predictor's heads into per-factor columns to
label against: the expected class index for ordered multiclass factors, one-vs-rest class
probabilities (grouped) for unordered ones, probabilities for binary heads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from latentatlas.directions import Directions, is_walk, parse_layers
from latentatlas.scoring.base import ScoringError
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.rng import check_rng

IMAGE_FITS = ("error", "crop", "resize")


def scorer_resolution(scorer: Any) -> int | None:
    """The image size a scorer expects (its predictor's ``resolution``), or None (any)."""
    model = getattr(scorer, "model", None)
    res = getattr(model, "resolution", None)
    return int(res) if res is not None else None


def fit_images(images: torch.Tensor, size: int | None, mode: str = "error") -> torch.Tensor:
    """Images fitted to a scorer's ``size``: "error" (refuse a mismatch), "crop" (centre crop,
    e.g. 32 -> 28 px MNIST padding) or "resize" (antialiased bilinear)."""
    if mode not in IMAGE_FITS:
        raise ShapeError(f"image_fit must be one of {IMAGE_FITS}, got {mode!r}")
    if size is None or images.shape[-1] == size:
        return images
    if mode == "error":
        raise ShapeError(f"the scorer expects {size} px images, the generator makes "
                         f"{images.shape[-1]} px: pass image_fit='crop' or 'resize'")
    if mode == "crop":
        margin = images.shape[-1] - size
        if margin < 0:
            raise ShapeError(f"cannot crop {images.shape[-1]} px images to {size} px")
        m = margin // 2
        return images[..., m:m + size, m:m + size]
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=True)


# --------------------------------------------------------------------------- result
@dataclasses.dataclass
class LabelResult:
    """What :func:`label_directions` measured (see the module docstring).

    ``candidates`` is one row per (direction, layer range) measured: ``direction``, ``layers``
    (None: the direction's own / all layers), ``target``, ``effect``, ``purity``,
    ``factor_change`` {factor: change}, ``effects`` {column: effect}. ``best[k]`` is the row used
    to label direction k (its own layers unless a layer range is purer with at least half the
    target change).
    """

    names: list[str]
    columns: list[str]
    groups: dict[str, list[str]]
    candidates: list[dict[str, Any]]
    best: list[dict[str, Any]]
    n: int
    alpha: float
    alpha_units: str
    images: int
    change: str = "mean"

    def label(self, k: int | str) -> str:
        i = self.names.index(k) if isinstance(k, str) else int(k)
        row = self.best[i]
        layers = row["layers"]
        where = "" if layers is None else f", layers {_layers_text(layers)}"
        return (f"{self.names[i]}: {row['target']} ({row['effect']:+.2f} sd, purity "
                f"{row['purity']:.2f}{where})")

    def labels(self) -> list[str]:
        return [self.label(i) for i in range(len(self.names))]

    def factor_purity(self, factor: str) -> np.ndarray:
        """Each candidate's share of its total change that goes to ``factor``."""
        return np.array([r["factor_share"][factor] for r in self.candidates])

    def to_json(self) -> dict[str, Any]:
        return {"names": self.names, "columns": self.columns, "groups": self.groups,
                "n": self.n, "alpha": self.alpha, "alpha_units": self.alpha_units,
                "change": self.change, "images": self.images, "labels": self.labels(),
                "best": self.best, "candidates": self.candidates}


def _layers_text(layers: Sequence[int]) -> str:
    layers = list(layers)
    if layers == list(range(layers[0], layers[-1] + 1)) and len(layers) > 1:
        return f"{layers[0]}-{layers[-1]}"
    return ",".join(map(str, layers))


def default_layer_ranges(num_ws: int) -> dict[str, tuple[int, ...]]:
    """Coarse / middle / fine W+ ranges: [0, 2), [2, num_ws // 2 + 1), the rest."""
    if num_ws < 4:
        return {}
    mid = max(3, num_ws // 2 + 1)
    ranges = {"coarse": tuple(range(0, 2)), "middle": tuple(range(2, mid)),
              "fine": tuple(range(mid, num_ws))}
    return {k: v for k, v in ranges.items() if v}


# --------------------------------------------------------------------------- labelling
def _walks(directions: Any) -> list[tuple[str, Any]]:
    if isinstance(directions, Directions):
        return [(n, directions[n]) for n in directions.names]
    if isinstance(directions, Mapping):
        return [(str(k), v) for k, v in directions.items()]
    if is_walk(directions):
        return [(str(getattr(directions, "name", "walk")), directions)]
    if isinstance(directions, Sequence):
        return [(str(getattr(w, "name", f"walk_{i}")), w) for i, w in enumerate(directions)]
    raise ShapeError(f"cannot label a {type(directions).__name__}: give Directions, a walk, or "
                     "a list / dict of walks")


class _Measure:
    """Synthesise + score batches, counting images."""

    def __init__(self, generator: Any, scorer: Any, space: str, batch_size: int,
                 image_fit: str, bar: Any) -> None:
        self.generator, self.scorer, self.space = generator, scorer, space
        self.batch_size, self.image_fit, self.bar = batch_size, image_fit, bar
        self.size = scorer_resolution(scorer)
        self.images = 0
        self.names = list(scorer.names)

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, codes.shape[0], self.batch_size):
            chunk = torch.as_tensor(np.asarray(codes[start:start + self.batch_size]),
                                    dtype=torch.float32)
            with torch.no_grad():
                img = self.generator.synthesize(chunk.to(self.generator.device), self.space)
                img = fit_images(img.float(), self.size, self.image_fit)
                s = self.scorer(img)
            s = np.asarray(s.detach().cpu().numpy() if isinstance(s, torch.Tensor) else s,
                           dtype=np.float64)
            if s.ndim != 2 or s.shape != (chunk.shape[0], len(self.names)):
                raise ScoringError(f"the scorer returned scores of shape {list(s.shape)}; "
                                   f"expected [{chunk.shape[0]}, {len(self.names)}]")
            if not np.isfinite(s).all():
                raise ScoringError("the scorer returned NaN / Inf scores; labelling needs "
                                   "finite scores")
            out.append(s)
            self.images += chunk.shape[0]
            if self.bar is not None:
                self.bar.update(chunk.shape[0])
        return np.concatenate(out)


def sample_codes(generator: Any, n: int, seed: int, truncation_psi: float) -> tuple[
        np.ndarray, str]:
    """(codes, space): W+ codes (truncated w broadcast) for generators with W, else z."""
    rng = check_rng(seed)
    if "wp" in getattr(generator, "spaces", ("z",)):
        wp = generator.sample(n, "wp", rng=rng, truncation_psi=truncation_psi)
        return wp.detach().float().cpu().numpy(), "wp"
    z = generator.sample(n, "z", rng=rng)
    return z.detach().float().cpu().numpy(), "z"


def code_sd(codes: np.ndarray, vector: np.ndarray) -> float:
    """The standard deviation of ``codes`` (z / w [N, d], or W+ [N, L, d]: the first layer) along
    a unit direction ``vector`` (a per-layer [L, d] one: its normalised mean); 1 when 0."""
    v = np.asarray(vector).astype(np.float64)
    if v.ndim == 2:
        v = v.mean(axis=0)
        v /= max(np.linalg.norm(v), 1e-12)
    flat = codes[:, 0] if codes.ndim == 3 else codes
    sd = float((flat.astype(np.float64) @ v).std())
    return sd if sd > 0 else 1.0


def _scale(walk: Any, codes: np.ndarray, alpha: float, units: str) -> float:
    if units == "latent" or not isinstance(walk, Directions):
        return float(alpha)
    return float(alpha) * code_sd(codes, walk.vectors[0])


def _row(direction: str, layers: Any, delta: np.ndarray, sd: np.ndarray, columns: list[str],
         signed: bool,
         groups: dict[str, list[str]]) -> dict[str, Any]:
    eff = delta.mean(axis=0) / sd
    chg = np.abs(eff) if signed else np.abs(delta).mean(axis=0) / sd
    col = {c: i for i, c in enumerate(columns)}
    fchange, fbest = {}, {}
    for f, cols in groups.items():
        idx = [col[c] for c in cols]
        j = idx[int(np.argmax(chg[idx]))]
        fchange[f], fbest[f] = float(chg[j]), j
    total = sum(fchange.values())
    share = {f: (v / total if total > 0 else 0.0) for f, v in fchange.items()}
    target = max(fchange, key=fchange.get)
    return {"direction": direction, "layers": None if layers is None else list(layers),
            "target": target, "target_column": columns[fbest[target]],
            "effect": float(eff[fbest[target]]), "change": fchange[target],
            "purity": share[target], "factor_share": share, "factor_change": fchange,
            "effects": {c: float(eff[i]) for i, c in enumerate(columns)}}


def label_directions(
    generator: Any,
    directions: Any,
    scorer: Any,
    *,
    n: int = 128,
    alpha: float = 2.0,
    alpha_units: str = "sd",
    change: str = "mean",
    groups: Mapping[str, Sequence[str]] | None = None,
    layer_ranges: Mapping[str, Any] | str | None = "auto",
    truncation_psi: float = 0.7,
    seed: int = 0,
    batch_size: int = 64,
    image_fit: str = "error",
    codes: Any = None,
    score_sd: Any = None,
    progress: bool = False,
) -> LabelResult:
    """Label every direction / walk of ``directions`` with ``scorer`` (module docstring).

    Args:
        generator: a Generator.
        directions: Directions, one walk, or a list / dict of walks (of the generator's codes:
            z for Z-only generators, w / W+ otherwise; w walks move W+ codes on every layer).
        scorer: images -> [N, m] scores with ``names`` (e.g. the output of
            :func:`latentatlas.scoring.factor_scorer`).
        n: samples moved per direction.
        alpha: the move, in sd of the codes along the direction (``alpha_units="sd"``) or in
            latent units (``"latent"``; walks always take latent units).
        change: what purity shares: "mean" (``|mean(delta)| / sd``, the standardised mean
            change: sample-to-sample jitter cancels) or "abs" (``mean(|delta|) / sd``: also
            counts moves that go both ways).
        groups: {factor: [columns]} (default: each column its own factor).
        layer_ranges: {name: W+ selection}, "auto" (:func:`default_layer_ranges` on W+
            generators) or None: extra candidates for directions that move every layer.
        truncation_psi: truncation of the sampled w (Z-only generators: none).
        seed: sampling seed.
        batch_size: synthesis / scoring batch.
        image_fit: what to do when the scorer's resolution differs (:func:`fit_images`).
        codes: the unedited codes to use instead of sampling ([N, L, d] W+ or [N, z_dim] z).
        score_sd: per-column standard deviations to standardise with (e.g. over a whole bank:
            steadier than the ``n`` unedited samples for rare attributes); default: those.
        progress: a tqdm bar over images.
    """
    if n < 2 and codes is None:
        raise ShapeError(f"n must be >= 2, got {n}")
    if not np.isfinite(alpha) or alpha <= 0:
        raise ShapeError(f"alpha must be a positive number, got {alpha}")
    if alpha_units not in ("sd", "latent"):
        raise ShapeError(f"alpha_units must be 'sd' or 'latent', got {alpha_units!r}")
    if change not in ("mean", "abs"):
        raise ShapeError(f"change must be 'mean' or 'abs', got {change!r}")
    signed = change == "mean"
    walks = _walks(directions)
    if not walks:
        raise ShapeError("no directions to label")
    if codes is None:
        codes, space = sample_codes(generator, n, seed, truncation_psi)
    else:
        codes = np.asarray(codes, dtype=np.float32)
        space = "wp" if codes.ndim == 3 else "z"
    n = codes.shape[0]
    columns = list(scorer.names)
    groups = {str(f): list(c) for f, c in (groups or {c: [c] for c in columns}).items()}
    unknown = [c for cols in groups.values() for c in cols if c not in columns]
    if unknown:
        raise ShapeError(f"groups name unknown scorer columns {unknown}; columns: {columns}")
    num_ws = codes.shape[1] if space == "wp" else 0
    if isinstance(layer_ranges, str):
        if layer_ranges != "auto":
            raise ShapeError(f"layer_ranges must be 'auto', a mapping or None, got "
                             f"{layer_ranges!r}")
        ranges = default_layer_ranges(num_ws) if space == "wp" else {}
    else:
        ranges = {k: parse_layers(v, num_ws or None) for k, v in (layer_ranges or {}).items()}
        if ranges and space != "wp":
            raise ShapeError("layer ranges need a generator with W+ codes")
    for name, walk in walks:
        wspace = getattr(walk, "space", None)
        if (space == "z") != (wspace == "z"):
            raise ShapeError(f"direction {name!r} lives in space {wspace!r}, the generator's "
                             f"codes in {'z' if space == 'z' else 'w / W+'}")
    total = n * (1 + 2 * sum(1 + (len(ranges) if _all_layers(w) else 0) for _, w in walks))
    bar = tqdm(total=total, desc="labelling", unit="img", disable=not progress)
    measure = _Measure(generator, scorer, space, int(batch_size), image_fit, bar)
    try:
        before = measure(codes)
        sd = before.std(axis=0) if score_sd is None else np.asarray(score_sd, dtype=np.float64)
        if sd.shape != (len(columns),) or not np.isfinite(sd).all():
            raise ShapeError(f"score_sd must be {len(columns)} finite numbers, got shape "
                             f"{sd.shape}")
        sd = np.where(sd > 1e-8, sd, np.inf)  # a constant column cannot be moved measurably
        candidates, best = [], []
        for name, walk in walks:
            a = _scale(walk, codes, alpha, alpha_units)
            options: list[tuple[Any, Any]] = [(None, None)]
            if _all_layers(walk):
                options += [(sel, sel) for sel in ranges.values()]
            rows = []
            for layers, sel in options:
                plus = measure(np.asarray(walk.walk(codes, a, sel)))
                minus = measure(np.asarray(walk.walk(codes, -a, sel)))
                own = layers if layers is not None else _own_layers(walk)
                rows.append(_row(name, own, (plus - minus) / 2.0, sd, columns, signed, groups))
            candidates += rows
            best.append(_choose(rows))
    finally:
        bar.close()
    return LabelResult(names=[w[0] for w in walks], columns=columns, groups=groups,
                       candidates=candidates, best=best, n=n, alpha=float(alpha),
                       alpha_units=alpha_units, images=measure.images, change=change)


def _all_layers(walk: Any) -> bool:
    return isinstance(walk, Directions) and walk.layers_of(0) is None and not walk.is_layerwise


def _own_layers(walk: Any) -> Any:
    if isinstance(walk, Directions):
        sel = walk.layers_of(0)
        return None if sel is None else list(sel)
    return None


def _choose(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The direction's own row unless a layer range is purer with >= half its target change
    (and at least 0.2 sd)."""
    base = rows[0]
    best = base
    for r in rows[1:]:
        if r["purity"] > best["purity"] and r["change"] >= max(0.5 * base["change"], 0.2):
            best = r
    return best


__all__ = ["IMAGE_FITS", "LabelResult", "code_sd", "default_layer_ranges", "fit_images",
           "label_directions", "sample_codes", "scorer_resolution"]

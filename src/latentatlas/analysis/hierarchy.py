"""HiGAN's layer-wise analysis: re-scoring, the layers x semantics relevance matrix, rankings, and
automatic layer selection.

Re-scoring (HiGAN): sample N codes c_i, move them by ``lam`` along a direction n (on all layers,
and on each W+ layer alone) and score the images again. For semantic s,

    Delta_s = mean_i max(F_s(G(c_i + lam n)) - F_s(G(c_i)), 0)

(the positive-clipped mean change). Scores are kept like HiGAN's: [N, 2 + L] per direction and
semantic (original, all layers, each layer alone).

Automatic layer selection (not in HiGAN, whose users pick layers by hand, higan issue #5). For a
direction with target semantic t, let E(a, b) be Delta_t when only layers a..b (inclusive) are
moved, E_all the effect of moving every layer, and S(a, b) the side effect: the mean over the
other semantics j != t of mean_i |F_j(edited) - F_j(original)|. The selection is the contiguous
range with

1. ``E(a, b) >= keep_fraction * E_all`` (default keep_fraction 0.8),
2. the fewest layers among those,
3. the smallest S(a, b) among those, then the largest E(a, b).

:func:`select_layers` measures E and S with the generator (ranges are tried by increasing
length, so it stops at the first length that qualifies); :func:`select_layers_from_relevance`
uses the per-layer effects of :func:`rescore` and assumes they add up (no extra synthesis).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from latentatlas.directions.base import Directions, Key
from latentatlas.directions.walks import as_walk, is_walk
from latentatlas.editing.edits import move, truncation_strengths
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.rng import check_rng

ScorerFn = Callable[[torch.Tensor], Any]


def _score(scorer_fn: ScorerFn, images: torch.Tensor, m: int) -> np.ndarray:
    out = scorer_fn(images)
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().numpy()
    arr = np.asarray(out, dtype=np.float64)
    if arr.ndim == 1 and m == 1:
        arr = arr[:, None]
    if arr.shape != (images.shape[0], m):
        raise ShapeError(
            f"scorer_fn returned shape {arr.shape}; expected [{images.shape[0]}, {m}] "
            f"(one column per attribute name)"
        )
    if not np.isfinite(arr).all():
        raise ShapeError("scorer_fn returned NaN or Inf scores")
    return arr


def _sample_codes(
    generator: Any,
    n: int,
    space: str,
    rng: np.random.Generator | int | None,
    truncation_psi: float,
    truncation_cutoff: int | None,
    latents: Any,
) -> torch.Tensor:
    if latents is not None:
        codes = (
            latents if isinstance(latents, torch.Tensor) else torch.as_tensor(np.asarray(latents))
        )
        return generator.check_latent(codes.float(), space)
    if n < 1:
        raise ShapeError(f"n must be >= 1, got {n}")
    return generator.sample(
        n,
        space=space,
        rng=check_rng(rng),
        truncation_psi=truncation_psi,
        truncation_cutoff=truncation_cutoff if space == "wp" else None,
    ).float()


def _resolve_targets(
    direction_names: Sequence[str], attribute_names: Sequence[str], targets: Any
) -> list[int | None]:
    names = list(attribute_names)
    if targets is None:
        return [names.index(d) if d in names else None for d in direction_names]
    if isinstance(targets, dict):
        out: list[int | None] = []
        for d in direction_names:
            t = targets.get(d)
            out.append(None if t is None else (names.index(t) if isinstance(t, str) else int(t)))
        return out
    vals = list(targets)
    if len(vals) != len(direction_names):
        raise ShapeError(f"got {len(vals)} targets for {len(direction_names)} directions")
    return [None if t is None else (names.index(t) if isinstance(t, str) else int(t)) for t in vals]


def _named_walks(directions: Any) -> list[tuple[str, Any]]:
    """(name, walk) pairs from one walk, a {name: walk} mapping or a sequence of walks."""
    if isinstance(directions, Mapping):
        pairs = [(str(k), as_walk(v)) for k, v in directions.items()]
    elif is_walk(directions):
        pairs = [(str(getattr(directions, "name", None) or "walk_0"), as_walk(directions))]
    else:
        walks = [as_walk(w) for w in directions]
        pairs = [(str(getattr(w, "name", None) or f"walk_{i}"), w) for i, w in enumerate(walks)]
    if not pairs:
        raise ShapeError("no walks to re-score")
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names):
        raise ShapeError(f"walk names must be unique, got {names}; pass a {{name: walk}} dict")
    return pairs


@dataclass
class RescoreResult:
    """Output of :func:`rescore`.

    ``scores[k, i, c, j]``: score of attribute j for code i under direction k, column c = 0 the
    original image, 1 the all-layer edit, 2 + l the edit of layer l alone (L = 0 columns when
    layers were not analysed).
    """

    direction_names: list[str]
    attribute_names: list[str]
    targets: list[int | None]
    scores: np.ndarray
    lam: float
    space: str
    layers: list[int]
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def delta(self) -> np.ndarray:
        """[K, 1 + L, m] positive-clipped mean changes (all layers, then each layer)."""
        change = self.scores[:, :, 1:, :] - self.scores[:, :, :1, :]
        return np.maximum(change, 0.0).mean(axis=1)

    @property
    def delta_all(self) -> np.ndarray:
        """[K, m] Delta of every semantic when moving each direction on all layers."""
        return self.delta[:, 0]

    @property
    def delta_layers(self) -> np.ndarray:
        """[K, L, m] Delta of every semantic when moving each single layer."""
        return self.delta[:, 1:]

    def relevance_matrix(self) -> np.ndarray:
        """[L, K] layers x semantics: Delta of each direction's target when moving one layer
        (NaN for directions without a target attribute)."""
        dl = self.delta_layers
        out = np.full((dl.shape[1], dl.shape[0]), np.nan)
        for k, t in enumerate(self.targets):
            if t is not None:
                out[:, k] = dl[k, :, t]
        return out

    def semantic_ranking(self) -> list[tuple[str, float]]:
        """Directions ranked by the all-layer Delta of their target semantic (descending)."""
        pairs = [
            (name, float(self.delta_all[k, t]))
            for k, (name, t) in enumerate(zip(self.direction_names, self.targets, strict=True))
            if t is not None
        ]
        return sorted(pairs, key=lambda p: -p[1])

    def layer_ranking(self, key: Key) -> list[int]:
        """Layers ranked by their single-layer Delta on the direction's target (descending)."""
        k = self.direction_names.index(key) if isinstance(key, str) else int(key)
        t = self.targets[k]
        if t is None:
            raise ShapeError(f"direction {self.direction_names[k]!r} has no target attribute")
        order = np.argsort(-self.delta_layers[k, :, t], kind="stable")
        return [self.layers[i] for i in order]

    def to_json(self) -> dict[str, Any]:
        """Summary (no per-sample scores) for reports and run records."""
        rel = self.relevance_matrix()
        return {
            "directions": self.direction_names,
            "attributes": self.attribute_names,
            "targets": [None if t is None else self.attribute_names[t] for t in self.targets],
            "lam": self.lam,
            "space": self.space,
            "num_samples": int(self.scores.shape[1]),
            "layers": self.layers,
            "delta_all": self.delta_all.tolist(),
            "delta_layers": self.delta_layers.tolist(),
            "relevance_layers_x_semantics": np.where(np.isnan(rel), None, rel).tolist(),
            "semantic_ranking": self.semantic_ranking(),
            "layer_ranking": {
                n: self.layer_ranking(k)
                for k, n in enumerate(self.direction_names)
                if self.targets[k] is not None and self.layers
            },
            "config": self.config,
        }


def rescore(
    generator: Any,
    directions: Directions | Any,
    scorer_fn: ScorerFn,
    attribute_names: Sequence[str],
    n: int = 2000,
    lam: float = 2.0,
    space: str = "wp",
    layers: str | None = "each",
    rng: np.random.Generator | int | None = 0,
    batch_size: int = 64,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    latents: Any = None,
    targets: Any = None,
    progress: bool = True,
) -> RescoreResult:
    """HiGAN re-scoring of every direction (see the module docstring).

    ``scorer_fn(images [B, C, H, W] in [-1, 1]) -> [B, m]`` scores for ``attribute_names``.
    Codes: ``n`` samples of ``space`` (seeded, with truncation) or the given ``latents``.
    ``layers="each"`` (W+ only) also edits each layer alone; None only the all-layer edit.
    In W+ the edit on layer l is scaled by psi below the truncation cutoff (HiGAN's
    compensation). ``targets``: the attribute each direction should control (default: the
    attribute with the direction's name).

    ``directions`` may also be any walk (:class:`~latentatlas.directions.walks.Walk`), a
    ``{name: walk}`` dict or a list of walks (named by their ``name`` attribute): each code is
    then edited by ``walk.walk(codes, lam, layers)`` with every layer selected for the
    all-layer column (None for z / w codes) and ``[l]`` for layer l. The truncation
    compensation is a Directions feature: walks are called with ``lam`` as is
    (``config["walk_compensation"]`` is False).
    """
    m = len(attribute_names)
    if m == 0:
        raise ShapeError("attribute_names is empty")
    if layers not in ("each", None):
        raise ShapeError(f"layers must be 'each' or None, got {layers!r}")
    codes = _sample_codes(generator, n, space, rng, truncation_psi, truncation_cutoff, latents)
    num = codes.shape[0]
    per_layer = layers == "each" and space == "wp"
    num_layers = codes.shape[1] if space == "wp" else 0
    layer_ids = list(range(num_layers)) if per_layer else []
    strength = (
        truncation_strengths(num_layers, truncation_psi, truncation_cutoff)
        if space == "wp" and truncation_psi != 1.0
        else None
    )
    if isinstance(directions, Directions):
        direction_names = list(directions.names)

        def edit(batch: torch.Tensor, k: int, layer_sel: Any) -> Any:
            return move(batch, directions, lam, key=k, layers=layer_sel, layer_strength=strength)

    else:
        walks = _named_walks(directions)
        direction_names = [n for n, _ in walks]

        every_layer = list(range(num_layers)) if space == "wp" else None

        def edit(batch: torch.Tensor, k: int, layer_sel: Any) -> Any:
            with torch.no_grad():
                out = walks[k][1].walk(batch, lam, every_layer if layer_sel is None else layer_sel)
            return out if isinstance(out, torch.Tensor) else torch.as_tensor(np.asarray(out))

    targets_idx = _resolve_targets(direction_names, attribute_names, targets)
    k_dirs = len(direction_names)
    scores = np.zeros((k_dirs, num, 2 + len(layer_ids), m), dtype=np.float32)
    total = num * (1 + k_dirs * (1 + len(layer_ids)))
    bar = tqdm(total=total, desc="re-scoring", unit="img", disable=not progress)

    def run(batch: torch.Tensor) -> np.ndarray:
        images = generator.synthesize_batched(batch, space, batch_size=batch_size)
        bar.update(batch.shape[0])
        return _score(scorer_fn, images, m)

    try:
        for start in range(0, num, batch_size):
            batch = codes[start : start + batch_size]
            stop = start + batch.shape[0]
            scores[:, start:stop, 0] = run(batch)
            for k in range(k_dirs):
                scores[k, start:stop, 1] = run(edit(batch, k, None))
                for col, layer in enumerate(layer_ids):
                    scores[k, start:stop, 2 + col] = run(edit(batch, k, [layer]))
    finally:
        bar.close()
    config: dict[str, Any] = {
        "n": int(num),
        "lam": float(lam),
        "space": space,
        "layers": layers,
        "truncation_psi": truncation_psi,
        "truncation_cutoff": truncation_cutoff,
        "batch_size": batch_size,
    }
    if not isinstance(directions, Directions):
        config["walk_compensation"] = False
    return RescoreResult(
        direction_names=direction_names,
        attribute_names=list(attribute_names),
        targets=targets_idx,
        scores=scores,
        lam=float(lam),
        space=space,
        layers=layer_ids,
        config=config,
    )


@dataclass
class LayerSelection:
    """The selected contiguous layer range and how it was chosen (see the module docstring)."""

    layers: tuple[int, ...]
    target: str
    target_effect: float
    full_effect: float
    kept_fraction: float
    side_effect: float
    keep_fraction: float
    method: str
    candidates: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_candidate(cls, chosen: dict[str, Any], target: str, full_effect: float,
                       keep_fraction: float, method: str,
                       candidates: list[dict[str, Any]]) -> LayerSelection:
        """The selection of the chosen candidate range (start, stop, target / side effect)."""
        return cls(
            layers=tuple(range(chosen["start"], chosen["stop"])),
            target=target,
            target_effect=chosen["target_effect"],
            full_effect=full_effect,
            kept_fraction=(chosen["target_effect"] / full_effect if full_effect > 0
                           else float("nan")),
            side_effect=chosen["side_effect"],
            keep_fraction=keep_fraction,
            method=method,
            candidates=candidates,
        )

    @property
    def start(self) -> int:
        return self.layers[0]

    @property
    def stop(self) -> int:
        """Exclusive end of the range."""
        return self.layers[-1] + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "layers": list(self.layers),
            "target": self.target,
            "target_effect": self.target_effect,
            "full_effect": self.full_effect,
            "kept_fraction": self.kept_fraction,
            "side_effect": self.side_effect,
            "keep_fraction": self.keep_fraction,
            "method": self.method,
            "candidates": self.candidates,
        }


def _choose(candidates: list[dict[str, Any]], threshold: float) -> dict[str, Any] | None:
    ok = [c for c in candidates if c["target_effect"] >= threshold]
    if not ok:
        return None
    shortest = min(c["stop"] - c["start"] for c in ok)
    ok = [c for c in ok if c["stop"] - c["start"] == shortest]
    return min(ok, key=lambda c: (c["side_effect"], -c["target_effect"]))


def _check_fraction(keep_fraction: float) -> None:
    if not 0 < keep_fraction <= 1:
        raise ShapeError(f"keep_fraction must be in (0, 1], got {keep_fraction}")


def select_layers(
    generator: Any,
    directions: Directions,
    scorer_fn: ScorerFn,
    attribute_names: Sequence[str],
    key: Key = 0,
    target: str | int | None = None,
    n: int = 200,
    lam: float = 2.0,
    keep_fraction: float = 0.8,
    rng: np.random.Generator | int | None = 0,
    batch_size: int = 64,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    latents: Any = None,
    progress: bool = True,
) -> LayerSelection:
    """Smallest contiguous W+ layer range keeping ``keep_fraction`` of the full edit's effect on
    the target semantic with the least change of the other semantics, measured by synthesis."""
    _check_fraction(keep_fraction)
    names = list(attribute_names)
    m = len(names)
    k = directions.index(key)
    if target is None:
        if directions.names[k] not in names:
            raise ShapeError(
                f"direction {directions.names[k]!r} is not an attribute name; pass target="
            )
        target = directions.names[k]
    t = names.index(target) if isinstance(target, str) else int(target)
    if not 0 <= t < m:
        raise ShapeError(f"target index {t} out of range for {m} attributes")
    codes = _sample_codes(generator, n, "wp", rng, truncation_psi, truncation_cutoff, latents)
    num_layers = codes.shape[1]
    strength = (
        truncation_strengths(num_layers, truncation_psi, truncation_cutoff)
        if truncation_psi != 1.0
        else None
    )

    def scores_for(layer_sel: Sequence[int] | None) -> np.ndarray:
        edited = codes if layer_sel is None else move(
            codes, directions, lam, key=k, layers=layer_sel, layer_strength=strength)
        images = generator.synthesize_batched(edited, "wp", batch_size=batch_size)
        return np.concatenate([_score(scorer_fn, images[i:i + batch_size], m)
                               for i in range(0, images.shape[0], batch_size)])

    base = scores_for(None)

    def effects(edited: np.ndarray) -> tuple[float, float]:
        change = edited - base
        target_effect = float(np.maximum(change[:, t], 0.0).mean())
        others = [j for j in range(m) if j != t]
        side = float(np.abs(change[:, others]).mean()) if others else 0.0
        return target_effect, side

    full_effect, full_side = effects(scores_for(list(range(num_layers))))
    threshold = keep_fraction * full_effect
    candidates: list[dict[str, Any]] = []
    chosen = None
    bar = tqdm(total=num_layers * (num_layers + 1) // 2, desc="layer ranges", disable=not progress)
    try:
        for length in range(1, num_layers + 1):
            this_length = []
            for a in range(0, num_layers - length + 1):
                if length == num_layers:
                    te, se = full_effect, full_side
                else:
                    te, se = effects(scores_for(list(range(a, a + length))))
                bar.update(1)
                this_length.append(
                    {"start": a, "stop": a + length, "target_effect": te, "side_effect": se}
                )
            candidates.extend(this_length)
            if full_effect > 0:
                chosen = _choose(this_length, threshold)
            if chosen is not None:
                break
    finally:
        bar.close()
    if chosen is None:  # no positive effect at all: every layer, flagged by kept_fraction NaN
        chosen = {
            "start": 0,
            "stop": num_layers,
            "target_effect": full_effect,
            "side_effect": full_side,
        }
    return LayerSelection.from_candidate(chosen, names[t], full_effect, keep_fraction, "measured",
                                         candidates)


def select_layers_from_relevance(
    layer_effects: Any,
    target: int,
    keep_fraction: float = 0.8,
    full_effect: float | None = None,
    attribute_names: Sequence[str] | None = None,
) -> LayerSelection:
    """Layer selection from per-layer effects alone, assuming effects of layers add up.

    ``layer_effects``: [L, m] single-layer Deltas of every semantic for one direction (e.g.
    ``RescoreResult.delta_layers[k]``) or [L] for the target only. E(a, b) is the sum of the
    target's single-layer effects over a..b, S(a, b) the sum of the other semantics' effects;
    ``full_effect`` defaults to the sum over all layers.
    """
    _check_fraction(keep_fraction)
    eff = np.asarray(layer_effects, dtype=np.float64)
    if eff.ndim == 1:
        eff = eff[:, None]
        target = 0
    if eff.ndim != 2 or not np.isfinite(eff).all():
        raise ShapeError(f"layer_effects must be a finite [L, m] array, got {eff.shape}")
    num_layers, m = eff.shape
    if not 0 <= target < m:
        raise ShapeError(f"target {target} out of range for {m} semantics")
    others = [j for j in range(m) if j != target]
    cum_t = np.concatenate([[0.0], np.cumsum(eff[:, target])])
    cum_o = np.concatenate([[0.0], np.cumsum(eff[:, others].sum(axis=1))])
    total = float(cum_t[-1]) if full_effect is None else float(full_effect)
    candidates = [
        {
            "start": a,
            "stop": b,
            "target_effect": float(cum_t[b] - cum_t[a]),
            "side_effect": float(cum_o[b] - cum_o[a]),
        }
        for a in range(num_layers)
        for b in range(a + 1, num_layers + 1)
    ]
    chosen = _choose(candidates, keep_fraction * total) if total > 0 else None
    if chosen is None:
        chosen = {
            "start": 0,
            "stop": num_layers,
            "target_effect": float(cum_t[-1]),
            "side_effect": float(cum_o[-1]),
        }
    name = attribute_names[target] if attribute_names is not None else str(target)
    return LayerSelection.from_candidate(chosen, name, total, keep_fraction, "additive",
                                         candidates)

"""StyleSpace-style channel directions (Wu et al.): single style channels, ranked by specificity.

StyleGAN2's style parameters s = A_l w + b_l (the outputs of each layer's ``affine``) are more
disentangled than w. For every style channel c and every scorer column j we measure the effect
of moving that one channel by one standard deviation of its own values on the column, in
standard deviations of the column:

    E[c, j] = d mean(score_j) / d s_c * std(s_c) / std(score_j)

(the gradient through the generator and a differentiable scorer, averaged over ``n_samples``
samples). A channel's *specificity* is ``max_j |E[c, j]| / sum_j |E[c, j]|``; channels are ranked
by ``specificity * max_j |E[c, j]|``. For each scorer column the best channel is taken first
(one dedicated channel per column, in column order), then the remaining best channels up to
``n_components``.

A channel is returned as a W+ direction on the one layer whose w drives it: the channel's
affine row a_c / |a_c| (the w direction that moves s_c fastest), signed so that it raises its
target column. Other channels of that layer move too (by a_c' . a_c / |a_c|): the direction is
the latent-space handle on the channel, not an edit of s alone. Needs a StyleGAN2 generator
(``style_affines``) and a differentiable scorer (torch operations).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from latentatlas.directions.base import Directions, parse_layers
from latentatlas.directions.finder import DirectionFinder
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.rng import check_rng


class StyleSpace(DirectionFinder):
    """Style-channel directions ranked by how specifically they move one scorer column.

    Args:
        n_components: how many channels to return.
        n_samples: samples the gradients are averaged over.
        layers: W+ layers whose channels are candidates (None: all).
        truncation_psi: truncation of the sampled w.
        batch_size: samples per forward / backward pass.
        seed: sampling seed (``fit(rng=...)`` overrides it).
        prefix: direction names are ``<prefix>_<k>``.

    Fitted: ``directions_``, ``effects_`` [channels, columns] (E above), ``specificity_``,
    ``channels_`` (``(layer name, channel)`` of each direction), ``targets_`` (each direction's
    column), ``fit_seconds_``.
    """

    fit_requires = ("generator", "scorer")

    def __init__(self, n_components: int = 16, n_samples: int = 64, layers: Any = None,
                 truncation_psi: float = 0.7, batch_size: int = 32, seed: int = 0,
                 prefix: str = "stylespace") -> None:
        self.n_components = n_components
        self.n_samples = n_samples
        self.layers = layers
        self.truncation_psi = truncation_psi
        self.batch_size = batch_size
        self.seed = seed
        self.prefix = prefix

    def fit(self, bank: Any = None, scores: Any = None, *, generator: Any = None,
            scorer: Any = None, rng: Any = None) -> StyleSpace:
        self._check_fit_inputs(generator=generator, scorer=scorer)
        affines_fn = getattr(generator, "style_affines", None)
        if not callable(affines_fn):
            raise ShapeError(f"{type(generator).__name__} has no style affines: StyleSpace "
                             "channels need a StyleGAN2 generator")
        if int(self.n_samples) < 2 or int(self.batch_size) < 1:
            raise ShapeError("n_samples must be >= 2 and batch_size >= 1")
        t0 = time.perf_counter()
        sel = parse_layers(self.layers, int(generator.num_ws))
        affines = {n: a for n, a in affines_fn().items()
                   if sel is None or generator.ws_index(n) in sel}
        if not affines:
            raise ShapeError(f"no style layer is driven by W+ layers {self.layers!r}")
        names = list(scorer.names)
        m = len(names)
        rng_np = check_rng(self.seed if rng is None else rng)
        grads = {n: torch.zeros(m, a.out_features, dtype=torch.float64)
                 for n, a in affines.items()}
        styles: dict[str, list[torch.Tensor]] = {n: [] for n in affines}
        all_scores = []
        offsets: dict[str, torch.Tensor] = {}

        def hook(name: str):
            def add(module: Any, inputs: Any, output: torch.Tensor) -> torch.Tensor:
                styles[name].append(output.detach().double().cpu())
                return output + offsets[name].to(output.dtype)
            return add

        handles = [a.register_forward_hook(hook(n)) for n, a in affines.items()]
        n_total = int(self.n_samples)
        try:
            for start in range(0, n_total, int(self.batch_size)):
                b = min(int(self.batch_size), n_total - start)
                z = generator.sample_z(b, rng_np)
                with torch.no_grad():
                    wp = generator.z_to_latent(z, "wp", truncation_psi=self.truncation_psi)
                for n, a in affines.items():
                    offsets[n] = torch.zeros(1, a.out_features, requires_grad=True)
                out = scorer(generator.synthesize(wp, "wp"))
                all_scores.append(out.detach().double().cpu())
                for j in range(m):
                    g = torch.autograd.grad(out[:, j].sum(), list(offsets.values()),
                                            retain_graph=j < m - 1, allow_unused=True)
                    for n, gi in zip(offsets, g, strict=True):
                        if gi is not None:
                            grads[n][j] += gi.detach().double().reshape(-1)
        finally:
            for h in handles:
                h.remove()
        score_sd = torch.cat(all_scores).std(dim=0).numpy()
        if not np.isfinite(score_sd).all():
            raise ShapeError("the scorer returned NaN / Inf scores")
        score_sd = np.where(score_sd > 1e-8, score_sd, np.inf)
        rows, channels = [], []
        for n, a in affines.items():
            s_sd = torch.cat(styles[n]).std(dim=0).numpy()
            effect = (grads[n].numpy() / n_total) * s_sd[None, :] / score_sd[:, None]
            rows.append(effect.T)  # [channels, m]
            channels += [(n, c) for c in range(a.out_features)]
        effects = np.concatenate(rows)
        total = np.abs(effects).sum(axis=1)
        spec = np.where(total > 0, np.abs(effects).max(axis=1) / np.where(total > 0, total, 1),
                        0.0)
        rank_score = spec * np.abs(effects).max(axis=1)
        k = min(int(self.n_components), effects.shape[0])
        if k < 1:
            raise ShapeError(f"n_components must be >= 1, got {self.n_components}")
        chosen: list[int] = []
        targets: list[int] = []
        best_col = np.abs(effects).argmax(axis=1)
        for j in range(m):  # one dedicated channel per column first
            cand = np.where(best_col == j)[0]
            if cand.size and len(chosen) < k:
                c = int(cand[np.argmax(rank_score[cand])])
                chosen.append(c)
                targets.append(j)
        for c in np.argsort(-rank_score):
            if len(chosen) >= k:
                break
            if int(c) not in chosen:
                chosen.append(int(c))
                targets.append(int(best_col[c]))
        vectors, layers = [], []
        for c, j in zip(chosen, targets, strict=True):
            lname, ch = channels[c]
            aff = affines[lname]
            row = aff.weight.detach().double().cpu().numpy()[ch]
            sign = np.sign(effects[c, j]) or 1.0
            vectors.append(sign * row / np.linalg.norm(row))
            layers.append([generator.ws_index(lname)])
        self.effects_ = effects
        self.specificity_ = spec
        self.channels_ = [channels[c] for c in chosen]
        self.targets_ = [names[j] for j in targets]
        self.directions_ = Directions(
            np.stack(vectors), "wp",
            names=[f"{self.prefix}_{i}" for i in range(len(chosen))], layers=layers,
            method="stylespace",
            scores={"specificity": spec[chosen], "effect": [effects[c, j] for c, j in
                                                            zip(chosen, targets, strict=True)]},
            metadata={"channels": [f"{n}:{c}" for n, c in self.channels_],
                      "targets": self.targets_, "n_samples": n_total,
                      "truncation_psi": float(self.truncation_psi)},
            normalize=True)
        self.fit_seconds_ = time.perf_counter() - t0
        return self


__all__ = ["StyleSpace"]

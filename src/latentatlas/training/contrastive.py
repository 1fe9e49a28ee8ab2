"""GAN-Control's contrastive loss (Shoshan et al. 2021) as a GAN-trainer hook.

The generator's latent is split into groups (:class:`~latentatlas.models.grouped.
GroupedStyleGAN2Generator`); attribute k belongs to group k. Pairs of samples are built that share
exactly one group's sub-vector of z (:func:`shared_pairs`). For attribute k, with d the distance
of the two images' embeddings under a frozen attribute network M_k:

    pairs sharing group k:       max(d - tau_k^+, 0) / C_k^+     (they must agree on k)
    pairs sharing another group: max(tau_k^- - d, 0) / C_k^-     (they must differ on k)

summed over the pairs, C^+ and C^- being the numbers of pairs of each kind in the batch
(:func:`group_contrastive_loss`). The embeddings here are a shipped predictor's head outputs per
attribute (:class:`HeadEmbedding`): class probabilities at a temperature (a saturated softmax has
no gradient), a binary head's probability, a regression head's value in units of its sd.

Thresholds come from real data (:func:`thresholds_from_real`): tau^+ = the ``q_same`` (0.9)
quantile of the distances between real images with the same label of the attribute, tau^- = the
``q_other`` (0.1) quantile of the distances between real images with different labels. Both are
read from pairs whose labels are known to agree or differ, so a generator whose groups control
their attributes like the data's factors pays little on the pairs the data itself separates.
(A first rule took tau^- from independent real pairs; for a factor with few values those often
share the value, tau^- came out near 0, the "different" term did nothing, and the "same" term
alone rewarded ambiguous attributes: within 500 steps the shapes3d run blurred its hues.) The
reference's thresholds are hand-set per network; see ../shared/reference/WAVE2_FACTS.md
section 9.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from latentatlas.utils.checks import check_number
from latentatlas.utils.errors import OptionError, ShapeError

DISTANCES = ("l1", "l2", "cosine")


def pair_distance(a: torch.Tensor, b: torch.Tensor, distance: str = "l2") -> torch.Tensor:
    """Row-wise distance of two [N, D] embeddings: L1, L2 (not squared) or 1 - cosine."""
    if distance not in DISTANCES:
        raise OptionError(f"distance must be one of {DISTANCES}, got {distance!r}")
    if a.shape != b.shape or a.ndim != 2:
        raise ShapeError(f"embeddings must both be [N, D], got {list(a.shape)}, {list(b.shape)}")
    if distance == "l1":
        return (a - b).abs().sum(dim=1)
    if distance == "l2":
        # sqrt of a clamped sum: finite gradient where two embeddings coincide.
        return (a - b).square().sum(dim=1).clamp_min(1e-12).sqrt()
    return 1.0 - torch.nn.functional.cosine_similarity(a, b, dim=1, eps=1e-8)


def group_contrastive_loss(emb_a: torch.Tensor, emb_b: torch.Tensor, same: torch.Tensor,
                           tau_plus: float, tau_minus: float,
                           distance: str = "l2") -> torch.Tensor:
    """One attribute's loss over pairs (module docstring): same-group pairs pay
    max(d - tau+, 0) / C+, the others max(tau- - d, 0) / C-, C the counts of each kind (a kind
    absent from the batch contributes 0)."""
    d = pair_distance(emb_a, emb_b, distance)
    same = torch.as_tensor(same, dtype=torch.bool, device=d.device).reshape(-1)
    if same.shape[0] != d.shape[0]:
        raise ShapeError(f"{d.shape[0]} pairs but {same.shape[0]} same/different flags")
    n_same = int(same.sum())
    n_diff = int(same.numel() - n_same)
    loss = d.new_zeros(())
    if n_same:
        loss = loss + (d[same] - tau_plus).clamp_min(0).sum() / n_same
    if n_diff:
        loss = loss + (tau_minus - d[~same]).clamp_min(0).sum() / n_diff
    return loss


def shared_pairs(z_slices: dict[str, slice], n_pairs: int, generator: torch.Generator,
                 offset: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pair-sharing batch: z_a, z_b [n_pairs, z_dim] drawn independently except that pair i
    shares group ``(i + offset) % n_groups`` (its slice of z_b is a copy of z_a's). Returns
    (z_a, z_b, shared), ``shared[i]`` the index of the shared group in ``z_slices``' order."""
    check_number("n_pairs", n_pairs, 1, integer=True)
    names = list(z_slices)
    z_dim = max(s.stop for s in z_slices.values())
    z_a = torch.randn(n_pairs, z_dim, generator=generator)
    z_b = torch.randn(n_pairs, z_dim, generator=generator)
    shared = (torch.arange(n_pairs) + int(offset)) % len(names)
    for i, g in enumerate(shared.tolist()):
        sl = z_slices[names[g]]
        z_b[i, sl] = z_a[i, sl]
    return z_a, z_b, shared


class HeadEmbedding(nn.Module):
    """A frozen predictor's outputs per head as attribute embeddings (module docstring):
    multiclass -> softmax(logits / temperature) [N, K]; binary -> sigmoid(logit / temperature)
    [N, 1]; regression -> value / sd [N, 1]. The predictor is put in eval mode and frozen;
    gradients flow to the images only."""

    def __init__(self, predictor: Any, heads: Sequence[str], temperature: float = 4.0) -> None:
        super().__init__()
        check_number("temperature", temperature, 0.0, low_open=True)
        known = list(predictor.head_names)
        unknown = [h for h in heads if h not in known]
        if unknown:
            raise OptionError(f"the predictor has no head {unknown[0]!r}; heads: "
                              f"{', '.join(known)}")
        self.predictor = predictor.eval().requires_grad_(False)
        self.heads = list(heads)
        self.temperature = float(temperature)

    def train(self, mode: bool = True) -> HeadEmbedding:  # the predictor stays in eval mode
        return self

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        raw = self.predictor.split_outputs(self.predictor.logits(images, validate=False))
        out = {}
        for name in self.heads:
            kind = self.predictor.head(name)["kind"]
            x = raw[name]
            if kind == "multiclass":
                out[name] = torch.softmax(x / self.temperature, dim=1)
            elif kind == "binary":
                out[name] = torch.sigmoid(x / self.temperature).unsqueeze(1)
            else:
                sl = self.predictor.head_slices()[name]
                out[name] = (x / self.predictor.output_scale[sl][0]).unsqueeze(1)
        return out


def thresholds_from_real(embedding: torch.Tensor, labels: np.ndarray, distance: str = "l2",
                         q_same: float = 0.9, q_other: float = 0.1, n_pairs: int = 20000,
                         seed: int = 0) -> dict[str, float]:
    """tau^+ and tau^- of one attribute from real images' embeddings [N, D] and labels [N]
    (module docstring): tau^+ = quantile ``q_same`` of the distances of random real pairs with
    equal labels, tau^- = quantile ``q_other`` of those with different labels. Returns
    ``{"tau_plus", "tau_minus", "same_pairs", "other_pairs"}``."""
    check_number("q_same", q_same, 0.0, 1.0)
    check_number("q_other", q_other, 0.0, 1.0)
    labels = np.asarray(labels).reshape(-1)
    if embedding.ndim != 2 or embedding.shape[0] != labels.shape[0] or labels.shape[0] < 2:
        raise ShapeError(f"need [N, D] embeddings and N labels (N >= 2), got "
                         f"{list(embedding.shape)} and {labels.shape[0]}")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, labels.shape[0], n_pairs)
    j = rng.integers(0, labels.shape[0], n_pairs)
    keep = i != j
    i, j = i[keep], j[keep]
    with torch.no_grad():
        d = pair_distance(embedding[i], embedding[j], distance).double().numpy()
    same = labels[i] == labels[j]
    for what, count in (("share", int(same.sum())), ("differ in", int((~same).sum()))):
        if count < 10:
            raise ShapeError(f"only {count} random pairs {what} a label: too few to set the "
                             "thresholds (give more real images, or an attribute that varies)")
    return {"tau_plus": float(np.quantile(d[same], q_same)),
            "tau_minus": float(np.quantile(d[~same], q_other)),
            "same_pairs": int(same.sum()), "other_pairs": int((~same).sum())}


class GroupContrastiveHook:
    """GAN-Control's loss as a ``GeneratorRegularizer`` hook.

    Every ``interval`` G steps it draws ``n_pairs`` pairs (:func:`shared_pairs`, the shared group
    rotating with the step), synthesises them (random noise from the same seeded generator, so a
    resumed run is bit-identical), embeds them with ``embedding`` and returns
    ``weight * sum_k weight_k * loss_k`` over ``attributes``; each attribute's loss is logged as
    ``contrastive/<name>``. The trainer's own batch is not used: its pairs would need a second
    forward pass anyway, and style mixing would blur the groups.

    Args:
        embedding: a :class:`HeadEmbedding` (or any module images -> {name: [N, D]}).
        attributes: ``[{"name": head, "group": group, "tau_plus", "tau_minus"[, "weight"]}]``.
        z_slices: the generator's ``group_slices("z")``.
    """

    name = "contrastive"
    uses_batch = False  # it draws its own pairs: the regulariser-only warm-up skips G's batch

    def __init__(self, embedding: nn.Module, attributes: Sequence[dict[str, Any]],
                 z_slices: dict[str, slice], *, n_pairs: int = 16, distance: str = "l2",
                 weight: float = 1.0, interval: int = 1, seed: int = 0) -> None:
        check_number("weight", weight, 0.0, low_open=True)
        check_number("interval", interval, 1, integer=True)
        check_number("n_pairs", n_pairs, 1, integer=True)
        if distance not in DISTANCES:
            raise OptionError(f"distance must be one of {DISTANCES}, got {distance!r}")
        self.embedding, self.z_slices = embedding, dict(z_slices)
        self.attributes = [dict(a) for a in attributes]
        groups = list(self.z_slices)
        for a in self.attributes:
            if a.get("group") not in groups:
                raise OptionError(f"attribute {a.get('name')!r}: no group {a.get('group')!r} "
                                  f"in the generator (groups: {', '.join(groups)})")
            for k in ("tau_plus", "tau_minus"):
                check_number(f"{a['name']}: {k}", a[k], 0.0)
        self.n_pairs, self.distance, self.weight = int(n_pairs), distance, float(weight)
        self.interval, self.seed = int(interval), int(seed)
        self.parts: dict[str, float] = {}

    def config(self) -> dict[str, Any]:
        return {"kind": "contrastive", "weight": self.weight, "n_pairs": self.n_pairs,
                "distance": self.distance, "interval": self.interval,
                "attributes": self.attributes,
                "groups": {k: [v.start, v.stop] for k, v in self.z_slices.items()}}

    def __call__(self, G: Any, z: torch.Tensor, ws: torch.Tensor | None, images: torch.Tensor,
                 step: int) -> torch.Tensor:
        gen = torch.Generator(device="cpu").manual_seed(self.seed * 1_000_003 + int(step) + 17)
        z_a, z_b, shared = shared_pairs(self.z_slices, self.n_pairs, gen, offset=step)
        imgs = G.synthesize(torch.cat([z_a, z_b]).to(G.device), "z", noise_mode="random",
                            noise_rng=gen)
        emb = self.embedding(imgs.float())
        groups = list(self.z_slices)
        total = imgs.new_zeros((), dtype=torch.float32)
        self.parts = {}
        for a in self.attributes:
            e = emb[a["name"]]
            same = shared == groups.index(a["group"])
            loss = group_contrastive_loss(e[:self.n_pairs], e[self.n_pairs:], same,
                                          a["tau_plus"], a["tau_minus"], self.distance)
            self.parts[a["name"]] = float(loss.detach())
            total = total + float(a.get("weight", 1.0)) * loss
        return self.weight * total


__all__ = ["DISTANCES", "GroupContrastiveHook", "HeadEmbedding", "group_contrastive_loss",
           "pair_distance", "shared_pairs", "thresholds_from_real"]

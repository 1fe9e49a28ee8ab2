"""Metrics of a generator's latent space: variation predictability (VP) and perceptual path length
(PPL).

- :func:`variation_predictability` (Zhu et al. 2020, the measure of the OroJaR comparison): pairs
  of codes (z, z') that differ in one latent dimension i only (the reference's pairs: z ~
  U[-2, 2]^nz, z'_i drawn afresh from U[-2, 2]); a small CNN sees the difference G(z') - G(z)
  (the reference's dSprites ``input_mode diff``; ``"pair"`` adds G(z)) and predicts i. The score
  is its accuracy on pairs it never saw. The reference protocol's sizes are the
  defaults: 10,000 pairs of which 1 % train (``train_fraction=0.01``; the OroJaR dSprites
  setting), Adam lr 5e-4, batch 32, 300 epochs. Unlike the reference, which picks the best epoch
  on the test pairs, the epoch is chosen on a held-out validation part of the training pairs
  (``val_fraction``), and the test pairs are scored once. Chance is 1 / z_dim.
- :func:`perceptual_path_length` (Karras et al. 2019): E[d(G(x_t), G(x_{t+eps})) / eps^2] with
  x_t = slerp(z0, z1, t) in Z or lerp(w0, w1, t) in W, t ~ U(0, 1) (``sampling="full"``) or
  t = 0 (``"end"``), eps = 1e-4; d is the squared L2 distance of the images' embeddings
  (``embedder``: a shipped predictor's ``embed``; default the pixels, in [-1, 1]) divided by
  the embedding size, and the mean is taken between the 1st and 99th percentile, as StyleGAN's
  code does. LPIPS needs its weights file, which no offline machine has; any callable embedder
  can stand in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from latentatlas.utils.checks import check_number
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.rng import check_rng


# --------------------------------------------------------------------------------------- VP
class _PairClassifier(nn.Module):
    """Pair input ([N, channels, R, R]) -> z_dim logits: three strided convs and a linear."""

    def __init__(self, channels: int, z_dim: int, resolution: int, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, r = channels, resolution
        for _ in range(3 if resolution >= 16 else 1):
            layers += [nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2)]
            c, r = width, r // 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(c * r * r, z_dim)

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(pair))


@torch.no_grad()
def variation_pairs(generator: Any, n: int, rng: np.random.Generator,
                    batch_size: int = 256, directions: Any = None, z_range: float | None = 2.0,
                    input_mode: str = "diff") -> tuple[torch.Tensor, np.ndarray]:
    """``n`` image pairs whose codes differ in one dimension, and that dimension.

    Codes are drawn from U[-z_range, z_range] (the reference's pairs, z_range 2) or N(0, 1)
    (``z_range=None``); the changed coordinate is drawn afresh from the same law. The inputs
    are G(z') - G(z) (``input_mode="diff"``, the reference's dSprites setting) or
    (G(z), G(z') - G(z)) stacked on channels (``"pair"``). ``directions`` [K, z_dim]
    (orthonormal rows, e.g. SeFa's): the codes differ in their coordinate along one direction
    instead of one axis."""
    z_dim = int(generator.z_dim)
    basis = np.eye(z_dim) if directions is None else _orthonormal_rows(directions, z_dim)

    def draw(*shape: int) -> np.ndarray:
        if z_range is None:
            return rng.standard_normal(shape)
        return rng.uniform(-z_range, z_range, shape)

    z = draw(n, z_dim).astype(np.float32)
    dims = rng.integers(0, basis.shape[0], size=n)
    new = draw(n)
    along = basis[dims]  # [n, z_dim]
    coord = (z.astype(np.float64) * along).sum(axis=1)
    z2 = (z + (new - coord)[:, None] * along).astype(np.float32)
    a = generator.synthesize_batched(torch.from_numpy(z), "z", batch_size=batch_size).float()
    b = generator.synthesize_batched(torch.from_numpy(z2), "z", batch_size=batch_size).float()
    if input_mode == "diff":
        return b - a, dims
    if input_mode == "pair":
        return torch.cat([a, b - a], dim=1), dims
    raise ShapeError(f"input_mode must be 'diff' or 'pair', got {input_mode!r}")


def variation_predictability(
    generator: Any, *, n_pairs: int = 10_000, train_fraction: float = 0.01,
    val_fraction: float = 0.2, epochs: int = 300, batch_size: int = 32, lr: float = 5e-4,
    directions: Any = None, z_range: float | None = 2.0, input_mode: str = "diff",
    seed: int = 0, progress: bool = False,
) -> dict[str, Any]:
    """VP of a Z-space ``generator`` (module docstring), along its axes or along ``directions``
    ([K, z_dim] orthonormal rows, e.g. SeFa's on the same generator). Returns ``{"accuracy",
    "chance", "best_epoch", "val_accuracy", "n_train", "n_val", "n_test"}``."""
    check_number("n_pairs", n_pairs, 10, integer=True)
    check_number("train_fraction", train_fraction, 0.0, 1.0, low_open=True)
    check_number("val_fraction", val_fraction, 0.0, 1.0)
    check_number("epochs", epochs, 1, integer=True)
    if "z" not in getattr(generator, "spaces", ("z",)):
        raise ShapeError("variation predictability needs a generator with a Z space")
    rng = check_rng(seed)
    pairs, dims = variation_pairs(generator, int(n_pairs), rng, directions=directions,
                                  z_range=z_range, input_mode=input_mode)
    classes = int(generator.z_dim) if directions is None else len(
        _orthonormal_rows(directions, int(generator.z_dim)))
    n_fit = max(2, int(round(n_pairs * train_fraction)))
    n_val = int(round(n_fit * val_fraction))
    if n_fit >= n_pairs:
        raise ShapeError("train_fraction leaves no test pairs")
    order = rng.permutation(int(n_pairs))
    val, train, test = order[:n_val], order[n_val:n_fit], order[n_fit:]
    y = torch.from_numpy(dims).long()
    torch.manual_seed(int(rng.integers(2**31)))
    net = _PairClassifier(pairs.shape[1], classes, pairs.shape[-1])
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    best = {"val": -1.0, "epoch": -1, "state": None}
    epochs_iter: Any = range(int(epochs))
    if progress:
        from tqdm.auto import tqdm

        epochs_iter = tqdm(epochs_iter, desc="VP classifier", unit="epoch")
    for epoch in epochs_iter:
        net.train()
        perm = train[rng.permutation(len(train))]
        for start in range(0, len(perm), batch_size):
            idx = perm[start:start + batch_size]
            loss = nn.functional.cross_entropy(net(pairs[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if len(val):
            acc = _accuracy(net, pairs, y, val)
            if acc > best["val"]:  # the first epoch with the best validation accuracy
                best = {"val": acc, "epoch": epoch,
                        "state": {k: v.clone() for k, v in net.state_dict().items()}}
    if best["state"] is not None:
        net.load_state_dict(best["state"])
    return {"accuracy": _accuracy(net, pairs, y, test), "chance": 1.0 / classes,
            "best_epoch": best["epoch"] if len(val) else int(epochs) - 1,
            "val_accuracy": best["val"] if len(val) else None,
            "n_train": int(len(train)), "n_val": int(len(val)), "n_test": int(len(test))}


def _orthonormal_rows(directions: Any, z_dim: int) -> np.ndarray:
    vec = np.asarray(getattr(directions, "vectors", directions), dtype=np.float64)
    vec = vec.reshape(vec.shape[0], -1)
    if vec.shape[1] != z_dim:
        raise ShapeError(f"directions must have {z_dim} columns (z), got {vec.shape}")
    gram = vec @ vec.T
    if not np.allclose(gram, np.eye(len(vec)), atol=1e-4):
        raise ShapeError("directions must be orthonormal rows (a coordinate along each)")
    return vec


@torch.no_grad()
def _accuracy(net: nn.Module, pairs: torch.Tensor, y: torch.Tensor, idx: np.ndarray) -> float:
    net.eval()
    correct = 0
    for start in range(0, len(idx), 512):
        i = idx[start:start + 512]
        correct += int((net(pairs[i]).argmax(1) == y[i]).sum())
    return correct / max(1, len(idx))


# --------------------------------------------------------------------------------------- PPL
def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between the directions of a and b, with the norm interpolated
    linearly (a generator that does not normalise its z sees codes of the usual length)."""
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na, b / nb
    d = (ua * ub).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0)
    p = t * torch.acos(d)
    c = ub - d * ua
    c = c / c.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    out = ua * torch.cos(p) + c * torch.sin(p)
    return out / out.norm(dim=-1, keepdim=True) * torch.lerp(na, nb, t)


@torch.no_grad()
def perceptual_path_length(
    generator: Any, *, space: str = "z", n: int = 10_000, epsilon: float = 1e-4,
    sampling: str = "full", embedder: Any = None, batch_size: int = 64, seed: int = 0,
    truncation_psi: float = 1.0,
) -> dict[str, Any]:
    """PPL of ``generator`` in ``space`` ("z": slerp; "w": lerp) (module docstring).

    Returns ``{"ppl", "ppl_mean_unfiltered", "ppl_sd", "n", "space", "sampling", "epsilon"}``.
    """
    check_number("n", n, 2, integer=True)
    check_number("epsilon", epsilon, 0.0, low_open=True)
    if sampling not in ("full", "end"):
        raise ShapeError(f"sampling must be 'full' or 'end', got {sampling!r}")
    if space not in ("z", "w") or space not in getattr(generator, "spaces", ("z",)):
        raise ShapeError(f"space must be 'z' or 'w' and one the generator has "
                         f"({tuple(getattr(generator, 'spaces', ('z',)))}), got {space!r}")
    rng = check_rng(seed)
    z_dim = int(generator.z_dim)
    embed = _embedder(embedder)
    dists = []
    for start in range(0, int(n), batch_size):
        m = min(batch_size, int(n) - start)
        z = torch.from_numpy(rng.standard_normal((2 * m, z_dim)).astype(np.float32))
        t = torch.from_numpy(rng.uniform(0.0, 1.0, (m, 1)).astype(np.float32))
        if sampling == "end":
            t = torch.zeros_like(t)
        if space == "z":
            x0 = slerp(z[:m], z[m:], t)
            x1 = slerp(z[:m], z[m:], t + epsilon)
        else:
            w = generator.z_to_latent(z, "w", truncation_psi=truncation_psi)
            x0 = torch.lerp(w[:m], w[m:], t)
            x1 = torch.lerp(w[:m], w[m:], t + epsilon)
        images = generator.synthesize_batched(torch.cat([x0, x1]), space, batch_size=2 * m)
        e = embed(images.float()).reshape(2 * m, -1).double()
        d = (e[:m] - e[m:]).square().mean(dim=1) / epsilon**2
        dists.append(d.numpy())
    d = np.concatenate(dists)
    lo, hi = np.percentile(d, [1, 99])
    kept = d[(d >= lo) & (d <= hi)]
    return {"ppl": float(kept.mean()), "ppl_mean_unfiltered": float(d.mean()),
            "ppl_sd": float(d.std()), "n": int(len(d)), "space": space, "sampling": sampling,
            "epsilon": float(epsilon)}


def _embedder(embedder: Any):
    if embedder is None:
        return lambda images: images  # the pixels
    fn = embedder.embed if hasattr(embedder, "embed") else embedder
    if not callable(fn):
        raise ShapeError("embedder must have an embed(images) method or be callable")
    return fn


__all__ = ["perceptual_path_length", "slerp", "variation_pairs", "variation_predictability"]

"""Sample-quality measures between two sets of embeddings: Frechet distance and KID.

- :func:`frechet_distance`: ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2}) between Gaussians
  fitted to each set (FID when the embedding is Inception-v3's pool features). The matrix square
  root's trace is computed as sum sqrt(eig(S_a^{1/2} S_b S_a^{1/2})) with symmetric eigensolvers,
  which is exact for PSD matrices and free of the complex round-off of ``scipy.linalg.sqrtm``.
- :func:`kernel_distance` (KID, Binkowski et al. 2018): the unbiased MMD^2 estimate with the cubic
  polynomial kernel k(x, y) = (x . y / d + 1)^3, averaged over ``num_subsets`` random subsets of
  ``subset_size`` from each set (100 x 1000 in the paper); returns mean and standard deviation.
- :func:`sample_quality`: both, in the embedding of any model with ``embed(images)`` (a shipped
  predictor) or any callable, ALWAYS next to the real-vs-real floor: the same measures between
  two disjoint halves of the real images. The fakes are compared with one half, so fakes and floor
  use equally many real samples. The Frechet distance is biased upwards for small samples: compare
  only numbers computed with the same sample sizes.

Standard Inception FID: pass :func:`latentatlas.metrics.inception.load_fid_inception` (user-supplied
weights; the package neither ships nor downloads them) as the embedder.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from latentatlas.io.images import to_model_images
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.rng import check_rng


def _check_embeddings(x: Any, name: str, min_rows: int = 2) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ShapeError(f"{name} must be a 2-D array [N, D] of embeddings, got shape {x.shape}")
    if x.shape[0] < min_rows:
        raise ShapeError(f"{name} needs at least {min_rows} rows, got {x.shape[0]}")
    if not np.isfinite(x).all():
        raise ShapeError(f"{name} contains NaN or Inf")
    return x


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((m + m.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def frechet_distance_from_stats(
    mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray
) -> float:
    """Frechet distance between N(mu_a, cov_a) and N(mu_b, cov_b)."""
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.atleast_2d(cov_a).astype(np.float64), np.atleast_2d(cov_b).astype(np.float64)
    d = mu_a.shape[0]
    for name, cov in (("cov_a", cov_a), ("cov_b", cov_b)):
        if cov.shape != (d, d):
            raise ShapeError(f"{name} must be [{d}, {d}] to match the means, got {cov.shape}")
    if mu_b.shape != (d,):
        raise ShapeError(f"mu_b must have shape [{d}], got {mu_b.shape}")
    root_a = _sqrt_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    diff = mu_a - mu_b
    value = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt)
    return max(value, 0.0)


def frechet_distance(emb_a: Any, emb_b: Any) -> float:
    """Frechet distance between Gaussians fitted to two embedding sets [N, D] and [M, D]."""
    a = _check_embeddings(emb_a, "emb_a")
    b = _check_embeddings(emb_b, "emb_b")
    if a.shape[1] != b.shape[1]:
        raise ShapeError(f"embedding sizes differ: {a.shape[1]} vs {b.shape[1]}")
    return frechet_distance_from_stats(a.mean(0), np.cov(a, rowvar=False),
                                       b.mean(0), np.cov(b, rowvar=False))


def _mmd2_unbiased_poly(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_yy = (y @ y.T / d + 1.0) ** 3
    k_xy = (x @ y.T / d + 1.0) ** 3
    m, n = x.shape[0], y.shape[0]
    sum_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    sum_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(sum_xx + sum_yy - 2.0 * k_xy.mean())


def kernel_distance(
    emb_a: Any,
    emb_b: Any,
    num_subsets: int = 100,
    subset_size: int = 1000,
    rng: np.random.Generator | int | None = None,
) -> tuple[float, float]:
    """KID: mean and std over subsets of the unbiased MMD^2 with the cubic polynomial kernel.

    Subsets of ``min(subset_size, N, M)`` rows are drawn without replacement from each set.
    Unbiased: the expectation is 0 for two samples of one distribution (values can be < 0).
    """
    a = _check_embeddings(emb_a, "emb_a")
    b = _check_embeddings(emb_b, "emb_b")
    if a.shape[1] != b.shape[1]:
        raise ShapeError(f"embedding sizes differ: {a.shape[1]} vs {b.shape[1]}")
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}")
    rng = check_rng(rng)
    size = min(subset_size, a.shape[0], b.shape[0])
    values = np.empty(num_subsets)
    for i in range(num_subsets):
        ia = rng.choice(a.shape[0], size, replace=False)
        ib = rng.choice(b.shape[0], size, replace=False)
        values[i] = _mmd2_unbiased_poly(a[ia], b[ib])
    return float(values.mean()), float(values.std())


# ---------------------------------------------------------------------- in a model's embedding
def _as_image_tensor(images: Any) -> torch.Tensor:
    """uint8 NHWC / float [0, 1] NHWC arrays or float [-1, 1] NCHW tensors -> [-1, 1] NCHW."""
    if isinstance(images, torch.Tensor):
        if not images.is_floating_point():
            raise ShapeError("image tensors must be float NCHW in [-1, 1]")
        if images.ndim != 4:
            raise ShapeError(f"images must be 4-D NCHW, got {list(images.shape)}")
        return images.float()
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3):
        raise ShapeError(f"image arrays must be NHWC with 1 or 3 channels, got {arr.shape}")
    return to_model_images(arr)


@torch.no_grad()
def embed_images(embedder: Any, images: Any, batch_size: int = 256,
                 progress: str | None = None) -> np.ndarray:
    """Embeddings [N, D] of images (generator convention or NHWC arrays) in batches.

    ``embedder``: an object with ``embed(images)`` (a shipped predictor, a scorer) or a callable.
    ``progress``: a progress-bar label (None: no bar).
    """
    fn = embedder.embed if hasattr(embedder, "embed") else embedder
    if not callable(fn):
        raise TypeError("embedder must have an embed(images) method or be callable")
    x = _as_image_tensor(images)
    device = next((p.device for p in getattr(embedder, "parameters", lambda: iter(()))()),
                  torch.device("cpu"))
    was_training = getattr(embedder, "training", False)
    if was_training:
        embedder.eval()
    try:
        starts = range(0, x.shape[0], batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=progress, unit="batch")
        out = [fn(x[i:i + batch_size].to(device)).float().cpu() for i in starts]
    finally:
        if was_training:
            embedder.train()
    return torch.cat(out).reshape(x.shape[0], -1).numpy()


def sample_quality(
    real_images: Any,
    fake_images: Any,
    embedder: Any,
    rng: np.random.Generator | int | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    batch_size: int = 256,
    progress: bool = False,
) -> dict[str, Any]:
    """Frechet distance and KID of fakes vs reals in ``embedder``'s space, with the real floor.

    The reals are shuffled (``rng``) and split into two disjoint halves A and B. Reported:
    ``frechet`` = FD(fakes, A), ``frechet_floor`` = FD(B, A), ``frechet_ratio`` = their ratio, and
    the same for KID (``kid``, ``kid_std``, ``kid_floor``, ``kid_floor_std``). Pass as many fakes as
    half the reals for a like-for-like comparison (more are cut to that number).
    """
    rng = check_rng(rng)
    real_emb = embed_images(embedder, real_images, batch_size, "embed reals" if progress else None)
    fake_emb = embed_images(embedder, fake_images, batch_size, "embed fakes" if progress else None)
    if real_emb.shape[0] < 4:
        raise ShapeError(f"need at least 4 real images for the real-vs-real floor, got "
                         f"{real_emb.shape[0]}")
    perm = rng.permutation(real_emb.shape[0])
    half = real_emb.shape[0] // 2
    ref, other = real_emb[perm[:half]], real_emb[perm[half:2 * half]]
    fake_emb = fake_emb[:half]
    fd = frechet_distance(fake_emb, ref)
    fd_floor = frechet_distance(other, ref)
    kid, kid_std = kernel_distance(fake_emb, ref, kid_subsets, kid_subset_size, rng)
    kid_floor, kid_floor_std = kernel_distance(other, ref, kid_subsets, kid_subset_size, rng)
    return {
        "frechet": fd,
        "frechet_floor": fd_floor,
        "frechet_ratio": fd / fd_floor if fd_floor > 0 else float("inf"),
        "kid": kid,
        "kid_std": kid_std,
        "kid_floor": kid_floor,
        "kid_floor_std": kid_floor_std,
        "n_real_half": int(half),
        "n_fake": int(fake_emb.shape[0]),
        "embedding_dim": int(real_emb.shape[1]),
    }


def generator_samples(G: Any, n: int, rng: np.random.Generator, truncation_psi: float = 1.0,
                      batch_size: int = 256) -> torch.Tensor:
    """``n`` images of ``G`` in [-1, 1] (clamped, CPU): latents sampled ``batch_size`` at a time
    from ``rng`` (W+ through the mapping for StyleGAN-like generators, truncated), noise
    'const'."""
    space = "wp" if "wp" in getattr(G, "spaces", ("z",)) else "z"
    latents = torch.cat([G.sample(min(batch_size, n - start), space=space, rng=rng,
                                  truncation_psi=truncation_psi)
                         for start in range(0, n, batch_size)])
    return G.synthesize_batched(latents, space, batch_size=batch_size,
                                noise_mode="const").clamp(-1, 1)


@torch.no_grad()
def generator_quality(
    G: Any,
    real_images: Any,
    embedder: Any,
    n_fake: int | None = None,
    rng: np.random.Generator | int | None = None,
    truncation_psi: float = 1.0,
    batch_size: int = 256,
    **kw: Any,
) -> dict[str, Any]:
    """:func:`sample_quality` of ``n_fake`` samples of generator ``G`` (default: half the reals).

    Samples are drawn from z (through the mapping network for StyleGAN-like generators) with noise
    'const'; ``kw`` goes to :func:`sample_quality`.
    """
    rng = check_rng(rng)
    n_real = len(real_images)
    n_fake = n_fake if n_fake is not None else n_real // 2
    fakes = generator_samples(G, n_fake, rng, truncation_psi, batch_size)
    result = sample_quality(real_images, fakes, embedder, rng, batch_size=batch_size, **kw)
    result["truncation_psi"] = truncation_psi
    return result


@torch.no_grad()
def _predict_heads(predictor: Any, images: Any, names: list[str],
                   batch_size: int) -> dict[str, torch.Tensor]:
    """``predictor.predict`` over ``images`` in batches, eval mode, for the heads ``names``."""
    x = _as_image_tensor(images)
    device = next((p.device for p in predictor.parameters()), torch.device("cpu"))
    was_training = predictor.training
    predictor.eval()
    out: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    try:
        for i in range(0, x.shape[0], batch_size):
            pred = predictor.predict(x[i:i + batch_size].to(device))
            for name in names:
                out[name].append(pred[name].float().cpu())
    finally:
        predictor.train(was_training)
    return {name: torch.cat(chunks) for name, chunks in out.items()}


def _ratios(counts: np.ndarray) -> tuple[float, float]:
    """Rarest / commonest frequency divided by the uniform frequency 1 / len(counts)."""
    freq = counts / max(int(counts.sum()), 1)
    return float(freq.min() * len(counts)), float(freq.max() * len(counts))


def class_coverage(predictor: Any, images: Any, batch_size: int = 256) -> dict[str, Any]:
    """For every multiclass head of an attribute predictor: how confidently and how evenly the
    generated ``images`` are classified.

    Per head: ``mean_max_probability`` (mean over images of the top class probability), the
    ``counts`` of argmax classes, and ``min_ratio`` / ``max_ratio``: the rarest / commonest class
    frequency divided by the uniform frequency 1/K (1.0 is perfectly uniform; "within 2x of
    uniform" means min_ratio >= 0.5 and max_ratio <= 2).
    """
    heads = [h for h in getattr(predictor, "heads", []) if h.get("kind") == "multiclass"]
    if not heads:
        raise ValueError("class_coverage needs a predictor with multiclass heads")
    probs = _predict_heads(predictor, images, [h["name"] for h in heads], batch_size)
    result: dict[str, Any] = {}
    for h in heads:
        p = probs[h["name"]]
        k = int(h["num_classes"])
        counts = torch.bincount(p.argmax(dim=1), minlength=k).numpy()
        lo, hi = _ratios(counts)
        result[h["name"]] = {
            "mean_max_probability": float(p.max(dim=1).values.mean()),
            "counts": counts.tolist(),
            "classes": list(h.get("classes") or [str(i) for i in range(k)]),
            "min_ratio": lo,
            "max_ratio": hi,
        }
    return result


def folded_angle_coverage(
    angles: Any, groups: Any, periods: Any, bin_width: float,
    group_names: Any = None,
) -> dict[str, Any]:
    """How evenly angles cover the circle of their group's symmetry, group by group.

    ``angles`` [N] (radians, any range) are taken modulo their group's period ``periods[g]``
    (e.g. a square's orientation modulo 90 degrees: the identifiable part of a rotation), and
    each group's fundamental interval [0, period) is cut into ``max(1, round(period /
    bin_width))`` equal bins. Per group: ``counts``, ``bins``, ``bin_width_degrees`` and
    ``min_ratio`` / ``max_ratio`` (rarest / commonest bin frequency over the uniform frequency
    within the group; a group with no angles gets ratios 0 and inf)."""
    a = np.asarray(angles, dtype=np.float64).reshape(-1)
    g = np.asarray(groups).reshape(-1).astype(np.int64)
    periods = np.asarray(periods, dtype=np.float64).reshape(-1)
    if a.shape != g.shape:
        raise ShapeError(f"angles {a.shape} and groups {g.shape} must have the same length")
    if not np.isfinite(a).all():
        raise ValueError("angles contain NaN or inf")
    if g.size and (g.min() < 0 or g.max() >= len(periods)):
        raise ValueError(f"groups must lie in [0, {len(periods)}), got {g.min()}..{g.max()}")
    if not bin_width > 0 or (periods <= 0).any():
        raise ValueError("bin_width and periods must be positive")
    names = list(group_names) if group_names is not None else [str(i) for i in
                                                                range(len(periods))]
    result: dict[str, Any] = {}
    for gi, period in enumerate(periods):
        bins = max(1, int(round(period / bin_width)))
        folded = np.mod(a[g == gi], period)
        idx = np.minimum((folded / period * bins).astype(np.int64), bins - 1)
        counts = np.bincount(idx, minlength=bins)
        lo, hi = _ratios(counts) if counts.sum() else (0.0, float("inf"))
        result[names[gi]] = {"counts": counts.tolist(), "bins": bins,
                             "bin_width_degrees": float(np.degrees(period / bins)),
                             "min_ratio": lo, "max_ratio": hi}
    return result


def folded_orientation_coverage(
    predictor: Any, images: Any, periods: Any, bin_width: float,
    shape_head: str = "shape", cos_head: str = "orientation_folded_cos",
    sin_head: str = "orientation_folded_sin", group_names: Any = None, batch_size: int = 256,
) -> dict[str, Any]:
    """Orientation coverage of ``images`` judged modulo each shape's rotational symmetry.

    For predictors with a multiclass ``shape_head`` and two regression heads giving the
    orientation folded onto the unit circle, (cos, sin)(2 pi theta / period(shape)) (the
    dSprites predictor): the shape is the argmax class, the identifiable orientation is
    atan2(sin, cos) * period / (2 pi), and its coverage is :func:`folded_angle_coverage` per
    predicted shape. A 40-way orientation head cannot be used for this: it cannot tell a
    square's orientation from its 90-degree twin, so even perfect samples do not spread evenly
    over its classes."""
    heads = {h["name"]: h for h in getattr(predictor, "heads", [])}
    missing = [n for n in (shape_head, cos_head, sin_head) if n not in heads]
    if missing:
        raise ValueError(f"folded_orientation_coverage: the predictor has no head(s) {missing}")
    out = _predict_heads(predictor, images, [shape_head, cos_head, sin_head], batch_size)
    shapes = out[shape_head].argmax(dim=1).numpy()
    periods = np.asarray(periods, dtype=np.float64)
    if len(periods) != int(heads[shape_head]["num_classes"]):
        raise ValueError(f"{len(periods)} periods for a {heads[shape_head]['num_classes']}-class "
                         f"{shape_head!r} head")
    phase = np.mod(np.arctan2(out[sin_head].numpy(), out[cos_head].numpy()), 2 * np.pi)
    angles = phase * periods[shapes] / (2 * np.pi)
    return folded_angle_coverage(angles, shapes, periods, bin_width,
                                 group_names=group_names or heads[shape_head].get("classes"))

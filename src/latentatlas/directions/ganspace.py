"""GANSpace (Harkonen et al.): principal components of sampled latents or activations.

Two variants, as in the reference:

- **latent** (StyleGAN2; the default when the generator has a W space): PCA of N sampled w
  (``n_samples``, the reference's 300,000 by default), with scikit-learn's estimators:
  ``"ipca"`` (IncrementalPCA over chunks of ``batch_size`` w, the reference's default),
  ``"pca"`` (full SVD) or ``"randomized"`` (randomized SVD, the fast path). The components are
  the directions; ``lat_stdev`` is the standard deviation of the projections of
  ``n_stdev_samples`` fresh w on each component (the reference: 5,000 samples).
- **activations** (Z-only generators, or any ``layer=``): PCA of a chosen layer's flattened
  activations (``layer``; default the first layer ``fc``), then the PCA coordinates divided by
  their standard deviation are regressed back to z by least squares (``scipy.linalg.lstsq``,
  gelsd); the rows of the solution, normalised, are the latent directions. ``n_samples`` is at
  least 10,000 here (the reference's ``max(10_000, N)`` only applies when N is smaller).

A layer-range edit of component k with ``sigma`` standard deviations moves
``w_l += sigma * lat_stdev_k * v_k`` for the W+ layers l in ``layers`` (:meth:`GANSpace.edit`);
the returned :class:`Directions` carries that range (space ``"wp"``; all layers: ``"w"``) and
``lat_stdev`` / ``explained_variance`` as scores.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from scipy.linalg import lstsq
from tqdm.auto import tqdm

from latentatlas.directions.base import Directions, parse_layers
from latentatlas.directions.finder import DirectionFinder
from latentatlas.directions.sefa import fix_signs
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.rng import check_rng

ESTIMATORS = ("ipca", "pca", "randomized")
VARIANTS = ("auto", "latent", "activations")


def _pca(estimator: str, k: int, seed: int, batch_size: int) -> Any:
    from sklearn.decomposition import PCA, IncrementalPCA

    if estimator == "ipca":
        return IncrementalPCA(n_components=k, whiten=False, batch_size=max(100, 2 * k))
    if estimator == "randomized":
        return PCA(n_components=k, svd_solver="randomized", random_state=seed)
    return PCA(n_components=k, svd_solver="full")


def ipca_chunk_sizes(n: int, chunk: int, k: int) -> list[int]:
    """Sizes of the IncrementalPCA batches covering all ``n`` samples: ``chunk`` each, a tail
    shorter than ``k`` rows (too few for a partial fit) folded into the batch before it."""
    sizes = [min(chunk, n - start) for start in range(0, n, chunk)]
    if len(sizes) > 1 and sizes[-1] < k:
        tail = sizes.pop()
        sizes[-1] += tail
    return sizes


class GANSpace(DirectionFinder):
    """PCA directions of sampled latents or activations (see the module docstring).

    Args:
        n_components: number of components (the reference: 80; capped at the latent dimension
            in the latent variant, a larger value raises).
        n_samples: latents sampled for the PCA.
        estimator: ``"ipca"``, ``"pca"`` or ``"randomized"``.
        variant: ``"auto"`` (latent for generators with a W space, else activations),
            ``"latent"`` or ``"activations"``.
        layer: the activation layer of the activations variant (default: the generator's first
            layer name).
        layers: the W+ layer range edits apply to (None: all layers).
        truncation_psi: truncation of the sampled w.
        batch_size: latents per chunk (mapping / activations / IncrementalPCA).
        n_stdev_samples: fresh samples for ``lat_stdev``.
        dtype: ``"float32"`` (fast) or ``"float64"`` data for the PCA.
        seed: seed of the sampling (``fit(rng=...)`` overrides it).
        progress: tqdm bars.
        prefix: direction names are ``<prefix>_<k>``.

    Fitted: ``directions_``, ``components_`` [k, d], ``lat_stdev_`` [k],
    ``explained_variance_`` [k], ``mean_`` (the latent mean), ``fit_seconds_``, ``variant_``.
    """

    fit_requires = ("generator",)

    def __init__(self, n_components: int = 80, n_samples: int = 300_000,
                 estimator: str = "ipca", variant: str = "auto", layer: str | None = None,
                 layers: Any = None, truncation_psi: float = 1.0, batch_size: int = 10_000,
                 n_stdev_samples: int = 5000, dtype: str = "float32", seed: int = 1,
                 progress: bool = False, prefix: str = "ganspace") -> None:
        self.n_components = n_components
        self.n_samples = n_samples
        self.estimator = estimator
        self.variant = variant
        self.layer = layer
        self.layers = layers
        self.truncation_psi = truncation_psi
        self.batch_size = batch_size
        self.n_stdev_samples = n_stdev_samples
        self.dtype = dtype
        self.seed = seed
        self.progress = progress
        self.prefix = prefix

    # ------------------------------------------------------------------ checks
    def _check_params(self, generator: Any) -> str:
        if self.estimator not in ESTIMATORS:
            raise ShapeError(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        if self.variant not in VARIANTS:
            raise ShapeError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.dtype not in ("float32", "float64"):
            raise ShapeError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if int(self.n_samples) < 2 or int(self.batch_size) < 1 or int(self.n_stdev_samples) < 2:
            raise ShapeError("n_samples and n_stdev_samples must be >= 2, batch_size >= 1")
        has_w = "w" in getattr(generator, "spaces", ("z",))
        variant = self.variant
        if variant == "auto":
            variant = "latent" if has_w and self.layer is None else "activations"
        if variant == "latent" and not has_w:
            raise ShapeError(f"{type(generator).__name__} has no W space: use "
                             "variant='activations' (PCA of a layer's features)")
        return variant

    # ------------------------------------------------------------------ sampling
    def _sample(self, generator: Any, n: int, rng: np.random.Generator, space: str,
                desc: str) -> np.ndarray:
        out = []
        with torch.no_grad():
            for start in tqdm(range(0, n, int(self.batch_size)), desc=desc, leave=False,
                              disable=not self.progress):
                m = min(int(self.batch_size), n - start)
                z = generator.sample_z(m, rng)
                if space == "w":
                    lat = generator.z_to_latent(z, "w", truncation_psi=self.truncation_psi)
                else:
                    lat = z
                out.append(lat.detach().float().cpu().numpy())
        return np.concatenate(out).astype(self.dtype, copy=False)

    def _activations(self, generator: Any, z: np.ndarray, layer: str) -> np.ndarray:
        out = []
        with torch.no_grad():
            for start in tqdm(range(0, z.shape[0], int(self.batch_size)), desc="activations",
                              leave=False, disable=not self.progress):
                chunk = torch.as_tensor(z[start:start + int(self.batch_size)],
                                        dtype=torch.float32)
                acts = generator.activations(chunk, "z", [layer])[layer]
                out.append(acts.reshape(acts.shape[0], -1).float().cpu().numpy())
        return np.concatenate(out).astype(self.dtype, copy=False)

    # ------------------------------------------------------------------ fit
    def fit(self, bank: Any = None, scores: Any = None, *, generator: Any = None,
            scorer: Any = None, rng: Any = None) -> GANSpace:
        self._check_fit_inputs(generator=generator)
        variant = self._check_params(generator)
        t0 = time.perf_counter()
        seed = self.seed if rng is None else int(check_rng(rng).integers(2**31))
        if variant == "latent":
            d = int(generator.w_dim)
        else:
            d = int(generator.z_dim)
        k = int(self.n_components)
        if not 1 <= k <= d:
            raise ShapeError(f"n_components={k} must be in [1, {d}] (the latent dimension)")
        if variant == "latent":
            self._fit_latent(generator, k, seed)
        else:
            self._fit_activations(generator, k, seed)
        self.variant_ = variant
        sel = None
        space = "z" if variant == "activations" else "w"
        if self.layers is not None:
            if space == "z":
                raise ShapeError("a W+ layer range needs a generator with a W space")
            sel = parse_layers(self.layers, int(generator.num_ws))
            space = "wp" if sel is not None else "w"
        self.directions_ = Directions(
            self.components_, space, names=[f"{self.prefix}_{i}" for i in range(k)], layers=sel,
            method="ganspace",
            scores={"lat_stdev": self.lat_stdev_, "explained_variance": self.explained_variance_},
            metadata={"variant": variant, "estimator": self.estimator,
                      "n_samples": int(self.n_samples), "layer": self.layer_,
                      "layers": None if sel is None else list(sel),
                      "truncation_psi": float(self.truncation_psi), "seed": int(seed)},
            normalize=True)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _fit_latent(self, generator: Any, k: int, seed: int) -> None:
        rng = np.random.default_rng([seed, 0])
        n = int(self.n_samples)
        pca = _pca(self.estimator, k, seed, int(self.batch_size))
        if self.estimator == "ipca":
            # Chunks of at least max(2000, 3k) rows, as the reference (NB = max(B, 2000, 3c)).
            chunk = max(int(self.batch_size), 2000, 3 * k)
            for m in tqdm(ipca_chunk_sizes(n, chunk, k), desc="ganspace ipca", leave=False,
                          disable=not self.progress):
                pca.partial_fit(self._sample(generator, m, rng, "w", "w"))
            self.n_samples_seen_ = int(pca.n_samples_seen_)
        else:
            self.n_samples_seen_ = n
            pca.fit(self._sample(generator, n, rng, "w", "w"))
        comps = fix_signs(pca.components_.astype(np.float64))
        comps /= np.linalg.norm(comps, axis=1, keepdims=True)
        self.components_ = comps
        self.mean_ = np.asarray(pca.mean_, dtype=np.float64)
        self.explained_variance_ = np.asarray(pca.explained_variance_, dtype=np.float64)
        fresh = self._sample(generator, int(self.n_stdev_samples), np.random.default_rng(
            [seed, 2]), "w", "stdev").astype(np.float64)
        self.lat_stdev_ = ((fresh - self.mean_) @ comps.T).std(axis=0)
        self.layer_ = None

    def _fit_activations(self, generator: Any, k: int, seed: int) -> None:
        names = list(generator.layer_names())
        layer = self.layer if self.layer is not None else names[0]
        if layer not in names:
            raise ShapeError(f"{type(generator).__name__} has no layer {layer!r}; known: {names}")
        n = max(int(self.n_samples), k + 1)
        z = self._sample(generator, n, np.random.default_rng([seed, 0]), "z", "z")
        acts = self._activations(generator, z, layer)
        if k > acts.shape[1]:
            raise ShapeError(f"n_components={k} exceeds the {acts.shape[1]} features of {layer}")
        pca = _pca("pca" if self.estimator == "ipca" else self.estimator, k, seed,
                   int(self.batch_size))
        coords = pca.fit_transform(acts).astype(np.float64)
        stdev = coords.std(axis=0)
        coords /= np.where(stdev > 0, stdev, 1.0)
        # A X ~= Z: X [k, d]; row i is the latent direction of activation component i.
        x, *_ = lstsq(coords, z.astype(np.float64), lapack_driver="gelsd")
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        if (norms == 0).any():
            raise ShapeError("a regressed component is zero; the layer does not depend on z")
        comps = fix_signs(x / norms)
        self.components_ = comps
        self.mean_ = z.astype(np.float64).mean(axis=0)
        self.explained_variance_ = np.asarray(pca.explained_variance_, dtype=np.float64)
        self.lat_stdev_ = ((z.astype(np.float64) - self.mean_) @ comps.T).std(axis=0)
        self.layer_ = layer

    # ------------------------------------------------------------------ edits
    def edit(self, latent_wp: Any, component: int, sigma: float, layers: Any = "default"
             ) -> np.ndarray:
        """``w_l + sigma * lat_stdev_k * v_k`` on the W+ layers of ``layers`` (default: the
        fitted range; None: all) for codes [N, L, d] (or [N, d] z / w codes, moved whole)."""
        self._check_fitted()
        x = np.array(latent_wp, dtype=np.float32, copy=True)
        k = int(component)
        if not 0 <= k < len(self.directions_):
            raise ShapeError(f"component {k} out of range [0, {len(self.directions_)})")
        step = (float(sigma) * self.lat_stdev_[k] * self.components_[k]).astype(np.float32)
        if x.ndim == 2:
            return x + step
        sel = self.directions_.layers_of(k) if isinstance(layers, str) else \
            parse_layers(layers, x.shape[1])
        idx = list(range(x.shape[1])) if sel is None else list(sel)
        x[:, idx] += step
        return x


__all__ = ["ESTIMATORS", "GANSpace"]

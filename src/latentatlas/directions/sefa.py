"""SeFa (Shen & Zhou, closed-form factorisation): directions from the generator's weights alone.

The weight of the layers that read the latent code is stacked into one matrix A (one row per
output unit, one column per latent dimension):

- StyleGAN2: the per-layer style ``affine`` of every convolution and toRGB whose W+ index is in
  ``layers`` (None: all), with its equalised-lr gain;
- a Z-only generator: the first layer ``fc`` (its z columns; a label's columns are left out).

Each row is L2-normalised (``normalize=True``, the reference's column normalisation of the
transposed weight), and the directions are the eigenvectors of ``A^T A`` (``numpy.linalg.eigh``,
sorted by eigenvalue, largest first; the reference uses unsorted ``eig``). Each eigenvector's sign
is fixed so that its largest-magnitude entry is positive. Directions computed on a W+ layer range
are only valid on those layers: the returned :class:`Directions` carries the range as its
``layers`` (space ``"wp"``; all layers: space ``"w"``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from latentatlas.directions.base import Directions, parse_layers
from latentatlas.directions.finder import DirectionFinder
from latentatlas.utils.errors import ShapeError


def fix_signs(vectors: np.ndarray) -> np.ndarray:
    """Flip each row so that its largest-magnitude entry is positive (a canonical sign)."""
    vectors = np.array(vectors, dtype=np.float64, copy=True)
    idx = np.abs(vectors).argmax(axis=1)
    signs = np.sign(vectors[np.arange(vectors.shape[0]), idx])
    signs[signs == 0] = 1.0
    return vectors * signs[:, None]


def latent_weight(generator: Any, layers: Any = None) -> tuple[np.ndarray, str, Any, list[str]]:
    """(A [units, d] float64, space, parsed layer selection, the layer names used).

    StyleGAN2-like generators (``style_affines`` / ``ws_index``): the effective style-affine
    weights of the W+ layers in ``layers``; Z-only generators with a first linear layer ``fc``:
    its weight over the z columns (``layers`` must be None or 0). Anything else: ShapeError.
    """
    affines = getattr(generator, "style_affines", None)
    if callable(affines):
        num_ws = int(generator.num_ws)
        sel = parse_layers(layers, num_ws)
        rows, used = [], []
        for name, affine in affines().items():
            idx = generator.ws_index(name)
            if sel is None or idx in sel:
                w = affine.weight.detach().double().cpu().numpy() * float(affine.weight_gain)
                rows.append(w)
                used.append(name)
        if not rows:
            raise ShapeError(f"no style layer of {type(generator).__name__} is driven by W+ "
                             f"layers {layers!r} (it has {num_ws})")
        return np.concatenate(rows, axis=0), ("w" if sel is None else "wp"), sel, used
    fc = getattr(generator, "fc", None)
    weight = getattr(fc, "weight", None)
    if weight is not None and getattr(weight, "ndim", 0) == 2:
        if layers not in (None, 0, "0", [0], (0,)):
            raise ShapeError(f"{type(generator).__name__} is a Z-only generator: SeFa uses its "
                             f"first layer only (layers=None), got layers={layers!r}")
        z_dim = int(getattr(generator, "z_dim", weight.shape[1]))
        return weight.detach().double().cpu().numpy()[:, :z_dim], "z", None, ["fc"]
    raise ShapeError(f"{type(generator).__name__} has neither style affines (StyleGAN2) nor a "
                     "first linear layer 'fc' (Z-only generator): SeFa has no weight to factorise")


class SeFa(DirectionFinder):
    """Closed-form factorisation of the latent-reading weights (see the module docstring).

    Args:
        n_components: how many directions to keep (None: all d).
        layers: W+ layer selection of StyleGAN2 generators (an int, ints, ``"2-5"``; None: all);
            Z-only generators take None.
        normalize: L2-normalise each output unit's weight row first (the reference does).
        prefix: direction names are ``<prefix>_<k>``.

    Fitted attributes: ``directions_`` (unit eigenvectors as rows, largest eigenvalue first),
    ``eigenvalues_`` [d], ``matrix_`` (``A^T A``, float64 [d, d]), ``layer_names_`` (the weights
    used), ``fit_seconds_``.
    """

    fit_requires = ("generator",)

    def __init__(self, n_components: int | None = None, layers: Any = None,
                 normalize: bool = True, prefix: str = "sefa") -> None:
        self.n_components = n_components
        self.layers = layers
        self.normalize = normalize
        self.prefix = prefix

    def fit(self, bank: Any = None, scores: Any = None, *, generator: Any = None,
            scorer: Any = None, rng: Any = None) -> SeFa:
        self._check_fit_inputs(generator=generator)
        t0 = time.perf_counter()
        weight, space, sel, used = latent_weight(generator, self.layers)
        d = weight.shape[1]
        k = d if self.n_components is None else int(self.n_components)
        if not 1 <= k <= d:
            raise ShapeError(f"n_components={self.n_components} must be in [1, {d}] (the latent "
                             "dimension)")
        if self.normalize:
            norms = np.linalg.norm(weight, axis=1, keepdims=True)
            weight = weight / np.where(norms > 0, norms, 1.0)
        matrix = weight.T @ weight
        values, vectors = np.linalg.eigh(matrix)
        order = np.argsort(values)[::-1][:k]
        vecs = fix_signs(vectors[:, order].T)
        self.matrix_ = matrix
        self.eigenvalues_ = values[np.argsort(values)[::-1]]
        self.layer_names_ = used
        self.directions_ = Directions(
            vecs, space, names=[f"{self.prefix}_{i}" for i in range(k)], layers=sel,
            method="sefa", scores={"eigenvalue": values[order]},
            metadata={"layers": None if sel is None else list(sel), "weights": used,
                      "normalize": bool(self.normalize)},
            normalize=True)
        self.fit_seconds_ = time.perf_counter() - t0
        return self


__all__ = ["SeFa", "fix_signs", "latent_weight"]

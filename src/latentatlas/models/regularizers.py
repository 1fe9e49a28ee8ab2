"""Jacobian / Hessian regularisers of a generator: the Hessian Penalty and OroJaR.

One owner for both the training hooks (a regulariser added to the generator loss) and direction
discovery (a direction matrix that minimises the regulariser): every function here is a pure
function of a callable ``G`` and its input ``z``. ``G`` returns a tensor, or a list / tuple /
dict of tensors (several layers); the penalty of each output is computed separately and summed
(``return_separately=True`` gives the list instead).

Estimators (Rademacher vectors v, entries +-1, drawn from ``generator`` for reproducibility):

- **Hessian Penalty** (Peebles et al. 2020): per output element, the unbiased variance over k
  draws of v of the second directional derivative v^T H v, then a reduction over every element
  (max in training, mean in direction discovery). Its expected value per element is
  ``2 sum_{i != j} H_ij^2``: zero exactly when the Hessian is diagonal. ``estimator="fd"`` is the
  reference's central second difference ``(G(z + eps v) - 2 G(z) + G(z - eps v)) / eps^2``
  (exact for polynomials of degree <= 3); ``estimator="jvp"`` differentiates twice in forward mode
  (``torch.func.jvp`` of a ``torch.func.jvp``): no step size, no cancellation.
- **OroJaR** (Wei et al. 2021): per sample, the unbiased variance over k draws of v of
  ``||J v||^2`` over the whole output, then a reduction over the batch (max in training). Its
  expected value is ``2 sum_{i != j} (J^T J)_ij^2`` (:func:`orojar_expected`): zero exactly when
  the Jacobian's columns are orthogonal. ``estimator="fd"``: the reference's forward difference
  ``(G(z + eps v) - G(z)) / eps`` (exact for linear G); ``"jvp"``: J v from ``torch.func.jvp``.

Defaults are the references': k = 2, eps = 0.1, reduction max. :func:`layer_outputs` turns a
latentatlas generator and a layer list into such a callable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from latentatlas.utils.errors import ShapeError

#: Estimators of the directional derivatives.
ESTIMATORS = ("fd", "jvp")
#: Named reductions (a callable tensor -> scalar tensor is accepted too).
REDUCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "max": torch.max,
    "mean": torch.mean,
    "sum": torch.sum,
}
#: The pseudo-layer name of the generator's output image in :func:`layer_outputs`.
IMAGE = "image"


# --------------------------------------------------------------------------- helpers
def rademacher(shape: Sequence[int], *, generator: torch.Generator | None = None,
               device: Any = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A tensor of independent +-1 entries (drawn on the CPU from ``generator``)."""
    bits = torch.randint(0, 2, tuple(shape), generator=generator)
    return (bits * 2 - 1).to(device=device, dtype=dtype)


def _outputs(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, Mapping):
        return list(out.values())
    if isinstance(out, (list, tuple)) and all(isinstance(t, torch.Tensor) for t in out):
        return list(out)
    raise ShapeError(
        f"G must return a tensor or a list / tuple / dict of tensors, got {type(out).__name__}"
    )


def _reduction(reduction: str | Callable) -> Callable[[torch.Tensor], torch.Tensor]:
    if callable(reduction):
        return reduction
    if reduction not in REDUCTIONS:
        raise ShapeError(f"reduction must be one of {sorted(REDUCTIONS)} or a callable, "
                         f"got {reduction!r}")
    return REDUCTIONS[reduction]


def _check(z: torch.Tensor, k: int, epsilon: float, estimator: str) -> None:
    if not isinstance(z, torch.Tensor) or z.ndim < 1:
        raise ShapeError("z must be a tensor with a leading batch axis")
    if int(k) < 2:
        raise ShapeError(f"k (Rademacher samples) must be >= 2 for a variance, got {k}")
    if not epsilon > 0:
        raise ShapeError(f"epsilon must be > 0, got {epsilon}")
    if estimator not in ESTIMATORS:
        raise ShapeError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")


def _finish(per_output: list[torch.Tensor], reduce: Callable, return_separately: bool):
    values = [reduce(p) for p in per_output]
    if return_separately:
        return values
    return torch.stack([v.reshape(()) for v in values]).sum()


def directional_derivatives(
    G: Callable, z: torch.Tensor, v: torch.Tensor, *, order: int, estimator: str = "fd",
    epsilon: float = 0.1, G_z: Any = None,
) -> list[torch.Tensor]:
    """d^order/dt^order G(z + t v) at t = 0 for each output of G (``order`` 1 or 2).

    ``fd``: forward difference (order 1) or central second difference (order 2) with step
    ``epsilon``; ``jvp``: exact forward-mode derivatives. ``G_z`` may pass a precomputed G(z).
    """
    if order not in (1, 2):
        raise ShapeError(f"order must be 1 or 2, got {order}")
    if estimator == "jvp":
        if order == 1:
            return _outputs(torch.func.jvp(G, (z,), (v,))[1])

        def first(x: torch.Tensor):
            return torch.func.jvp(G, (x,), (v,))[1]

        return _outputs(torch.func.jvp(first, (z,), (v,))[1])
    base = _outputs(G(z) if G_z is None else G_z)
    step = epsilon * v
    plus = _outputs(G(z + step))
    if order == 1:
        return [(p - b) / epsilon for p, b in zip(plus, base, strict=True)]
    minus = _outputs(G(z - step))
    return [(p - 2 * b + m) / epsilon**2 for p, b, m in zip(plus, base, minus, strict=True)]


# --------------------------------------------------------------------------- the penalties
def hessian_penalty(
    G: Callable,
    z: torch.Tensor,
    *,
    k: int = 2,
    epsilon: float = 0.1,
    reduction: str | Callable = "max",
    estimator: str = "fd",
    G_z: Any = None,
    return_separately: bool = False,
    generator: torch.Generator | None = None,
    vectors: torch.Tensor | None = None,
):
    """The Hessian Penalty of G at z: reduction over output elements of Var_v(v^T H v).

    Args:
        G: callable z -> tensor (or list / tuple / dict of tensors, one penalty each, summed).
        z: the input batch [N, ...] (gradients flow to it and to G's parameters).
        k: Rademacher samples (>= 2). epsilon: finite-difference step. reduction: "max"
            (training default), "mean" (direction discovery), "sum" or a callable.
        estimator: "fd" (central second difference) or "jvp" (exact, torch.func).
        G_z: G(z) if already computed (fd only). return_separately: one value per output.
        generator: the torch.Generator the Rademacher vectors come from.
        vectors: [k, *z.shape] directions to use instead of drawing them (tests, comparisons).
    """
    _check(z, k, epsilon, estimator)
    v_all = _vectors(z, k, generator, vectors)
    seconds: list[list[torch.Tensor]] = []
    for v in v_all:
        seconds.append(directional_derivatives(G, z, v, order=2, estimator=estimator,
                                               epsilon=epsilon, G_z=G_z))
    per_output = [torch.stack(d).var(dim=0, unbiased=True) for d in zip(*seconds, strict=True)]
    return _finish(per_output, _reduction(reduction), return_separately)


def orojar(
    G: Callable,
    z: torch.Tensor,
    *,
    k: int = 2,
    epsilon: float = 0.1,
    reduction: str | Callable = "max",
    estimator: str = "fd",
    G_z: Any = None,
    return_separately: bool = False,
    generator: torch.Generator | None = None,
    vectors: torch.Tensor | None = None,
):
    """The OroJaR penalty of G at z: reduction over the batch of Var_v(||J v||^2).

    Same arguments as :func:`hessian_penalty`; the reduction runs over the N per-sample
    variances (the reference: max). ``estimator="fd"`` is the forward difference.
    """
    _check(z, k, epsilon, estimator)
    v_all = _vectors(z, k, generator, vectors)
    if estimator == "fd" and G_z is None:
        G_z = G(z)
    norms: list[list[torch.Tensor]] = []
    for v in v_all:
        jv = directional_derivatives(G, z, v, order=1, estimator=estimator, epsilon=epsilon,
                                     G_z=G_z)
        norms.append([t.reshape(t.shape[0], -1).square().sum(dim=1) for t in jv])
    per_output = [torch.stack(d).var(dim=0, unbiased=True) for d in zip(*norms, strict=True)]
    return _finish(per_output, _reduction(reduction), return_separately)


def _vectors(z: torch.Tensor, k: int, generator, vectors) -> torch.Tensor:
    if vectors is None:
        return rademacher((int(k), *z.shape), generator=generator, device=z.device, dtype=z.dtype)
    vectors = torch.as_tensor(vectors, dtype=z.dtype, device=z.device)
    if tuple(vectors.shape) != (int(k), *z.shape):
        raise ShapeError(f"vectors must have shape {[int(k), *z.shape]}, got {list(vectors.shape)}")
    return vectors


# --------------------------------------------------------------------------- exact values
def jacobians(G: Callable, z: torch.Tensor) -> list[torch.Tensor]:
    """Per-sample Jacobians [N, out, in] of each output of G at z [N, in] (torch.func.jacfwd;
    G must treat samples independently). For small networks: tests and estimator studies."""
    if z.ndim != 2:
        raise ShapeError(f"jacobians needs z of shape [N, d], got {list(z.shape)}")

    def one(x: torch.Tensor):
        return [t.reshape(-1) for t in _outputs(G(x[None]))]

    jac = torch.func.vmap(torch.func.jacfwd(one))(z)
    return list(jac)


def orojar_expected(G: Callable, z: torch.Tensor, reduction: str | Callable = "max",
                    return_separately: bool = False):
    """The expected value of :func:`orojar` over v: per sample ``2 sum_{i != j} (J^T J)_ij^2``,
    then the reduction over the batch (exact Jacobians; the estimators are unbiased for it)."""
    per_output = []
    for jac in jacobians(G, z):
        gram = jac.transpose(1, 2) @ jac
        off = gram - torch.diag_embed(torch.diagonal(gram, dim1=1, dim2=2))
        per_output.append(2 * off.square().sum(dim=(1, 2)))
    return _finish(per_output, _reduction(reduction), return_separately)


# --------------------------------------------------------------------------- generator layers
def layer_outputs(generator: Any, layers: Sequence[str] | str | None = None,
                  space: str = "z", **synth_kwargs: Any) -> Callable[[torch.Tensor], list]:
    """A callable latent -> [activations of ``layers``] of a latentatlas generator.

    ``layers``: generator layer names (see ``generator.layer_names()``) and/or ``"image"`` (the
    output image); None means the image only. Unknown names raise one ShapeError listing the
    known ones. ``space``: the latent space the callable's input lives in.
    """
    if layers is None:
        layers = [IMAGE]
    elif isinstance(layers, str):
        layers = [s.strip() for s in layers.split(",") if s.strip()]
    layers = list(layers)
    if not layers:
        raise ShapeError("no layers given for the regulariser")
    if space not in getattr(generator, "spaces", ("z",)):
        raise ShapeError(f"{type(generator).__name__} has latent spaces "
                         f"{tuple(generator.spaces)}; got space={space!r}")
    named = [n for n in layers if n != IMAGE]
    if named:
        try:
            known = list(generator.layer_names())
        except NotImplementedError:
            known = []
        unknown = [n for n in named if n not in known]
        if unknown:
            raise ShapeError(f"{type(generator).__name__} has no layer(s) {unknown}; known: "
                             f"{[IMAGE, *known]}")

    def call(latent: torch.Tensor) -> list[torch.Tensor]:
        acts = generator.activations(latent, space, named, **synth_kwargs) if named else {}
        out = []
        for n in layers:
            out.append(generator.synthesize(latent, space, **synth_kwargs) if n == IMAGE
                       else acts[n])
        return out

    return call


__all__ = [
    "ESTIMATORS",
    "IMAGE",
    "REDUCTIONS",
    "directional_derivatives",
    "hessian_penalty",
    "jacobians",
    "layer_outputs",
    "orojar",
    "orojar_expected",
    "rademacher",
]

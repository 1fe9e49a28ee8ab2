"""The direction-finder protocol: scikit-learn estimators that learn directions in ``fit``.

Every direction method is a :class:`DirectionFinder` (a ``sklearn.base.BaseEstimator``):

- ``__init__`` only stores its keyword arguments under their own names (no validation, no
  derived state), so ``get_params(deep)``, ``set_params`` and ``sklearn.base.clone`` work and a
  grid search can set any hyperparameter;
- ``fit`` validates the hyperparameters and the inputs, learns, sets the fitted attributes
  (names ending in ``_``; at least ``directions_``, a :class:`Directions`) and returns ``self``;
- its signature is::

      fit(bank=None, scores=None, *, generator=None, scorer=None, rng=None, **method_options)

  ``bank``: latent codes [N, d] / [N, L, d] (or a latent bank object with ``latents(space)`` and
  ``scores``); ``scores``: [N] / [N, m] attribute scores of those codes (or a score name of the
  bank); ``generator``: a :class:`~latentatlas.models.Generator`; ``scorer``: images -> scores;
  ``rng``: a seed or numpy Generator for methods that sample. Each method uses what it needs and
  ignores the rest: SeFa the generator's weights, GANSpace samples from the generator (or a
  bank), SVM boundaries a bank and its scores, trained walks a generator and a scorer. The
  inputs a method needs are listed in its ``fit_requires``; a missing one is a ``ShapeError``
  naming it. ``bank`` and ``scores`` come first and are the only positional arguments so that
  ``fit(X, y)`` (what scikit-learn's model selection calls) means "codes, scores".

A finder whose directions can be judged on held-out codes also defines ``score(X, y)`` (higher is
better), which makes it usable with ``GridSearchCV`` (see :class:`SVMBoundary`). Methods that
learn a non-linear walk set ``walk_`` (a :class:`~latentatlas.directions.walks.Walk`) as well.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sklearn.base import BaseEstimator

from latentatlas.utils.errors import ShapeError

#: The inputs a finder's ``fit`` may use.
FIT_INPUTS = ("bank", "scores", "generator", "scorer")


class DirectionFinder(BaseEstimator):
    """Base class of direction methods (the finder protocol, see the module docstring)."""

    #: The ``fit`` inputs this method needs (a subset of :data:`FIT_INPUTS`).
    fit_requires: ClassVar[tuple[str, ...]] = ()

    def fit(
        self,
        bank: Any = None,
        scores: Any = None,
        *,
        generator: Any = None,
        scorer: Any = None,
        rng: Any = None,
    ) -> DirectionFinder:
        """Learn the directions; sets ``directions_`` and returns ``self``."""
        raise NotImplementedError

    def _check_fit_inputs(self, **inputs: Any) -> None:
        """ShapeError naming every input of ``fit_requires`` that is None."""
        missing = [n for n in self.fit_requires if inputs.get(n) is None]
        if missing:
            raise ShapeError(
                f"{type(self).__name__}.fit needs {' and '.join(missing)} "
                f"(it uses: {', '.join(self.fit_requires)})"
            )

    def _check_fitted(self) -> None:
        if not hasattr(self, "directions_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call fit() first")


__all__ = ["FIT_INPUTS", "DirectionFinder"]

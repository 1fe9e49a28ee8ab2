"""Sampling with attribute values set explicitly (GAN-Control's controllers).

:func:`controlled_w` samples w codes of a grouped generator (truncated as the generator's own
:meth:`~latentatlas.models.base.Generator.sample` does: the one place truncation happens) and
replaces the set attributes' groups by their controllers' outputs; :func:`controlled_images`
synthesises them. Any subset of the controlled attributes can be set; the other groups stay
random.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from latentatlas.utils.errors import OptionError


def controlled_w(G: Any, controllers: Any, settings: dict[str, Any], n: int,
                 rng: np.random.Generator | int | None = 0,
                 truncation_psi: float = 1.0) -> torch.Tensor:
    """n w codes [n, w_dim] with ``settings`` ({attribute: value, or one value per code}) set."""
    if int(G.w_dim) != controllers.w_dim:
        raise OptionError(f"the controllers are for w_dim {controllers.w_dim}, the generator has "
                          f"{G.w_dim}: use the controllers trained on this generator")
    for name in settings:
        controllers.attribute(name)  # unknown names -> one clear error before sampling
    w = G.sample(n, "w", rng=rng, truncation_psi=truncation_psi)
    with torch.no_grad():
        return controllers.set_w(w.cpu(), settings).to(w.device)


def controlled_images(G: Any, controllers: Any, settings: dict[str, Any], n: int,
                      rng: np.random.Generator | int | None = 0, truncation_psi: float = 1.0,
                      batch_size: int = 64) -> torch.Tensor:
    """Images [n, C, H, W] in [-1, 1] with ``settings`` set (:func:`controlled_w`)."""
    w = controlled_w(G, controllers, settings, n, rng, truncation_psi)
    return G.synthesize_batched(w, "w", batch_size=batch_size)


__all__ = ["controlled_images", "controlled_w"]

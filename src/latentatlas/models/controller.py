"""GAN-Control's controllers: per attribute, an MLP from a wanted value to its group's w.

A :class:`ControllerSet` holds one MLP per controlled attribute (the reference's: 4 layers, 512
wide) mapping an interpretable value y_k to the w slice of the attribute's group in a
:class:`~latentatlas.models.grouped.GroupedStyleGAN2Generator`. Values are

- ``categorical`` (a class index: a floor hue, a shape): the MLP's input is its one-hot code;
- ``continuous`` (a scale, an age, a predictor's expected class index): the MLP's input is the
  value rescaled to [-1, 1] over the range the controller saw in training, and values outside
  that range are refused (an MLP extrapolates arbitrarily).

:meth:`ControllerSet.set_w` replaces the set groups' slices of given w codes, so any group can be
set explicitly and the rest sampled; :class:`ControlWalk` is the same as a walk on w whose
argument is the target value. Trained by :func:`latentatlas.training.controllers.fit_controllers`
(L1 on (w_k, y_k) pairs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from latentatlas.io.persistence import ConfigModule, register_model
from latentatlas.utils.errors import OptionError, ShapeError

KINDS = ("categorical", "continuous")


def _check_attribute(a: dict[str, Any], w_slices: dict[str, Sequence[int]]) -> dict[str, Any]:
    name = str(a.get("name", ""))
    if not name:
        raise ValueError(f"each controlled attribute needs a name, got {a!r}")
    if a.get("kind") not in KINDS:
        raise ValueError(f"attribute {name!r}: kind must be one of {KINDS}, got {a.get('kind')!r}")
    if a.get("group") not in w_slices:
        raise ValueError(f"attribute {name!r}: group {a.get('group')!r} is not one of "
                         f"{', '.join(w_slices)}")
    out = {"name": name, "kind": a["kind"], "group": a["group"]}
    if a["kind"] == "categorical":
        k = a.get("num_classes")
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise ValueError(f"attribute {name!r}: num_classes must be an integer >= 2")
        out["num_classes"] = k
    else:
        lo, hi = float(a.get("low", math.nan)), float(a.get("high", math.nan))
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ValueError(f"attribute {name!r}: needs a finite range low < high")
        out.update(low=lo, high=hi)
    return out


@register_model
class ControllerSet(ConfigModule):
    """One MLP per attribute (module docstring).

    Args:
        attributes: ``[{"name", "kind", "group", "num_classes" | "low", "high"}]``.
        w_slices: each group's ``[start, stop)`` columns of w (the generator's
            ``group_slices("w")``), so the set edits w codes without the generator.
        w_dim: the generator's w size.
        hidden: MLP width (512, the reference's). layers: linear layers (4).
    """

    config_fields = ("attributes", "w_slices", "w_dim", "hidden", "layers")

    def __init__(self, attributes: Sequence[dict[str, Any]] = (),
                 w_slices: dict[str, Sequence[int]] | None = None, w_dim: int = 1,
                 hidden: int = 512, layers: int = 4) -> None:
        super().__init__()
        w_slices = {str(k): [int(v[0]), int(v[1])] for k, v in (w_slices or {}).items()}
        for g, (a, b) in w_slices.items():
            if not 0 <= a < b <= w_dim:
                raise ValueError(f"group {g!r}: w slice [{a}, {b}) does not fit w_dim {w_dim}")
        self.attributes = [_check_attribute(a, w_slices) for a in attributes]
        names = [a["name"] for a in self.attributes]
        groups = [a["group"] for a in self.attributes]
        if len(set(names)) != len(names) or len(set(groups)) != len(groups):
            raise ValueError("each attribute needs its own name and its own group")
        if layers < 1 or hidden < 1:
            raise ValueError("layers and hidden must be >= 1")
        self.w_slices, self.w_dim = w_slices, int(w_dim)
        self.mlps = nn.ModuleDict()
        for a in self.attributes:
            a_in = a.get("num_classes", 1)
            a_out = w_slices[a["group"]][1] - w_slices[a["group"]][0]
            sizes = [a_in] + [hidden] * (layers - 1) + [a_out]
            mods: list[nn.Module] = []
            for i in range(layers):
                mods.append(nn.Linear(sizes[i], sizes[i + 1]))
                if i < layers - 1:
                    mods.append(nn.LeakyReLU(0.2))
            self.mlps[a["name"]] = nn.Sequential(*mods)

    # ------------------------------------------------------------------ values
    @property
    def names(self) -> list[str]:
        return [a["name"] for a in self.attributes]

    def attribute(self, name: str) -> dict[str, Any]:
        for a in self.attributes:
            if a["name"] == name:
                return a
        raise OptionError(f"no controller for {name!r}; controlled attributes: "
                          f"{', '.join(self.names)}")

    def value_range(self, name: str) -> str:
        a = self.attribute(name)
        if a["kind"] == "categorical":
            return f"a class index 0..{a['num_classes'] - 1}"
        return f"a number in [{a['low']:.4g}, {a['high']:.4g}]"

    def encode(self, name: str, values: Any) -> torch.Tensor:
        """The MLP input for ``values`` ([N] or a number); refuses values the controller never
        saw (a class out of range, a non-integer class, a number outside [low, high])."""
        a = self.attribute(name)
        v = np.atleast_1d(np.asarray(values, dtype=np.float64)).reshape(-1)
        if not np.isfinite(v).all():
            raise OptionError(f"{name}: values must be finite numbers")
        if a["kind"] == "categorical":
            k = a["num_classes"]
            if (v != np.round(v)).any() or (v < 0).any() or (v >= k).any():
                raise OptionError(f"{name}={v[0]:g}: the controller takes {self.value_range(name)}")
            idx = torch.as_tensor(v.astype(np.int64))
            return torch.nn.functional.one_hot(idx, k).float()
        lo, hi = a["low"], a["high"]
        tol = 1e-9 * (hi - lo)
        if (v < lo - tol).any() or (v > hi + tol).any():
            bad = v[(v < lo - tol) | (v > hi + tol)][0]
            raise OptionError(f"{name}={bad:g} is outside the range the controller saw: give "
                              f"{self.value_range(name)}")
        return torch.as_tensor((2 * (v - lo) / (hi - lo) - 1)[:, None], dtype=torch.float32)

    def forward(self, name: str, values: Any) -> torch.Tensor:
        """w_k [N, group size] for the wanted ``values`` of attribute ``name``."""
        x = self.encode(name, values)
        mlp = self.mlps[name]
        return mlp(x.to(next(mlp.parameters()).device))

    def set_w(self, w: torch.Tensor, settings: dict[str, Any]) -> torch.Tensor:
        """w [N, w_dim] (or W+ [N, L, w_dim]) with each set attribute's group replaced by its
        controller's output (one value for all codes, or one per code); others unchanged."""
        if w.shape[-1] != self.w_dim:
            raise ShapeError(f"w codes must have {self.w_dim} columns, got {w.shape[-1]}")
        out = w.clone()
        n = w.shape[0]
        for name, value in settings.items():
            a = self.attribute(name)
            v = np.atleast_1d(np.asarray(value, dtype=np.float64)).reshape(-1)
            if v.shape[0] not in (1, n):
                raise ShapeError(f"{name}: one value or one per code ({n}), got {v.shape[0]}")
            wk = self(name, np.broadcast_to(v, (n,))).to(out)
            a_, b_ = self.w_slices[a["group"]]
            out[..., a_:b_] = wk.unsqueeze(1) if out.ndim == 3 else wk
        return out

    def walk_for(self, name: str) -> ControlWalk:
        return ControlWalk(self, name)


class ControlWalk:
    """A controller as a walk on w: ``walk(w, alpha)`` sets attribute ``name`` to the value
    ``alpha`` (a target value, not an amount: unlike a linear walk, alpha = 0 means "class 0" /
    "the value 0", and the codes' own value of the attribute is replaced, not moved)."""

    space = "w"

    def __init__(self, controllers: ControllerSet, name: str) -> None:
        controllers.attribute(name)
        self.controllers, self.name = controllers, name

    def walk(self, latent: Any, alpha: Any, layers: Any = None) -> Any:
        if layers is not None:
            raise OptionError("a controller sets its group on every layer; layers= must be None")
        is_np = not isinstance(latent, torch.Tensor)
        w = torch.as_tensor(np.asarray(latent) if is_np else latent, dtype=torch.float32)
        with torch.no_grad():
            out = self.controllers.set_w(w, {self.name: alpha})
        return out.numpy() if is_np else out


__all__ = ["KINDS", "ControlWalk", "ControllerSet"]

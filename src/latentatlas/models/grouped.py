"""GAN-Control's generator: StyleGAN2 with its latent split into named groups (Shoshan et al. 2021).

Each group (one per controlled attribute, plus "other") has a mapping network of its own from its
slice of z to its slice of w; W is their concatenation, and the synthesis network is StyleGAN2's,
unchanged. A contrastive loss (:mod:`latentatlas.training.contrastive`) then ties each group to
one attribute, and per-attribute controllers (:mod:`latentatlas.models.controller`) set a group's
w from a wanted attribute value.

Parameter names: ``synthesis.*`` are StyleGAN2's official ones, so the synthesis network warm
starts from a plain StyleGAN2 of the same resolution and w size
(:meth:`GroupedStyleGAN2Generator.from_stylegan2`); the group mapping networks are
``mapping.nets.<group>.fc{i}`` and the tracked average ``mapping.w_avg`` (the concatenation's).
Truncation stays in one place, the base generator's (toward ``mapping.w_avg``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from latentatlas.io.persistence import register_model
from latentatlas.models.layers import MappingNetwork
from latentatlas.models.stylegan2 import StyleGAN2Generator
from latentatlas.utils.errors import ShapeError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def normalize_groups(groups: Sequence[dict[str, Any]], z_dim: int | None = None,
                     w_dim: int | None = None) -> list[dict[str, Any]]:
    """Checked group specs ``[{"name", "w_dim", "z_dim"}]`` (``z_dim`` defaults to ``w_dim``).

    Raises ValueError when a name is not an identifier or repeats, a size is not a positive
    integer, or the sizes do not add up to ``w_dim`` / ``z_dim`` (when given).
    """
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence) or not groups:
        raise ValueError("groups must be a non-empty list of {'name', 'w_dim'[, 'z_dim']}")
    out, seen = [], set()
    for g in groups:
        if not isinstance(g, dict) or "name" not in g or "w_dim" not in g:
            raise ValueError(f"each group needs a 'name' and a 'w_dim', got {g!r}")
        name = str(g["name"])
        if not _NAME.match(name) or name in seen:
            raise ValueError(f"group names must be distinct identifiers, got {name!r}")
        seen.add(name)
        sizes = {k: g.get(k, g["w_dim"]) for k in ("w_dim", "z_dim")}
        for k, v in sizes.items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"group {name!r}: {k} must be a positive integer, got {v!r}")
        out.append({"name": name, **sizes})
    for key, total in (("w_dim", w_dim), ("z_dim", z_dim)):
        got = sum(g[key] for g in out)
        if total is not None and got != total:
            raise ValueError(
                f"the groups' {key} add up to {got}, not the generator's {key} {total}: "
                f"make the group sizes ({', '.join(str(g[key]) for g in out)}) sum to {total}")
    return out


class GroupedMapping(nn.Module):
    """One mapping network per group: z [N, sum z_k] -> w [N, sum w_k] (concatenated)."""

    def __init__(self, groups: Sequence[dict[str, Any]], num_layers: int,
                 lr_multiplier: float) -> None:
        super().__init__()
        self.groups = normalize_groups(groups)
        self.z_dim = sum(g["z_dim"] for g in self.groups)
        self.w_dim = sum(g["w_dim"] for g in self.groups)
        self.c_dim = 0
        self.nets = nn.ModuleDict({
            g["name"]: MappingNetwork(g["z_dim"], 0, g["w_dim"], num_layers=num_layers,
                                      lr_multiplier=lr_multiplier, track_w_avg=False)
            for g in self.groups})
        self.register_buffer("w_avg", torch.zeros(self.w_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if z.shape[1] != self.z_dim:
            raise ShapeError(f"grouped mapping: z must have {self.z_dim} columns, got {z.shape[1]}")
        parts, start = [], 0
        for g in self.groups:
            # Each group's mapping normalises its own slice of z (its own 2nd moment).
            parts.append(self.nets[g["name"]](z[:, start:start + g["z_dim"]]))
            start += g["z_dim"]
        return torch.cat(parts, dim=1)


@register_model
class GroupedStyleGAN2Generator(StyleGAN2Generator):
    """StyleGAN2 whose z and w are split into named groups, one mapping network each.

    Args:
        groups: ``[{"name": "floor_hue", "w_dim": 16, "z_dim": 16}, ..., {"name": "other", ...}]``
            (``z_dim`` defaults to ``w_dim``); the ``w_dim`` values must add up to ``w_dim`` and
            the ``z_dim`` values to ``z_dim`` (None: their sum).
        the rest: as :class:`StyleGAN2Generator` (unconditional only: ``c_dim`` 0).
    """

    config_fields = StyleGAN2Generator.config_fields + ("groups",)

    def __init__(self, groups: Sequence[dict[str, Any]] = ({"name": "other", "w_dim": 512},),
                 z_dim: int | None = None, w_dim: int | None = None, c_dim: int = 0,
                 img_resolution: int = 64, img_channels: int = 3, mapping_layers: int = 8,
                 channel_base: int = 32768, channel_max: int = 512,
                 conv_clamp: float | None = None, mapping_lr_multiplier: float = 0.01,
                 embed_features: int | None = None, layer_features: int | None = None,
                 w_avg_beta: float = 0.995, num_fp16_res: int = 0, impl: str = "fast",
                 dtype: str = "auto") -> None:
        groups = normalize_groups(groups)
        w_dim = sum(g["w_dim"] for g in groups) if w_dim is None else w_dim
        z_dim = sum(g["z_dim"] for g in groups) if z_dim is None else z_dim
        groups = normalize_groups(groups, z_dim, w_dim)
        if c_dim:
            raise ValueError("a grouped generator is unconditional: c_dim must be 0")
        if embed_features is not None or layer_features is not None:
            raise ValueError("a grouped generator's mappings are as wide as their group: leave "
                             "embed_features / layer_features unset")
        super().__init__(z_dim, w_dim, 0, img_resolution, img_channels, mapping_layers,
                         channel_base, channel_max, conv_clamp, mapping_lr_multiplier, None,
                         None, w_avg_beta, num_fp16_res, impl, dtype)
        self.groups = groups
        # Replaces the plain mapping network the parent built (the synthesis is unchanged).
        self.mapping = GroupedMapping(groups, mapping_layers, mapping_lr_multiplier)

    # ----------------------------------------------------------------- groups
    @property
    def group_names(self) -> list[str]:
        return [g["name"] for g in self.groups]

    def group_slices(self, space: str = "w") -> dict[str, slice]:
        """Each group's columns in z (``space="z"``) or w (``"w"``; per layer in W+)."""
        if space not in ("z", "w"):
            raise ValueError(f"group slices exist in 'z' and 'w', not {space!r}")
        out, start = {}, 0
        for g in self.groups:
            size = g[f"{space}_dim"]
            out[g["name"]] = slice(start, start + size)
            start += size
        return out

    def group_slice(self, name: str, space: str = "w") -> slice:
        slices = self.group_slices(space)
        if name not in slices:
            raise KeyError(f"no group {name!r}; groups: {', '.join(slices)}")
        return slices[name]

    def set_groups(self, w: torch.Tensor, values: dict[str, torch.Tensor]) -> torch.Tensor:
        """w [N, w_dim] (or W+ [N, L, w_dim]) with the named groups' slices replaced by
        ``values[name]`` ([N, w_k] or [w_k]); a new tensor, the others' columns unchanged."""
        out = w.clone()
        for name, v in values.items():
            sl = self.group_slice(name)
            v = torch.as_tensor(v, dtype=out.dtype, device=out.device)
            if v.shape[-1] != sl.stop - sl.start:
                raise ShapeError(f"group {name!r} has {sl.stop - sl.start} w columns, the value "
                                 f"{v.shape[-1]}")
            out[..., sl] = v.unsqueeze(-2) if out.ndim == 3 and v.ndim == 2 else v
        return out

    # ----------------------------------------------------------------- warm start
    @torch.no_grad()
    def absorb_linear_w(self, basis: torch.Tensor, shift: torch.Tensor) -> None:
        """Make the synthesis read ``basis @ w + shift`` where it read w: every style affine
        A(w) becomes A(basis w + shift), and the tracked average moves to
        ``basis^T (w_avg - shift)`` (truncation stays truncation; ``basis`` orthonormal,
        [w_dim, w_dim]). Used to start each group's w columns on the W directions that already
        carry its attribute (:func:`latentatlas.training.control_run.attribute_basis`)."""
        basis = torch.as_tensor(basis, dtype=torch.float32)
        shift = torch.as_tensor(shift, dtype=torch.float32).reshape(-1)
        if basis.shape != (self.w_dim, self.w_dim) or shift.shape != (self.w_dim,):
            raise ShapeError(f"basis must be [{self.w_dim}, {self.w_dim}] and shift "
                             f"[{self.w_dim}], got {list(basis.shape)}, {list(shift.shape)}")
        eye = torch.eye(self.w_dim)
        if not torch.allclose(basis.T @ basis, eye, atol=1e-4):
            raise ValueError("basis must be orthonormal (basis^T basis = I)")
        for affine in self.style_affines().values():
            old = affine.weight.detach().float().clone()
            affine.weight.copy_(old @ basis.to(old))
            gain = affine.weight_gain / affine.bias_gain
            affine.bias.add_(gain * (old @ shift.to(old)))
        self.mapping.w_avg.copy_(basis.T.to(self.mapping.w_avg) @
                                 (self.mapping.w_avg - shift.to(self.mapping.w_avg)))

    @classmethod
    def from_stylegan2(cls, plain: StyleGAN2Generator, groups: Sequence[dict[str, Any]],
                       seed: int = 0, **kwargs: Any) -> GroupedStyleGAN2Generator:
        """A grouped generator whose synthesis network is ``plain``'s (same resolution, channels
        and w size); fresh group mappings drawn with ``seed``, except that a single group as
        large as ``plain``'s z and w takes over ``plain``'s mapping (then the two generators are
        the same function). ``kwargs`` override constructor arguments (``impl``, ``dtype``)."""
        cfg = dict(plain.config_kwargs)
        if cfg.get("c_dim"):
            raise ValueError("warm start needs an unconditional StyleGAN2 (c_dim 0)")
        cfg.pop("embed_features", None), cfg.pop("layer_features", None), cfg.pop("c_dim", None)
        # The plain model's runtime choices too (its compute dtype), unless overridden.
        cfg.update(z_dim=None, w_dim=plain.w_dim, impl=plain.impl, dtype=plain.synthesis.dtype)
        cfg.update(kwargs)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            G = cls(groups=groups, **cfg)
        G.synthesis.load_state_dict(plain.synthesis.state_dict())
        one = (len(G.groups) == 1 and G.z_dim == plain.z_dim
               and plain.config_kwargs.get("layer_features") in (None, plain.w_dim))
        if one:
            G.mapping.nets[G.group_names[0]].load_state_dict(
                {k: v for k, v in plain.mapping.state_dict().items() if k != "w_avg"})
            G.mapping.w_avg.copy_(plain.mapping.w_avg)
        else:
            # New mappings: start the tracked average at their mean (truncation works at once).
            with torch.no_grad():
                z = torch.randn(4096, G.z_dim, generator=torch.Generator().manual_seed(seed))
                G.mapping.w_avg.copy_(G.mapping(z).mean(dim=0))
        return G.to(plain.device)


__all__ = ["GroupedMapping", "GroupedStyleGAN2Generator", "normalize_groups"]

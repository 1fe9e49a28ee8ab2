"""Edits along latent directions: InterFaceGAN interpolation (signed distances), offsets, HiGAN
layer-selective edits with truncation compensation, joint edits, jittering, style mixing, and
rendering to image grids / GIFs."""

from latentatlas.editing.edits import (
    interpolate,
    jitter,
    joint_edit,
    layer_offsets,
    move,
    style_mix,
    truncation_strengths,
)
from latentatlas.editing.render import render_edit_gif, render_edit_grid

__all__ = [
    "interpolate",
    "jitter",
    "joint_edit",
    "layer_offsets",
    "move",
    "render_edit_gif",
    "render_edit_grid",
    "style_mix",
    "truncation_strengths",
]

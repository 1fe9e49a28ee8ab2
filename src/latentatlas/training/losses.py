"""GAN losses and regularisers (StyleGAN2-ADA conventions).

All functions return per-sample values (shape [N]) so that callers choose the reduction and the
lazy-regularisation gain; logits are cast to float32 first, so bf16 autocast never reaches the
softplus.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def d_logistic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator logistic loss per sample: softplus(D(fake)) + softplus(-D(real))."""
    return F.softplus(fake_logits.float()) + F.softplus(-real_logits.float())


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss per sample: softplus(-D(G(z)))."""
    return F.softplus(-fake_logits.float())


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 penalty per sample: ||d D(x) / d x||^2 over the real images (Mescheder et al. 2018).

    ``real_images`` must be the leaf that required grad when ``real_logits`` was computed. The graph
    is kept (create_graph) so that the penalty can be back-propagated into D.
    """
    (grad,) = torch.autograd.grad(
        outputs=real_logits.float().sum(), inputs=real_images, create_graph=True
    )
    return grad.float().square().sum(dim=[1, 2, 3])


def path_lengths(images: torch.Tensor, ws: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Per-sample path lengths ||J_w^T y||, y = noise / sqrt(H W) (StyleGAN2's PL regulariser).

    ``noise`` is N(0, 1) of the images' shape; ``ws`` ([N, num_ws, w_dim]) is the tensor the images
    were synthesised from, with requires_grad. The graph is kept so the penalty
    ``(path_lengths - pl_mean)^2`` can be back-propagated into G; the caller keeps ``pl_mean``
    (an EMA with decay 0.01 in the reference), which lets data-parallel runs average it over ranks.
    """
    h, w = images.shape[2], images.shape[3]
    pl_noise = noise / math.sqrt(h * w)
    (grad,) = torch.autograd.grad(
        outputs=(images.float() * pl_noise).sum(), inputs=ws, create_graph=True
    )
    return grad.float().square().sum(dim=2).mean(dim=1).sqrt()

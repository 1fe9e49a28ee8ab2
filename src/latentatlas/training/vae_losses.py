"""Objectives of the beta-VAE family, with disentanglement_lib's definitions.

Every objective adds a regulariser to the reconstruction loss (both averaged over the batch)::

    loss = mean_i recon_i + regulariser(kl, mu, logvar, z, step)

where ``kl`` is the batch mean of the closed-form KL(q(z|x) || N(0, I)).

- :class:`BetaVAE`: ``beta * KL``.
- :class:`AnnealedVAE` (Burgess et al.): ``gamma * |KL - C|``, ``C = min(c_max, c_max * step /
  iteration_threshold)``.
- :class:`FactorVAE`: ``KL + gamma * TC`` with TC = E[logit_real - logit_permuted] from a
  discriminator (6 x 1000 leaky-ReLU units) trained to tell codes from dimension-wise permuted
  codes.
  The discriminator is trained on DETACHED codes, so its loss never reaches the encoder.
- :class:`BetaTCVAE`: ``KL + (beta - 1) * TC`` with the minibatch-weighted sampling estimate of TC.
- :class:`DIPVAE` (types "i" and "ii"): ``KL + lambda_od * sum offdiag(Cov)^2 + lambda_d * sum
  (diag(Cov) - 1)^2`` with ``Cov = Cov[mu]`` (I) or ``E[diag(exp(logvar))] + Cov[mu]`` (II) and
  ``lambda_d = lambda_d_factor * lambda_od``.

Difference from disentanglement_lib, documented: its total-correlation estimate drops the
``-log(batch_size)`` normalisers (a constant; gradients are identical). :func:`total_correlation`
keeps them by default so that the logged TC is a consistent estimate (it approaches the true TC of
the aggregate posterior as the batch grows); ``normalised=False`` gives disentanglement_lib's value.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

OBJECTIVES = ("betavae", "annealedvae", "factorvae", "betatcvae", "dipvae1", "dipvae2")

_LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------------- building blocks
def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-sample KL(N(mu, exp(logvar)) || N(0, I)) in closed form, summed over dims: shape [N]."""
    return 0.5 * (mu.square() + logvar.exp() - logvar - 1.0).sum(1)


def gaussian_log_density(
    samples: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor
) -> torch.Tensor:
    """Element-wise log N(samples; mean, exp(logvar)) (broadcasting)."""
    diff = samples - mean
    return -0.5 * (diff.square() * torch.exp(-logvar) + logvar + _LOG_2PI)


def total_correlation(
    z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, normalised: bool = True
) -> torch.Tensor:
    """Minibatch-weighted-sampling estimate of TC(q(z)) = KL(q(z) || prod_j q(z_j)) (a scalar).

    ``z[i]`` is a sample of q(z | x_i) = N(mu[i], exp(logvar[i])); the aggregate posterior is the
    batch mixture: log q(z_i) ~= logsumexp_k log q(z_i | x_k) - log N (and per dimension alike).
    With ``normalised=False`` the ``log N`` terms are dropped as in disentanglement_lib, which
    shifts the value by ``-(D - 1) log N`` and leaves the gradient unchanged.
    """
    # log q(z_i[d] | x_k[d]) for every pair (i, k): [N, N, D]
    log_qz_pairs = gaussian_log_density(z.unsqueeze(1), mu.unsqueeze(0), logvar.unsqueeze(0))
    log_qz = torch.logsumexp(log_qz_pairs.sum(2), dim=1)  # [N]
    log_qz_product = torch.logsumexp(log_qz_pairs, dim=1).sum(1)  # [N]
    tc = (log_qz - log_qz_product).mean()
    if normalised:
        n, d = z.shape
        tc = tc + (d - 1) * math.log(n)
    return tc


def shuffle_codes(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Permute every latent dimension independently across the batch (samples prod_j q(z_j))."""
    n, d = z.shape
    perms = torch.argsort(torch.rand(n, d, generator=generator, device=z.device), dim=0)
    return torch.gather(z, 0, perms)


def covariance_z_mean(mu: torch.Tensor) -> torch.Tensor:
    """Cov_x[mu(x)] = E[mu mu^T] - E[mu] E[mu]^T over the batch (biased, as disentanglement_lib)."""
    centred = mu - mu.mean(0, keepdim=True)
    return centred.T @ centred / mu.shape[0]


def dip_regulariser(cov: torch.Tensor, lambda_od: float, lambda_d: float) -> torch.Tensor:
    """lambda_od * sum of squared off-diagonal entries + lambda_d * sum (diagonal - 1)^2."""
    diag = torch.diagonal(cov)
    off = cov - torch.diag(diag)
    return lambda_od * off.square().sum() + lambda_d * (diag - 1.0).square().sum()


class FactorDiscriminator(nn.Module):
    """FactorVAE discriminator: 6 dense layers of ``hidden`` units (leaky ReLU 0.2), then 2 logits.

    Logit 0 means "a sample of q(z)", logit 1 "a sample of prod_j q(z_j)" (permuted codes).
    """

    def __init__(self, latent_dim: int, hidden: int = 1000, num_layers: int = 6):
        super().__init__()
        layers: list[nn.Module] = []
        d_in = latent_dim
        for _ in range(num_layers):
            layers += [nn.Linear(d_in, hidden), nn.LeakyReLU(0.2)]
            d_in = hidden
        layers.append(nn.Linear(d_in, 2))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


# ---------------------------------------------------------------------------------- objectives
class Objective:
    """Base class: the regulariser added to the mean reconstruction loss."""

    name: str = "objective"

    def regulariser(
        self,
        kl: torch.Tensor,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        z: torch.Tensor,
        step: int,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """(regulariser scalar, extra scalars to log). ``kl`` is the batch-mean KL."""
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments (for run records and model cards)."""
        return {}

    def config(self) -> dict[str, Any]:
        return {"objective": self.name, **self.hyperparameters()}


class BetaVAE(Objective):
    """beta-VAE (Higgins et al. 2017): ``beta * KL``; beta = 1 is the plain VAE."""

    name = "betavae"

    def __init__(self, beta: float = 4.0):
        self.beta = float(beta)

    def regulariser(self, kl, mu, logvar, z, step, generator=None):
        return self.beta * kl, {}

    def hyperparameters(self):
        return {"beta": self.beta}


class AnnealedVAE(Objective):
    """AnnealedVAE (Burgess et al. 2018): ``gamma * |KL - C(step)|`` with a linear capacity ramp."""

    name = "annealedvae"

    def __init__(self, gamma: float = 1000.0, c_max: float = 25.0,
                 iteration_threshold: int = 100_000):
        if iteration_threshold <= 0:
            raise ValueError(f"iteration_threshold must be > 0, got {iteration_threshold}")
        self.gamma = float(gamma)
        self.c_max = float(c_max)
        self.iteration_threshold = int(iteration_threshold)

    def capacity(self, step: int) -> float:
        """C = min(c_max, c_max * step / iteration_threshold) (disentanglement_lib)."""
        return min(self.c_max, self.c_max * float(step) / self.iteration_threshold)

    def regulariser(self, kl, mu, logvar, z, step, generator=None):
        c = self.capacity(step)
        return self.gamma * (kl - c).abs(), {"capacity": c}

    def hyperparameters(self):
        return {"gamma": self.gamma, "c_max": self.c_max,
                "iteration_threshold": self.iteration_threshold}


class BetaTCVAE(Objective):
    """beta-TCVAE (Chen et al. 2018) as in disentanglement_lib: ``KL + (beta - 1) * TC``."""

    name = "betatcvae"

    def __init__(self, beta: float = 6.0):
        self.beta = float(beta)

    def regulariser(self, kl, mu, logvar, z, step, generator=None):
        tc = total_correlation(z.float(), mu.float(), logvar.float())
        return kl + (self.beta - 1.0) * tc, {"tc": float(tc.detach())}

    def hyperparameters(self):
        return {"beta": self.beta}


class DIPVAE(Objective):
    """DIP-VAE (Kumar et al. 2018) type "i" or "ii"; ``lambda_d = lambda_d_factor * lambda_od``.

    Defaults follow disentanglement_lib's study: lambda_d_factor 10 for type i and 1 for type ii.
    """

    name = "dipvae"

    def __init__(self, lambda_od: float = 10.0, lambda_d_factor: float | None = None,
                 dip_type: str = "i"):
        if dip_type not in ("i", "ii"):
            raise ValueError(f"dip_type must be 'i' or 'ii', got {dip_type!r}")
        self.dip_type = dip_type
        self.lambda_od = float(lambda_od)
        default_factor = 10.0 if dip_type == "i" else 1.0
        self.lambda_d_factor = float(default_factor if lambda_d_factor is None else lambda_d_factor)
        self.name = "dipvae1" if dip_type == "i" else "dipvae2"

    def covariance(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Cov[mu] (type i) or E[diag(exp(logvar))] + Cov[mu] (type ii)."""
        cov = covariance_z_mean(mu)
        if self.dip_type == "ii":
            cov = cov + torch.diag(logvar.exp().mean(0))
        return cov

    def regulariser(self, kl, mu, logvar, z, step, generator=None):
        cov = self.covariance(mu.float(), logvar.float())
        dip = dip_regulariser(cov, self.lambda_od, self.lambda_d_factor * self.lambda_od)
        return kl + dip, {"dip": float(dip.detach())}

    def hyperparameters(self):
        return {"lambda_od": self.lambda_od, "lambda_d_factor": self.lambda_d_factor,
                "dip_type": self.dip_type}


class FactorVAE(Objective):
    """FactorVAE (Kim & Mnih 2018) as in disentanglement_lib: ``KL + gamma * TC``.

    TC is estimated by the density-ratio trick, E[D_0(z) - D_1(z)] over the batch. The
    discriminator has its own Adam optimiser (disentanglement_lib: lr 1e-4, betas (0.5, 0.9)) and
    is trained on the same batch's codes, DETACHED, against dimension-wise permuted codes.
    """

    name = "factorvae"

    def __init__(self, latent_dim: int, gamma: float = 10.0, discriminator_lr: float = 1e-4,
                 discriminator_betas: tuple[float, float] = (0.5, 0.9), hidden: int = 1000,
                 num_layers: int = 6):
        self.gamma = float(gamma)
        self.latent_dim = int(latent_dim)
        self.discriminator_lr = float(discriminator_lr)
        self.discriminator_betas = (float(discriminator_betas[0]), float(discriminator_betas[1]))
        self.hidden = int(hidden)
        self.num_layers = int(num_layers)
        self.discriminator = FactorDiscriminator(latent_dim, hidden, num_layers)

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.discriminator.parameters(), lr=self.discriminator_lr,
                                betas=self.discriminator_betas)

    def regulariser(self, kl, mu, logvar, z, step, generator=None):
        logits = self.discriminator(z.float())
        tc = (logits[:, 0] - logits[:, 1]).mean()
        return kl + self.gamma * tc, {"tc": float(tc.detach())}

    def discriminator_loss(
        self, z: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """-(0.5 E log D_0(z) + 0.5 E log D_1(permuted z)) on detached codes.

        The codes are detached here, so backpropagating this loss can only reach the discriminator.
        Probabilities are clipped to [1e-6, 1 - 1e-6] as in disentanglement_lib.
        """
        z = z.detach().float()
        z_perm = shuffle_codes(z, generator)
        log_p_real = _clipped_log_softmax(self.discriminator(z))[:, 0]
        log_p_perm = _clipped_log_softmax(self.discriminator(z_perm))[:, 1]
        loss = -(0.5 * log_p_real.mean() + 0.5 * log_p_perm.mean())
        with torch.no_grad():
            acc = 0.5 * ((log_p_real > math.log(0.5)).float().mean()
                         + (log_p_perm > math.log(0.5)).float().mean())
        return loss, {"d_loss": float(loss.detach()), "d_acc": float(acc)}

    def hyperparameters(self):
        return {"gamma": self.gamma, "discriminator_lr": self.discriminator_lr,
                "discriminator_betas": list(self.discriminator_betas), "hidden": self.hidden,
                "num_layers": self.num_layers}


def _clipped_log_softmax(logits: torch.Tensor) -> torch.Tensor:
    probs = F.softmax(logits.float(), dim=1).clamp(1e-6, 1.0 - 1e-6)
    return probs.log()


def make_objective(name: str, latent_dim: int = 10, **hyperparameters: Any) -> Objective:
    """Build an objective by name (one of :data:`OBJECTIVES`); None-valued kwargs use defaults."""
    kw = {k: v for k, v in hyperparameters.items() if v is not None}
    try:
        if name == "betavae":
            return BetaVAE(**kw)
        if name == "annealedvae":
            return AnnealedVAE(**kw)
        if name == "factorvae":
            return FactorVAE(latent_dim, **kw)
        if name == "betatcvae":
            return BetaTCVAE(**kw)
        if name == "dipvae1":
            return DIPVAE(dip_type="i", **kw)
        if name == "dipvae2":
            return DIPVAE(dip_type="ii", **kw)
    except TypeError as e:
        raise ValueError(f"objective {name!r}: bad hyperparameters {sorted(kw)}: {e}") from e
    raise ValueError(f"unknown objective {name!r}; known: {', '.join(OBJECTIVES)}")

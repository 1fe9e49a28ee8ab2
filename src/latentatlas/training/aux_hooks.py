"""Generator losses with networks of their own: InfoGAN's Q and GAN-VP's variation predictor.

Both are GAN-trainer hooks (``GeneratorRegularizer``) whose loss the generator and the hook's
network minimise together; the trainer steps the hook's optimiser right after G's
(``optimizer_step``) and saves its network and optimiser in every checkpoint
(``state_dict`` / ``load_state_dict``), so a resumed run is bit-identical.

- :class:`InfoGANHook` (Chen et al. 2016): the first ``n_codes`` dimensions of z are continuous
  codes c; Q(G(z)) regresses them, loss ``weight * MSE`` (the Gaussian log-likelihood with a
  fixed variance); the next ``categorical`` dimensions are categorical codes (equiprobable bins
  of the coordinate), Q classifies them with cross-entropy. The reference puts Q on the
  discriminator's features; here Q is a small CNN of its own (the discriminator stays the plain
  GAN's, so every variant shares it).
- :class:`VariationPredictabilityHook` (Zhu et al. 2020, "GAN-VP"): pairs (z, z') differing in
  one dimension i (z'_i drawn afresh); P sees G(z) and G(z') - G(z) and predicts i; loss
  ``weight * cross-entropy`` (weight 0.1 in the reference scripts). The pairs use the first
  1 / ``batch_shrink`` of the batch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from latentatlas.utils.checks import check_number
from latentatlas.utils.errors import OptionError


class SmallCNN(nn.Module):
    """[N, C, R, R] -> [N, out]: strided 4x4 convs down to 4x4 (32..128 channels), a linear."""

    def __init__(self, in_channels: int, resolution: int, out: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, r, width = in_channels, resolution, 32
        while r > 4:
            layers += [nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2)]
            c, r, width = width, r // 2, min(2 * width, 128)
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * r * r, out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _NetworkHook:
    """Shared machinery: the network, its Adam, the optimiser step and the checkpoint state."""

    interval = 1

    def __init__(self, net: nn.Module, weight: float, lr: float, betas=(0.5, 0.99)) -> None:
        check_number("weight", weight, 0.0, low_open=True)
        check_number("lr", lr, 0.0, low_open=True)
        self.net, self.weight, self.lr = net, float(weight), float(lr)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr, betas=betas)
        self.parts: dict[str, float] = {}

    def _on(self, device: torch.device) -> None:
        if next(self.net.parameters()).device != device:
            self.net.to(device)  # moves the parameters in place: the optimiser keeps them

    def optimizer_step(self) -> None:
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])


class InfoGANHook(_NetworkHook):
    """InfoGAN's mutual-information term for continuous and categorical codes.

    The first ``n_codes`` dimensions of z are continuous codes (Q regresses them: MSE, the
    Gaussian log-likelihood with a fixed variance); the next ``categorical`` dimensions are
    categorical codes of ``categories`` values each (Q classifies them: cross-entropy). The
    trainer draws z ~ N(0, I), so a categorical code is the equiprobable bin of its coordinate:
    c = k where Phi^-1(k / K) <= z_j < Phi^-1((k + 1) / K), a uniform K-valued variable (the
    reference feeds a one-hot vector instead; binning keeps every variant on the same z prior
    and the same adversarial batch). ``n_codes`` defaults to the dimensions left over.
    """

    name = "infogan"

    def __init__(self, z_dim: int, channels: int, resolution: int, *, n_codes: int | None = None,
                 categorical: int = 0, categories: int = 10, weight: float = 1.0,
                 lr: float = 2e-4, seed: int = 0) -> None:
        check_number("infogan_categorical", categorical, 0, int(z_dim), integer=True)
        check_number("infogan_categories", categories, 2, integer=True)
        n_codes = int(z_dim - categorical if n_codes is None else n_codes)
        check_number("infogan_codes", n_codes, 0 if categorical else 1,
                     int(z_dim) - int(categorical), integer=True)
        self.categorical, self.categories = int(categorical), int(categories)
        outputs = n_codes + self.categorical * self.categories
        if outputs < 1:
            raise OptionError("InfoGAN needs at least one continuous or categorical code")
        with torch.random.fork_rng(devices=[]):  # leaves the global RNG as it was
            torch.manual_seed(int(seed) + 101)
            net = SmallCNN(channels, resolution, outputs)
        super().__init__(net, weight, lr)
        self.n_codes = n_codes
        normal = torch.distributions.Normal(0.0, 1.0)
        self._edges = normal.icdf(torch.arange(1, self.categories) / self.categories)

    def config(self) -> dict[str, Any]:
        return {"kind": "infogan", "weight": self.weight, "n_codes": self.n_codes, "lr": self.lr,
                "categorical": self.categorical, "categories": self.categories}

    def classes(self, z: torch.Tensor) -> torch.Tensor:
        """The categorical codes of z: [N, categorical] class indices (equiprobable bins)."""
        cols = z[:, self.n_codes:self.n_codes + self.categorical].float()
        return torch.bucketize(cols.contiguous(), self._edges.to(cols), right=True)

    def __call__(self, G: Any, z: torch.Tensor, ws: Any, images: torch.Tensor,
                 step: int) -> torch.Tensor:
        self._on(images.device)
        out = self.net(images.float())
        loss = out.new_zeros(())
        self.parts = {}
        if self.n_codes:
            mse = (out[:, :self.n_codes] - z[:, :self.n_codes].float()).square().mean()
            self.parts["mse"] = float(mse.detach())
            loss = loss + mse
        if self.categorical:
            logits = out[:, self.n_codes:].reshape(-1, self.categorical, self.categories)
            target = self.classes(z).to(logits.device)
            ce = nn.functional.cross_entropy(logits.transpose(1, 2), target)
            self.parts["ce"] = float(ce.detach())
            self.parts["accuracy"] = float((logits.argmax(2) == target).float().mean())
            loss = loss + ce
        return self.weight * loss


class VariationPredictabilityHook(_NetworkHook):
    """GAN-VP's variation-predictability loss (module docstring)."""

    name = "vp"

    def __init__(self, z_dim: int, channels: int, resolution: int, *, weight: float = 0.1,
                 lr: float = 2e-4, batch_shrink: int = 2, seed: int = 0) -> None:
        check_number("batch_shrink", batch_shrink, 1, integer=True)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed) + 202)
            net = SmallCNN(2 * channels, resolution, int(z_dim))
        super().__init__(net, weight, lr)
        self.z_dim, self.batch_shrink, self.seed = int(z_dim), int(batch_shrink), int(seed)

    def config(self) -> dict[str, Any]:
        return {"kind": "vp", "weight": self.weight, "lr": self.lr,
                "batch_shrink": self.batch_shrink}

    def __call__(self, G: Any, z: torch.Tensor, ws: Any, images: torch.Tensor,
                 step: int) -> torch.Tensor:
        self._on(images.device)
        n = max(1, z.shape[0] // self.batch_shrink)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + int(step))
        dims = torch.randint(0, self.z_dim, (n,), generator=gen)
        fresh = torch.randn(n, generator=gen)
        z2 = z[:n].detach().clone()
        z2[torch.arange(n), dims.to(z.device)] = fresh.to(z2)
        # Both images rendered here, alike (the batch's own may be bf16 under autocast, which
        # would put rounding noise into the difference).
        x1 = G.synthesize(z[:n], "z").float()
        x2 = G.synthesize(z2, "z").float()
        logits = self.net(torch.cat([x1, x2 - x1], dim=1))
        loss = nn.functional.cross_entropy(logits, dims.to(logits.device))
        self.parts = {"ce": float(loss.detach()),
                      "accuracy": float((logits.argmax(1).cpu() == dims).float().mean())}
        return self.weight * loss


__all__ = ["InfoGANHook", "SmallCNN", "VariationPredictabilityHook"]

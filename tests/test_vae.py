"""VAE family: architectures, objectives (closed forms and known answers), trainer, figures, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from latentatlas.data.base import GroundTruthData
from latentatlas.io.persistence import load_model, save_model
from latentatlas.models.vae import VAE, reconstruction_loss
from latentatlas.report.vae_figures import kl_per_dimension, latent_traversals, save_vae_figures
from latentatlas.training.vae import VAETrainConfig, load_checkpoint, train_vae
from latentatlas.training.vae_losses import (
    DIPVAE,
    AnnealedVAE,
    BetaTCVAE,
    FactorVAE,
    covariance_z_mean,
    dip_regulariser,
    gaussian_kl,
    make_objective,
    shuffle_codes,
    total_correlation,
)
from latentatlas.utils.errors import CheckpointError, DataError, ShapeError


class TinySquares(GroundTruthData):
    """16x16x1 images of a 4x4 white square at one of 4 x 4 grid positions (2 factors)."""

    name = "tiny_squares"
    factor_names = ("x", "y")
    factors_num_values = (4, 4)
    observation_shape = (16, 16, 1)

    def sample_observations_from_factors(self, factors, rng):
        factors = self._check_factors(factors)
        out = np.zeros((len(factors), 16, 16, 1), np.float32)
        for i, (fx, fy) in enumerate(factors):
            out[i, 3 * fy + 1 : 3 * fy + 5, 3 * fx + 1 : 3 * fx + 5, 0] = 1.0
        return out



def _tiny_vae(seed: int = 0, **kw) -> VAE:
    torch.manual_seed(seed)
    return VAE(**{"latent_dim": 4, "channels": 1, "image_size": 16, **kw})


# ------------------------------------------------------------------------------ architectures
@pytest.mark.parametrize("architecture", ["dlib", "burgess"])
@pytest.mark.parametrize("channels", [1, 3])
def test_encoder_decoder_shapes_64px(architecture, channels):
    torch.manual_seed(0)
    model = VAE(latent_dim=10, channels=channels, architecture=architecture)
    x = torch.rand(2, channels, 64, 64)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (2, 10)
    assert model.decode(mu).shape == (2, channels, 64, 64)
    out = model(x)
    assert out.z.shape == (2, 10) and out.logits.shape == (2, channels, 64, 64)
    rep = model.representation(np.random.default_rng(0).random((3, 64, 64, channels)))
    assert rep.shape == (3, 10) and rep.dtype == np.float32


def test_dlib_architecture_matches_disentanglement_lib_layers():
    model = VAE(latent_dim=10)
    convs = [m for m in model.encoder.convs if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (32, 4, 2), (32, 4, 2), (64, 2, 2), (64, 2, 2)]
    assert model.encoder.fc[1].in_features == 1024 and model.encoder.fc[1].out_features == 256
    assert model.decoder.fc[2].out_features == 1024
    deconvs = [m for m in model.decoder.deconvs if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [d.out_channels for d in deconvs] == [64, 32, 32, 1]


def test_bad_inputs_raise_named_errors():
    model = _tiny_vae()
    with pytest.raises(ShapeError, match="NCHW"):
        model.encode(torch.rand(2, 3, 16, 16))
    with pytest.raises(ShapeError, match="z must have shape"):
        model.decode(torch.rand(2, 5))
    with pytest.raises(ShapeError, match="NaN"):
        model.representation(np.full((1, 16, 16, 1), np.nan, np.float32))
    with pytest.raises(ShapeError, match="multiple of 16"):
        VAE(image_size=40)
    with pytest.raises(ValueError, match="likelihood"):
        VAE(likelihood="poisson")
    with pytest.raises(ValueError, match="unknown objective"):
        make_objective("vqvae")


def test_reconstruction_losses_known_values():
    x = torch.tensor([[[[0.0, 1.0]]]])  # [1, 1, 1, 2]
    logits = torch.tensor([[[[0.0, 0.0]]]])  # sigmoid = 0.5 everywhere
    assert reconstruction_loss(x, logits, "bernoulli").item() == pytest.approx(2 * math.log(2))
    assert reconstruction_loss(x, logits, "gaussian").item() == pytest.approx(0.5)
    assert reconstruction_loss(x, logits, "laplace").item() == pytest.approx(1.0)


# ------------------------------------------------------------------------------ objectives
def test_kl_closed_form_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([[0.5, -1.0, 2.0]])
    logvar = torch.tensor([[0.3, -1.2, 0.8]])
    n = 400_000
    z = mu + torch.exp(0.5 * logvar) * torch.randn(n, 3, generator=g, dtype=torch.float64)
    var = logvar.exp()
    log_q = (-0.5 * ((z - mu) ** 2 / var + logvar + math.log(2 * math.pi))).sum(1)
    log_p = (-0.5 * (z**2 + math.log(2 * math.pi))).sum(1)
    mc = (log_q - log_p).mean().item()
    closed = gaussian_kl(mu, logvar).item()
    assert closed == pytest.approx(mc, abs=0.02)
    assert gaussian_kl(torch.zeros(4, 3), torch.zeros(4, 3)).abs().max().item() == 0.0


def test_total_correlation_approaches_gaussian_tc():
    # Posterior q(z|x_j) = N(mu_j, s^2 I) with mu_j ~ N(0, S): the aggregate posterior is
    # N(0, S + s^2 I), whose total correlation is -0.5 log det(its correlation matrix).
    rng = np.random.default_rng(0)
    s = 0.3
    cov_mu = np.array([[1.0, 0.8, 0.3], [0.8, 1.0, 0.5], [0.3, 0.5, 1.0]])
    n = 2000
    mu = rng.multivariate_normal(np.zeros(3), cov_mu, size=n)
    z = mu + s * rng.standard_normal((n, 3))
    cov_agg = cov_mu + s**2 * np.eye(3)
    d = np.sqrt(np.diag(cov_agg))
    analytic = -0.5 * np.linalg.slogdet(cov_agg / np.outer(d, d))[1]
    logvar = torch.full((n, 3), 2 * math.log(s), dtype=torch.float64)
    est = total_correlation(torch.from_numpy(z), torch.from_numpy(mu), logvar).item()
    assert analytic == pytest.approx(0.50, abs=0.05)  # a clearly non-zero target
    assert est == pytest.approx(analytic, abs=0.06)
    # Independent dimensions: TC ~ 0.
    mu_ind = rng.standard_normal((n, 3))
    z_ind = mu_ind + s * rng.standard_normal((n, 3))
    est_ind = total_correlation(torch.from_numpy(z_ind), torch.from_numpy(mu_ind), logvar).item()
    assert abs(est_ind) < 0.05
    # disentanglement_lib's unnormalised value differs by the constant (D - 1) log N.
    raw = total_correlation(torch.from_numpy(z), torch.from_numpy(mu), logvar, normalised=False)
    assert raw.item() == pytest.approx(est - 2 * math.log(n), abs=1e-9)


def test_shuffle_codes_permutes_each_dimension_independently():
    g = torch.Generator().manual_seed(0)
    z = torch.arange(20.0).reshape(10, 2) + torch.tensor([0.0, 100.0])
    zp = shuffle_codes(z, g)
    for j in range(2):
        assert sorted(zp[:, j].tolist()) == sorted(z[:, j].tolist())
    # Rows are broken apart: some row of zp is not a row of z.
    rows = {tuple(r) for r in z.tolist()}
    assert any(tuple(r) not in rows for r in zp.tolist())


def test_factorvae_discriminator_loss_does_not_update_encoder():
    model = _tiny_vae()
    objective = FactorVAE(latent_dim=4, hidden=32)
    x = torch.rand(8, 1, 16, 16)
    out = model(x, torch.Generator().manual_seed(0))
    enc_before = [p.detach().clone() for p in model.encoder.parameters()]
    d_opt = objective.make_optimizer()
    d_loss, scalars = objective.discriminator_loss(out.z, torch.Generator().manual_seed(1))
    d_loss.backward()
    assert all(p.grad is None for p in model.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in objective.discriminator.parameters())
    d_opt.step()
    enc_after = model.encoder.parameters()
    assert all(torch.equal(a, b) for a, b in zip(enc_before, enc_after, strict=True))
    assert scalars["d_loss"] == pytest.approx(d_loss.item())
    # The VAE-side TC term does reach the encoder (that is how FactorVAE disentangles).
    reg, _ = objective.regulariser(torch.tensor(0.0), out.mu, out.logvar, out.z, 0)
    reg.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())


def test_annealed_capacity_schedule():
    obj = AnnealedVAE(gamma=1000.0, c_max=25.0, iteration_threshold=100_000)
    assert [obj.capacity(s) for s in (0, 50_000, 100_000, 300_000)] == [0.0, 12.5, 25.0, 25.0]
    reg, extra = obj.regulariser(torch.tensor(10.0), None, None, None, 20_000)
    assert extra["capacity"] == 5.0 and reg.item() == pytest.approx(1000.0 * 5.0)


def test_dip_regulariser_zero_for_unit_diagonal_covariance():
    assert dip_regulariser(torch.eye(5), 10.0, 100.0).item() == 0.0
    cov = torch.tensor([[2.0, 0.5], [0.5, 1.0]])
    # off-diagonal: 2 * 0.25; diagonal: (2 - 1)^2
    assert dip_regulariser(cov, 10.0, 3.0).item() == pytest.approx(10 * 0.5 + 3 * 1.0)
    # Codes with identity covariance (whitened) give a zero DIP-I penalty.
    rng = np.random.default_rng(0)
    a = rng.standard_normal((500, 3))
    a = a - a.mean(0)
    a = a @ np.linalg.inv(np.linalg.cholesky(a.T @ a / len(a))).T
    mu = torch.from_numpy(a)
    assert torch.allclose(covariance_z_mean(mu), torch.eye(3, dtype=mu.dtype), atol=1e-10)
    dip1 = DIPVAE(dip_type="i")
    assert dip1.lambda_d_factor == 10.0 and DIPVAE(dip_type="ii").lambda_d_factor == 1.0
    _, extra = dip1.regulariser(torch.tensor(0.0), mu, torch.zeros_like(mu), mu, 0)
    assert extra["dip"] == pytest.approx(0.0, abs=1e-9)
    # DIP-II adds the mean encoder variance to the diagonal: exp(logvar) = 1 -> diagonal 2.
    cov2 = DIPVAE(dip_type="ii").covariance(mu, torch.zeros_like(mu))
    assert torch.allclose(torch.diagonal(cov2), torch.full((3,), 2.0, dtype=mu.dtype))


def test_betatcvae_regulariser_is_kl_plus_weighted_tc():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(32, 3, generator=g), torch.randn(32, 3, generator=g) * 0.1
    z = mu + torch.exp(0.5 * logvar) * torch.randn(32, 3, generator=g)
    kl = gaussian_kl(mu, logvar).mean()
    reg, extra = BetaTCVAE(beta=6.0).regulariser(kl, mu, logvar, z, 0)
    assert reg.item() == pytest.approx(kl.item() + 5.0 * total_correlation(z, mu, logvar).item(),
                                       rel=1e-5)
    assert extra["tc"] == pytest.approx(total_correlation(z, mu, logvar).item(), rel=1e-5)


# ------------------------------------------------------------------------------ trainer
def test_training_lowers_the_loss(tmp_path):
    model = _tiny_vae()
    data = TinySquares()
    rng = np.random.default_rng(123)
    x = torch.from_numpy(data.sample_observations(256, rng).transpose(0, 3, 1, 2).copy())

    def eval_loss() -> float:
        with torch.no_grad():
            mu, logvar = model.encode(x)
            return (model.reconstruction_loss(x, model.decode(mu)).mean()
                    + gaussian_kl(mu, logvar).mean()).item()

    before = eval_loss()
    cfg = VAETrainConfig(steps=60, batch_size=32, lr=3e-3, log_every=20, checkpoint_every=30)
    metrics = train_vae(model, make_objective("betavae", beta=1.0), data, tmp_path, cfg,
                        progress=False)
    after = eval_loss()
    assert after < 0.7 * before
    assert metrics["final_step"] == 60
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [20, 40, 60] and all("images_per_s" in r for r in log)
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["config"]["objective"]["beta"] == 1.0 and run["seed"] == 0
    loaded = load_model(tmp_path / "model")
    assert isinstance(loaded, VAE)
    assert loaded.model_metadata["steps"] == 60


@pytest.mark.parametrize("objective_name", ["factorvae", "betatcvae"])
def test_resume_is_bit_identical(tmp_path, objective_name):
    data = TinySquares()
    extra = {"hidden": 16} if objective_name == "factorvae" else {}

    def run(out, steps, resume=False):
        torch.manual_seed(7)
        model = VAE(latent_dim=3, channels=1, image_size=16)
        objective = make_objective(objective_name, latent_dim=3, **extra)
        cfg = VAETrainConfig(steps=steps, batch_size=16, lr=1e-3, seed=3, checkpoint_every=5,
                             log_every=5)
        train_vae(model, objective, data, out, cfg, resume=resume, progress=False)
        return model, objective

    full, full_obj = run(tmp_path / "full", 12)
    run(tmp_path / "part", 7)
    # The interrupted run stopped at step 7 (checkpoint at 7); resume to 12 from a different
    # global torch RNG state (the trainer must not depend on it).
    torch.manual_seed(999)
    # What a kill inside an atomic write leaves (SIGKILL runs no clean-up): swept on resume.
    leftovers = [tmp_path / "part" / ".checkpoint.safetensors.k1ll3d.safetensors",
                 tmp_path / "part" / "model" / ".model.safetensors.abc123.safetensors"]
    for p in leftovers:
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"half")
    resumed, resumed_obj = run(tmp_path / "part", 12, resume=True)
    assert not any(p.exists() for p in leftovers)
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    if objective_name == "factorvae":
        d_full, d_resumed = full_obj.discriminator, resumed_obj.discriminator
        for a, b in zip(d_full.parameters(), d_resumed.parameters(), strict=True):
            assert torch.equal(a, b)
    log_lines = (tmp_path / "part" / "log.jsonl").read_text().splitlines()
    log_steps = [json.loads(x)["step"] for x in log_lines]
    assert log_steps == [5, 7, 10, 12]
    assert load_checkpoint(tmp_path / "part" / "checkpoint.safetensors")["step"] == 12


def test_trainer_refuses_bad_data_and_unrequested_overwrite(tmp_path):
    model = _tiny_vae()
    obj = make_objective("betavae")
    cfg = VAETrainConfig(steps=1, batch_size=4)
    with pytest.raises(ShapeError, match="NHWC"):
        train_vae(model, obj, np.zeros((10, 32, 32, 1), np.float32), tmp_path, cfg, progress=False)
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        train_vae(model, obj, np.full((10, 16, 16, 1), 2.0, np.float32), tmp_path, cfg,
                  progress=False)
    train_vae(model, obj, np.zeros((10, 16, 16, 1), np.float32), tmp_path, cfg, progress=False)
    with pytest.raises(CheckpointError, match="resume"):
        train_vae(model, obj, np.zeros((10, 16, 16, 1), np.float32), tmp_path, cfg, progress=False)
    with pytest.raises(CheckpointError, match="objective"):
        train_vae(model, make_objective("dipvae1"), np.zeros((10, 16, 16, 1), np.float32),
                  tmp_path, cfg, resume=True, progress=False)
    (tmp_path / "checkpoint.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="checkpoint"):
        train_vae(model, obj, np.zeros((10, 16, 16, 1), np.float32), tmp_path, cfg, resume=True,
                  progress=False)


def test_save_load_round_trip(tmp_path):
    model = _tiny_vae(architecture="burgess", likelihood="laplace", channels=3)
    save_model(model, tmp_path / "m", metadata={"note": "x"})
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, VAE)
    assert (loaded.architecture, loaded.likelihood, loaded.channels) == ("burgess", "laplace", 3)
    x = np.random.default_rng(0).random((4, 16, 16, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.representation(x), model.eval().representation(x))


def test_bf16_autocast_step_runs_close_to_fp32(tmp_path):
    from latentatlas.training.vae import _vae_step

    model = _tiny_vae()
    x = torch.rand(8, 1, 16, 16)
    obj = make_objective("betavae")
    l32, _, _ = _vae_step(model, obj, x, 0, torch.Generator().manual_seed(0), bf16=False)
    l16, _, _ = _vae_step(model, obj, x, 0, torch.Generator().manual_seed(0), bf16=True)
    assert l16.dtype == torch.float32
    assert l16.item() == pytest.approx(l32.item(), rel=0.02)


# ------------------------------------------------------------------------------ figures
def test_traversals_and_figures(tmp_path):
    model = _tiny_vae().eval()
    # Make latent 2 the only informative one: its KL dominates, so it is sorted first.
    with torch.no_grad():
        model.encoder.mean.weight.zero_()
        model.encoder.mean.bias.copy_(torch.tensor([0.0, 0.0, 3.0, 0.0]))
    images = TinySquares().sample_observations(4, np.random.default_rng(0))
    kl = kl_per_dimension(model, images)
    assert kl.shape == (4,) and int(np.argmax(kl)) == 2
    trav = latent_traversals(model, images[0], values=np.array([-1.0, 0.0, 1.0]), dims=[2, 0])
    assert trav.shape == (2, 3, 16, 16, 1)
    assert trav.min() >= 0 and trav.max() <= 1
    # Moving a latent changes the decoded image, and the value-0 column has z_d = 0.
    assert not np.allclose(trav[0, 0], trav[0, 2])
    paths = save_vae_figures(model, images, tmp_path)
    from PIL import Image

    grid = Image.open(paths["traversal_png"])
    # 4 latents x 9 values of 16 px with 2 px padding.
    assert grid.size == (9 * 18 + 2, 4 * 18 + 2)
    assert Image.open(paths["traversal_gif"]).n_frames >= 9
    assert Image.open(paths["reconstructions_png"]).size == (4 * 18 + 2, 2 * 18 + 2)
    assert paths["samples_png"].is_file()


# ------------------------------------------------------------------------------ CLI
def test_cli_train_on_array_and_metrics_table(tmp_path):
    from click.testing import CliRunner

    from latentatlas.cli import main
    from latentatlas.cli.metrics import format_table

    arr = TinySquares().sample_observations(64, np.random.default_rng(0))
    np.save(tmp_path / "imgs.npy", arr)
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["vae", "train", "--model", "dipvae2", "--data",
                                       str(tmp_path / "imgs.npy"), "--steps", "3",
                                       "--latent-dim", "3", "--batch-size", "8",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "model" / "config.json").is_file() and (out / "traversal.png").is_file()
    cfg = json.loads((out / "model" / "config.json").read_text())
    assert cfg["kwargs"]["image_size"] == 16 and cfg["metadata"]["objective"]["dip_type"] == "ii"
    table = format_table({"mig": 0.25, "dci": {"disentanglement": 0.5}, "name": "x"})
    assert "dci.disentanglement  0.5000" in table and "mig" in table and "name" not in table


@pytest.mark.parametrize("name", ["betavae_dsprites", "factorvae_dsprites"])
def test_shipped_vaes_load_and_beat_random_init_on_mig(name):
    import latentatlas

    if name not in latentatlas.io.available_models():
        pytest.skip(f"{name} not shipped in this checkout")
    model = latentatlas.load(name)
    assert isinstance(model, VAE) and model.latent_dim == 10
    assert model.model_metadata["data"] == "dsprites" and model.model_metadata["steps"] > 0
    codes = model.representation(np.zeros((2, 64, 64, 1), np.float32))
    assert codes.shape == (2, 10) and np.isfinite(codes).all()
    folder = latentatlas.io.resolve_model_path(name)
    scores = json.loads((folder / "metrics.json").read_text())
    assert (scores["model"]["mig"]["discrete_mig"]
            > scores["random_init_encoder"]["mig"]["discrete_mig"])
    assert (folder / "MODEL_CARD.md").is_file() and (folder / "traversal.png").is_file()


def test_shipped_betavae_is_disentangled_on_fresh_data():
    """The shipped beta-VAE's card reports MIG 0.253 (10k points); re-measured on 3k fresh
    points it stays well above a random encoder's ~0.002."""
    import latentatlas
    from latentatlas import metrics
    from latentatlas.data.dsprites import DSpritesLike

    if "betavae_dsprites" not in latentatlas.io.available_models():
        pytest.skip("betavae_dsprites not shipped in this checkout")
    model = latentatlas.load("betavae_dsprites")
    mig = metrics.mig(DSpritesLike(), model.representation, np.random.default_rng(7),
                      num_train=3000)["discrete_mig"]
    assert mig >= 0.18

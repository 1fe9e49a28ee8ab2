"""GAN inversion: projection recovers known codes, noise optimisation, face framing, the
encoder trainer and the ``invert`` job (outputs, resume, edits, rejects)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import latentatlas
from _inversion_models import face_files, save_tiny_models, tiny_generator, tiny_predictor
from latentatlas.data.faces import FaceImageError, framing_of, prepare_face
from latentatlas.editing.inversion import (
    custom_noise,
    invert,
    noise_layers,
    noise_regularisation,
    project,
    w_statistics,
)
from latentatlas.models import LatentEncoder
from latentatlas.training.encoder import embedding_distance, train_encoder
from latentatlas.utils.errors import OptionError, ShapeError


@pytest.fixture(scope="module")
def gen():
    return tiny_generator()


def _png(size, color=None, seed=0) -> bytes:
    if color is None:
        arr = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), np.uint8)
        im = Image.fromarray(arr)
    else:
        im = Image.new("RGB", size, color)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_projection_in_w_recovers_known_codes(gen):
    w = gen.sample(4, "w", rng=1)
    with torch.no_grad():
        images = gen.synthesize(w, "w").clamp(-1, 1)
    _, w_std = w_statistics(gen)
    start_err = (gen.w_avg - w).norm(dim=1) / w_std
    res = project(gen, images, space="w", steps=150, lr=0.1)
    err = (res.codes - w).norm(dim=1) / w_std
    assert res.codes.shape == (4, 8) and res.space == "w"
    assert float(res.pixel_mse.max()) < 1e-4
    assert float(err.max()) < 0.02 < float(start_err.min())


def test_projection_in_wp_reconstructs_and_beats_the_start(gen):
    w = gen.sample(3, "w", rng=2)
    with torch.no_grad():
        images = gen.synthesize(w, "w").clamp(-1, 1)
    start = project(gen, images, space="wp", steps=0)
    res = project(gen, images, space="wp", steps=150, predictor=tiny_predictor())
    assert res.codes.shape == (3, gen.num_ws, 8)
    assert float(res.pixel_mse.mean()) < 0.2 * float(start.pixel_mse.mean())
    assert float(res.pixel_mse.max()) < 0.05
    assert res.embedding_error.shape == (3,) and np.all(res.embedding_error >= 0)


def test_init_codes_are_used_and_steps_zero_renders_them(gen):
    w = gen.sample(2, "w", rng=3)
    with torch.no_grad():
        images = gen.synthesize(w, "w").clamp(-1, 1)
    res = project(gen, images, space="w", init=gen.w_to_wp(w), steps=0)
    torch.testing.assert_close(res.codes, w)
    assert float(res.pixel_mse.max()) < 1e-10


def test_noise_optimisation_follows_the_projector(gen):
    layers = noise_layers(gen)
    before = {k: m.noise_const.clone() for k, m in layers.items()}
    w = gen.sample(2, "w", rng=4)
    with torch.no_grad():
        images = gen.synthesize(w, "w").clamp(-1, 1)
    res = project(gen, images, space="w", steps=30, noise="optimize")
    assert set(res.noises) == set(layers)
    for k, v in res.noises.items():
        assert v.shape == (2, 1, *before[k].shape)
        torch.testing.assert_close(v.mean(dim=(2, 3)), torch.zeros(2, 1), atol=1e-5, rtol=0)
        torch.testing.assert_close(v.square().mean(dim=(2, 3)), torch.ones(2, 1), atol=1e-4,
                                   rtol=0)
    for k, m in layers.items():  # the generator's own maps are back
        assert torch.equal(m.noise_const, before[k])
    with torch.no_grad(), custom_noise(gen, res.noises):
        again = gen.synthesize(res.codes, "w").clamp(-1, 1)
    torch.testing.assert_close(again, res.reconstructions)


def test_noise_regularisation_penalises_correlated_maps():
    g = torch.Generator().manual_seed(0)
    white = torch.randn(2, 1, 16, 16, generator=g)
    smooth = torch.ones(2, 1, 16, 16)
    assert float(noise_regularisation([white]).max()) < 0.05
    # a constant map has autocorrelation 1 at every shift, on both scales (16 and 8 px): 2 * 2
    torch.testing.assert_close(noise_regularisation([smooth]), torch.full((2,), 4.0))


def test_projection_refuses_bad_input(gen):
    ok = torch.zeros(1, 3, 16, 16)
    with pytest.raises(OptionError, match="space"):
        project(gen, ok, space="z")
    with pytest.raises(ShapeError, match="16x16"):
        project(gen, torch.zeros(1, 3, 8, 8))
    with pytest.raises(ShapeError, match=r"\[-1, 1\]"):
        project(gen, ok + 5)
    with pytest.raises(OptionError, match="encoder outputs"):
        invert(gen, ok, encoder=LatentEncoder(num_ws=3, w_dim=8, resolution=16), steps=0)


def test_embedding_distance_is_zero_for_equal_and_bounded():
    a = torch.rand(3, 5)
    torch.testing.assert_close(embedding_distance(a, a), torch.zeros(3))
    assert float(embedding_distance(a, -a).max()) <= 4.0 + 1e-5


# ---------------------------------------------------------------------------- framing
def test_prepare_face_frames_celeba_portraits_and_square_crops():
    assert framing_of(178, 218) == framing_of(89, 109) == "celeba"
    assert framing_of(100, 100) == "square" and framing_of(300, 100) == "other"
    portrait = np.zeros((218, 178, 3), np.uint8)
    portrait[40:188, 15:163] = 200  # the CelebA 64 px crop box, exactly
    portrait[40:114, 15:163, 0] = 30
    buf = io.BytesIO()
    Image.fromarray(portrait).save(buf, format="PNG")
    face = prepare_face(buf.getvalue(), 16)
    assert face.shape == (16, 16, 3) and face.dtype == np.uint8
    assert face[..., 1].min() >= 190  # nothing from outside the crop box
    assert face[:7, :, 0].max() < 60 and face[9:, :, 0].min() > 190
    assert prepare_face(_png((40, 40)), 16).shape == (16, 16, 3)


@pytest.mark.parametrize(("data", "match"), [
    (b"GIF89a not really", "not an image"),
    (_png((12, 12)), "too small"),
    (_png((300, 100)), "square"),
    (_png((64, 64), (128, 128, 128)), "constant"),
])
def test_prepare_face_rejects_unusable_images(data, match):
    with pytest.raises(FaceImageError, match=match):
        prepare_face(data, 16, "x.png")


def test_prepare_face_rejects_too_large_files(monkeypatch):
    import latentatlas.data.faces as faces

    monkeypatch.setattr(faces, "MAX_FILE_BYTES", 100)
    with pytest.raises(FaceImageError, match="larger than"):
        prepare_face(_png((40, 40)), 16)


# ---------------------------------------------------------------------------- encoder
def test_encoder_trains_saves_loads_and_resumes(tmp_path, gen):
    real = np.random.default_rng(0).integers(0, 255, (8, 16, 16, 3), np.uint8)
    kw = dict(predictor=tiny_predictor(), real_images=real, batch_size=4, checkpoint_every=2,
              progress=False, generator_name="tiny")
    train_encoder(gen, tmp_path / "a", steps=4, **kw)
    enc = latentatlas.load(tmp_path / "a" / "model")
    assert isinstance(enc, LatentEncoder) and enc.generator == "tiny"
    torch.testing.assert_close(enc.w_avg, gen.w_avg)
    codes = enc.encode(torch.zeros(2, 3, 16, 16))
    assert codes.shape == (2, gen.num_ws, 8)
    # interrupted after the step-2 checkpoint, resumed: the same weights as without the break
    from latentatlas.training.checkpoint import checkpoint_path

    checkpoint_path(tmp_path / "a" / "checkpoints", 4).unlink()
    train_encoder(gen, tmp_path / "a", steps=4, resume=True, **kw)
    resumed = latentatlas.load(tmp_path / "a" / "model")
    for k, v in enc.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v, rtol=0, atol=0)
    steps = [json.loads(x)["step"] for x in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 4]


def test_untrained_encoder_starts_at_w_avg():
    enc = LatentEncoder(num_ws=4, w_dim=8, resolution=16).set_w_avg(torch.arange(8.0))
    codes = enc(torch.zeros(2, 3, 32, 32))  # other sizes are resized
    assert codes.shape == (2, 4, 8)
    torch.testing.assert_close(codes, torch.arange(8.0).expand(2, 4, 8), atol=0.05, rtol=0)


# ---------------------------------------------------------------------------- the job
def test_invert_job_outputs_resume_edits_and_rejects(tmp_path):
    from latentatlas.cli import main

    paths = save_tiny_models(tmp_path)
    face_files(tmp_path / "faces", tiny_generator())
    out = tmp_path / "out"
    args = ["invert", "--model", str(paths["generator"]), "--images", str(tmp_path / "faces"),
            "--out", str(out), "--predictor", str(paths["predictor"]), "--encoder", "none",
            "--steps", "20", "--batch-size", "2", "--directions", str(paths["directions"]),
            "--edit", "Smiling=2", "--edit", "Male=-1.5"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "inverted 3 images (2 rejected)" in r.output
    rejected = json.loads((out / "rejected.json").read_text())
    assert set(rejected) == {"notes.png", "banner.png"}
    assert "not an image" in rejected["notes.png"] and "square" in rejected["banner.png"]
    codes = np.load(out / "codes.npy")
    assert codes.shape == (3, 6, 8)
    assert json.loads((out / "names.json").read_text()) == ["face0.png", "face1.png",
                                                            "face2.png"]
    for sub in ("reconstructions", "edits/Smiling_2", "edits/Male_-1.5"):
        assert sorted(p.name for p in (out / sub).iterdir()) == [
            "face0.png", "face1.png", "face2.png"]
    errors = (out / "errors.csv").read_text().splitlines()
    assert errors[0] == "name,pixel_mse,embedding_error" and len(errors) == 4
    scores = (out / "scores.csv").read_text().splitlines()
    assert len(scores) == 1 + 3 * 2
    run = json.loads((out / "run.json").read_text())
    assert set(run["metrics"]["attribute_agreement"]) == {"Smiling", "Male"}
    assert run["metrics"]["num_images"] == 3 and run["config"]["steps"] == 20
    # resume: existing codes are kept as they are (the rerun inverts nothing new)
    stamp = (out / "codes" / "face0.npy").stat().st_mtime_ns
    (out / "codes" / "face2.npy").unlink()
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert (out / "codes" / "face0.npy").stat().st_mtime_ns == stamp
    assert (out / "codes" / "face2.npy").is_file()


def test_invert_job_errors_are_one_line(tmp_path):
    from latentatlas.cli import main

    paths = save_tiny_models(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.png").write_bytes(b"junk")
    base = ["invert", "--model", str(paths["generator"]), "--out", str(tmp_path / "o"),
            "--predictor", "none", "--encoder", "none"]
    r = CliRunner().invoke(main, base + ["--images", str(tmp_path / "empty")])
    assert r.exit_code != 0 and "no usable image" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, base + ["--images", str(tmp_path / "empty"), "--edit", "x"])
    assert r.exit_code != 0 and "Error" in r.output


def test_apply_walk_edits_w_plus_codes_with_directions_and_walks(tmp_path):
    from latentatlas.directions import Directions, NonlinearWalk
    from latentatlas.pipelines.invert import apply_walk, load_walk_file

    codes = torch.randn(2, 4, 8)
    d = Directions(np.eye(8)[:1], "w", names=["a"])
    moved = apply_walk(d, codes, "wp", 2.0, layers="1-2")
    expected = codes.clone()
    expected[:, 1:3, 0] += 2.0
    torch.testing.assert_close(moved, expected)
    NonlinearWalk(dim=8, space="w", name="nl").save(tmp_path / "walk")
    loaded = load_walk_file(tmp_path / "walk")
    assert isinstance(loaded, NonlinearWalk)
    out = apply_walk(loaded, codes, "wp", 1.0, layers=[0])
    assert torch.equal(out[:, 1:], codes[:, 1:]) and not torch.equal(out[:, 0], codes[:, 0])
    with pytest.raises(OptionError, match="W\\+"):
        apply_walk(Directions(np.ones((1, 4, 8)), "wp", normalize=True), codes[:, 0], "w", 1.0)

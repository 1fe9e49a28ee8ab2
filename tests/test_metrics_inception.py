"""The FID Inception-v3 (user-supplied weights): architecture, safe loading, FID plumbing."""

import pickle

import pytest
import torch

from latentatlas.metrics.inception import (
    FIDInceptionV3,
    load_fid_inception,
    tf_avg_pool3x3,
)
from latentatlas.utils.errors import CheckpointError


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return FIDInceptionV3().eval()


def test_parameter_count_matches_torchvision_inception_v3():
    # torchvision's inception_v3 has 27,161,264 parameters; its auxiliary classifier (absent
    # here) has 98,560 + 2,459,136 + 769,000 = 3,326,696. FID's head has 1008 classes, 8 more.
    n = sum(p.numel() for p in FIDInceptionV3(num_classes=1000).parameters())
    assert n == 27_161_264 - 3_326_696
    assert sum(p.numel() for p in FIDInceptionV3().parameters()) == n + 8 * 2048 + 8


def test_tf_average_pool_ignores_the_padding():
    ones = torch.ones(1, 1, 4, 4)
    assert torch.equal(tf_avg_pool3x3(ones), ones)  # a zero-counting pool gives 4/9 in corners
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert tf_avg_pool3x3(x)[0, 0, 0, 0] == pytest.approx((0 + 1 + 4 + 5) / 4)


def test_embed_gives_pool3_features_for_any_size_and_grey_images(net):
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        f = net.embed(x)
        grey = net.embed(x[:, :1])
        grey3 = net.embed(x[:, :1].expand(-1, 3, -1, -1))
        logits = net(x[:1])
    assert f.shape == (2, 2048) and torch.isfinite(f).all() and (f >= 0).all()
    assert not torch.allclose(f[0], f[1])
    assert torch.allclose(grey, grey3)
    assert logits.shape == (1, 1008)
    with pytest.raises(Exception, match="1 or 3"):
        net.embed(torch.zeros(1, 2, 8, 8))


def test_load_round_trip_and_bad_files(net, tmp_path):
    from safetensors.torch import save_file

    x = torch.rand(1, 3, 32, 32) * 2 - 1
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "w.pth")
    save_file(state, str(tmp_path / "w.safetensors"))
    with torch.no_grad():
        want = net.embed(x)
        for name in ("w.pth", "w.safetensors"):
            assert torch.equal(load_fid_inception(tmp_path / name).embed(x), want)

    with pytest.raises(CheckpointError, match="not found"):
        load_fid_inception(tmp_path / "nope.pth")
    (tmp_path / "junk.pth").write_bytes(b"\x00not a zip or a pickle")
    with pytest.raises(CheckpointError, match="junk.pth"):
        load_fid_inception(tmp_path / "junk.pth")
    partial = dict(state)
    del partial["Mixed_7c.branch_pool.conv.weight"]
    partial["extra.weight"] = torch.zeros(1)
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match="Mixed_7c.branch_pool.conv.weight.*extra.weight"):
        load_fid_inception(tmp_path / "partial.pth")
    shaped = dict(state)
    shaped["fc.weight"] = torch.zeros(1000, 2048)
    torch.save(shaped, tmp_path / "shaped.pth")
    with pytest.raises(CheckpointError, match=r"fc.weight: \[1000, 2048\]"):
        load_fid_inception(tmp_path / "shaped.pth")


class _Hostile:
    def __reduce__(self):
        import os
        return (os.system, ("touch PWNED_BY_PICKLE",))


# torch warns about the protocol-4 pickle before refusing it; the refusal is what is tested.
@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_a_pickle_with_code_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open("evil.pth", "wb") as f:
        pickle.dump({"fc.weight": _Hostile()}, f)
    with pytest.raises(CheckpointError, match="safely"):
        load_fid_inception("evil.pth")
    assert not (tmp_path / "PWNED_BY_PICKLE").exists()


def test_quality_cli_reports_inception_fid_with_its_floor(net, tmp_path):
    from _quality_cli import run_quality_cli

    torch.save(net.state_dict(), tmp_path / "inception.pth")
    q = run_quality_cli(tmp_path, 16, ["--kid-subsets", "2", "--kid-subset-size", "4",
                                       "--inception-weights", str(tmp_path / "inception.pth")])
    q = q["inception"]
    assert q["embedding_dim"] == 2048 and q["n_real_half"] == 8 and q["n_fake"] == 8
    # Noise images vs an untrained generator's output: far apart, further than noise vs noise.
    assert q["frechet"] > q["frechet_floor"] >= 0
    assert q["weights"].endswith("inception.pth")

"""`latentatlas data list|show` and `latentatlas tour`."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from latentatlas.analysis.tour import dataset_figure, traversal_factors
from latentatlas.cli import main
from latentatlas.data import DSpritesLike, Shapes3DLike


def test_data_list_names_every_dataset():
    result = CliRunner().invoke(main, ["data", "list"])
    assert result.exit_code == 0, result.output
    for name in ("dsprites", "dsprites_color", "dsprites_noisy", "shapes3d", "dsprites_real",
                 "celeba", "mnist", "olivetti"):
        assert f"\n{name} " in "\n" + result.output
    assert "737,280" in result.output and "480,000" in result.output


def test_data_show_writes_samples_and_one_row_per_factor(tmp_path):
    out = tmp_path / "grid.png"
    result = CliRunner().invoke(main, ["data", "show", "dsprites", "--out", str(out), "--n", "16"])
    assert result.exit_code == 0, result.output
    img = np.asarray(Image.open(out))
    # 16 samples: a 4 x 4 grid of 64 px tiles with 2 px padding -> 4 * 66 + 2 = 266 px tall;
    # then 5 traversal rows of 64 + 2 * 2 px.
    assert img.shape[0] == 266 + 5 * 68
    bad = CliRunner().invoke(main, ["data", "show", "nope", "--out", str(tmp_path / "n.png")])
    assert bad.exit_code == 1 and "unknown data set 'nope'" in bad.output
    again = CliRunner().invoke(main, ["data", "show", "dsprites", "--out", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output


def test_traversals_vary_exactly_one_factor():
    ds = Shapes3DLike()
    base = np.array([1, 2, 3, 4, 1, 5])
    rows = traversal_factors(ds, base, max_steps=16)
    assert [len(r) for r in rows] == [10, 10, 10, 8, 4, 15]
    for k, r in enumerate(rows):
        others = np.delete(r, k, axis=1)
        assert (others == np.delete(base, k)).all()
        assert np.array_equal(r[:, k], np.arange(ds.factors_num_values[k]))
    # dSprites orientation (40 values) is subsampled to 16 evenly spaced values incl. both ends.
    orient = traversal_factors(DSpritesLike(), np.zeros(5, np.int64), max_steps=16)[2][:, 2]
    assert len(orient) == 16 and orient[0] == 0 and orient[-1] == 39


def test_figure_is_seeded():
    ds = DSpritesLike("noisy")
    assert np.array_equal(dataset_figure(ds, n=4, rng=3), dataset_figure(ds, n=4, rng=3))
    assert not np.array_equal(dataset_figure(ds, n=4, rng=3), dataset_figure(ds, n=4, rng=4))


def test_tour_without_real_data_skips_them(tmp_path):
    out = tmp_path / "tour"
    result = CliRunner().invoke(
        main, ["tour", "--out", str(out), "--data-root", str(tmp_path / "no-data")])
    assert result.exit_code == 0, result.output
    for name in ("dsprites", "dsprites_color", "dsprites_noisy", "shapes3d"):
        assert (out / f"{name}.png").is_file()
    assert not (out / "celeba.png").exists()
    record = json.loads((out / "run.json").read_text())
    assert record["command"] == "tour" and record["seed"] == 0
    assert set(record["metrics"]["skipped"]) == {"dsprites_real", "celeba", "mnist", "olivetti"}
    page = (out / "index.html").read_text()
    assert "skipped" in page and "shapes3d.png" in page and "orientation" in page

"""The user's own labelled data: label parsing (kinds, missing values, one error per bad input),
folder / npz loading, the data registry, ``--preset auto`` and the whole path end to end
(GAN + predictor + explore on a CelebA subset written out as PNG + CSV)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from latentatlas.data import load_image_folder
from latentatlas.data.labels import parse_column, parse_kinds, read_labels_csv
from latentatlas.data.loaders import load_images_npz
from latentatlas.data.registry import describe_data, is_dataset_name, load_data
from latentatlas.utils.errors import DataError


def _folder(path, n=6, size=(8, 8), mode="RGB"):
    path.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
        Image.fromarray(np.full(shape, 40 * i % 256, np.uint8), mode=mode).save(path / f"im{i}.png")
    return path


def _nan_eq(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


# ------------------------------------------------------------------ kinds, missing values
def test_kinds_are_inferred_and_missing_cells_masked():
    nan = np.nan
    col = parse_column("smile", ["0", "1", "", "1"])
    assert col.kind == "binary" and col.classes == ["0", "1"]
    assert _nan_eq(col.values, [0, 1, nan, 1]) and col.n_missing == 1
    col = parse_column("male", ["-1", "1", "1", "NA"])  # the CelebA convention
    assert col.kind == "binary" and _nan_eq(col.values, [0, 1, 1, nan])
    col = parse_column("hat", ["Yes", "no", "yes", "?"])  # "Yes" and "yes" are two words
    assert col.kind == "categorical" and col.classes == ["Yes", "no", "yes"]
    col = parse_column("hat", ["yes", "no", "no", "n/a"])
    assert col.kind == "binary" and col.classes == ["no", "yes"]
    assert _nan_eq(col.values, [1, 0, 0, nan])
    col = parse_column("colour", ["red", "green", "blue", "", "red"])
    assert col.kind == "categorical" and col.classes == ["blue", "green", "red"]
    assert _nan_eq(col.values, [2, 1, 0, nan, 2])
    assert col.head() == {"name": "colour", "kind": "multiclass", "num_classes": 3,
                          "classes": ["blue", "green", "red"]}
    col = parse_column("stars", ["3", "1", "5", "3"])  # few integers: categorical, numeric order
    assert col.kind == "categorical" and col.classes == ["1", "3", "5"]
    assert _nan_eq(col.values, [1, 0, 2, 1]) and _nan_eq(col.raw, [3, 1, 5, 3])
    col = parse_column("age", ["31.5", "20", "nan", "44"])
    assert col.kind == "continuous" and col.classes is None
    assert _nan_eq(col.values, [31.5, 20, nan, 44]) and col.head()["kind"] == "regression"
    ages = [str(a) for a in range(18, 48)]  # 30 distinct integers: continuous
    assert parse_column("age", ages).kind == "continuous"
    # Declared kinds win over the inference.
    col = parse_column("stars", ["3", "1", "5", "3"], kind="continuous")
    assert col.kind == "continuous" and _nan_eq(col.values, [3, 1, 5, 3])
    assert parse_column("code", ["1", "x", "2", "2"], kind="categorical").classes == ["1", "2",
                                                                                      "x"]
    assert parse_kinds(["age=continuous", "a=b=binary"]) == {"age": "continuous", "a=b": "binary"}
    desc = parse_column("colour", ["red", "green", "", "red"]).describe()
    assert desc == {"kind": "binary", "n_labelled": 3, "n_missing": 1,
                    "classes": ["green", "red"], "class_counts": [1, 2]}


@pytest.mark.parametrize("cells,kind,match", [
    (["1", "1", "", "1"], None, r"--labels: column 'c' has a single value \('1'\) in all 3 "
                                r"labelled rows.*drop the column"),
    (["", "NA", " "], None, r"column 'c' has no values"),
    (["1.5", "2", "abc", "4"], None, r"column 'c', row 2: 'abc' is not a number while 3 other "
                                     r"cells.*--label-kind c=categorical"),
    (["1", "inf", "2"], None, r"column 'c', row 1: 'inf' is not a finite number"),
    (["a", "b", "c"], "binary", r"declared binary but has 3 distinct values \(a, b, c\)"),
    (["1", "x", "2"], "continuous", r"declared continuous but row 1 holds 'x'"),
    ([f"id{i}" for i in range(60)], None, r"different value in every row \(60 distinct\): an "
                                          r"identifier"),
    (["1", "2"], "ordinal", r"--label-kind c=ordinal: kind must be one of binary, categorical"),
])
def test_each_bad_column_is_one_clear_error(cells, kind, match):
    with pytest.raises(DataError, match=match):
        parse_column("c", cells, kind=kind)


# ------------------------------------------------------------------ CSV + folder
def test_folder_with_csv_aligns_rows_by_file_and_keeps_raw_values(tmp_path):
    folder = _folder(tmp_path / "imgs", n=4)
    (folder / "sub").mkdir()
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(folder / "sub" / "x.png")
    (tmp_path / "labels.csv").write_text(
        "smile;colour;image;score\n"  # semicolons; the file column is found by its name
        "1;red;im3.png;0.5\n0;;./im0.png;1.5\n1;blue;sub/x.png;\n0;red;im1.png;2.0\n"
        "1;blue;im2.png;3.25\n")
    data = load_image_folder(folder, labels_csv=tmp_path / "labels.csv")
    assert data.metadata["file_names"] == ["im0.png", "im1.png", "im2.png", "im3.png",
                                           "sub/x.png"]
    assert data.images.shape == (5, 8, 8, 3) and data.images[4, 0, 0, 0] == 200
    assert data.label_names == ["smile", "colour", "score"]
    cols = {c.name: c for c in data.metadata["label_columns"]}
    assert cols["smile"].kind == "binary" and cols["colour"].kind == "binary"
    assert cols["score"].kind == "continuous"
    assert _nan_eq(cols["colour"].values, [np.nan, 1, 0, 1, 0])  # blue 0, red 1
    assert _nan_eq(data.labels[:, 2], [1.5, 2.0, 3.25, 0.5, np.nan])
    # --max-images: rows of the files left out are not "unknown".
    part = load_image_folder(folder, labels_csv=tmp_path / "labels.csv", max_images=4)
    assert len(part) == 4 and _nan_eq(part.labels[:, 0], [0, 0, 1, 1])


def test_grey_folders_stay_grey_and_resolution_centre_crops(tmp_path):
    folder = tmp_path / "g"
    folder.mkdir()
    img = np.zeros((6, 10), np.uint8)
    img[:, 2:8] = 255  # the centre 6x6 square is white, the 2-px side bands black
    Image.fromarray(img, mode="L").save(folder / "a.png")
    Image.fromarray(img, mode="L").save(folder / "b.png")
    data = load_image_folder(folder)
    assert data.images.shape == (2, 6, 10, 1)
    assert (load_image_folder(folder, resolution=4).images == 255).all()
    assert load_image_folder(folder, channels=3).images.shape == (2, 6, 10, 3)


def _labels_error(tmp_path, csv_text, match, folder=None, **kw):
    folder = folder or _folder(tmp_path / "imgs", n=3)
    (tmp_path / "l.csv").write_text(csv_text)
    with pytest.raises(DataError, match=match):
        load_image_folder(folder, labels_csv=tmp_path / "l.csv", **kw)


def test_bad_labels_files_are_one_clear_error_each(tmp_path):
    ok = "file,a\nim0.png,1\nim1.png,0\nim2.png,1\n"
    _labels_error(tmp_path, ok + "ghost.png,1\nother.png,0\n",
                  r"l\.csv: 2 row\(s\) name files that are not in --data .*imgs \(first: "
                  r"'ghost.png', 'other.png'\)")
    _labels_error(tmp_path, "file,a\nim0.png,1\nim1.png,0\n",
                  r"l\.csv: image/label count mismatch: 1 of 3 images .* no row \(first: "
                  r"'im2.png'\)")
    _labels_error(tmp_path, "file,a\nim0.png,1\nim1.png,1\nim2.png,1\n",
                  r"--labels: column 'a' has a single value")
    _labels_error(tmp_path, "file,a,b\nim0.png,1,2\nim1.png,x,3\nim2.png,2,4\n",
                  r"column 'a', row 3 \(file 'im1.png'\): 'x' is not a number")
    _labels_error(tmp_path, ok + "im0.png,0\n", r"image 'im0.png' has two rows \(2 and 5\)")
    _labels_error(tmp_path, "file,a\nim0.png,1,7\n", r"row 2 has 3 cells, the header has 2")
    _labels_error(tmp_path, "file,a,a\n", r"duplicate column name\(s\) \['a'\]")
    _labels_error(tmp_path, "file\nim0.png\n", r"needs a header 'file,<label>,...'")
    _labels_error(tmp_path, ok, r"--label-kind: column\(s\) \['zz'\] are not in",
                  kinds={"zz": "binary"})
    with pytest.raises(DataError, match=r"--labels: file .*nope.csv does not exist"):
        read_labels_csv(tmp_path / "nope.csv", ["a.png"])
    mixed = _folder(tmp_path / "mixed", n=3)
    Image.fromarray(np.zeros((16, 12, 3), np.uint8)).save(mixed / "big.png")
    with pytest.raises(DataError, match=r"images of mixed sizes: 8x8 \(3 images, e.g. "
                                        r"'im0.png'\), 12x16 \(1 image, e.g. 'big.png'\); .*"
                                        r"--resolution N"):
        load_image_folder(mixed)
    assert load_image_folder(mixed, resolution=4).images.shape == (4, 4, 4, 3)


# ------------------------------------------------------------------ npz
def test_npz_images_and_label_arrays(tmp_path):
    images = np.arange(20 * 6 * 6, dtype=np.uint8).reshape(20, 6, 6)
    digit = np.arange(20) % 3
    score = np.linspace(0, 1, 20)
    score[4] = np.nan
    pair = np.stack([np.arange(20) % 2, (np.arange(20) // 10) * 5], axis=1)
    names = np.array(["cat", "dog"] * 10)
    np.savez(tmp_path / "d.npz", images=images, digit=digit, score=score, pair=pair, pet=names)
    data = load_images_npz(tmp_path / "d.npz")
    assert data.images.shape == (20, 6, 6, 1) and (data.images[..., 0] == images).all()
    cols = {c.name: c for c in data.metadata["label_columns"]}
    assert list(cols) == ["digit", "score", "pair_0", "pair_1", "pet"]
    assert cols["digit"].kind == "categorical" and cols["digit"].classes == ["0", "1", "2"]
    assert cols["score"].kind == "continuous" and cols["score"].n_missing == 1
    assert cols["pair_1"].kind == "binary" and _nan_eq(cols["pair_1"].values[9:11], [0, 1])
    assert cols["pet"].kind == "binary" and cols["pet"].classes == ["cat", "dog"]
    assert load_images_npz(tmp_path / "d.npz", max_images=12).images.shape == (12, 6, 6, 1)
    assert load_images_npz(tmp_path / "d.npz", resolution=4).images.shape == (20, 4, 4, 1)
    # A labels CSV instead of arrays: the file column holds row indices.
    (tmp_path / "l.csv").write_text("row,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    csv_data = load_images_npz(tmp_path / "d.npz", labels_csv=tmp_path / "l.csv")
    assert csv_data.label_names == ["y"] and csv_data.labels[:4, 0].tolist() == [0, 1, 0, 1]
    assert describe_data(tmp_path / "d.npz").num_images == 20


def test_bad_npz_files_are_one_clear_error_each(tmp_path, monkeypatch):
    def bad(match, **arrays):
        np.savez(tmp_path / "b.npz", **arrays)
        with pytest.raises(DataError, match=match):
            load_images_npz(tmp_path / "b.npz")

    grey = np.zeros((10, 4, 4), np.uint8)
    bad(r"no array 'images'; found \['imgs'\]", imgs=grey)
    bad(r"'images' contain NaN or Inf", images=np.full((10, 4, 4), np.nan, np.float32))
    bad(r"float images must lie in \[0, 1\], got \[0, 255\]",
        images=np.linspace(0, 255, 160).reshape(10, 4, 4))
    bad(r"'images' must be \[N, H, W\] .* got shape \(10, 4, 4, 2\)",
        images=np.zeros((10, 4, 4, 2), np.uint8))
    bad(r"label array 'y' has shape \(9,\), but there are 10 images",
        images=grey, y=np.zeros(9))
    bad(r"object arrays are refused", images=grey, y=np.array([{"a": 1}] * 10, dtype=object))
    bad(r"column 'y' has a single value", images=grey, y=np.ones(10))
    (tmp_path / "junk.npz").write_bytes(b"PK not a zip")
    with pytest.raises(DataError, match=r"junk\.npz: cannot read npz"):
        load_images_npz(tmp_path / "junk.npz")
    # The allocation bound is checked from the header, before the array is read.
    np.savez(tmp_path / "big.npz", images=np.zeros((10, 8, 8), np.uint8))
    monkeypatch.setenv("LATENTATLAS_MAX_IMAGE_BYTES", "600")
    with pytest.raises(DataError, match=r"10 images of 8x8x1 would take .* more than .*"
                                        r"--max-images"):
        load_images_npz(tmp_path / "big.npz")
    with pytest.raises(DataError, match=r"would take"):
        load_image_folder(_folder(tmp_path / "f", n=4, size=(16, 16)))


# ------------------------------------------------------------------ one registry
def test_one_registry_resolves_names_and_paths(tmp_path):
    assert is_dataset_name("mnist") and not is_dataset_name(str(tmp_path))
    dsprites = load_data("dsprites")
    assert dsprites.observation_shape == (64, 64, 1)
    info = describe_data("shapes3d")
    assert (info.num_images, info.size, info.channels, info.procedural) == (480_000, 64, 3, True)
    folder = _folder(tmp_path / "imgs", n=5, size=(10, 6), mode="L")
    Image.fromarray(np.zeros((4, 4), np.uint8), mode="L").save(folder / "small.png")
    info = describe_data(folder)
    assert (info.num_images, info.height, info.width, info.channels) == (6, 6, 10, 1)
    assert not info.uniform and not info.square and info.size == 6
    with pytest.raises(DataError, match=r"--data 'nowhere': neither a known data set \(dsprites"
                                        r".*\) nor an existing image folder or .npz file"):
        load_data("nowhere")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match=r"a file must be an .npz"):
        load_data(tmp_path / "x.txt")
    with pytest.raises(DataError, match=r"--labels: the built-in data set 'dsprites'"):
        load_data("dsprites", labels=tmp_path / "l.csv")


def test_training_sources_of_a_folder_and_an_npz(tmp_path):
    from latentatlas.training.data import ArraySource, resolve_training_data

    np.savez(tmp_path / "d.npz", images=np.full((12, 28, 28), 255, np.uint8))
    source = resolve_training_data(str(tmp_path / "d.npz"), 32)
    assert isinstance(source, ArraySource) and source.images.shape == (12, 32, 32, 1)
    # 28 -> 32 is zero-padded (as for MNIST), not blurred.
    assert source.images[0, 2:30, 2:30].min() == 255 and source.images[0, :2].max() == 0
    folder = _folder(tmp_path / "imgs", n=3, size=(12, 8))
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(folder / "big.png")
    source = resolve_training_data(str(folder), 16)
    assert source.images.shape == (4, 16, 16, 3) and source.channels == 3


# ------------------------------------------------------------------ --preset auto
def test_auto_preset_follows_the_zoo_presets():
    from latentatlas.training.gan_presets import GAN_PRESETS, auto_gan_preset

    small = auto_gan_preset(2000, 1, 28)  # the case: 2,000 grey 28 px images
    mnist = GAN_PRESETS["mnist"]
    assert (small["arch"], small["resolution"], small["generator"]) == (
        "zgen", 32, mnist["generator"])
    t = small["train"]
    assert (t["g_lr"], t["d_lr"], t["betas"], t["r1_gamma"], t["batch"], t["augment"]) == (
        2e-4, 2e-4, [0.5, 0.99], 1.0, 64, "ada")
    faces = auto_gan_preset(10_000, 3, 64)
    celeba = GAN_PRESETS["celeba64"]
    assert (faces["arch"], faces["resolution"]) == ("stylegan2", 64)
    assert faces["generator"] == celeba["generator"]
    assert faces["discriminator"] == celeba["discriminator"]
    for key in ("batch", "r1_gamma", "pl_weight", "style_mixing_prob", "augment", "kimg"):
        assert faces["train"][key] == celeba["train"][key], key
    big = auto_gan_preset(200_000, 1, 218)
    assert (big["resolution"], big["train"]["augment"], big["generator"]["z_dim"]) == (
        64, "none", 128)
    assert auto_gan_preset(480_000, 3, 64, procedural=True)["train"]["augment"] == "none"
    tiny = auto_gan_preset(40, 3, 16)
    assert (tiny["resolution"], tiny["train"]["batch"]) == (32, 8)
    assert auto_gan_preset(5000, 3, 64, resolution=32)["arch"] == "zgen"
    r1 = auto_gan_preset(5000, 3, 256, resolution=128, arch="stylegan2")["train"]["r1_gamma"]
    assert r1 == pytest.approx(0.2)  # 2 x 0.0002 x 128^2 / 32


def test_auto_is_the_default_for_a_users_data_only(tmp_path):
    from latentatlas.training.gan import GANTrainConfig
    from latentatlas.training.gan_presets import resolve_gan_preset
    from latentatlas.training.gan_run import resolve_gan_settings

    folder = _folder(tmp_path / "imgs", n=50, size=(28, 28), mode="L")
    auto = resolve_gan_preset(None, str(folder), {})
    assert auto["arch"] == "zgen" and auto["derived_from"] == {
        "num_images": 50, "channels": 1, "size": 28, "procedural": False}
    assert auto["train"]["batch"] == 8
    assert resolve_gan_preset(None, "mnist", {}) is None
    assert resolve_gan_preset("celeba64", str(folder), {}) == "celeba64"
    s = resolve_gan_settings(resolve_gan_preset("auto", str(folder), {"resolution": 64}),
                             {"resolution": 64, "total_steps": 5})
    assert s["arch"] == "stylegan2" and s["resolution"] == 64 and "kimg" not in s["train"]
    GANTrainConfig.from_dict(s["train"])  # every derived key is a trainer option


# ------------------------------------------------------------------ predictor on user data
def test_user_predictor_learns_known_labels_and_writes_its_card(tmp_path):
    from latentatlas.io import load_model
    from latentatlas.models import load as load_model_by_name
    from latentatlas.training.predictors_user import train_user_predictor

    rng = np.random.default_rng(0)
    n = 200
    bright = rng.random(n)
    images = np.clip(bright[:, None, None] * 255 + rng.normal(0, 8, (n, 12, 12)), 0, 255)
    labels = {"bright": (bright > 0.5).astype(int), "level": np.floor(bright * 3).astype(int),
              "value": bright.round(4)}
    lines = ["file,bright,level,value"]
    for i in range(n):
        missing = i % 10 == 0
        lines.append(f"{i},{labels['bright'][i]},{'' if missing else labels['level'][i]},"
                     f"{labels['value'][i]}")
    np.savez(tmp_path / "d.npz", images=images.astype(np.uint8))
    (tmp_path / "l.csv").write_text("\n".join(lines) + "\n")
    metrics = train_user_predictor(tmp_path / "d.npz", tmp_path / "pred",
                                   labels=tmp_path / "l.csv", steps=80, batch_size=32,
                                   progress=False, overrides={"eval_every": 40})
    assert metrics["split"]["train"] == 160 and metrics["split"]["test"] == 20
    assert metrics["labels"]["level"]["kind"] == "categorical"
    assert metrics["labels"]["level"]["n_missing"] == 20
    per = metrics["test"]["per_head"]
    assert per["bright"]["roc_auc"] > 0.9 and per["value"]["r2"] > 0.5
    from latentatlas.training.predictors_user import split_indices

    test_rows = split_indices(n, 0.1, 0.1, 0)["test"]
    assert per["level"]["n"] == 20 - int((test_rows % 10 == 0).sum())
    assert per["level"]["accuracy"] > 0.5
    model = load_model(tmp_path / "pred" / "model")
    assert model.head_names == ["bright", "level", "value"] and model.resolution == 12
    meta_per = model.model_metadata["test"]["per_head"]  # what explore reads its AUCs from
    assert meta_per["bright"]["roc_auc"] == pytest.approx(per["bright"]["roc_auc"])
    card = (tmp_path / "pred" / "MODEL_CARD.md").read_text()
    assert "| bright |" in card and "`level`: categorical, 180 labelled, 20 missing" in card
    assert "--data" in card and (tmp_path / "pred" / "model" / "MODEL_CARD.md").is_file()
    # The run folder itself also loads (its model/ inside): --predictor DIR works like DIR/model.
    assert load_model_by_name(tmp_path / "pred").head_names == model.head_names
    saved = json.loads((tmp_path / "pred" / "metrics.json").read_text())
    assert saved["test"]["per_head"]["value"]["r2"] == pytest.approx(per["value"]["r2"])


def test_predictor_cli_errors_name_the_flag(tmp_path):
    from click.testing import CliRunner

    from latentatlas.cli import main

    folder = _folder(tmp_path / "imgs", n=24)
    (tmp_path / "l.csv").write_text("file,a\n" + "".join(f"im{i}.png,3\n" for i in range(24)))
    result = CliRunner().invoke(main, ["predictors", "train", "--data", str(folder), "--labels",
                                       str(tmp_path / "l.csv"), "--out", str(tmp_path / "p")])
    assert result.exit_code == 1
    assert "Error: --labels: column 'a' has a single value ('3')" in result.output
    result = CliRunner().invoke(main, ["predictors", "train", "--data", str(folder), "--out",
                                       str(tmp_path / "p")])
    assert "Error: --labels:" in result.output and "has no labels" in result.output
    result = CliRunner().invoke(main, ["predictors", "train", "mnist", "--data", str(folder),
                                       "--out", str(tmp_path / "p")])
    assert result.exit_code == 2 and "not both" in result.output


# ------------------------------------------------------------------ end to end (real faces)
ATTRS = ("Smiling", "Male", "Eyeglasses", "Young")
HAIR = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")


def test_users_faces_end_to_end_gan_predictor_explore(shared_data, tmp_path):
    """A CelebA subset as a user would bring it (PNG folder + CSV with binary +1/-1 columns, a
    categorical column with missing cells, a continuous one) through train gan (auto preset,
    tiny), predictors train and explore --quick."""
    from click.testing import CliRunner

    from latentatlas.cli import main
    from latentatlas.data import load_celeba

    faces = load_celeba(shared_data / "celeba", resolution=64, max_images=1200, cache=False,
                        progress=False)
    folder = tmp_path / "faces"
    folder.mkdir()
    cols = [faces.label_names.index(a) for a in ATTRS]
    hair_cols = [faces.label_names.index(a) for a in HAIR]
    rows, n_missing_hair = ["file,Smiling,Male,Eyeglasses,Young,hair,brightness"], 0
    for i, name in enumerate(faces.metadata["file_names"]):
        png = name.replace(".jpg", ".png")
        Image.fromarray(faces.images[i]).save(folder / png)
        hair = faces.labels[i, hair_cols]
        colour = HAIR[int(hair.argmax())].split("_")[0].lower() if hair.sum() == 1 else ""
        n_missing_hair += colour == ""
        signs = ",".join(str(2 * int(v) - 1) for v in faces.labels[i, cols])
        rows.append(f"{png},{signs},{colour},{faces.images[i].mean() / 255:.4f}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")

    runner = CliRunner()
    tiny = ["--steps", "20", "--batch", "8", "--channel-base", "128", "--channel-max", "32",
            "--z-dim", "16", "--w-dim", "16", "--threads", "1", "--log-every", "5"]
    result = runner.invoke(main, ["train", "gan", "--data", str(folder), *tiny, "--out",
                                  str(tmp_path / "gan")])
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "gan" / "run.json").read_text())
    assert run["config"]["preset"] == "auto"
    derived = run["config"]["preset_settings"]
    assert derived["derived_from"] == {"num_images": 1200, "channels": 3, "size": 64,
                                       "procedural": False}
    assert (run["config"]["arch"], run["config"]["resolution"]) == ("stylegan2", 64)
    assert run["config"]["train"]["augment"] == "ada"
    losses = [json.loads(line) for line in (tmp_path / "gan" / "metrics.jsonl").open()]
    assert all(np.isfinite(r["loss_D"]) and r["loss_D"] > 0.01 for r in losses if "loss_D" in r)

    result = runner.invoke(main, ["predictors", "train", "--data", str(folder), "--labels",
                                  str(tmp_path / "labels.csv"), "--resolution", "32",
                                  "--steps", "30", "--out", str(tmp_path / "pred")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "pred" / "metrics.json").read_text())
    kinds = {k: v["kind"] for k, v in metrics["labels"].items()}
    assert kinds == {"Smiling": "binary", "Male": "binary", "Eyeglasses": "binary",
                     "Young": "binary", "hair": "categorical", "brightness": "continuous"}
    assert metrics["labels"]["hair"]["n_missing"] == n_missing_hair > 0
    assert metrics["labels"]["Male"]["classes"] == ["-1", "1"]
    assert metrics["split"] == {"train": 960, "val": 120, "test": 120, "seed": 0,
                                "kind": "random", "val_fraction": 0.1, "test_fraction": 0.1}
    per = metrics["test"]["per_head"]
    assert all(per[a]["roc_auc"] is not None for a in ATTRS)
    assert per["hair"]["accuracy"] is not None and per["brightness"]["r2"] is not None

    result = runner.invoke(main, ["explore", "--model", str(tmp_path / "gan" / "model"),
                                  "--predictor", str(tmp_path / "pred" / "model"), "--quick",
                                  "--attributes", "Male,Smiling", "--no-progress",
                                  "--out", str(tmp_path / "explore")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "explore" / "report.html").is_file()
    report = json.loads((tmp_path / "explore" / "metrics.json").read_text())
    assert sorted(report["config"]["attributes"]) == ["Male", "Smiling"]

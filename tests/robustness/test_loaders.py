"""Every loader case of cases.py: the bad input is built by the ``make`` function its case
names, the loader is called, the exception class and key words are checked (``ok`` cases check
a known answer); for ``cli`` cases the same bad model goes through ``latentatlas generate``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from cases import LOADER_CASES, LoaderCase
from click.testing import CliRunner

from conftest import _Evil, tree_digest, write_safetensors
from latentatlas.cli import main


# ----------------------------------------------------------------------------- bad model folders
def _header(folder: Path) -> tuple[dict, bytes]:
    raw = (folder / "model.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def _first_weight(header: dict) -> str:
    return next(k for k, v in header.items() if k != "__metadata__" and len(v["shape"]) >= 2)


def make_model(base: Path, tmp: Path, family: str, variant: str) -> Path:
    folder = tmp / f"{family}-{variant}"
    shutil.copytree(base / family, folder)
    cfg_path, w_path = folder / "config.json", folder / "model.safetensors"
    cfg = json.loads(cfg_path.read_text())
    header, data = _header(folder)
    key = _first_weight(header)

    def set_cfg(c):
        cfg_path.write_text(json.dumps(c))

    def retype(dtype, np_dtype):
        h = dict(header)
        entry = dict(h[key])
        lo, hi = entry["data_offsets"]
        count = int(np.prod(entry["shape"]))
        new = np.ones(count, np_dtype).tobytes()
        # Put the retyped tensor at the end of the data section.
        entry.update(dtype=dtype, data_offsets=[len(data), len(data) + len(new)])
        h[key] = entry
        write_safetensors(w_path, h, data + new)

    def poke(value):
        from safetensors.torch import load_file, save_file

        state = load_file(str(w_path))
        state[key].view(-1)[0] = value
        save_file(state, str(w_path), metadata={"format": "pt"})

    if variant == "no-config":
        cfg_path.unlink()
    elif variant == "config-not-json":
        cfg_path.write_text("{not json")
    elif variant == "config-huge":
        cfg_path.write_text(json.dumps({**cfg, "pad": "x" * (2 << 20)}))
    elif variant == "config-list":
        cfg_path.write_text("[1, 2]")
    elif variant == "config-deep":
        cfg_path.write_text("[" * 100_000 + "]" * 100_000)
    elif variant == "config-no-class":
        set_cfg({k: v for k, v in cfg.items() if k != "class"})
    elif variant == "config-unknown-class":
        set_cfg({**cfg, "class": "Nope"})
    elif variant == "config-kwargs-list":
        set_cfg({**cfg, "kwargs": [1]})
    elif variant == "config-kwargs-unknown":
        set_cfg({**cfg, "kwargs": {**cfg["kwargs"], "bogus": 1}})
    elif variant == "config-version-99":
        set_cfg({**cfg, "format_version": 99})
    elif variant == "config-huge-dims":
        set_cfg({**cfg, "kwargs": {**cfg["kwargs"], "channel_base": 1 << 17,
                                   "channel_max": 1 << 12}})
    elif variant == "no-weights":
        w_path.unlink()
    elif variant == "weights-empty":
        w_path.write_bytes(b"")
    elif variant == "weights-header-huge":
        write_safetensors(w_path, header, data, declared_len=1 << 40)
    elif variant == "weights-header-not-json":
        w_path.write_bytes((10).to_bytes(8, "little") + b"{not json}" + data)
    elif variant == "weights-offsets-outside":
        h = {**header, key: {**header[key], "data_offsets": [len(data), len(data) * 2]}}
        write_safetensors(w_path, h, data)
    elif variant == "weights-shape-lies":
        h = {**header, key: {**header[key], "shape": [s * 1000 for s in header[key]["shape"]]}}
        write_safetensors(w_path, h, data)
    elif variant == "weights-truncated":
        raw = w_path.read_bytes()
        w_path.write_bytes(raw[: len(raw) // 2])
    elif variant == "weights-unknown-dtype":
        write_safetensors(w_path, {**header, key: {**header[key], "dtype": "X9"}}, data)
    elif variant == "weights-int":
        retype("I32", np.int32)
    elif variant == "weights-bool":
        retype("BOOL", np.bool_)
    elif variant == "weights-complex":
        retype("C64", np.complex64)
    elif variant == "weights-nan":
        poke(float("nan"))
    elif variant == "weights-inf":
        poke(float("inf"))
    elif variant in ("weights-missing-key", "weights-extra-key", "weights-wrong-shape"):
        from safetensors.torch import load_file, save_file

        state = load_file(str(w_path))
        if variant == "weights-missing-key":
            del state[key]
        elif variant == "weights-extra-key":
            state["bogus.weight"] = torch.zeros(2)
        else:
            state[key] = torch.zeros(*[s + 1 for s in state[key].shape])
        save_file(state, str(w_path), metadata={"format": "pt"})
    elif variant == "weights-negative-dim":
        write_safetensors(w_path, {**header, key: {**header[key], "shape": [-1, 4]}}, data)
    else:  # pragma: no cover
        raise AssertionError(variant)
    return folder


# ----------------------------------------------------------------------------- the checks
def _raises(case: LoaderCase, fn) -> None:
    if case.error == "ok":
        fn()
        return
    with pytest.raises(Exception) as info:  # noqa: PT011 - the class is checked by name below
        fn()
    names = {c.__name__ for c in type(info.value).__mro__}
    assert names & set(case.error.split("|")), (type(info.value).__mro__, info.value)
    message = str(info.value).lower()
    assert "\n" not in str(info.value).strip() or case.error == "ok", info.value
    for word in case.words:
        assert word in message, (word, str(info.value))


def _run(case: LoaderCase, base: Path, tmp: Path) -> None:
    kind, _, arg = case.make.partition(":")
    if kind == "model":
        family, variant = arg.split(":")
        folder = make_model(base, tmp, family, variant)
        if case.error == "cli":
            before = tree_digest(tmp)
            result = CliRunner().invoke(main, ["generate", "--model", str(folder), "--out",
                                               str(tmp / "g.png")])
            errors = [ln for ln in result.output.splitlines() if ln.startswith("Error: ")]
            assert result.exit_code == 1 and len(errors) == 1, result.output
            assert "Traceback" not in result.output and "(a bug;" not in result.output
            for word in case.words:
                assert word in errors[0].lower(), (word, errors[0])
            assert tree_digest(tmp) == before
            return
        from latentatlas import load

        _raises(case, lambda: load(folder))
        return
    CHECKS[kind](case, arg, base, tmp)


def _vae_file(case, arg, base, tmp):
    from latentatlas.data.vae_sets import load_vae_data

    _raises(case, lambda: load_vae_data(str(base / "bad" / arg)))


def _npz(case, arg, base, tmp):
    from latentatlas.data.loaders import load_images_npz

    path = tmp / "x.npz"
    img = np.full((6, 8, 8), 0.5, np.float32)
    if arg == "npz-nan":
        img[2, 3, 3] = np.nan
        np.savez(path, images=img)
    elif arg == "npz-no-images":
        np.savez(path, pictures=img)
    elif arg == "npz-object":
        np.savez(path, images=np.array([None] * 6, dtype=object))
    elif arg == "npz-range":
        np.savez(path, images=img * 7)
    else:
        path.write_bytes(b"PK\x03\x04" + bytes(60))
    _raises(case, lambda: load_images_npz(path))


def _folder(case, arg, base, tmp):
    from PIL import Image

    from latentatlas.data.loaders import load_image_folder

    folder = tmp / "f"
    folder.mkdir()
    if arg == "png16":
        for i, value in enumerate((65535, 32896, 0, 257)):
            Image.fromarray(np.full((8, 8), value, np.uint16)).save(folder / f"{i}.png")
        data = load_image_folder(folder)
        assert data.images.dtype == np.uint8
        assert [int(data.images[i].max()) for i in range(4)] == [255, 128, 0, 1]
        return
    if arg == "float-nan-tiff":
        a = np.full((8, 8), 0.5, np.float32)
        a[1, 1] = np.nan
        Image.fromarray(a, "F").save(folder / "a.tiff")
        Image.fromarray(np.full((8, 8), 0.5, np.float32), "F").save(folder / "b.tiff")
    elif arg == "corrupt-png":
        (folder / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    _raises(case, lambda: load_image_folder(folder))


def _dsprites(case, arg, base, tmp):
    from latentatlas.data.loaders import load_dsprites_npz

    n = 4
    imgs = np.zeros((n, 64, 64), np.uint8)
    classes = np.zeros((n, 6), np.int64)
    values = np.zeros((n, 6), np.float64)
    path = tmp / "d.npz"
    extra = {}
    if arg == "evil-metadata":
        extra["metadata"] = np.array(_Evil(str(tmp / "PWNED")), dtype=object)
    elif arg == "plain-metadata":
        extra["metadata"] = np.array({"latents_sizes": np.array([1, 3, 6, 40, 32, 32]),
                                      "title": "dSprites"}, dtype=object)
    elif arg == "nan-imgs":
        imgs = imgs.astype(np.float32)
        imgs[0, 0, 0] = np.nan
    elif arg == "wrong-shape":
        imgs = np.zeros((n, 32, 32), np.uint8)
    elif arg == "count-mismatch":
        classes = classes[:2]
    np.savez(path, imgs=imgs, latents_classes=classes, latents_values=values, **extra)

    def load():
        out = load_dsprites_npz(path, allow_pickle=True)
        if arg == "plain-metadata":
            assert out.metadata["title"] == "dSprites"
            assert list(out.metadata["latents_sizes"]) == [1, 3, 6, 40, 32, 32]

    _raises(case, load)
    assert not (tmp / "PWNED").exists()


def _bank(case, arg, base, tmp):
    from latentatlas.analysis.bank import Bank

    bank = tmp / "bank"
    shutil.copytree(base / "bank", bank)
    meta = json.loads((bank / "bank.json").read_text())
    if arg == "no-bank-json":
        (bank / "bank.json").unlink()
    elif arg == "bank-json-corrupt":
        (bank / "bank.json").write_text("{oops")
    elif arg == "incomplete":
        (bank / "bank.json").write_text(json.dumps({**meta, "complete": False}))
    elif arg == "missing-array":
        (bank / "w.npy").unlink()
    elif arg == "short-array":
        np.save(bank / "w.npy", np.zeros((3, 8), np.float32))
    elif arg == "nan-score":
        name = meta["names"][0]
        arr = np.load(bank / f"{name}_scores.npy")
        arr[1, 0] = np.nan
        np.save(bank / f"{name}_scores.npy", arr)
    elif arg == "wrong-shape":
        np.save(bank / "wp.npy", np.zeros((8, 3, 8), np.float32))
    _raises(case, lambda: Bank.open(bank))


def _ckpt(case, arg, base, tmp):
    from latentatlas.training.checkpoint import load_checkpoint

    path = tmp / "c.safetensors"
    if arg == "random":
        path.write_bytes(np.random.default_rng(0).bytes(100))
    elif arg == "model-file":
        shutil.copy(base / "gen" / "model.safetensors", path)
    _raises(case, lambda: load_checkpoint(path))


def _resume(case, arg, base, tmp):
    from latentatlas.training.checkpoint import list_checkpoints, load_checkpoint
    from latentatlas.training.checkpoint import save_checkpoint as _save

    run = tmp / "run"
    shutil.copytree(base / "run", run)
    found = list_checkpoints(run / "checkpoints")
    assert len(found) >= 2
    newest = found[-1][1]
    state = load_checkpoint(newest)
    state["G"][next(iter(state["G"]))].view(-1)[0] = float("nan")
    import latentatlas.training.checkpoint as ck

    ck.nonfinite_tensors, saved = (lambda s, p="": []), ck.nonfinite_tensors  # write it anyway
    try:
        _save(state, newest)
    finally:
        ck.nonfinite_tensors = saved
    result = CliRunner().invoke(main, [
        "train", "gan", "--arch", "zgen", "--resolution", "16", "--steps", "3", "--batch", "4",
        "--channel-base", "64", "--channel-max", "8", "--z-dim", "4", "--threads", "1",
        "--checkpoint-every", "1", "--data", str(base / "imgs"), "--out", str(run),
        "--resume"])
    errors = [ln for ln in result.output.splitlines() if ln.startswith("Error: ")]
    assert result.exit_code == 1 and len(errors) == 1, result.output
    for word in case.words:
        assert word in errors[0].lower(), errors[0]
    assert str(found[-2][1].name) in errors[0]


def _svm(case, arg, base, tmp):
    from latentatlas.directions import SVMBoundary

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)).astype(np.float32)
    s = x[:, 0] + 0.1 * rng.normal(size=200)
    kw = {"chosen_num_or_ratio": 0.2, "progress": False}
    if arg == "interfacegan-reference":
        for seed in (0, 3):
            ours = SVMBoundary(split="interfacegan", seed=seed, **kw).fit(x, s).normal_
            ref = reference_train_boundary(x, s[:, None], 0.2, 0.7, seed)[0]
            cos = float(ours @ ref / np.linalg.norm(ours) / np.linalg.norm(ref))
            assert cos > 1 - 1e-6, cos
        return
    if arg == "constant-scores":
        s = np.ones(200)
    elif arg == "overlapping-scores":
        s = np.where(np.arange(200) < 190, 2.0, 1.0)
        kw["chosen_num_or_ratio"] = 0.3
    elif arg == "single-class-labels":
        _raises(case, lambda: SVMBoundary(**kw).fit(x, labels=np.ones(200, bool)))
        return
    elif arg == "nan-scores":
        s[3] = np.nan
    elif arg == "nan-latents":
        x[4, 1] = np.nan
    elif arg == "short-scores":
        s = s[:50]
    elif arg == "split-bogus":
        kw["split"] = "bogus"
    elif arg == "string-latents":
        x = np.array([["a"] * 5] * 200)
    _raises(case, lambda: SVMBoundary(**kw).fit(x, s))


def reference_train_boundary(latent_codes, scores, chosen_num_or_ratio, split_ratio, seed):
    """InterFaceGAN's train_boundary, written independently and plainly from its description
    (docs: sort descending with np.argsort(axis=0)[::-1], top / bottom chosen, each shuffled by
    the global numpy RandomState seeded once, 70 / 30 split, SVC(kernel='linear'), coef / norm)."""
    from sklearn import svm

    np.random.seed(seed)  # noqa: NPY002 - the reference's global state
    sorted_idx = np.argsort(scores, axis=0)[::-1, 0]
    latent_codes = latent_codes[sorted_idx]
    num = latent_codes.shape[0]
    chosen = int(num * chosen_num_or_ratio) if 0 < chosen_num_or_ratio <= 1 \
        else int(chosen_num_or_ratio)
    chosen = min(chosen, num // 2)
    train_num = int(chosen * split_ratio)
    positive_idx = np.arange(chosen)
    np.random.shuffle(positive_idx)  # noqa: NPY002
    positive_train = latent_codes[:chosen][positive_idx[:train_num]]
    negative_idx = np.arange(chosen)
    np.random.shuffle(negative_idx)  # noqa: NPY002
    negative_train = latent_codes[-chosen:][negative_idx[:train_num]]
    train_data = np.concatenate([positive_train, negative_train], axis=0)
    train_label = np.concatenate([np.ones(train_num, dtype=int), np.zeros(train_num, dtype=int)])
    clf = svm.SVC(kernel="linear").fit(train_data, train_label)
    a = clf.coef_.reshape(1, latent_codes.shape[1]).astype(np.float32)
    return a / np.linalg.norm(a)


def _project(case, arg, base, tmp):
    from latentatlas.directions.conditional import project_boundary

    rng = np.random.default_rng(0)
    n, c1, c2 = (rng.normal(size=6) for _ in range(3))
    if arg == "collinear-2":
        conds = (c1, c1.copy())
    elif arg == "antiparallel-2":
        conds = (c1, -c1)
    elif arg == "collinear-3":
        conds = (c1, c2, c1 + c2)
    elif arg == "nearly-collinear":
        u = c1 / np.linalg.norm(c1)
        conds = (u, u + 1e-15 * c2)
    elif arg == "primal-in-span":
        n, conds = c1.copy(), (c1,)
    else:
        out = project_boundary(n, c1, c2)
        assert abs(out @ c1) < 1e-6 and abs(out @ c2) < 1e-6
        assert abs(np.linalg.norm(out) - 1) < 1e-12
        return
    _raises(case, lambda: project_boundary(n, *conds))


def _metrics(case, arg, base, tmp):
    from latentatlas import metrics
    from latentatlas.metrics.disentanglement._common import discrete_mutual_info

    rng = np.random.default_rng(0)
    if arg == "collinear-tc":
        c = rng.normal(size=(500, 1))
        res = metrics.unsupervised_from_codes(np.hstack([c, 2 * c, rng.normal(size=(500, 1))]))
        assert res["gaussian_total_correlation"] == np.inf
    elif arg == "failing-metric":
        from latentatlas.data import DSpritesLike

        data = DSpritesLike()
        calls = []

        def rep(x):
            calls.append(1)
            return np.asarray(x, np.float32).reshape(len(x), -1)[:, :3]

        res = metrics.compute_suite(data, rep, 0, metrics=["mig", "unsupervised"],
                                    sizes={"mig": {"num_train": 0},
                                           "unsupervised": {"num_train": 50}})
        assert "must be" in res["mig"]["error"]
        assert np.isfinite(res["unsupervised"]["mutual_info_score"])
        assert res["errors"]["mig"] == res["mig"]["error"]
        assert np.isnan(metrics.headline_scores(res)["mig"])
    elif arg == "single-valued-factor":
        from latentatlas.data.base import GroundTruthData

        class Grid(GroundTruthData):
            name = "grid"
            factor_names = ("a", "const", "b")
            factors_num_values = (4, 1, 3)
            observation_shape = (2, 2, 1)

            def sample_observations_from_factors(self, factors, rng):
                f = self._check_factors(factors).astype(np.float32)
                assert (f[:, 1] == 0).all()
                obs = np.stack([f[:, 0] / 3, f[:, 2] / 2, f[:, 1], 0 * f[:, 0]], axis=1)
                return obs.reshape(-1, 2, 2, 1)

        def rep(x):
            return np.asarray(x, np.float32).reshape(len(x), -1)[:, :2]

        names = ["mig", "sap", "dci", "modularity_explicitness"]
        res = metrics.compute_suite(Grid(), rep, 0, metrics=names,
                                    sizes={m: {"num_train": 300, "num_test": 100}
                                           if m != "mig" else {"num_train": 300}
                                           for m in names})
        assert res["warnings"] == ["factor 'const' takes a single value: excluded from every "
                                   "metric"]
        assert "errors" not in res, res.get("errors")
        assert res["mig"]["discrete_mig"] > 0.5  # codes = the two varying factors
    else:
        from sklearn.metrics import mutual_info_score

        codes = rng.integers(0, 20, size=(400, 512))
        mi = discrete_mutual_info(codes, codes[:, :70])
        for i, j in ((0, 1), (511, 69), (300, 5)):
            assert abs(mi[i, j] - mutual_info_score(codes[:, i], codes[:, j])) < 1e-12


def _api(case, arg, base, tmp):
    from latentatlas import load
    from latentatlas.training.gan import GANTrainConfig
    from latentatlas.training.gan_card import ship_gan

    g = load(base / "gen")
    z = torch.zeros(2, 8)
    calls = {
        "psi-nan": lambda: g.z_to_latent(z, "wp", None, float("nan")),
        "psi-big": lambda: g.sample(2, "w", 0, truncation_psi=3.0),
        "cutoff-big": lambda: g.z_to_latent(z, "wp", None, 0.5, 7),
        "cutoff-negative": lambda: g.truncate(g.w_to_wp(g.z_to_w(z)), 0.5, -1, "wp"),
        "gan-kimg-zero": lambda: GANTrainConfig(kimg=0),
        "gan-r1-nan": lambda: GANTrainConfig(total_steps=1, r1_gamma=float("nan")),
        "gan-r1-negative": lambda: GANTrainConfig(total_steps=1, r1_gamma=-1.0),
        "ship-name-dotdot": lambda: ship_gan(base / "run", "..", zoo_dir=tmp),
    }
    _raises(case, calls[arg])


CHECKS = {"file": _vae_file, "npz": _npz, "folder": _folder, "dsprites": _dsprites,
          "bank": _bank, "ckpt": _ckpt, "resume": _resume, "svm": _svm, "project": _project,
          "metrics": _metrics, "api": _api}


@pytest.mark.parametrize("case", LOADER_CASES, ids=lambda c: c.id)
def test_loader_case(case: LoaderCase, base_workspace, tmp_path) -> None:
    before = tree_digest(base_workspace)
    _run(case, base_workspace, tmp_path)
    assert tree_digest(base_workspace) == before

"""One GAN-Control training run: what ``latentatlas train control`` does.

:func:`run_control` warm-starts a :class:`~latentatlas.models.grouped.GroupedStyleGAN2Generator`
from a StyleGAN2 of the same resolution (its synthesis network; fresh group mappings), builds a
fresh discriminator, sets the contrastive thresholds from real images
(:func:`~latentatlas.training.contrastive.thresholds_from_real`, labels: the predictor's own
reading of them) and trains with the GAN trainer plus the
:class:`~latentatlas.training.contrastive.GroupContrastiveHook`.

Everything that defines the run (the base model's weights fingerprint, the predictor's, the
groups, the attributes and their thresholds) is written to ``control.json`` when the run starts;
``--resume`` reads the thresholds back from it (so a resumed run is bit-identical even where a
recomputation would differ in the last bits) and refuses a different base, predictor, group
layout or attribute list.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentatlas.utils.errors import CheckpointError, OptionError

#: The settings the shipped shapes3d StyleGAN2 finished with (its model card), except that G
#: learns slower than D: the warm-started synthesis is good and the fresh D is not (with 1e-3 for
#: both, 500 steps of a barely trained D's gradients visibly damaged G on shapes3d).
CONTROL_TRAIN_DEFAULTS = {"batch": 32, "g_lr": 3e-4, "d_lr": 0.001, "r1_gamma": 0.5,
                          "pl_weight": 0.0, "style_mixing_prob": 0.0, "ema_kimg": 20.0,
                          "augment": "none", "checkpoint_every": 100, "sample_every": 500,
                          "log_every": 25, "regularizer_only_steps": 1500,
                          "regularizer_only_lr": 0.001}


def control_groups(attributes: Sequence[str], w_dim: int, group_dim: int) -> list[dict]:
    """One group of ``group_dim`` per attribute, then "other" with the rest of w (>= 1)."""
    other = int(w_dim) - group_dim * len(attributes)
    if other < 1:
        raise OptionError(f"{len(attributes)} attribute groups of {group_dim} do not fit the base "
                          f"model's w_dim {w_dim} with room for 'other': lower --group-dim")
    return [{"name": a, "w_dim": group_dim} for a in attributes] + \
        [{"name": "other", "w_dim": other}]


def real_images(source: Any, n: int, seed: int) -> torch.Tensor:
    """n real images of a training source as model images (NCHW in [-1, 1])."""
    from latentatlas.io.images import to_model_images
    from latentatlas.training.data import ArraySource

    if isinstance(source, ArraySource):
        idx = np.random.default_rng(seed).permutation(len(source))[:n]
        return to_model_images(source.images[np.sort(idx)])
    return to_model_images(source.batch(0, 0, n, n))


def predicted_labels(predictor: Any, images: torch.Tensor, heads: Sequence[str],
                     batch_size: int = 256) -> dict[str, np.ndarray]:
    """The predictor's reading as labels (:func:`~latentatlas.training.controllers.read_heads`):
    multiclass -> class, binary -> P > 0.5, regression -> its decile (so "same label" means
    "close value")."""
    from latentatlas.training.controllers import read_heads

    reads = [read_heads(predictor, images[s:s + batch_size], heads)
             for s in range(0, images.shape[0], batch_size)]
    labels = {h: np.concatenate([r[h] for r in reads]) for h in heads}
    for h in heads:
        if predictor.head(h)["kind"] == "regression":
            edges = np.quantile(labels[h], np.linspace(0, 1, 11)[1:-1])
            labels[h] = np.digitize(labels[h], edges)
    return labels


def attribute_basis(w: np.ndarray, labels: dict[str, np.ndarray], heads: Sequence[str],
                    group_dim: int, seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """An orthonormal basis of W [D, D] whose columns come in groups: for each head in order,
    the directions of W that a linear classifier (multinomial logistic regression on the codes)
    uses to tell its labels apart, made orthogonal to the earlier heads' (at most
    ``group_dim``), padded with the least-varying directions left over; then "other", the
    most-varying directions left over. The linear warm start of ``train control``: the group's
    w columns begin on the directions that already carry its attribute. Returns the basis and
    each head's classifier accuracy on the codes."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(w, dtype=np.float64)
    x = x - x.mean(axis=0)
    dim = x.shape[1]
    taken = np.zeros((dim, 0))
    own: list[np.ndarray] = []
    info: dict[str, Any] = {}
    for h in heads:
        clf = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(x, labels[h])
        coef = np.atleast_2d(clf.coef_)
        coef = coef - (coef @ taken) @ taken.T
        _, sv, vt = np.linalg.svd(coef, full_matrices=False)
        rank = min(int(group_dim), int((sv > 1e-6 * sv.max()).sum()))
        own.append(vt[:rank].T)
        taken = np.concatenate([taken, own[-1]], axis=1)
        info[h] = {"accuracy_on_codes": float(clf.score(x, labels[h])), "directions": rank}
    rest = x - (x @ taken) @ taken.T
    evals, evecs = np.linalg.eigh(rest.T @ rest)
    leftover = evecs[:, np.argsort(evals)[::-1]][:, :dim - taken.shape[1]]  # most varying first
    n_other = dim - int(group_dim) * len(heads)
    columns, pad = [], leftover[:, n_other:][:, ::-1]  # padding: least varying first
    used = 0
    for block in own:
        need = int(group_dim) - block.shape[1]
        columns.append(np.concatenate([block, pad[:, used:used + need]], axis=1))
        used += need
    columns.append(leftover[:, :n_other])
    return np.concatenate(columns, axis=1), info


def linear_start(G: Any, plain: Any, predictor: Any, heads: Sequence[str], group_dim: int,
                 seed: int, n: int = 4000) -> dict[str, Any]:
    """Rotate ``G``'s synthesis input so that each group's w columns start on the W directions
    of the plain model that carry its attribute (:func:`attribute_basis`), with the mean of the
    groups' mapped codes landing on the plain model's w_avg; returns the classifiers' report."""
    z = torch.randn(n, plain.z_dim, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        w = plain.z_to_w(z).float()
        images = plain.synthesize_batched(w, "w").clamp(-1, 1)
        mean_g = G.mapping(torch.randn(n, G.z_dim, generator=torch.Generator()
                                       .manual_seed(seed + 2))).mean(dim=0)
    labels = predicted_labels(predictor, images, heads)
    basis, info = attribute_basis(w.numpy(), labels, heads, group_dim, seed)
    basis_t = torch.as_tensor(basis, dtype=torch.float32)
    w_avg = plain.mapping.w_avg.detach().float()
    G.mapping.w_avg.copy_(w_avg)
    G.absorb_linear_w(basis_t, w_avg - basis_t @ mean_g)
    return info


def _thresholds(embedding: Any, predictor: Any, images: torch.Tensor, heads: Sequence[str],
                distance: str, seed: int) -> dict[str, dict[str, float]]:
    from latentatlas.training.contrastive import thresholds_from_real

    labels = predicted_labels(predictor, images, heads)
    embs: dict[str, list] = {h: [] for h in heads}
    with torch.no_grad():
        for s in range(0, images.shape[0], 256):
            e = embedding(images[s:s + 256])
            for h in heads:
                embs[h].append(e[h])
    return {h: thresholds_from_real(torch.cat(embs[h]), labels[h], distance, seed=seed)
            for h in heads}


def _control_record(out: Path, record: dict[str, Any], resume: bool) -> dict[str, Any]:
    """Write control.json on a fresh start; on resume check it describes the same run."""
    from latentatlas.utils.atomic import atomic_write_json

    path = out / "control.json"
    if resume and path.is_file():
        saved = json.loads(path.read_text())
        for key in ("base_fingerprint", "predictor_fingerprint", "groups", "attributes",
                    "distance", "temperature", "linear_start"):
            if saved.get(key) != record.get(key):
                raise CheckpointError(
                    f"{path}: this run was started with a different {key.replace('_', ' ')} "
                    f"({saved.get(key)!r}, now {record.get(key)!r}); resume with the run's own "
                    "options or start a new --out")
        return saved
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, record)
    return record


def _load_inputs(base: str, predictor: str, attributes: Sequence[str] | None):
    """The plain StyleGAN2 to warm-start from, the frozen predictor and the heads to control."""
    from latentatlas.models import StyleGAN2Generator, load

    plain = load(base)
    if type(plain) is not StyleGAN2Generator:
        raise OptionError(f"--base {base}: a plain StyleGAN2 generator is needed to warm-start "
                          f"from, got {type(plain).__name__}")
    P = load(predictor).eval()
    heads = list(attributes) if attributes else list(P.head_names)
    for h in heads:
        if h not in P.head_names:
            raise OptionError(f"unknown attribute {h!r}: the predictor's heads are "
                              f"{', '.join(P.head_names)}")
    return plain, P, heads


def _claim(out: Path, resume: bool, overwrite: bool) -> None:
    """A fresh run needs an empty (or new) --out; --overwrite empties it first."""
    from latentatlas.utils.outputs import check_new_folder, clear_folder

    if resume:
        if (out / "checkpoints").is_dir() and not (out / "control.json").is_file():
            raise CheckpointError(f"{out} holds a run that is not a GAN-Control run (no "
                                  "control.json); resume it with the command that started it")
        return
    check_new_folder(out, overwrite, what="run (pass --resume to continue it)")
    if out.is_dir() and any(out.iterdir()):
        clear_folder(out)


def _networks(plain: Any, groups: list[dict], seed: int):
    """The warm-started grouped G (float32: the contrastive gradients pass through the
    predictor) and a fresh D of the base model's widths."""
    from latentatlas.models import StyleGAN2Discriminator
    from latentatlas.models.grouped import GroupedStyleGAN2Generator

    G = GroupedStyleGAN2Generator.from_stylegan2(plain, groups, seed=seed, dtype="float32")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        D = StyleGAN2Discriminator(img_resolution=plain.img_resolution,
                                   img_channels=plain.img_channels, dtype="float32",
                                   channel_base=plain.config_kwargs["channel_base"],
                                   channel_max=plain.config_kwargs["channel_max"])
    return G, D


def run_control(out: str | os.PathLike, *, base: str = "shapes3d",
                predictor: str = "predictor_shapes3d", data: str | None = None,
                attributes: Sequence[str] | None = None, group_dim: int = 16,
                distance: str = "l2", temperature: float = 4.0, n_pairs: int = 56,
                weight: float = 1.0, interval: int = 1, n_real: int = 2000,
                linear: bool = True,
                overrides: dict[str, Any] | None = None, resume: bool = False,
                overwrite: bool = False, threads: int | None = None,
                device: str | None = None, command: str | None = None,
                log: Callable[[str], Any] = print):
    """Train a GAN-Control model into ``out`` (module docstring). ``base``: a StyleGAN2 (zoo
    name or folder) to warm-start from; ``predictor``: the frozen attribute network (a zoo name
    or folder); ``data``: the real images (default: a shipped base model's data set);
    ``attributes``: predictor heads to control (default: all); ``linear``: start each group's w
    columns on the W directions that carry its attribute (:func:`linear_start`; recorded in
    control.json); ``overrides``: trainer settings
    over :data:`CONTROL_TRAIN_DEFAULTS` (``kimg`` or ``total_steps`` required). Returns the
    trainer's result."""
    from latentatlas.data.registry import is_dataset_name
    from latentatlas.training.contrastive import GroupContrastiveHook, HeadEmbedding
    from latentatlas.training.data import resolve_training_data
    from latentatlas.training.gan import GANTrainConfig, GANTrainer
    from latentatlas.utils.fingerprint import module_fingerprint

    if threads:
        torch.set_num_threads(int(threads))
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    plain, P, heads = _load_inputs(base, predictor, attributes)
    groups = control_groups(heads, int(plain.w_dim), int(group_dim))
    tcfg = {**CONTROL_TRAIN_DEFAULTS, **{k: v for k, v in (overrides or {}).items()
                                         if v is not None}}
    if "kimg" not in tcfg and "total_steps" not in tcfg:
        raise OptionError("give --kimg or --steps")
    if data is None and not is_dataset_name(str(base)):
        raise OptionError(f"give --data: the real images {base} was trained on (only a "
                          "shipped base model's data set is known)")
    data = data or str(base)
    seed = int(tcfg.get("seed", 0))
    source = resolve_training_data(data, int(plain.img_resolution), seed=seed)
    embedding = HeadEmbedding(P, heads, temperature)
    record = {"base": str(base), "base_fingerprint": module_fingerprint(plain),
              "predictor": str(predictor), "predictor_fingerprint": module_fingerprint(P),
              "data": data, "groups": groups, "attributes": heads, "distance": distance,
              "temperature": float(temperature), "linear_start": bool(linear)}
    out = Path(out)
    _claim(out, resume, overwrite)
    if not (resume and (out / "control.json").is_file()):
        images = real_images(source, int(n_real), seed)
        record["thresholds"] = _thresholds(embedding, P, images, heads, distance, seed)
        record["n_real"] = int(n_real)
    record = _control_record(out, record, resume)
    G, D = _networks(plain, groups, seed)
    resuming = resume and any((out / "checkpoints").glob("*.safetensors"))
    if record.get("linear_start") and not resuming:  # (a checkpoint holds the result)
        info = linear_start(G, plain, P, heads, int(group_dim), seed)
        if "linear_start_report" not in record:
            from latentatlas.utils.atomic import atomic_write_json

            record["linear_start_report"] = info
            atomic_write_json(out / "control.json", record)
    attrs = [{"name": h, "group": h, **{k: record["thresholds"][h][k]
                                          for k in ("tau_plus", "tau_minus")}} for h in heads]
    hook = GroupContrastiveHook(embedding, attrs, G.group_slices("z"), n_pairs=n_pairs,
                                distance=distance, weight=weight, interval=interval, seed=seed)
    tcfg["bf16"] = False  # the fast path computes in G's own dtype (float32 here)
    trainer = GANTrainer(G, D, source, GANTrainConfig.from_dict(tcfg), out, regularizers=[hook],
                         device=dev, command=command,
                         extra_config={"control": record, "regularizers": [hook.config()],
                                       "arch": "grouped_stylegan2", "data_spec": data})
    log(f"GAN-Control: {len(heads)} attribute groups of {group_dim} + other "
        f"{groups[-1]['w_dim']} (w {plain.w_dim}), warm start from {base}; "
        f"{trainer.total_steps} steps of batch {tcfg['batch']}, {dev}")
    result = trainer.train(resume=resume)  # the folder was claimed (and cleared) above
    log(f"done: step {result.step}; model {result.model_dir}")
    return result


__all__ = ["CONTROL_TRAIN_DEFAULTS", "control_groups", "predicted_labels", "real_images",
           "run_control"]

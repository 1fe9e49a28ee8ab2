"""``latentatlas invert``: real images -> latent codes, reconstructions, errors, scores, edits.

Output folder::

    codes/<name>.npy            one code per image ([d] for W, [L, d] for W+), written as it
                                 finishes: a rerun skips images already inverted (resume)
    noises/<name>.npz           optimised noise maps (``--noise optimize`` only)
    reconstructions/<name>.png  the generator's rendering of each code
    codes.npy, names.json       all codes stacked, in the order of names.json
    errors.csv                  name, pixel_mse, embedding_error
    scores.csv                  name, attribute, p_original, p_reconstruction
    comparison.png              originals (top rows) over reconstructions
    edits/<direction>_<amount>/<name>.png   with ``--directions`` and ``--edit``
    rejected.json               images that could not be used, with the reason
    run.json                    config, metrics (mean errors, attribute agreement)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from latentatlas.data.faces import load_faces
from latentatlas.editing.inversion import custom_noise, invert
from latentatlas.io.images import save_grid, save_image, to_model_images, to_uint8_nhwc
from latentatlas.utils.atomic import atomic_path, atomic_save_npy, atomic_write_json
from latentatlas.utils.errors import OptionError
from latentatlas.utils.outputs import claim_folder
from latentatlas.utils.runinfo import write_run_record

#: The encoder shipped for each shipped generator.
SHIPPED_ENCODERS = {"celeba64": "encoder_celeba64"}
#: The predictor used for the perceptual term and the scores of each shipped generator.
SHIPPED_PREDICTORS = {"celeba64": "predictor_celeba64"}


def load_walk_file(path: str | os.PathLike) -> Any:
    """A saved Directions file (.safetensors) or a walk model folder (``NonlinearWalk``)."""
    import latentatlas.directions  # noqa: F401  (registers the walk classes)
    from latentatlas.directions import Directions
    from latentatlas.models.zoo import load

    p = Path(path)
    if p.is_dir():
        return load(p)
    if not p.is_file():
        raise OptionError(f"--directions {p}: no such file or folder")
    return Directions.load(p)


def walk_names(walk: Any) -> list[str]:
    from latentatlas.directions import Directions

    if isinstance(walk, Directions):
        return list(walk.names)
    return [getattr(walk, "name", None) or type(walk).__name__]


def pick_walk(walk: Any, name: str) -> Any:
    from latentatlas.directions import Directions

    if isinstance(walk, Directions):
        return walk[name]
    return walk


def apply_walk(walk: Any, codes: torch.Tensor, space: str, alpha: float,
               layers: Any = None) -> torch.Tensor:
    """Codes of ``space`` moved by ``alpha`` along ``walk`` (W codes are broadcast to W+ when the
    walk lives in W+; W+ codes edited by a W walk move on every layer, or on ``layers``)."""
    from latentatlas.directions import Directions

    wspace = getattr(walk, "space", space)
    x = codes.float()
    if wspace == "wp" and x.ndim == 2:
        raise OptionError("this walk lives in W+; invert with --space wp")
    if wspace == "w" and x.ndim == 3 and not isinstance(walk, Directions):
        from latentatlas.directions.walks import restrict_layers

        n, num_layers, d = x.shape
        moved = walk.walk(x.reshape(n * num_layers, d), alpha).reshape(n, num_layers, d)
        return torch.as_tensor(restrict_layers(x, moved, layers))
    with torch.no_grad():
        return torch.as_tensor(walk.walk(x, alpha, layers))


def _parse_edits(edits: list[str]) -> list[tuple[str, float]]:
    out = []
    for e in edits:
        name, sep, amount = e.rpartition("=")
        try:
            out.append((name, float(amount)))
        except ValueError:
            sep = ""
        if not sep or not name:
            raise OptionError(f"--edit {e!r}: expected NAME=AMOUNT, e.g. Smiling=2")
    return out


def _safe_stem(name: str) -> str:
    stem = Path(name).stem
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem) or "image"


def invert_folder(
    model: str | os.PathLike,
    images: str | os.PathLike,
    out: str | os.PathLike,
    *,
    space: str = "wp",
    encoder: str | os.PathLike | None = "auto",
    predictor: str | os.PathLike | None = "auto",
    steps: int = 200,
    batch_size: int = 25,
    lr: float = 0.03,
    embedding_weight: float = 1.0,
    spread_weight: float = 0.01,
    noise: str = "const",
    directions: str | os.PathLike | None = None,
    edits: list[str] | None = None,
    seed: int = 0,
    progress: bool = True,
    command_line: str = "",
) -> dict[str, Any]:
    """Invert every usable image of ``images`` into ``out`` (see the module docstring); returns
    the metrics also written to run.json. ``encoder`` / ``predictor``: "auto" (the ones shipped
    for a shipped generator, none otherwise), a shipped name or folder, or None."""
    from latentatlas.models.zoo import load

    model_name = str(model)
    gen = load(model)
    if "wp" not in getattr(gen, "spaces", ()):
        raise OptionError(f"{model}: inversion needs a StyleGAN-like generator with W / W+")
    enc_name = SHIPPED_ENCODERS.get(model_name) if encoder == "auto" else encoder
    pred_name = SHIPPED_PREDICTORS.get(model_name) if predictor == "auto" else predictor
    enc = load(enc_name) if enc_name else None
    pred = load(pred_name) if pred_name else None
    walk = load_walk_file(directions) if directions else None
    edit_list = _parse_edits(edits or [])
    if edit_list and walk is None:
        raise OptionError("--edit needs --directions FILE")
    if walk is not None:
        known = walk_names(walk)
        for name, _ in edit_list:
            if len(known) > 1 and name not in known:
                raise OptionError(f"--edit {name}: not in {directions} (has {', '.join(known)})")

    out = Path(out)
    arrays, names, rejected = load_faces(images, gen.img_resolution)
    if not names:
        raise OptionError(f"--images {images}: no usable image ({len(rejected)} rejected: "
                          f"{next(iter(rejected.values()), '')})")
    claim_folder(out, {"command": "invert", "model": model_name, "space": space},
                 flag=None, legacy_marker="rejected.json")
    for sub in ("codes", "reconstructions") + (("noises",) if noise == "optimize" else ()):
        (out / sub).mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "rejected.json", rejected)
    stems = [_safe_stem(n) for n in names]
    if len(set(stems)) != len(stems):
        stems = [f"{i:05d}_{s}" for i, s in enumerate(stems)]
    todo = [i for i, s in enumerate(stems) if not (out / "codes" / f"{s}.npy").is_file()]
    x_all = to_model_images(arrays)
    settings = dict(space=space, predictor=pred, steps=steps, lr=lr,
                    embedding_weight=embedding_weight, spread_weight=spread_weight,
                    noise=noise, seed=seed)
    bar = tqdm(total=len(names), initial=len(names) - len(todo), desc="invert",
               disable=not progress)
    for s in range(0, len(todo), batch_size):
        idx = todo[s:s + batch_size]
        res = invert(gen, x_all[idx], encoder=enc, batch_size=batch_size, progress=False,
                     **settings)
        for j, i in enumerate(idx):
            save_image(to_uint8_nhwc(res.reconstructions[j:j + 1])[0],
                       out / "reconstructions" / f"{stems[i]}.png")
            if res.noises:
                with atomic_path(out / "noises" / f"{stems[i]}.npz") as tmp, open(tmp, "wb") as f:
                    np.savez(f, **{k: v[j].numpy() for k, v in res.noises.items()})
            atomic_save_npy(out / "codes" / f"{stems[i]}.npy", res.codes[j].numpy())
        bar.update(len(idx))
    bar.close()

    codes = torch.from_numpy(np.stack([np.load(out / "codes" / f"{s}.npy") for s in stems]))
    noises = _load_noises(out, stems) if noise == "optimize" else {}
    atomic_save_npy(out / "codes.npy", codes.numpy())
    atomic_write_json(out / "names.json", names)
    metrics = evaluate_reconstructions(gen, pred, x_all, codes, space, noises)
    _write_tables(out, names, metrics, pred)
    recon = metrics.pop("_reconstructions")
    k = min(len(names), 16)
    save_grid(torch.cat([x_all[:k], recon[:k]]), out / "comparison.png", nrow=k)
    for name, amount in edit_list:
        one = pick_walk(walk, name)
        edited = apply_walk(one, codes, space, amount)
        folder = out / "edits" / f"{_safe_stem(name)}_{amount:g}"
        folder.mkdir(parents=True, exist_ok=True)
        with torch.no_grad(), custom_noise(gen, noises):
            imgs = gen.synthesize(edited, space).float().clamp(-1, 1)
        for j, s in enumerate(stems):
            save_image(to_uint8_nhwc(imgs[j:j + 1])[0], folder / f"{s}.png")
    summary = {k: v for k, v in metrics.items() if not k.startswith("per_")}
    summary.update(num_images=len(names), num_rejected=len(rejected))
    write_run_record(out, command=command_line or "invert", seed=seed, metrics=summary,
                     config={"model": model_name, "images": str(images), "space": space,
                             "encoder": str(enc_name) if enc_name else None,
                             "predictor": str(pred_name) if pred_name else None,
                             "steps": steps, "batch_size": batch_size, "lr": lr,
                             "embedding_weight": embedding_weight,
                             "spread_weight": spread_weight, "noise": noise,
                             "directions": str(directions) if directions else None,
                             "edits": edits or []})
    return summary


def _load_noises(out: Path, stems: list[str]) -> dict[str, torch.Tensor]:
    parts: dict[str, list[np.ndarray]] = {}
    for s in stems:
        with np.load(out / "noises" / f"{s}.npz") as z:
            for k in z.files:
                parts.setdefault(k, []).append(z[k])
    return {k: torch.from_numpy(np.stack(v)) for k, v in parts.items()}


def evaluate_reconstructions(
    gen: Any, pred: Any, originals: torch.Tensor, codes: torch.Tensor, space: str,
    noises: dict[str, torch.Tensor] | None = None,
) -> dict[str, Any]:
    """Pixel MSE, embedding distance and attribute agreement of codes' renderings vs originals."""
    from latentatlas.training.encoder import embedding_distance

    with torch.no_grad(), custom_noise(gen, noises or {}):
        recon = gen.synthesize_batched(codes, space).clamp(-1, 1)
    pix = (recon - originals).square().flatten(1).mean(1).numpy()
    out: dict[str, Any] = {"pixel_mse": float(pix.mean()), "per_pixel_mse": pix.tolist(),
                           "_reconstructions": recon}
    if pred is not None:
        with torch.no_grad():
            e = embedding_distance(pred.embed(recon), pred.embed(originals)).numpy()
            p0 = {k: v.numpy() for k, v in pred.predict(originals).items()}
            p1 = {k: v.numpy() for k, v in pred.predict(recon).items()}
        delta = {k: float(np.abs(p1[k] - p0[k]).mean()) for k in p0 if p0[k].ndim == 1}
        out.update(embedding_error=float(e.mean()), per_embedding_error=e.tolist(),
                   attribute_agreement=delta,
                   mean_abs_delta_p=float(np.mean(list(delta.values()))) if delta else None,
                   per_p_original={k: v.tolist() for k, v in p0.items() if v.ndim == 1},
                   per_p_reconstruction={k: v.tolist() for k, v in p1.items() if v.ndim == 1})
    return out


def _write_tables(out: Path, names: list[str], metrics: dict[str, Any], pred: Any) -> None:
    rows = ["name,pixel_mse,embedding_error"]
    emb = metrics.get("per_embedding_error")
    for i, n in enumerate(names):
        e = f"{emb[i]:.6f}" if emb is not None else ""
        rows.append(f"{json.dumps(n)},{metrics['per_pixel_mse'][i]:.6f},{e}")
    with atomic_path(out / "errors.csv") as tmp:
        tmp.write_text("\n".join(rows) + "\n", encoding="utf-8")
    if pred is None:
        return
    rows = ["name,attribute,p_original,p_reconstruction"]
    p0, p1 = metrics["per_p_original"], metrics["per_p_reconstruction"]
    for i, n in enumerate(names):
        for a in p0:
            rows.append(f"{json.dumps(n)},{a},{p0[a][i]:.4f},{p1[a][i]:.4f}")
    with atomic_path(out / "scores.csv") as tmp:
        tmp.write_text("\n".join(rows) + "\n", encoding="utf-8")

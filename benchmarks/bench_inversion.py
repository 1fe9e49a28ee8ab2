"""Inversion of held-out real CelebA faces into celeba64's W+, and edits of the inverted codes.

Faces: CelebA images 9,001-9,100 (indices 9000-9099: the predictor's held-out test split, never
seen by the encoder, which trained on the first 8,000), the 64 px CelebA crop. For each setting

- ``encoder``: the shipped encoder_celeba64 alone (no optimisation),
- ``encoder+opt``: the encoder's codes refined by ``--steps`` projector steps,
- ``w_avg+opt`` (with ``--baseline``): the projector from w_avg, no encoder,

it reports the mean pixel MSE (images in [-1, 1]), the mean embedding distance in
predictor_celeba64's embedding (squared distance of unit vectors, in [0, 4]) and the attribute
agreement (mean |P(original) - P(reconstruction)| per attribute). Edits (``encoder+opt`` codes):
InterFaceGAN boundaries in W (benchmarks/_celeba64_directions.py) for Smiling and Male, moved by
+-``--alpha`` on every W+ layer: faces without the attribute (P < 0.5 on the reconstruction)
move +alpha, the others -alpha; an edit succeeds when the target probability moves by at least
``--threshold`` the right way. Drift: mean |delta P| over the other 39 attributes, and the
embedding distance between reconstruction and edit. The same edits of the encoder-only codes are
reported too (``edits_encoder_only``).

Writes benchmarks/results/inversion.json and docs/img/inversion_before_after.png. Usage:
    PYTHONPATH=src python benchmarks/bench_inversion.py [--n 100] [--steps 200] [--baseline]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _celeba64_directions import celeba64_directions  # noqa: E402
from latentatlas.data.loaders import load_celeba  # noqa: E402
from latentatlas.editing.inversion import invert  # noqa: E402
from latentatlas.io.images import save_grid, to_model_images  # noqa: E402
from latentatlas.models import load  # noqa: E402
from latentatlas.pipelines.invert import apply_walk, evaluate_reconstructions  # noqa: E402
from latentatlas.training.encoder import embedding_distance  # noqa: E402
from latentatlas.utils.atomic import atomic_write_json  # noqa: E402
from latentatlas.utils.runinfo import environment_info  # noqa: E402


def summarise(m: dict) -> dict:
    return {"pixel_mse": round(m["pixel_mse"], 5),
            "embedding_error": round(m["embedding_error"], 5),
            "mean_abs_delta_p": round(m["mean_abs_delta_p"], 5),
            "abs_delta_p": {k: round(v, 4) for k, v in m["attribute_agreement"].items()},
            "pixel_mse_per_image": {"median": round(float(np.median(m["per_pixel_mse"])), 5),
                                    "max": round(float(np.max(m["per_pixel_mse"])), 5)}}


def edit_metrics(gen, pred, codes, recon, dirs, attr, alpha, threshold):
    with torch.no_grad():
        p0 = {k: v.numpy() for k, v in pred.predict(recon).items()}
    has = p0[attr] >= 0.5
    sign = np.where(has, -1.0, 1.0).astype(np.float32)
    walk = dirs[attr]
    moved = torch.cat([apply_walk(walk, codes[i:i + 1], "wp", float(alpha * sign[i]))
                       for i in range(len(codes))])
    with torch.no_grad():
        edited = gen.synthesize_batched(moved, "wp").clamp(-1, 1)
        p1 = {k: v.numpy() for k, v in pred.predict(edited).items()}
        ident = embedding_distance(pred.embed(edited), pred.embed(recon)).numpy()
    change = (p1[attr] - p0[attr]) * sign
    ok = change >= threshold
    others = [k for k in p0 if k != attr]
    drift = np.mean([np.abs(p1[k] - p0[k]) for k in others], axis=0)
    worst = sorted(((float(np.abs(p1[k] - p0[k]).mean()), k) for k in others), reverse=True)[:3]
    return {"alpha": alpha, "threshold": threshold,
            "success_rate": round(float(ok.mean()), 4),
            "success_rate_adding": round(float(ok[~has].mean()), 4) if (~has).any() else None,
            "success_rate_removing": round(float(ok[has].mean()), 4) if has.any() else None,
            "faces_adding": int((~has).sum()), "faces_removing": int(has.sum()),
            "mean_target_change": round(float(change.mean()), 4),
            "other_attribute_drift": round(float(drift.mean()), 4),
            "most_drifting": {k: round(v, 4) for v, k in worst},
            "embedding_drift": round(float(ident.mean()), 4)}, edited


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--first", type=int, default=9000)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=25)
    ap.add_argument("--encoder", default="encoder_celeba64")
    ap.add_argument("--baseline", action="store_true")
    ap.add_argument("--alpha", type=float, default=3.0)
    ap.add_argument("--threshold", type=float, default=0.3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "inversion.json"))
    ap.add_argument("--figure", default=str(ROOT / "docs" / "img" /
                                            "inversion_before_after.png"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen, pred, enc = load("celeba64"), load("predictor_celeba64"), load(args.encoder)
    dirs = celeba64_directions(ROOT / "runs" / "celeba64_directions.safetensors")
    data = load_celeba(max_images=args.first + args.n, progress=False)
    x = to_model_images(data.images[args.first:args.first + args.n])
    names = data.metadata["file_names"][args.first:args.first + args.n]
    result = {"faces": f"CelebA {names[0]} ... {names[-1]} (held out), 64 px crop",
              "n": len(names), "space": "wp", "steps": args.steps,
              "loss": "pixel MSE + 1.0 x predictor_celeba64 embedding distance",
              "settings": {}}
    codes_of = {}
    runs = [("encoder", enc, 0), ("encoder+opt", enc, args.steps)]
    if args.baseline:
        runs.append(("w_avg+opt", None, args.steps))
    for label, encoder, steps in runs:
        t0 = time.perf_counter()
        res = invert(gen, x, space="wp", encoder=encoder, predictor=pred, steps=steps,
                     batch_size=args.batch_size, progress=True)
        seconds = time.perf_counter() - t0
        m = evaluate_reconstructions(gen, pred, x, res.codes, "wp")
        codes_of[label] = (res.codes, m["_reconstructions"])
        result["settings"][label] = {**summarise(m),
                                     "seconds_per_image": round(seconds / len(names), 3)}
        print(label, {k: v for k, v in result["settings"][label].items() if k != "abs_delta_p"})
    codes, recon = codes_of["encoder+opt"]
    edits = {}
    edited_imgs = {}
    for attr in ("Smiling", "Male"):
        edits[attr], edited_imgs[attr] = edit_metrics(gen, pred, codes, recon, dirs, attr,
                                                      args.alpha, args.threshold)
        print(attr, edits[attr])
    result["edits"] = edits
    enc_codes, enc_recon = codes_of["encoder"]
    result["edits_encoder_only"] = {
        attr: edit_metrics(gen, pred, enc_codes, enc_recon, dirs, attr, args.alpha,
                           args.threshold)[0] for attr in ("Smiling", "Male")}
    print("encoder only", result["edits_encoder_only"])
    result["directions"] = ("InterFaceGAN linear SVM boundaries in W (20,000 samples, top / "
                            "bottom 2 % by predictor logit), applied to every W+ layer")
    result["environment"] = environment_info()
    atomic_write_json(args.out, result)
    k = 8
    rows = [x[:k], codes_of["encoder"][1][:k], recon[:k], edited_imgs["Smiling"][:k],
            edited_imgs["Male"][:k]]
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    save_grid(torch.cat(rows), args.figure, nrow=k)
    print("wrote", args.out, args.figure)


if __name__ == "__main__":
    main()

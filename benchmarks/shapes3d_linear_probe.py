"""Is each shapes3d factor linear in the shipped generator's Z and W? (issue 26's floor-hue edit)

The floor-hue edit of ``explore`` moves the predicted hue towards its target for only ~58 % of
codes. This script measures why, on the shipped ``shapes3d`` with ``predictor_shapes3d`` as the
reader (test accuracy 1.0 per factor), on N codes (75 % to fit, 25 % held out):

- linear probes: held-out accuracy of a multinomial logistic regression from Z and from W to each
  factor's predicted class (chance: 1 / classes); for the hues also a ridge regression to the
  hue angle's (cos, sin): if the hues lay on a circle in a plane of W, its R^2 would be near 1;
- the edit: per floor-hue class c, a one-vs-rest linear SVM in W, then every held-out code moved
  ``alpha`` along its unit normal (in W, or in W+ on the first 3 layers only); the fraction whose
  log P(c) rises and whose predicted hue becomes c; and, per code, the class-mean transport
  w + (mean W of class c - mean W of the code's class) (a one-vs-one edit: one vector per pair).

Writes benchmarks/results/shapes3d_linear_probe.json and prints a table.

    .venv/bin/python benchmarks/shapes3d_linear_probe.py [--n 4000] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.svm import LinearSVC

from latentatlas.models import load
from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.runinfo import environment_info

RESULTS = Path(__file__).resolve().parent / "results"
ALPHAS = (2.0, 4.0)
EARLY_LAYERS = 3


def predict_log_probs(G, P, latents: torch.Tensor, space: str) -> dict[str, np.ndarray]:
    """Per head, log-softmax of the predictor's logits on the clamped images."""
    images = G.synthesize_batched(latents, space=space, batch_size=100).clamp(-1, 1)
    with torch.no_grad():
        logits = P.logits(images)
    return {h: torch.log_softmax(logits[:, s], 1).double().numpy()
            for h, s in P.head_slices().items()}


def probes(codes: dict[str, np.ndarray], labels: dict[str, np.ndarray], n_fit: int) -> dict:
    """Held-out accuracy (and hue-angle R^2) of linear maps from each space to each factor."""
    out: dict = {}
    for space, X in codes.items():
        for f, y in labels.items():
            clf = LogisticRegression(max_iter=3000).fit(X[:n_fit], y[:n_fit])
            row = {"linear_accuracy": float(clf.score(X[n_fit:], y[n_fit:])),
                   "chance": float(np.bincount(y).max() / len(y))}
            if f.endswith("hue"):
                angle = 2 * np.pi * y / 10
                target = np.c_[np.cos(angle), np.sin(angle)]
                fit = Ridge(1.0).fit(X[:n_fit], target[:n_fit]).predict(X[n_fit:])
                held = target[n_fit:]
                row["angle_r2"] = float(1 - ((fit - held) ** 2).sum()
                                        / ((held - held.mean(0)) ** 2).sum())
            out.setdefault(f, {})[space] = row
    return out


def floor_hue_edits(G, P, w: np.ndarray, hue: np.ndarray, n_fit: int) -> dict:
    """One-vs-rest SVM edits of the floor hue in W and in W+ (early layers), per class."""
    held = torch.as_tensor(w[n_fit:])
    before = predict_log_probs(G, P, held, "w")["floor_hue"]
    num_layers = G.num_ws
    start = before.argmax(1)
    means = np.stack([w[:n_fit][hue[:n_fit] == c].mean(0) for c in range(10)])
    out: dict = {}
    for c in range(10):
        svm = LinearSVC(C=1.0).fit(w[:n_fit], (hue[:n_fit] == c).astype(int))
        normal = torch.as_tensor(svm.coef_[0] / np.linalg.norm(svm.coef_[0])).float()
        row = {"projection_std": float((w[:n_fit] @ normal.numpy()).std())}
        for alpha in ALPHAS:
            for where in ("w", "wp_early"):
                if where == "w":
                    after = predict_log_probs(G, P, held + alpha * normal, "w")
                else:
                    wp = held[:, None].repeat(1, num_layers, 1)
                    wp[:, :EARLY_LAYERS] += alpha * normal
                    after = predict_log_probs(G, P, wp, "wp")
                a = after["floor_hue"]
                row[f"{where}_alpha{alpha:g}"] = {
                    "log_p_rises": float(np.mean(a[:, c] > before[:, c])),
                    "becomes_target": float(np.mean(a.argmax(1) == c)),
                    "was_target": float(np.mean(before.argmax(1) == c))}
        moved = start != c
        shift = torch.as_tensor(means[c] - means[start]).float()
        a = predict_log_probs(G, P, held + shift, "w")["floor_hue"][moved]
        row["mean_transport"] = {"log_p_rises": float(np.mean(a[:, c] > before[moved, c])),
                                 "becomes_target": float(np.mean(a.argmax(1) == c)),
                                 "n": int(moved.sum())}
        out[str(c)] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    G, P = load("shapes3d").eval(), load("predictor_shapes3d").eval()
    z = G.sample(args.n, space="z", rng=args.seed)
    with torch.no_grad():
        w = G.z_to_latent(z, "w")
    labels = {h: lp.argmax(1) for h, lp in predict_log_probs(G, P, w, "w").items()}
    n_fit = args.n * 3 // 4
    result = {
        "config": {"n": args.n, "n_fit": n_fit, "seed": args.seed, "alphas": list(ALPHAS),
                   "early_layers": EARLY_LAYERS, "model": "shapes3d",
                   "predictor": "predictor_shapes3d"},
        "environment": environment_info(),
        "probes": probes({"z": z.numpy(), "w": w.numpy()}, labels, n_fit),
        "floor_hue_edits": floor_hue_edits(G, P, w.numpy(), labels["floor_hue"], n_fit),
    }
    result["seconds"] = time.perf_counter() - t0
    RESULTS.mkdir(exist_ok=True)
    atomic_write_json(RESULTS / "shapes3d_linear_probe.json", result)
    print("| factor | chance | linear acc. from Z | from W | hue-angle R^2 from W |")
    print("|---|---|---|---|---|")
    for f, r in result["probes"].items():
        print(f"| {f} | {r['w']['chance']:.3f} | {r['z']['linear_accuracy']:.3f} | "
              f"{r['w']['linear_accuracy']:.3f} | {r['w'].get('angle_r2', float('nan')):.3f} |")
    print("\n| floor hue c | was c | W +2: log P(c) rises / becomes c | W +4 | W+ layers 0-2 +4 "
          "| class-mean transport |")
    print("|---|---|---|---|---|---|")
    for c, r in result["floor_hue_edits"].items():
        cells = [f"{r[k]['log_p_rises']:.2f} / {r[k]['becomes_target']:.2f}"
                 for k in ("w_alpha2", "w_alpha4", "wp_early_alpha4", "mean_transport")]
        print(f"| {c} | {r['w_alpha2']['was_target']:.2f} | " + " | ".join(cells) + " |")
    print(json.dumps({"seconds": round(result["seconds"], 1)}))


if __name__ == "__main__":
    main()

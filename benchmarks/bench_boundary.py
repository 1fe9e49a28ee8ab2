"""Boundary training on a big latent bank: the fast solver vs libsvm on the same samples.

A synthetic bank of ``--n`` (500k) Gaussian codes of dimension ``--dim`` (512) gets scores from a
known unit direction plus Gaussian noise (std ``--noise``). ``SVMBoundary(solver="fast")`` picks
the top / bottom 2% (10k + 10k; 7k + 7k for training) with InterFaceGAN's semantics and fits; then,
side by side in one run on the very same training rows:

* ``SVC(kernel='linear', C=1)`` (libsvm, what InterFaceGAN and HiGAN call),
* the fast solver alone (working set + interior point, ``latentatlas.directions.svm._fit_fast``),
* optionally sklearn's ``LinearSVC(loss='hinge')`` (liblinear), for comparison.

Reported: solver seconds and the libsvm / fast ratio, the cosine between the normals, intercept
and validation-accuracy agreement, and the cosine to the planted direction. Everything runs with
one BLAS thread (libsvm is single-threaded; see ``SVMBoundary(blas_threads=...)``). The machine's
load average is recorded because shared machines make absolute seconds noisy; the ratio is
measured side by side. Writes benchmarks/results/boundary.json and prints a table.

    nice -n 10 .venv/bin/python benchmarks/bench_boundary.py
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from latentatlas.directions import SVMBoundary
from latentatlas.directions.svm import _fit_fast, _fit_liblinear, _fit_libsvm
from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.runinfo import environment_info

RESULTS = Path(__file__).resolve().parent / "results" / "boundary.json"


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--noise", type=float, default=1.0, help="score noise std")
    parser.add_argument("--ratio", type=float, default=0.02, help="chosen_num_or_ratio")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--liblinear", action="store_true", help="also time LinearSVC")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    latents = rng.standard_normal((args.n, args.dim), dtype=np.float32)
    truth = rng.standard_normal(args.dim)
    truth /= np.linalg.norm(truth)
    scores = latents @ truth + args.noise * rng.standard_normal(args.n)
    load_before = os.getloadavg()

    svm = SVMBoundary(space="w", chosen_num_or_ratio=args.ratio, solver="fast", seed=args.seed,
                      progress=False)
    _, fit_seconds = timed(lambda: svm.fit(latents, scores))
    split = svm.split_
    x_train = latents[split["train"]].astype(np.float64)
    y_train = split["train_y"].astype(np.int64)
    x_val = latents[split["val"]].astype(np.float64)
    y_val = split["val_y"]

    rows = {}
    with threadpool_limits(limits=1):
        (w_fast, b_fast), t_fast = timed(lambda: _fit_fast(x_train, y_train, 1.0))
        (w_ref, b_ref), t_ref = timed(lambda: _fit_libsvm(x_train, y_train, 1.0))
        solvers = {"fast": (w_fast, b_fast, t_fast), "libsvm": (w_ref, b_ref, t_ref)}
        if args.liblinear:
            (w_ll, b_ll), t_ll = timed(lambda: _fit_liblinear(x_train, y_train, 1.0))
            solvers["liblinear"] = (w_ll, b_ll, t_ll)
    norm_ref = np.linalg.norm(w_ref)
    for name, (w, b, t) in solvers.items():
        norm = np.linalg.norm(w)
        rows[name] = {
            "seconds": round(t, 3),
            "speedup_vs_libsvm": round(t_ref / t, 2),
            "cosine_to_libsvm": cosine(w, w_ref),
            "cosine_to_planted": cosine(w, truth),
            "intercept_unit": b / norm,
            "intercept_diff_vs_libsvm": abs(b / norm - b_ref / norm_ref),
            "val_accuracy": float((((x_val @ w) + b > 0) == y_val).mean()),
        }
    n_sv = int(np.sum(np.where(y_train > 0, 1, -1) * (x_train @ w_ref + b_ref) <= 1 + 1e-3))
    result = {
        "what": "InterFaceGAN boundary on a synthetic bank: fast solver vs libsvm, same samples",
        "config": {**vars(args), "out": str(args.out)},
        "bank": {"n": args.n, "dim": args.dim, "train_rows": int(x_train.shape[0]),
                 "val_rows": int(x_val.shape[0]), "remaining_rows": int(split["remaining"].size),
                 "libsvm_margin_rows": n_sv},
        "full_fit_fast_seconds": round(fit_seconds, 3),
        "full_fit_fast_val_accuracy": svm.val_accuracy_,
        "full_fit_fast_remaining_accuracy": svm.remaining_accuracy_,
        "solvers": rows,
        "blas_threads": 1,
        "load_average_before_after": [list(load_before), list(os.getloadavg())],
        "environment": environment_info(),
    }
    atomic_write_json(args.out, result)

    print(f"bank {args.n} x {args.dim}, train {x_train.shape[0]} rows, noise {args.noise}, "
          f"load avg {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"{'solver':<10} {'seconds':>9} {'speed-up':>9} {'cos libsvm':>11} {'cos truth':>10} "
          f"{'|db|':>9} {'val acc':>8}")
    for name, r in rows.items():
        print(f"{name:<10} {r['seconds']:>9.3f} {r['speedup_vs_libsvm']:>8.2f}x "
              f"{r['cosine_to_libsvm']:>11.7f} {r['cosine_to_planted']:>10.5f} "
              f"{r['intercept_diff_vs_libsvm']:>9.2e} {r['val_accuracy']:>8.4f}")
    print(f"full fast fit incl. selection and accuracies: {fit_seconds:.2f} s -> {args.out}")


if __name__ == "__main__":
    main()

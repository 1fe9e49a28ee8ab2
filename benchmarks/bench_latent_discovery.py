"""Latent discovery steps/s (fast path vs plain fp32 reference) and Hessian Penalty / OroJaR
regulariser cost (finite differences vs exact JVP), in one run.

Latent discovery (Voynov & Babenko) on the shipped generators, batch 32:

- ``reference``: float32 everywhere (StyleGAN2: ``impl="reference", dtype="float32"``);
- ``fast``: bf16 autocast around generator and reconstructor where the CPU computes bf16
  natively (``bf16="auto"``; StyleGAN2 in its default fast impl), else the same as reference.

Steps/s come from the difference of two fit lengths (so setup and the held-out evaluation cancel),
with the modes interleaved over ``--reps`` repetitions (median), so machine load hits both alike.

Regularisers on the Z-space generators' conv layers (the OroJaR reference regularises the simple
GAN's conv outputs 0-3) and the image, batch 32, k = 2, eps 0.1: time of one penalty forward +
backward to the generator's weights (what a training step adds), per estimator, and its ratio to
one plain generator forward + backward (the rest of a G step's generator work); plus the relative
difference of the two estimators' values on the same Rademacher vectors.

Writes benchmarks/results/latent_discovery.json and prints a table. Usage:
    python benchmarks/bench_latent_discovery.py [--models mnist,dsprites] [--reps 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from latentatlas.directions.latent_discovery import LatentDiscovery  # noqa: E402
from latentatlas.models.regularizers import (  # noqa: E402
    hessian_penalty,
    layer_outputs,
    orojar,
    rademacher,
)
from latentatlas.models.zoo import load  # noqa: E402
from latentatlas.utils.atomic import atomic_write_json  # noqa: E402
from latentatlas.utils.hardware import native_bf16_supported  # noqa: E402
from latentatlas.utils.runinfo import environment_info  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "latent_discovery.json"


def _fit_seconds(generator, steps: int, bf16, batch: int) -> float:
    finder = LatentDiscovery(n_steps=steps, batch_size=batch, eval_pairs=batch, bf16=bf16,
                             lr=1e-3, progress=False)
    t0 = time.perf_counter()
    finder.fit(generator=generator, rng=0)
    return time.perf_counter() - t0


def _set_mode(generator, mode: str) -> None:
    if hasattr(generator, "set_impl"):  # StyleGAN2: the reference path is impl + fp32
        if mode == "reference":
            generator.set_impl("reference", "float32")
        else:
            generator.set_impl("fast", "auto")


def bench_ld(name: str, reps: int, short: int, long: int, batch: int) -> dict:
    generator = load(name)
    per_mode: dict[str, list[float]] = {"reference": [], "fast": []}
    for _ in range(reps):
        for mode in per_mode:
            _set_mode(generator, mode)
            bf16 = False if mode == "reference" else "auto"
            t_short = _fit_seconds(generator, short, bf16, batch)
            t_long = _fit_seconds(generator, long, bf16, batch)
            diff = t_long - t_short
            # Load spikes can make the difference meaningless: fall back to the long fit's rate.
            per_mode[mode].append((long - short) / diff if diff > 0 else long / t_long)
    _set_mode(generator, "fast")
    out = {m: {"steps_per_s": statistics.median(v), "all": v} for m, v in per_mode.items()}
    out["speedup_fast_vs_reference"] = out["fast"]["steps_per_s"] / out["reference"][
        "steps_per_s"]
    out["images_per_step"] = 2 * batch
    return out


def _time(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_regularizers(name: str, reps: int, batch: int) -> dict:
    generator = load(name).eval()
    convs = [n for n in generator.layer_names() if n.startswith("conv")][:4]
    result: dict = {"layers": convs}
    z = generator.sample(batch, "z", rng=0)
    v = rademacher((2, *z.shape), generator=torch.Generator().manual_seed(0))

    def plain() -> None:
        generator.zero_grad(set_to_none=True)
        generator.synthesize(z, "z").square().mean().backward()

    t_plain = _time(plain, reps)
    result["generator_fwd_bwd_s"] = t_plain
    for target in ("layers", "image"):
        fn = layer_outputs(generator, convs if target == "layers" else None, "z")
        for reg_name, reg in (("orojar", orojar), ("hessian_penalty", hessian_penalty)):
            row: dict = {}
            values = {}
            for est in ("fd", "jvp"):
                def run(est=est, reg=reg, fn=fn) -> None:
                    generator.zero_grad(set_to_none=True)
                    reg(fn, z, k=2, vectors=v, estimator=est).backward()

                t = _time(run, reps)
                with torch.no_grad():
                    values[est] = float(reg(fn, z, k=2, vectors=v, estimator=est))
                row[est] = {"seconds": t, "x_generator_fwd_bwd": t / t_plain}
            row["jvp_vs_fd_time"] = row["jvp"]["seconds"] / row["fd"]["seconds"]
            row["relative_value_difference"] = abs(values["fd"] - values["jvp"]) / max(
                abs(values["jvp"]), 1e-30)
            row["value_fd"], row["value_jvp"] = values["fd"], values["jvp"]
            result[f"{reg_name}@{target}"] = row
    # Finite differences converge to the exact JVP value as eps -> 0 (float64, 8 codes). The
    # Hessian Penalty's do not on (leaky) ReLU layers: their kinks are curvature the central
    # difference sees (~1/eps) and the exact second derivative (0 almost everywhere) does not.
    g64 = load(name).eval().double()
    z64 = z[:8].double()
    v64 = rademacher((2, *z64.shape), generator=torch.Generator().manual_seed(1),
                     dtype=torch.float64)
    fn64 = layer_outputs(g64, convs, "z")
    conv: dict = {}
    with torch.no_grad():
        for reg_name, reg in (("orojar", orojar), ("hessian_penalty", hessian_penalty)):
            exact = float(reg(fn64, z64, k=2, vectors=v64, estimator="jvp"))
            conv[reg_name] = {"jvp": exact, **{
                f"fd_eps_{eps:g}": float(reg(fn64, z64, k=2, vectors=v64, estimator="fd",
                                             epsilon=eps)) for eps in (0.1, 0.01, 0.001)}}
    result["fd_convergence_float64@layers"] = conv
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="mnist,dsprites")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="short fits (smoke test)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    short, long = (2, 6) if args.quick else (10, 40)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    result = {
        "native_bf16": native_bf16_supported(),
        "threads": args.threads,
        "batch": args.batch,
        "fit_lengths": [short, long],
        "latent_discovery": {m: bench_ld(m, args.reps, short, long, args.batch)
                             for m in models},
        "regularizers": {m: bench_regularizers(m, max(args.reps, 3), args.batch)
                         for m in models if "w" not in load(m).spaces},
        "environment": environment_info(),
    }
    atomic_write_json(args.out, result)
    print(f"{'model':10s} {'ref steps/s':>12s} {'fast steps/s':>13s} {'speedup':>8s}")
    for m, r in result["latent_discovery"].items():
        print(f"{m:10s} {r['reference']['steps_per_s']:12.2f} {r['fast']['steps_per_s']:13.2f} "
              f"{r['speedup_fast_vs_reference']:8.2f}")
    print(f"\n{'model':10s} {'regulariser':26s} {'fd s':>8s} {'jvp s':>8s} {'jvp/fd':>7s} "
          f"{'fd xG':>6s} {'jvp xG':>7s} {'rel diff':>9s}")
    for m, r in result["regularizers"].items():
        for key, row in r.items():
            if not isinstance(row, dict) or "fd" not in row:
                continue
            print(f"{m:10s} {key:26s} {row['fd']['seconds']:8.4f} {row['jvp']['seconds']:8.4f} "
                  f"{row['jvp_vs_fd_time']:7.2f} {row['fd']['x_generator_fwd_bwd']:6.2f} "
                  f"{row['jvp']['x_generator_fwd_bwd']:7.2f} "
                  f"{row['relative_value_difference']:9.2e}")
    print(json.dumps({m: r["speedup_fast_vs_reference"]
                      for m, r in result["latent_discovery"].items()}))


if __name__ == "__main__":
    main()

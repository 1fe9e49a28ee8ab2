"""Cost and accuracy of the OroJaR / Hessian-penalty estimators (issue 21, item 5), in one run.

1. Cost per training step on the dSprites Z-GAN recipe (nz 6, batch 64, 1 thread): one G step
   of the trainer without a hook, and with OroJaR / HP on conv0-3 every step on the whole batch,
   finite differences vs exact JVPs; the penalty's share of the step. Median of interleaved
   repeats (the plain reference step is timed in the same loop).
2. Estimator accuracy against the exact value on a small tanh MLP (z 6 -> 64 -> 256) with the
   per-sample Jacobian known (``orojar_expected``): mean reduction over a batch of 32, 400
   estimates per estimator; bias and sd relative to the exact value.

    OMP_NUM_THREADS=1 python benchmarks/bench_regularizers.py  -> results/regularizers.json
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import torch

from latentatlas.models.regularizers import hessian_penalty, orojar, orojar_expected
from latentatlas.training.gan import GANTrainConfig, GANTrainer
from latentatlas.training.gan_run import build_gan
from latentatlas.training.regularizer_hooks import JacobianRegularizer
from latentatlas.utils.atomic import atomic_write_json

RESULT = Path(__file__).resolve().parent / "results" / "regularizers.json"
LAYERS = "conv0,conv1,conv2,conv3"


def step_costs(repeats: int = 7) -> dict:
    from latentatlas.data.dsprites import DSpritesLike
    from latentatlas.training.data import GroundTruthSource

    source = GroundTruthSource(DSpritesLike(), seed=0)
    G, D = build_gan("zgen", 64, 1, {"z_dim": 6, "channel_base": 1024, "channel_max": 256},
                     {"channel_base": 1024, "channel_max": 256}, False, 0)
    cfg = GANTrainConfig(total_steps=1, batch=64, progress=False, tensorboard=False)
    variants = {"plain": []}
    for kind in ("orojar", "hessian"):
        for est in ("fd", "jvp"):
            variants[f"{kind}_{est}"] = [JacobianRegularizer(kind, 1e-6, LAYERS, estimator=est)]
    trainers = {n: GANTrainer(G, D, source, cfg, "/tmp/_bench_reg", regularizers=h)
                for n, h in variants.items()}
    times: dict[str, list[float]] = {n: [] for n in variants}
    for r in range(repeats + 1):
        for n, t in trainers.items():
            t0 = time.perf_counter()
            t.generator_step(r)
            if r:  # the first round warms up
                times[n].append(time.perf_counter() - t0)
    med = {n: statistics.median(v) for n, v in times.items()}
    return {n: {"g_step_s": med[n], "ratio_to_plain": med[n] / med["plain"],
                "penalty_share_of_g_step": (med[n] - med["plain"]) / med[n]}
            for n in variants}


def estimator_accuracy(n_estimates: int = 400) -> dict:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 64), torch.nn.Tanh(), torch.nn.Linear(64, 256))
    z = torch.randn(32, 6)
    exact = float(orojar_expected(net, z, reduction="mean").detach())
    out = {"exact_orojar_mean": exact}
    for est in ("fd", "jvp"):
        vals = [float(orojar(net, z, reduction="mean", estimator=est, k=2,
                             generator=torch.Generator().manual_seed(i)).detach())
                for i in range(n_estimates)]
        out[f"orojar_{est}"] = {"mean": float(np.mean(vals)), "sd": float(np.std(vals)),
                                "bias_relative": float(np.mean(vals) / exact - 1),
                                "sd_relative": float(np.std(vals) / exact)}
    hp = {}
    for est in ("fd", "jvp"):
        vals = [float(hessian_penalty(net, z, reduction="mean", estimator=est, k=2,
                                      generator=torch.Generator().manual_seed(i)).detach())
                for i in range(n_estimates)]
        hp[est] = (float(np.mean(vals)), float(np.std(vals)))
    out["hessian_fd_vs_jvp"] = {"fd_mean": hp["fd"][0], "jvp_mean": hp["jvp"][0],
                                "relative_difference": hp["fd"][0] / hp["jvp"][0] - 1,
                                "fd_sd": hp["fd"][1], "jvp_sd": hp["jvp"][1]}
    return out


def main() -> None:
    torch.set_num_threads(1)
    from latentatlas.utils.runinfo import environment_info

    res = {"environment": environment_info(), "threads": 1, "step_costs": step_costs(),
           "estimators": estimator_accuracy()}
    atomic_write_json(RESULT, res)
    print("| variant | G step (s) | ratio to plain | penalty share of the G step |")
    print("|---|---|---|---|")
    for n, r in res["step_costs"].items():
        print(f"| {n} | {r['g_step_s']:.3f} | {r['ratio_to_plain']:.2f} | "
              f"{r['penalty_share_of_g_step']:.2f} |")
    e = res["estimators"]
    print(f"exact OroJaR (mean reduction) {e['exact_orojar_mean']:.4g}")
    for est in ("fd", "jvp"):
        o = e[f"orojar_{est}"]
        print(f"OroJaR {est}: bias {o['bias_relative']:+.3%}, sd {o['sd_relative']:.1%} of exact")
    h = e["hessian_fd_vs_jvp"]
    print(f"HP fd vs jvp means: {h['relative_difference']:+.3%}")


if __name__ == "__main__":
    main()

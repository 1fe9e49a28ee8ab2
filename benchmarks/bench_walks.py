"""GANalyze and steerability walks on the zoo: each run trains (resumably) into runs/walks/<name>
and the summary goes to benchmarks/results/walks.json. Runs one after another; a finished run is
read back, not retrained. Usage: python benchmarks/bench_walks.py [name ...]"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from latentatlas.pipelines.walks import run_ganalyze, run_steer
from latentatlas.utils.atomic import atomic_write_json

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs" / "walks"
RESULT = ROOT / "benchmarks" / "results" / "walks.json"

STEER = {
    "dsprites_shift_x_linear": dict(model="dsprites", transform="shift_x", walk="linear",
                                    steps=600, batch_size=16, lr=0.01),
    "dsprites_zoom_linear": dict(model="dsprites", transform="zoom", walk="linear",
                                 steps=600, batch_size=16, lr=0.01),
    "dsprites_shift_x_nonlinear": dict(model="dsprites", transform="shift_x", walk="nonlinear",
                                       steps=400, batch_size=16, lr=1e-3, n_steps=5),
    "dsprites_rotate_linear": dict(model="dsprites", transform="rotate", walk="linear",
                                   steps=600, batch_size=16, lr=0.01),
    "shapes3d_zoom_linear": dict(model="shapes3d", transform="zoom", walk="linear", steps=400,
                                 batch_size=8, lr=0.01, measure="shapes3d:scale"),
    "celeba64_color_linear": dict(model="celeba64", transform="color", walk="linear",
                                  steps=800, batch_size=8, lr=0.01),
    "dsprites_zoom_nonlinear": dict(model="dsprites", transform="zoom", walk="nonlinear",
                                    steps=400, batch_size=16, lr=1e-3, n_steps=5),
    "dsprites_rotate_nonlinear": dict(model="dsprites", transform="rotate", walk="nonlinear",
                                      steps=400, batch_size=16, lr=1e-3, n_steps=5),
    "shapes3d_zoom_nonlinear": dict(model="shapes3d", transform="zoom", walk="nonlinear",
                                    steps=400, batch_size=8, lr=1e-3, n_steps=5,
                                    measure="shapes3d:scale"),
    "shapes3d_shift_x_linear": dict(model="shapes3d", transform="shift_x", walk="linear",
                                    steps=400, batch_size=8, lr=0.01),
    "shapes3d_shift_x_nonlinear": dict(model="shapes3d", transform="shift_x", walk="nonlinear",
                                       steps=400, batch_size=8, lr=1e-3, n_steps=5),
    "shapes3d_rotate_linear": dict(model="shapes3d", transform="rotate", walk="linear",
                                   steps=400, batch_size=8, lr=0.01),
    "shapes3d_rotate_nonlinear": dict(model="shapes3d", transform="rotate", walk="nonlinear",
                                      steps=400, batch_size=8, lr=1e-3, n_steps=5),
}
GANALYZE = {
    "celeba64_ganalyze_smiling_logits": dict(model="celeba64", assessor="celeba:Smiling",
                                             logits=True, steps=600, batch_size=8, lr=0.01),
    "celeba64_ganalyze_smiling": dict(model="celeba64", assessor="celeba:Smiling", steps=1500,
                                      batch_size=8, lr=0.02),
    "celeba64_ganalyze_brightness": dict(model="celeba64", assessor="pixel:brightness",
                                         steps=600, batch_size=8, lr=0.02),
}
ORDER = ["dsprites_shift_x_linear", "dsprites_zoom_linear", "celeba64_ganalyze_smiling",
         "celeba64_ganalyze_brightness", "dsprites_shift_x_nonlinear", "shapes3d_zoom_linear",
         "celeba64_color_linear", "dsprites_rotate_linear", "dsprites_zoom_nonlinear",
         "dsprites_rotate_nonlinear", "shapes3d_zoom_nonlinear", "shapes3d_shift_x_linear",
         "shapes3d_shift_x_nonlinear", "shapes3d_rotate_linear", "shapes3d_rotate_nonlinear"]


def summary(name: str, res: dict) -> dict:
    keep = ("model", "method", "transform", "walk", "space", "assessor", "measure", "steps",
            "batch_size", "lr", "cpu_seconds_train", "loss_first", "loss_last_mean", "score",
            "slope_per_unit_alpha", "curve", "side_effects", "n")
    out = {k: res[k] for k in keep if k in res}
    if "curves" in res:
        out["curves"] = {m: {k: c[k] for k in ("amounts", "assessor_curve", "slope",
                                               "side_effects")}
                         for m, c in res["curves"].items()}
    return out


def main(names: list[str]) -> None:
    torch.set_num_threads(1)
    done = {}
    if RESULT.is_file():
        import json

        done = json.loads(RESULT.read_text())["runs"]
    for name in names or ORDER:
        print(f"== {name}", flush=True)
        if name in STEER:
            res = run_steer(out=RUNS / name, progress=True, **STEER[name])
        else:
            res = run_ganalyze(out=RUNS / name, progress=True, **GANALYZE[name])
        done[name] = summary(name, res)
        atomic_write_json(RESULT, {"torch_threads": 1, "runs": done})


if __name__ == "__main__":
    main(sys.argv[1:])

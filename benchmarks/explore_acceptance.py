"""Issue 6's acceptance numbers on a trained generator: `explore` with 2,000 edited samples.

Runs the main job on the shipped ``celeba64`` (or ``--model``) with the shipped
``predictor_celeba64`` and the default settings except ``n_edit`` (2,000 samples are moved +2
along each focus boundary), then checks, from the run's own metrics.json:

- W-space SVM validation accuracy >= 0.9 for Smiling, Male, Eyeglasses, Young;
- a +2 move along the Smiling boundary raises the predicted Smiling probability for >= 90% of
  the 2,000 samples;
- the Smiling-given-Male conditional edit changes the Male probability less (mean |change|)
  than the plain Smiling edit does;
- which layers dominate which semantics (HiGAN re-scoring), reported as measured.

Writes benchmarks/results/explore_<model>.json (the checks plus the run's summary) and prints a
table; the full report is in --out (default runs/explore_acceptance).

    .venv/bin/python benchmarks/explore_acceptance.py [--model celeba64] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from latentatlas.pipelines.explore import explore
from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.runinfo import environment_info

RESULTS = Path(__file__).resolve().parent / "results"
FOCUS = ("Smiling", "Male", "Eyeglasses", "Young")


def checks(metrics: dict) -> dict:
    """The issue's acceptance checks from an explore metrics.json."""
    summary, out = metrics["summary"], {}
    for a in FOCUS:
        acc = summary.get(a, {}).get("val_accuracy")
        out[f"val_accuracy_{a}"] = {"value": acc, "aim": ">= 0.9",
                                    "met": acc is not None and acc >= 0.9}
    succ = summary.get("Smiling", {}).get("edit_success_fraction")
    out["smiling_plus2_raises_probability"] = {
        "value": succ, "n": metrics["config"].get("n_edit"), "aim": ">= 0.9",
        "met": succ is not None and succ >= 0.9}
    cond = metrics.get("conditional", {}).get("Smiling", {})
    plain_c, cond_c = (cond.get("plain_condition_abs_change"),
                       cond.get("conditional_condition_abs_change"))
    out["smiling_given_male_changes_male_less"] = {
        "condition": cond.get("condition"),
        "plain_mean_abs_male_change": plain_c, "conditional_mean_abs_male_change": cond_c,
        "met": cond.get("condition") == "Male" and plain_c is not None and cond_c is not None
        and cond_c < plain_c}
    layers = metrics.get("layers") or {}
    rescore = layers.get("rescore") or {}
    out["layer_analysis"] = {
        "layer_ranking": rescore.get("layer_ranking"),  # per direction: layers by effect
        "selection": layers.get("selection"),           # automatic layer ranges
        "num_layers": layers.get("num_layers"),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="celeba64")
    parser.add_argument("--out", default="runs/explore_acceptance")
    parser.add_argument("--n", type=int, default=None,
                        help="bank size (default: explore's 4000); SVM sides stay ~500 samples, "
                             "so a larger bank gives more extreme, InterFaceGAN-like sides")
    parser.add_argument("--n-edit", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="smoke run (tiny sizes)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = explore(args.model, args.out, n=args.n, focus=list(FOCUS), quick=args.quick,
                     n_edit=None if args.quick else args.n_edit, conditions={"Smiling": "Male"})
    metrics = json.loads((Path(args.out) / "metrics.json").read_text("utf-8"))
    record = {
        "model": args.model, "out": args.out, "n": metrics["config"].get("n"),
        "chosen_ratio": metrics["config"].get("chosen_ratio"), "n_edit": args.n_edit,
        "checks": checks(metrics),
        "summary": {a: metrics["summary"].get(a) for a in metrics["attributes"]},
        "conditional": metrics.get("conditional"),
        "timings_seconds": metrics.get("timings_seconds"),
        "environment": environment_info(),
    }
    name = Path(args.model).name if Path(args.model).exists() else args.model
    suffix = ("_quick" if args.quick else "") + (f"_n{args.n}" if args.n else "")
    path = RESULTS / f"explore_{name}{suffix}.json"
    atomic_write_json(path, record)
    for key, c in record["checks"].items():
        if key == "layer_analysis":
            continue
        shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in c.items()}
        print(f"{key:42s} {shown}")
    print(f"report: {result.out}/report.html; json: {path}")


if __name__ == "__main__":
    main()

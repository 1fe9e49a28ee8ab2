"""Ship a finished GAN run into the model zoo: weights, config, sample grid and a model card.

``ship_gan(run_dir, name, quality_json)`` copies ``run_dir/model`` (G_ema) to
``latentatlas/zoo/<name>/`` (or ``zoo_dir``), the final sample grid as ``samples.png``, and writes
``MODEL_CARD.md`` with the data, steps, kimg, cumulative training time, hardware, the exact
command, the quality numbers (from ``latentatlas quality --out``) and the issue's aims for the
preset. CLI: ``latentatlas train ship-gan --run DIR --name NAME [--quality q.json]``.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from latentatlas.io.cards import save_model_card
from latentatlas.utils.atomic import atomic_write_bytes, atomic_write_json
from latentatlas.utils.errors import DataError

MAX_ZOO_MB = 30.0


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise DataError(f"{path}: missing ({what})")
    try:
        return json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from e


def _aims(preset: str | None, quality: dict[str, Any] | None) -> list[str]:
    """The acceptance aims of the zoo issue for this preset, with the measured verdict."""
    if quality is None:
        return ["quality not measured yet (run `latentatlas quality ... --out q.json`)"]
    lines = []
    if preset == "celeba64":
        ratio = quality.get("frechet_ratio")
        ok = ratio is not None and ratio <= 4.0
        lines.append(f"Frechet distance within 4x of the real-vs-real floor: ratio {ratio:.2f} "
                     f"({'met' if ok else 'NOT met'})")
    folded = quality.get("folded_orientation_coverage") or {}
    for head, cov in (quality.get("class_coverage") or {}).items():
        if preset == "mnist":
            ok = cov["mean_max_probability"] >= 0.9
            lines.append(f"{head}: mean max-probability >= 0.9: "
                         f"{cov['mean_max_probability']:.3f} ({'met' if ok else 'NOT met'}); "
                         f"every class produced: {'yes' if min(cov['counts']) > 0 else 'NO'} "
                         f"(rarest at {cov['min_ratio']:.2f}x of uniform)")
        elif preset in ("shapes3d", "dsprites"):
            if head == "orientation" and folded:
                lines.append(f"{head} (40-way head, for reference only: it cannot tell "
                             f"symmetric twins apart): min {cov['min_ratio']:.2f}x, max "
                             f"{cov['max_ratio']:.2f}x of uniform")
                continue
            lines.append(_coverage_aim(head, cov))
    for shape, cov in folded.items():
        lines.append(_coverage_aim(f"orientation modulo the {shape}'s symmetry "
                                   f"({cov['bins']} bins of {cov['bin_width_degrees']:.1f} deg)",
                                   cov))
    return lines or ["no aim defined for this model"]


def _coverage_aim(what: str, cov: dict[str, Any]) -> str:
    ok = min(cov["counts"]) > 0 and cov["min_ratio"] >= 0.5 and cov["max_ratio"] <= 2.0
    return (f"{what}: every value found, frequencies within 2x of uniform: "
            f"min {cov['min_ratio']:.2f}x, max {cov['max_ratio']:.2f}x of uniform "
            f"({'met' if ok else 'NOT met'})")


def model_card(
    run: dict[str, Any], name: str, quality: dict[str, Any] | None, size_mb: float,
    notes: str | None = None,
) -> str:
    """MODEL_CARD.md text for a finished GAN run (``notes``: Markdown appended as "Notes")."""
    m, cfg, env = run.get("metrics", {}), run.get("config", {}), run.get("environment", {})
    gen, data, train = cfg.get("generator", {}), cfg.get("data", {}), cfg.get("train", {})
    preset = cfg.get("preset")
    hours = m.get("train_seconds_total", float("nan")) / 3600
    gen_kwargs = dict(gen.get("kwargs") or {})
    if "dtype" in gen_kwargs:  # as shipped (see ship_gan): bf16 only where it is native
        gen_kwargs["dtype"] = "auto"
    kwargs = ", ".join(f"{k}={v!r}" for k, v in gen_kwargs.items())
    lines = [
        f"# {name}: {cfg.get('arch', gen.get('class'))} GAN on {data.get('name')}",
        "",
        f"G_ema of a {gen.get('class')} trained with `latentatlas.training.gan`"
        + (f" (zoo preset `{preset}`)" if preset else "") + ".",
        f"Load it with `latentatlas.load(\"{name}\")`.",
        "",
        "## Architecture",
        "",
        f"`{gen.get('class')}({kwargs})`, {size_mb:.1f} MB of weights.",
        "",
        "## Training",
        "",
        f"- data: {data.get('name')} ({data.get('size')} images, {data.get('resolution')} px, "
        f"{data.get('channels')} channel(s))",
        f"- {m.get('steps')} steps of batch {train.get('batch')} = {m.get('kimg')} kimg; "
        f"r1_gamma {train.get('r1_gamma')}, pl_weight {train.get('pl_weight')}, "
        f"style mixing {train.get('style_mixing_prob')}, augment {train.get('augment')}, "
        f"bf16 {cfg.get('bf16')}",
        f"- training time {hours:.2f} h over all sessions "
        f"({m.get('images_per_s_mean', float('nan')):.0f} images/s on average)",
        f"- hardware: {env.get('processor')}, {env.get('cpu_count')} CPU cores visible, "
        f"{env.get('torch_threads')} torch threads, torch {env.get('torch')}"
        + (f", {env.get('cuda_device')}" if env.get("cuda_device") else ""),
        f"- world size {cfg.get('world_size')}, seed {train.get('seed')}",
        "",
        "Reproduce (resumable: add `--resume` after an interruption):",
        "",
        "```bash",
        str(run.get("command")),
        "```",
        "",
        "![samples](samples.png)",
        "",
        "## Measured quality",
        "",
    ]
    if quality is None:
        lines.append("Not measured yet.")
    else:
        lines += [
            f"In the embedding of `{quality.get('predictor')}`, {quality.get('n_fake')} samples "
            f"(truncation psi {quality.get('truncation_psi')}) vs {quality.get('n_real_half')} "
            "real images; the floor compares two disjoint halves of the real images.",
            "",
            "| measure | model | real-vs-real floor | ratio |",
            "|---|---|---|---|",
            f"| Frechet distance | {quality['frechet']:.4g} | {quality['frechet_floor']:.4g} | "
            f"{quality['frechet_ratio']:.2f} |",
            f"| KID (x1000) | {1000 * quality['kid']:.3f} +- {1000 * quality['kid_std']:.3f} | "
            f"{1000 * quality['kid_floor']:.3f} +- {1000 * quality['kid_floor_std']:.3f} | |",
        ]
        for head, cov in (quality.get("class_coverage") or {}).items():
            lines += ["", f"Predicted `{head}` over the samples: mean max-probability "
                      f"{cov['mean_max_probability']:.3f}; rarest / commonest value at "
                      f"{cov['min_ratio']:.2f}x / {cov['max_ratio']:.2f}x of uniform; counts "
                      f"{cov['counts']}."]
        for shape, cov in (quality.get("folded_orientation_coverage") or {}).items():
            lines += ["", f"Predicted orientation of the samples predicted `{shape}`, folded by "
                      f"its symmetry into {cov['bins']} bins of {cov['bin_width_degrees']:.1f} "
                      f"deg: rarest / commonest bin at {cov['min_ratio']:.2f}x / "
                      f"{cov['max_ratio']:.2f}x of uniform; counts {cov['counts']}."]
    lines += ["", "## Against the aims of issue 5", ""]
    lines += [f"- {line}" for line in _aims(preset, quality)]
    if notes and notes.strip():
        lines += ["", "## Notes", "", notes.strip()]
    return "\n".join(lines) + "\n"


def ship_gan(run_dir: str | os.PathLike, name: str,
             quality_json: str | os.PathLike | None = None,
             zoo_dir: str | os.PathLike | None = None,
             notes: str | None = None, overwrite: bool = False) -> Path:
    """Copy a finished run's G_ema into the zoo as ``name`` with samples and a model card.

    ``notes`` (Markdown) is appended to the card, e.g. how a run was split over sessions.
    ``name`` must be a plain folder name; an existing zoo entry of that name is refused unless
    ``overwrite`` (then the folder is swapped in whole)."""
    from latentatlas.io.registry import ZOO_DIR
    from latentatlas.utils.outputs import check_child_name, check_new_folder, replacing_folder

    check_child_name(name, "zoo name")

    run_dir = Path(run_dir)
    run = _read_json(run_dir / "run.json", "written when a run finishes")
    model = run_dir / "model"
    for f in ("config.json", "model.safetensors"):
        if not (model / f).is_file():
            raise DataError(f"{model / f}: missing; has the run finished?")
    quality = _read_json(Path(quality_json), "latentatlas quality --out") if quality_json else None
    dest = Path(zoo_dir) if zoo_dir is not None else ZOO_DIR
    dest = dest / name
    check_new_folder(dest, overwrite, what="shipped model")
    size_mb = (model / "model.safetensors").stat().st_size / 2**20
    if size_mb > MAX_ZOO_MB:
        warnings.warn(f"{name}: weights are {size_mb:.1f} MB (> {MAX_ZOO_MB} MB zoo budget)",
                      stacklevel=2)
    config = _read_json(model / "config.json", "written when a run finishes")
    kwargs = config.get("kwargs", {})
    if kwargs.get("dtype") not in (None, "auto"):
        # Runs of older versions saved the training compute dtype (bf16 on AMX CPUs); shipped
        # weights are fp32 and should compute in bf16 only where it is native.
        config.setdefault("metadata", {})["training_dtype"] = kwargs["dtype"]
        kwargs["dtype"] = "auto"
    card = model_card(run, name, quality, size_mb, notes)
    with replacing_folder(dest, overwrite, what="shipped model") as staging:
        atomic_write_bytes(staging / "model.safetensors",
                           (model / "model.safetensors").read_bytes())
        atomic_write_json(staging / "config.json", config)
        samples = run_dir / "samples" / "final.png"
        if samples.is_file():
            atomic_write_bytes(staging / "samples.png", samples.read_bytes())
        save_model_card(staging, card)
    return dest

"""Explore's figures: sample grid, edit grids (plain, conditional, layer-selective), heatmaps and
the accuracy chart."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from latentatlas.editing import interpolate, move, render_edit_grid
from latentatlas.io.images import save_grid
from latentatlas.pipelines.explore.settings import EDIT_STEP, ExploreSettings
from latentatlas.report.figures import bar_chart, heatmap


def flatten_files(figures: dict[str, Any]):
    for v in figures.values():
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            yield from flatten_files(v)


def make_figures(out: Path, generator: Any, bank: Any, codes_all: np.ndarray, space: str,
                  directions: Any, conditional: Any, cond_info: dict[str, Any],
                  kept: list[str], focus: list[str], boundaries: dict[str, Any],
                  edits: dict[str, Any], layers: dict[str, Any] | None,
                  aucs: dict[str, float], settings: ExploreSettings,
                  grid_attributes: list[str] | None = None) -> dict[str, Any]:
    """Write every figure under ``out/figures``; returns their paths relative to ``out``.
    ``grid_attributes``: the attributes with an edit grid (default: every kept one)."""
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    bs = settings.batch_size
    files: dict[str, Any] = {"edits": {}, "conditional_edits": {}, "layer_edits": {}}

    n_samples = min(settings.sample_grid, len(bank))
    images = generator.synthesize_batched(codes_all[:n_samples], space, batch_size=bs)
    save_grid(images.clamp(-1, 1), fig_dir / "samples.png")
    files["samples"] = "figures/samples.png"

    offsets = np.linspace(-settings.grid_max_offset, settings.grid_max_offset,
                          settings.grid_steps)
    rows = codes_all[: min(settings.grid_rows, len(bank))]
    for a in (kept if grid_attributes is None else grid_attributes):
        codes = interpolate(rows, directions, offsets, key=a, mode="offset")
        rel = f"figures/edit_{file_safe(a)}.png"
        render_edit_grid(generator, codes, space, out / rel, batch_size=bs)
        files["edits"][a] = rel
    for t, info in cond_info.items():
        codes = interpolate(rows, conditional, offsets, key=info["name"], mode="offset")
        rel = f"figures/edit_{file_safe(t)}_given_{file_safe(info['condition'])}.png"
        render_edit_grid(generator, codes, space, out / rel, batch_size=bs)
        files["conditional_edits"][t] = rel
    if layers is not None:
        wp_rows = np.array(bank.wp[: rows.shape[0]], dtype=np.float32)
        for t in focus:
            sel = layers["selection"][t]["layers"]
            steps = [move(wp_rows, directions, o, key=t, layers=sel) for o in offsets]
            codes = np.stack(steps, axis=1)
            rel = f"figures/edit_{file_safe(t)}_layers.png"
            render_edit_grid(generator, codes, "wp", out / rel, batch_size=bs)
            files["layer_edits"][t] = rel

    cos = np.asarray(boundaries["cosine"], dtype=np.float64)
    heatmap(cos, kept, kept, fig_dir / "entanglement_cosine.png",
            title=f"cosine between {space.upper()} boundaries", cmap="RdBu_r", vmin=-1, vmax=1)
    files["entanglement_cosine"] = "figures/entanglement_cosine.png"
    per = edits["per_attribute"]
    if per:
        change = np.array([[per[t]["mean_change"][a] for a in kept] for t in per])
        lim = float(np.nanmax(np.abs(change))) or 1.0
        heatmap(change, list(per), kept, fig_dir / "entanglement_score_change.png",
                title=f"mean score change after +{EDIT_STEP:g} along each boundary",
                cmap="RdBu_r", vmin=-lim, vmax=lim, xlabel="attribute scored",
                ylabel="edited along")
        files["entanglement_score_change"] = "figures/entanglement_score_change.png"
    if layers is not None:
        rel_m = np.array(layers["relevance"], dtype=np.float64)
        heatmap(rel_m, [str(i) for i in range(rel_m.shape[0])], focus,
                fig_dir / "layers_x_semantics.png",
                title=f"HiGAN relevance: mean positive score change, lambda={EDIT_STEP:g}",
                cmap="magma", vmin=0.0, xlabel="semantic", ylabel="W+ layer")
        files["layers_x_semantics"] = "figures/layers_x_semantics.png"
    val = [boundaries["per_attribute"][a]["val_accuracy"] for a in kept]
    succ = [per[a]["success_fraction"] if a in per else float("nan") for a in kept]
    series, names = [val, succ], ["SVM validation accuracy", f"edit success (+{EDIT_STEP:g})"]
    if aucs:
        series.append([aucs.get(a, float("nan")) for a in kept])
        names.append("predictor held-out AUC")
    bar_chart(np.array(series, dtype=np.float64), kept, fig_dir / "accuracy.png",
              title="boundaries: accuracy and edit success", series_labels=names, hline=0.9,
              ylim=(0.0, 1.05))
    files["accuracy"] = "figures/accuracy.png"
    return files


_UNSAFE = re.compile(r"[^A-Za-z0-9_.=+-]")


def file_safe(name: str) -> str:
    return _UNSAFE.sub("_", name)


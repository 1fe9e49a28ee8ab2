"""``discover()``: the direction-discovery leaderboard job (``latentatlas discover``).

Stages, each cached in ``out/`` by a fingerprint of its inputs (a re-run with the same settings
skips finished methods):

1. resolve the generator and the scorer: a predictor's heads become per-factor columns
   (:func:`~latentatlas.scoring.factor_scorer`); a predictor of binary attributes
   keeps the heads with held-out AUC >= ``min_auc`` (the well-predicted attributes);
2. per method: fit, keep the top-K directions, label them
   (:func:`~latentatlas.analysis.leaderboard.run_leaderboard`) -> ``methods/<m>.json`` and
   ``directions/<m>.safetensors``;
3. the supervised SVM upper bound -> ``methods/svm.json``;
4. ``leaderboard.json``, ``leaderboard.md`` (the table), ``figures/heatmap.png`` (factor x
   method: the best direction's purity), ``figures/<method>__<factor>.png`` (traversal grids of
   each method's best direction per factor), ``index.html`` and ``run.json``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentatlas.analysis.labelling import code_sd, sample_codes
from latentatlas.analysis.leaderboard import (
    DEFAULT_METHODS,
    MIN_EFFECT,
    TABLE_HEADER,
    check_method,
    column_sd,
    directions_file,
    file_digest,
    fitted_scorer,
    leaderboard_table,
    method_label,
    method_stem,
    run_leaderboard,
    summarise,
    svm_upper_bound,
)
from latentatlas.directions import Directions
from latentatlas.editing import render_edit_grid
from latentatlas.io import registry
from latentatlas.models import Generator, load
from latentatlas.models.predictors import AttributePredictor
from latentatlas.pipelines.explore.selection import predictor_auc
from latentatlas.report.figures import heatmap
from latentatlas.report.html import HtmlReport, format_cell
from latentatlas.scoring import factor_scorer, make_scorer
from latentatlas.utils.atomic import atomic_path, atomic_write_json
from latentatlas.utils.errors import OptionError, ShapeError
from latentatlas.utils.fingerprint import hash_json, module_fingerprint
from latentatlas.utils.outputs import claim_folder
from latentatlas.utils.runinfo import write_run_record

MIN_AUC = 0.85
GRID_ROWS = 4
GRID_STEPS = 7


def _log(progress: bool, text: str) -> None:
    if progress:
        import sys

        print(f"[discover] {text}", file=sys.stderr, flush=True)


def default_scorer(model: str) -> str:
    """``predictor_<model>`` when the zoo ships it (the scorer of ``--scorer auto``)."""
    name = f"predictor_{Path(str(model)).name}"
    if name in registry.available_models():
        return name
    raise ShapeError(f"no shipped predictor for {model!r}: pass --scorer (a predictor name / "
                     "folder or a built-in scorer)")


def resolve_scorer(scorer: Any, attributes: Sequence[str] | None, min_auc: float
                   ) -> tuple[Any, dict[str, list[str]], dict[str, float]]:
    """(scorer with per-factor columns, factor groups, AUC per kept binary head)."""
    base = make_scorer(scorer, clamp="display")
    model = getattr(base, "model", None)
    aucs: dict[str, float] = {}
    if isinstance(model, AttributePredictor) and all(h["kind"] == "binary" for h in model.heads):
        names = [h["name"] for h in model.heads]
        if attributes is None:
            aucs, _ = predictor_auc(model)
            attributes = [a for a in names if aucs.get(a, 1.0) >= min_auc]
        base = make_scorer(model, list(attributes), clamp="display")
        return base, {a: [a] for a in base.names}, {a: aucs[a] for a in base.names if a in aucs}
    fs, groups = factor_scorer(base)
    if attributes is not None:
        unknown = [a for a in attributes if a not in groups]
        if unknown:
            raise ShapeError(f"unknown factor(s) {unknown}; the scorer gives {list(groups)}")
        groups = {a: groups[a] for a in attributes}
    return fs, groups, aucs


def scorer_description(scorer: Any) -> Any:
    """A stable description of the scorer argument (a name, or the scorer's spec)."""
    if isinstance(scorer, (str, os.PathLike)):
        return str(scorer)
    spec = getattr(scorer, "spec", None)
    return spec() if callable(spec) else type(scorer).__name__


def discover(
    model: Any = "celeba64",
    out: str | os.PathLike = "runs/discover",
    methods: Sequence[str] = DEFAULT_METHODS,
    scorer: Any = "auto",
    *,
    attributes: Sequence[str] | None = None,
    top_k: int = 10,
    n: int = 128,
    alpha: float = 2.0,
    threshold: float = 0.5,
    min_effect: float = MIN_EFFECT,
    svm_n: int = 2000,
    sd_n: int = 1000,
    seed: int = 0,
    truncation_psi: float = 0.7,
    min_auc: float = MIN_AUC,
    image_fit: str = "auto",
    batch_size: int = 64,
    figures: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the leaderboard job (module docstring) into ``out``; returns leaderboard.json's dict.

    ``image_fit``: "auto" centre-crops a generator a few pixels larger than the scorer (MNIST's
    32 px GAN vs its 28 px predictor) and refuses other mismatches; else "error", "crop" or
    "resize".
    """
    t0 = time.perf_counter()
    if not methods:
        raise OptionError("methods must name at least one direction method")
    for m in methods:
        check_method(m)
    gen = model if isinstance(model, Generator) else load(model)
    if not isinstance(gen, Generator):
        raise ShapeError(f"{model}: is a {type(gen).__name__}, not a generator")
    gen.eval()
    model_label = str(model) if isinstance(model, (str, os.PathLike)) else type(gen).__name__
    if isinstance(scorer, str) and scorer == "auto":
        if not isinstance(model, (str, os.PathLike)):
            raise ShapeError("scorer='auto' needs a model name; pass a scorer")
        scorer = default_scorer(str(model))
    scorer_label = scorer_description(scorer)
    sc, groups, aucs = resolve_scorer(scorer, attributes, min_auc)
    if image_fit == "auto":
        size = getattr(getattr(sc, "model", None), "resolution", None)
        margin = int(gen.img_resolution) - int(size or gen.img_resolution)
        image_fit = "crop" if 0 < margin <= 8 and margin % 2 == 0 else "error"
    sc = fitted_scorer(sc, gen, image_fit)
    out = Path(out)
    claim_folder(out, {"command": "discover", "model": model_label, "scorer": scorer_label},
                 flag=None, legacy_marker="leaderboard.json")
    (out / "methods").mkdir(parents=True, exist_ok=True)
    (out / "directions").mkdir(exist_ok=True)
    settings = {"top_k": top_k, "n": n, "alpha": alpha, "seed": seed,
                "truncation_psi": truncation_psi, "image_fit": image_fit,
                "batch_size": batch_size, "groups": groups}
    base_fp = {"model": module_fingerprint(gen), "scorer": scorer_label, **settings,
               "sd_n": sd_n, "threshold": 0.5}  # (summaries are recomputed for any threshold)
    score_sd = column_sd(gen, sc, sd_n, seed, truncation_psi, batch_size) if sd_n else None
    _log(progress, f"{model_label}: {type(gen).__name__}, factors {list(groups)}")
    per_method: dict[str, Any] = {}
    for method in methods:
        src, m = directions_file(method), method_label(method)
        fp = hash_json({**base_fp, "method": m, "v": 1,
                        **({"file": file_digest(src)} if src is not None else {})})
        stem = method_stem(m)
        path = out / "methods" / f"{stem}.json"
        cached = _read(path)
        if cached is not None and cached.get("fingerprint") == fp:
            _log(progress, f"{m}: cached")
            per_method[m] = cached["result"]
            continue
        _log(progress, f"{m}: fit + label top {top_k}")
        res = run_leaderboard(gen, sc, [method], groups=groups, top_k=top_k, n=n, alpha=alpha,
                              threshold=threshold, min_effect=min_effect, svm_n=0, seed=seed,
                              truncation_psi=truncation_psi, batch_size=batch_size,
                              score_sd=score_sd, sd_n=0, progress=progress)
        entry = dict(res["leaderboard"]["methods"][m])
        if m in res["directions"]:
            res["directions"][m].save(out / "directions" / f"{stem}.safetensors")
            entry["labels_detail"] = res["labels"][m].to_json()
        per_method[m] = entry
        atomic_write_json(path, {"fingerprint": fp, "result": entry})
    svm = _svm_reference(out, gen, sc, groups, base_fp, svm_n=svm_n, n=n, seed=seed,
                         truncation_psi=truncation_psi, alpha=alpha, batch_size=batch_size,
                         min_effect=min_effect, score_sd=score_sd, progress=progress)
    for entry in per_method.values():  # re-summarised: cheap, follows threshold / min_effect
        if "labels_detail" in entry:
            entry.update(summarise(entry["labels_detail"], threshold, min_effect))
    board = {"model": model_label, "scorer": scorer_label, "factors": list(groups),
             "groups": groups, "aucs": aucs,
             "settings": {**settings, "threshold": threshold, "min_effect": min_effect},
             "methods": {m: {k: v for k, v in e.items() if k != "labels_detail"}
                         for m, e in per_method.items()},
             "svm": svm}
    files = {}
    if figures:
        files = _figures(out, gen, board, per_method, n, seed, truncation_psi, alpha, batch_size)
    board["figures"] = files
    board["seconds"] = time.perf_counter() - t0
    atomic_write_json(out / "leaderboard.json", board)
    _write_table(out / "leaderboard.md", board)
    _write_html(out / "index.html", board)
    write_run_record(out, command="latentatlas discover", seed=seed,
                     config={"model": model_label, "methods": [str(m) for m in methods],
                             "scorer": scorer_label, **settings, "svm_n": svm_n,
                             "sd_n": sd_n},
                     metrics={m: {k: e.get(k) for k in ("dedicated_factors", "mean_best_purity",
                                                        "fit_seconds", "skipped")}
                              for m, e in board["methods"].items()})
    _log(progress, f"leaderboard: {out / 'index.html'} ({board['seconds']:.1f} s)")
    return board


def _svm_reference(out: Path, gen: Any, sc: Any, groups: dict[str, list[str]],
                   base_fp: dict[str, Any], *, svm_n: int, n: int, seed: int,
                   truncation_psi: float, alpha: float, batch_size: int, min_effect: float,
                   score_sd: Any, progress: bool) -> dict[str, Any]:
    """The supervised SVM upper bound (``methods/svm.json``, cached by fingerprint)."""
    if not svm_n:
        return {"per_factor": {}, "mean_purity": None}
    svm_path = out / "methods" / "svm.json"
    fp = hash_json({**base_fp, "svm_n": svm_n, "min_effect": min_effect, "v": 2})
    cached = _read(svm_path)
    if cached is not None and cached.get("fingerprint") == fp:
        return cached["result"]
    _log(progress, f"svm upper bound on {svm_n} samples")
    codes, _ = sample_codes(gen, n, seed, truncation_psi)
    svm, svm_dirs = svm_upper_bound(gen, sc, groups, codes, n=svm_n, seed=seed,
                                    truncation_psi=truncation_psi, alpha=alpha, change="mean",
                                    batch_size=batch_size, progress=progress,
                                    min_effect=min_effect, score_sd=score_sd)
    if svm_dirs is not None:
        svm_dirs.save(out / "directions" / "svm.safetensors")
    atomic_write_json(svm_path, {"fingerprint": fp, "result": svm})
    return svm


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def purity_matrix(board: dict[str, Any]) -> tuple[np.ndarray, list[str]]:
    """[factors, methods + svm]: the best targeting direction's purity (NaN: not applicable)."""
    cols = [m for m, e in board["methods"].items() if "skipped" not in e]
    mat = np.full((len(board["factors"]), len(cols) + 1), np.nan)
    for i, f in enumerate(board["factors"]):
        for j, m in enumerate(cols):
            mat[i, j] = board["methods"][m]["per_factor"][f]["purity"]
        p = board["svm"].get("per_factor", {}).get(f, {}).get("purity")
        mat[i, -1] = np.nan if p is None else p
    return mat, [*cols, "svm (supervised)"]


def _figures(out: Path, gen: Any, board: dict[str, Any], per_method: dict[str, Any], n: int,
             seed: int, truncation_psi: float, alpha: float, batch_size: int
             ) -> dict[str, Any]:
    figs = out / "figures"
    figs.mkdir(exist_ok=True)
    mat, cols = purity_matrix(board)
    files: dict[str, Any] = {"heatmap": "figures/heatmap.png", "traversals": {}}
    heatmap(mat, board["factors"], cols, figs / "heatmap.png", vmin=0.0, vmax=1.0,
            title=f"{board['model']}: purity of the best direction per factor",
            colorbar_label="purity")
    codes, space = sample_codes(gen, GRID_ROWS, seed + 1, truncation_psi)
    labelled, _ = sample_codes(gen, n, seed, truncation_psi)  # alpha is in their sd
    for m, entry in per_method.items():
        if "skipped" in entry:
            continue
        dirs = Directions.load(out / "directions" / f"{method_stem(m)}.safetensors")
        for f, best in entry["per_factor"].items():
            if best["direction"] is None:
                continue
            walk = dirs[best["direction"]]
            step = alpha * code_sd(labelled, walk.vectors[0])
            alphas = np.linspace(-step, step, GRID_STEPS)
            name = f"{method_stem(m)}__{_safe(f)}.png"
            with torch.no_grad():
                render_edit_grid(gen, codes, space, figs / name, batch_size=batch_size,
                                 walk=walk, alphas=alphas, layers=best["layers"])
            files["traversals"].setdefault(m, {})[f] = f"figures/{name}"
    return files


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def table_markdown(board: dict[str, Any]) -> str:
    thr = board["settings"]["threshold"]
    head = [h.replace("thr", f"{thr:g}") for h in TABLE_HEADER]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in leaderboard_table(board):
        lines.append("| " + " | ".join(format_cell(v) if not isinstance(v, str) else v
                                        for v in row) + " |")
    mat, cols = purity_matrix(board)
    lines += ["", "| factor | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for i, f in enumerate(board["factors"]):
        lines.append(f"| {f} | " + " | ".join("n/a" if np.isnan(v) else f"{v:.2f}"
                                              for v in mat[i]) + " |")
    return "\n".join(lines) + "\n"


def _write_table(path: Path, board: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(table_markdown(board), "utf-8")


def _write_html(path: Path, board: dict[str, Any]) -> None:
    rep = HtmlReport(f"latentatlas discover: {board['model']}")
    s = board["settings"]
    rep.paragraph(f"Scorer {board['scorer']}; factors: {', '.join(board['factors'])}. "
                  f"Top {s['top_k']} directions per method, each moved by +-{s['alpha']} sd of "
                  f"the codes along it on {s['n']} samples; purity = the target factor's share "
                  f"of the total |standardised mean change|; dedicated = purity >= "
                  f"{s['threshold']}.")
    rep.table(leaderboard_table(board), header=TABLE_HEADER)
    figs = board.get("figures") or {}
    if figs.get("heatmap"):
        rep.image(figs["heatmap"], "purity heatmap")
    for m, e in board["methods"].items():
        rep.heading(m, level=2)
        if "skipped" in e:
            rep.paragraph(f"not applicable: {e['skipped']}", note=True)
            continue
        rep.bullets(e["labels"])
        for f, src in (figs.get("traversals") or {}).get(m, {}).items():
            best = e["per_factor"][f]
            rep.image(src, f"{m} {f}", caption=f"{f}: {best['direction']} (purity "
                                               f"{best['purity']:.2f})")
    rep.write(path)


__all__ = ["default_scorer", "discover", "purity_matrix", "resolve_scorer", "table_markdown"]

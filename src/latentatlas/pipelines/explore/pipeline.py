"""``explore()``: the main job as its list of stages (the package docstring describes them)."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from latentatlas.pipelines.explore.book import StageBook, log, nan_to_none
from latentatlas.pipelines.explore.context import BankStage, BoundaryStage, ExploreRun
from latentatlas.pipelines.explore.figures import flatten_files, make_figures
from latentatlas.pipelines.explore.report import (
    collect_metrics,
    run_summary,
    write_explore_report,
)
from latentatlas.pipelines.explore.selection import (
    choose_focus,
    resolve_generator,
    resolve_scorer,
)
from latentatlas.pipelines.explore.settings import (
    DEFAULT_MODEL,
    DEFAULT_PREDICTOR,
    EDIT_STEP,
    FULL_SETTINGS,
    MIN_AUC,
    QUICK_SETTINGS,
    ExploreResult,
    ExploreSettings,
    auto_chosen_ratio,
)
from latentatlas.pipelines.explore.stages import (
    bank_stage,
    boundaries_stage,
    edits_stage,
    layers_stage,
)
from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.fingerprint import hash_json, module_fingerprint
from latentatlas.utils.outputs import claim_folder
from latentatlas.utils.runinfo import write_run_record


def explore(
    model: Any = DEFAULT_MODEL,
    out: str | os.PathLike = "runs/explore",
    predictor: Any = DEFAULT_PREDICTOR,
    n: int | None = None,
    seed: int = 0,
    truncation_psi: float = 0.7,
    space: str = "w",
    attributes: Sequence[str] | None = None,
    quick: bool = False,
    progress: bool = True,
    *,
    n_edit: int | None = None,
    n_rescore: int | None = None,
    max_focus: int | None = None,
    focus: Sequence[str] | None = None,
    conditions: dict[str, str] | None = None,
    chosen_ratio: float | None = None,
    min_auc: float = MIN_AUC,
    batch_size: int | None = None,
    overwrite: bool = False,
) -> ExploreResult:
    """Run the main job (see the module docstring) and write everything into ``out``.

    Args:
        model: a Generator, a shipped model name (default ``celeba64``) or a
            model folder.
        out: output folder (created); re-running with the same settings skips finished stages.
        predictor: shipped predictor name / folder, an AttributePredictor, or a scorer whose
            columns are probabilities (e.g. a CallableScorer).
        n: bank size (default 4000; quick: 384).
        seed: seed of the bank, of the SVM splits and of everything random downstream.
        truncation_psi: truncation of the bank's codes (edits move the truncated codes).
        space: "w" (default; StyleGAN-like generators) or "z".
        attributes: attribute names; None = every head with held-out AUC >= ``min_auc``.
        quick: small sizes for tests and smoke runs (:data:`QUICK_SETTINGS`).
        progress: stage lines and tqdm bars on stderr.
        n_edit: samples on which edits are measured (default 500; quick: 64).
        n_rescore: samples of the HiGAN per-layer re-scoring (default 32; quick: 8).
        max_focus: at most this many focus attributes (default 4; quick: 2).
        focus: the focus attributes (default: chosen by :func:`choose_focus`).
        conditions: {target: condition} overrides for the conditional edits.
        chosen_ratio: SVM positives/negatives fraction (default :func:`auto_chosen_ratio`).
        min_auc: AUC threshold of the default attribute selection.
        batch_size: synthesis / scoring batch size (default 64).
        overwrite: replace an ``out`` that holds a run of another generator or predictor
            (refused otherwise: the weight digests identify them).

    Returns:
        An :class:`ExploreResult`.
    """
    t_total = time.perf_counter()
    settings = make_settings(quick, n=n, n_edit=n_edit, n_rescore=n_rescore,
                             max_focus=max_focus, batch_size=batch_size)
    check_arguments(settings, truncation_psi, space)
    run = prepare_run(model, out, predictor, settings, seed=seed, truncation_psi=truncation_psi,
                      space=space, attributes=attributes, quick=quick, progress=progress,
                      focus=focus, conditions=conditions, chosen_ratio=chosen_ratio,
                      min_auc=min_auc)
    claim_folder(run.out, {k: run.config[k] for k in ("model_fingerprint",
                                                       "predictor_fingerprint")},
                 overwrite, what="explore run of this generator and predictor",
                 legacy_marker="stages")
    bank = bank_stage(run)
    bounds = boundaries_stage(run, bank)
    edits, fp_edits = edits_stage(run, bank, bounds)
    layers = layers_stage(run, bank, bounds)
    figures = figures_stage(run, bank, bounds, edits, layers, fp_edits)
    return report_stage(run, bounds, edits, layers, figures, t_total)


def make_settings(quick: bool, **overrides: int | None) -> ExploreSettings:
    """The quick or full preset with the given sizes (None keeps the preset's)."""
    base = QUICK_SETTINGS if quick else FULL_SETTINGS
    return dataclasses.replace(base, **{k: int(v) for k, v in overrides.items()
                                        if v is not None})


def check_arguments(settings: ExploreSettings, truncation_psi: float, space: str) -> None:
    if settings.n < 4:
        raise ShapeError(f"n must be >= 4, got {settings.n}")
    if settings.n_edit < 2 or settings.n_rescore < 1:
        raise ShapeError("n_edit must be >= 2 and n_rescore >= 1")
    if not 0 < truncation_psi <= 1.5:
        raise ShapeError(f"truncation_psi must be in (0, 1.5], got {truncation_psi}")
    if space not in ("w", "z"):
        raise ShapeError(f"space must be 'w' or 'z', got {space!r} (W+ per-layer analysis runs "
                         "automatically in the layers stage)")


def prepare_run(model: Any, out: str | os.PathLike, predictor: Any, settings: ExploreSettings,
                *, seed: int, truncation_psi: float, space: str,
                attributes: Sequence[str] | None, quick: bool, progress: bool,
                focus: Sequence[str] | None, conditions: dict[str, str] | None,
                chosen_ratio: float | None, min_auc: float) -> ExploreRun:
    """Resolve the generator, the scorer, the attributes and the focus; the run's config."""
    generator = resolve_generator(model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    generator.eval()
    if space == "w" and "w" not in generator.spaces:
        raise ShapeError(f"{type(generator).__name__} has latent spaces {generator.spaces}; "
                         "use space='z'")
    if space == "z" and "w" in generator.spaces and truncation_psi != 1.0:
        raise ShapeError(f"{type(generator).__name__} truncates w, not z: space='z' takes "
                         f"truncation_psi=1 (got {truncation_psi}), or use space='w'")
    # Explore scores what the generator would display: any finite value is clamped to [-1, 1]
    # (an untrained or diverged generator legitimately exceeds the +-64 of "validate").
    scorer, attrs, aucs, auc_source = resolve_scorer(predictor, attributes, min_auc,
                                                     clamp="display")
    if focus is not None:
        unknown = [a for a in focus if a not in attrs]
        if unknown:
            raise ShapeError(f"focus attribute(s) {unknown} are not explored attributes {attrs}")
        focus_list = list(focus)[: settings.max_focus]
    else:
        focus_list = choose_focus(attrs, aucs, settings.max_focus, attributes is not None)
    ratio = auto_chosen_ratio(settings.n) if chosen_ratio is None else float(chosen_ratio)
    model_label = str(model) if isinstance(model, (str, os.PathLike)) else \
        getattr(generator, "model_folder", type(generator).__name__)
    log(progress, f"model {model_label}: {type(generator).__name__}, "
                  f"{generator.img_resolution} px, spaces {generator.spaces}")
    log(progress, f"{len(attrs)} attributes ({', '.join(attrs)}); focus: {', '.join(focus_list)}")
    config: dict[str, Any] = {
        "model": model_label, "model_fingerprint": module_fingerprint(generator),
        "predictor": scorer.spec(), "predictor_fingerprint":
            module_fingerprint(scorer.model) if hasattr(scorer, "model") else None,
        "attributes": attrs, "focus": focus_list, "auc_source": auc_source, "min_auc": min_auc,
        "seed": int(seed), "truncation_psi": float(truncation_psi), "space": space,
        "chosen_ratio": ratio, "quick": bool(quick), "edit_step": EDIT_STEP,
        "conditions": conditions or {}, **dataclasses.asdict(settings),
    }
    return ExploreRun(out=out, generator=generator, scorer=scorer, attributes=attrs, aucs=aucs,
                      auc_source=auc_source, focus=focus_list, settings=settings, space=space,
                      seed=int(seed), truncation_psi=float(truncation_psi), chosen_ratio=ratio,
                      conditions=conditions or {}, model_label=model_label, config=config,
                      book=StageBook(out, progress), progress=progress)


def figures_stage(run: ExploreRun, bank: BankStage, bounds: BoundaryStage, edits: dict,
                  layers: dict | None, fp_edits: str) -> dict[str, Any]:
    """Every figure under ``out/figures`` (skipped when made earlier with the same inputs)."""
    s = run.settings
    fp = hash_json([fp_edits, layers is not None and layers.get("selection"), s.grid_rows,
                    s.grid_steps, s.grid_max_offset, s.sample_grid])
    figures = run.book.cached("figures", fp)
    if figures is None:
        log(run.progress, "stage figures")
        t0 = time.perf_counter()
        figures = make_figures(run.out, run.generator, bank.bank, bank.codes, run.space,
                               bounds.directions, bounds.conditional,
                               bounds.conditional_info, bounds.kept, bounds.focus, bounds.result,
                               edits, layers, run.aucs, s)
        run.book.save("figures", fp, figures, list(flatten_files(figures)),
                      time.perf_counter() - t0)
    return figures


def report_stage(run: ExploreRun, bounds: BoundaryStage, edits: dict, layers: dict | None,
                 figures: dict[str, Any], t_total: float) -> ExploreResult:
    """metrics.json, report.html and run.json; the :class:`ExploreResult`."""
    out, book = run.out, run.book
    t0 = time.perf_counter()
    book.status["report"] = "ran"
    metrics = collect_metrics(run.config, bounds.kept, bounds.focus, run.aucs, run.auc_source,
                              bounds.result, edits, layers, book)
    metrics["timings_seconds"]["total_this_call"] = time.perf_counter() - t_total
    metrics = nan_to_none(metrics)
    atomic_write_json(out / "metrics.json", metrics)
    report_path = write_explore_report(out, metrics, figures)
    book.seconds["report"] = time.perf_counter() - t0
    metrics["timings_seconds"]["report"] = book.seconds["report"]
    metrics["timings_seconds"]["total_this_call"] = time.perf_counter() - t_total
    atomic_write_json(out / "metrics.json", metrics)
    run_path = write_run_record(out, command="latentatlas explore", config=run.config,
                                seed=run.seed, metrics=run_summary(metrics))
    log(run.progress, f"report: {report_path} "
                      f"({metrics['timings_seconds']['total_this_call']:.1f} s)")
    files = {"report": report_path, "metrics": out / "metrics.json", "run": run_path,
             "directions": bounds.paths["directions"], "bank": out / "bank"}
    if bounds.conditional is not None:
        files["conditional"] = bounds.paths["conditional"]
    return ExploreResult(out=out, metrics=metrics, directions=bounds.directions,
                         conditional=bounds.conditional, attributes=bounds.kept,
                         focus=bounds.focus, stage_status=dict(book.status), files=files)

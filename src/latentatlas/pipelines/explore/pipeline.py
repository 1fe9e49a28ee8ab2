"""``explore()``: the main job as its list of stages (the package docstring describes them)."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from latentatlas.pipelines.explore.attributes import (
    factor_focus,
    paired_predictor,
    resolve_attributes,
)
from latentatlas.pipelines.explore.book import StageBook, log, nan_to_none
from latentatlas.pipelines.explore.context import BankStage, BoundaryStage, ExploreRun
from latentatlas.pipelines.explore.factors import factor_checks, hierarchy_stage
from latentatlas.pipelines.explore.figures import flatten_files, make_figures
from latentatlas.pipelines.explore.layerwise import layerwise_stage
from latentatlas.pipelines.explore.report import (
    add_attribute_metrics,
    collect_metrics,
    run_summary,
    write_explore_report,
)
from latentatlas.pipelines.explore.sections import extra_figures, factor_value_strips
from latentatlas.pipelines.explore.selection import (
    choose_focus,
    resolve_generator,
)
from latentatlas.pipelines.explore.settings import (
    DEFAULT_MODEL,
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
from latentatlas.pipelines.explore.unsupervised import unsupervised_stage
from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.fingerprint import hash_json, module_fingerprint
from latentatlas.utils.outputs import claim_folder
from latentatlas.utils.runinfo import write_run_record


def explore(
    model: Any = DEFAULT_MODEL,
    out: str | os.PathLike = "runs/explore",
    predictor: Any = None,
    n: int | None = None,
    seed: int = 0,
    truncation_psi: float = 0.7,
    space: str | None = None,
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
    scorers: Sequence[str] = (),
    ordered: Sequence[str] | None = None,
    n_wp: int | None = None,
    overwrite: bool = False,
) -> ExploreResult:
    """Run the main job (see the module docstring) and write everything into ``out``.

    Args:
        model: a Generator, a shipped model name (default ``celeba64``) or a
            model folder.
        out: output folder (created); re-running with the same settings skips finished stages.
        predictor: shipped predictor name / folder, an AttributePredictor, or a scorer (e.g. a
            CallableScorer). None: the shipped predictor paired with a shipped ``model`` (zoo
            index); a user's generator needs one.
        n: bank size (default 4000; quick: 384).
        seed: seed of the bank, of the SVM splits and of everything random downstream.
        truncation_psi: truncation of the bank's codes (edits move the truncated codes).
        space: "w", "z" or "wp" (W boundaries plus one SVM per W+ layer on a style-mixed
            bank, HiGAN's layer-wise boundaries); None: "w" when the generator has W, else "z".
        attributes: head or column names; None = every head whose held-out quality reaches
            its bar (AUC >= ``min_auc``, accuracy >= 0.8, R^2 >= 0.5).
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
        scorers: extra scorers beside the predictor ("pixel", "moments", "morpho"; a shipped
            generator may add its own, e.g. mnist's "morpho").
        ordered: multiclass heads whose class index is ordered (default: zoo index / the
            predictor's ``ordered_factors`` metadata).
        n_wp: size of the style-mixed W+ bank of ``space="wp"`` (default 2000; quick: 384).
        overwrite: replace an ``out`` that holds a run of another generator or predictor
            (refused otherwise: the weight digests identify them).

    Returns:
        An :class:`ExploreResult`.
    """
    t_total = time.perf_counter()
    settings = make_settings(quick, n=n, n_edit=n_edit, n_rescore=n_rescore,
                             max_focus=max_focus, batch_size=batch_size, n_wp=n_wp)
    check_arguments(settings, truncation_psi, space)
    run = prepare_run(model, out, predictor, settings, seed=seed, truncation_psi=truncation_psi,
                      space=space, attributes=attributes, quick=quick, progress=progress,
                      focus=focus, conditions=conditions, chosen_ratio=chosen_ratio,
                      min_auc=min_auc, scorers=scorers, ordered=ordered)
    claim_folder(run.out, {k: run.config[k] for k in ("model_fingerprint",
                                                       "predictor_fingerprint")},
                 overwrite, legacy_marker="stages")
    bank = bank_stage(run)
    bounds = boundaries_stage(run, bank)
    edits, fp_edits = edits_stage(run, bank, bounds)
    layers = layers_stage(run, bank, bounds)
    extras = {"factors": factor_checks(run, bank, bounds),
              "hierarchy": hierarchy_stage(run, bank, bounds, layers),
              "layerwise": layerwise_stage(run, bounds)}
    figures = figures_stage(run, bank, bounds, edits, layers, fp_edits, extras)
    extras["unsupervised"] = unsupervised_stage(run, bank, bounds)
    return report_stage(run, bounds, edits, layers, figures, t_total, extras)


def make_settings(quick: bool, **overrides: int | None) -> ExploreSettings:
    """The quick or full preset with the given sizes (None keeps the preset's)."""
    base = QUICK_SETTINGS if quick else FULL_SETTINGS
    return dataclasses.replace(base, **{k: int(v) for k, v in overrides.items()
                                        if v is not None})


def check_arguments(settings: ExploreSettings, truncation_psi: float, space: str | None
                    ) -> None:
    if settings.n < 4:
        raise ShapeError(f"n must be >= 4, got {settings.n}")
    if settings.n_edit < 2 or settings.n_rescore < 1:
        raise ShapeError("n_edit must be >= 2 and n_rescore >= 1")
    if not 0 < truncation_psi <= 1.5:
        raise ShapeError(f"truncation_psi must be in (0, 1.5], got {truncation_psi}")
    if space not in (None, "w", "z", "wp"):
        raise ShapeError(f"space must be 'w', 'z' or 'wp', got {space!r}")


def prepare_run(model: Any, out: str | os.PathLike, predictor: Any, settings: ExploreSettings,
                *, seed: int, truncation_psi: float, space: str | None,
                attributes: Sequence[str] | None, quick: bool, progress: bool,
                focus: Sequence[str] | None, conditions: dict[str, str] | None,
                chosen_ratio: float | None, min_auc: float, scorers: Sequence[str] = (),
                ordered: Sequence[str] | None = None) -> ExploreRun:
    """Resolve the generator, the scorer, the attributes and the focus; the run's config."""
    generator = resolve_generator(model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    generator.eval()
    requested = space
    if space is None:
        space = "w" if "w" in generator.spaces else "z"
    if space == "wp":
        if "wp" not in generator.spaces or int(getattr(generator, "num_ws", 1)) < 2:
            raise ShapeError(f"{type(generator).__name__} has no W+ layers (latent spaces "
                             f"{generator.spaces}): space='wp' needs a StyleGAN-like generator")
        space = "w"  # the W boundaries, plus the per-layer ones of the layerwise stage
    if space == "w" and "w" not in generator.spaces:
        raise ShapeError(f"{type(generator).__name__} has latent spaces {generator.spaces}; "
                         "use space='z'")
    if space == "z" and "w" in generator.spaces and truncation_psi != 1.0:
        raise ShapeError(f"{type(generator).__name__} truncates w, not z: space='z' takes "
                         f"truncation_psi=1 (got {truncation_psi}), or use space='w'")
    # Explore scores what the generator would display: any finite value is clamped to [-1, 1]
    # (an untrained or diverged generator legitimately exceeds the +-64 of "validate").
    predictor, paired_scorers = paired_predictor(model, predictor)
    choice = resolve_attributes(predictor, attributes, min_auc=min_auc, clamp="display",
                                channels=int(generator.img_channels), ordered=ordered,
                                scorers=[*paired_scorers, *scorers])
    scorer, attrs, aucs, auc_source = (choice.scorer, choice.attributes, choice.aucs,
                                       choice.auc_source)
    if focus is not None:
        unknown = [a for a in focus if a not in attrs]
        if unknown:
            raise ShapeError(f"focus attribute(s) {unknown} are not explored attributes {attrs}")
        focus_list = list(focus)[: settings.max_focus]
    elif choice.factor_predictor and attributes is None:
        focus_list = factor_focus(choice, settings.max_focus)
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
        "space_requested": requested, "layerwise": requested == "wp",
        "scorers": [*paired_scorers, *scorers], "attribute_info": choice.to_json(),
    }
    return ExploreRun(out=out, generator=generator, scorer=scorer, attributes=attrs, aucs=aucs,
                      auc_source=auc_source, focus=focus_list, settings=settings, space=space,
                      seed=int(seed), truncation_psi=float(truncation_psi), chosen_ratio=ratio,
                      conditions=conditions or {}, model_label=model_label, config=config,
                      book=StageBook(out, progress), progress=progress, choice=choice)


def figures_stage(run: ExploreRun, bank: BankStage, bounds: BoundaryStage, edits: dict,
                  layers: dict | None, fp_edits: str, extras: dict[str, Any]) -> dict[str, Any]:
    """Every figure under ``out/figures`` (skipped when made earlier with the same inputs)."""
    s = run.settings
    fp = hash_json([fp_edits, layers is not None and layers.get("selection"), s.grid_rows,
                    s.grid_steps, s.grid_max_offset, s.sample_grid,
                    hash_json(nan_to_none(extras))])
    figures = run.book.cached("figures", fp)
    if figures is None:
        log(run.progress, "stage figures")
        t0 = time.perf_counter()
        figures = make_figures(run.out, run.generator, bank.bank, bank.codes, run.space,
                               bounds.directions, bounds.conditional,
                               bounds.conditional_info, bounds.kept, bounds.focus, bounds.result,
                               edits, layers, run.aucs, s, grid_attributes(run, bounds))
        figures.update(extra_figures(run.out, extras))
        if run.choice is not None and run.choice.factor_predictor:
            offsets = np.linspace(-s.grid_max_offset, s.grid_max_offset, s.grid_steps)
            figures["factor_values"] = factor_value_strips(
                run.out, run.generator, bank.codes, run.space, bounds.directions,
                run.choice.kinds, run.choice.heads, offsets, s.batch_size)
        run.book.save("figures", fp, figures, list(flatten_files(figures)),
                      time.perf_counter() - t0)
    return figures


def grid_attributes(run: ExploreRun, bounds: BoundaryStage) -> list[str] | None:
    """Edit grids of every attribute, except one-vs-rest class columns outside the focus (a
    factor predictor has dozens): their factor's traversal is the focus column's grid."""
    if run.choice is None or not run.choice.factor_predictor:
        return None
    return [a for a in bounds.kept if a in bounds.focus or run.choice.kinds.get(a) != "class"]


def report_stage(run: ExploreRun, bounds: BoundaryStage, edits: dict, layers: dict | None,
                 figures: dict[str, Any], t_total: float, extras: dict[str, Any]
                 ) -> ExploreResult:
    """metrics.json, report.html and run.json; the :class:`ExploreResult`."""
    out, book = run.out, run.book
    t0 = time.perf_counter()
    book.status["report"] = "ran"
    metrics = collect_metrics(run.config, bounds.kept, bounds.focus, run.aucs, run.auc_source,
                              bounds.result, edits, layers, book)
    add_attribute_metrics(metrics, run.choice, extras)
    if extras.get("unsupervised") is not None:
        metrics["unsupervised"] = extras["unsupervised"]
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

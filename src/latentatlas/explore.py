"""The main job: ``explore(model, out)``: which directions and layers control which semantics.

Given a generator and an attribute predictor (default: the shipped ``predictor_celeba64``),
:func:`explore` runs InterFaceGAN and HiGAN end to end and writes one self-contained report.

Stages (each resumable: a finished stage whose configuration fingerprint matches is skipped)
-----------------------------------------------------------------------------------------
1. ``bank``: sample ``n`` latents (truncation ``truncation_psi``), synthesise, score every
   selected attribute (:func:`latentatlas.bank.sample_bank`; chunk-level resume) -> ``out/bank``.
2. ``boundaries``: one InterFaceGAN linear-SVM boundary per attribute in ``space`` (W by
   default; :class:`~latentatlas.directions.SVMBoundary`, top/bottom ``chosen_ratio`` of the bank,
   70/30 train/validation split) and, for each *focus* attribute, a conditional boundary made
   orthogonal to the attribute most entangled with it (largest |cosine|; Smiling is conditioned on
   Male when both are present, InterFaceGAN's example). Per-layer W+ SVMs are not trained: the
   bank's W+ codes are w broadcast to every layer, so every layer's SVM would equal the W one;
   the per-layer picture comes from HiGAN re-scoring (stage 4) instead.
3. ``edits``: on the first ``n_edit`` bank codes, move +2 (an offset along the unit normal) along
   every focus boundary and every conditional boundary, synthesise and score. Measures the
   fraction of samples whose target probability rises, the mean score change of every attribute
   (entanglement of edits), the correlation across samples of score changes, and for conditional
   vs plain edits the change of the conditioning attribute (both measured). The "before" scores
   are the bank's (same codes, same synthesis, same scorer).
4. ``layers`` (W+ generators, space "w"): HiGAN re-scoring (:func:`~latentatlas.directions.rescore`,
   lambda = 2, positive-clipped mean change) of the focus directions on ``n_rescore`` bank codes,
   moving all layers and each layer alone; the layers x semantics relevance matrix, layer
   rankings, and the automatic layer selection of
   :func:`~latentatlas.directions.select_layers_from_relevance` (additive per-layer effects,
   keep 80% of the full effect with the fewest layers and least side effects).
5. ``figures``: sample grid, an edit grid per attribute (plus conditional and layer-selective
   grids for focus attributes), heatmaps (cosine entanglement, score changes, layers x
   semantics) and the accuracy bar chart.
6. ``report``: ``metrics.json`` (every number), ``run.json``, ``report.html``.

Which attributes
----------------
``attributes=None`` selects every binary head of the predictor whose held-out ROC-AUC is at
least ``min_auc`` (0.85). The AUCs are read from the predictor folder: ``config.json`` metadata
(``test.per_head.<head>.roc_auc``) when present, else ``metrics.json`` beside it, else the
per-head table of its ``MODEL_CARD.md``. Boundaries (stage 2) are trained for all of them (cheap);
the image-heavy stages 3-4 run on at most ``max_focus`` *focus* attributes: Smiling, Male,
Eyeglasses and Young first when selected, then by AUC. With a plain scorer (not a predictor)
every score column is an attribute.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentatlas.utils.atomic import atomic_save_npy, atomic_write_json
from latentatlas.utils.errors import CheckpointError, LatentAtlasError, ShapeError
from latentatlas.utils.hardware import native_bf16_supported
from latentatlas.utils.runinfo import write_run_record

DEFAULT_MODEL = "celeba64"
DEFAULT_PREDICTOR = "predictor_celeba64"
#: Held-out ROC-AUC a predictor head needs to be explored by default.
MIN_AUC = 0.85
#: Focus attributes taken first when the predictor handles them well (the issue's four).
PREFERRED_FOCUS = ("Smiling", "Male", "Eyeglasses", "Young")
#: Conditions used when both attributes are present (InterFaceGAN's canonical example).
PREFERRED_CONDITIONS = {"Smiling": "Male"}
#: The edit whose effect is measured: +EDIT_STEP along each unit normal (offset), and HiGAN's
#: re-scoring lambda.
EDIT_STEP = 2.0
STAGES = ("bank", "boundaries", "edits", "layers", "figures", "report")


@dataclass(frozen=True)
class ExploreSettings:
    """Sizes of one explore run. :data:`FULL_SETTINGS` is the default, :data:`QUICK_SETTINGS`
    the ``quick=True`` preset (tests, smoke runs)."""

    n: int = 4000
    n_edit: int = 500
    n_rescore: int = 32
    max_focus: int = 4
    grid_rows: int = 3
    grid_steps: int = 7
    grid_max_offset: float = 3.0
    sample_grid: int = 36
    batch_size: int = 64


FULL_SETTINGS = ExploreSettings()
QUICK_SETTINGS = ExploreSettings(n=384, n_edit=64, n_rescore=8, max_focus=2, grid_rows=2,
                                 grid_steps=5, sample_grid=16, batch_size=64)


@dataclass
class ExploreResult:
    """What :func:`explore` returns.

    Attributes:
        out: the output folder.
        metrics: everything written to ``metrics.json``.
        directions: the W (or z) boundaries, one per attribute.
        conditional: the conditional boundaries of the focus attributes (None when there is a
            single attribute).
        attributes: explored attributes; focus: the subset edited and re-scored.
        stage_status: stage name -> "ran" / "skipped" / "not applicable".
        files: name -> path of the main outputs (report, metrics, run record, directions...).
    """

    out: Path
    metrics: dict[str, Any]
    directions: Any
    conditional: Any
    attributes: list[str]
    focus: list[str]
    stage_status: dict[str, str] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


# --------------------------------------------------------------------------- small helpers
def _log(progress: bool, text: str) -> None:
    if progress:
        from tqdm.auto import tqdm

        tqdm.write(f"[explore] {text}", file=sys.stderr)


def _hash_json(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def module_fingerprint(module: torch.nn.Module) -> str:
    """Hash of a module's class, constructor kwargs and every state-dict tensor's bytes."""
    h = hashlib.blake2b(digest_size=12)
    h.update(type(module).__name__.encode())
    h.update(json.dumps(getattr(module, "init_kwargs", {}), sort_keys=True, default=str).encode())
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().to("cpu").contiguous().view(-1).view(torch.uint8).numpy()
                 .tobytes())
    return h.hexdigest()


def auto_chosen_ratio(n: int) -> float:
    """Fraction of the bank taken as positives (and as negatives) for each SVM: about 500
    samples per side, clipped to [0.02, 0.25] (InterFaceGAN's 0.02 for banks >= 25k)."""
    return float(min(0.25, max(0.02, 500.0 / max(n, 1))))


# --------------------------------------------------------------------------- model / predictor
def resolve_generator(model: Any) -> Any:
    """A Generator from an instance, a shipped name or a model folder (clear error for the
    default ``celeba64`` when the zoo lacks it)."""
    from latentatlas.io.registry import available_models, load
    from latentatlas.models.base import Generator

    if isinstance(model, Generator):
        return model
    if not isinstance(model, (str, os.PathLike)):
        raise LatentAtlasError(f"model must be a Generator, a shipped name or a folder, "
                               f"got {type(model).__name__}")
    if str(model) == DEFAULT_MODEL and not Path(model).is_dir() \
            and DEFAULT_MODEL not in available_models():
        raise CheckpointError(
            f"model {DEFAULT_MODEL!r} (the default of `latentatlas explore`) is missing from "
            "this installation's model zoo. Pass a generator folder instead, e.g. "
            "`latentatlas explore --model runs/my_gan/model` (train one with `latentatlas train "
            "gan --preset celeba64`)."
        )
    gen = load(model)
    if not isinstance(gen, Generator):
        raise CheckpointError(f"{model}: is a {type(gen).__name__}, not a generator")
    return gen


_CARD_ROW = re.compile(r"^\|\s*([^|]+?)\s*\|(.*)\|\s*$")


def _auc_from_card(text: str) -> dict[str, float]:
    """Per-head ROC-AUC from a model card's markdown table with a ``roc_auc`` column."""
    out: dict[str, float] = {}
    col = None
    for line in text.splitlines():
        m = _CARD_ROW.match(line.strip())
        if not m:
            col = None if not line.strip().startswith("|") else col
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "roc_auc" in cells:
            col = cells.index("roc_auc")
            continue
        if col is None or set(cells[0]) <= set("-: "):
            continue
        try:
            out[cells[0]] = float(cells[col])
        except (ValueError, IndexError):
            continue
    return out


def predictor_auc(model: Any) -> tuple[dict[str, float], str | None]:
    """Held-out ROC-AUC per binary head of a loaded predictor and where it was read from.

    Looks at ``model.model_metadata['test']['per_head']``, then ``<folder>/metrics.json``
    (``test.per_head``), then the ``roc_auc`` column of ``<folder>/MODEL_CARD.md``.
    Returns ({}, None) when none is available.
    """

    def from_per_head(per: Any) -> dict[str, float]:
        if not isinstance(per, dict):
            return {}
        return {str(k): float(v["roc_auc"]) for k, v in per.items()
                if isinstance(v, dict) and v.get("roc_auc") is not None}

    meta = getattr(model, "model_metadata", None) or {}
    found = from_per_head((meta.get("test") or {}).get("per_head"))
    if found:
        return found, "config.json metadata"
    folder = getattr(model, "model_folder", None)
    if folder is None:
        return {}, None
    metrics_path = Path(folder) / "metrics.json"
    if metrics_path.is_file():
        try:
            found = from_per_head(json.loads(metrics_path.read_text("utf-8"))
                                  .get("test", {}).get("per_head"))
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            found = {}
        if found:
            return found, str(metrics_path)
    card = Path(folder) / "MODEL_CARD.md"
    if card.is_file():
        found = _auc_from_card(card.read_text("utf-8", errors="replace"))
        if found:
            return found, str(card)
    return {}, None


def resolve_scorer(
    predictor: Any,
    attributes: Sequence[str] | None,
    min_auc: float = MIN_AUC,
) -> tuple[Any, list[str], dict[str, float], str | None]:
    """(scorer of the explored attributes, attribute names, AUC per attribute, AUC source).

    ``predictor``: a shipped predictor name / folder, an AttributePredictor, or any scorer
    (BaseScorer, e.g. CallableScorer) whose columns are probabilities.
    """
    from latentatlas.models.predictors import AttributePredictor
    from latentatlas.scoring import BaseScorer, PredictorScorer, ScoringError

    if isinstance(predictor, BaseScorer) and not isinstance(predictor, PredictorScorer):
        names = list(predictor.names)
        if attributes is None:
            return predictor, names, {}, None
        unknown = [a for a in attributes if a not in names]
        if unknown:
            raise ScoringError(f"unknown attribute(s) {unknown}; the scorer gives {names}")
        from latentatlas.scoring import CallableScorer

        cols = [names.index(a) for a in attributes]
        sub = CallableScorer(lambda x: predictor(x)[:, cols], list(attributes),
                             channels=predictor.channels,
                             description=f"{predictor.spec()} columns {list(attributes)}")
        return sub, list(attributes), {}, None
    if isinstance(predictor, PredictorScorer):
        model = predictor.model
    elif isinstance(predictor, AttributePredictor):
        model = predictor
    elif isinstance(predictor, (str, os.PathLike)):
        from latentatlas.io.registry import load

        model = load(predictor)
        if not isinstance(model, AttributePredictor):
            raise ScoringError(f"{predictor} is a {type(model).__name__}, not an "
                               "AttributePredictor")
    else:
        raise ScoringError(f"predictor must be a name, a folder, an AttributePredictor or a "
                           f"scorer, got {type(predictor).__name__}")
    aucs, source = predictor_auc(model)
    binary = [h["name"] for h in model.heads if h["kind"] == "binary"]
    if attributes is None:
        if aucs:
            chosen = [h for h in binary if aucs.get(h, 0.0) >= min_auc]
        else:
            chosen = binary
        if not chosen:
            raise ScoringError(
                f"no binary head of the predictor reaches held-out AUC >= {min_auc} "
                f"(AUCs from {source}); pass attributes= explicitly"
            )
    else:
        chosen = list(attributes)
    # bf16 scoring only where it is native: emulated bf16 is several times slower than fp32.
    scorer = PredictorScorer(model, attributes=chosen, fast=native_bf16_supported())
    return scorer, list(scorer.names), {a: aucs[a] for a in scorer.names if a in aucs}, source


class ClampedScorer:
    """Wraps a scorer so generator outputs are clamped to [-1, 1] before scoring.

    Scorers refuse values beyond +-64 as a data-convention error ([0, 255] images), but an
    untrained or diverged generator legitimately produces such values; explore scores what the
    generator would display. NaN / Inf still raise (in the wrapped scorer).
    """

    def __init__(self, scorer: Any) -> None:
        self.scorer = scorer
        self.names = list(scorer.names)
        self.channels = getattr(scorer, "channels", None)
        self.differentiable = getattr(scorer, "differentiable", False)
        if hasattr(scorer, "model"):
            self.model = scorer.model

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if isinstance(images, torch.Tensor) and images.is_floating_point():
            images = torch.where(torch.isfinite(images), images.clamp(-1.0, 1.0), images)
        return self.scorer(images)

    def spec(self) -> dict[str, Any]:
        inner = self.scorer.spec() if hasattr(self.scorer, "spec") else {
            "type": type(self.scorer).__name__, "names": self.names}
        return {**inner, "clamped_to": [-1.0, 1.0]}


def choose_focus(attributes: Sequence[str], aucs: dict[str, float], max_focus: int,
                 explicit: bool) -> list[str]:
    """The attributes the image-heavy stages run on (see the module docstring)."""
    if max_focus < 1:
        raise ShapeError(f"max_focus must be >= 1, got {max_focus}")
    if explicit:
        return list(attributes)[:max_focus]
    first = [a for a in PREFERRED_FOCUS if a in attributes]
    rest = sorted((a for a in attributes if a not in first),
                  key=lambda a: (-aucs.get(a, 0.0), list(attributes).index(a)))
    return (first + rest)[:max_focus]


def choose_condition(target: str, attributes: Sequence[str], cosines: np.ndarray,
                     overrides: dict[str, str] | None = None) -> str | None:
    """The attribute a conditional edit of ``target`` keeps fixed: an override, InterFaceGAN's
    Smiling | Male when both exist, else the attribute whose boundary has the largest |cosine|
    with the target's."""
    names = list(attributes)
    if len(names) < 2:
        return None
    for table in (overrides or {}, PREFERRED_CONDITIONS):
        cond = table.get(target)
        if cond is not None and cond in names and cond != target:
            return cond
    t = names.index(target)
    row = np.abs(np.asarray(cosines, dtype=np.float64)[t]).copy()
    row[t] = -1.0
    return names[int(np.argmax(row))]


# --------------------------------------------------------------------------- stage bookkeeping
class _StageBook:
    """Stage records in ``out/stages/<name>.json``: fingerprint, result, files, seconds."""

    def __init__(self, out: Path, progress: bool) -> None:
        self.dir = out / "stages"
        self.out = out
        self.progress = progress
        self.status: dict[str, str] = {}
        self.seconds: dict[str, float] = {}

    def cached(self, name: str, fingerprint: str) -> dict[str, Any] | None:
        path = self.dir / f"{name}.json"
        if not path.is_file():
            return None
        try:
            rec = json.loads(path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if rec.get("fingerprint") != fingerprint:
            return None
        if not all((self.out / f).exists() for f in rec.get("files", [])):
            return None
        self.status[name] = "skipped"
        self.seconds[name] = float(rec.get("seconds", 0.0))
        _log(self.progress, f"stage {name}: finished earlier with the same settings, skipped")
        return rec["result"]

    def save(self, name: str, fingerprint: str, result: dict[str, Any], files: Sequence[str],
             seconds: float) -> None:
        self.status[name] = "ran"
        self.seconds[name] = seconds
        atomic_write_json(self.dir / f"{name}.json", {
            "fingerprint": fingerprint, "seconds": seconds, "files": list(files),
            "result": result})
        _log(self.progress, f"stage {name}: done in {seconds:.1f} s")


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return None if not np.isfinite(v) else v
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return _nan_to_none(obj.tolist())
    return obj


def _score_all(scorer: Any, images: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return scorer(images).detach().float().cpu().numpy().astype(np.float64)


def _synthesize_and_score(generator: Any, scorer: Any, codes: np.ndarray, space: str,
                          truncation_psi: float, batch_size: int, bar: Any = None) -> np.ndarray:
    """Scores [N, m] of the images of ``codes`` (z codes are truncated like the bank's)."""
    kw: dict[str, Any] = {"space": space}
    if space == "z":
        kw["truncation_psi"] = truncation_psi
    device = getattr(generator, "device", torch.device("cpu"))
    out = []
    for start in range(0, codes.shape[0], batch_size):
        chunk = torch.as_tensor(np.ascontiguousarray(codes[start:start + batch_size]),
                                dtype=torch.float32).to(device)
        with torch.no_grad():
            images = generator.synthesize(chunk, **kw).float().cpu()
        out.append(_score_all(scorer, images))
        if bar is not None:
            bar.update(chunk.shape[0])
    return np.concatenate(out)


# --------------------------------------------------------------------------- the main job
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

    Returns:
        An :class:`ExploreResult`.
    """
    from latentatlas.bank import Bank, sample_bank
    from latentatlas.directions import Directions, SVMBoundary, conditional_directions
    from latentatlas.editing import move
    from latentatlas.utils.errors import DataError

    t_total = time.perf_counter()
    base = QUICK_SETTINGS if quick else FULL_SETTINGS
    settings = dataclasses.replace(
        base,
        n=base.n if n is None else int(n),
        n_edit=base.n_edit if n_edit is None else int(n_edit),
        n_rescore=base.n_rescore if n_rescore is None else int(n_rescore),
        max_focus=base.max_focus if max_focus is None else int(max_focus),
        batch_size=base.batch_size if batch_size is None else int(batch_size),
    )
    if settings.n < 4:
        raise ShapeError(f"n must be >= 4, got {settings.n}")
    if settings.n_edit < 2 or settings.n_rescore < 1:
        raise ShapeError("n_edit must be >= 2 and n_rescore >= 1")
    if not 0 < truncation_psi <= 1.5:
        raise ShapeError(f"truncation_psi must be in (0, 1.5], got {truncation_psi}")
    if space not in ("w", "z"):
        raise ShapeError(f"space must be 'w' or 'z', got {space!r} (W+ per-layer analysis runs "
                         "automatically in the layers stage)")
    generator = resolve_generator(model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    generator.eval()
    if space == "w" and "w" not in generator.spaces:
        raise ShapeError(f"{type(generator).__name__} has latent spaces {generator.spaces}; "
                         "use space='z'")
    scorer, attrs, aucs, auc_source = resolve_scorer(predictor, attributes, min_auc)
    scorer = ClampedScorer(scorer)
    explicit = attributes is not None
    if focus is not None:
        unknown = [a for a in focus if a not in attrs]
        if unknown:
            raise ShapeError(f"focus attribute(s) {unknown} are not explored attributes {attrs}")
        focus_list = list(focus)[: settings.max_focus]
    else:
        focus_list = choose_focus(attrs, aucs, settings.max_focus, explicit)
    ratio = auto_chosen_ratio(settings.n) if chosen_ratio is None else float(chosen_ratio)
    model_label = str(model) if isinstance(model, (str, os.PathLike)) else \
        getattr(generator, "model_folder", type(generator).__name__)
    book = _StageBook(out, progress)
    _log(progress, f"model {model_label}: {type(generator).__name__}, "
                   f"{generator.img_resolution} px, spaces {generator.spaces}")
    _log(progress, f"{len(attrs)} attributes ({', '.join(attrs)}); focus: {', '.join(focus_list)}")

    config: dict[str, Any] = {
        "model": model_label, "model_fingerprint": module_fingerprint(generator),
        "predictor": scorer.spec(), "predictor_fingerprint":
            module_fingerprint(scorer.model) if hasattr(scorer, "model") else None,
        "attributes": attrs, "focus": focus_list, "auc_source": auc_source, "min_auc": min_auc,
        "seed": int(seed), "truncation_psi": float(truncation_psi), "space": space,
        "chosen_ratio": ratio, "quick": bool(quick), "edit_step": EDIT_STEP,
        "conditions": conditions or {}, **dataclasses.asdict(settings),
    }
    bs = settings.batch_size

    # ------------------------------------------------------------------ 1. bank
    fp_bank = _hash_json({k: config[k] for k in (
        "model_fingerprint", "predictor", "predictor_fingerprint", "attributes", "seed",
        "truncation_psi", "n")})
    bank_dir = out / "bank"
    cached = book.cached("bank", fp_bank)
    if cached is not None:
        bank = Bank.open(bank_dir)
    else:
        _log(progress, f"stage bank: {settings.n} samples")
        t0 = time.perf_counter()
        kw = dict(n=settings.n, out=bank_dir, seed=seed, truncation_psi=truncation_psi,
                  batch_size=bs, chunk_size=max(bs, 1024), progress=progress,
                  model_name=model_label)
        try:
            bank = sample_bank(generator, scorer, resume=True, **kw)
        except DataError:  # a bank of other settings from an earlier run: start over
            bank = sample_bank(generator, scorer, resume=False, **kw)
        book.save("bank", fp_bank, {"n": len(bank)}, ["bank/bank.json"],
                  time.perf_counter() - t0)
    codes_all = np.array(bank.latents(space), dtype=np.float32)  # writable copy
    scores_all = np.asarray(bank.scores_matrix(attrs), dtype=np.float64)

    # ------------------------------------------------------------------ 2. boundaries
    fp_bound = _hash_json([fp_bank, space, ratio, seed, focus_list, conditions or {}])
    dir_path = out / "directions" / "boundaries.safetensors"
    cond_path = out / "directions" / "conditional.safetensors"
    cached = book.cached("boundaries", fp_bound)
    if cached is not None:
        boundaries = cached
        directions = Directions.load(dir_path)
        conditional = Directions.load(cond_path) if cond_path.is_file() else None
    else:
        _log(progress, f"stage boundaries: {len(attrs)} SVMs in {space.upper()} "
                       f"(top/bottom {ratio:.3f} of {settings.n})")
        t0 = time.perf_counter()
        vectors, intercepts, per_attr, kept = [], [], {}, []
        for j, a in enumerate(attrs):
            svm = SVMBoundary(space=space, chosen_num_or_ratio=ratio, split_ratio=0.7,
                              seed=seed, name=a, progress=False)
            try:
                svm.fit(codes_all, scores_all[:, j])
            except ShapeError as e:  # e.g. a constant score: no boundary for this attribute
                per_attr[a] = {"error": str(e)}
                _log(progress, f"  {a}: no boundary ({e})")
                continue
            kept.append(a)
            vectors.append(svm.normal_)
            intercepts.append(svm.intercept_)
            per_attr[a] = {
                "val_accuracy": svm.val_accuracy_, "train_accuracy": svm.train_accuracy_,
                "remaining_accuracy": svm.remaining_accuracy_, "counts": svm.counts_,
                "solver": svm.solver_, "intercept": float(svm.intercept_),
            }
        if not kept:
            raise ShapeError("no attribute gave a boundary (are all scores constant?)")
        directions = Directions(
            np.stack(vectors), space, names=kept, intercepts=np.asarray(intercepts),
            method="interfacegan_svm",
            scores={"val_accuracy": [per_attr[a]["val_accuracy"] for a in kept],
                    "train_accuracy": [per_attr[a]["train_accuracy"] for a in kept],
                    "remaining_accuracy": [per_attr[a]["remaining_accuracy"] for a in kept]},
            metadata={"chosen_ratio": ratio, "split_ratio": 0.7, "C": 1.0, "seed": seed,
                      "bank": str(bank_dir), "truncation_psi": truncation_psi},
            normalize=True)
        directions.save(dir_path)
        directions.to_interfacegan(out / "directions" / "interfacegan")
        cos = directions.vectors.astype(np.float64) @ directions.vectors.T.astype(np.float64)
        cond_parts, cond_info = [], {}
        for t in [f for f in focus_list if f in kept]:
            c = choose_condition(t, kept, cos, conditions)
            if c is None:
                continue
            part = conditional_directions(directions, t, [c], name=f"{t}|{c}")
            cond_parts.append(part)
            cond_info[t] = {
                "condition": c, "name": f"{t}|{c}",
                "cos_plain_condition": float(cos[kept.index(t), kept.index(c)]),
                "cos_conditional_condition": float(
                    part.vectors[0].astype(np.float64) @ directions.vector(c).astype(np.float64)),
                "cos_conditional_plain": float(
                    part.vectors[0].astype(np.float64) @ directions.vector(t).astype(np.float64)),
            }
        conditional = Directions.concat(cond_parts) if cond_parts else None
        files = ["directions/boundaries.safetensors"]
        if conditional is not None:
            conditional.save(cond_path)
            files.append("directions/conditional.safetensors")
        boundaries = {"per_attribute": per_attr, "kept": kept, "cosine": cos.tolist(),
                      "conditional": cond_info}
        book.save("boundaries", fp_bound, _nan_to_none(boundaries), files,
                  time.perf_counter() - t0)
    kept = list(boundaries["kept"])
    focus_list = [f for f in focus_list if f in kept]
    cond_info = boundaries["conditional"]
    # Scores of the kept attributes only, in directions order.
    keep_cols = [attrs.index(a) for a in kept]

    # ------------------------------------------------------------------ 3. edits
    n_edit_eff = min(settings.n_edit, len(bank))
    fp_edits = _hash_json([fp_bound, n_edit_eff, EDIT_STEP, bs])
    cached = book.cached("edits", fp_edits)
    if cached is not None:
        edits = cached
    else:
        total = n_edit_eff * (len(focus_list) + len(cond_info))
        _log(progress, f"stage edits: +{EDIT_STEP:g} along {len(focus_list)} boundaries and "
                       f"{len(cond_info)} conditional ones on {n_edit_eff} samples "
                       f"({total} images)")
        from tqdm.auto import tqdm

        t0 = time.perf_counter()
        codes = codes_all[:n_edit_eff]
        before = scores_all[:n_edit_eff][:, keep_cols]
        bar = tqdm(total=total, desc="edits", unit="img", disable=not progress)
        arrays: dict[str, np.ndarray] = {"before": before.astype(np.float32)}
        per_edit: dict[str, Any] = {}
        try:
            for t in focus_list:
                edited = move(codes, directions, EDIT_STEP, key=t)
                after = _synthesize_and_score(generator, scorer, edited, space, truncation_psi,
                                              bs, bar)[:, keep_cols]
                arrays[f"plain/{t}"] = after.astype(np.float32)
                per_edit[t] = _edit_stats(before, after, kept, t)
            for t, info in cond_info.items():
                edited = move(codes, conditional, EDIT_STEP, key=info["name"])
                after = _synthesize_and_score(generator, scorer, edited, space, truncation_psi,
                                              bs, bar)[:, keep_cols]
                arrays[f"conditional/{t}"] = after.astype(np.float32)
                c = kept.index(info["condition"])
                plain_after = arrays[f"plain/{t}"].astype(np.float64)
                per_edit[t]["conditional"] = {
                    "condition": info["condition"],
                    "success_fraction": float(np.mean(after[:, kept.index(t)]
                                                      > before[:, kept.index(t)])),
                    "mean_target_change": float(np.mean(after[:, kept.index(t)]
                                                        - before[:, kept.index(t)])),
                    "plain_condition_abs_change": float(np.mean(np.abs(
                        plain_after[:, c] - before[:, c]))),
                    "conditional_condition_abs_change": float(np.mean(np.abs(
                        after[:, c] - before[:, c]))),
                    "plain_condition_mean_change": float(np.mean(plain_after[:, c]
                                                                 - before[:, c])),
                    "conditional_condition_mean_change": float(np.mean(after[:, c]
                                                                       - before[:, c])),
                }
                cc = per_edit[t]["conditional"]
                cc["condition_change_reduced"] = bool(
                    cc["conditional_condition_abs_change"] < cc["plain_condition_abs_change"])
        finally:
            bar.close()
        (out / "arrays").mkdir(exist_ok=True)
        from latentatlas.utils.atomic import atomic_path

        with atomic_path(out / "arrays" / "edit_scores.npz") as tmp:
            np.savez(tmp, **{k.replace("/", "__"): v for k, v in arrays.items()})
        edits = {"n": n_edit_eff, "step": EDIT_STEP, "per_attribute": per_edit}
        book.save("edits", fp_edits, _nan_to_none(edits), ["arrays/edit_scores.npz"],
                  time.perf_counter() - t0)

    # ------------------------------------------------------------------ 4. layers
    has_wp = space == "w" and getattr(generator, "num_ws", 1) > 1 and bank.wp is not None
    layers: dict[str, Any] | None = None
    if not has_wp:
        book.status["layers"] = "not applicable"
    else:
        n_r = min(settings.n_rescore, len(bank))
        fp_layers = _hash_json([fp_bound, n_r, EDIT_STEP, bs])
        layers = book.cached("layers", fp_layers)
        if layers is None:
            from latentatlas.directions import rescore, select_layers_from_relevance

            num_ws = int(generator.num_ws)
            _log(progress, f"stage layers: HiGAN re-scoring of {len(focus_list)} directions on "
                           f"{n_r} samples x (1 + {len(focus_list)} x {1 + num_ws}) images")
            t0 = time.perf_counter()
            # truncation_psi=1: the bank's codes are already truncated and edits are plain
            # offsets of them, as in the edits stage.
            res = rescore(
                generator, directions[focus_list], lambda x: scorer(x), kept, n=n_r,
                lam=EDIT_STEP, space="wp", layers="each",
                latents=np.array(bank.wp[:n_r], dtype=np.float32),
                truncation_psi=1.0, batch_size=bs, progress=progress)
            (out / "arrays").mkdir(exist_ok=True)
            atomic_save_npy(out / "arrays" / "rescore_scores.npy", res.scores)
            selections = {}
            for k, t in enumerate(focus_list):
                ti = kept.index(t)
                sel = select_layers_from_relevance(
                    res.delta_layers[k], target=ti, full_effect=float(res.delta_all[k, ti]),
                    attribute_names=kept)
                js = sel.to_json()
                js.pop("candidates", None)
                selections[t] = js
            layers = {"rescore": res.to_json(), "selection": selections,
                      "relevance": res.relevance_matrix().tolist(), "num_layers": num_ws}
            layers = _nan_to_none(layers)
            book.save("layers", fp_layers, layers, ["arrays/rescore_scores.npy"],
                      time.perf_counter() - t0)

    # ------------------------------------------------------------------ 5. figures
    fp_fig = _hash_json([fp_edits, layers is not None and layers.get("selection"),
                         settings.grid_rows, settings.grid_steps, settings.grid_max_offset,
                         settings.sample_grid])
    figures = book.cached("figures", fp_fig)
    if figures is None:
        _log(progress, "stage figures")
        t0 = time.perf_counter()
        figures = _make_figures(out, generator, bank, codes_all, space, truncation_psi,
                                directions, conditional, cond_info, kept, focus_list, boundaries,
                                edits, layers, aucs, settings)
        book.save("figures", fp_fig, figures, list(_flatten_files(figures)),
                  time.perf_counter() - t0)

    # ------------------------------------------------------------------ 6. report
    t0 = time.perf_counter()
    book.status["report"] = "ran"
    metrics = _collect_metrics(config, kept, focus_list, aucs, auc_source, boundaries, edits,
                               layers, book)
    metrics["timings_seconds"]["total_this_call"] = time.perf_counter() - t_total
    metrics = _nan_to_none(metrics)
    atomic_write_json(out / "metrics.json", metrics)
    report_path = write_explore_report(out, metrics, figures)
    book.seconds["report"] = time.perf_counter() - t0
    metrics["timings_seconds"]["report"] = book.seconds["report"]
    metrics["timings_seconds"]["total_this_call"] = time.perf_counter() - t_total
    atomic_write_json(out / "metrics.json", metrics)
    run_path = write_run_record(out, command="latentatlas explore", config=config, seed=seed,
                                metrics=_run_summary(metrics))
    _log(progress, f"report: {report_path} ({metrics['timings_seconds']['total_this_call']:.1f} s)")
    files = {"report": report_path, "metrics": out / "metrics.json", "run": run_path,
             "directions": dir_path, "bank": bank_dir}
    if conditional is not None:
        files["conditional"] = cond_path
    return ExploreResult(out=out, metrics=metrics, directions=directions, conditional=conditional,
                         attributes=kept, focus=focus_list, stage_status=dict(book.status),
                         files=files)


def _edit_stats(before: np.ndarray, after: np.ndarray, names: list[str], target: str
                ) -> dict[str, Any]:
    """Success fraction, mean changes of every attribute and change correlations of one edit."""
    from latentatlas.directions import score_change_matrix

    t = names.index(target)
    delta = after - before
    corr = score_change_matrix(before, after) if before.shape[0] >= 2 else None
    return {
        "success_fraction": float(np.mean(after[:, t] > before[:, t])),
        "mean_target_change": float(delta[:, t].mean()),
        "mean_change": {a: float(delta[:, j].mean()) for j, a in enumerate(names)},
        "mean_abs_change": {a: float(np.abs(delta[:, j]).mean()) for j, a in enumerate(names)},
        "change_correlation_with_target": (
            {a: float(corr[t, j]) for j, a in enumerate(names)} if corr is not None else None),
    }


def _flatten_files(figures: dict[str, Any]):
    for v in figures.values():
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            yield from _flatten_files(v)


def _make_figures(out: Path, generator: Any, bank: Any, codes_all: np.ndarray, space: str,
                  psi: float, directions: Any, conditional: Any, cond_info: dict[str, Any],
                  kept: list[str], focus: list[str], boundaries: dict[str, Any],
                  edits: dict[str, Any], layers: dict[str, Any] | None,
                  aucs: dict[str, float], settings: ExploreSettings) -> dict[str, Any]:
    """Write every figure under ``out/figures``; returns their paths relative to ``out``."""
    from latentatlas.editing import interpolate, move, render_edit_grid, synthesize_batched
    from latentatlas.report.figures import bar_chart, heatmap
    from latentatlas.report.grids import save_grid

    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    kw = {"truncation_psi": psi} if space == "z" else {}
    bs = settings.batch_size
    files: dict[str, Any] = {"edits": {}, "conditional_edits": {}, "layer_edits": {}}

    n_samples = min(settings.sample_grid, len(bank))
    images = synthesize_batched(generator, codes_all[:n_samples], space, batch_size=bs, **kw)
    save_grid(images.clamp(-1, 1), fig_dir / "samples.png")
    files["samples"] = "figures/samples.png"

    offsets = np.linspace(-settings.grid_max_offset, settings.grid_max_offset,
                          settings.grid_steps)
    rows = codes_all[: min(settings.grid_rows, len(bank))]
    for a in kept:
        codes = interpolate(rows, directions, offsets, key=a, mode="offset")
        rel = f"figures/edit_{_file_safe(a)}.png"
        render_edit_grid(generator, codes, space, out / rel, batch_size=bs, **kw)
        files["edits"][a] = rel
    for t, info in cond_info.items():
        codes = interpolate(rows, conditional, offsets, key=info["name"], mode="offset")
        rel = f"figures/edit_{_file_safe(t)}_given_{_file_safe(info['condition'])}.png"
        render_edit_grid(generator, codes, space, out / rel, batch_size=bs, **kw)
        files["conditional_edits"][t] = rel
    if layers is not None:
        wp_rows = np.array(bank.wp[: rows.shape[0]], dtype=np.float32)
        for t in focus:
            sel = layers["selection"][t]["layers"]
            steps = [move(wp_rows, directions, o, key=t, layers=sel) for o in offsets]
            codes = np.stack(steps, axis=1)
            rel = f"figures/edit_{_file_safe(t)}_layers.png"
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


def _file_safe(name: str) -> str:
    return _UNSAFE.sub("_", name)


def _collect_metrics(config: dict[str, Any], kept: list[str], focus: list[str],
                     aucs: dict[str, float], auc_source: str | None,
                     boundaries: dict[str, Any], edits: dict[str, Any],
                     layers: dict[str, Any] | None, book: _StageBook) -> dict[str, Any]:
    per_b = boundaries["per_attribute"]
    per_e = edits["per_attribute"]
    summary = {}
    for a in kept:
        row = {"predictor_auc": aucs.get(a), **{k: per_b[a][k] for k in (
            "val_accuracy", "train_accuracy", "remaining_accuracy")}}
        if a in per_e:
            row["edit_success_fraction"] = per_e[a]["success_fraction"]
            row["edit_mean_target_change"] = per_e[a]["mean_target_change"]
        summary[a] = row
    conditional = {t: per_e[t]["conditional"] | {k: boundaries["conditional"][t][k] for k in (
        "cos_plain_condition", "cos_conditional_condition", "cos_conditional_plain")}
        for t in per_e if "conditional" in per_e[t]}
    return {
        "config": config,
        "attributes": kept,
        "focus": focus,
        "failed_attributes": {a: v["error"] for a, v in per_b.items() if "error" in v},
        "auc_source": auc_source,
        "summary": summary,
        "boundaries": per_b,
        "edits": edits,
        "conditional": conditional,
        "entanglement": {
            "names": kept,
            "cosine": boundaries["cosine"],
            "mean_score_change": {t: per_e[t]["mean_change"] for t in per_e},
            "change_correlation_with_target": {
                t: per_e[t]["change_correlation_with_target"] for t in per_e},
        },
        "layers": layers,
        "stage_status": dict(book.status),
        "timings_seconds": dict(book.seconds),
    }


def write_explore_report(out: Path, metrics: dict[str, Any], figures: dict[str, Any]) -> Path:
    """Write ``out/report.html`` (self-contained: relative image paths, tables)."""
    from latentatlas.report.html import HtmlReport

    cfg = metrics["config"]
    kept = metrics["attributes"]
    rep = HtmlReport(f"latentatlas explore: {cfg['model']}")
    rep.paragraph(
        f"Generator {cfg['model']}, predictor {cfg['predictor'].get('model') or cfg['predictor']}"
        f", bank of {cfg['n']} samples (seed {cfg['seed']}, truncation psi "
        f"{cfg['truncation_psi']}), boundaries in {cfg['space'].upper()}; edits measured on "
        f"{metrics['edits']['n']} samples at +{EDIT_STEP:g} along each unit normal.")
    if metrics.get("auc_source"):
        rep.paragraph(f"Attributes: every predictor head with held-out ROC-AUC >= "
                      f"{cfg['min_auc']} (read from {metrics['auc_source']}).", note=True)
    if metrics.get("failed_attributes"):
        rep.paragraph("No boundary for: " + "; ".join(
            f"{a} ({e})" for a, e in metrics["failed_attributes"].items()), note=True)

    rep.heading("Samples")
    rep.image(figures["samples"], alt="samples", caption="Random samples of the bank.")

    rep.heading("Boundaries: accuracy and edit success")
    rows = []
    for a in kept:
        r = metrics["summary"][a]
        rows.append([a, r.get("predictor_auc"), r["val_accuracy"], r["train_accuracy"],
                     r["remaining_accuracy"], r.get("edit_success_fraction"),
                     r.get("edit_mean_target_change")])
    rep.table(rows, header=["attribute", "predictor AUC", "SVM val. accuracy",
                            "train accuracy", "remaining accuracy",
                            f"P(score rises), +{EDIT_STEP:g}", "mean target change"])
    rep.image(figures["accuracy"], alt="accuracy bar chart")

    rep.heading("Edits")
    rep.paragraph(f"Rows: samples; columns: offsets from -{cfg['grid_max_offset']:g} to "
                  f"+{cfg['grid_max_offset']:g} along the unit normal (the middle column is the "
                  "original image).", note=True)
    for a in kept:
        rep.image(figures["edits"][a], alt=f"edit {a}", caption=a)

    if metrics["conditional"]:
        rep.heading("Conditional edits")
        rows = []
        for t, c in metrics["conditional"].items():
            rows.append([f"{t} | {c['condition']}", c["cos_plain_condition"],
                         c["cos_conditional_condition"], c["plain_condition_abs_change"],
                         c["conditional_condition_abs_change"], c["success_fraction"]])
        rep.table(rows, header=["edit", "cos(plain, condition)", "cos(conditional, condition)",
                                "|change| of condition, plain", "|change| of condition, "
                                "conditional", "P(target rises), conditional"], digits=4)
        for t, rel in figures["conditional_edits"].items():
            rep.image(rel, alt=f"conditional edit {t}",
                      caption=f"{t} | {metrics['conditional'][t]['condition']}")

    rep.heading("Entanglement")
    rep.image(figures["entanglement_cosine"], alt="cosine matrix",
              caption="Cosine between boundary normals.")
    if "entanglement_score_change" in figures:
        rep.image(figures["entanglement_score_change"], alt="score change matrix",
                  caption="Mean change of every attribute's score when editing along each "
                          "focus boundary.")

    layers = metrics.get("layers")
    if layers:
        rep.heading("Layer analysis (HiGAN)")
        rep.paragraph(
            f"Re-scoring on {layers['rescore']['num_samples']} samples: each focus direction "
            f"is applied (lambda = {EDIT_STEP:g}) on every W+ layer and on each layer alone; "
            "relevance = mean positive change of the target score. Layer selection: the "
            "fewest contiguous layers keeping >= 80% of the all-layer effect (assuming "
            "per-layer effects add up), least side effect among those.", note=True)
        rep.image(figures["layers_x_semantics"], alt="layers x semantics")
        rows = []
        for t, s in layers["selection"].items():
            rank = layers["rescore"]["layer_ranking"].get(t, [])
            rows.append([t, f"{s['layers'][0]}-{s['layers'][-1]}", s["full_effect"],
                         s["target_effect"], s["kept_fraction"], s["side_effect"],
                         ", ".join(str(v) for v in rank[:3])])
        rep.table(rows, header=["semantic", "selected layers", "all-layer effect",
                                "effect of selection", "kept fraction", "side effect",
                                "top layers"])
        for t, rel in figures["layer_edits"].items():
            rep.image(rel, alt=f"layer-selective edit {t}",
                      caption=f"{t} on layers {layers['selection'][t]['layers']}")

    rep.heading("Timings")
    status = metrics.get("stage_status", {})
    rep.paragraph("Seconds of each stage when it ran (a skipped stage shows the time of the "
                  "run that made its outputs).", note=True)
    rep.table([[k, status.get(k, ""), v] for k, v in metrics["timings_seconds"].items()],
              header=["stage", "this call", "seconds"], digits=1)
    rep.heading("Files")
    rep.bullets(["metrics.json: every number of this report", "run.json: config, seed, versions",
                 "bank/: latents (z, w, wp) and scores", "directions/boundaries.safetensors, "
                 "directions/conditional.safetensors, directions/interfacegan/*.npy",
                 "arrays/: per-sample scores of the edits and of the re-scoring"])
    return rep.write(out / "report.html")


def _run_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"timings_seconds": metrics["timings_seconds"]}
    for a, row in metrics["summary"].items():
        for k in ("val_accuracy", "edit_success_fraction"):
            if row.get(k) is not None:
                out[f"{a}/{k}"] = row[k]
    for t, c in metrics["conditional"].items():
        out[f"{t}/conditional_condition_abs_change"] = c["conditional_condition_abs_change"]
        out[f"{t}/plain_condition_abs_change"] = c["plain_condition_abs_change"]
    return out


__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PREDICTOR",
    "EDIT_STEP",
    "FULL_SETTINGS",
    "MIN_AUC",
    "QUICK_SETTINGS",
    "ExploreResult",
    "ExploreSettings",
    "ClampedScorer",
    "auto_chosen_ratio",
    "choose_condition",
    "choose_focus",
    "explore",
    "module_fingerprint",
    "write_explore_report",
    "predictor_auc",
    "resolve_generator",
    "resolve_scorer",
]

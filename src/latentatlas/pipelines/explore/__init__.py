"""The main job: ``explore(model, out)``: which directions and layers control which semantics.

Given a generator and an attribute predictor (default: the shipped predictor paired with a shipped
generator in the zoo index, e.g. ``predictor_shapes3d`` for ``shapes3d``), :func:`explore` runs
InterFaceGAN and HiGAN end to end and writes one self-contained report. The latent space defaults
to W for StyleGAN-like generators and Z for Z-only ones.

Stages (each resumable: a finished stage whose configuration fingerprint matches is skipped)
-----------------------------------------------------------------------------------------
1. ``bank``: sample ``n`` latents (truncation ``truncation_psi``), synthesise, score every
   selected attribute (:func:`latentatlas.analysis.bank.sample_bank`; chunk-level resume)
   -> ``out/bank``.
2. ``boundaries``: one InterFaceGAN linear-SVM boundary per attribute in ``space`` (W by
   default; :class:`~latentatlas.directions.SVMBoundary`, top/bottom ``chosen_ratio`` of the bank,
   70/30 train/validation split) and, for each *focus* attribute, a conditional boundary made
   orthogonal to the attribute most entangled with it (largest |cosine|; Smiling is conditioned on
   Male when both are present, InterFaceGAN's example). One-vs-rest class columns take at most
   as many positives as samples predicted in the class. (The bank's W+ codes are w broadcast,
   so per-layer SVMs on them would equal the W one: ``space="wp"`` trains them on a style-mixed
   bank instead, stage 4c.)
3. ``edits``: on the first ``n_edit`` bank codes, move +2 (an offset along the unit normal) along
   every focus boundary and every conditional boundary, synthesise and score. Measures the
   fraction of samples whose target probability rises, the mean score change of every attribute
   (entanglement of edits), the correlation across samples of score changes, and for conditional
   vs plain edits the change of the conditioning attribute (both measured). The "before" scores
   are the bank's (same codes, same synthesis, same scorer).
4. ``layers`` (W+ generators, space "w"): HiGAN re-scoring
   (:func:`~latentatlas.analysis.hierarchy.rescore`, lambda = 2, positive-clipped mean change)
   of the focus directions on ``n_rescore`` bank codes, moving all layers and each layer
   alone; the layers x semantics relevance matrix, layer rankings, and the automatic layer
   selection of :func:`~latentatlas.analysis.hierarchy.select_layers_from_relevance` (additive
   per-layer effects, keep 80% of the full effect with the fewest layers and least side effects).
4a. ``factors`` (predictors with multiclass / regression heads): +2 along every factor's
   boundary; per factor, the fraction of samples whose predicted factor moves as intended and
   whether the other factors' predictions change less (:mod:`.factors`).
4b. ``hierarchy`` (W+ generators): the relevance-weighted mean layer, peak layer and layer
   selection of every semantic (focus attributes and the predictor's abstraction groups), the
   levels layout / object / colour and the ordering test (:mod:`.factors`).
4c. ``layerwise`` (``space="wp"``): one SVM per W+ layer on a style-mixed W+ bank, per-layer
   accuracies and re-scoring of the per-layer normals (:mod:`.layerwise`).
5. ``figures``: sample grid, an edit grid per attribute (plus conditional and layer-selective
   grids for focus attributes), heatmaps (cosine entanglement, score changes, layers x
   semantics) and the accuracy bar chart.
6. ``report``: ``metrics.json`` (every number), ``run.json``, ``report.html``.

Which attributes
----------------
``attributes=None`` selects every binary head of the predictor whose held-out ROC-AUC is at
least ``min_auc`` (0.85), every multiclass head with held-out accuracy >= 0.8 and every
regression head with R^2 >= 0.5 (:mod:`.attributes`). A multiclass head becomes one-vs-rest class
columns ``head=class`` and, for an ordered factor, the expected class index ``head``; a
regression head its value (:mod:`latentatlas.scoring.factors`). Extra scorers (``scorers=``:
pixel, moments, morpho) add their columns. The AUCs are read from the predictor folder:
``config.json`` metadata (``test.per_head.<head>.roc_auc``) when present, else ``metrics.json``
beside it, else the per-head table of its ``MODEL_CARD.md``. Boundaries (stage 2) are trained
for all of them (cheap); the image-heavy stages 3-4 run on at most ``max_focus`` *focus*
attributes: Smiling, Male, Eyeglasses and Young first when selected, then by AUC. With a plain
scorer (not a predictor) every score column is an attribute. For a factor predictor the focus
is one column per factor (then extra-scorer columns such as thickness and slant).
"""


from latentatlas.pipelines.explore.pipeline import explore
from latentatlas.pipelines.explore.report import write_explore_report
from latentatlas.pipelines.explore.selection import (
    choose_condition,
    choose_focus,
    predictor_auc,
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
    STAGES,
    ExploreResult,
    ExploreSettings,
    auto_chosen_ratio,
)
from latentatlas.utils.fingerprint import module_fingerprint

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PREDICTOR",
    "EDIT_STEP",
    "FULL_SETTINGS",
    "MIN_AUC",
    "QUICK_SETTINGS",
    "STAGES",
    "ExploreResult",
    "ExploreSettings",
    "auto_chosen_ratio",
    "choose_condition",
    "choose_focus",
    "explore",
    "module_fingerprint",
    "predictor_auc",
    "resolve_generator",
    "resolve_scorer",
    "write_explore_report",
]

"""Explore's settings, constants and result type."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "celeba64"
DEFAULT_PREDICTOR = "predictor_celeba64"
#: Held-out ROC-AUC a predictor head needs to be explored by default.
MIN_AUC = 0.85
#: Held-out bars of the other head kinds: accuracy of multiclass heads, R^2 of regression heads.
MIN_ACCURACY = 0.8
MIN_R2 = 0.5
#: Extra-scorer columns put in the focus of a factor predictor (mnist: thickness and slant).
PREFERRED_EXTRA_FOCUS = ("thickness", "slant", "brightness")
#: Focus attributes taken first when the predictor handles them well (the issue's four).
PREFERRED_FOCUS = ("Smiling", "Male", "Eyeglasses", "Young")
#: Conditions used when both attributes are present (InterFaceGAN's canonical example).
PREFERRED_CONDITIONS = {"Smiling": "Male"}
#: The edit whose effect is measured: +EDIT_STEP along each unit normal (offset), and HiGAN's
#: re-scoring lambda.
EDIT_STEP = 2.0
STAGES = ("bank", "boundaries", "edits", "layers", "factors", "hierarchy", "layerwise",
          "figures", "unsupervised", "report")


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
    n_wp: int = 2000


FULL_SETTINGS = ExploreSettings()
QUICK_SETTINGS = ExploreSettings(n=384, n_edit=64, n_rescore=8, max_focus=2, grid_rows=2,
                                 grid_steps=5, sample_grid=16, batch_size=64, n_wp=384)


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



def auto_chosen_ratio(n: int) -> float:
    """Fraction of the bank taken as positives (and as negatives) for each SVM: about 500
    samples per side, clipped to [0.02, 0.25] (InterFaceGAN's 0.02 for banks >= 25k)."""
    return float(min(0.25, max(0.02, 500.0 / max(n, 1))))


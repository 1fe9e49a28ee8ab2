"""What every explore stage reads: the resolved run (generator, scorer, attributes, settings,
config) and the outputs of the stages before it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from latentatlas.pipelines.explore.book import StageBook
from latentatlas.pipelines.explore.settings import ExploreSettings


@dataclass
class ExploreRun:
    """The resolved inputs of one explore call (built by :func:`prepare_run`)."""

    out: Path
    generator: Any
    scorer: Any
    attributes: list[str]
    aucs: dict[str, float]
    auc_source: str | None
    focus: list[str]
    settings: ExploreSettings
    space: str
    seed: int
    truncation_psi: float
    chosen_ratio: float
    conditions: dict[str, str]
    model_label: str
    config: dict[str, Any]
    book: StageBook
    progress: bool
    #: the AttributeChoice (kinds, factors, quality, abstraction groups of the columns)
    choice: Any = None


@dataclass
class BankStage:
    """The bank and its codes / scores in the explored space and attribute order."""

    bank: Any
    codes: np.ndarray
    scores: np.ndarray
    fingerprint: str


@dataclass
class BoundaryStage:
    """The boundaries: per-attribute SVM results, the Directions, conditional ones."""

    result: dict[str, Any]
    directions: Any
    conditional: Any
    kept: list[str]
    focus: list[str]
    fingerprint: str
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def conditional_info(self) -> dict[str, Any]:
        return self.result["conditional"]

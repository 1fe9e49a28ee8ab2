"""Analysis built on generators, scorers, directions and edits: the on-disk latent bank, HiGAN's
layer-wise re-scoring and layer selection, the data tour and sample quality (analysis.quality)."""

from latentatlas.analysis.bank import Bank, sample_bank, sample_bank_job, sample_latents
from latentatlas.analysis.hierarchy import (
    LayerSelection,
    RescoreResult,
    rescore,
    select_layers,
    select_layers_from_relevance,
)

__all__ = [
    "Bank",
    "LayerSelection",
    "RescoreResult",
    "rescore",
    "sample_bank",
    "sample_bank_job",
    "sample_latents",
    "select_layers",
    "select_layers_from_relevance",
]

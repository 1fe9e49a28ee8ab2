"""The disentanglement metric suite (disentanglement_lib's metrics and defaults, vectorised).

Two APIs: ``metric(data, representation_fn, rng, **settings)`` samples from a
:class:`~latentatlas.data.GroundTruthData` and encodes in batches; ``metric_from_codes(codes,
factors, ...)`` works on precomputed arrays (non-grid data, GAN latents). See docs/metrics.md.
"""

from latentatlas.metrics.disentanglement._common import (
    discrete_entropy,
    discrete_mutual_info,
    histogram_discretize,
    sample_codes,
)
from latentatlas.metrics.disentanglement.information import (
    gaussian_total_correlation,
    gaussian_wasserstein_correlation,
    mig,
    mig_from_codes,
    modularity_explicitness,
    modularity_explicitness_from_codes,
    modularity_score,
    unsupervised,
    unsupervised_from_codes,
)
from latentatlas.metrics.disentanglement.intervention import beta_vae, factor_vae
from latentatlas.metrics.disentanglement.irs import irs, irs_from_codes
from latentatlas.metrics.disentanglement.predictors import (
    dci,
    dci_completeness,
    dci_disentanglement,
    dci_from_codes,
    sap,
    sap_from_codes,
)
from latentatlas.metrics.disentanglement.suite import (
    CARD_SIZES,
    FAST_SETTINGS,
    HEADLINE,
    METRICS,
    compute_suite,
    evaluate_vae,
    headline_scores,
)

__all__ = [
    "CARD_SIZES",
    "FAST_SETTINGS",
    "HEADLINE",
    "METRICS",
    "beta_vae",
    "compute_suite",
    "dci",
    "dci_completeness",
    "dci_disentanglement",
    "dci_from_codes",
    "discrete_entropy",
    "discrete_mutual_info",
    "evaluate_vae",
    "factor_vae",
    "gaussian_total_correlation",
    "gaussian_wasserstein_correlation",
    "headline_scores",
    "histogram_discretize",
    "irs",
    "irs_from_codes",
    "mig",
    "mig_from_codes",
    "modularity_explicitness",
    "modularity_explicitness_from_codes",
    "modularity_score",
    "sample_codes",
    "sap",
    "sap_from_codes",
    "unsupervised",
    "unsupervised_from_codes",
]

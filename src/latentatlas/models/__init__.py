"""Models: the Generator protocol, StyleGAN2, the Z-space generator, VAEs, predictors.

Importing this package registers every built-in model class for :func:`latentatlas.load`.
"""

from latentatlas.models.base import SPACES, Generator

__all__ = ["SPACES", "Generator"]

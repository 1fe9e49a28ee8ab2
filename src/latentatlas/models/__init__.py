"""Models: the Generator protocol, StyleGAN2, the Z-space generator, VAEs, predictors.

Importing this package registers every built-in model class for :func:`latentatlas.load`.
"""

from latentatlas.models.base import SPACES, Generator
from latentatlas.models.controller import ControllerSet  # noqa: F401  (registers it)
from latentatlas.models.encoder import LatentEncoder
from latentatlas.models.grouped import GroupedStyleGAN2Generator
from latentatlas.models.predictors import AttributePredictor  # noqa: F401  (registers it)
from latentatlas.models.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from latentatlas.models.vae import VAE  # noqa: F401  (registers the VAE model class)
from latentatlas.models.zgen import ZDiscriminator, ZGenerator

from latentatlas.models.zoo import available_models, load  # isort: skip  (after the classes)

__all__ = [
    "SPACES",
    "Generator",
    "GroupedStyleGAN2Generator",
    "LatentEncoder",
    "StyleGAN2Discriminator",
    "StyleGAN2Generator",
    "ZDiscriminator",
    "ZGenerator",
    "available_models",
    "load",
]

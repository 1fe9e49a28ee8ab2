"""Command-line interface: ``latentatlas --help`` lists the commands.

One module per command (or command group), named after it; each registers itself on ``main``
when imported. ``train_gan_main`` is the torchrun entry point of ``train gan``.
"""

from latentatlas.cli._app import main

# Each module registers its commands on ``main`` when imported.
from latentatlas.cli import convert  # noqa: E402,F401  isort: skip
from latentatlas.cli import data  # noqa: E402,F401  isort: skip
from latentatlas.cli import discover  # noqa: E402,F401  isort: skip
from latentatlas.cli import explore  # noqa: E402,F401  isort: skip
from latentatlas.cli import ganalyze  # noqa: E402,F401  isort: skip
from latentatlas.cli import gan_metrics  # noqa: E402,F401  isort: skip
from latentatlas.cli import generate  # noqa: E402,F401  isort: skip
from latentatlas.cli import invert  # noqa: E402,F401  isort: skip
from latentatlas.cli import metrics  # noqa: E402,F401  isort: skip
from latentatlas.cli import predictors  # noqa: E402,F401  isort: skip
from latentatlas.cli import quality  # noqa: E402,F401  isort: skip
from latentatlas.cli import sample  # noqa: E402,F401  isort: skip
from latentatlas.cli import steer  # noqa: E402,F401  isort: skip
from latentatlas.cli import tour  # noqa: E402,F401  isort: skip
from latentatlas.cli import studio  # noqa: E402,F401  isort: skip
from latentatlas.cli import train  # noqa: E402,F401  isort: skip
from latentatlas.cli import control  # noqa: E402,F401  isort: skip
from latentatlas.cli import vae  # noqa: E402,F401  isort: skip

__all__ = ["main"]

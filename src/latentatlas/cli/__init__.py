"""Command-line interface: ``latentatlas --help`` lists the commands."""

from latentatlas.cli._app import main

# Each module registers its commands on ``main`` when imported.
from latentatlas.cli import data_cmd  # noqa: E402,F401  isort: skip
from latentatlas.cli import vae_cmd  # noqa: E402,F401  isort: skip
from latentatlas.cli import train_cmd  # noqa: E402,F401  isort: skip
from latentatlas.cli import generate_cmd  # noqa: E402,F401  isort: skip
from latentatlas.cli import predictors_cmd  # noqa: E402,F401  isort: skip
from latentatlas.cli import explore_cmd  # noqa: E402,F401  isort: skip

__all__ = ["main"]

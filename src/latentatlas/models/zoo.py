"""Load any saved model by shipped name or folder: ``latentatlas.load(name_or_path)``.

It lives in models/ (not io/) because importing the models package (which any import of this
module does first) registers every built-in model class, which
:func:`latentatlas.io.load_model` needs to instantiate one from its config.json.
"""

from __future__ import annotations

import os

from torch import nn

from latentatlas.io.persistence import load_model
from latentatlas.io.registry import available_models, resolve_model_path


def load(name_or_path: str | os.PathLike, map_location: str = "cpu") -> nn.Module:
    """Load a shipped model by name (see :func:`available_models`) or a saved model folder."""
    return load_model(resolve_model_path(name_or_path), map_location=map_location)


__all__ = ["available_models", "load"]

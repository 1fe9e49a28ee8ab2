"""latentatlas: find, measure and use the semantics in generative models' latent spaces."""

from latentatlas._version import __version__


def load(name_or_path, map_location: str = "cpu"):
    """Load a shipped model by name or a saved model folder (see ``latentatlas.models.load``):
    generators, VAEs, predictors and walks saved as model folders (``NonlinearWalk``)."""
    import latentatlas.directions  # noqa: F401  (registers the walk model classes)
    from latentatlas.models.zoo import load as _load

    return _load(name_or_path, map_location=map_location)


def available_models():
    from latentatlas.io.registry import available_models as _available

    return _available()


__all__ = ["__version__", "available_models", "load"]

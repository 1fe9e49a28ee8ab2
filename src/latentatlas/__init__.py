"""latentatlas: find, measure and use the semantics in generative models' latent spaces."""

from latentatlas._version import __version__


def load(name_or_path, map_location: str = "cpu"):
    """Load a shipped model by name or a saved model folder (see ``latentatlas.models.load``):
    generators, VAEs, predictors and walks saved as model folders (``NonlinearWalk``)."""
    from latentatlas.io.persistence import model_classes, read_config
    from latentatlas.io.registry import resolve_model_path
    from latentatlas.models.zoo import load as _load  # registers the model classes

    path = resolve_model_path(name_or_path)
    if read_config(path)["class"] not in model_classes():
        import latentatlas.directions  # noqa: F401  (registers the walk classes)
    return _load(path, map_location=map_location)


def available_models():
    from latentatlas.io.registry import available_models as _available

    return _available()


__all__ = ["__version__", "available_models", "load"]

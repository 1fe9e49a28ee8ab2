"""Persistence: model folders (config.json + model.safetensors), the model registry / zoo."""

from latentatlas.io.persistence import (
    ConfigModule,
    load_model,
    model_classes,
    register_model,
    save_model,
)
from latentatlas.io.registry import available_models, resolve_model_path

__all__ = [
    "ConfigModule",
    "available_models",
    "load_model",
    "model_classes",
    "register_model",
    "resolve_model_path",
    "save_model",
]

"""Pipelines: end-to-end jobs composed of the library's stages (``explore``)."""

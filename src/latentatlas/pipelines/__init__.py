"""Pipelines: end-to-end jobs composed of the library's stages (``explore``; ``vae``: train a VAE
and draw its figures)."""

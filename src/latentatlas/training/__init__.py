"""Trainers: GANs (gan.py), VAEs, predictors."""

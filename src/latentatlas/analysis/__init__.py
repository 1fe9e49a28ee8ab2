"""Analyses of trained models that combine lower layers (metrics, training data, predictors)."""

"""Data: the ground-truth protocol, procedural data sets and loaders for real formats."""

from latentatlas.data.base import GroundTruthData, GroundTruthTorchDataset

__all__ = ["GroundTruthData", "GroundTruthTorchDataset"]

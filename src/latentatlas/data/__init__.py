"""Data: the ground-truth protocol, procedural data sets and loaders for real formats."""

from latentatlas.data.base import GroundTruthData, GroundTruthTorchDataset
from latentatlas.data.dsprites import DSpritesLike, DSpritesReal
from latentatlas.data.loaders import (
    DSpritesArrays,
    LabeledImages,
    LabeledImagesDataset,
    default_cache_dir,
    default_data_root,
    load_celeba,
    load_dsprites_npz,
    load_image_folder,
    load_mnist,
    load_olivetti,
    load_shapes3d_h5,
    read_idx,
)
from latentatlas.data.registry import DatasetSpec, dataset_spec, get_dataset, list_datasets
from latentatlas.data.shapes3d import Shapes3DLike

__all__ = [
    "DSpritesArrays",
    "DSpritesLike",
    "DSpritesReal",
    "DatasetSpec",
    "GroundTruthData",
    "GroundTruthTorchDataset",
    "LabeledImages",
    "LabeledImagesDataset",
    "Shapes3DLike",
    "dataset_spec",
    "default_cache_dir",
    "default_data_root",
    "get_dataset",
    "list_datasets",
    "load_celeba",
    "load_dsprites_npz",
    "load_image_folder",
    "load_mnist",
    "load_olivetti",
    "load_shapes3d_h5",
    "read_idx",
]

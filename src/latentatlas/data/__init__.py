"""Data: the ground-truth protocol, procedural data sets and loaders for real formats."""

from latentatlas.data.base import GroundTruthData, GroundTruthTorchDataset
from latentatlas.data.dsprites import DSpritesLike, DSpritesReal
from latentatlas.data.labels import LabelColumn, read_labels_csv
from latentatlas.data.loaders import (
    DSpritesArrays,
    LabeledImages,
    LabeledImagesDataset,
    default_cache_dir,
    default_data_root,
    load_celeba,
    load_dsprites_npz,
    load_image_folder,
    load_images_npz,
    load_mnist,
    load_olivetti,
    load_shapes3d_h5,
    read_idx,
)
from latentatlas.data.registry import (
    DataInfo,
    DatasetSpec,
    dataset_spec,
    describe_data,
    get_dataset,
    is_dataset_name,
    list_datasets,
    load_data,
)
from latentatlas.data.shapes3d import Shapes3DLike

__all__ = [
    "DSpritesArrays",
    "DataInfo",
    "DSpritesLike",
    "DSpritesReal",
    "DatasetSpec",
    "GroundTruthData",
    "GroundTruthTorchDataset",
    "LabelColumn",
    "LabeledImages",
    "LabeledImagesDataset",
    "Shapes3DLike",
    "dataset_spec",
    "default_cache_dir",
    "default_data_root",
    "describe_data",
    "get_dataset",
    "is_dataset_name",
    "list_datasets",
    "load_celeba",
    "load_dsprites_npz",
    "load_data",
    "load_image_folder",
    "load_images_npz",
    "load_mnist",
    "load_olivetti",
    "load_shapes3d_h5",
    "read_idx",
    "read_labels_csv",
]

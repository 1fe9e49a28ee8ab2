"""Data sets by name: ``list_datasets()`` and ``get_dataset(name, **kw)``.

Procedural sets (and ``dsprites_real``) come back as :class:`GroundTruthData`; real image sets as
:class:`LabeledImages`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from latentatlas.data.base import GroundTruthData
from latentatlas.data.loaders import LabeledImages
from latentatlas.utils.errors import DataError


@dataclass(frozen=True)
class DatasetSpec:
    """What ``latentatlas data list`` shows about a data set."""

    name: str
    kind: str  # "procedural", "ground-truth (real)" or "real"
    description: str
    size: str  # number of images, as text (real sets may be partial)
    shape: str  # one observation, H x W x C
    factors: str  # factor names and sizes, or the labels
    factory: Callable[..., GroundTruthData | LabeledImages]


def _dsprites(variant: str) -> Callable[..., GroundTruthData]:
    def make(**kw: Any) -> GroundTruthData:
        from latentatlas.data.dsprites import DSpritesLike

        return DSpritesLike(variant=variant, **kw)

    return make


def _shapes3d(**kw: Any) -> GroundTruthData:
    from latentatlas.data.shapes3d import Shapes3DLike

    return Shapes3DLike(**kw)


def _dsprites_real(**kw: Any) -> GroundTruthData:
    from latentatlas.data.dsprites import DSpritesReal

    return DSpritesReal(**kw)


def _loader(fn_name: str) -> Callable[..., LabeledImages]:
    def load(**kw: Any) -> LabeledImages:
        from latentatlas.data import loaders

        return getattr(loaders, fn_name)(**kw)

    return load


_DSPRITES_FACTORS = "shape 3, scale 6, orientation 40, posX 32, posY 32"
_SPECS = {
    spec.name: spec
    for spec in (
        DatasetSpec("dsprites", "procedural", "dSprites-like binary sprites (official grid)",
                    "737,280", "64x64x1", _DSPRITES_FACTORS, _dsprites("binary")),
        DatasetSpec("dsprites_color", "procedural",
                    "dSprites-like, sprite times a random colour U(0.5, 1)^3",
                    "737,280", "64x64x3", _DSPRITES_FACTORS, _dsprites("color")),
        DatasetSpec("dsprites_noisy", "procedural",
                    "dSprites-like, sprite on U(0, 1) noise background",
                    "737,280", "64x64x3", _DSPRITES_FACTORS, _dsprites("noisy")),
        DatasetSpec("shapes3d", "procedural",
                    "Shapes3D-like ray-cast room + object (official grid)",
                    "480,000", "64x64x3",
                    "floor_hue 10, wall_hue 10, object_hue 10, scale 8, shape 4, orientation 15",
                    _shapes3d),
        DatasetSpec("dsprites_real", "ground-truth (real)",
                    "real dSprites npz (official file, or the subset in the data root)",
                    "737,280 (subset: file rows)", "64x64x1", _DSPRITES_FACTORS, _dsprites_real),
        DatasetSpec("celeba", "real", "CelebA aligned faces, cropped and resized",
                    "file count", "64x64x3 (resolution=)", "40 binary attributes",
                    _loader("load_celeba")),
        DatasetSpec("mnist", "real", "MNIST digits (IDX)", "60,000 / 10,000", "28x28x1",
                    "digit 0-9", _loader("load_mnist")),
        DatasetSpec("olivetti", "real", "Olivetti (ORL) faces", "400", "64x64x1",
                    "person 0-39", _loader("load_olivetti")),
    )
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`get_dataset`."""
    return list(_SPECS)


def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of a data set name."""
    try:
        return _SPECS[name]
    except KeyError:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(_SPECS)}") from None


def get_dataset(name: str, **kwargs: Any) -> GroundTruthData | LabeledImages:
    """Build (procedural) or load (real) a data set by name; ``kwargs`` go to its constructor or
    loader (e.g. ``get_dataset("celeba", resolution=32, max_images=1000)``)."""
    return dataset_spec(name).factory(**kwargs)

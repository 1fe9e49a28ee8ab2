"""The one data-by-name registry: names, default locations and loaders of every data set, and
the resolver of a user's data (an image folder or an ``.npz``, with labels).

- :func:`list_datasets` / :func:`dataset_spec` / :func:`get_dataset`: the built-in sets by name.
  Procedural sets (and ``dsprites_real``) come back as :class:`GroundTruthData`; real image sets
  as :class:`LabeledImages`.
- :func:`default_data_root` / :func:`default_location`: where the real sets live by default.
- :func:`load_data`: a name *or* a path (folder / ``.npz``, optional labels CSV) -> the data.
- :func:`describe_data`: count, size and channels of the same, without decoding images where
  the format allows (folders: image headers; npz: the array header).

``latentatlas data``, ``train gan --data``, ``predictors train`` and ``quality --data`` all
resolve data through this module.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from latentatlas.data.base import GroundTruthData
from latentatlas.utils.errors import DataError

if TYPE_CHECKING:
    from latentatlas.data.loaders import LabeledImages


# ---------------------------------------------------------------------------- locations
def default_data_root() -> Path:
    """``$LATENTATLAS_DATA``, else ``$LATENTATLAS_SHARED_DATA``, else ``<repo>/../shared/data``."""
    for var in ("LATENTATLAS_DATA", "LATENTATLAS_SHARED_DATA"):
        if os.environ.get(var):
            return Path(os.environ[var])
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def default_cache_dir() -> Path:
    """``$LATENTATLAS_CACHE``, else ``~/.cache/latentatlas``."""
    env = os.environ.get("LATENTATLAS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "latentatlas"


@dataclass(frozen=True)
class DatasetSpec:
    """A built-in data set: what ``latentatlas data list`` shows, and how to load it.

    ``location``: its default file / folder under :func:`default_data_root` (real sets; several
    separated by ``|``: the first that exists, else the last);
    ``location_kw``: the loader's keyword for a user-given location; ``options``: which of
    ``resolution``, ``max_images``, ``split`` the loader takes itself.
    """

    name: str
    kind: str  # "procedural", "ground-truth (real)" or "real"
    description: str
    size: str  # number of images, as text (real sets may be partial)
    shape: str  # one observation, H x W x C
    factors: str  # factor names and sizes, or the labels
    factory: Callable[..., GroundTruthData | LabeledImages]
    location: str | None = None
    location_kw: str | None = None
    options: tuple[str, ...] = ()


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
                    "737,280 (subset: file rows)", "64x64x1", _DSPRITES_FACTORS, _dsprites_real,
                    location="dsprites/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
                             "|dsprites/dsprites_subset.npz", location_kw="path"),
        DatasetSpec("celeba", "real", "CelebA aligned faces, cropped and resized",
                    "file count", "64x64x3 (resolution=)", "40 binary attributes",
                    _loader("load_celeba"), location="celeba", location_kw="root_or_tar",
                    options=("resolution", "max_images")),
        DatasetSpec("mnist", "real", "MNIST digits (IDX)", "60,000 / 10,000", "28x28x1",
                    "digit 0-9", _loader("load_mnist"), location="mnist", location_kw="root",
                    options=("split",)),
        DatasetSpec("olivetti", "real", "Olivetti (ORL) faces", "400", "64x64x1",
                    "person 0-39", _loader("load_olivetti"),
                    location="olivetti/olivetti_faces_64x64_uint8.npz", location_kw="path"),
    )
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`get_dataset`."""
    return list(_SPECS)


def is_dataset_name(spec: str | os.PathLike) -> bool:
    """Whether ``spec`` names a built-in data set (rather than a path)."""
    return isinstance(spec, str) and spec in _SPECS


def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of a data set name."""
    try:
        return _SPECS[name]
    except KeyError:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(_SPECS)}") from None


def default_location(name: str, data_root: str | os.PathLike | None = None) -> Path:
    """The default file / folder of real data set ``name`` under ``data_root`` (default:
    :func:`default_data_root`)."""
    spec = dataset_spec(name)
    if spec.location is None:
        raise DataError(f"{name}: a procedural data set has no file location")
    root = Path(data_root) if data_root is not None else default_data_root()
    candidates = [root / part for part in spec.location.split("|")]
    return next((c for c in candidates if c.exists()), candidates[-1])


def get_dataset(
    name: str, root: str | os.PathLike | None = None, **kwargs: Any
) -> GroundTruthData | LabeledImages:
    """Build (procedural) or load (real) a data set by name; ``root`` is its file / folder
    (default: :func:`default_location`), ``kwargs`` go to its constructor or loader (e.g.
    ``get_dataset("celeba", resolution=32, max_images=1000)``)."""
    spec = dataset_spec(name)
    if root is not None:
        if spec.location_kw is None:
            raise DataError(f"{name}: a procedural data set takes no --data-root")
        kwargs[spec.location_kw] = root
    return spec.factory(**kwargs)


# ---------------------------------------------------------------------------- user data
def _user_path(spec: str | os.PathLike) -> Path:
    path = Path(spec)
    if not path.exists():
        raise DataError(
            f"--data {str(spec)!r}: neither a known data set ({', '.join(_SPECS)}) nor an "
            "existing image folder or .npz file"
        )
    if path.is_file() and path.suffix.lower() != ".npz":
        raise DataError(f"--data {path}: a file must be an .npz with an 'images' array; "
                        "otherwise give a folder of images")
    return path


def load_data(
    spec: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    labels: str | os.PathLike | None = None,
    resolution: int | None = None,
    max_images: int | None = None,
    kinds: dict[str, str] | None = None,
    channels: int | None = None,
    **kwargs: Any,
) -> GroundTruthData | LabeledImages:
    """A data set by name (see :func:`get_dataset`) or a user's data by path.

    A path is a folder of images (:func:`~latentatlas.data.loaders.load_image_folder`) or an
    ``.npz`` with ``images`` and label arrays
    (:func:`~latentatlas.data.loaders.load_images_npz`); ``labels`` is a labels CSV
    (:mod:`latentatlas.data.labels`), ``kinds`` declares label kinds. For a name, ``resolution``
    / ``max_images`` go to the loader where it takes them (else ``max_images`` keeps the first
    images; resizing is the caller's).
    """
    if is_dataset_name(spec):
        if labels is not None:
            raise DataError(f"--labels: the built-in data set {spec!r} brings its own labels; "
                            "--labels is for --data FOLDER_OR_NPZ")
        ds = dataset_spec(str(spec))
        for key, value in (("resolution", resolution), ("max_images", max_images)):
            if key in ds.options and value is not None:
                kwargs[key] = value
        data = get_dataset(str(spec), root=root, **kwargs)
        if max_images is not None and "max_images" not in ds.options \
                and not isinstance(data, GroundTruthData):
            data.images = data.images[:max_images]
            if data.labels is not None:
                data.labels = data.labels[:max_images]
        return data
    from latentatlas.data.loaders import load_image_folder, load_images_npz

    path = _user_path(spec)
    if path.is_dir():
        return load_image_folder(path, resolution=resolution, labels_csv=labels,
                                 channels=channels, max_images=max_images, kinds=kinds)
    data = load_images_npz(path, resolution=resolution, max_images=max_images, kinds=kinds,
                           labels_csv=labels)
    if channels is not None and channels != data.images.shape[-1]:
        raise DataError(f"--data {path}: images have {data.images.shape[-1]} channel(s), not "
                        f"{channels}")
    return data


@dataclass(frozen=True)
class DataInfo:
    """Count, native size and channels of a data set (what ``--preset auto`` looks at)."""

    num_images: int
    height: int
    width: int
    channels: int
    procedural: bool = False
    uniform: bool = True  # every image has the same size

    @property
    def square(self) -> bool:
        return self.height == self.width

    @property
    def size(self) -> int:
        """The short side (images are centre-cropped to squares for GANs)."""
        return min(self.height, self.width)


def describe_data(
    spec: str | os.PathLike, root: str | os.PathLike | None = None,
    max_images: int | None = None,
) -> DataInfo:
    """:class:`DataInfo` of a name or path. Folders: from the image headers (the most common
    size); npz: from the array header; real sets by name: loaded (their loaders cache)."""
    cap = (lambda n: n) if max_images is None else (lambda n: min(n, int(max_images)))
    if is_dataset_name(spec):
        data = load_data(spec, root=root, max_images=max_images)
        if isinstance(data, GroundTruthData):
            h, w, c = data.observation_shape
            return DataInfo(cap(int(data.num_observations)), h, w, c, procedural=True)
        n, h, w, c = data.images.shape
        return DataInfo(n, h, w, c)
    from latentatlas.data.loaders import image_folder_info, npz_images_info

    path = _user_path(spec)
    if path.is_dir():
        info = image_folder_info(path, max_images)
        (w, h), _ = max(info["sizes"].items(), key=lambda t: t[1])
        return DataInfo(info["num_images"], h, w, info["channels"],
                        uniform=len(info["sizes"]) == 1)
    info = npz_images_info(path)
    return DataInfo(cap(info["num_images"]), info["height"], info["width"], info["channels"])

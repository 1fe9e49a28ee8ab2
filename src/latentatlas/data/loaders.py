"""Loaders for real data sets in their original formats, each validating what it reads.

Every loader raises :class:`~latentatlas.utils.errors.DataError` naming the file and the problem
(missing, truncated, wrong magic number, inconsistent counts, unknown attribute ...). Images come
back as uint8 NHWC arrays inside a :class:`LabeledImages`.

Default locations are under :func:`default_data_root`: ``$LATENTATLAS_DATA`` if set, else
``$LATENTATLAS_SHARED_DATA``, else ``<repo>/../shared/data``.

Over 600 lines: one loader per real format (CelebA, MNIST, dSprites, Shapes3D, Olivetti, folders).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from latentatlas.data.registry import default_cache_dir as default_cache_dir
from latentatlas.data.registry import default_data_root as default_data_root
from latentatlas.data.registry import default_location
from latentatlas.utils.atomic import atomic_save_npy
from latentatlas.utils.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
CELEBA_FULL_SIZE = (178, 218)  # (width, height) of the aligned images
# Crop boxes (left, upper, right, lower) of the usual 64 px crop [40:188, 15:163] (rows, cols).
CELEBA_CROP_BOXES = {(178, 218): (15, 40, 163, 188), (89, 109): (7, 20, 81, 94)}
SHAPES3D_FACTORS = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")


# ---------------------------------------------------------------------------- containers
@dataclass
class LabeledImages:
    """Images with labels.

    Attributes:
        images: uint8 [N, H, W, C].
        labels: per-image labels: [N, K] for multi-label sets (CelebA: int8 {0, 1} [N, 40];
            Shapes3D: float64 [N, 6] factor values; CSV: float64 [N, K]) or [N] int64 class ids
            (MNIST, Olivetti); None when the set has no labels.
        label_names: names of the K label columns (multi-label), or of the classes (class ids).
        source: the file or folder the images were read from.
        metadata: anything else worth keeping (e.g. the declared count of a truncated file).
    """

    images: np.ndarray
    labels: np.ndarray | None
    label_names: list[str]
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    def to_torch_dataset(self) -> LabeledImagesDataset:
        """A torch ``Dataset`` over these images (float CHW in [0, 1], label tensor)."""
        return LabeledImagesDataset(self)


class LabeledImagesDataset:
    """torch ``Dataset`` adapter: item i is (float32 CHW tensor in [0, 1], label tensor or -1)."""

    def __init__(self, data: LabeledImages) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data.images)

    def __getitem__(self, i: int):
        import torch

        if not 0 <= i < len(self):
            raise IndexError(i)
        image = torch.from_numpy(
            np.ascontiguousarray(self.data.images[i].transpose(2, 0, 1), dtype=np.float32) / 255.0
        )
        labels = self.data.labels
        label = torch.tensor(-1) if labels is None else torch.as_tensor(np.asarray(labels[i]))
        return image, label


@dataclass
class DSpritesArrays:
    """The arrays of an official dSprites npz (full file or a subset in its layout).

    ``latents_classes`` / ``latents_values`` are as stored (6 columns with the leading constant
    colour column in the official file, 5 in the public subset); :attr:`factors` always gives the
    5 columns (shape, scale, orientation, posX, posY) that :class:`DSpritesLike` uses.
    """

    imgs: np.ndarray
    latents_classes: np.ndarray
    latents_values: np.ndarray
    metadata: dict[str, Any] | None
    source: str

    @property
    def factors(self) -> np.ndarray:
        return self.latents_classes[:, -5:]

    @property
    def factor_values(self) -> np.ndarray:
        return self.latents_values[:, -5:]


# ---------------------------------------------------------------------------- paths & cache
# The default locations live in the one registry (data/registry.py); default_data_root and
# default_cache_dir are re-exported from here for existing callers.


def _require_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise DataError(f"{what}: file {path} does not exist")
    if not path.is_file():
        raise DataError(f"{what}: {path} is not a file")
    return path


def _cache_key(path: Path, **params: Any) -> str:
    st = path.stat()
    text = json.dumps(
        {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, **params},
        sort_keys=True,
    )
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _open_maybe_gz(path: Path) -> bytes:
    """The bytes of a file, gunzipped when it ends in .gz; truncation raises DataError."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise DataError(f"{path}: cannot read (truncated or corrupt gzip?): {exc}") from exc


def _resolve(name: str, path: str | os.PathLike | None) -> Path:
    """``path``, else the registry's default location of data set ``name``."""
    return Path(path) if path is not None else default_location(name)


# ---------------------------------------------------------------------------- MNIST (IDX)
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (raw or .gz): magic (2 zero bytes, dtype code, ndim), big-endian sizes."""
    path = _require_file(Path(path), "IDX")
    raw = _open_maybe_gz(path)
    if len(raw) < 4:
        raise DataError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise DataError(f"{path}: wrong magic number {magic} (expected {expected_magic})")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (magic number {magic})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = tuple(int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: data size {len(raw) - header} bytes does not match header dims {dims} "
            f"({expected} bytes): truncated or corrupt file"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def _find_variant(root: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (root / name).exists():
            return root / name
    raise DataError(f"MNIST: neither {root / (stem + '.gz')} nor {root / stem} exists")


def load_mnist(root: str | os.PathLike | None = None, split: str = "train") -> LabeledImages:
    """MNIST from the official IDX files (``.gz`` or raw) in ``root``.

    Returns images uint8 [N, 28, 28, 1] and labels int64 [N] (60,000 train / 10,000 test),
    label_names "0".."9".
    """
    if split not in ("train", "test"):
        raise DataError(f"MNIST: split must be 'train' or 'test', got {split!r}")
    root = _resolve("mnist", root)
    if not root.is_dir():
        raise DataError(f"MNIST: folder {root} does not exist")
    prefix = "train" if split == "train" else "t10k"
    img_path = _find_variant(root, f"{prefix}-images-idx3-ubyte")
    lab_path = _find_variant(root, f"{prefix}-labels-idx1-ubyte")
    images = read_idx(img_path, expected_magic=2051)
    labels = read_idx(lab_path, expected_magic=2049)
    if images.ndim != 3:
        raise DataError(f"{img_path}: expected 3 dims [N, 28, 28], got {images.shape}")
    if len(images) != len(labels):
        raise DataError(
            f"MNIST: image/label count mismatch: {img_path} has {len(images)} images but "
            f"{lab_path} has {len(labels)} labels"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"{lab_path}: label {int(labels.max())} outside 0..9")
    return LabeledImages(images[..., None].astype(np.uint8), labels.astype(np.int64),
                         [str(d) for d in range(10)], str(img_path), {"split": split})


# ---------------------------------------------------------------------------- CelebA
def read_celeba_attributes(
    path: str | os.PathLike,
) -> tuple[list[str], list[str], np.ndarray, int]:
    """Parse list_attr_celeba.txt(.gz).

    Returns (file names, attribute names, int8 {0, 1} labels [N, 40], the declared count N).

    A truncated file (the header count is larger than the rows present) is accepted; the declared
    count comes back so the caller can report it.
    """
    path = _require_file(Path(path), "CelebA attributes")
    text = _open_maybe_gz(path).decode("utf-8", errors="replace")
    lines = text.splitlines()
    if len(lines) < 2:
        raise DataError(f"{path}: attribute file needs a count line and a names line")
    try:
        declared = int(lines[0].strip())
    except ValueError as exc:
        raise DataError(f"{path}: first line should be the image count, got {lines[0]!r}") from exc
    names = lines[1].split()
    rows = [ln.split(None, 1) for ln in lines[2:] if ln.strip()]

    def row_ok(row: list[str]) -> bool:
        return len(row) == 2 and len(row[1].split()) == len(names)

    # A file cut mid-line leaves a short last row: drop it rather than fail.
    if rows and not row_ok(rows[-1]):
        rows = rows[:-1]
    files = [r[0] for r in rows]
    # One C-level parse of all values (a Python split per value is ~3x slower on 20k rows).
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # older numpy: unparsable text
            flat = np.fromstring(" ".join(r[1] if len(r) > 1 else "" for r in rows),
                                 dtype=np.int64, sep=" ")
    except ValueError:  # numpy 2: unparsable text
        flat = np.zeros(0, np.int64)
    if flat.size != len(rows) * len(names):
        bad = next((i for i, r in enumerate(rows) if not row_ok(r)), None)
        if bad is not None:
            raise DataError(f"{path}: row {bad + 3} does not have {len(names)} values")
        raise DataError(f"{path}: attribute values must be +1/-1 integers")
    values = flat.reshape(len(rows), len(names))
    if not np.isin(values, (-1, 1)).all():
        raise DataError(f"{path}: attribute values must be +1 or -1")
    return files, names, ((values + 1) // 2).astype(np.int8), declared


def _celeba_sources(root_or_tar: Path) -> tuple[Path, Path | None]:
    """(image source: folder or tar file, folder to search for the attribute file)."""
    if root_or_tar.is_file():
        return root_or_tar, root_or_tar.parent
    if not root_or_tar.is_dir():
        raise DataError(f"CelebA: {root_or_tar} does not exist")
    for sub in ("img_align_celeba", "img_align_celeba_png"):
        if (root_or_tar / sub).is_dir():
            return root_or_tar / sub, root_or_tar
    if any(p.suffix.lower() in IMAGE_SUFFIXES for p in root_or_tar.iterdir()):
        return root_or_tar, root_or_tar
    tars = sorted(p for p in root_or_tar.iterdir() if p.name.endswith((".tar", ".tar.gz", ".tgz")))
    if len(tars) == 1:
        return tars[0], root_or_tar
    raise DataError(
        f"CelebA: {root_or_tar} holds no images, no img_align_celeba/ folder and "
        f"{'several' if tars else 'no'} tar files"
    )


def _find_attr_file(folder: Path | None) -> Path:
    if folder is not None:
        patterns = ("list_attr_celeba.txt", "list_attr_celeba.txt.gz", "list_attr_celeba*.txt*")
        for pattern in patterns:
            hits = sorted(folder.glob(pattern))
            if hits:
                return hits[0]
    raise DataError(f"CelebA: no list_attr_celeba*.txt(.gz) found in {folder}; pass attr_file=")


def _read_image_bytes(source: Path, max_images: int | None) -> tuple[list[str], list[bytes]]:
    """File names and encoded bytes, sorted by name, from a folder or a tar."""
    if source.is_dir():
        paths = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths = paths[:max_images] if max_images is not None else paths
        return [p.name for p in paths], [p.read_bytes() for p in paths]
    try:
        with tarfile.open(source) as tar:
            members = sorted(
                (m for m in tar.getmembers()
                 if m.isfile() and Path(m.name).suffix.lower() in IMAGE_SUFFIXES),
                key=lambda m: Path(m.name).name,
            )
            members = members[:max_images] if max_images is not None else members
            blobs = []
            for m in members:
                f = tar.extractfile(m)
                if f is None:
                    raise DataError(f"{source}: cannot read member {m.name}")
                blobs.append(f.read())
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{source}: cannot read tar (truncated or corrupt?): {exc}") from exc
    return [Path(m.name).name for m in members], blobs


def _decode_images(
    names: Sequence[str], blobs: Sequence[bytes], source: Path,
    transform: Callable[[Any], Any], progress: bool, convert: str | None = "RGB",
) -> np.ndarray:
    """Decode and transform images in threads (PIL releases the GIL while decoding); each is
    converted to ``convert`` mode first (None: ``transform`` converts)."""
    from PIL import Image, UnidentifiedImageError
    from tqdm.auto import tqdm

    def one(i: int) -> np.ndarray:
        try:
            with Image.open(io.BytesIO(blobs[i])) as im:
                return np.asarray(transform(im.convert(convert) if convert else im),
                                  dtype=np.uint8)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise DataError(f"{source}: cannot decode image {names[i]}: {exc}") from exc
        except Image.DecompressionBombError as exc:
            raise DataError(f"{source}: image {names[i]} is too large: {exc}") from exc

    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        it = pool.map(one, range(len(blobs)), chunksize=64)
        arrays = list(tqdm(it, total=len(blobs), desc=f"decoding {source.name}",
                           disable=not progress or len(blobs) < 500, leave=False))
    if not arrays:
        raise DataError(f"{source}: no images found")
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise DataError(f"{source}: images have different sizes after resizing: {sorted(shapes)}")
    return np.stack(arrays)


def celeba_crop_box(width: int, height: int) -> tuple[int, int, int, int]:
    """(left, upper, right, lower) of the usual face crop for an aligned image of this size."""
    if (width, height) in CELEBA_CROP_BOXES:
        return CELEBA_CROP_BOXES[(width, height)]
    fw, fh = CELEBA_FULL_SIZE
    left, upper, right, lower = CELEBA_CROP_BOXES[CELEBA_FULL_SIZE]
    return (round(left * width / fw), round(upper * height / fh),
            round(right * width / fw), round(lower * height / fh))


def load_celeba(
    root_or_tar: str | os.PathLike | None = None,
    attr_file: str | os.PathLike | None = None,
    resolution: int = 64,
    max_images: int | None = None,
    attributes: Sequence[str] | None = None,
    crop: bool = True,
    cache: bool = True,
    progress: bool = True,
) -> LabeledImages:
    """Aligned CelebA from an image folder or a tar of JPEGs, plus the attribute file.

    Images are sorted by file name, cropped to the usual face box ([40:188, 15:163] at full size
    178x218, [20:94, 7:81] at half size 89x109, proportional otherwise; ``crop=False`` keeps the
    whole image) and resized to ``resolution`` x ``resolution`` with PIL's Lanczos filter.
    Labels are int8 {0, 1} [N, K] for the K requested ``attributes`` (default all 40, file order).
    The decoded array is cached under :func:`default_cache_dir` keyed by the source's path, size,
    mtime and the decode parameters, so a second load only reads one .npy.
    """
    if not isinstance(resolution, (int, np.integer)) or not 4 <= resolution <= 1024:
        raise DataError(f"CelebA: resolution must be an int in [4, 1024], got {resolution!r}")
    if max_images is not None and max_images < 1:
        raise DataError(f"CelebA: max_images must be >= 1, got {max_images}")
    source, attr_dir = _celeba_sources(_resolve("celeba", root_or_tar))
    attr_path = Path(attr_file) if attr_file is not None else _find_attr_file(attr_dir)
    files, all_names, all_values, declared = read_celeba_attributes(attr_path)
    if attributes is None:
        columns = list(range(len(all_names)))
    else:
        unknown = [a for a in attributes if a not in all_names]
        if unknown:
            raise DataError(
                f"{attr_path}: unknown attribute name(s) {unknown}; available: {all_names}"
            )
        columns = [all_names.index(a) for a in attributes]

    images: np.ndarray | None = None
    cache_path = None
    if cache:
        key = _cache_key(source, resolution=int(resolution), crop=crop, max_images=max_images)
        cache_path = default_cache_dir() / f"celeba_{key}.npy"
        names_path = cache_path.with_suffix(".names.json")
        if cache_path.exists() and names_path.exists():
            try:
                images = np.load(cache_path, allow_pickle=False)
                names = json.loads(names_path.read_text())
            except (OSError, ValueError):
                images = None  # a damaged cache entry is rebuilt
    if images is None:
        names, blobs = _read_image_bytes(source, max_images)

        def transform(im):
            from PIL import Image

            if crop:
                im = im.crop(celeba_crop_box(*im.size))
            return im.resize((resolution, resolution), Image.Resampling.LANCZOS)

        images = _decode_images(names, blobs, source, transform, progress)
        if cache_path is not None:
            from latentatlas.utils.atomic import atomic_write_json

            atomic_save_npy(cache_path, images)
            atomic_write_json(cache_path.with_suffix(".names.json"), names)

    row_of = {f: i for i, f in enumerate(files)}
    missing = [n for n in names if n not in row_of]
    if missing:
        raise DataError(
            f"CelebA: image/label count mismatch: {len(missing)} of {len(names)} images in "
            f"{source} have no row in {attr_path} (first: {missing[0]})"
        )
    labels = all_values[[row_of[n] for n in names]][:, columns]
    return LabeledImages(
        images, labels, [all_names[c] for c in columns], str(source),
        {"attr_file": str(attr_path), "declared_count": declared, "attr_rows": len(files),
         "file_names": names, "resolution": int(resolution), "crop": crop},
    )


# ---------------------------------------------------------------------------- Olivetti
def load_olivetti(path: str | os.PathLike | None = None) -> LabeledImages:
    """Olivetti faces npz: ``images`` (400, 64, 64) uint8, ``target`` (400,) person ids 0..39."""
    path = _require_file(_resolve("olivetti", path), "Olivetti")
    arrays = _load_npz(path, ("images", "target"))
    images, target = arrays["images"], arrays["target"]
    if images.ndim != 3:
        raise DataError(f"{path}: 'images' must be [N, H, W], got {images.shape}")
    if len(images) != len(target):
        raise DataError(
            f"{path}: image/label count mismatch: {len(images)} images, {len(target)} targets"
        )
    if images.dtype != np.uint8:
        hi = 1.0 if images.max() <= 1.0 else 255.0
        images = np.clip(np.rint(images.astype(np.float64) / hi * 255), 0, 255).astype(np.uint8)
    n_people = int(target.max()) + 1 if target.size else 0
    return LabeledImages(images[..., None], target.astype(np.int64),
                         [f"person_{i}" for i in range(n_people)], str(path))


def _load_npz(path: Path, required: Sequence[str]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in required if k not in npz.files]
            if missing:
                raise DataError(f"{path}: missing array(s) {missing}; found {npz.files}")
            return {k: npz[k] for k in required}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read npz (truncated or corrupt?): {exc}") from exc


# ---------------------------------------------------------------------------- dSprites npz
def load_dsprites_npz(
    path: str | os.PathLike | None = None, allow_pickle: bool = False
) -> DSpritesArrays:
    """The official dSprites npz (full file or a subset in its layout).

    The official ``metadata`` is a pickled dict: it is only read with ``allow_pickle=True``, and
    then only through the restricted allow-list unpickler (plain data and numpy arrays, latin1
    encoding as the file was written by Python 2; nothing in the file can run); otherwise it is
    skipped (None).
    Metadata stored as a JSON string (files written by :meth:`DSpritesLike.export_npz`) is always
    parsed.
    """
    path = _require_file(_resolve("dsprites_real", path), "dSprites")
    arrays = _load_npz(path, ("imgs", "latents_classes", "latents_values"))
    imgs, classes, values = arrays["imgs"], arrays["latents_classes"], arrays["latents_values"]
    if imgs.ndim != 3 or imgs.shape[1:] != (64, 64):
        raise DataError(f"{path}: 'imgs' must be [N, 64, 64], got {imgs.shape}")
    for name, arr in (("latents_classes", classes), ("latents_values", values)):
        if arr.ndim != 2 or arr.shape[1] not in (5, 6):
            raise DataError(f"{path}: {name!r} must be [N, 5] or [N, 6], got {arr.shape}")
        if len(arr) != len(imgs):
            raise DataError(
                f"{path}: image/label count mismatch: {len(imgs)} imgs but {len(arr)} {name} rows"
            )
    from latentatlas.io.images import check_image_values

    try:
        check_image_values(imgs, str(path))
    except ValueError as exc:
        raise DataError(str(exc)) from exc
    if values.dtype.kind not in "uif" or not np.isfinite(values).all():
        raise DataError(f"{path}: 'latents_values' must be finite numbers")
    metadata = _dsprites_metadata(path, allow_pickle)
    return DSpritesArrays(imgs.astype(np.uint8, copy=False), classes.astype(np.int64),
                          values.astype(np.float64), metadata, str(path))


def _dsprites_metadata(path: Path, allow_pickle: bool) -> dict[str, Any] | None:
    with np.load(path, allow_pickle=False) as npz:
        if "metadata" not in npz.files:
            return None
        try:
            meta = npz["metadata"]
        except ValueError:  # an object array: pickled
            meta = None
    if meta is not None:
        if meta.dtype.kind == "U":
            try:
                return json.loads(str(meta[()]))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: metadata is not valid JSON: {exc}") from exc
        return None
    if not allow_pickle:
        return None
    meta = _restricted_npz_object(path, "metadata")
    return meta if isinstance(meta, dict) else {"value": meta}


def _restricted_npz_object(path: Path, key: str) -> Any:
    """The pickled object array ``key`` of an npz, read with the restricted unpickler only."""
    import zipfile

    from latentatlas.io.unpickle import NUMPY_GLOBALS, restricted_load
    from latentatlas.utils.errors import CheckpointError

    try:
        with zipfile.ZipFile(path) as zf, zf.open(f"{key}.npy") as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            _, _, dtype = read_header(f, max_header_size=1 << 16)
            if not dtype.hasobject:
                raise DataError(f"{path}: {key!r} is not a pickled object array")
            blob = f.read()
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read {key!r} ({exc})") from exc
    try:
        arr = restricted_load(blob, NUMPY_GLOBALS, source=f"{path}:{key}",
                              what="plain data and numpy arrays", encoding="latin1")
    except CheckpointError as exc:
        raise DataError(str(exc)) from exc
    if not isinstance(arr, np.ndarray):
        raise DataError(f"{path}: {key!r} is not an array")
    return arr[()] if arr.shape == () else arr


# ---------------------------------------------------------------------------- Shapes3D h5
def load_shapes3d_h5(path: str | os.PathLike, max_images: int | None = None) -> LabeledImages:
    """The official 3dshapes.h5: ``images`` [N, 64, 64, 3] uint8, ``labels`` [N, 6] float64.

    Needs the optional dependency h5py (``pip install 'latentatlas[h5]'``). ``max_images`` reads
    only the first rows (the full file is 5.9 GB decoded).
    """
    path = _require_file(Path(path), "Shapes3D")
    try:
        import h5py
    except ImportError as exc:
        raise DataError(
            f"{path}: reading .h5 files needs h5py: pip install 'latentatlas[h5]'"
        ) from exc
    try:
        with h5py.File(path, "r") as f:
            for key in ("images", "labels"):
                if key not in f:
                    raise DataError(f"{path}: missing dataset {key!r}; found {list(f.keys())}")
            n_img, n_lab = f["images"].shape[0], f["labels"].shape[0]
            if n_img != n_lab:
                raise DataError(
                    f"{path}: image/label count mismatch: {n_img} images, {n_lab} labels"
                )
            if f["images"].shape[1:] != (64, 64, 3) or f["labels"].shape[1:] != (6,):
                raise DataError(
                    f"{path}: expected images [N, 64, 64, 3] and labels [N, 6], got "
                    f"{f['images'].shape} and {f['labels'].shape}"
                )
            stop = n_img if max_images is None else min(n_img, int(max_images))
            images = np.asarray(f["images"][:stop], dtype=np.uint8)
            labels = np.asarray(f["labels"][:stop], dtype=np.float64)
    except DataError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: cannot read HDF5 file (truncated or corrupt?): {exc}") from exc
    return LabeledImages(images, labels, list(SHAPES3D_FACTORS), str(path))


# ---------------------------------------------------------------------------- image folder
#: Decoded images larger than this (bytes) are refused before they are allocated; override with
#: ``$LATENTATLAS_MAX_IMAGE_BYTES``.
MAX_IMAGE_BYTES = 8 << 30
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def max_image_bytes() -> int:
    env = os.environ.get("LATENTATLAS_MAX_IMAGE_BYTES")
    return int(env) if env else MAX_IMAGE_BYTES


def _check_allocation(n: int, h: int, w: int, c: int, where: str) -> None:
    need = int(n) * int(h) * int(w) * int(c)
    limit = max_image_bytes()
    if need > limit:
        raise DataError(
            f"--data {where}: {n} images of {h}x{w}x{c} would take {need / 2**30:.1f} GiB in "
            f"memory, more than the {limit / 2**30:.1f} GiB allowed "
            "($LATENTATLAS_MAX_IMAGE_BYTES); use --max-images or a smaller --resolution"
        )


def list_image_files(folder: str | os.PathLike) -> list[Path]:
    """Image files (:data:`IMAGE_SUFFIXES`) under ``folder``, recursively, sorted by relative
    path; hidden files and folders are skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"--data {folder}: image folder not found")
    return sorted(
        (p for p in folder.rglob("*")
         if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
         and not any(part.startswith(".") for part in p.relative_to(folder).parts)),
        key=lambda p: p.relative_to(folder).as_posix(),
    )


def _square_crop(im):
    w, h = im.size
    s = min(w, h)
    return im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))


def image_folder_info(
    folder: str | os.PathLike, max_images: int | None = None
) -> dict[str, Any]:
    """Count, sizes and channels of a folder's images from their headers (nothing decoded):
    ``{"num_images", "sizes": {(w, h): count}, "channels", "files"}``."""
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    paths = list_image_files(folder)
    left_out = []
    if max_images is not None:
        paths, left_out = paths[:max_images], paths[max_images:]
    if not paths:
        raise DataError(
            f"{folder}: contains no images ({', '.join(IMAGE_SUFFIXES)}); point --data at a "
            "folder of images"
        )
    sizes: dict[tuple[int, int], int] = {}
    first_of: dict[tuple[int, int], str] = {}
    grey = True
    for p in paths:
        try:
            with Image.open(p) as im:
                size, mode = im.size, im.mode
        except (UnidentifiedImageError, OSError) as exc:
            raise DataError(f"--data: cannot read image {p}: {exc}") from exc
        sizes[size] = sizes.get(size, 0) + 1
        first_of.setdefault(size, p.relative_to(folder).as_posix())
        grey = grey and mode in _GREY_MODES
    return {"num_images": len(paths), "sizes": sizes, "first_of": first_of,
            "channels": 1 if grey else 3, "files": paths,
            "left_out": [p.relative_to(folder).as_posix() for p in left_out]}


def load_image_folder(
    folder: str | os.PathLike,
    resolution: int | None = None,
    labels_csv: str | os.PathLike | None = None,
    channels: int | None = None,
    max_images: int | None = None,
    kinds: dict[str, str] | None = None,
    progress: bool = True,
) -> LabeledImages:
    """The images of a folder (recursively, sorted by relative path) as uint8 [N, H, W, C].

    The one image-folder loader: ``latentatlas train gan --data FOLDER``, ``predictors train
    --data FOLDER`` and ``latentatlas.data.load_image_folder`` all read folders with it.

    Args:
        resolution: centre-crop every image to a square and resize it to ``resolution`` (Lanczos);
            without it all images must have the same size (mixed sizes are an error).
        labels_csv: a CSV with a file column and one column per label (see
            :mod:`latentatlas.data.labels`); ``labels`` then holds the values as written (float64
            [N, K], NaN = missing; words: the class index) and ``metadata["label_columns"]`` the
            parsed :class:`~latentatlas.data.labels.LabelColumn` objects (kinds, classes,
            targets).
        channels: 1 (grey) or 3 (RGB); default 1 when every image is grey, else 3.
        max_images: only the first N files.
        kinds: declared label kinds, ``{column: "binary" | "categorical" | "continuous"}``.

    ``metadata["file_names"]`` holds the relative paths (the names the CSV refers to).
    """
    folder = Path(folder)
    if max_images is not None and max_images < 1:
        raise DataError(f"--max-images must be >= 1, got {max_images}")
    if resolution is not None and (not isinstance(resolution, (int, np.integer))
                                   or not 4 <= resolution <= 4096):
        raise DataError(f"--resolution must be an int in [4, 4096], got {resolution!r}")
    info = image_folder_info(folder, max_images)
    paths, sizes = info["files"], info["sizes"]
    left_out = info["left_out"]
    if channels is None:
        channels = info["channels"]
    if channels not in (1, 3):
        raise DataError(f"{folder}: channels must be 1 or 3, got {channels}")
    if resolution is None and len(sizes) > 1:
        listing = ", ".join(f"{w}x{h} ({k} image{'s' if k > 1 else ''}, e.g. "
                            f"{info['first_of'][(w, h)]!r})"
                            for (w, h), k in sorted(sizes.items(), key=lambda t: -t[1])[:4])
        raise DataError(
            f"--data {folder}: images of mixed sizes: {listing}; resize them to one size or pass "
            "--resolution N (centre crop to a square, then resize)"
        )
    if resolution is None:
        (w, h), = sizes
        _check_allocation(len(paths), h, w, channels, str(folder))
    else:
        _check_allocation(len(paths), resolution, resolution, channels, str(folder))
    names = [p.relative_to(folder).as_posix() for p in paths]
    mode = "L" if channels == 1 else "RGB"

    def transform(im):
        from PIL import Image

        from latentatlas.io.images import to_8bit_image

        im = to_8bit_image(im).convert(mode)
        if resolution is None:
            return im
        return _square_crop(im).resize((resolution, resolution), Image.Resampling.LANCZOS)

    images = _decode_images(names, [p.read_bytes() for p in paths], folder, transform,
                            progress=progress, convert=None)
    if images.ndim == 3:
        images = images[..., None]
    labels, label_names, metadata = None, [], {"file_names": names}
    if labels_csv is not None:
        from latentatlas.data.labels import read_labels_csv

        columns = read_labels_csv(labels_csv, names, kinds=kinds, where=f"--data {folder}",
                                  other_files=left_out)
        labels = np.stack([c.raw if c.raw is not None else c.values for c in columns], axis=1)
        label_names = [c.name for c in columns]
        metadata.update(label_columns=columns, labels_file=str(labels_csv))
    return LabeledImages(images, labels, label_names, str(folder), metadata)


# ---------------------------------------------------------------------------- images npz
def _npz_header(path: Path, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of array ``key`` of an npz, read from its .npy header (nothing loaded)."""
    from numpy.lib import format as npy_format

    try:
        with zipfile.ZipFile(path) as zf:
            member = f"{key}.npy"
            if member not in zf.namelist():
                found = [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
                raise DataError(f"--data {path}: no array {key!r}; found {found}")
            with zf.open(member) as f:
                version = npy_format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = npy_format.read_array_header_1_0(f)
                else:
                    shape, _, dtype = npy_format.read_array_header_2_0(f)
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"--data {path}: cannot read npz (truncated or corrupt?): {exc}") from exc
    return tuple(int(s) for s in shape), np.dtype(dtype)


def npz_images_info(path: str | os.PathLike) -> dict[str, Any]:
    """``{"num_images", "height", "width", "channels", "dtype"}`` of an npz's ``images`` array,
    from its header."""
    path = _require_file(Path(path), "--data")
    shape, dtype = _npz_header(path, "images")
    if len(shape) not in (3, 4) or (len(shape) == 4 and shape[-1] not in (1, 3)):
        raise DataError(f"--data {path}: 'images' must be [N, H, W] (grey) or [N, H, W, C] with "
                        f"C 1 or 3, got shape {shape}")
    return {"num_images": shape[0], "height": shape[1], "width": shape[2],
            "channels": shape[3] if len(shape) == 4 else 1, "dtype": str(dtype)}


def load_images_npz(
    path: str | os.PathLike,
    resolution: int | None = None,
    max_images: int | None = None,
    kinds: dict[str, str] | None = None,
    labels_csv: str | os.PathLike | None = None,
) -> LabeledImages:
    """An ``.npz`` of ``images`` ([N, H, W] or [N, H, W, C], uint8 or float in [0, 1]) and label
    arrays (every other array of length N: [N] one column, [N, K] K columns ``name_k``).

    Read without unpickling (object arrays are refused); the images' size is checked from the
    file header before anything is allocated; float images with NaN / Inf or outside [0, 1] are
    refused. ``labels_csv`` instead of label arrays: its file column holds the row index
    (0 ... N-1). ``resolution`` centre-crops and resizes (Lanczos). Labels and
    ``metadata["label_columns"]`` as in :func:`load_image_folder`.
    """
    path = _require_file(Path(path), "--data")
    info = npz_images_info(path)
    n = info["num_images"] if max_images is None else min(info["num_images"], int(max_images))
    if n == 0:
        raise DataError(f"--data {path}: 'images' is empty (0 images)")
    _check_allocation(info["num_images"], info["height"], info["width"], info["channels"],
                      str(path))
    try:
        with np.load(path, allow_pickle=False) as npz:
            images = npz["images"]
            others = {k: npz[k] for k in npz.files if k != "images"}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"--data {path}: cannot read npz (object arrays are refused: they need "
                        f"unpickling; truncated or corrupt?): {exc}") from exc
    images = images[:n]
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating):
            raise DataError(f"--data {path}: 'images' must be uint8 or float in [0, 1], got "
                            f"{images.dtype}")
        if not np.isfinite(images).all():
            raise DataError(f"--data {path}: 'images' contain NaN or Inf")
        lo, hi = float(images.min()), float(images.max())
        if lo < -1e-3 or hi > 1 + 1e-3:
            raise DataError(f"--data {path}: float images must lie in [0, 1], got "
                            f"[{lo:.3g}, {hi:.3g}]; store uint8 0..255 or divide by 255")
        images = np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)
    if resolution is not None:
        images = _resize_square(images, int(resolution))
    from latentatlas.data.labels import columns_from_arrays, read_labels_csv

    names = [str(i) for i in range(n)]
    if labels_csv is not None:
        columns = read_labels_csv(labels_csv, names, kinds=kinds, where=f"--data {path}",
                                  other_files=[str(i) for i in range(n, info["num_images"])])
    else:
        others = {k: (v[:n] if v.ndim >= 1 and v.shape[0] == info["num_images"] else v)
                  for k, v in others.items()}
        columns = columns_from_arrays(others, n, kinds, source=str(path)) if others else []
    labels = np.stack([c.raw if c.raw is not None else c.values for c in columns], axis=1) \
        if columns else None
    metadata: dict[str, Any] = {"file_names": names}
    if columns:
        metadata["label_columns"] = columns
    return LabeledImages(np.ascontiguousarray(images), labels, [c.name for c in columns],
                         str(path), metadata)


def _resize_square(images: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 NHWC -> centre-cropped square, Lanczos-resized to ``resolution``."""
    from PIL import Image

    if images.shape[1] == images.shape[2] == resolution:
        return images
    out = np.empty((len(images), resolution, resolution, images.shape[-1]), np.uint8)
    for i, arr in enumerate(images):
        im = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
        im = _square_crop(im).resize((resolution, resolution), Image.Resampling.LANCZOS)
        a = np.asarray(im, dtype=np.uint8)
        out[i] = a[..., None] if a.ndim == 2 else a
    return out

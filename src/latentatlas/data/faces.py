"""User face photos -> the CelebA 64 px convention (for inversion and the studio).

The shipped face generator (celeba64) was trained on CelebA's *aligned* images cropped to
[40:188, 15:163] (rows, cols of the 178x218 image) and resized. :func:`prepare_face` applies the
same framing to a user's image:

- an aligned CelebA-style portrait (aspect 178:218, any size, e.g. 178x218 or 89x109) gets the
  proportional CelebA crop, then a Lanczos resize;
- a square image is taken as an already cropped face and only resized;
- anything else, or an image that cannot be used, is rejected with a one-line reason
  (:class:`FaceImageError`): not an image, too small, too large, other framings (crop the face to
  a square first), or (almost) constant.

There is no face detector: alignment means the framing convention, not landmark fitting.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from latentatlas.data.loaders import CELEBA_FULL_SIZE, celeba_crop_box
from latentatlas.utils.errors import DataError

#: Smallest side accepted (pixels) and the largest image accepted (pixels, bytes).
MIN_SIDE = 32
MAX_PIXELS = 4096 * 4096
MAX_FILE_BYTES = 16 << 20
#: Aspect (height / width) tolerances of the two accepted framings.
CELEBA_ASPECT = CELEBA_FULL_SIZE[1] / CELEBA_FULL_SIZE[0]
ASPECT_TOL = 0.04
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class FaceImageError(DataError):
    """An input image the generator's convention cannot use (the message says why)."""


def framing_of(width: int, height: int) -> str:
    """"celeba" (aligned portrait), "square" or "other" for an image size."""
    aspect = height / width
    if abs(aspect - CELEBA_ASPECT) <= ASPECT_TOL * CELEBA_ASPECT:
        return "celeba"
    if abs(aspect - 1.0) <= ASPECT_TOL:
        return "square"
    return "other"


def prepare_face(data: bytes, resolution: int = 64, name: str = "image") -> np.ndarray:
    """Decode image bytes and frame them like the CelebA 64 px crop: uint8 [R, R, 3].

    Raises :class:`FaceImageError` (one line, naming ``name``) for unusable input."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_FILE_BYTES:
        raise FaceImageError(
            f"{name}: {len(data) / 2**20:.1f} MiB is larger than the {MAX_FILE_BYTES >> 20} MiB "
            "allowed")
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise FaceImageError(f"{name}: {w}x{h} is larger than the {MAX_PIXELS} pixels "
                                     "allowed")
            im.load()
            im = im.convert("RGB")
    except FaceImageError:
        raise
    except UnidentifiedImageError as e:
        raise FaceImageError(f"{name}: not an image (PNG, JPEG, BMP or WebP expected)") from e
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise FaceImageError(f"{name}: cannot decode the image ({why})") from e
    min_side = min(MIN_SIDE, resolution)
    if min(w, h) < min_side:
        raise FaceImageError(f"{name}: {w}x{h} is too small (the shorter side must be at least "
                             f"{min_side} px)")
    framing = framing_of(w, h)
    if framing == "other":
        raise FaceImageError(
            f"{name}: {w}x{h} has neither the aligned CelebA framing (178:218) nor a square "
            "face crop; crop the face to a square first")
    if framing == "celeba":
        im = im.crop(celeba_crop_box(w, h))
    arr = np.asarray(im.resize((resolution, resolution), Image.Resampling.LANCZOS))
    if float(arr.std()) < 2.0:
        raise FaceImageError(f"{name}: the image is (almost) constant; no face to invert")
    return np.array(arr, dtype=np.uint8, copy=True)


def list_face_files(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in ``folder`` (sorted; hidden files skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"--images {folder}: not a folder")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def load_faces(
    folder: str | os.PathLike, resolution: int = 64
) -> tuple[np.ndarray, list[str], dict[str, str]]:
    """(uint8 [N, R, R, 3], file names, {rejected file: reason}) of a folder of face images."""
    files = list_face_files(folder)
    if not files:
        raise DataError(f"--images {folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    arrays, names, rejected = [], [], {}
    for p in files:
        try:
            arrays.append(prepare_face(p.read_bytes(), resolution, p.name))
            names.append(p.name)
        except FaceImageError as e:
            rejected[p.name] = str(e)
    images = (np.stack(arrays) if arrays
              else np.zeros((0, resolution, resolution, 3), np.uint8))
    return images, names, rejected

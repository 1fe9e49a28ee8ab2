"""Loaders: real files (skipped when absent), synthetic files with known content, bad input."""

from __future__ import annotations

import gzip
import tarfile

import numpy as np
import pytest
from PIL import Image

from latentatlas.data import (
    DSpritesLike,
    LabeledImages,
    default_data_root,
    get_dataset,
    list_datasets,
    load_celeba,
    load_dsprites_npz,
    load_image_folder,
    load_mnist,
    load_olivetti,
    load_shapes3d_h5,
    read_idx,
)
from latentatlas.utils.errors import DataError

# The official first row of list_attr_celeba.txt (000001.jpg), mapped to {0, 1}.
CELEBA_ROW_1 = [int(v == "1") for v in (
    "-1 1 1 -1 -1 -1 -1 -1 -1 -1 -1 1 -1 -1 -1 -1 -1 -1 1 1 -1 1 -1 -1 1 -1 -1 1 -1 -1 -1 1 1 -1 "
    "1 -1 1 -1 -1 1").split()]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("LATENTATLAS_CACHE", str(path))
    return path


# ---------------------------------------------------------------------------- IDX / MNIST
def _idx_bytes(array: np.ndarray, magic_code: int = 0x08) -> bytes:
    header = bytes([0, 0, magic_code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_mnist(root, n_images=5, n_labels=5, gz=True, image_magic=0x08):
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n_images, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, n_labels).astype(np.uint8)
    img_bytes = _idx_bytes(images)
    if image_magic != 0x08:
        img_bytes = bytes([0, 0, 0x08, 1]) + img_bytes[4:]  # wrong ndim -> magic 2049
    for name, payload in (("train-images-idx3-ubyte", img_bytes),
                          ("train-labels-idx1-ubyte", _idx_bytes(labels))):
        if gz:
            (root / (name + ".gz")).write_bytes(gzip.compress(payload))
        else:
            (root / name).write_bytes(payload)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_synthetic_round_trip(tmp_path, gz):
    images, labels = _write_mnist(tmp_path / "m", gz=gz)
    data = load_mnist(tmp_path / "m", split="train")
    assert data.images.shape == (5, 28, 28, 1) and data.images.dtype == np.uint8
    assert np.array_equal(data.images[..., 0], images)
    assert data.labels.dtype == np.int64 and np.array_equal(data.labels, labels)


def test_idx_errors_name_the_file(tmp_path):
    _write_mnist(tmp_path / "magic", image_magic=0x99)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz.*wrong magic number 2049"):
        load_mnist(tmp_path / "magic")
    _write_mnist(tmp_path / "count", n_images=5, n_labels=4)
    with pytest.raises(DataError, match="count mismatch.*5 images.*4 labels"):
        load_mnist(tmp_path / "count")
    _write_mnist(tmp_path / "trunc")
    gz_path = tmp_path / "trunc" / "train-images-idx3-ubyte.gz"
    gz_path.write_bytes(gz_path.read_bytes()[:-200])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz.*truncated"):
        load_mnist(tmp_path / "trunc")
    raw = tmp_path / "short-idx"
    raw.write_bytes(_idx_bytes(np.zeros((4, 3), np.uint8))[:-2])
    with pytest.raises(DataError, match="short-idx.*does not match header"):
        read_idx(raw)
    with pytest.raises(DataError, match="does not exist"):
        read_idx(tmp_path / "nothing.gz")
    with pytest.raises(DataError, match="neither"):
        load_mnist(tmp_path / "trunc", split="test")


def test_mnist_real(shared_data):
    train = load_mnist(shared_data / "mnist", "train")
    test = load_mnist(shared_data / "mnist", "test")
    assert train.images.shape == (60_000, 28, 28, 1) and test.images.shape == (10_000, 28, 28, 1)
    assert train.labels.shape == (60_000,) and set(np.unique(test.labels)) == set(range(10))
    assert train.labels[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first training labels


# ---------------------------------------------------------------------------- CelebA
def _face(size=(178, 218)) -> Image.Image:
    """Black image with the usual crop box white: the cropped face must be all white."""
    w, h = size
    arr = np.zeros((h, w, 3), np.uint8)
    box = {(178, 218): (15, 40, 163, 188), (89, 109): (7, 20, 81, 94)}[size]
    arr[box[1]:box[3], box[0]:box[2]] = 255
    return Image.fromarray(arr)


def _write_attr(path, files, rows, declared=202599, names=("Smiling", "Male"), gz=False):
    text = f"{declared}\n{' '.join(names)}\n" + "".join(
        f"{f} {' '.join(f'{v:2d}' for v in r)}\n" for f, r in zip(files, rows, strict=True))
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


@pytest.mark.parametrize("size", [(178, 218), (89, 109)])
def test_celeba_folder_crop_resize_and_labels(tmp_path, cache, size):
    folder = tmp_path / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    files = ["000002.jpg", "000001.jpg", "000003.jpg"]
    for f in files:
        _face(size).save(folder / "img_align_celeba" / f, quality=95)
    _write_attr(folder / "list_attr_celeba.txt", ["000001.jpg", "000002.jpg", "000003.jpg"],
                [[1, -1], [-1, 1], [1, 1]])
    data = load_celeba(folder, resolution=32)
    assert isinstance(data, LabeledImages)
    assert data.images.shape == (3, 32, 32, 3) and data.images.dtype == np.uint8
    assert data.images[:, 2:-2, 2:-2].min() > 200  # only the white crop box is left
    assert data.label_names == ["Smiling", "Male"]
    assert data.labels.dtype == np.int8 and data.labels.tolist() == [[1, 0], [0, 1], [1, 1]]
    assert data.metadata["file_names"] == ["000001.jpg", "000002.jpg", "000003.jpg"]
    assert data.metadata["declared_count"] == 202599  # truncated file accepted
    sub = load_celeba(folder, resolution=16, attributes=["Male"], max_images=2)
    assert sub.images.shape == (2, 16, 16, 3) and sub.labels.tolist() == [[0], [1]]


def test_celeba_tar_and_cache(tmp_path, cache):
    src = tmp_path / "src"
    src.mkdir()
    names = [f"{i:06d}.jpg" for i in range(1, 5)]
    for i, n in enumerate(names):
        im = np.full((109, 89, 3), 40 * i, np.uint8)
        Image.fromarray(im).save(src / n, quality=95)
    tar_path = tmp_path / "faces.tar"
    with tarfile.open(tar_path, "w") as tar:
        for n in reversed(names):
            tar.add(src / n, arcname=f"img/{n}")
    attr = tmp_path / "list_attr_celeba.txt.gz"
    _write_attr(attr, names, [[1, 1]] * 4, gz=True)
    first = load_celeba(tar_path, attr_file=attr, resolution=8)
    assert first.images[:, 4, 4, 0].tolist() == pytest.approx([0, 40, 80, 120], abs=3)
    cached = list(cache.glob("celeba_*.npy"))
    assert len(cached) == 1
    second = load_celeba(tar_path, attr_file=attr, resolution=8)
    assert np.array_equal(first.images, second.images)
    assert np.array_equal(first.labels, second.labels)
    # The cache is keyed by the decode parameters: another resolution is a new entry.
    load_celeba(tar_path, attr_file=attr, resolution=4)
    assert len(list(cache.glob("celeba_*.npy"))) == 2


def test_celeba_errors(tmp_path, cache):
    folder = tmp_path / "c"
    folder.mkdir()
    for n in ("000001.jpg", "000002.jpg"):
        _face().save(folder / n)
    attr = folder / "list_attr_celeba.txt"
    _write_attr(attr, ["000001.jpg"], [[1, 1]])
    with pytest.raises(DataError, match=r"list_attr_celeba\.txt.*unknown attribute.*'Smilin'"):
        load_celeba(folder, attributes=["Smilin"])
    with pytest.raises(DataError, match=r"count mismatch.*1 of 2 images.*list_attr_celeba\.txt"):
        load_celeba(folder)
    gz = tmp_path / "attr.txt.gz"
    _write_attr(gz, ["000001.jpg", "000002.jpg"], [[1, 1], [1, -1]], gz=True)
    gz.write_bytes(gz.read_bytes()[:-12])
    with pytest.raises(DataError, match=r"attr\.txt\.gz.*truncated"):
        load_celeba(folder, attr_file=gz)
    with pytest.raises(DataError, match="does not exist"):
        load_celeba(tmp_path / "missing")
    with pytest.raises(DataError, match=r"nope\.txt.*does not exist"):
        load_celeba(folder, attr_file=tmp_path / "nope.txt")


def test_celeba_real(shared_data, cache):
    data = load_celeba(shared_data / "celeba", resolution=64, max_images=200)
    assert data.images.shape == (200, 64, 64, 3) and data.images.dtype == np.uint8
    assert data.labels.shape == (200, 40) and data.labels.dtype == np.int8
    assert len(data.label_names) == 40 and "Smiling" in data.label_names
    assert data.labels[0].tolist() == CELEBA_ROW_1
    assert data.metadata["declared_count"] == 202_599 and data.metadata["attr_rows"] == 20_000
    assert data.metadata["file_names"][:2] == ["000001.jpg", "000002.jpg"]
    assert 60 < data.images.mean() < 200


# ---------------------------------------------------------------------------- others
def test_olivetti_real(shared_data):
    data = load_olivetti(shared_data / "olivetti" / "olivetti_faces_64x64_uint8.npz")
    assert data.images.shape == (400, 64, 64, 1) and data.images.dtype == np.uint8
    assert data.labels.shape == (400,) and len(data.label_names) == 40
    assert np.array_equal(np.bincount(data.labels), np.full(40, 10))


def test_olivetti_bad_files(tmp_path):
    np.savez(tmp_path / "o.npz", images=np.zeros((4, 8, 8), np.uint8), target=np.zeros(3))
    with pytest.raises(DataError, match=r"o\.npz.*count mismatch"):
        load_olivetti(tmp_path / "o.npz")
    np.savez(tmp_path / "p.npz", pictures=np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(DataError, match=r"p\.npz.*missing array"):
        load_olivetti(tmp_path / "p.npz")
    (tmp_path / "q.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(DataError, match=r"q\.npz.*cannot read"):
        load_olivetti(tmp_path / "q.npz")
    with pytest.raises(DataError, match="does not exist"):
        load_olivetti(tmp_path / "none.npz")


def test_dsprites_npz_errors(tmp_path):
    np.savez(tmp_path / "d.npz", imgs=np.zeros((3, 64, 64), np.uint8),
             latents_classes=np.zeros((2, 6), np.int64), latents_values=np.zeros((3, 6)))
    with pytest.raises(DataError, match=r"d\.npz.*count mismatch"):
        load_dsprites_npz(tmp_path / "d.npz")


def test_shapes3d_h5_round_trip_and_errors(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 64, 64, 3)).astype(np.uint8)
    labels = rng.random((6, 6))
    with h5py.File(tmp_path / "3dshapes.h5", "w") as f:
        f["images"], f["labels"] = images, labels
    data = load_shapes3d_h5(tmp_path / "3dshapes.h5")
    assert np.array_equal(data.images, images) and np.array_equal(data.labels, labels)
    assert data.label_names[0] == "floor_hue" and len(data.label_names) == 6
    assert len(load_shapes3d_h5(tmp_path / "3dshapes.h5", max_images=2)) == 2
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["images"], f["labels"] = images, labels[:5]
    with pytest.raises(DataError, match=r"bad\.h5.*count mismatch"):
        load_shapes3d_h5(tmp_path / "bad.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match=r"junk\.h5"):
        load_shapes3d_h5(tmp_path / "junk.h5")


def test_shapes3d_h5_without_h5py_says_how_to_install(tmp_path, monkeypatch):
    import sys

    (tmp_path / "x.h5").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` fail
    with pytest.raises(DataError, match=r"x\.h5.*latentatlas\[h5\]"):
        load_shapes3d_h5(tmp_path / "x.h5")


def test_image_folder_with_csv(tmp_path):
    for i, name in enumerate(["b.png", "a.png", "c.jpg"]):
        Image.fromarray(np.full((10, 12, 3), 50 * i, np.uint8)).save(tmp_path / name)
    (tmp_path / "labels.csv").write_text("filename,age,smile\nc.jpg,3,0\na.png,1,1\nb.png,2,0\n")
    data = load_image_folder(tmp_path, labels_csv=tmp_path / "labels.csv")
    assert data.metadata["file_names"] == ["a.png", "b.png", "c.jpg"]
    assert data.images.shape == (3, 10, 12, 3)
    assert data.images[:, 0, 0, 0].tolist() == pytest.approx([50, 0, 100], abs=2)
    assert data.label_names == ["age", "smile"] and data.labels.tolist() == [[1, 1], [2, 0], [3, 0]]
    assert load_image_folder(tmp_path, resolution=8).images.shape == (3, 8, 8, 3)
    (tmp_path / "short.csv").write_text("filename,age\na.png,1\n")
    with pytest.raises(DataError, match=r"short\.csv.*count mismatch"):
        load_image_folder(tmp_path, labels_csv=tmp_path / "short.csv")


def test_labeled_images_torch_adapter():
    import torch

    data = LabeledImages(np.full((3, 4, 5, 3), 255, np.uint8), np.array([1, 2, 3]), ["x"], "mem")
    ds = data.to_torch_dataset()
    image, label = ds[1]
    assert image.shape == (3, 4, 5) and torch.allclose(image, torch.ones(3, 4, 5))
    assert label.item() == 2 and len(ds) == 3


def test_registry(tmp_path, monkeypatch):
    assert set(list_datasets()) == {"dsprites", "dsprites_color", "dsprites_noisy", "shapes3d",
                                    "celeba", "mnist", "olivetti", "dsprites_real"}
    noisy = get_dataset("dsprites_noisy")
    assert isinstance(noisy, DSpritesLike) and noisy.observation_shape == (64, 64, 3)
    with pytest.raises(DataError, match="unknown data set 'imagenet'"):
        get_dataset("imagenet")
    monkeypatch.setenv("LATENTATLAS_DATA", str(tmp_path))
    assert default_data_root() == tmp_path
    with pytest.raises(DataError, match="does not exist"):
        get_dataset("olivetti")


def test_celeba_attribute_file_with_bad_values(tmp_path):
    from latentatlas.data.loaders import read_celeba_attributes

    bad = tmp_path / "list_attr_celeba.txt"
    bad.write_text("3\nA B\n1.jpg 1 -1\n2.jpg 1 x\n3.jpg 1 1\n")
    with pytest.raises(DataError, match=r"list_attr_celeba\.txt.*\+1/-1"):
        read_celeba_attributes(bad)
    bad.write_text("3\nA B\n1.jpg 1 -1\n2.jpg 1\n3.jpg 1 1\n")
    with pytest.raises(DataError, match=r"list_attr_celeba\.txt: row 4 does not have 2 values"):
        read_celeba_attributes(bad)
    bad.write_text("3\nA B\n1.jpg 1 -1\n2.jpg 1 1\n3.jpg -1")  # cut mid-line: last row dropped
    files, names, values, declared = read_celeba_attributes(bad)
    assert files == ["1.jpg", "2.jpg"] and values.tolist() == [[1, 0], [1, 1]] and declared == 3

"""Write real data sets out in the layout a user brings (docs/user_data.md's full-size runs).

    python benchmarks/export_user_data.py celeba OUT [--n 10000]   # OUT/images/*.png + labels.csv
    python benchmarks/export_user_data.py mnist OUT.npz [--n 2000]  # images + digit + is_odd arrays

CelebA: the aligned faces cropped to 64 px (the usual [40:188, 15:163] box), as PNG files, and a
CSV with a ``file`` column, the 40 attributes as written in list_attr_celeba.txt (+1 / -1) and a
categorical ``hair`` column (black / blond / brown / gray, empty = missing when no or several of
those attributes are set). MNIST: an .npz with ``images`` [N, 28, 28] uint8 and label arrays
``digit`` (categorical) and ``is_odd`` (binary).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

HAIR = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")


def export_celeba(out: Path, n: int) -> None:
    from PIL import Image

    from latentatlas.data import load_celeba

    data = load_celeba(resolution=64, max_images=n, progress=False)
    (out / "images").mkdir(parents=True, exist_ok=True)
    cols = [data.label_names.index(h) for h in HAIR]
    with open(out / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", *data.label_names, "hair"])
        for i, name in enumerate(data.metadata["file_names"]):
            png = Path(name).with_suffix(".png").name
            Image.fromarray(data.images[i]).save(out / "images" / png)
            hair = data.labels[i, cols]
            label = HAIR[int(hair.argmax())].split("_")[0].lower() if hair.sum() == 1 else ""
            w.writerow([png, *(2 * data.labels[i].astype(int) - 1), label])
    print(f"wrote {len(data)} images to {out / 'images'} and {out / 'labels.csv'}")


def export_mnist(out: Path, n: int) -> None:
    from latentatlas.data import load_mnist

    data = load_mnist(split="train")
    images, digits = data.images[:n, ..., 0], data.labels[:n]
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, images=images, digit=digits, is_odd=(digits % 2).astype(np.uint8))
    print(f"wrote {len(images)} images to {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", choices=["celeba", "mnist"])
    ap.add_argument("out", type=Path)
    ap.add_argument("--n", type=int, default=None)
    args = ap.parse_args()
    if args.dataset == "celeba":
        export_celeba(args.out, args.n or 10_000)
    else:
        export_mnist(args.out, args.n or 2000)


if __name__ == "__main__":
    main()

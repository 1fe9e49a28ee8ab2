"""Sample quality of a generator vs real data: what ``latentatlas quality`` measures.

:func:`evaluate_quality` draws a seeded random subset of the real images and as many generated
images, embeds both with a predictor (and optionally FID's Inception) and reports Frechet distance
and KID next to the real-vs-real floor (:func:`~latentatlas.metrics.quality.sample_quality`), plus
class coverage for multiclass predictor heads and, for dSprites predictors, the coverage of the
folded orientation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def crop_to(images, size: int):
    """Centre-crop NCHW images by a small even margin (undoes the 28 -> 32 MNIST padding)."""
    margin = images.shape[-1] - size
    if margin <= 0 or margin % 2 or margin > 8:
        return images
    m = margin // 2
    return images[..., m:m + size, m:m + size]


def evaluate_quality(model: str | os.PathLike, data: str, predictor: str | os.PathLike, *,
                     n_real: int = 10000, n_fake: int | None = None, truncation_psi: float = 1.0,
                     kid_subsets: int = 100, kid_subset_size: int = 1000, seed: int = 0,
                     data_root: str | None = None,
                     inception_weights: str | os.PathLike | None = None,
                     out: str | os.PathLike | None = None,
                     command: str | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Frechet distance and KID of generator ``model`` (zoo name or folder) vs real ``data`` in the
    embedding of ``predictor``, next to the real-vs-real floor.

    ``n_real`` real images are split in two halves (reference and floor); ``n_fake`` generated
    images (default ``n_real / 2``). With ``inception_weights`` (pytorch-fid's weights) the
    result also has standard FID / KID under ``"inception"``. With ``out`` the result is written
    there as JSON and ``<stem>.run.json`` (recording ``command``) beside it (an existing
    ``out`` is refused unless ``overwrite``). Returns the result.
    """
    import numpy as np

    from latentatlas.data.dsprites import SHAPE_NAMES, SYMMETRY_PERIODS
    from latentatlas.io.images import to_model_images
    from latentatlas.metrics.quality import (
        class_coverage,
        folded_orientation_coverage,
        generator_samples,
        sample_quality,
    )
    from latentatlas.models import load
    from latentatlas.training.data import ArraySource, resolve_training_data
    from latentatlas.training.predictors import DSPRITES_FOLDED_HEADS
    from latentatlas.utils.atomic import atomic_write_json
    from latentatlas.utils.checks import check_number, check_truncation
    from latentatlas.utils.outputs import check_new_file
    from latentatlas.utils.runinfo import write_run_record

    if out:
        check_new_file(out, overwrite)
    check_truncation(truncation_psi)
    for name, value in (("n_real", n_real), ("kid_subsets", kid_subsets),
                        ("kid_subset_size", kid_subset_size)):
        check_number(name, value, 2 if name == "n_real" else 1, integer=True)
    if n_fake is not None:
        check_number("n_fake", n_fake, 1, integer=True)
    G = load(model).eval()
    P = load(predictor).eval()
    source = resolve_training_data(data, int(G.img_resolution), seed=seed, root=data_root)
    rng = np.random.default_rng(seed)
    if isinstance(source, ArraySource):
        idx = rng.permutation(len(source))[:n_real]
        real = source.images[np.sort(idx)]
    else:
        real = source.batch(0, 0, n_real, n_real)
    n_fake = n_fake if n_fake is not None else len(real) // 2
    fakes = generator_samples(G, n_fake, rng, truncation_psi, batch_size=256)
    real_t = to_model_images(real)
    size = int(getattr(P, "resolution", real_t.shape[-1]))
    real_t, fakes = crop_to(real_t, size), crop_to(fakes, size)
    result = sample_quality(real_t, fakes, P, rng=rng, kid_subsets=kid_subsets,
                            kid_subset_size=kid_subset_size)
    result.update({"model": str(model), "predictor": str(predictor), "data": data,
                   "truncation_psi": truncation_psi, "seed": seed})
    if any(h.get("kind") == "multiclass" for h in getattr(P, "heads", [])):
        result["class_coverage"] = class_coverage(P, fakes)
    if inception_weights:
        from latentatlas.metrics.inception import load_fid_inception

        inception = load_fid_inception(inception_weights)
        result["inception"] = sample_quality(
            real_t, fakes, inception, rng=np.random.default_rng(seed), kid_subsets=kid_subsets,
            kid_subset_size=kid_subset_size, batch_size=64, progress=True)
        result["inception"]["weights"] = str(inception_weights)
    head_names = {h.get("name") for h in getattr(P, "heads", [])}
    if {"shape", *DSPRITES_FOLDED_HEADS} <= head_names:
        # dSprites: orientation is identifiable only modulo the shape's symmetry; judge its
        # coverage on bins of the folded angle one grid step (360/39 degrees) wide.
        result["folded_orientation_coverage"] = folded_orientation_coverage(
            P, fakes, SYMMETRY_PERIODS, bin_width=2 * np.pi / 39, group_names=SHAPE_NAMES)
    if out:
        atomic_write_json(out, result)
        write_run_record(Path(out).parent, command=command or "latentatlas quality", config={
            "model": str(model), "data": data, "predictor": str(predictor),
            "n_real": len(real), "n_fake": n_fake, "truncation_psi": truncation_psi,
            "kid_subsets": kid_subsets, "kid_subset_size": kid_subset_size,
            "inception_weights": inception_weights},
            seed=seed, metrics=result, filename=f"{Path(out).stem}.run.json")
    return result

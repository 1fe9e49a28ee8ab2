"""InterFaceGAN boundaries of celeba64 in W for a few attributes (the studio demo, the
inversion benchmark): 20,000 sampled w, scored by predictor_celeba64, a linear SVM on the top /
bottom 2 % per attribute. Cached as a Directions file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

ATTRIBUTES = ("Smiling", "Male", "Young", "Eyeglasses", "Blond_Hair", "Mouth_Slightly_Open")


def celeba64_directions(path: str | Path, n: int = 20000, seed: int = 0,
                        attributes=ATTRIBUTES):
    from latentatlas.directions import Directions, SVMBoundary
    from latentatlas.models import load

    path = Path(path)
    if path.is_file():
        return Directions.load(path)
    gen, pred = load("celeba64"), load("predictor_celeba64")
    w = gen.sample(n, "w", rng=seed)
    probs = {a: [] for a in attributes}
    with torch.no_grad():
        for s in range(0, n, 500):
            img = gen.synthesize(w[s:s + 500], "w").float().clamp(-1, 1)
            p = pred.predict(img)
            for a in attributes:
                probs[a].append(p[a].numpy())
    parts = []
    for a in attributes:
        score = np.concatenate(probs[a])
        logit = np.log(np.clip(score, 1e-6, 1 - 1e-6) / np.clip(1 - score, 1e-6, 1))
        parts.append(SVMBoundary(space="w", chosen_num_or_ratio=0.02, progress=False)
                     .fit(w.numpy(), logit, name=a).directions_)
    dirs = Directions.concat(parts, method="interfacegan_svm")
    path.parent.mkdir(parents=True, exist_ok=True)
    dirs.save(path)
    return dirs

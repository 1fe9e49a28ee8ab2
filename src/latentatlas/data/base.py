"""The ground-truth data protocol (in the style of disentanglement_lib).

A ground-truth data set has discrete factors of variation with ``factors_num_values[k]`` values
each; every observation is determined by (or sampled given) one factor tuple. Every random
choice takes an explicit numpy Generator.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from latentatlas.utils.errors import ShapeError


class GroundTruthData:
    """Abstract ground-truth data set over a full factor grid.

    Subclasses define ``factor_names``, ``factors_num_values``, ``observation_shape`` (H, W, C) and
    :meth:`sample_observations_from_factors`. Observations are float32 in [0, 1], NHWC.
    """

    name: str = "ground-truth"
    factor_names: Sequence[str]
    factors_num_values: Sequence[int]
    observation_shape: tuple[int, int, int]

    # ------------------------------------------------------------ grid bookkeeping
    @property
    def num_factors(self) -> int:
        return len(self.factors_num_values)

    @property
    def num_observations(self) -> int:
        return int(np.prod(self.factors_num_values, dtype=np.int64))

    @property
    def factor_bases(self) -> np.ndarray:
        """Row-major strides: index = sum(factors * bases) (the last factor varies fastest)."""
        sizes = np.asarray(self.factors_num_values, dtype=np.int64)
        return np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]]).astype(np.int64)

    def _check_factors(self, factors: np.ndarray) -> np.ndarray:
        factors = np.asarray(factors)
        if factors.ndim != 2 or factors.shape[1] != self.num_factors:
            raise ShapeError(
                f"{self.name}: factors must have shape [N, {self.num_factors}], got {factors.shape}"
            )
        if not np.issubdtype(factors.dtype, np.integer):
            raise ShapeError(f"{self.name}: factors must be integer class indices")
        sizes = np.asarray(self.factors_num_values)
        if (factors < 0).any() or (factors >= sizes).any():
            bad = np.argwhere((factors < 0) | (factors >= sizes))[0]
            raise ShapeError(
                f"{self.name}: factor {self.factor_names[bad[1]]!r} value "
                f"{factors[bad[0], bad[1]]} out of range [0, {sizes[bad[1]]})"
            )
        return factors.astype(np.int64, copy=False)

    def factors_to_index(self, factors: np.ndarray) -> np.ndarray:
        factors = self._check_factors(factors)
        return factors @ self.factor_bases

    def index_to_factors(self, index: np.ndarray | int) -> np.ndarray:
        index = np.atleast_1d(np.asarray(index, dtype=np.int64))
        if (index < 0).any() or (index >= self.num_observations).any():
            raise ShapeError(f"{self.name}: index out of range [0, {self.num_observations})")
        sizes = np.asarray(self.factors_num_values, dtype=np.int64)
        return (index[:, None] // self.factor_bases[None, :]) % sizes[None, :]

    # ------------------------------------------------------------ sampling
    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n factor tuples drawn uniformly and independently, shape [n, num_factors]."""
        sizes = np.asarray(self.factors_num_values)
        return rng.integers(0, sizes, size=(n, self.num_factors)).astype(np.int64)

    def sample_observations_from_factors(
        self, factors: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        raise NotImplementedError

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        factors = self.sample_factors(n, rng)
        return factors, self.sample_observations_from_factors(factors, rng)

    def sample_observations(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.sample(n, rng)[1]

    def iterate_grid(
        self, batch_size: int = 1024, rng: np.random.Generator | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (factors, observations) over the full grid in index order, in batches."""
        rng = rng if rng is not None else np.random.default_rng(0)
        for start in range(0, self.num_observations, batch_size):
            idx = np.arange(start, min(start + batch_size, self.num_observations))
            factors = self.index_to_factors(idx)
            yield factors, self.sample_observations_from_factors(factors, rng)


class GroundTruthTorchDataset:
    """torch ``Dataset`` adapter: item i is (image CHW float tensor in [0,1], factors long tensor).

    With ``random=True`` (default) items are fresh random samples (seeded per index, so the data set
    is reproducible and workers agree); otherwise item i is grid index i.
    """

    def __init__(
        self, data: GroundTruthData, length: int | None = None, seed: int = 0, random: bool = True
    ):
        self.data = data
        self.length = int(length if length is not None else data.num_observations)
        self.seed = seed
        self.random = random

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        import torch

        if not 0 <= i < self.length:
            raise IndexError(i)
        rng = np.random.default_rng([self.seed, i])
        if self.random:
            factors = self.data.sample_factors(1, rng)
        else:
            factors = self.data.index_to_factors(i)
        obs = self.data.sample_observations_from_factors(factors, rng)[0]
        image = torch.from_numpy(np.ascontiguousarray(obs.transpose(2, 0, 1), dtype=np.float32))
        return image, torch.from_numpy(factors[0])


class RestrictedFactors(GroundTruthData):
    """A ground-truth set whose factors are drawn only from sub-ranges (restricted variation).

    ``ranges`` maps a factor name to class indices ``(low, high)``, ``high`` exclusive, e.g.
    ``{"posX": (8, 24)}`` keeps the middle half of dSprites' 32 x positions. Factor indices keep
    their meaning (the grid sizes are the base set's), so predictors and metrics of the base set
    apply unchanged; only :meth:`sample_factors` (and :attr:`num_observations`) see the
    restriction. Used to train a generator on less varied data (the steerability paper's
    finding that a walk cannot go beyond the variation the generator saw).
    """

    def __init__(self, base: GroundTruthData, ranges: dict[str, tuple[int, int]]) -> None:
        if not ranges:
            raise ValueError("give at least one factor range to restrict")
        sizes = np.asarray(base.factors_num_values, dtype=np.int64)
        low, high = np.zeros_like(sizes), sizes.copy()
        for name, (lo, hi) in ranges.items():
            if name not in base.factor_names:
                raise ValueError(f"{base.name} has no factor {name!r}; its factors are "
                                 f"{', '.join(base.factor_names)}")
            k = list(base.factor_names).index(name)
            if not 0 <= int(lo) < int(hi) <= sizes[k]:
                raise ValueError(f"factor range {name}={lo}:{hi} must satisfy 0 <= low < high <= "
                                 f"{sizes[k]} (class indices, high exclusive)")
            low[k], high[k] = int(lo), int(hi)
        self.base, self.low, self.high = base, low, high
        self.ranges = {n: (int(lo), int(hi)) for n, (lo, hi) in ranges.items()}
        spec = ",".join(f"{n}={lo}:{hi}" for n, (lo, hi) in self.ranges.items())
        self.name = f"{base.name}[{spec}]"
        self.factor_names = base.factor_names
        self.factors_num_values = base.factors_num_values
        self.observation_shape = base.observation_shape

    @property
    def num_observations(self) -> int:
        return int(np.prod(self.high - self.low, dtype=np.int64))

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(self.low, self.high, size=(n, self.num_factors)).astype(np.int64)

    def sample_observations_from_factors(
        self, factors: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        return self.base.sample_observations_from_factors(factors, rng)

    def iterate_grid(
        self, batch_size: int = 1024, rng: np.random.Generator | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (factors, observations) over the restricted grid, in batches."""
        rng = rng if rng is not None else np.random.default_rng(0)
        sizes = self.high - self.low
        bases = np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]])
        for start in range(0, self.num_observations, batch_size):
            idx = np.arange(start, min(start + batch_size, self.num_observations))
            factors = self.low + (idx[:, None] // bases[None, :]) % sizes[None, :]
            yield factors, self.sample_observations_from_factors(factors, rng)


def parse_factor_ranges(specs: Sequence[str]) -> dict[str, tuple[int, int]]:
    """``["posX=8:24", ...]`` -> ``{"posX": (8, 24)}`` (class indices, high exclusive)."""
    out: dict[str, tuple[int, int]] = {}
    for spec in specs:
        name, sep, rng = str(spec).partition("=")
        lo, sep2, hi = rng.partition(":")
        try:
            if not (sep and sep2 and name):
                raise ValueError
            out[name.strip()] = (int(lo), int(hi))
        except ValueError:
            raise ValueError(f"factor range {spec!r} must read NAME=LOW:HIGH (class indices, high "
                             "exclusive), e.g. posX=8:24") from None
    return out

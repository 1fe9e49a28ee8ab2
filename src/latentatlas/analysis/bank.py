"""The latent bank: sample a generator, synthesise, score, and store latents + scores on disk.

Layout of a bank folder (InterFaceGAN's, plus metadata)::

    z.npy             [N, z_dim]           float32   (Z-only generators: the truncated z the images
                                                       were made from; others: the mapping's input
                                                       z, which truncation does not touch)
    w.npy             [N, w_dim]           float32   (StyleGAN-like generators; truncated w)
    wp.npy            [N, num_ws, w_dim]   float32   (the W+ codes the images were made from)
    c.npy             [N, c_dim]           float32   (conditional generators only)
    <name>_scores.npy [N, 1]               float32   one per score column
    thumbnails.npy    [N, C, t, t]         uint8     (optional)
    bank.json         model, seed, truncation, scorers, names, shapes, versions, throughput
    progress.json     chunks completed so far (the resume point)
    run.json          the run record

Latents are stored as sampled (truncated by ``generator.truncate``, the owner of truncation) in
every space the images can be re-made from with ``synthesize(latent, space)``, which never
truncates again; ``bank.json`` lists them under ``truncated_arrays``. Format
``latentatlas-bank-1`` (before this rule) stored the untruncated z of Z-only generators:
:meth:`Bank.open` still reads it and scales that z by ``truncation_psi`` in memory, so ``bank.z``
means the same in both formats.

Determinism: z (and c) of sample i is drawn from a fixed block of ``Z_BLOCK`` samples seeded by
(seed, block index), so the whole bank is a function of ``seed`` alone: independent of
``batch_size``, ``chunk_size`` and of interruptions (a bank of n samples is also the first n rows
of any larger bank with the same seed, generator and truncation).

Memory: every array is a preallocated ``.npy`` file opened with ``numpy.lib.format.open_memmap``
and filled chunk by chunk; after each chunk the memmaps are flushed and ``progress.json`` is
replaced atomically. A killed run resumes from the last completed chunk and produces exactly the
arrays of an uninterrupted run. ``bank.json`` is written last: its ``complete`` flag marks a
finished bank.

Ranks: under a process group (``torchrun --nproc_per_node=N -m latentatlas sample ...``, or
:func:`sample_bank_job` with ``ranks=N``, which starts the processes itself) every rank calls
:func:`sample_bank` with the same arguments. Rank 0 prepares the folder; the batches of each chunk
(the same batches a single process would run, hence bit-identical arrays) are dealt round-robin to
the ranks, each writing its rows into the shared memmaps; after every chunk all ranks flush and
agree before rank 0 commits ``progress.json``. An error on one rank stops every rank. The ranks
must share one machine (the memmaps are the only channel for the data).

Over 600 lines: one on-disk format with its writer (single process or ranks), reader and checks.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from numpy.lib.format import open_memmap
from tqdm.auto import tqdm

from latentatlas.scoring.base import BaseScorer, Scorer, ScoringError, safe_name
from latentatlas.scoring.factory import make_scorer
from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.checks import (
    check_allocation,
    check_disk_space,
    check_truncation,
    disk_full,
)
from latentatlas.utils.distributed import RankFailedError, agree, rank_world, sum_over_ranks
from latentatlas.utils.errors import (
    DataError,
    LatentAtlasError,
    OutputExistsError,
    ResourceError,
    ShapeError,
)
from latentatlas.utils.fingerprint import hash_json, module_fingerprint
from latentatlas.utils.runinfo import environment_info, write_run_record

BANK_FORMAT = "latentatlas-bank-2"
#: Older formats :meth:`Bank.open` still reads (see the module docstring).
READABLE_FORMATS = ("latentatlas-bank-1", BANK_FORMAT)
Z_BLOCK = 256
BANK_JSON = "bank.json"
PROGRESS_JSON = "progress.json"


def _describe_generator(generator: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"class": type(generator).__name__}
    for attr in ("model_folder", "z_dim", "w_dim", "num_ws", "c_dim", "img_resolution",
                 "img_channels"):
        val = getattr(generator, attr, None)
        if val is not None:
            info[attr] = val
    kwargs = getattr(generator, "init_kwargs", None)
    if isinstance(kwargs, dict):
        info["kwargs"] = kwargs
    return info


def weights_digest(obj: Any) -> str | None:
    """Digest of every torch module's weights in ``obj`` (a generator, a scorer, a combined
    scorer's members): what makes a resumed bank's rows come from the same models."""
    modules: list[torch.nn.Module] = []

    def walk(o: Any, depth: int = 0) -> None:
        if depth > 3 or o is None:
            return
        if isinstance(o, torch.nn.Module):
            modules.append(o)
            return
        walk(getattr(o, "model", None), depth + 1)
        for member in getattr(o, "scorers", None) or ():
            walk(member, depth + 1)

    walk(obj)
    return module_fingerprint(*modules) if modules else None


#: Files a bank folder may hold besides its arrays (anything else: not a bank folder).
BANK_EXTRA_FILES = (BANK_JSON, PROGRESS_JSON, "run.json")


def sample_latent_block(
    generator: Any, block: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """z (and one-hot c for conditional generators) of the samples of z block ``block``:
    [block * Z_BLOCK, (block + 1) * Z_BLOCK)."""
    z = generator.sample_z(Z_BLOCK, np.random.default_rng([seed, block, 0]))
    c = None
    if getattr(generator, "c_dim", 0):
        c = generator.sample_c(Z_BLOCK, np.random.default_rng([seed, block, 1]))
    return z, c


def sample_latents(
    generator: Any, start: int, stop: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """z (and c) of samples [start, stop) of the bank with ``seed``."""
    zs, cs = [], []
    for block in range(start // Z_BLOCK, (stop - 1) // Z_BLOCK + 1):
        z, c = sample_latent_block(generator, block, seed)
        lo = max(start - block * Z_BLOCK, 0)
        hi = min(stop - block * Z_BLOCK, Z_BLOCK)
        zs.append(z[lo:hi])
        if c is not None:
            cs.append(c[lo:hi])
    return torch.cat(zs), (torch.cat(cs) if cs else None)


def to_uint8_thumbnails(images: torch.Tensor, size: int) -> np.ndarray:
    """[-1, 1] NCHW -> uint8 NCHW at size x size (antialiased bilinear)."""
    x = images.detach().float().clamp(-1, 1)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=True)
    return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


class Bank:
    """An on-disk latent bank (read side). Arrays are read-only memmaps.

    Attributes:
        path: the bank folder.
        meta: the parsed bank.json.
        z, w, wp, c: latent arrays (w / wp / c are None when the generator has none).
        scores: score name -> [N, 1] array.
        names: score names in column order.
        thumbnails: uint8 [N, C, t, t] or None.
    """

    def __init__(self, path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                 scores: dict[str, np.ndarray]) -> None:
        self.path = path
        self.meta = meta
        self.z = arrays["z"]
        self.w = arrays.get("w")
        self.wp = arrays.get("wp")
        self.c = arrays.get("c")
        self.thumbnails = arrays.get("thumbnails")
        self.scores = scores
        self.names = list(scores)

    def __len__(self) -> int:
        return int(self.meta["n"])

    def __repr__(self) -> str:
        return f"Bank({str(self.path)!r}, n={len(self)}, scores={self.names})"

    def latents(self, space: str) -> np.ndarray:
        """The latent array of ``space`` ('z', 'w' or 'wp')."""
        arr = {"z": self.z, "w": self.w, "wp": self.wp}.get(space)
        if arr is None:
            raise DataError(f"{self.path}: this bank has no {space!r} latents")
        return arr

    def scores_matrix(self, names: Sequence[str] | None = None) -> np.ndarray:
        """Scores as one [N, m] array (columns in ``names`` order, default all)."""
        names = list(names) if names is not None else self.names
        unknown = [n for n in names if n not in self.scores]
        if unknown:
            raise ScoringError(f"{self.path}: no scores {unknown}; available: {self.names}")
        return np.concatenate([np.asarray(self.scores[n]) for n in names], axis=1)

    @classmethod
    def open(cls, path: str | os.PathLike, check_finite: bool = True) -> Bank:
        """Open a complete bank folder; validates files, shapes, lengths and (optionally) that
        every score is finite."""
        path = Path(path)
        meta_path = path / BANK_JSON
        if not meta_path.is_file():
            hint = " (an unfinished bank: resume sample_bank)" if (path / PROGRESS_JSON).is_file() \
                else ""
            raise DataError(f"{path}: no {BANK_JSON}; not a finished latent bank{hint}")
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(f"{meta_path}: not valid JSON ({e})") from e
        if meta.get("format") not in READABLE_FORMATS or not meta.get("complete"):
            raise DataError(f"{meta_path}: not a complete {BANK_FORMAT} bank")
        n = int(meta["n"])
        arrays: dict[str, np.ndarray] = {}
        for key, entry in meta["arrays"].items():
            arrays[key] = _open_array(path / entry["file"], n, tuple(entry["shape"]))
        psi = float(meta.get("truncation_psi", 1.0))
        if meta["format"] == "latentatlas-bank-1" and "w" not in arrays and psi != 1.0:
            # bank-1 stored the untruncated z of Z-only generators; give the codes the images
            # were made from, as bank-2 stores them.
            arrays["z"] = np.asarray(arrays["z"]) * np.float32(psi)
        scores = {}
        for name in meta["names"]:
            file = path / f"{safe_name(name)}_scores.npy"
            arr = _open_array(file, n, (n, 1))
            if check_finite and not np.isfinite(arr).all():
                bad = int(np.flatnonzero(~np.isfinite(arr[:, 0]))[0])
                raise ScoringError(f"{file}: score {name!r} is NaN/Inf (first at row {bad})")
            scores[name] = arr
        return cls(path, meta, arrays, scores)


def _open_array(file: Path, n: int, shape: tuple[int, ...]) -> np.ndarray:
    if not file.is_file():
        raise DataError(f"{file}: missing bank array")
    try:
        arr = np.load(file, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as e:
        raise DataError(f"{file}: cannot read .npy file ({e})") from e
    if arr.shape[0] != n:
        raise DataError(f"{file}: has {arr.shape[0]} rows, the bank has n={n} (mismatched lengths)")
    if tuple(arr.shape) != shape:
        raise DataError(f"{file}: shape {arr.shape}, expected {shape}")
    return arr


def sample_bank(
    generator: Any,
    scorers: Scorer | Sequence[Scorer],
    n: int,
    out: str | os.PathLike,
    seed: int = 0,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    batch_size: int = 64,
    chunk_size: int = 4096,
    keep_thumbnails: bool = False,
    thumbnail_size: int = 32,
    resume: bool = True,
    progress: bool = True,
    noise_mode: str = "const",
    model_name: str | None = None,
    overwrite: bool = False,
) -> Bank:
    """Sample ``n`` latents, synthesise, score and store them in ``out`` (see the module doc).

    Args:
        generator: a :class:`~latentatlas.models.base.Generator` (or anything with spaces, sample_z,
            z_to_w, w_to_wp, truncate and synthesize).
        scorers: one scorer or a list (their score names must be unique).
        n: number of samples.
        out: the bank folder.
        seed: the bank is a function of this seed (and of the generator and truncation).
        truncation_psi, truncation_cutoff: truncation of w / W+ (cutoff applies to W+ layers);
            Z-only generators scale z toward 0 (the stored z is the scaled one).
        batch_size: images synthesised and scored at once.
        chunk_size: samples per committed chunk (the resume granularity).
        keep_thumbnails: also store uint8 thumbnails of size ``thumbnail_size``.
        resume: continue an unfinished bank in ``out`` written with the same settings (the
            settings include the generator's and the scorers' weight digests); False starts the
            same bank over. A folder holding a bank with other settings, or other files, is
            refused unless ``overwrite``, which empties it first.
        noise_mode: passed to ``synthesize`` ("const" keeps the bank deterministic).
        model_name: recorded in bank.json (default: the generator's model folder or class).
    """
    from latentatlas.utils.checks import check_number

    check_number("n", n, 1, integer=True)
    check_number("batch_size", batch_size, 1, integer=True)
    check_number("chunk_size", chunk_size, 1, integer=True)
    if keep_thumbnails:
        check_number("thumbnail_size", thumbnail_size, 1, 1024, integer=True)
    check_truncation(truncation_psi, truncation_cutoff, getattr(generator, "num_ws", None))
    scorer: BaseScorer = make_scorer(scorers)
    names = list(scorer.names)
    files = [f"{safe_name(nm)}_scores.npy" for nm in names]
    if len(set(files)) != len(files):
        raise ScoringError(f"score names {names} collide once made file-safe; rename them")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    has_w = "w" in generator.spaces
    if not has_w and truncation_cutoff is not None:
        raise ValueError(f"{type(generator).__name__} has no W+ space; a truncation cutoff "
                         "needs one")
    c_dim = int(getattr(generator, "c_dim", 0) or 0)
    channels = int(generator.img_channels)

    shapes: dict[str, tuple[int, ...]] = {"z": (n, int(generator.z_dim))}
    if has_w:
        shapes["w"] = (n, int(generator.w_dim))
        shapes["wp"] = (n, int(generator.num_ws), int(generator.w_dim))
    if c_dim:
        shapes["c"] = (n, c_dim)
    if keep_thumbnails:
        shapes["thumbnails"] = (n, channels, thumbnail_size, thumbnail_size)
    config = {
        "format": BANK_FORMAT,
        "model": model_name or getattr(generator, "model_folder", None) or type(generator).__name__,
        "generator": _describe_generator(generator),
        "seed": int(seed), "n": int(n),
        "truncation_psi": float(truncation_psi), "truncation_cutoff": truncation_cutoff,
        "truncated_arrays": ["w", "wp"] if has_w else ["z"],
        "chunk_size": int(chunk_size), "z_block": Z_BLOCK, "noise_mode": noise_mode,
        "names": names, "scorers": scorer.spec(),
        "weights": {"generator": weights_digest(generator), "scorers": weights_digest(scorer)},
        "arrays": {k: {"file": f"{k}.npy", "shape": list(v)} for k, v in shapes.items()},
    }
    fingerprint = hash_json(config)
    progress_path = out / PROGRESS_JSON
    num_chunks = -(-n // chunk_size)
    rank, world = rank_world()
    if world > 1 and int(os.environ.get("LOCAL_WORLD_SIZE", world)) != world:
        raise DataError("a bank on several ranks is written through shared memory maps: run "
                        "every rank on one machine")

    # Rank 0 alone reads and replaces the folder's state and creates the files.
    err, done_chunks = None, 0
    if rank == 0:
        try:
            done_chunks = _resume_point(out, fingerprint, resume, num_chunks, overwrite,
                                        {f"{k}.npy" for k in shapes} | set(files))
            if done_chunks == 0:
                _check_bank_resources(out, shapes, len(files), n, batch_size, channels,
                                      int(generator.img_resolution),
                                      thumbnail_size if keep_thumbnails else 0)
            if done_chunks >= 0:
                arrays, score_arrays = _open_arrays(out, shapes, files, n, done_chunks == 0)
                if done_chunks == 0:
                    atomic_write_json(progress_path,
                                      {"fingerprint": fingerprint, "completed_chunks": 0})
        except Exception as e:
            err = e
    done_chunks = agree(err, world, "preparing the bank", done_chunks)
    if done_chunks < 0:  # a finished bank with these settings
        return Bank.open(out)
    if world > 1:
        err = None
        if rank > 0:
            try:
                arrays, score_arrays = _open_arrays(out, shapes, files, n, create=False)
            except Exception as e:
                err = e
        agree(err, world, "opening the bank's files")

    done_now, elapsed = _sample_chunks(
        generator, scorer, arrays, score_arrays, progress_path, fingerprint,
        range(done_chunks, num_chunks), chunk_size, n, batch_size, seed, truncation_psi,
        truncation_cutoff, noise_mode, thumbnail_size if keep_thumbnails else 0,
        progress, rank, world)
    del arrays, score_arrays
    _write_bank_record(out, config, fingerprint, num_chunks, names, files, seed, done_now,
                       elapsed, rank, world)
    return Bank.open(out)


def _sample_chunks(generator: Any, scorer: Any, arrays: dict, score_arrays: list,
                   progress_path: Path, fingerprint: str, chunks: range, chunk_size: int, n: int,
                   batch_size: int, seed: int, truncation_psi: float,
                   truncation_cutoff: int | None, noise_mode: str, thumbnail_size: int,
                   progress: bool, rank: int, world: int) -> tuple[int, float]:
    """Fill the bank's chunks (each rank its round-robin share of a chunk's batches), commit
    each finished chunk in progress.json; returns (images made here over all ranks, seconds)."""
    done_chunks = chunks.start
    device = getattr(generator, "device", torch.device("cpu"))
    bar = tqdm(total=n, initial=min(done_chunks * chunk_size, n), unit="img",
               disable=not progress or rank > 0, desc="bank", smoothing=0.1)
    t0, done_now = time.perf_counter(), 0
    try:
        for chunk in chunks:
            c_start, c_stop = chunk * chunk_size, min((chunk + 1) * chunk_size, n)
            err = None
            try:
                z_all, c_all = sample_latents(generator, c_start, c_stop, seed)
                # The batches of a single process, dealt round-robin to the ranks.
                for b_start in list(range(c_start, c_stop, batch_size))[rank::world]:
                    b_stop = min(b_start + batch_size, c_stop)
                    sl = slice(b_start - c_start, b_stop - c_start)
                    z = z_all[sl].to(device)
                    c = c_all[sl].to(device) if c_all is not None else None
                    _fill_batch(generator, scorer, z, c, slice(b_start, b_stop), arrays,
                                score_arrays, truncation_psi, truncation_cutoff, noise_mode,
                                thumbnail_size)
                    done_now += b_stop - b_start
                    bar.update(b_stop - b_start if world == 1 else (b_stop - b_start) * world)
                    bar.set_postfix(
                        img_s=f"{done_now * world / max(time.perf_counter() - t0, 1e-9):.1f}")
                for arr in (*arrays.values(), *score_arrays):
                    arr.flush()
            except Exception as e:
                if world == 1:
                    raise
                err = e
            agree(err, world, f"sampling chunk {chunk}")
            if rank == 0:
                atomic_write_json(progress_path, {"fingerprint": fingerprint,
                                                  "completed_chunks": chunk + 1})
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0
    for arr in (*arrays.values(), *score_arrays):
        arr.flush()
    return sum_over_ranks(done_now, world), elapsed


def _write_bank_record(out: Path, config: dict[str, Any], fingerprint: str, num_chunks: int,
                       names: list[str], files: list[str], seed: int, done_now: int,
                       elapsed: float, rank: int, world: int) -> None:
    """bank.json (complete) and run.json, written by rank 0 once every chunk is in."""
    err = None
    if rank == 0:
        try:
            meta = {
                **config,
                "fingerprint": fingerprint,
                "completed_chunks": num_chunks,
                "complete": True,
                "score_files": dict(zip(names, files, strict=True)),
                "images_per_second_last_session": done_now / max(elapsed, 1e-9),
                "environment": environment_info(),
            }
            atomic_write_json(out / BANK_JSON, meta)
            write_run_record(out, command="sample_bank",
                             config={k: v for k, v in config.items() if k != "arrays"},
                             seed=seed,
                             metrics={"n": config["n"], "images_generated_this_session": done_now,
                                      "seconds_this_session": elapsed,
                                      "images_per_second": done_now / max(elapsed, 1e-9),
                                      "ranks": world})
        except Exception as e:
            if world == 1:
                raise
            err = e
    agree(err, world, "writing bank.json")


def _resume_point(out: Path, fingerprint: str, resume: bool, num_chunks: int,
                  overwrite: bool = False, own_files: set[str] | None = None) -> int:
    """Chunks already committed in ``out`` by a run with the same settings (0: start over), or
    -1 if that run finished. Removes ``bank.json`` of a bank about to be (re)written. A folder
    holding another bank or other files is refused unless ``overwrite`` (then emptied)."""
    from latentatlas.utils.outputs import clear_folder, remove_stale_temporaries

    progress_path = out / PROGRESS_JSON
    done_chunks = 0
    remove_stale_temporaries(out)  # left by a killed write
    if overwrite:
        clear_folder(out)
        return 0
    if (out / BANK_JSON).is_file() or progress_path.is_file():
        prev_path = progress_path if progress_path.is_file() else out / BANK_JSON
        try:
            prev = json.loads(prev_path.read_text("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(f"{prev_path}: corrupt ({e}); pass overwrite=True to start over")\
                from e
        if prev.get("fingerprint") != fingerprint:
            raise OutputExistsError(
                f"{out}: holds a bank with other settings (model or scorer weights, seed, n, "
                "truncation, chunk size or scorers); use another folder or overwrite=True to "
                "replace it")
        if resume:
            done_chunks = int(prev.get("completed_chunks", 0))
    else:
        foreign = sorted(p.name for p in out.iterdir()
                         if p.name not in BANK_EXTRA_FILES and p.name not in (own_files or ()))
        if foreign:
            raise OutputExistsError(
                f"{out}: holds files that are not a bank ({', '.join(foreign[:3]) or 'arrays'}"
                f"{', ...' if len(foreign) > 3 else ''}); use another folder or overwrite=True "
                "to replace them")
    if done_chunks >= num_chunks and (out / BANK_JSON).is_file() and resume:
        return -1
    (out / BANK_JSON).unlink(missing_ok=True)
    return done_chunks


def _check_bank_resources(out: Path, shapes: dict[str, tuple[int, ...]], n_scores: int, n: int,
                          batch_size: int, channels: int, resolution: int,
                          thumbnail_size: int) -> None:
    """Refuse, before allocating, a bank whose arrays exceed the free disk or whose batches
    exceed the available memory (the numbers in the message)."""
    disk = sum(int(np.prod(s)) * (1 if k == "thumbnails" else 4) for k, s in shapes.items())
    disk += n * n_scores * 4
    check_disk_space(out, disk, "the bank's arrays")
    per_image = channels * resolution * resolution + channels * thumbnail_size ** 2
    check_allocation(4 * 4 * batch_size * per_image, f"a batch of {batch_size} images",
                     "use a smaller batch_size or thumbnail size")


def _open_arrays(out: Path, shapes: dict[str, tuple[int, ...]], files: list[str], n: int,
                 create: bool) -> tuple[dict[str, np.memmap], list[np.memmap]]:
    """The latent and score memmaps: preallocated (``create``) or reopened for writing."""
    mode = "w+" if create else "r+"
    arrays: dict[str, np.memmap] = {}
    for key, shape in shapes.items():
        dtype = np.uint8 if key == "thumbnails" else np.float32
        arrays[key] = _memmap(out / f"{key}.npy", mode, dtype, shape)
    return arrays, [_memmap(out / f, mode, np.float32, (n, 1)) for f in files]


def _fill_batch(generator: Any, scorer: BaseScorer, z: torch.Tensor, c: torch.Tensor | None,
                rows: slice, arrays: dict[str, np.memmap], score_arrays: list[np.memmap],
                truncation_psi: float, truncation_cutoff: int | None, noise_mode: str,
                thumbnail_size: int) -> None:
    """Map, synthesise and score one batch; write its ``rows`` of every array."""
    res, channels = int(generator.img_resolution), int(generator.img_channels)
    has_w = "w" in generator.spaces
    with torch.no_grad():
        if has_w:
            w_raw = generator.z_to_w(z, c) if c is not None else generator.z_to_w(z)
            w = generator.truncate(w_raw, truncation_psi, space="w")
            wp = generator.truncate(generator.w_to_wp(w_raw), truncation_psi,
                                    truncation_cutoff, space="wp")
            images = generator.synthesize(wp, space="wp", noise_mode=noise_mode)
        else:
            z = generator.truncate(z, truncation_psi, space="z")
            images = generator.synthesize(z, space="z", c=c, noise_mode=noise_mode)
        if images.shape[1:] != (channels, res, res):
            raise ShapeError(
                f"generator returned images of shape {list(images.shape)}, expected "
                f"[N, {channels}, {res}, {res}]"
            )
        scores = scorer(images)
    arrays["z"][rows] = z.cpu().numpy()
    if has_w:
        arrays["w"][rows] = w.float().cpu().numpy()
        arrays["wp"][rows] = wp.float().cpu().numpy()
    if c is not None:
        arrays["c"][rows] = c.float().cpu().numpy()
    if thumbnail_size:
        arrays["thumbnails"][rows] = to_uint8_thumbnails(images, thumbnail_size)
    s = scores.detach().float().cpu().numpy()
    for j, arr in enumerate(score_arrays):
        arr[rows, 0] = s[:, j]


def _memmap(path: Path, mode: str, dtype: Any, shape: tuple[int, ...]) -> np.memmap:
    if mode == "r+":
        try:
            arr = open_memmap(path, mode="r+")
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: cannot reopen for resuming ({e}); resume=False") from e
        if arr.shape != shape or arr.dtype != np.dtype(dtype):
            raise DataError(f"{path}: shape {arr.shape} / {arr.dtype}, expected {shape}; "
                            "resume=False to start over")
        _reserve(path)
        return arr
    arr = open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    _reserve(path)
    return arr


def _reserve(path: Path) -> None:
    """Give a (sparse) memmapped file its disk blocks now, so a full disk is an error here and
    never a bus error when a page of the memmap is written later."""
    try:
        with open(path, "r+b") as f:
            size = os.fstat(f.fileno()).st_size
            if size and hasattr(os, "posix_fallocate"):
                os.posix_fallocate(f.fileno(), 0, size)
    except OSError as e:
        if disk_full(e):
            raise ResourceError(f"{path}: the disk is full ({e.strerror}); free space and rerun "
                                "the same command to resume the bank") from e
        if e.errno not in (95, 22):  # EOPNOTSUPP / EINVAL: the file system cannot reserve
            raise


def sample_bank_job(
    model: str | os.PathLike,
    scorers: Sequence[str],
    n: int,
    out: str | os.PathLike,
    *,
    ranks: int = 1,
    device: str | None = None,
    threads: int | None = None,
    fast: bool = True,
    seed: int = 0,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    batch_size: int = 64,
    chunk_size: int = 4096,
    keep_thumbnails: bool = False,
    thumbnail_size: int = 32,
    resume: bool = True,
    progress: bool = True,
    overwrite: bool = False,
) -> Bank:
    """:func:`sample_bank` from names: what ``latentatlas sample`` runs.

    Loads generator ``model`` (shipped name or folder) and builds ``scorers`` (names of
    :func:`~latentatlas.scoring.make_scorer`; ``fast``: bf16 + channels_last predictors). Launched
    by torchrun (WORLD_SIZE > 1), every rank joins the process group (gloo on CPU, NCCL on CUDA,
    ``device`` cuda meaning cuda:LOCAL_RANK) and writes its share of the bank. ``ranks`` > 1
    outside torchrun starts that many local processes itself. Either way the arrays are exactly
    those of one process with the same seed. ``threads``: torch CPU threads per process (default:
    torch's; cpu_count / ranks for several CPU ranks). Returns the bank (on every rank).
    """
    from latentatlas.utils.distributed import init_distributed, set_rank_threads

    if ranks < 1:
        raise ValueError(f"ranks must be >= 1, got {ranks}")
    kwargs = dict(device=device, threads=threads, fast=fast, seed=seed,
                  truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                  batch_size=batch_size, chunk_size=chunk_size, keep_thumbnails=keep_thumbnails,
                  thumbnail_size=thumbnail_size, resume=resume, progress=progress,
                  overwrite=overwrite)
    if ranks > 1 and int(os.environ.get("WORLD_SIZE", "1")) == 1:
        _spawn_ranks(ranks, (str(model), list(scorers), n, str(out), kwargs))
        return Bank.open(out)
    if device == "cuda":
        device = f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
    joined = not (dist.is_available() and dist.is_initialized())
    _, world, dev = init_distributed(device or "cpu")
    joined = joined and world > 1
    try:
        set_rank_threads(threads, world, dev)
        return _sample_named(model, scorers, n, out, dev, fast, seed=seed,
                             truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                             batch_size=batch_size, chunk_size=chunk_size,
                             keep_thumbnails=keep_thumbnails, thumbnail_size=thumbnail_size,
                             resume=resume, progress=progress, overwrite=overwrite)
    finally:
        if joined:
            dist.destroy_process_group()


def _sample_named(model: str | os.PathLike, scorers: Sequence[str], n: int,
                  out: str | os.PathLike, device: torch.device, fast: bool,
                  **kwargs: Any) -> Bank:
    from latentatlas.models import load

    generator = load(model).to(device)
    channels = int(getattr(generator, "img_channels", 3))
    built = [make_scorer(s, channels=channels, fast=fast) for s in scorers]
    for scorer in built:  # predictor scorers run where their model is
        if isinstance(getattr(scorer, "model", None), torch.nn.Module):
            scorer.model.to(device)
    return sample_bank(generator, built, n, out, model_name=str(model), **kwargs)


def _spawn_ranks(ranks: int, job: tuple) -> None:
    """Run :func:`sample_bank_job` in ``ranks`` fresh local processes joined in one group."""
    import tempfile

    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory(prefix="latentatlas-ranks-") as tmp:
        store = f"file://{Path(tmp) / 'store'}"
        try:
            mp.start_processes(_rank_main, args=(ranks, store, job), nprocs=ranks,
                               join=True, start_method="spawn")
        except mp.ProcessRaisedException as e:
            raise LatentAtlasError(f"a bank rank failed:\n{e}") from None
        except mp.ProcessExitedException as e:
            raise LatentAtlasError(f"a bank rank died: {e}") from None


def _rank_main(rank: int, world: int, store: str, job: tuple) -> None:
    """One spawned rank: join the group through the file store, then run the job."""
    model, scorers, n, out, kwargs = job
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
                       "LOCAL_WORLD_SIZE": str(world)})
    device = torch.device(kwargs["device"] or "cpu")
    if device.type == "cuda":
        device = torch.device("cuda", rank)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", init_method=store,
                            rank=rank, world_size=world)
    try:
        kwargs = {**kwargs, "device": str(device), "progress": kwargs["progress"] and rank == 0}
        sample_bank_job(model, scorers, n, out, **kwargs)
    except RankFailedError:
        pass  # the failed rank reports its own error (and fails the job)
    finally:
        dist.destroy_process_group()
    # A finished rank leaves without the interpreter's teardown, where gloo's threads now and then
    # abort the process (SIGABRT, seen in about 1 of 20 runs on a loaded 2-core machine) after
    # every file was written: the same workaround as the GAN trainer's ranks.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)

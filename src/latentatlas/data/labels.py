"""A user's labels: one column per label, its kind inferred (or declared), missing cells masked.

Labels come from a CSV (a file column plus one column per label) or from the arrays of an
``.npz`` beside its ``images``. Each column becomes a :class:`LabelColumn` of one of three kinds:

- ``binary``: exactly two distinct values. Numbers: ``0/1`` as is, ``-1/+1`` (the CelebA
  convention) and any other pair map to 0 (the lower) / 1 (the higher); words: ``no/yes``,
  ``false/true``, ``n/y``, ``negative/positive``, ``off/on``, ``absent/present`` map to 0 / 1,
  any other pair in alphabetical order.
- ``categorical``: words, or integers with at most :data:`MAX_INTEGER_CLASSES` distinct values;
  the target is the class index into ``classes`` (sorted: numerically for integers).
- ``continuous``: any other numbers; the target is the value.

Empty cells and ``NA``, ``N/A``, ``NaN``, ``null``, ``None``, ``?`` are missing: the target is
NaN, which the predictor trainer leaves out of the loss and the metrics. ``kinds`` declares a
column's kind where the inference would be wrong (e.g. integer ages: ``{"age": "continuous"}``).

Bad labels raise :class:`~latentatlas.utils.errors.DataError` with one message each, naming the
command-line flag (``--labels``), the column, the row and what to do.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from latentatlas.utils.errors import DataError

LABEL_KINDS = ("binary", "categorical", "continuous")
MISSING_CELLS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
#: Integer columns with at most this many distinct values are categorical, others continuous.
MAX_INTEGER_CLASSES = 20
#: More classes than this is not a label a predictor head can learn from a user's data set.
MAX_CLASSES = 1000
#: Names of the file column (case-insensitive); without one, the first column holds the files.
FILE_COLUMN_NAMES = ("file", "filename", "file_name", "image", "image_name", "path", "filepath")
#: A labels CSV larger than this is refused (it is read into memory).
MAX_CSV_BYTES = 1 << 30
_WORD_PAIRS = (("no", "yes"), ("false", "true"), ("n", "y"), ("negative", "positive"),
               ("neg", "pos"), ("off", "on"), ("absent", "present"), ("f", "t"))


@dataclass
class LabelColumn:
    """One label column, aligned with the images.

    Attributes:
        name: the column's name (the predictor head's name).
        kind: ``binary``, ``categorical`` or ``continuous``.
        values: float64 [N] targets: 0/1 (binary), the class index (categorical) or the value
            (continuous); NaN where the label is missing.
        classes: the class names in target order (binary: [negative, positive]); None for
            continuous columns.
        raw: float64 [N] values as written for numeric columns (NaN = missing), None for words.
    """

    name: str
    kind: str
    values: np.ndarray
    classes: list[str] | None = None
    raw: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_missing(self) -> int:
        return int(np.isnan(self.values).sum())

    def head(self) -> dict[str, Any]:
        """The :class:`~latentatlas.models.predictors.AttributePredictor` head of this column."""
        if self.kind == "binary":
            return {"name": self.name, "kind": "binary"}
        if self.kind == "categorical":
            return {"name": self.name, "kind": "multiclass", "num_classes": len(self.classes),
                    "classes": list(self.classes)}
        return {"name": self.name, "kind": "regression"}

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary (kind, classes, counts) for metrics files and model cards."""
        known = self.values[~np.isnan(self.values)]
        out: dict[str, Any] = {"kind": self.kind, "n_labelled": int(len(known)),
                               "n_missing": self.n_missing}
        if self.classes is not None:
            out["classes"] = list(self.classes)
            out["class_counts"] = [int((known == k).sum()) for k in range(len(self.classes))]
        else:
            out["mean"], out["std"] = float(known.mean()), float(known.std())
        return out


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_CELLS


def _to_float(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _fmt_number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _where(row_labels: Sequence[str] | None, i: int) -> str:
    return f"row {row_labels[i]}" if row_labels is not None else f"row {i}"


def parse_column(
    name: str,
    cells: Sequence[str],
    kind: str | None = None,
    row_labels: Sequence[str] | None = None,
    flag: str = "--labels",
) -> LabelColumn:
    """Infer (or check the declared ``kind`` of) one column of text cells; see the module doc.

    ``row_labels[i]`` names cell i in error messages (e.g. "3 (file 'x.png')").
    """
    if kind is not None and kind not in LABEL_KINDS:
        raise DataError(f"--label-kind {name}={kind}: kind must be one of {', '.join(LABEL_KINDS)}")
    n = len(cells)
    stripped = [str(c).strip() for c in cells]
    missing = np.array([_is_missing(c) for c in stripped], dtype=bool)
    numbers = [None if m else _to_float(c) for c, m in zip(stripped, missing, strict=True)]
    known_idx = [i for i in range(n) if not missing[i]]
    if not known_idx:
        raise DataError(f"{flag}: column {name!r} has no values (every cell is empty or missing); "
                        "drop the column")
    numeric_idx = [i for i in known_idx if numbers[i] is not None]
    word_idx = [i for i in known_idx if numbers[i] is None]
    use_words = bool(word_idx) and (kind == "categorical" or kind == "binary"
                                    or len(word_idx) > len(numeric_idx))
    if kind == "continuous" and word_idx:
        i = word_idx[0]
        raise DataError(f"{flag}: column {name!r} is declared continuous but "
                        f"{_where(row_labels, i)} holds {stripped[i]!r}, not a number")
    if word_idx and not use_words:
        i = word_idx[0]
        raise DataError(
            f"{flag}: column {name!r}, {_where(row_labels, i)}: {stripped[i]!r} is not a number "
            f"while {len(numeric_idx)} other cells of the column are ({len(word_idx)} such "
            f"cell(s)); fix it, leave it empty (missing) or declare the column with "
            f"--label-kind {name}=categorical"
        )
    values = np.full(n, np.nan)
    raw = None
    if use_words:
        texts = [stripped[i] for i in known_idx]
        distinct = sorted(set(texts))
    else:
        raw = np.full(n, np.nan)
        for i in known_idx:
            raw[i] = numbers[i]
        bad = [i for i in known_idx if not math.isfinite(raw[i])]
        if bad:
            raise DataError(f"{flag}: column {name!r}, {_where(row_labels, bad[0])}: "
                            f"{stripped[bad[0]]!r} is not a finite number")
        distinct_num = np.unique(raw[known_idx])
        distinct = [_fmt_number(v) for v in distinct_num]
    if len(distinct) == 1:
        raise DataError(
            f"{flag}: column {name!r} has a single value ({distinct[0]!r}) in all "
            f"{len(known_idx)} labelled rows; a predictor cannot learn it: drop the column"
        )
    if kind is None:
        if len(distinct) == 2:
            kind = "binary"
        elif use_words:
            kind = "categorical"
        elif (np.round(distinct_num) == distinct_num).all() and \
                len(distinct_num) <= MAX_INTEGER_CLASSES:
            kind = "categorical"
        else:
            kind = "continuous"
    if kind == "binary" and len(distinct) != 2:
        more = ", ..." if len(distinct) > 5 else ""
        raise DataError(f"{flag}: column {name!r} is declared binary but has {len(distinct)} "
                        f"distinct values ({', '.join(distinct[:5])}{more})")
    if kind in ("binary", "categorical") and len(distinct) > MAX_CLASSES:
        raise DataError(f"{flag}: column {name!r} has {len(distinct)} distinct values, more than "
                        f"{MAX_CLASSES} classes; declare it continuous (--label-kind "
                        f"{name}=continuous) or drop it")
    if kind == "categorical" and use_words \
            and len(distinct) == len(known_idx) > 2 * MAX_INTEGER_CLASSES:
        raise DataError(f"{flag}: column {name!r} has a different value in every row "
                        f"({len(distinct)} distinct): an identifier, not a label; drop it")
    if kind == "continuous":
        values = raw.copy()
        return LabelColumn(name, kind, values, None, raw)
    if kind == "binary":
        classes = list(distinct)
        if use_words:
            low = [c.lower() for c in classes]
            for neg, pos in _WORD_PAIRS:
                if sorted(low) == sorted([neg, pos]):
                    classes = sorted(classes, key=lambda c: c.lower() != neg)
                    break
    else:
        classes = list(distinct)
    if use_words:
        index = {c: k for k, c in enumerate(classes)}
        for i in known_idx:
            values[i] = index[stripped[i]]
    else:
        order = {float(v): k for k, v in enumerate(distinct_num)}
        for i in known_idx:
            values[i] = order[float(raw[i])]
    return LabelColumn(name, kind, values, classes, raw)


def parse_kinds(items: Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """``["age=continuous", ...]`` (``--label-kind`` values) -> ``{"age": "continuous"}``."""
    if items is None:
        return {}
    if isinstance(items, Mapping):
        pairs = list(items.items())
    else:
        pairs = []
        for item in items:
            if "=" not in item:
                raise DataError(f"--label-kind {item!r}: write COLUMN=KIND, KIND one of "
                                f"{', '.join(LABEL_KINDS)}")
            col, k = item.rsplit("=", 1)
            pairs.append((col.strip(), k.strip()))
    out = {}
    for col, k in pairs:
        if k not in LABEL_KINDS:
            raise DataError(f"--label-kind {col}={k}: kind must be one of {', '.join(LABEL_KINDS)}")
        out[col] = k
    return out


def _check_declared(kinds: Mapping[str, str], names: Sequence[str], source: str) -> None:
    unknown = [k for k in kinds if k not in names]
    if unknown:
        raise DataError(f"--label-kind: column(s) {unknown} are not in {source}; its label "
                        f"columns are {list(names)}")


# ---------------------------------------------------------------------------- CSV
def _normalise_file(cell: str) -> str:
    cell = cell.strip().replace("\\", "/")
    while cell.startswith("./"):
        cell = cell[2:]
    return cell


def read_csv_table(path: str | os.PathLike) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a CSV; comma, semicolon or tab separated; refuses ragged rows."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--labels: file {path} does not exist")
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise DataError(f"--labels: {path} is {size / 2**30:.1f} GiB, larger than the "
                        f"{MAX_CSV_BYTES / 2**30:.0f} GiB this reader accepts")
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"--labels: {path} is not UTF-8 text: {exc}") from exc
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count) if any(d in first for d in ",;\t") else ","
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter)
            if any(c.strip() for c in r)]
    if not rows or len(rows[0]) < 2:
        raise DataError(f"--labels: {path} needs a header 'file,<label>,...' with at least one "
                        "label column")
    header = [h.strip() for h in rows[0]]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(f"--labels: {path}: duplicate column name(s) {dupes}")
    if any(not h for h in header):
        raise DataError(f"--labels: {path}: column {header.index('') + 1} has no name")
    body = rows[1:]
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise DataError(f"--labels: {path}: row {i + 2} has {len(r)} cells, the header has "
                            f"{len(header)}")
    return header, body


def read_labels_csv(
    path: str | os.PathLike,
    file_names: Sequence[str],
    kinds: Mapping[str, str] | None = None,
    file_column: str | None = None,
    where: str = "the image folder",
    other_files: Sequence[str] = (),
) -> list[LabelColumn]:
    """Label columns of a CSV, in the order of ``file_names`` (one row per image).

    The file column is ``file_column``, else the first column named like a file
    (:data:`FILE_COLUMN_NAMES`), else the first column. A cell names an image by its path
    relative to the folder (or by its bare file name when those are unique). Every image needs
    exactly one row and every row an image; rows naming ``other_files`` (images of the folder
    left out, e.g. by ``--max-images``) are skipped.
    """
    path = Path(path)
    header, body = read_csv_table(path)
    if file_column is None:
        lowered = [h.lower() for h in header]
        fcol = next((lowered.index(n) for n in FILE_COLUMN_NAMES if n in lowered), 0)
    else:
        if file_column not in header:
            raise DataError(f"--labels: {path} has no column {file_column!r}; columns: {header}")
        fcol = header.index(file_column)
    label_cols = [j for j in range(len(header)) if j != fcol]
    names = [header[j] for j in label_cols]
    kinds = dict(kinds or {})
    _check_declared(kinds, names, str(path))
    if not body:
        raise DataError(f"--labels: {path} has a header but no rows")

    index = {n: i for i, n in enumerate(file_names)}
    base = {}
    for i, n in enumerate(file_names):
        base.setdefault(n.rsplit("/", 1)[-1], []).append(i)
    skipped = set(other_files)
    skipped |= {n.rsplit("/", 1)[-1] for n in other_files}
    row_of = np.full(len(file_names), -1, dtype=np.int64)
    unknown: list[str] = []
    for r, row in enumerate(body):
        cell = _normalise_file(row[fcol])
        i = index.get(cell)
        if i is None and len(base.get(cell, ())) == 1:
            i = base[cell][0]
        if i is None:
            if cell not in skipped:
                unknown.append(cell)
            continue
        if row_of[i] >= 0:
            raise DataError(f"--labels: {path}: image {file_names[i]!r} has two rows "
                            f"({row_of[i] + 2} and {r + 2}); keep one")
        row_of[i] = r
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:3])
        raise DataError(
            f"--labels {path}: {len(unknown)} row(s) name files that are not in {where} "
            f"(first: {shown}); fix the names or delete those rows"
        )
    no_row = [file_names[i] for i in np.flatnonzero(row_of < 0)]
    if no_row:
        raise DataError(
            f"--labels {path}: image/label count mismatch: {len(no_row)} of {len(file_names)} "
            f"images in {where} have no row (first: {no_row[0]!r}); add rows (empty cells are "
            "missing labels) or move those images out"
        )
    ordered = [body[r] for r in row_of]
    row_labels = [f"{r + 2} (file {file_names[i]!r})" for i, r in enumerate(row_of)]
    return [parse_column(nm, [row[j] for row in ordered], kinds.get(nm), row_labels)
            for nm, j in zip(names, label_cols, strict=True)]


# ---------------------------------------------------------------------------- arrays (npz)
def columns_from_arrays(
    arrays: Mapping[str, np.ndarray], n: int, kinds: Mapping[str, str] | None = None,
    source: str = "the npz",
) -> list[LabelColumn]:
    """Label columns from named arrays of length ``n`` ([n] or [n, K]: K columns ``name_k``).

    Numeric arrays (NaN = missing) and unicode string arrays are accepted; object arrays are not
    (they would need unpickling).
    """
    cols: list[tuple[str, list[str]]] = []
    for key, arr in arrays.items():
        arr = np.asarray(arr)
        if arr.dtype.kind == "O":
            raise DataError(f"--data: {source}: array {key!r} holds Python objects; store labels "
                            "as numbers or fixed-width strings")
        if arr.ndim == 0 or arr.shape[0] != n:
            raise DataError(f"--data: {source}: label array {key!r} has shape {arr.shape}, but "
                            f"there are {n} images; label arrays must be [{n}] or [{n}, K]")
        if arr.ndim > 2:
            raise DataError(f"--data: {source}: label array {key!r} has {arr.ndim} dims; use "
                            f"[{n}] or [{n}, K]")
        if arr.dtype.kind == "b":
            arr = arr.astype(np.int64)
        if arr.dtype.kind not in "biufU":
            raise DataError(f"--data: {source}: label array {key!r} has dtype {arr.dtype}")
        parts = [(key, arr)] if arr.ndim == 1 else [
            (f"{key}_{k}", arr[:, k]) for k in range(arr.shape[1])]
        for name, col in parts:
            if col.dtype.kind == "U":
                cols.append((name, [str(c) for c in col]))
            else:
                cols.append((name, ["" if (col.dtype.kind == "f" and np.isnan(v)) else repr(
                    v.item()) for v in col]))
    kinds = dict(kinds or {})
    _check_declared(kinds, [c[0] for c in cols], source)
    return [parse_column(name, cells, kinds.get(name), None, flag=f"--data {source}")
            for name, cells in cols]


def stack_targets(columns: Sequence[LabelColumn]) -> np.ndarray:
    """float32 [N, K] targets (NaN = missing), one column per :class:`LabelColumn`."""
    return np.stack([c.values for c in columns], axis=1).astype(np.float32)

"""Model cards: the ``MODEL_CARD.md`` beside a model's weights (one writer, one file name)."""

from __future__ import annotations

import os
from pathlib import Path

from latentatlas.utils.atomic import atomic_write_bytes

#: The card's file name in a model folder.
MODEL_CARD = "MODEL_CARD.md"


def model_card_path(folder: str | os.PathLike) -> Path:
    """Where the model card of ``folder`` is."""
    return Path(folder) / MODEL_CARD


def save_model_card(folder: str | os.PathLike, text: str) -> Path:
    """Write the Markdown ``text`` as ``folder/MODEL_CARD.md`` (atomically, UTF-8, ending in
    one newline); returns its path."""
    return atomic_write_bytes(model_card_path(folder), (text.rstrip("\n") + "\n").encode("utf-8"))

"""docs/reliability.md is generated from the suite's cases, and the suite is big enough."""

from __future__ import annotations

from cases import CLI_CASES, LOADER_CASES
from make_table import DOC, render


def test_docs_table_is_generated_from_the_cases() -> None:
    assert DOC.read_text("utf-8") == render(), "run: python tests/robustness/make_table.py"


def test_suite_covers_every_command_with_at_least_300_cases() -> None:
    assert len(CLI_CASES) + len(LOADER_CASES) >= 300
    commands = {c.command.split()[0] for c in CLI_CASES}
    assert commands >= {"generate", "sample", "explore", "convert", "train", "vae", "predictors",
                        "metrics", "quality", "data", "tour"}
    assert len({c.id for c in CLI_CASES + LOADER_CASES}) == len(CLI_CASES) + len(LOADER_CASES)

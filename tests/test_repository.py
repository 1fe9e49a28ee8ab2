"""Rules of the repository's weight: one checkpoint per unfinished run, no commit hash as storage.

Checks the working tree (skips when the tests run outside a checkout, e.g. from an sdist).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WIP = ROOT / "zoo_wip"
CHECKPOINT = re.compile(r"^ckpt-\d+\.(safetensors|pt)$")
#: "commit 6a27924", "(commit 998680a, ...)": a commit named as the place a file is kept.
COMMIT_AS_STORAGE = re.compile(r"\bcommits?\s+[0-9a-f]{7,40}\b|\bgit history\b", re.IGNORECASE)


def checkpoints_per_run(wip: Path) -> dict[str, list[str]]:
    return {run.name: sorted(p.name for p in run.rglob("*") if CHECKPOINT.match(p.name))
            for run in sorted(wip.iterdir()) if run.is_dir()}


def commit_citations(text: str) -> list[str]:
    return [m.group(0) for m in COMMIT_AS_STORAGE.finditer(text)]


@pytest.mark.skipif(not WIP.is_dir(), reason="not a checkout (no zoo_wip/)")
def test_at_most_one_checkpoint_per_unfinished_run():
    too_many = {run: ckpts for run, ckpts in checkpoints_per_run(WIP).items() if len(ckpts) > 1}
    assert not too_many, f"replace, don't accumulate, checkpoints in zoo_wip: {too_many}"


@pytest.mark.skipif(not (ROOT / "docs").is_dir(), reason="not a checkout (no docs/)")
def test_cards_and_docs_cite_no_commit_as_storage():
    pages = [*ROOT.glob("docs/*.md"), *ROOT.glob("zoo_wip/**/*.md"), ROOT / "README.md",
             *ROOT.glob("src/latentatlas/zoo/*/MODEL_CARD.md")]
    found = {str(p.relative_to(ROOT)): c for p in pages if (c := commit_citations(p.read_text()))}
    assert not found, found


def test_the_checks_can_fail(tmp_path):
    run = tmp_path / "shapes3d" / "checkpoints"
    run.mkdir(parents=True)
    for step in (100, 200):
        (run / f"ckpt-{step:08d}.safetensors").write_bytes(b"")
    (tmp_path / "mnist").mkdir()
    assert checkpoints_per_run(tmp_path) == {
        "shapes3d": ["ckpt-00000100.safetensors", "ckpt-00000200.safetensors"], "mnist": []}
    assert commit_citations("is in the git history (commit 6a27924, zoo_wip/)") == [
        "git history", "commit 6a27924"]
    assert commit_citations("1.16 s vs 9.40 s; sha256 of the file: see SHA256SUMS") == []

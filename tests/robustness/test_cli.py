"""Every CLI case of cases.py: the exit code, one ``Error:`` line with the key words and no
traceback, and nothing that existed before changed (accepted cases: only the files they may
replace). No temporary file is left behind."""

from __future__ import annotations

import pytest
from cases import CLI_CASES, CliCase
from click.testing import CliRunner

from conftest import tree_digest
from latentatlas.cli import main


def _leftovers(root) -> list[str]:
    return [str(p) for p in root.rglob("*")
            if p.name.startswith(".staging-") or (p.name.startswith(".") and p.suffix
                                                  and p.name.count(".") >= 3
                                                  and p.name != ".owner.json")]


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.id)
def test_cli_case(case: CliCase, ws) -> None:
    args = [a.replace("{ws}", str(ws)) for a in case.args]
    before = tree_digest(ws)
    result = CliRunner().invoke(main, args)
    out = result.output
    assert "Traceback" not in out and "(a bug;" not in out, out
    assert result.exit_code == case.exit, out
    assert not (ws / "bad" / "PWNED").exists()  # no file-borne code ever ran
    if case.exit:
        errors = [line for line in out.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1, out
        assert result.exception is None or isinstance(result.exception, SystemExit), out
        for word in case.words:
            assert word in errors[0].lower(), (word, errors[0])
        assert tree_digest(ws) == before  # a refusal changes nothing
    else:
        for word in case.words:
            assert word in out.lower(), (word, out)
        if "*" not in case.replaces:
            after = tree_digest(ws)
            changed = {k for k, v in before.items() if after.get(k) != v}
            assert changed <= set(case.replaces), changed
    assert not _leftovers(ws)

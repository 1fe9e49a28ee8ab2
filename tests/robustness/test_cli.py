"""Every CLI case of cases.py: the exit code, one ``Error:`` line with the key words and no
traceback, and nothing that existed before changed (accepted cases: only the files they may
replace). No temporary file is left behind."""

from __future__ import annotations

import shutil

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
    result = CliRunner().invoke(main, args, env=dict(case.env))
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


def test_debug_flag_and_environment_show_the_traceback(ws, monkeypatch) -> None:
    from latentatlas.utils.errors import CheckpointError

    args = ["generate", "--model", str(ws / "nope"), "--out", str(ws / "a.png")]
    plain = CliRunner().invoke(main, args)
    assert plain.exit_code == 1 and isinstance(plain.exception, SystemExit)
    debug = CliRunner().invoke(main, ["--debug", *args])
    assert isinstance(debug.exception, CheckpointError)  # raised with its traceback
    monkeypatch.setenv("LATENTATLAS_DEBUG", "1")
    assert isinstance(CliRunner().invoke(main, args).exception, CheckpointError)


def test_a_folder_claimed_by_one_model_refuses_another(tmp_path) -> None:
    """explore's rule (claim_folder): same identity resumes, another is refused, --overwrite
    empties the folder first."""
    from latentatlas.utils.errors import OutputExistsError
    from latentatlas.utils.outputs import claim_folder

    out = tmp_path / "ex"
    assert claim_folder(out, {"model": "a"}) is False
    (out / "result.txt").write_text("a's result")
    assert claim_folder(out, {"model": "a"}) is True
    with pytest.raises(OutputExistsError, match="another model"):
        claim_folder(out, {"model": "b"})
    assert (out / "result.txt").read_text() == "a's result"
    assert claim_folder(out, {"model": "b"}, overwrite=True) is False
    assert not (out / "result.txt").exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x").write_text("x")
    with pytest.raises(OutputExistsError, match="not a run"):
        claim_folder(foreign, {"model": "a"})


@pytest.mark.parametrize("command", ["discover", "invert", "ganalyze", "steer"])
def test_new_commands_resume_their_own_folder_and_refuse_another_model(ws, command) -> None:
    """The folder a first run claimed: the same run again is accepted (resume or finished run
    kept), another model's run into it is refused and changes nothing."""
    from cases import DIS, GAN, INV, STE

    base = {"discover": DIS, "invert": INV, "ganalyze": GAN, "steer": STE}[command]
    args = base.replace("{ws}", str(ws)).split()
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    other = ws / "gen2"
    shutil.copytree(ws / "gen", other)
    before = tree_digest(ws)
    refused = CliRunner().invoke(main, [str(other) if a == str(ws / "gen") else a
                                        for a in args])
    assert refused.exit_code == 1, refused.output
    assert "another model" in refused.output and "--out" in refused.output, refused.output
    assert tree_digest(ws) == before

"""`latentatlas steer` and `latentatlas ganalyze` on the shipped dSprites GAN (a few steps):
outputs, resume, and one-line errors for bad input."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

import latentatlas
from latentatlas.cli import main


def _run(args):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_steer_cli_writes_a_loadable_walk_and_resumes(tmp_path):
    out = tmp_path / "steer"
    args = ["steer", "--model", "dsprites", "--transform", "shift_x", "--out", str(out),
            "--steps", "4", "--n-eval", "4", "--no-progress"]
    res = _run(args)
    assert res.exit_code == 0, res.output
    assert "steerability" in res.output
    for name in ("results.json", "run.json", "figure.png", "walk/config.json",
                 "checkpoint/train_state.pt"):
        assert (out / name).is_file(), name
    results = json.loads((out / "results.json").read_text())
    assert results["measure"] == "moments:centroid_x" and len(results["curve"]) == 13
    assert 0.0 <= results["score"]["range_fraction"] <= 1.0
    walk = latentatlas.load(str(out / "walk"))
    x = np.zeros((2, 8), np.float32)
    assert walk.walk(x, 0.5).shape == (2, 8)
    before = (out / "results.json").read_text()
    assert _run(args).exit_code == 0  # finished: kept, not retrained
    assert (out / "results.json").read_text() == before


def test_steer_cli_nonlinear_and_measure_columns(tmp_path):
    res = _run(["steer", "--model", "dsprites", "--transform", "zoom", "--walk", "nonlinear",
                "--out", str(tmp_path / "z"), "--steps", "2", "--n-steps", "2", "--n-eval", "4",
                "--measure", "dsprites:scale", "--no-progress"])
    assert res.exit_code == 0, res.output
    results = json.loads((tmp_path / "z" / "results.json").read_text())
    assert results["measure"] == "dsprites:scale"
    assert {"column", "slope", "slope_sd"} <= set(results["side_effects"][0])


def test_ganalyze_cli(tmp_path):
    out = tmp_path / "g"
    res = _run(["ganalyze", "--model", "dsprites", "--assessor", "pixel:brightness", "--out",
                str(out), "--steps", "3", "--n-eval", "4", "--no-progress"])
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    assert set(results["curves"]) == {"bigger_step", "iterative"}
    np.testing.assert_allclose(results["curves"]["bigger_step"]["amounts"],
                               [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3])


def test_walk_cli_bad_input_is_one_line(tmp_path):
    cases = [
        (["steer", "--model", "dsprites", "--transform", "color"], "RGB generator"),
        (["ganalyze", "--model", "dsprites", "--assessor", "pixel:Smiling"], "unknown column"),
        (["ganalyze", "--model", "dsprites", "--assessor", "brightness"], "SCORER:COLUMN"),
        (["steer", "--model", "dsprites", "--transform", "zoom", "--measure", "moments:nope"],
         "unknown column"),
        (["ganalyze", "--model", "dsprites", "--assessor", "pixel:brightness", "--logits"],
         "logits apply to predictor"),
    ]
    for args, msg in cases:
        res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "x"), "--steps", "1",
                                        "--no-progress"])
        assert res.exit_code != 0
        err = [line for line in res.output.splitlines() if line.startswith("Error: ")]
        assert len(err) == 1 and msg in err[0], res.output
        assert "Traceback" not in res.output, res.output


def test_ganalyze_cli_predictor_logits(tmp_path):
    out = tmp_path / "l"
    res = _run(["ganalyze", "--model", "dsprites", "--assessor", "dsprites:scale_0", "--logits",
                "--out", str(out), "--steps", "2", "--n-eval", "4", "--no-progress"])
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    assert results["logits"] is True and results["assessor"] == "dsprites:scale_0"


def test_side_effects_of_a_generator_outside_the_zoo_are_pixel_statistics():
    from latentatlas.pipelines.walks import side_scorer_of

    scorer = side_scorer_of("/nonexistent/user_model", channels=1)
    assert "brightness" in scorer.names

"""The shipped shapes3d_control (issue 23): GAN-Control on shapes3d with its controllers.

Its card reports, on 200 codes per value (seed 0), each hue and the shape set to the asked
value on >= 90 % of codes. Here other codes (seed 11, 40 per value) must read the asked value
nearly as often, and the card must quote the benchmark's numbers.
"""

import json
from pathlib import Path

import pytest
import torch

from _shipped_gan import requires_shipped

pytestmark = requires_shipped("shapes3d_control", "predictor_shapes3d")


def test_shipped_controllers_set_each_hue_and_the_shape():
    from latentatlas.analysis.control import controller_report
    from latentatlas.models import load
    from latentatlas.pipelines.control import load_controlled

    torch.set_num_threads(1)
    G, cs = load_controlled("shapes3d_control")
    assert G.group_slices("w")["floor_hue"] == slice(0, 16)
    P = load("predictor_shapes3d").eval()
    rep = controller_report(G, cs, P, attributes=["floor_hue", "wall_hue", "object_hue",
                                                  "shape"], n=40, seed=11, progress=False)
    for name, r in rep["attributes"].items():
        assert r["mean_accuracy"] >= 0.85, (name, r["mean_accuracy"])


def test_card_quotes_the_benchmark_numbers():
    from latentatlas.io import available_models

    card = (available_models()["shapes3d_control"] / "MODEL_CARD.md").read_text()
    result = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / \
        "gan_control.json"
    if not result.is_file():
        pytest.skip("not a checkout")
    control = json.loads(result.read_text())["control"]["attributes"]
    for name, r in control.items():
        assert f"| {name} | {r['mean_accuracy']:.3f} (" in card
    assert "![rows:" in card

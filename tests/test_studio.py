"""The studio's server endpoints, called directly (FastAPI's test client; no browser)."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi", reason="the studio extra (fastapi) is not installed")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")

with warnings.catch_warnings():  # starlette's note about httpx versions
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from _inversion_models import save_tiny_models, tiny_generator  # noqa: E402
from latentatlas.studio import StudioError, build_studio  # noqa: E402
from latentatlas.studio.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("studio")
    paths = save_tiny_models(root)
    studio = build_studio([str(paths["generator"])], [str(paths["directions"])],
                          root / "saved", predictor=str(paths["predictor"]), encoder=None,
                          invert_steps=5)
    return TestClient(create_app(studio)), str(paths["generator"]), root


def _face_png() -> bytes:
    with torch.no_grad():
        g = tiny_generator()
        img = g.synthesize(g.sample(1, "w", rng=7), "w").clamp(-1, 1)
    arr = ((img[0].permute(1, 2, 0).numpy() + 1) * 127.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _edit(alpha, **kw):
    return [{"set": "dirs", "name": "Smiling", "alpha": alpha, **kw}]


def test_page_and_info(setup):
    client, model, _ = setup
    page = client.get("/")
    assert page.status_code == 200 and "latentatlas studio" in page.text
    assert "http://" not in page.text.replace("http://' +", "")  # no external resources
    info = client.get("/api/info").json()
    assert [m["name"] for m in info["models"]] == [model]
    assert info["models"][0]["num_ws"] == 6
    assert info["models"][0]["attributes"] == ["Smiling", "Male"]
    assert info["direction_sets"][0]["name"] == "dirs"
    assert [d["name"] for d in info["direction_sets"][0]["directions"]] == ["Smiling", "Male"]


def test_seed_render_moves_image_and_scores(setup):
    client, model, _ = setup
    r = client.post("/api/seed", json={"model": model, "seed": 3, "truncation": 0.7})
    assert r.status_code == 200
    seed = r.json()
    assert seed["image"].startswith("data:image/png;base64,")
    assert set(seed["scores"]) == {"Smiling", "Male"}
    same = client.post("/api/render", json={"base": seed["base"], "edits": _edit(0.0)}).json()
    assert same["image"] == seed["image"] and same["scores"] == seed["scores"]
    moved = client.post("/api/render", json={"base": seed["base"], "edits": _edit(4.0)}).json()
    assert moved["image"] != seed["image"] and moved["scores"] != seed["scores"]
    # a layer range moves less of the code: a different image again
    part = client.post("/api/render", json={"base": seed["base"],
                                            "edits": _edit(4.0, layers=[0, 1])}).json()
    assert part["image"] not in (seed["image"], moved["image"])
    cond = client.post("/api/render", json={"base": seed["base"],
                                            "edits": _edit(4.0, conditional=True)}).json()
    assert cond["image"] != moved["image"]


def test_bad_requests_get_clear_messages(setup):
    client, model, _ = setup
    base = client.post("/api/seed", json={"model": model, "seed": 1}).json()["base"]
    cases = [
        ("/api/seed", {"model": "celeba64", "seed": 1}, 400, "unknown model"),
        ("/api/seed", {"model": model, "seed": "x"}, 400, "seed must be"),
        ("/api/render", {"base": "nope", "edits": []}, 404, "unknown or expired"),
        ("/api/render", {"base": base, "edits": _edit(99)}, 400, "alpha must be in"),
        ("/api/render", {"base": base, "edits": _edit(1, layers=[0, 9])}, 400, "layers must"),
        ("/api/render", {"base": base, "edits": [{"set": "dirs", "name": "Bald", "alpha": 1}]},
         400, "no direction"),
        ("/api/render", {"base": base, "edits": [{"set": "../x", "name": "a", "alpha": 1}]},
         400, "unknown direction set"),
    ]
    for path, body, status, text in cases:
        r = client.post(path, json=body)
        assert r.status_code == status, (path, body, r.text)
        assert text in r.json()["detail"]
    r = client.post("/api/render", content=b"{not json", headers={"content-type":
                                                                   "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["detail"]


def test_upload_inverts_a_photo_and_rejects_non_images(setup):
    client, model, _ = setup
    up = f"/api/upload?model={model}"
    r = client.post(up, content=_face_png(), headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["original"].startswith("data:image/png") and body["pixel_mse"] >= 0
    assert client.post("/api/render", json={"base": body["base"], "edits": _edit(2)}
                       ).status_code == 200
    r = client.post(up, content=b"GIF89 junk", headers={"content-type": "image/png"})
    assert r.status_code == 415 and "not an image" in r.json()["detail"]
    r = client.post(up, content=b"hello", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "must be images" in r.json()["detail"]
    r = client.post(up, content=b"\0" * ((8 << 20) + 1), headers={"content-type": "image/png"})
    assert r.status_code == 413 and "limit is 8 MiB" in r.json()["detail"]
    r = client.post("/api/upload?model=other", content=_face_png(),
                    headers={"content-type": "image/png"})
    assert r.status_code == 400 and "unknown model" in r.json()["detail"]


def test_save_writes_only_inside_the_output_folder(setup):
    client, model, root = setup
    base = client.post("/api/seed", json={"model": model, "seed": 2}).json()["base"]
    r = client.post("/api/save", json={"base": base, "edits": _edit(2.5, layers=[1, 3]),
                                       "name": "../../escape/me"})
    assert r.status_code == 200, r.text
    saved = r.json()["saved"]
    assert saved == ["escape_me.json", "escape_me.npy", "escape_me.png",
                     "escape_me_directions.safetensors"]
    out = root / "saved"
    assert sorted(p.name for p in out.iterdir()) == saved
    assert not (root / "escape").exists()
    code = np.load(out / "escape_me.npy")
    assert code.shape == (6, 8)
    record = json.loads((out / "escape_me.json").read_text())
    assert record["edits"] == [{"alpha": 2.5, "layers": "1-3", "set": "dirs", "name": "Smiling",
                                "conditional": False}]
    from latentatlas.directions import Directions

    assert Directions.load(out / "escape_me_directions.safetensors").names == ["Smiling"]


def test_build_studio_loads_only_named_models(tmp_path):
    with pytest.raises(StudioError, match="neither a model folder nor a shipped model"):
        build_studio([str(tmp_path / "missing")])
    with pytest.raises(StudioError, match="not a Directions file"):
        build_studio(["celeba64"], [str(tmp_path)], predictor=None, encoder=None)

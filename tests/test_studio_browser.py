"""The studio in a real browser: headless Chromium (Debian's package) driven by Playwright loads
the page, moves a slider with the keyboard and checks that the image and the scores changed.

Skips with a message when Playwright or Chromium is missing (``make browser`` installs both);
``$LATENTATLAS_CHROMIUM`` names another Chromium executable."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the studio extra (fastapi, uvicorn) is not installed")
uvicorn = pytest.importorskip("uvicorn", reason="the studio extra (uvicorn) is not installed")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed: run `make browser`")

from _inversion_models import save_tiny_models  # noqa: E402
from latentatlas.studio import build_studio  # noqa: E402
from latentatlas.studio.app import create_app  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    for cand in (os.environ.get("LATENTATLAS_CHROMIUM"), "/usr/bin/chromium",
                 shutil.which("chromium"), shutil.which("chromium-browser")):
        if cand and Path(cand).is_file():
            return cand
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("studio_browser")
    paths = save_tiny_models(root)
    studio = build_studio([str(paths["generator"])], [str(paths["directions"])], root / "saved",
                          predictor=str(paths["predictor"]), encoder=None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(studio), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/", root
    srv.should_exit = True
    thread.join(timeout=10)


def test_slider_move_updates_image_and_scores(server):
    exe = chromium_path()
    if exe is None:
        pytest.skip("Chromium is not installed (run `make browser`, or set "
                    "$LATENTATLAS_CHROMIUM)")
    url, root = server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']", timeout=30000)
            page.wait_for_function("document.getElementById('edited').dataset.version >= 1",
                                   timeout=30000)
            before_img = page.get_attribute("#edited", "src")
            before_scores = page.inner_text("#scores")
            assert before_img.startswith("data:image/png;base64,")
            assert "Smiling" in before_scores and "Male" in before_scores
            version = int(page.get_attribute("#edited", "data-version"))

            slider = page.locator("input.alpha[data-name='Smiling']")
            slider.focus()
            page.keyboard.press("End")  # to the slider's maximum, like a user would
            page.wait_for_function(
                f"document.getElementById('edited').dataset.version > {version}"
                " && !document.querySelector('#status').textContent", timeout=30000)
            page.wait_for_timeout(300)  # let a queued render land
            assert slider.input_value() == "10"
            after_img = page.get_attribute("#edited", "src")
            after_scores = page.inner_text("#scores")
            assert after_img != before_img
            assert after_scores != before_scores
            assert page.get_attribute("#before", "src") == before_img  # before stays put

            page.fill("#save-name", "from_browser")
            page.click("#save")
            page.wait_for_function(
                "document.querySelector('#status').textContent.startsWith('saved')",
                timeout=30000)
            assert (root / "saved" / "from_browser.png").is_file()
        finally:
            browser.close()

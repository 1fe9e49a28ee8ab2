"""Studio latency: time from a slider move to the new image and scores, for celeba64 (64 px).

Starts the real server (uvicorn, 127.0.0.1, a free port) over celeba64 with the shipped
predictor and the benchmark directions (benchmarks/_celeba64_directions.py), then replays
``--moves`` slider moves as the page sends them (POST /api/render with every active edit:
one direction swept -3 .. 3 in steps of 0.1, a second fixed, layer ranges as the page sends them)
and records the round-trip time of each request over HTTP (render + predictor + PNG + JSON) and
the server-side time. The target is 0.3 s per move on a 2-core CPU.

With ``--screenshot PATH`` (Playwright + Chromium installed) it also opens the page in headless
Chromium, uploads a held-out CelebA face, moves the Smiling slider and saves a screenshot.

Writes benchmarks/results/studio.json. Usage:
    PYTHONPATH=src python benchmarks/bench_studio.py [--moves 60] [--threads 2]
        [--screenshot docs/img/studio.png]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _celeba64_directions import celeba64_directions  # noqa: E402
from latentatlas.studio import build_studio  # noqa: E402
from latentatlas.studio.app import create_app  # noqa: E402
from latentatlas.utils.atomic import atomic_write_json  # noqa: E402
from latentatlas.utils.runinfo import environment_info  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def start_server(studio):
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(studio), host="127.0.0.1", port=port,
                                        log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    return srv, f"http://127.0.0.1:{port}"


def screenshot(url: str, path: str, face: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 720})
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready='1']", timeout=60000)
        page.set_input_files("#upload", str(face))
        page.wait_for_function("document.querySelector('#before-label').textContent"
                               ".includes('photo')", timeout=120000)
        slider = page.locator("input.alpha[data-name='Smiling']")
        slider.focus()
        for _ in range(25):
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(1500)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=path, full_page=False)
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--encoder", default="auto")
    ap.add_argument("--screenshot", default=None)
    ap.add_argument("--face", default="009005.jpg", help="held-out CelebA file for the shot")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "studio.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dirs_path = ROOT / "runs" / "celeba64_directions.safetensors"
    celeba64_directions(dirs_path)
    studio = build_studio(["celeba64"], [str(dirs_path)], ROOT / "runs" / "studio_bench",
                          encoder=args.encoder)
    srv, url = start_server(studio)
    base = post(url + "/api/seed", {"model": "celeba64", "seed": 0})["base"]
    for _ in range(3):  # warm-up
        post(url + "/api/render", {"base": base, "edits": []})
    rtt, server_ms = [], []
    for i in range(args.moves):
        alpha = round(-3 + 6 * i / max(1, args.moves - 1), 1)
        edits = [{"set": dirs_path.stem, "name": "Smiling", "alpha": alpha, "layers": [0, 9]},
                 {"set": dirs_path.stem, "name": "Male", "alpha": 1.0, "layers": [0, 5],
                  "conditional": i % 2 == 1}]
        t0 = time.perf_counter()
        r = post(url + "/api/render", {"base": base, "edits": edits})
        rtt.append(time.perf_counter() - t0)
        server_ms.append(r["ms"])
    srt = sorted(rtt)
    result = {
        "model": "celeba64 (64 px) + predictor_celeba64 scores",
        "moves": args.moves, "torch_threads": args.threads,
        "round_trip_s": {"median": round(statistics.median(rtt), 4),
                         "p95": round(srt[int(0.95 * (len(srt) - 1))], 4),
                         "max": round(srt[-1], 4), "mean": round(statistics.fmean(rtt), 4)},
        "server_ms": {"median": round(statistics.median(server_ms), 1),
                      "max": round(max(server_ms), 1)},
        "target_s": 0.3,
        "meets_target": srt[int(0.95 * (len(srt) - 1))] <= 0.3,
        "environment": environment_info(),
    }
    atomic_write_json(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "environment"}, indent=1))
    if args.screenshot:
        face = ROOT / "runs" / "studio_faces" / args.face
        if not face.is_file():
            import tarfile

            face.parent.mkdir(parents=True, exist_ok=True)
            tar = Path(ROOT.parent / "shared" / "data" / "celeba" /
                       "celeba_first10000_jpg_89x109.tar")
            with tarfile.open(tar) as t:
                member = t.getmember(f"./{args.face}")
                face.write_bytes(t.extractfile(member).read())
        screenshot(url, args.screenshot, face)
        print("wrote", args.screenshot)
    srv.should_exit = True


if __name__ == "__main__":
    main()

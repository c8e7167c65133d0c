"""The web page end to end in headless Chromium (Debian's chromium driven by Playwright for
Python): load the page, upload demo record 213, wait for the strip, click a beat on it, check
that its explanation appears, filter the beat table, download the JSON, take a screenshot
(to ``$ECGLENS_SCREENSHOT`` when set) with the first V beat explained; and upload a phone
photo of a printout with no model chosen: the image model answers, the page shows the
upload, the straightened printout with its Grad-CAM overlay and the class probabilities.

Skips with a reason when Playwright or the chromium binary (``$ECGLENS_CHROMIUM``, default
/usr/bin/chromium) is missing. The server is `ecglens serve` on a free loopback port.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM = Path(os.environ.get("ECGLENS_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

from ecglens.serve.app import DEFAULT_MODELS  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "mitdb-demo"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BEAT = 1  # a beat in the first 10 s (the strip's first window)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``ecglens serve`` as a user runs it (its own process, worker processes forked from it),
    on a free loopback port; stopped after the module's tests."""
    import subprocess
    import sys
    import urllib.request

    port = _free_port()
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecglens", "serve", "--port", str(port), "--demo-dir", str(DEMO),
         *[arg for m in DEFAULT_MODELS for arg in ("--model", m)]],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("ecglens serve did not start")
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    log.close()


@contextmanager
def _page(server: str, profile: Path) -> Iterator[Any]:
    """A headless chromium page on the server's start page, its model list loaded; the test
    fails if the page logged an error or threw."""
    problems: list[str] = []
    with playwright.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=FLAGS, headless=True,
            viewport={"width": 1280, "height": 1000}, accept_downloads=True,
        )  # fmt: skip
        try:
            page = context.new_page()
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.goto(server)
            page.wait_for_function("document.querySelectorAll('#model option').length > 1")
            yield page
        finally:
            context.close()
    assert problems == []


def test_upload_a_record_click_a_beat_and_see_its_explanation(server, tmp_path):
    with _page(server, tmp_path / "profile") as page:
        assert page.locator("#demo option").count() == 3  # none, 213, 232

        files = [str(DEMO / f"213{suffix}") for suffix in (".hea", ".dat", ".atr")]
        page.set_input_files("#files", files)
        page.click("#run")
        page.wait_for_selector('#strip[data-ready="1"]', timeout=60_000)
        assert page.locator("#record-title").inner_text() == "Record 213"
        assert page.locator("#counts .chip").count() >= 5
        assert page.locator("#beats tbody tr").count() == 1000  # the first 1000 of 3248

        box = page.locator("#strip").bounding_box()
        x = page.evaluate(f"window.ecglens.beatX({BEAT})")
        assert x is not None, "beat not in the first window"
        page.mouse.click(box["x"] + x, box["y"] + box["height"] / 2)
        page.wait_for_selector(f'#beat-panel[data-ready="1"][data-beat="{BEAT}"]',
                               timeout=30_000)
        assert page.evaluate("document.getElementById('beat-figure').naturalWidth") > 200
        assert page.locator("#probs tr").count() == 5
        assert page.locator("#beat-title").inner_text().startswith(f"Beat {BEAT} ")
        assert "uncertainty" in page.locator("#beat-flags").inner_text()
        assert page.locator("#beats tbody tr.selected").count() == 1

        page.select_option("#filter-class", "V")
        labels = page.locator("#beats tbody td.cls").all_inner_texts()
        assert labels and set(labels) == {"V"}
        first_v = page.locator("#beats tbody tr").first
        v_index = first_v.get_attribute("data-beat")
        first_v.click()  # a row: the strip centres on the beat and explains it
        page.wait_for_selector(f'#beat-panel[data-ready="1"][data-beat="{v_index}"]',
                               timeout=30_000)
        assert page.locator("#beat-title").inner_text().endswith(": V")

        with page.expect_download() as download:
            page.click("#download-json")
        saved = tmp_path / "213.json"
        download.value.save_as(saved)
        assert json.loads(saved.read_text())["n_beats"] == 3248

        shot = Path(os.environ.get("ECGLENS_SCREENSHOT") or tmp_path / "serve.png")
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000


def test_the_recording_summary_comes_first_and_an_episode_click_moves_the_strip(server, tmp_path):
    with _page(server, tmp_path / "profile") as page:
        files = [str(DEMO / f"213{suffix}") for suffix in (".hea", ".dat", ".atr")]
        page.set_input_files("#files", files)
        page.click("#run")
        page.wait_for_selector('#strip[data-ready="1"]', timeout=60_000)
        terms = page.locator("#recording-summary dt").all_inner_texts()
        assert terms[:2] == ["Heart rate", "HRV"] and "AF burden" in terms
        assert "beats/min" in page.locator("#recording-summary dd").first.inner_text()
        episodes = page.evaluate("window.ecglens.state.json.summary.episodes")
        assert episodes, "record 213 has runs and pauses"
        band = page.locator("#rhythm-band .episode")
        assert band.count() == len(episodes)
        # an episode past the first window: clicking it brings the strip there
        k, episode = next((k, e) for k, e in enumerate(episodes) if e["start_s"] > 60)
        band.nth(k).click(force=True)
        t0 = page.evaluate("window.ecglens.state.view.t0")
        assert abs(t0 - (episode["start_s"] - 2)) < 0.5
        assert page.locator("#rhythm-band").get_attribute("data-episode") == (
            f"{episode['type']}@{episode['start_s']}"
        )
        # the list of episodes does the same
        j = next(
            j for j, e in enumerate(episodes) if abs(e["start_s"] - episode["start_s"]) > 20
        )
        page.locator("#episode-list button").nth(j).click()
        assert page.locator("#rhythm-band").get_attribute("data-episode") == (
            f"{episodes[j]['type']}@{episodes[j]['start_s']}"
        )
        assert page.evaluate("window.ecglens.state.view.t0") != t0


def test_upload_a_photo_of_a_printout_with_no_model_chosen(server, tmp_path):
    import numpy as np
    from conftest import draw_printout
    from PIL import Image

    from ecglens.inputs.images import photo_on_background

    photo, _ = photo_on_background(
        np.asarray(draw_printout((738, 524))), np.random.default_rng(2), (700, 900), "wood"
    )
    path = tmp_path / "printout photo.jpg"
    Image.fromarray(photo).save(path, quality=85)
    with _page(server, tmp_path / "profile") as page:
        assert page.locator("#model").input_value() == ""  # automatic
        page.set_input_files("#files", [str(path)])
        page.click("#run")
        page.wait_for_selector('#image-panel[data-ready="1"]', timeout=120_000)
        assert page.locator("#record-title").inner_text() == "Printout printout photo.jpg"
        assert "model ecglens-images-fused" in page.locator("#record-meta").inner_text()
        assert "straightened" in page.locator("#image-summary").inner_text()
        assert page.locator("#image-probs tr").count() == 4  # the four printout classes
        assert page.evaluate("document.getElementById('image-upload').naturalWidth") == 900
        overlay = page.evaluate("document.getElementById('image-figure').naturalWidth")
        assert overlay > 300  # the Grad-CAM figure arrived
        assert "grad-cam" in page.locator("#image-caption").inner_text().lower()
        assert page.locator("#table-panel").is_hidden()  # no empty beat table
        assert page.locator("#strip-panel").is_hidden()
        shot = os.environ.get("ECGLENS_SCREENSHOT")
        shot = Path(shot).with_name(Path(shot).stem + "-image.png") if shot else None
        shot = shot or tmp_path / "serve-image.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000


def test_upload_a_12lead_record_with_no_model_chosen(server, tmp_path):
    import numpy as np
    import wfdb

    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    t = np.arange(5000) / 500
    beats = sum(np.exp(-0.5 * ((t - b) / 0.02) ** 2) for b in np.arange(0.4, 10, 0.85))
    sig = np.stack([beats * (0.5 + k / 12) + 0.05 * np.sin(t + k) for k in range(12)], axis=1)
    wfdb.wrsamp(
        "syn12", fs=500, units=["mV"] * 12, sig_name=leads, p_signal=sig, fmt=["16"] * 12,
        adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(tmp_path),
    )  # fmt: skip
    with _page(server, tmp_path / "profile") as page:
        assert page.locator("#model").input_value() == ""  # automatic
        page.set_input_files("#files", [str(tmp_path / "syn12.hea"),
                                        str(tmp_path / "syn12.dat")])
        page.click("#run")
        page.wait_for_selector('#paper-panel[data-ready="1"]', timeout=120_000)
        assert "model ecglens-ptbxl-binary" in page.locator("#record-meta").inner_text()
        overlay = page.evaluate("document.getElementById('paper-figure').naturalWidth")
        assert overlay > 300  # the 12 leads on ECG paper with the relevance overlay
        assert page.locator("#strip-panel").is_hidden()

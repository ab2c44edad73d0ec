"""A real browser: headless Chromium (Debian's package) loads the page, uploads a clip and reads
the predicted emotion. Run by `make test-browser` (part of `make test`), which installs Chromium."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "outputs" / "test-run"


@pytest.mark.browser
def test_upload_in_a_real_browser(bundle_dir, tiny_table):
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run `make test-browser`, which installs Debian's chromium")
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from speechemo.app import create_app
    from speechemo.inference import Bundle

    server = make_server("127.0.0.1", 0, create_app(bundle_dir))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"
    clip = tiny_table.path.iloc[7]
    expected = Bundle(bundle_dir).predict_audio(clip)["emotion"]["label"]
    voice = tiny_table[tiny_table.actor == tiny_table.actor.iloc[0]].path.tolist()[:3]
    calibrated = Bundle(bundle_dir).predict_clips([(p, p) for p in voice], same_speaker=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            page = browser.new_page()
            page.goto(url)
            assert "SYNTHETIC" in page.content()
            page.set_input_files("#file", clip)
            page.click("#submit")
            page.wait_for_selector("#result:not([hidden])", timeout=30_000)
            shown = page.inner_text("#emotion")
            bars = page.locator("#bars .bar").count()
            SHOTS.mkdir(parents=True, exist_ok=True)
            # calibrate to a voice: several clips of one speaker, the calibrated result shown
            page.set_input_files("#calib-files", voice)
            page.click("#calib-submit")
            page.wait_for_selector("#calib-result:not([hidden])", timeout=60_000)
            mode = page.get_attribute("#calib-result", "data-mode")
            rows = page.locator("#calib-rows tr").count()
            first_clip = page.inner_text("#calib-rows tr:first-child td:nth-child(2)")
            calib_text = page.inner_text("#calib-mode")
            page.screenshot(path=str(SHOTS / "browser_prediction.png"), full_page=True)
            page.goto(url + "results")
            assert "Results of the workbook" in page.content()
            browser.close()
    finally:
        server.shutdown()
    assert shown == expected
    assert bars == 8
    assert mode == calibrated["mode"] == "speaker_normalised" and rows == 3
    assert first_clip == calibrated["clips"][0]["emotion"]["label"] and "Calibrated to this voice" in calib_text

"""A real browser: headless Chromium (Debian's package) drives the dashboard served on 127.0.0.1 --
an upload (bars and spectrogram drawn), a 2-minute recording (timeline segments, a click seeks the
player), the Explore page offline (no request leaves 127.0.0.1), the results page; screenshots of
each page at a laptop and a phone width go to outputs/test-run/. Run by `make test-browser` (part
of `make test`), which installs Chromium."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "outputs" / "test-run"
WIDTHS = {"laptop": (1280, 800), "phone": (390, 844)}
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(bundle_dir):
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run `make test-browser`, which installs Debian's chromium")
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from speechemo.serving.app import create_app

    server = make_server("127.0.0.1", 0, create_app(bundle_dir), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--autoplay-policy=no-user-gesture-required"])
        yield browser, f"http://127.0.0.1:{server.server_port}"
        browser.close()
    server.shutdown()


def _page(browser, width: str = "laptop"):
    w, h = WIDTHS[width]
    page = browser.new_page(viewport={"width": w, "height": h})
    hosts: list[str] = []
    # every network request's host (blob: and data: URLs are the page's own memory, not the network)
    page.on("request", lambda r: hosts.append(urlparse(r.url).hostname or "?")
            if urlparse(r.url).scheme not in ("blob", "data") else None)
    return page, hosts


def _shoot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_upload_draws_bars_and_spectrogram(site, bundle_dir, tiny_table):
    from speechemo.serving.inference import Bundle

    browser, url = site
    clip = tiny_table.path.iloc[7]
    expected = Bundle(bundle_dir).predict_audio(clip)["emotion"]["label"]
    voice = tiny_table[tiny_table.actor == tiny_table.actor.iloc[0]].path.tolist()[:3]
    calibrated = Bundle(bundle_dir).predict_clips([(p, p) for p in voice], same_speaker=True)
    for width in WIDTHS:
        page, hosts = _page(browser, width)
        page.goto(url + "/")
        assert "SYNTHETIC" in page.content()
        page.set_input_files("#file", clip)
        page.click("#submit")
        page.wait_for_selector("#result[data-done='1']", timeout=60_000)
        assert page.inner_text("#emotion") == expected
        assert page.locator("#bars-emotion .bars .point").count() == 8  # one bar per emotion
        assert page.locator("#spectrogram .heatmaplayer image, #spectrogram .hm image").count() >= 1
        assert page.locator("#waveform .scatterlayer .trace").count() == 2
        page.set_input_files("#calib-files", voice)
        page.click("#calib-submit")
        page.wait_for_selector("#calib-result:not([hidden])", timeout=60_000)
        assert page.get_attribute("#calib-result", "data-mode") == calibrated["mode"] == "speaker_normalised"
        assert page.locator("#calib-rows tr").count() == 3
        assert page.inner_text("#calib-rows tr:first-child td:nth-child(2)") == calibrated["clips"][0]["emotion"]["label"]
        _shoot(page, f"predict-{width}")
        assert set(hosts) == {"127.0.0.1"}, hosts
        page.close()


def test_long_recording_timeline_and_seek(site, long_wav):
    browser, url = site
    path, truth = long_wav
    for width in WIDTHS:
        page, hosts = _page(browser, width)
        page.goto(url + "/long")
        page.set_input_files("#long-file", str(path))
        page.click("#long-submit")
        page.wait_for_selector("#long-result:not([hidden])", timeout=120_000)
        n = page.locator("#timeline .seg").count()
        assert abs(n - len(truth)) <= 2, f"{n} segments for {len(truth)} phrases"
        seg = page.locator("#timeline .seg").nth(10)
        start = float(seg.get_attribute("data-start"))
        page.wait_for_function("document.getElementById('long-player').readyState >= 1", timeout=30_000)
        seg.click()
        page.wait_for_function(f"Math.abs(document.getElementById('long-player').currentTime - {start}) < 0.5",
                               timeout=10_000)
        assert "playing" in (seg.get_attribute("class") or "")
        seg2 = page.locator("#timeline .seg").nth(20)  # the keyboard reaches a segment too
        seg2.focus()
        page.keyboard.press("Enter")
        start2 = float(seg2.get_attribute("data-start"))
        page.wait_for_function(f"Math.abs(document.getElementById('long-player').currentTime - {start2}) < 0.5",
                               timeout=10_000)
        _shoot(page, f"long-{width}")
        assert set(hosts) == {"127.0.0.1"}, hosts
        page.close()


def test_explore_renders_offline(site):
    browser, url = site
    for width in WIDTHS:
        page, hosts = _page(browser, width)
        page.route(lambda u: urlparse(u).hostname != "127.0.0.1", lambda route: route.abort())
        page.goto(url + "/explore")
        page.wait_for_selector("body[data-charts]", timeout=30_000)
        assert int(page.get_attribute("body", "data-charts")) == 7
        assert page.locator("#chart-emotion .bars .point").count() >= 8
        assert page.locator("#examples audio").count() >= 8
        _shoot(page, f"explore-{width}")
        assert hosts and set(hosts) == {"127.0.0.1"}, hosts  # Plotly.js and data served locally
        page.goto(url + "/results")
        assert "Best model per task" in page.content()
        _shoot(page, f"results-{width}")
        page.close()

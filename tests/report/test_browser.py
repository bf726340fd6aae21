"""The HTML report in a real headless browser (Debian's chromium): the page renders, the tables and the chart are
in the rendered DOM, and the screenshot shows the chart's coloured bars.

Outside CI the test skips with a reason when chromium is missing; in CI (CI=true) a missing browser fails."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from report_helpers import ROOT, parse_html, run_cli

SPEC = ROOT / "examples" / "llama2-7b-lora-a100.toml"  # training and inference on one GPU: two bars
WINDOW = (1280, 2000)
# The chart's first segment colours (llmspec.report.charts._PALETTE, Okabe-Ito): blue, orange, green, purple.
PALETTE = [(0x00, 0x72, 0xB2), (0xE6, 0x9F, 0x00), (0x00, 0x9E, 0x73), (0xCC, 0x79, 0xA7)]
CAPACITY_LINE = (0xC0, 0x00, 0x00)  # charts.CAPACITY


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is missing in CI: .ci/run installs it with apt-get (the browser test cannot skip in CI)")
    pytest.skip("chromium is not installed (apt-get install chromium); this test renders the HTML report in it")


def _run(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", *args]
    # the timeout only guards against a hung browser; nothing here depends on how long rendering takes
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    browser = chromium()
    tmp = tmp_path_factory.mktemp("browser")
    page = tmp / "review.html"
    result = run_cli("report", str(SPEC), "-o", str(page))
    assert result.exit_code == 0, result.output
    shot = tmp / "review.png"
    run = _run(browser, tmp / "profile", f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
               page.as_uri())
    assert shot.is_file(), f"no screenshot; chromium said:\n{run.stderr[-2000:]}"
    dom = _run(browser, tmp / "profile-dom", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    return {"png": shot, "dom": dom.stdout, "html": page.read_text(encoding="utf-8")}


def _mask(pixels, colour, tolerance: int = 16):
    import numpy as np

    return (np.abs(pixels.astype(int) - np.array(colour)) <= tolerance).all(axis=-1)


@pytest.mark.slow
def test_screenshot_is_a_rendered_page_with_the_chart(rendered: dict) -> None:
    import numpy as np
    from PIL import Image

    image = Image.open(rendered["png"]).convert("RGB")
    assert image.size == WINDOW
    pixels = np.asarray(image)
    white = (pixels == 255).all(axis=-1).mean()
    assert white < 0.97, f"the page is (almost) blank: {white:.1%} white"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50, "too few colours for text, tables and a chart"

    # the chart: stacked segments in at least two palette colours, each a solid bar rather than stray pixels
    masks = [_mask(pixels, colour) for colour in PALETTE]
    counts = [int(m.sum()) for m in masks]
    assert sum(1 for c in counts if c > 200) >= 2, f"chart colours not found: {counts}"
    ys, xs = np.nonzero(masks[0])
    assert xs.max() - xs.min() > 100 and ys.max() - ys.min() > 15, "the first segment is not a bar"
    assert int(_mask(pixels, CAPACITY_LINE).sum()) > 50, "the capacity line is missing"


@pytest.mark.needs("matplotlib")
@pytest.mark.slow
def test_rendered_dom_has_the_tables_and_the_svg(rendered: dict) -> None:
    dom = parse_html(rendered["dom"])
    source = parse_html(rendered["html"])
    assert dom.svgs == 1
    assert len(dom.tables) == len(source.tables) >= 5
    assert {"summary", "architecture", "parameters", "memory", "compute", "lint"} <= set(dom.sections)
    headers = [t[0][0] for t in dom.tables if t]
    assert "Aspect" in headers and "Property" in headers and "Part" in headers
    assert "aqua-support-7b" in rendered["dom"]

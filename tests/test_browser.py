"""The HTML report in a real browser: headless Chromium through selenium.

Debian's chromium and chromium-driver are installed by the session fixture where they
are missing (CI images have no browser); a failed install fails the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from femo.results.pages.html_page import SECTIONS, render_index_html
from femo.results.sweep import write_sweep_table

from .builders import as_report, build_report_input, fr_samples_unlabelled_report, predicted_counts

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SECTION_IDS = [key for key, _ in SECTIONS]


@pytest.fixture(scope="session")
def browser_binaries() -> tuple[Path, Path]:
    """``/usr/bin/chromium`` and ``/usr/bin/chromedriver``, installed with apt if missing."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if shutil.which("apt-get") is None:
            pytest.fail("chromium/chromedriver are missing and there is no apt-get to install them")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        proc = subprocess.run(
            "apt-get update && apt-get install -y chromium chromium-driver",
            shell=True,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode != 0 or not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
            pytest.fail(
                f"installing chromium and chromium-driver failed (rc {proc.returncode}):\n"
                f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture
def make_driver(browser_binaries, tmp_path):
    """Start headless Chromium drivers (JavaScript on or off); quit them all afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = browser_binaries
    drivers = []

    def make(javascript: bool = True):
        options = webdriver.ChromeOptions()
        options.binary_location = str(chromium)
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,900",
            f"--user-data-dir={tmp_path / f'profile-{len(drivers)}'}",
        ):
            options.add_argument(arg)
        if not javascript:
            options.add_experimental_option(
                "prefs", {"profile.managed_default_content_settings.javascript": 2}
            )
        driver = webdriver.Chrome(service=Service(str(chromedriver)), options=options)
        driver.set_page_load_timeout(60)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.quit()


@pytest.fixture
def report_file(tmp_path) -> Path:
    metrics, clips = build_report_input(partial=True)
    path = tmp_path / "index.html"
    path.write_text(render_index_html(as_report(metrics, clips)), encoding="utf-8")
    return path


def test_report_renders_offline_with_all_images(make_driver, report_file, tmp_path):
    driver = make_driver()
    driver.get(report_file.as_uri())
    images = driver.execute_script(
        "return Array.from(document.images).map("
        "i => [i.complete, i.naturalWidth, i.naturalHeight, i.src.slice(0, 22)]);"
    )
    assert len(images) == 5
    for complete, width, height, prefix in images:
        assert complete and width > 0 and height > 0
        assert prefix == "data:image/png;base64,"
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);"
    )
    assert [r for r in resources if not r.startswith("data:")] == []
    ids = driver.execute_script(
        "return Array.from(document.querySelectorAll('h2')).map(h => h.id);"
    )
    assert ids == SECTION_IDS
    banner = driver.execute_script(
        "const b = document.getElementById('partial'); return b && b.getBoundingClientRect().top;"
    )
    assert banner is not None and banner < 50
    # Full-page screenshot: the window as tall as the document.
    width = driver.execute_script("return document.documentElement.scrollWidth;")
    height = driver.execute_script("return document.documentElement.scrollHeight;")
    driver.set_window_size(max(width, 1280), min(height + 200, 16000))
    # Nothing covers the first row of a table (a sticky header once did).
    hidden = driver.execute_script(
        "return Array.from(document.querySelectorAll('tbody tr:first-child td:first-child'))"
        ".filter(td => { const r = td.getBoundingClientRect();"
        " const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
        " return !(hit && td.contains(hit)); }).map(td => td.textContent);"
    )
    assert hidden == []
    shot = tmp_path / "report.png"
    assert driver.save_screenshot(str(shot))
    assert shot.exists() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("FEMO_REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["FEMO_REPORT_SCREENSHOT"])


def test_report_reads_without_javascript(make_driver, report_file, tmp_path):
    from selenium.webdriver.common.by import By

    driver = make_driver(javascript=False)
    probe = tmp_path / "probe.html"
    probe.write_text("<title>off</title><script>document.title = 'on';</script>")
    driver.get(probe.as_uri())
    assert driver.title == "off", "JavaScript is not disabled in this driver"
    driver.get(report_file.as_uri())
    headings = driver.find_elements(By.TAG_NAME, "h2")
    assert [h.get_attribute("id") for h in headings] == SECTION_IDS
    assert [h.text for h in headings] == [title for _, title in SECTIONS]
    answer = driver.find_element(By.CSS_SELECTOR, ".headline").text
    assert "Accuracy 62.5 %" in answer and "41.0–80.2 %" in answer
    assert "PARTIAL" in driver.find_element(By.ID, "partial").text
    rows = driver.find_elements(By.CSS_SELECTOR, "table.clips tbody tr")
    assert len(rows) == 9
    images = driver.find_elements(By.TAG_NAME, "img")
    assert len(images) == 5
    assert all(int(i.get_attribute("naturalWidth") or 0) > 0 for i in images)


def test_sweep_page_and_its_comparison_table_fit_1280_px(make_driver, sweep, tmp_path):
    """Long override strings (here every point names a long labels path and several
    settings) stay in the points table, which wraps them; the plot and the comparison
    table name points P1..P5, so the page and the verdict column fit 1280 px."""

    for k, run in enumerate(sorted(p for p in sweep.iterdir() if p.is_dir())):
        overrides = run / ".hydra" / "overrides.yaml"
        if overrides.is_file():
            extra = [
                f"dataset.labels=/projectnb/cs640/shared/labels/presidential-{k}-long.csv",
                "sampling.mode=fps", "sampling.fps=2.5", "reduce.face=largest",
            ]  # fmt: skip
            overrides.write_text(overrides.read_text() + "".join(f"- {e}\n" for e in extra))
    write_sweep_table(sweep)
    driver = make_driver(javascript=True)
    driver.set_window_size(1280, 900)
    driver.get((sweep / "sweep.html").as_uri())
    inner = driver.execute_script("return window.innerWidth;")
    width = driver.execute_script("return document.documentElement.scrollWidth;")
    assert width <= max(inner, 1280), width
    right = driver.execute_script(
        "const t = document.getElementById('pairs');"
        "const cells = t.querySelectorAll('tr td:last-child');"
        "return Math.max(t.getBoundingClientRect().right,"
        " ...Array.from(cells).map(c => c.getBoundingClientRect().right));"
    )
    assert right <= 1280, right
    assert (
        driver.execute_script(
            "return document.getElementById('points').getBoundingClientRect().right;"
        )
        <= 1280
    )


def test_unlabelled_fr_samples_report_leads_with_what_was_predicted(make_driver, tmp_path):
    """Issue 26, in Chromium: the unlabelled fr-samples report (BlazeFace, identities, no
    labels) leads with the predicted classes and videos.csv's counts, says how they were
    made in a Method line near the top, and shows no accuracy and no confusion."""
    pytest.importorskip("dlib", reason="needs the femo[identity] extra (dlib-bin)")

    report = fr_samples_unlabelled_report(tmp_path)
    counts = predicted_counts(report)
    driver = make_driver(javascript=True)
    driver.get((report / "index.html").as_uri())
    text = driver.execute_script("return document.body.innerText;")
    assert "ccuracy" not in text
    assert driver.execute_script("return document.getElementById('confusion');") is None
    first = driver.execute_script(
        "const e = document.getElementById('predicted-classes');"
        "return [e.innerText, e.getBoundingClientRect().top];"
    )
    assert first[0].startswith(f"Predicted: {counts} (of 3 clips")
    method = driver.execute_script(
        "const e = document.getElementById('method');"
        "return [e.innerText, e.getBoundingClientRect().top, e.getBoundingClientRect().height];"
    )
    assert method[0].startswith("Method: detector blazeface")
    assert "onnx" in method[0] and "(reduce.face=first)" in method[0]
    # Both within the first screen (900 px), the Method line above the answer.
    assert 0 < method[1] < first[1] < 900 and method[2] > 0
    headings = driver.execute_script(
        "return Array.from(document.querySelectorAll('h2')).map(h => h.id);"
    )
    assert headings[0] == "answer" and "confusion" not in headings
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth]);"
    )
    assert images and all(complete and width > 0 for complete, width in images)


@pytest.mark.parametrize("labelled", [True, False], ids=["labelled", "unlabelled"])
def test_over_time_section_shows_each_long_video_as_a_readable_timeline(
    make_driver, tmp_path, labelled
):
    """Issue 37, in Chromium: the "Over time" section of a segmented run shows each long
    video as its timeline figure, at its own width in a 1280 px window (not shrunk), in
    colour; the caption and the segments' table name a golden class only with labels."""
    from .test_over_time import labelled_video, report_with, unlabelled_video

    video = labelled_video() if labelled else unlabelled_video()
    page = tmp_path / "index.html"
    page.write_text(render_index_html(report_with(video, labelled)), encoding="utf-8")
    driver = make_driver(javascript=True)
    driver.set_window_size(1280, 900)
    driver.get(page.as_uri())
    figure = driver.execute_script(
        "const s = document.getElementById('over-time').parentElement;"
        "const i = s.querySelector('figure img');"
        "const c = document.createElement('canvas');"
        "c.width = i.naturalWidth; c.height = i.naturalHeight;"
        "const g = c.getContext('2d'); g.drawImage(i, 0, 0);"
        "const d = g.getImageData(0, 0, c.width, c.height).data; let orange = 0;"
        "for (let k = 0; k < d.length; k += 4)"
        "  if (d[k] === 0xE6 && d[k + 1] === 0x9F && d[k + 2] === 0x00) orange++;"
        "return {alt: i.alt, complete: i.complete, natural: i.naturalWidth,"
        " shown: i.getBoundingClientRect().width, orange: orange,"
        " page: document.documentElement.scrollWidth, window: window.innerWidth,"
        " heading: s.querySelector('h3').textContent, note: s.querySelector('.note').textContent,"
        " columns: Array.from(s.querySelectorAll('th')).map(th => th.textContent)};"
    )
    assert figure["alt"] == "debate.mp4 over time" and figure["complete"]
    assert figure["natural"] == 1100 and figure["shown"] == 1100  # at its size: readable
    assert figure["page"] <= figure["window"]  # and no sideways scrolling
    assert figure["orange"] > 1000  # Positive's blocks and shares are drawn in colour
    assert figure["heading"] == "debate.mp4 (3 segments)"
    if labelled:
        assert "the golden class (hatched: unlabelled" in figure["note"]
        assert figure["columns"] == ["time", "predicted", "golden", "status"]
    else:
        assert "no golden lane: this run has no labels" in figure["note"]
        assert figure["columns"] == ["time", "predicted", "status"]
    section = driver.execute_script("return document.getElementById('over-time').parentElement;")
    shot = tmp_path / "over-time.png"
    assert section.screenshot(str(shot)) and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

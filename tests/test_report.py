"""The HTML report: self-contained, complete, and rendered by a real browser (headless Chromium)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from regtune.cli import app

runner = CliRunner()

# Read before the autouse fixture of conftest.py clears the REGTUNE_* variables. `.ci/run` sets it, so
# that a CI machine without a browser fails here instead of skipping the browser test.
REQUIRE_BROWSER = bool(os.environ.get("REGTUNE_REQUIRE_BROWSER"))
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401

    HAVE_SELENIUM = True
except ImportError:  # pragma: no cover - a dev dependency
    HAVE_SELENIUM = False
if REQUIRE_BROWSER and not (CHROMIUM and CHROMEDRIVER and HAVE_SELENIUM):
    raise RuntimeError(
        "REGTUNE_REQUIRE_BROWSER is set but chromium, chromedriver or selenium is missing (.ci/run installs them)"
    )
needs_browser = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER and HAVE_SELENIUM),
    reason="no chromium/chromedriver/selenium (apt-get install chromium chromium-driver; .ci/run does)",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("report")
    html, md = folder / "report.html", folder / "summary.md"
    result = runner.invoke(
        app, ["tune", "builtin:diabetes", "-n", "12", "--report", str(html), "--summary-md", str(md)]
    )
    assert result.exit_code == 0, result.output
    return html, md


def test_report_is_self_contained_and_complete(report: tuple[Path, Path]) -> None:
    html, md = report
    text = html.read_text(encoding="utf-8")
    assert "<script" not in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing fetched from a network
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', text)) == 5
    for part in (
        'id="summary"',
        'id="penalties"',
        'id="choices"',
        'id="hypergradient"',
        'id="coefficients"',
        'id="command"',
        'id="run"',
        "@media print",
        'id="versions"',
    ):
        assert part in text
    for word in ("λ.min", "λ.1se", "chosen", "Warnings", "scikit-learn", "bmi", "442 × 10"):
        assert word in text
    assert re.search(r'id="command"><code>regtune tune builtin:diabetes --n-trials 12 --report ', text)
    assert f"- HTML report: [{html}]({html})" in md.read_text(encoding="utf-8")


def test_report_name_must_end_in_html(tmp_path: Path) -> None:
    result = runner.invoke(app, ["tune", "builtin:diabetes", "--report", str(tmp_path / "r.txt")])
    assert result.exit_code == 1
    assert result.stderr == f"Error: --report {tmp_path / 'r.txt'}: the file name must end in .html\n"


def _chromium(width: int, height: int) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    # The viewport itself (not the window, whose frame takes some of it): what a page is laid out in.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    return driver


def _full_page_screenshot(driver: Any, path: Path) -> tuple[int, int]:
    """The whole page as PNG (not only the viewport); returns its size in pixels."""
    import base64

    from PIL import Image

    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "format": "png"})
    path.write_bytes(base64.b64decode(shot["data"]))
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        return image.size


@needs_browser
@pytest.mark.parametrize("width", [1280, 390])
def test_report_renders_in_chromium(report: tuple[Path, Path], tmp_path: Path, width: int) -> None:
    """At a desktop's 1280 px and a phone's 390 px: every figure drawn at least as wide as it is shown (never
    blown up), no horizontal scroll of the page at 1280 px (a wide table scrolls in its own box), text
    left and numbers right; a screenshot of the whole page saved in the test's tmp dir."""
    from selenium.webdriver.common.by import By

    driver = _chromium(width, 900)
    try:
        driver.get(report[0].resolve().as_uri())
        assert driver.title.startswith("regtune — builtin:diabetes")
        rows = driver.find_elements(By.CSS_SELECTOR, "#penalties tbody tr")
        assert [r.find_elements(By.TAG_NAME, "td")[0].text.split()[0] for r in rows] == ["l1", "l2", "elasticnet"]
        cells = rows[0].find_elements(By.TAG_NAME, "td")
        assert cells[0].value_of_css_property("text-align") in ("left", "start")
        assert all(c.value_of_css_property("text-align") == "right" for c in cells[4:])
        coefficient_rows = driver.find_elements(By.CSS_SELECTOR, "#coefficients tbody tr")
        assert len(coefficient_rows) == 11  # the intercept, then the ten features
        assert coefficient_rows[0].find_elements(By.TAG_NAME, "td")[0].text == "(intercept)"
        assert "regtune tune builtin:diabetes" in driver.find_element(By.ID, "command").text
        images = driver.find_elements(By.TAG_NAME, "img")
        assert len(images) == 5  # a CV curve per penalty, the coefficient path, the search history
        for image in images:
            natural, shown = driver.execute_script(
                "const i = arguments[0]; return [i.complete ? i.naturalWidth : 0, i.getBoundingClientRect().width];",
                image,
            )
            assert shown > 0.5 * min(width, 600), image.get_attribute("id")  # fills its place, legible
            assert natural >= shown, (image.get_attribute("id"), natural, shown)
        scroll, client = driver.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.clientWidth];"
        )
        if width >= 1280:
            assert scroll <= client, (scroll, client)
        shot = tmp_path / f"report-{width}.png"
        shot_width, shot_height = _full_page_screenshot(driver, shot)
        assert shot_width == width and shot_height > 900
        assert shot.stat().st_size > 10_000
    finally:
        driver.quit()


def test_show_draws_a_stored_study_without_a_coefficient_path(tmp_path: Path) -> None:
    journal = str(tmp_path / "s.journal")
    result = runner.invoke(app, ["tune", "builtin:diabetes", "-n", "8", "--storage", journal])
    assert result.exit_code == 0, result.output
    html, png = tmp_path / "r.html", tmp_path / "p.png"
    result = runner.invoke(app, ["show", "--storage", journal, "--report", str(html), "--plot", str(png), "--curve"])
    assert result.exit_code == 0, result.output
    assert "CV curve of" in result.stdout
    assert png.read_bytes().startswith(b"\x89PNG")
    text = html.read_text(encoding="utf-8")
    assert "coefficient path: not available for a stored study" in text
    assert len(re.findall(r"<img ", text)) == 4  # a CV curve per penalty and the history
    assert "no refit model (a stored study)" in text


def test_output_flags_from_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "regtune.toml").write_text('curve = true\nsave-model = "m.regtune"\nn-trials = 6\n')
    result = runner.invoke(app, ["tune", "builtin:diabetes"])
    assert result.exit_code == 0, result.output
    assert "CV curve of" in result.stdout
    assert (tmp_path / "m.regtune").exists()

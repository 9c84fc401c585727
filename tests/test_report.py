"""The HTML report: self-contained, complete, and rendered by a real browser (headless Chromium)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

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
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', text)) == 3
    for part in (
        'id="summary"',
        'id="penalties"',
        'id="choices"',
        'id="hypergradient"',
        'id="coefficients"',
        'id="versions"',
    ):
        assert part in text
    for word in ("λ.min", "λ.1se", "chosen", "Warnings", "scikit-learn", "bmi", "442 × 10"):
        assert word in text
    assert f"- HTML report: [{html}]({html})" in md.read_text(encoding="utf-8")


def test_report_name_must_end_in_html(tmp_path: Path) -> None:
    result = runner.invoke(app, ["tune", "builtin:diabetes", "--report", str(tmp_path / "r.txt")])
    assert result.exit_code == 1
    assert result.stderr == f"Error: --report {tmp_path / 'r.txt'}: the file name must end in .html\n"


@needs_browser
def test_report_renders_in_chromium(report: tuple[Path, Path], tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1800",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        driver.get(report[0].resolve().as_uri())
        assert driver.title.startswith("regtune — builtin:diabetes")
        rows = driver.find_elements(By.CSS_SELECTOR, "#penalties tbody tr")
        assert [r.find_elements(By.TAG_NAME, "td")[0].text.split()[0] for r in rows] == ["l1", "l2", "elasticnet"]
        coefficient_rows = driver.find_elements(By.CSS_SELECTOR, "#coefficients tbody tr")
        assert len(coefficient_rows) == 11  # the intercept, then the ten features
        assert coefficient_rows[0].find_elements(By.TAG_NAME, "td")[0].text == "(intercept)"
        images = driver.find_elements(By.TAG_NAME, "img")
        assert len(images) == 3
        for image in images:
            width = driver.execute_script("return arguments[0].complete ? arguments[0].naturalWidth : 0;", image)
            assert width > 300, image.get_attribute("id")
            assert image.size["width"] > 0 and image.size["height"] > 0
        shot = tmp_path / "report.png"
        assert driver.save_screenshot(str(shot))
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
    assert len(re.findall(r"<img ", text)) == 2  # CV curves and history
    assert "no refit model (a stored study)" in text


def test_output_flags_from_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "regtune.toml").write_text('curve = true\nsave-model = "m.regtune"\nn-trials = 6\n')
    result = runner.invoke(app, ["tune", "builtin:diabetes"])
    assert result.exit_code == 0, result.output
    assert "CV curve of" in result.stdout
    assert (tmp_path / "m.regtune").exists()

"""The inspector in a real browser (headless Chromium through Selenium): signs in,
lands on the register page, opens the export page, downloads the zip, and the files
unzipped pass `sha256sum -c`. Also takes the screenshots docs/screenshots holds
(inspector-view.png, export-page.png)."""

from __future__ import annotations

import subprocess
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.web.register_stack import INSPECTOR, PW, register_stack
from tests.web.stack import ZONE, Stack, new_browser
from tests.web.test_browser import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.web]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from register_stack(tmp_path_factory, "web-register-browser")


def _sign_in(driver: Any, stack: Stack) -> None:
    driver.get(f"{stack.web.url}/login")
    driver.find_element(By.NAME, "username").send_keys(INSPECTOR)
    driver.find_element(By.NAME, "password").send_keys(PW)
    driver.find_element(By.CSS_SELECTOR, "form.stack button").click()
    wait_for(driver, lambda d: d.current_url.endswith("/register"), 10, "the register page")


def _downloaded(folder: Path, timeout: float) -> Path:
    """The one finished .zip in `folder` (Chromium writes .crdownload until done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = list(folder.glob("*.zip"))
        if done and not list(folder.glob("*.crdownload")):
            return done[0]
        time.sleep(0.05)
    raise AssertionError(f"no download in {folder} within {timeout} s: {list(folder.iterdir())}")


def test_an_inspector_downloads_the_export_and_checks_it(
    stack: Stack, tmp_path: Path, shots: Path
) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = new_browser(1280, 900)
    try:
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        _sign_in(driver, stack)
        state = driver.find_element(By.ID, "seals-state")
        assert state.text == "todos los sellos se mantienen"
        head = driver.find_element(By.ID, "chain-head").text
        assert ":" in head
        driver.save_screenshot(str(shots / "inspector-view.png"))

        driver.find_element(By.CSS_SELECTOR, '#register-reads a[href="/register/export"]').click()
        wait_for(driver, lambda d: d.find_elements(By.ID, "export-form"), 10, "the export form")
        today = datetime.now(ZONE).date()
        first, last = today.replace(day=1), today
        for name, day in (("from", first), ("to", last)):
            field = driver.find_element(By.NAME, name)
            # Set as the date picker sets it: typed digits follow the browser's own
            # locale order, which headless Chromium does not take from --lang.
            driver.execute_script("arguments[0].value = arguments[1];", field, day.isoformat())
            assert field.get_attribute("value") == day.isoformat()
        Select(driver.find_element(By.NAME, "person")).select_by_value("")
        driver.save_screenshot(str(shots / "export-page.png"))
        driver.find_element(By.CSS_SELECTOR, "#export-form button").click()
        archive = _downloaded(downloads, 60)
    finally:
        driver.quit()

    assert archive.name == f"register-{first}-{last}.zip"
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp_path / "unzipped")
    folder = tmp_path / "unzipped" / archive.stem
    check = subprocess.run(
        ["sha256sum", "-c", "MANIFEST.sha256"], cwd=folder, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 10
    assert (folder / "HEAD.txt").read_text().strip() == head
    assert (shots / "inspector-view.png").stat().st_size > 10_000
    assert (shots / "export-page.png").stat().st_size > 10_000

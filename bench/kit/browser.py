"""Headless Chromium through Selenium (the Debian chromium and chromium-driver
packages): the one browser the page benchmarks and the browser tests both drive, so
a test and a benchmark see the same viewport."""

from __future__ import annotations

import shutil
from typing import Any


def chromium_paths() -> tuple[str, str] | None:
    """The browser and its driver, or None when either is not installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def new_browser(
    width: int = 1920, height: int = 1080, scale: float = 1.0, page_load_timeout: float = 60
) -> Any:
    """A headless Chromium whose page viewport is exactly width x height CSS pixels."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    paths = chromium_paths()
    if paths is None:
        raise RuntimeError("chromium and chromedriver are needed (.ci/install-tools)")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        "--lang=es-ES",
        f"--force-device-scale-factor={scale}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    driver.set_page_load_timeout(page_load_timeout)
    # The window size includes the browser's own frame: fix the page's viewport itself.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": width < 800},
    )
    return driver


# The name bench/pages.py imports.
headless_chromium = new_browser

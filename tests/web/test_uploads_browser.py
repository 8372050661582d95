"""Uploading a people file in a real browser (headless Chromium through Selenium), on
PostgreSQL with the daemon running: one bad row refuses the whole file, the fixed
file shows its preview, the confirm writes it. Saves upload-preview.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By

from tests.store.support import sql
from tests.web.stack import Stack
from tests.web.test_browser import log_in, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.web]

NEW = [
    ("alba.rios", "Alba Ríos", "04AB0001"),
    ("bruno.sanz", "Bruno Sanz", "04AB0002"),
    ("clara.ibanez", "Clara Ibáñez", ""),
    ("diego.lara", "Diego Lara", "04AB0004"),
    ("elena.campos", "Elena Campos", "04AB0005"),
    ("fran.ortega", "Fran Ortega", ""),
]


def _people_file(path: Path, bad_row: bool) -> Path:
    lines = ["uid;nombre;tarjeta", "ana.garcia;Ana García;04A1B2C3"]  # here already
    lines += [f"{uid};{name};{card}" for uid, name, card in NEW]
    lines.append("marta.ruiz;Marta Ruiz;04AB0007")  # here, without a card: gets one
    if bad_row:
        lines[4] = "clara.ibanez;Clara Ibáñez;04AB00ZZ"  # line 5: not a card key
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _upload(browser: Any, path: Path) -> None:
    form = browser.find_element(By.ID, "upload-form")
    form.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(path))
    form.find_element(By.CSS_SELECTOR, "button").click()


def test_a_bad_row_refuses_the_file_and_the_fixed_one_is_previewed_and_imported(
    pg_stack: Stack, browser: Any, tmp_path: Path, shots: Path
) -> None:
    log_in(browser, pg_stack, "/people")
    browser.find_element(By.CSS_SELECTOR, "#uploads a[href='/uploads/people']").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "upload-form"), 10, "the upload form")
    people_before = sql(pg_stack.url, "SELECT count(*) FROM people")

    _upload(browser, _people_file(tmp_path / "personal.csv", bad_row=True))
    wait_for(browser, lambda d: d.find_elements(By.ID, "upload-problems"), 10, "the problems")
    rows = browser.find_elements(By.CSS_SELECTOR, "#upload-problems tbody tr")
    assert len(rows) == 1
    cells = [c.text for c in rows[0].find_elements(By.TAG_NAME, "td")]
    assert cells[:2] == ["5", "card_key"] and "04AB00ZZ" in cells[2]
    assert not browser.find_elements(By.ID, "upload-confirm")
    assert sql(pg_stack.url, "SELECT count(*) FROM people") == people_before

    _upload(browser, _people_file(tmp_path / "personal.csv", bad_row=False))
    wait_for(browser, lambda d: d.find_elements(By.ID, "upload-preview"), 10, "the preview")
    counts = {
        row.get_attribute("data-count"): row.find_element(By.TAG_NAME, "td").text
        for row in browser.find_elements(By.CSS_SELECTOR, "#upload-counts tr")
    }
    assert counts == {
        "rows": "8",
        "people_added": "6",
        "people_unchanged": "2",
        "cards_assigned": "5",
        "cards_unchanged": "1",
    }
    added = browser.find_element(By.ID, "preview-added").text
    assert all(name in added for _, name, _ in NEW) and "Ana García" not in added
    assert sql(pg_stack.url, "SELECT count(*) FROM people") == people_before  # not yet
    browser.save_screenshot(str(shots / "upload-preview.png"))
    assert (shots / "upload-preview.png").stat().st_size > 10_000

    browser.find_element(By.CSS_SELECTOR, "#upload-confirm button").click()
    # (The preview's own address, /uploads/people, also ends in /people: wait for the
    # people page's message itself.)
    wait_for(
        browser,
        lambda d: (
            urlsplit(d.current_url).path == "/people" and d.find_elements(By.CSS_SELECTOR, ".flash")
        ),
        10,
        "back on the people page",
    )
    flash = browser.find_element(By.CSS_SELECTOR, ".flash")
    assert "error" not in flash.get_attribute("class") and "personal.csv" in flash.text
    assert sql(pg_stack.url, "SELECT count(*) FROM people") == [(people_before[0][0] + 6,)]
    assert sql(
        pg_stack.url,
        "SELECT person_uid FROM cards WHERE card_key = '04AB0007' AND revoked_at IS NULL",
    ) == [("marta.ruiz",)]
    [(details,)] = sql(pg_stack.url, "SELECT details FROM audit_log WHERE action = 'people.upload'")
    assert '"people_added": 6' in details and '"file": "personal.csv"' in details

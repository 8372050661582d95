"""The worker's own record in a real browser (headless Chromium, a phone-sized window),
through the real daemon on PostgreSQL (issue 22 items 5 and 6): hr makes the worker's
account and reads the one-time code off the page, files a correction and sees it
pending; the worker signs in with the code on a phone, sets a password, sees the month
and accepts the correction, which hr then sees accepted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select

from tests.web.stack import ADMIN, PASSWORD, ZONE, Stack, new_browser
from tests.web.test_browser import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.web]

WORKER = "pau.soler"
PHONE = (390, 844)  # a common phone's CSS pixels
NEW_PW = "pau's own password 2026"


@pytest.fixture
def phone() -> Iterator[Any]:
    driver = new_browser(*PHONE, scale=2.0)
    try:
        yield driver
    finally:
        driver.quit()


def _submit(driver: Any, form: Any) -> None:
    form.find_element(By.CSS_SELECTOR, "button[type=submit], button:not([type])").click()


def _sign_in(driver: Any, stack: Stack, name: str, password: str) -> None:
    driver.get(f"{stack.web.url}/login")
    driver.find_element(By.NAME, "username").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form.stack button").click()


def test_a_worker_on_a_phone_accepts_what_hr_filed(
    pg_stack: Stack, browser: Any, phone: Any, shots: Path
) -> None:
    # hr (here the admin) makes Pau's account: the code is on the page, once.
    _sign_in(browser, pg_stack, ADMIN, PASSWORD)
    wait_for(browser, lambda d: "/login" not in d.current_url, 10, "signed in")
    browser.get(f"{pg_stack.web.url}/workers")
    row = browser.find_element(By.CSS_SELECTOR, f"#workers tr[data-uid='{WORKER}']")
    _submit(browser, row.find_element(By.CSS_SELECTOR, "form.add-worker"))
    code = wait_for(browser, lambda d: d.find_elements(By.ID, "code"), 10, "the code")[0].text
    assert len(code) == 14

    # hr files a missed clock-out for Pau: it is listed as pending, waiting for him.
    browser.get(f"{pg_stack.web.url}/corrections?uid={WORKER}")
    form = browser.find_element(By.ID, "add-correction")
    Select(form.find_element(By.NAME, "direction")).select_by_value("out")
    at = (datetime.now(UTC) - timedelta(minutes=3)).astimezone(ZONE)
    browser.execute_script(
        "arguments[0].value = arguments[1]; arguments[2].value = arguments[3];",
        form.find_element(By.NAME, "date"),
        at.strftime("%Y-%m-%d"),
        form.find_element(By.NAME, "time"),
        at.strftime("%H:%M"),
    )
    form.find_element(By.NAME, "reason").send_keys("Salida olvidada")
    form.find_element(By.CSS_SELECTOR, "button").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".flash"), 10, "a message")
    pending = browser.find_elements(By.CSS_SELECTOR, "#corrections tr[data-state='pending']")
    assert len(pending) == 1 and "Salida olvidada" in pending[0].text
    assert "trabajador" in pending[0].find_element(By.CSS_SELECTOR, ".state").text
    correction_id = pending[0].get_attribute("data-id")

    # Pau, on his phone: the code, then a password of his own, then his month.
    _sign_in(phone, pg_stack, WORKER, code)
    wait_for(phone, lambda d: d.current_url.endswith("/me/password"), 10, "asked for a password")
    phone.find_element(By.NAME, "password").send_keys(NEW_PW)
    phone.find_element(By.NAME, "again").send_keys(NEW_PW)
    _submit(phone, phone.find_element(By.ID, "new-password"))
    wait_for(phone, lambda d: d.current_url.endswith("/me"), 10, "his month")
    assert "Pau Soler" in phone.find_element(By.TAG_NAME, "h1").text
    today = datetime.now(ZONE).date()
    if any(today.replace(day=d).isoweekday() <= 5 for d in range(1, today.day)):
        # The stack gave him a morning on each past weekday of this month.
        assert phone.find_elements(By.CSS_SELECTOR, "#days tbody tr"), "no days shown"
    assert phone.find_element(By.ID, "month-total").text
    # Made for the phone: nothing wider than the screen.
    width = phone.execute_script("return document.documentElement.scrollWidth")
    wide = phone.execute_script(
        "return Array.from(document.querySelectorAll('main *')).filter(e => "
        "e.getBoundingClientRect().right > arguments[0] + 1).slice(0, 3).map(e => "
        "e.tagName + '#' + e.id + '.' + e.className);",
        PHONE[0],
    )
    assert width <= PHONE[0] + 1, (width, wide)
    phone.save_screenshot(str(shots / "me-phone.png"))

    card = phone.find_element(By.CSS_SELECTOR, f"#for-me article[data-id='{correction_id}']")
    assert "Salida olvidada" in card.text
    card.find_element(By.CSS_SELECTOR, "button.accept").click()
    # The page before still shows the password's message: wait for the new page.
    wait_for(phone, staleness_of(card), 10, "the page after accepting")
    wait_for(phone, lambda d: d.find_elements(By.CSS_SELECTOR, ".flash"), 10, "a message")
    assert "error" not in phone.find_element(By.CSS_SELECTOR, ".flash").get_attribute("class")
    assert not phone.find_elements(By.CSS_SELECTOR, f"#for-me article[data-id='{correction_id}']")

    # His monthly summary, as the page's form asks for it: the PDF of his month.
    got = phone.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const form = document.getElementById('summary');"
        "const url = form.action + '?' + new URLSearchParams(new FormData(form));"
        "fetch(url, {credentials: 'same-origin'}).then(async r => {"
        "  const bytes = new Uint8Array(await r.arrayBuffer());"
        "  done([r.status, r.headers.get('content-type'),"
        "        String.fromCharCode(...bytes.slice(0, 5)), bytes.length]);"
        "}).catch(e => done(['failed', String(e), '', 0]));"
    )
    assert got[:3] == [200, "application/pdf", "%PDF-"] and got[3] > 1000, got

    # hr sees it accepted.
    browser.get(f"{pg_stack.web.url}/corrections?uid={WORKER}")
    done = browser.find_element(By.CSS_SELECTOR, f"#corrections tr[data-id='{correction_id}']")
    assert done.get_attribute("data-state") == "accepted"
    assert WORKER in done.find_element(By.CSS_SELECTOR, ".state").text

"""A school office at its size, in real headless Chromium (issue 25's "done when"): among
2,000 people, each with a card, find one by typing part of a name (the list changes
as you type, without a reload), open their page, revoke their card.

The people list's and the person page's screenshots (docs/screenshots/people-list.png,
person-page.png) are taken from this setup: CLOCK_GATEWAY_SCREENSHOTS=docs/screenshots.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions

from gateway.store.audit import Actor
from gateway.store.models import PersonImport
from gateway.store.regimes import terms
from gateway.store.stores import Stores
from tests.store.support import sql
from tests.web.stack import Stack, start_stack
from tests.web.test_browser import log_in, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.web]

SCHOOL = 2000
FIRST = ["Ana", "José", "María", "Íñigo", "Lucía", "Jorge", "Nuria", "Raúl", "Begoña", "Pau"]
LAST = ["García", "Núñez", "Pérez", "Martín", "Ibáñez", "Soler", "Ruiz", "Ortega", "Vidal"]
# The one to find: no other name has "iniguez", though many have Íñigo or Ibáñez.
TARGET = ("begona.iniguez", "Begoña Íñiguez Zubiría", "05FFFFFF")


def school() -> list[PersonImport]:
    names = itertools.cycle(itertools.product(FIRST, LAST, LAST))
    rows = [
        PersonImport(i + 1, f"s{i:04d}", f"{a} {b} {c}", f"05{i:06X}")
        for i, (a, b, c) in zip(range(SCHOOL - 1), names, strict=False)
    ]
    return [*rows, PersonImport(SCHOOL, *TARGET)]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("web-school")
    url = f"sqlite:///{tmp / 'gateway.db'}"
    stack = start_stack(url, tmp, history_days=10, web_only=True)

    async def enrol() -> None:
        stores = Stores.open(url)
        try:
            await stores.people.import_people(school())
            # A contract for the person whose page is the screenshot.
            week = terms(
                part_time_percent=None, weekly_hours=None, place="on_site", full_week_minutes=2250
            )
            await stores.regimes.add("luis.nunez", date(2026, 9, 1), week, Actor("cli:test"))
        finally:
            await stores.close()

    asyncio.run(enrol())
    try:
        yield stack
    finally:
        stack.close()


def _listed(driver: Any) -> list[str]:
    names: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#people-table tbody a'), a => a.textContent);"
    )
    return names


def test_find_one_among_2000_open_their_page_revoke_their_card(
    big: Stack, browser: Any, shots: Path
) -> None:
    uid, name, card = TARGET
    log_in(browser, big, "/people")
    assert len(_listed(browser)) == 50  # a page, not 2,013 rows
    total = browser.find_element(By.ID, "people-count").get_attribute("data-total")
    assert total == str(SCHOOL + 13)
    browser.save_screenshot(str(shots / "people-list.png"))
    browser.execute_script("window.notReloaded = true;")

    box = browser.find_element(By.CSS_SELECTOR, "form.search input[name=q]")
    box.send_keys("iniguez")  # no accent, no capital: Íñiguez all the same
    wait_for(browser, lambda d: _listed(d) == [name], 10, "the list narrowed to one")
    assert browser.execute_script("return window.notReloaded === true;")  # no reload
    assert browser.current_url.endswith("/people?q=iniguez")  # the address follows
    status = browser.find_element(By.CSS_SELECTOR, "form.search [role=status]")
    assert status.get_attribute("textContent") == "1 persona"  # what a screen reader hears

    browser.find_element(By.LINK_TEXT, name).click()
    wait_for(browser, lambda d: d.current_url.endswith(f"/people/{uid}"), 10, "their page")
    assert browser.find_element(By.TAG_NAME, "h1").text == name
    row = f"#cards tr[data-card='{card}']"
    browser.find_element(By.CSS_SELECTOR, f"{row} button").click()
    wait_for(browser, expected_conditions.alert_is_present(), 5, "the confirmation")
    browser.switch_to.alert.accept()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".flash"), 10, "a message")
    assert "error" not in browser.find_element(By.CSS_SELECTOR, ".flash").get_attribute("class")
    assert browser.current_url.endswith(f"/people/{uid}")  # back on their page
    assert not browser.find_elements(By.CSS_SELECTOR, f"{row} button")  # revoked: no button
    assert sql(big.url, "SELECT revoked_at IS NOT NULL FROM cards WHERE card_key = ?", (card,)) == [
        (1,)
    ]
    assert sql(
        big.url, "SELECT actor FROM audit_log WHERE action = 'card.revoke' AND target = ?", (uid,)
    ) == [("secretaria",)]


def test_the_pages_stay_light_at_2000(big: Stack, browser: Any, shots: Path) -> None:
    """Weights, not times (times are bench/'s): the list and a page well under 200 KB."""
    log_in(browser, big, "/people/luis.nunez")
    browser.save_screenshot(str(shots / "person-page.png"))
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in browser.get_cookies())
    for path in ("/people", "/people/luis.nunez", "/people?q=garcia&partial=1"):
        with urlopen(Request(big.web.url + path, headers={"Cookie": cookie}), timeout=30) as r:
            body = r.read()
        assert r.status == 200 and len(body) < 60_000, (path, len(body))
